//! Request checks and response headers that apply to every path, the API and
//! the dashboard alike.
//!
//! - The `Host` header must name an allowed host ([`HostAllowList`]), so a
//!   web page whose DNS name was rebound to this server's address cannot
//!   read the API from a browser.
//! - A request with a method other than GET, HEAD or OPTIONS and without a
//!   bearer token must come from the server's own origin. Its `Origin`, when
//!   sent, must match its `Host`, and its `Sec-Fetch-Site`, when sent, must
//!   be `same-origin` or `none`. Requests on a session must also carry the
//!   session's CSRF token, which `crate::auth` checks. Bearer-token requests
//!   need neither check, because browsers attach no bearer token by
//!   themselves and a cross-origin script cannot add one without a CORS
//!   preflight, which this server never approves.
//! - Every response carries `X-Content-Type-Options`, `Referrer-Policy`,
//!   `X-Frame-Options` and, unless the handler set its own, a
//!   `Content-Security-Policy` that allows nothing to load and
//!   `Cache-Control: no-store`. API responses contain accounts and personal
//!   data, so no browser or proxy cache may keep them, while the dashboard's
//!   assets set their own caching.
//!
//! Each check is a separate tower layer, so an authentication layer can be
//! added beside them.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::ApiError;

/// The Fetch Metadata header in which browsers state how the request's
/// initiator relates to its target: `same-origin`, `same-site`, `cross-site`
/// or `none` (typed by the user).
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// The policy of responses that set none: they are data, not documents.
const DEFAULT_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Host names (without port) that requests may address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAllowList {
    hosts: Arc<[String]>,
    any: bool,
}

impl HostAllowList {
    /// Creates the list from host names or IP addresses; `*` allows any host.
    /// Names are compared without case, and IPv6 addresses may be written with
    /// or without brackets.
    pub fn new<S: AsRef<str>>(hosts: &[S]) -> Self {
        let any = hosts.iter().any(|host| host.as_ref() == "*");
        let hosts = hosts
            .iter()
            .map(|host| normalize_host(host.as_ref()))
            .collect();
        Self { hosts, any }
    }

    /// Returns whether `host`, a `Host` header value with or without port, is allowed.
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let name = normalize_host(strip_port(host));
        self.hosts.contains(&name)
    }
}

/// Adds the checks and headers of this module to `router`.
pub fn protect(router: Router, hosts: HostAllowList) -> Router {
    router
        .layer(middleware::from_fn(check_origin))
        .layer(middleware::from_fn(move |request, next| {
            check_host(hosts.clone(), request, next)
        }))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
}

/// Rejects a request whose `Host` is not on the allow-list. A request
/// without a `Host` header (HTTP/1.0) is let through: browsers always send one.
async fn check_host(hosts: HostAllowList, request: Request, next: Next) -> Response {
    let host = request_host(request.headers(), &request);
    if let Some(host) = host
        && !hosts.allows(&host)
    {
        metrics::counter!("oversight_http_requests_rejected_total", "reason" => "host")
            .increment(1);
        return ApiError::forbidden(format!(
            "host {host:?} is not allowed; add it to http.allowed_hosts \
             (OVERSIGHT_HTTP__ALLOWED_HOSTS) or address the server by an allowed name"
        ))
        .into_response();
    }
    next.run(request).await
}

/// Rejects a state-changing request that a browser marks as coming from
/// another origin. Bearer-token requests and requests without browser
/// headers (curl, scripts) pass.
async fn check_origin(request: Request, next: Next) -> Response {
    let headers = request.headers();
    if is_safe(request.method()) || has_bearer_token(headers) {
        return next.run(request).await;
    }
    if let Some(site) = headers.get(SEC_FETCH_SITE) {
        let site = site.to_str().unwrap_or_default();
        if !matches!(site, "same-origin" | "none") {
            metrics::counter!("oversight_http_requests_rejected_total", "reason" => "fetch_site")
                .increment(1);
            return ApiError::forbidden(format!(
                "{} request with Sec-Fetch-Site {site:?} rejected: state-changing requests \
                 must come from the dashboard's own origin (Sec-Fetch-Site: same-origin) \
                 or carry an API token in the Authorization header",
                request.method()
            ))
            .into_response();
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let host = request_host(headers, &request).unwrap_or_default();
        if !same_origin(origin, &host) {
            metrics::counter!("oversight_http_requests_rejected_total", "reason" => "origin")
                .increment(1);
            return ApiError::forbidden(format!(
                "cross-origin request from Origin {origin:?} to host {host:?} rejected: \
                 send it from the dashboard's own origin, without an Origin header, or \
                 with an API token in the Authorization header"
            ))
            .into_response();
        }
    }
    next.run(request).await
}

fn has_bearer_token(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("Bearer "))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Returns the host the request addresses: the `Host` header, or the URI's
/// authority (HTTP/2).
fn request_host(headers: &HeaderMap, request: &Request) -> Option<String> {
    headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.to_string())
        })
}

/// Returns whether `origin` (`scheme://host[:port]`) addresses `host` (`host[:port]`).
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((_, origin_host)) = origin.split_once("://") else {
        return false;
    };
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// Removes a `:port` suffix, keeping IPv6 literals in brackets whole.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map_or(host, |(inside, _)| inside);
    }
    match host.rsplit_once(':') {
        // More than one colon is a bare IPv6 address, which has no port.
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

fn normalize_host(host: &str) -> String {
    host.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_matches_host_without_port() {
        let hosts = HostAllowList::new(&["localhost", "127.0.0.1", "::1", "Example.org"]);
        for allowed in [
            "localhost",
            "localhost:8080",
            "LOCALHOST:8080",
            "127.0.0.1:80",
            "[::1]:8080",
            "[::1]",
            "example.org",
            "example.org.:443",
        ] {
            assert!(hosts.allows(allowed), "{allowed}");
        }
        for rejected in ["evil.example", "127.0.0.2:8080", "localhost.evil", ""] {
            assert!(!hosts.allows(rejected), "{rejected}");
        }
    }

    #[test]
    fn star_allows_any_host() {
        assert!(HostAllowList::new(&["*"]).allows("anything:1"));
    }

    #[test]
    fn origin_must_match_host() {
        assert!(same_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(!same_origin("http://127.0.0.1:8081", "127.0.0.1:8080"));
        assert!(!same_origin("http://evil.example", "127.0.0.1:8080"));
        assert!(!same_origin("null", "127.0.0.1:8080"));
    }

    #[test]
    fn port_is_stripped() {
        assert_eq!(strip_port("a.b:80"), "a.b");
        assert_eq!(strip_port("a.b"), "a.b");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("::1"), "::1");
    }
}
