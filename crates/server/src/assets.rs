//! The web dashboard: the files Vite builds into `web/dist`, embedded in the
//! binary and served from `/`.
//!
//! rust-embed's `debug-embed` feature embeds the files in debug builds too, so
//! `cargo run` serves the dashboard with no npm and no network access. Files
//! under `/assets/` carry a content hash in their names, so they are cached
//! for a year. Every other file is revalidated with its ETag on each use. A
//! path that names no file falls back to `index.html`, so the dashboard's own
//! routes (such as `/quarantine`) survive a reload. Paths under `/api` and
//! `/metrics` never fall back: they get a 404 in the API's JSON error format.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::{Embed, EmbeddedFile};
use tower_http::compression::CompressionLayer;

/// The built dashboard. `web/build.sh` writes it and git keeps it, so a
/// fresh clone builds the binary without npm. The folder is relative to this
/// crate's Cargo.toml, because `debug-embed` resolves it at compile time.
#[derive(Embed)]
#[folder = "../../web/dist"]
struct Dist;

/// Cache policy of files whose names change with their content.
const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Cache policy of files whose names stay the same across releases: a client
/// may keep them but must revalidate them with the ETag before each use.
const CACHE_REVALIDATE: &str = "no-cache";

/// The content security policy of the dashboard's HTML. Everything comes from
/// this server; `style-src 'unsafe-inline'` is there because Vue and ECharts
/// set inline styles.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

const INDEX: &str = "index.html";

/// Builds the router that serves the dashboard. Mount it as the fallback of
/// the server's router, after the API routes.
pub fn router() -> Router {
    // Compression happens per response. The hashed files are cached for a
    // year, so each browser downloads them once.
    Router::new().fallback(serve).layer(CompressionLayer::new())
}

async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
        let allow = HeaderValue::from_static("GET, HEAD");
        response.headers_mut().insert(header::ALLOW, allow);
        return response;
    }

    let path = uri.path();
    if is_server_path(path) {
        return api_not_found(path);
    }
    let Some((name, file)) = resolve(path) else {
        return file_not_found(path);
    };

    let etag = etag_of(&file);
    let mut response = if matches_etag(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(file.data));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type(name));
        response
    };
    set_cache_headers(response.headers_mut(), name, etag);
    response
}

/// Sets the headers that both a full response and a 304 carry.
fn set_cache_headers(headers: &mut HeaderMap, name: &str, etag: HeaderValue) {
    let cache_control = if name.starts_with("assets/") {
        CACHE_IMMUTABLE
    } else {
        CACHE_REVALIDATE
    };
    headers.insert(header::ETAG, etag);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if name == INDEX {
        let policy = HeaderValue::from_static(CONTENT_SECURITY_POLICY);
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
}

/// Returns true for paths that belong to the server's API or metrics, which
/// must never get the dashboard's HTML.
fn is_server_path(path: &str) -> bool {
    ["/api", "/metrics"].iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Finds the embedded file for a request path: the file itself, or
/// `index.html` for a client-side route. Missing files under `assets/` and
/// paths whose last segment has an extension are not routes, so they get
/// `None` and a 404 instead of HTML that a script or style tag would misread.
fn resolve(path: &str) -> Option<(&str, EmbeddedFile)> {
    let name = path.trim_start_matches('/');
    if name.is_empty() {
        return Dist::get(INDEX).map(|file| (INDEX, file));
    }
    if let Some(file) = Dist::get(name) {
        return Some((name, file));
    }
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    if name.starts_with("assets/") || last_segment.contains('.') {
        return None;
    }
    Dist::get(INDEX).map(|file| (INDEX, file))
}

/// Builds a weak ETag from the file's SHA-256. Weak, because the compression
/// layer sends the same file gzip-encoded or not under the same tag.
fn etag_of(file: &EmbeddedFile) -> HeaderValue {
    let hash = file.metadata.sha256_hash();
    let hex: String = hash[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    HeaderValue::try_from(format!("W/\"{hex}\""))
        .expect("hex digits and quotes are valid in a header")
}

/// Returns true if `If-None-Match` lists `etag` or `*`, compared weakly as
/// RFC 9110 section 13.1.2 requires for this header.
fn matches_etag(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(own) = etag.to_str().ok().map(strip_weak) else {
        return false;
    };
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || strip_weak(candidate) == own)
}

fn strip_weak(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

fn content_type(name: &str) -> HeaderValue {
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let textual = mime.type_() == mime_guess::mime::TEXT
        || matches!(mime.subtype().as_str(), "javascript" | "json" | "svg")
        || mime
            .suffix()
            .is_some_and(|suffix| suffix == "json" || suffix == "xml");
    let value = if textual {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    HeaderValue::try_from(value).expect("a MIME type is a valid header value")
}

fn file_not_found(path: &str) -> Response {
    let message = format!("no dashboard file {path}; the dashboard's files are under /assets/");
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

/// Builds the 404 for a path under `/api` or `/metrics` that no API route
/// matched, in the API's error format.
fn api_not_found(path: &str) -> Response {
    let body = serde_json::json!({
        "error": {
            "code": "not_found",
            "message": format!("no route {path}; the API is under /api/v1 and metrics are at /metrics"),
        }
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        router()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn body_text(response: Response) -> String {
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn header_of(response: &Response, name: &str) -> String {
        let value = response.headers().get(name);
        value
            .unwrap_or_else(|| panic!("missing {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Returns the name of an embedded file under `assets/` with the given extension.
    fn asset_with_extension(extension: &str) -> String {
        Dist::iter()
            .find(|name| name.starts_with("assets/") && name.ends_with(extension))
            .unwrap_or_else(|| panic!("web/dist has no assets/*{extension}; run web/build.sh"))
            .into_owned()
    }

    #[tokio::test]
    async fn root_serves_index() {
        let response = get("/", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header_of(&response, "content-type"),
            "text/html; charset=utf-8"
        );
        assert_eq!(header_of(&response, "cache-control"), "no-cache");
        assert!(header_of(&response, "etag").starts_with("W/\""));
        assert!(header_of(&response, "content-security-policy").contains("default-src 'self'"));
        assert!(body_text(response).await.contains("<div id=\"app\">"));
    }

    #[tokio::test]
    async fn client_route_falls_back_to_index() {
        for path in ["/quarantine", "/points/88888880000001", "/quarantine/"] {
            let response = get(path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(
                header_of(&response, "content-type"),
                "text/html; charset=utf-8",
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn hashed_asset_is_immutable() {
        let script = asset_with_extension(".js");
        let response = get(&format!("/{script}"), &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header_of(&response, "content-type"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(header_of(&response, "cache-control"), CACHE_IMMUTABLE);
        assert!(
            response
                .headers()
                .get(header::CONTENT_SECURITY_POLICY)
                .is_none()
        );

        let style = asset_with_extension(".css");
        let response = get(&format!("/{style}"), &[]).await;
        assert_eq!(
            header_of(&response, "content-type"),
            "text/css; charset=utf-8"
        );
    }

    #[tokio::test]
    async fn other_files_revalidate() {
        let response = get("/favicon.svg", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header_of(&response, "content-type"),
            "image/svg+xml; charset=utf-8"
        );
        assert_eq!(header_of(&response, "cache-control"), "no-cache");
    }

    #[tokio::test]
    async fn matching_etag_answers_not_modified() {
        let first = get("/", &[]).await;
        let etag = header_of(&first, "etag");
        let strong = etag.trim_start_matches("W/").to_owned();
        for condition in [etag.as_str(), strong.as_str(), "\"other\", W/\"x\", *"] {
            let response = get("/", &[("if-none-match", condition)]).await;
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{condition}");
            assert_eq!(header_of(&response, "etag"), etag, "{condition}");
            assert_eq!(
                header_of(&response, "cache-control"),
                "no-cache",
                "{condition}"
            );
            assert!(body_text(response).await.is_empty(), "{condition}");
        }
        let changed = get("/", &[("if-none-match", "W/\"0123\"")]).await;
        assert_eq!(changed.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn missing_files_are_not_found() {
        for path in [
            "/assets/missing-0000.js",
            "/robots.txt",
            "/deep/path/style.css",
        ] {
            let response = get(path, &[]).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(body_text(response).await.contains(path), "{path}");
        }
    }

    #[tokio::test]
    async fn server_paths_never_get_html() {
        for path in ["/api", "/api/v2/points", "/metrics", "/metrics/extra"] {
            let response = get(path, &[]).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(
                header_of(&response, "content-type"),
                "application/json",
                "{path}"
            );
            let body: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
            assert_eq!(body["error"]["code"], "not_found", "{path}");
        }
        // A client route that only starts with the same letters is still a route.
        assert_eq!(get("/apiary", &[]).await.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn other_methods_are_not_allowed() {
        let request = Request::post("/").body(Body::empty()).unwrap();
        let response = router().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(header_of(&response, "allow"), "GET, HEAD");
    }

    #[tokio::test]
    async fn head_has_no_body() {
        let request = Request::head("/").body(Body::empty()).unwrap();
        let response = router().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().contains_key(header::ETAG));
        assert!(body_text(response).await.is_empty());
    }

    #[tokio::test]
    async fn scripts_are_gzip_encoded_on_request() {
        let script = asset_with_extension(".js");
        let response = get(&format!("/{script}"), &[("accept-encoding", "gzip")]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header_of(&response, "content-encoding"), "gzip");
        assert!(header_of(&response, "etag").starts_with("W/"));
    }

    #[tokio::test]
    async fn index_references_embedded_files() {
        let index = body_text(get("/", &[]).await).await;
        let references: Vec<&str> = index
            .split(['"', '\''])
            .filter(|part| part.starts_with("/assets/") || part.starts_with("/favicon"))
            .collect();
        assert!(
            references.iter().any(|path| path.ends_with(".js")),
            "{index}"
        );
        for path in references {
            assert!(
                Dist::get(path.trim_start_matches('/')).is_some(),
                "index.html links {path}, which is not embedded"
            );
        }
    }
}
