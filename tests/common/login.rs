//! The login that opens an API session, shared by the tests that drive the
//! binary and the tests of the composed server.

use serde_json::Value;

/// Logs in as `username` with a POST to `url`, the login route, and returns
/// the `Cookie` and `X-CSRF-Token` headers that carry the session.
pub(crate) async fn login(
    client: &reqwest::Client,
    url: String,
    username: &str,
    password: &str,
) -> Vec<(String, String)> {
    let body = serde_json::json!({"username": username, "password": password});
    let response = client
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("login request");
    assert_eq!(
        response.status().as_u16(),
        200,
        "login as {username} failed"
    );
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let json: Value = response.json().await.expect("login response");
    let csrf = json["csrf_token"].as_str().expect("csrf_token").to_owned();
    vec![
        ("cookie".to_owned(), cookie),
        ("x-csrf-token".to_owned(), csrf),
    ]
}

/// Adds the session's `headers` to a request.
pub(crate) fn with_headers(
    mut request: reqwest::RequestBuilder,
    headers: &[(String, String)],
) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request
}
