//! Tests of the HTTP listener's limits and checks through the real binary:
//! slow and idle clients, connection caps, host and CSRF checks, security
//! headers and JSON errors.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{DataDir, Server};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` on a new connection and returns everything the server
/// sends back until it closes the connection, which must happen within 10 seconds.
async fn raw_exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("server closed the connection")
}

/// Reads until the peer closes the connection; `None` if it stays open past `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut received)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}

/// Returns the status code of a raw HTTP/1.1 response.
fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"))
}

/// Returns the JSON body of a raw HTTP/1.1 response.
fn json_of(response: &str) -> Value {
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {response:?}"))
}

fn get_with_host(host: &str, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n")
}

#[tokio::test]
async fn slow_header_is_cut_off() {
    let data = DataDir::new();
    let server = Server::start(&data, &[("OVERSIGHT_HTTP__HEADER_TIMEOUT_SECS", "1")]).await;
    let addr = server.http;
    let slow = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let started = Instant::now();
        for byte in b"GET /api/v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\n" {
            if stream.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        started.elapsed()
    });

    // Others are served at once while the slow client trickles.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let (status, _) = server.get("/api/v1/health").await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_millis(900));

    let held = slow.await.expect("slow client task");
    assert!(held < Duration::from_secs(5), "slow client held {held:?}");
}

#[tokio::test]
async fn idle_connection_is_closed() {
    let data = DataDir::new();
    let server = Server::start(&data, &[("OVERSIGHT_HTTP__HEADER_TIMEOUT_SECS", "1")]).await;
    let mut silent = TcpStream::connect(server.http).await.expect("connect");
    let closed = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "a silent connection stayed open");

    // A keep-alive connection that went quiet after one request is closed too.
    let mut kept = TcpStream::connect(server.http).await.expect("connect");
    kept.write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .expect("send request");
    let after_request = read_until_closed(&mut kept, Duration::from_secs(5))
        .await
        .expect("an idle keep-alive connection stayed open");
    assert_eq!(status_of(&after_request), 200);
}

#[tokio::test]
async fn slow_body_times_out_as_json() {
    let data = DataDir::new();
    let server = Server::start(&data, &[("OVERSIGHT_HTTP__REQUEST_TIMEOUT_SECS", "1")]).await;
    let mut stream = TcpStream::connect(server.http).await.expect("connect");
    let head = format!(
        "POST /api/v1/points HTTP/1.1\r\nhost: 127.0.0.1\r\n{}\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{",
        server.session_head_lines()
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    let response = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("server answered a stalled body");
    assert_eq!(status_of(&response), 408, "{response}");
    let body = json_of(&response);
    assert_eq!(body["error"]["code"], "request_timeout");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("http.request_timeout_secs")
    );
}

#[tokio::test]
async fn connections_per_ip_are_capped() {
    let data = DataDir::new();
    let server = Server::start(&data, &[("OVERSIGHT_HTTP__MAX_CONNECTIONS_PER_IP", "2")]).await;
    let first = TcpStream::connect(server.http).await.expect("connect");
    let _second = TcpStream::connect(server.http).await.expect("connect");
    // The accept loop must have counted both before the third arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let rejected = raw_exchange(server.http, &get_with_host("127.0.0.1", "/api/v1/health")).await;
    assert_eq!(status_of(&rejected), 503, "{rejected}");
    let body = json_of(&rejected);
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("http.max_connections_per_ip")
    );

    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let served = raw_exchange(server.http, &get_with_host("127.0.0.1", "/api/v1/health")).await;
    assert_eq!(status_of(&served), 200, "{served}");
}

#[tokio::test]
async fn foreign_host_is_rejected() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;
    let port = server.http.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LOCALHOST".to_owned(),
    ] {
        let response = raw_exchange(server.http, &get_with_host(&host, "/api/v1/health")).await;
        assert_eq!(status_of(&response), 200, "{host}: {response}");
    }
    for path in ["/api/v1/health", "/"] {
        let response = raw_exchange(server.http, &get_with_host("rebound.example:80", path)).await;
        assert_eq!(status_of(&response), 403, "{path}: {response}");
        let body = json_of(&response);
        assert_eq!(body["error"]["code"], "forbidden");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains("rebound.example"), "{message}");
        assert!(message.contains("http.allowed_hosts"), "{message}");
    }
}

#[tokio::test]
async fn allowed_hosts_are_configurable() {
    let data = DataDir::new();
    let server = Server::start(
        &data,
        &[("OVERSIGHT_HTTP__ALLOWED_HOSTS", r#"["oversight.example"]"#)],
    )
    .await;
    let named = raw_exchange(
        server.http,
        &get_with_host("oversight.example", "/api/v1/health"),
    )
    .await;
    assert_eq!(status_of(&named), 200, "{named}");
    // The listen address stays allowed; localhost is no longer.
    let (status, _) = server.get("/api/v1/health").await;
    assert_eq!(status, 200);
    let local = raw_exchange(server.http, &get_with_host("localhost", "/api/v1/health")).await;
    assert_eq!(status_of(&local), 403, "{local}");
}

/// Returns the error message of a JSON error response, after checking its code.
async fn forbidden_message(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "forbidden");
    body["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned()
}

#[tokio::test]
async fn session_change_needs_csrf_token() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;
    let client = reqwest::Client::new();
    let url = server.url("/api/v1/quarantine/NOSUCHMN01");

    let missing = client
        .delete(&url)
        .header("cookie", server.session_cookie())
        .send()
        .await
        .expect("DELETE");
    let message = forbidden_message(missing).await;
    assert!(message.contains("missing X-CSRF-Token"), "{message}");

    let forged = client
        .delete(&url)
        .header("cookie", server.session_cookie())
        .header("x-csrf-token", "forged")
        .send()
        .await
        .expect("DELETE");
    let message = forbidden_message(forged).await;
    assert!(message.contains("invalid X-CSRF-Token"), "{message}");

    let plain = server
        .with_session(client.delete(&url))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(plain.status(), 404, "passes the checks, finds nothing held");

    // Without credentials the request is not forbidden but unauthenticated.
    let bare = client.delete(&url).send().await.expect("DELETE");
    assert_eq!(bare.status(), 401);
}

#[tokio::test]
async fn cross_origin_change_is_rejected() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;
    let client = reqwest::Client::new();
    let url = server.url("/api/v1/quarantine/NOSUCHMN01");

    let cross = server
        .with_session(client.delete(&url))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("DELETE");
    let message = forbidden_message(cross).await;
    assert!(message.contains("evil.example"), "{message}");

    for site in ["cross-site", "same-site"] {
        let response = server
            .with_session(client.delete(&url))
            .header("sec-fetch-site", site)
            .send()
            .await
            .expect("DELETE");
        let message = forbidden_message(response).await;
        assert!(message.contains(site), "{message}");
        assert!(message.contains("Sec-Fetch-Site"), "{message}");
    }

    // A login form posted from another site is rejected before the password check.
    let login = client
        .post(server.url("/api/v1/auth/login"))
        .header("origin", "http://evil.example")
        .json(&serde_json::json!({"username": "root", "password": "anything at all"}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 403);

    let same = server
        .with_session(client.delete(&url))
        .header("origin", format!("http://{}", server.http))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(same.status(), 404, "passes the checks, finds nothing held");
}

#[tokio::test]
async fn bearer_change_needs_no_csrf_token() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;
    let client = reqwest::Client::new();
    let body = serde_json::json!({"name": "csrf", "expires_in_days": 1});
    let (status, token) = server.post("/api/v1/auth/tokens", &body).await;
    assert_eq!(status, 201, "{token}");
    let token = token["token"].as_str().expect("token secret");

    let url = server.url("/api/v1/quarantine/NOSUCHMN01");
    let response = client
        .delete(&url)
        .bearer_auth(token)
        .header("origin", "http://elsewhere.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(
        response.status(),
        404,
        "passes the checks, finds nothing held"
    );
}

#[tokio::test]
async fn logout_is_documented_204() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;
    let client = reqwest::Client::new();
    let (status, document) = server.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let responses = &document["paths"]["/api/v1/auth/logout"]["post"]["responses"];
    assert!(responses["204"].is_object(), "{responses}");
    assert!(responses["204"].get("content").is_none(), "{responses}");

    let logout = server
        .with_session(client.post(server.url("/api/v1/auth/logout")))
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), 204);
    assert!(logout.headers().get("content-type").is_none());
    assert!(logout.text().await.expect("body").is_empty());
}

#[tokio::test]
async fn invalid_multipart_is_json_400() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;
    let client = reqwest::Client::new();
    let url = server.url("/api/v1/tasks/T1/evidence");
    let content_types = [
        "multipart/form-data",
        "multipart/form-data; boundary=\"\"",
        "text/plain",
    ];
    for content_type in content_types {
        let response = server
            .with_session(client.post(&url))
            .header("content-type", content_type)
            .body("file")
            .send()
            .await
            .expect("POST evidence");
        assert_eq!(response.status(), 400, "{content_type}");
        let body: Value = response.json().await.expect("JSON error");
        assert_eq!(body["error"]["code"], "invalid_request", "{content_type}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains("multipart"), "{content_type}: {message}");
    }
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;
    let client = reqwest::Client::new();
    for path in ["/", "/api/v1/health", "/api/v1/nothing", "/metrics"] {
        let response = client.get(server.url(path)).send().await.expect("GET");
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let policy = headers["content-security-policy"]
            .to_str()
            .expect("ASCII policy");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        if path == "/" {
            assert!(policy.contains("script-src 'self'"), "{policy}");
        } else {
            assert!(policy.contains("default-src 'none'"), "{path}: {policy}");
        }
    }
}

#[tokio::test]
async fn api_responses_are_not_cached() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;
    let client = reqwest::Client::new();
    // API responses carry accounts, readings and personal data, so neither
    // the browser nor a proxy may store them.
    for path in [
        "/api/v1/auth/me",
        "/api/v1/points",
        "/api/v1/tasks/export.csv",
    ] {
        let response = server
            .with_session(client.get(server.url(path)))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }
    let unauthorized = client
        .get(server.url("/api/v1/points"))
        .send()
        .await
        .expect("GET");
    assert_eq!(unauthorized.headers()["cache-control"], "no-store");
    let dashboard = client.get(server.url("/")).send().await.expect("GET /");
    assert_eq!(dashboard.headers()["cache-control"], "no-cache");
}

#[tokio::test]
async fn wrong_method_is_json_405() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;
    let response = reqwest::Client::new()
        .put(server.url("/api/v1/points"))
        .send()
        .await
        .expect("PUT");
    assert_eq!(response.status(), 405);
    let allow = response.headers()["allow"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(allow.contains("GET"), "{allow:?}");
    assert!(allow.contains("POST"), "{allow:?}");
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("PUT"), "{message}");
    assert!(message.contains("/api/v1/points"), "{message}");
}

#[tokio::test]
async fn bad_query_is_json_400() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;
    let cases = [
        ("/api/v1/health?verbose=1", "verbose"),
        ("/api/v1/alerts?stauts=open", "stauts"),
        (
            "/api/v1/alerts?from=9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59Z",
        ),
    ];
    for (path, named) in cases {
        let (status, body) = server.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{path}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(named), "{path}: {message}");
    }
}

#[tokio::test]
async fn unknown_methods_share_one_metric_label() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;
    for method in ["FOO1", "FOO2", "BREW"] {
        let request = format!(
            "{method} /api/v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"
        );
        let response = raw_exchange(server.http, &request).await;
        assert_eq!(status_of(&response), 405, "{response}");
    }
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    for method in ["FOO1", "FOO2", "BREW"] {
        assert!(
            !metrics.contains(method),
            "{method} became a label: {metrics}"
        );
    }
    let other =
        r#"oversight_http_requests_total{method="other",route="/api/v1/health",status="405"} 3"#;
    assert!(metrics.contains(other), "{metrics}");
    assert!(metrics.contains(r#"method="POST""#), "{metrics}");
}

/// Sends `GET /api/v1/health` without credentials from `client`.
async fn anonymous_health(server: &Server, client: &reqwest::Client) -> reqwest::Response {
    client
        .get(server.url("/api/v1/health"))
        .send()
        .await
        .expect("health request")
}

#[tokio::test]
async fn public_routes_are_rate_limited() {
    let data = DataDir::new();
    let env = [
        ("OVERSIGHT_HTTP__PUBLIC_RATE_PER_SEC", "1"),
        ("OVERSIGHT_HTTP__PUBLIC_BURST", "5"),
    ];
    let server = Server::start(&data, &env).await;
    let first = reqwest::Client::new();

    // Server::start logged in from 127.0.0.1 without credentials, which took
    // one request of that address's burst.
    let mut statuses = Vec::new();
    let mut rejected = None;
    for _ in 0..10 {
        let response = anonymous_health(&server, &first).await;
        statuses.push(response.status().as_u16());
        if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS && rejected.is_none() {
            rejected = Some(response);
        }
    }
    let passed = statuses.iter().filter(|status| **status == 200).count();
    assert!((4..=6).contains(&passed), "statuses {statuses:?}");
    let rejected = rejected.unwrap_or_else(|| panic!("no 429 in {statuses:?}"));
    let retry_after = rejected.headers().get("retry-after").cloned();
    assert_eq!(
        retry_after.as_ref().map(|value| value.to_str().unwrap()),
        Some("1")
    );
    let body: Value = rejected.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], "too_many_requests");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("1 a second"), "{message}");
    assert!(message.contains("bursts of 5"), "{message}");

    // Another address has its own bucket.
    let second = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client on 127.0.0.2");
    let other = anonymous_health(&server, &second).await;
    assert_eq!(other.status(), 200);

    // A session is not limited, even from the limited address.
    let (status, _) = server.get("/api/v1/health").await;
    assert_eq!(status, 200);

    // The bucket refills at one request a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refilled = anonymous_health(&server, &first).await;
    assert_eq!(refilled.status(), 200);
    let again = anonymous_health(&server, &first).await;
    assert_eq!(again.status(), 429);

    // `/metrics` is limited too, so it is read from the other address.
    let metrics = second
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics request")
        .text()
        .await
        .expect("metrics text");
    let counted = metrics.lines().any(|line| {
        line.starts_with("oversight_http_requests_rejected_total")
            && line.contains("reason=\"rate_limit\"")
    });
    assert!(counted, "no rate_limit rejections in /metrics");
}
