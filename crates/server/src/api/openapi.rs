//! The OpenAPI 3.1 document of the API, served at `/api/v1/openapi.json`.
//!
//! The document is generated from the `#[utoipa::path]` attributes of the
//! handlers and the derives of their parameter and body types. It is also
//! the table of accepted query parameters: [`reject_unknown_query`] rejects a
//! parameter the document does not list for the route, so a route without
//! any query type still rejects a misspelt filter.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::{ObjectBuilder, RefOr, Schema};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use crate::error::ApiError;

/// Any JSON value.
// NOTE: response bodies are documented as any JSON value; their fields are
// listed in docs/api.md but not yet in this document.
#[derive(Debug)]
pub(crate) struct JsonValue;

impl PartialSchema for JsonValue {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .into()
    }
}

impl ToSchema for JsonValue {}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Oversight API",
        description = "Monitoring points, readings, alerts, rules, supervision tasks and quarantined uploads. \
                       Errors are {\"error\": {\"code\", \"message\"}}. Requests other than \
                       GET, HEAD and OPTIONS on a session must carry the session's CSRF token \
                       in the header X-CSRF-Token; requests with an API token in \
                       Authorization: Bearer need no CSRF token."
    ),
    paths(
        super::status::health,
        super::status::summary,
        super::areas::children,
        super::areas::one,
        super::points::list,
        super::points::upsert,
        super::points::one,
        super::points::readings,
        super::points::revisions,
        super::points::set_password,
        super::alerts::list,
        super::alerts::one,
        super::alerts::acknowledge,
        super::alerts::resolve,
        super::silences::for_alert,
        super::silences::list,
        super::silences::create,
        super::silences::expire,
        super::rules::list,
        super::rules::changes,
        super::rules::reload,
        super::rules::backtest,
        super::rules::one,
        super::rules::enable,
        super::rules::disable,
        super::notifications::list,
        super::notifications::one,
        super::notifications::retry,
        super::notifications::inbox,
        super::notifications::mark_read,
        super::tasks::list,
        super::tasks::create,
        super::task_export::csv,
        super::task_export::xlsx,
        super::tasks::one,
        super::tasks::act,
        super::tasks::upload,
        super::tasks::download,
        super::outcomes::list,
        super::quarantine::summaries,
        super::quarantine::uploads,
        super::quarantine::discard,
        super::quarantine::release,
        super::status::openapi,
        super::ledger::entries,
        super::ledger::entry,
        super::ledger::inclusion,
        super::ledger::consistency,
        super::ledger::checkpoint,
        super::ledger::checkpoints,
        super::ledger::cosign,
        super::ledger::key,
        super::session::login,
        super::oidc::login,
        super::oidc::callback,
        super::session::logout,
        super::session::me,
        super::session::enrol_totp,
        super::session::confirm_totp,
        super::session::disable_totp,
        super::accounts::list_tokens,
        super::accounts::create_token,
        super::accounts::revoke_token,
        super::accounts::events,
        super::accounts::list_users,
        super::accounts::create_user,
        super::accounts::get_user,
        super::accounts::update_user,
        super::accounts::set_password,
        super::accounts::list_departments,
        super::accounts::create_department,
        super::accounts::update_department,
    )
)]
struct ApiDoc;

/// Returns the document, built once.
pub(crate) fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(ApiDoc::openapi)
}

/// The query parameters of each operation, by method and path template.
type QueryTable = HashMap<(String, String), HashSet<String>>;

fn query_table() -> &'static QueryTable {
    static TABLE: OnceLock<QueryTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = QueryTable::new();
        for (path, item) in &openapi().paths.paths {
            let operations: [(&str, &Option<Operation>); 5] = [
                ("GET", &item.get),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let names = operation
                    .parameters
                    .iter()
                    .flatten()
                    .filter(|parameter| parameter.parameter_in == ParameterIn::Query)
                    .map(|parameter| parameter.name.clone())
                    .collect();
                table.insert((method.to_owned(), path.clone()), names);
            }
        }
        table
    })
}

/// Rejects a query parameter that the document does not list for the
/// matched route. Routes missing from the document are left alone.
pub(super) async fn reject_unknown_query(request: Request, next: Next) -> Response {
    let (Some(query), Some(path)) = (
        request.uri().query(),
        request.extensions().get::<MatchedPath>(),
    ) else {
        return next.run(request).await;
    };
    let key = (
        request.method().as_str().to_owned(),
        path.as_str().to_owned(),
    );
    let Some(allowed) = query_table().get(&key) else {
        return next.run(request).await;
    };
    let unknown = form_names(query).find(|name| !allowed.contains(name));
    if let Some(name) = unknown {
        let mut expected: Vec<&str> = allowed.iter().map(String::as_str).collect();
        expected.sort_unstable();
        let fix = if expected.is_empty() {
            format!("{} {} takes no query parameters", key.0, key.1)
        } else {
            format!("{} {} takes {}", key.0, key.1, expected.join(", "))
        };
        return ApiError::invalid(format!("unknown query parameter {name:?}: {fix}"))
            .into_response();
    }
    next.run(request).await
}

/// Returns the names of the `name=value` pairs of a query string.
fn form_names(query: &str) -> impl Iterator<Item = String> + '_ {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').map_or(pair, |(name, _)| name))
        .map(|name| {
            let name = name.replace('+', " ");
            percent_decode(&name)
        })
}

/// Decodes `%XX` escapes; an invalid escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = bytes
            .get(index + 1..index + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[index], escape) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns the `(method, path)` pairs of the route table in `mod.rs`.
    fn routes_in_router() -> Vec<(String, String)> {
        let source = include_str!("mod.rs");
        let mut routes = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find(".route(") {
            rest = &rest[start + ".route(".len()..];
            let Some(open) = rest.find('"') else { break };
            let after = &rest[open + 1..];
            let Some(close) = after.find('"') else { break };
            let path = &after[..close];
            let end = after.find(")\n").unwrap_or(after.len());
            let call = &after[close..end];
            let prefix = if path == "/metrics" { "" } else { "/api/v1" };
            for method in ["get", "post", "delete", "put", "patch"] {
                if call.contains(&format!("{method}(")) {
                    routes.push((method.to_ascii_uppercase(), format!("{prefix}{path}")));
                }
            }
        }
        routes
    }

    #[test]
    fn every_route_is_documented() {
        let routes = routes_in_router();
        assert!(routes.len() > 20, "parsed too few routes: {routes:?}");
        let table = query_table();
        for route in routes {
            if route.1 == "/metrics" {
                continue;
            }
            assert!(
                table.contains_key(&route),
                "{route:?} is not in the document"
            );
        }
    }

    #[test]
    fn document_is_openapi_3_1() {
        let json = serde_json::to_value(openapi()).expect("document serializes");
        assert!(
            json["openapi"]
                .as_str()
                .expect("version")
                .starts_with("3.1"),
            "{}",
            json["openapi"]
        );
        let readings = &json["paths"]["/api/v1/points/{mn}/readings"]["get"]["parameters"];
        let names: Vec<&str> = readings
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|parameter| parameter["name"].as_str())
            .collect();
        for name in ["mn", "factor", "from", "to", "limit", "cursor"] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
    }

    #[test]
    fn no_content_routes_document_204() {
        let json = serde_json::to_value(openapi()).expect("document serializes");
        let routes = [
            ("/api/v1/auth/logout", "post"),
            ("/api/v1/auth/totp/confirm", "post"),
            ("/api/v1/auth/totp/disable", "post"),
            ("/api/v1/users/{id}/password", "post"),
            ("/api/v1/points/{mn}/password", "post"),
        ];
        for (path, method) in routes {
            let responses = &json["paths"][path][method]["responses"];
            let no_content = &responses["204"];
            assert!(no_content.is_object(), "{method} {path}: {responses}");
            assert!(
                no_content.get("content").is_none(),
                "{method} {path} documents a body: {no_content}"
            );
            assert!(
                responses.get("2XX").is_none(),
                "{method} {path} documents 2XX: {responses}"
            );
        }
    }

    /// An evidence file is returned with the media type it was uploaded with,
    /// such as `text/plain`, so the document must admit any media type.
    #[test]
    fn evidence_download_admits_any_media_type() {
        let json = serde_json::to_value(openapi()).expect("document serializes");
        let path = "/api/v1/tasks/{id}/evidence/{sha256}";
        let content = &json["paths"][path]["get"]["responses"]["200"]["content"];
        let media_types: Vec<&String> = content.as_object().expect("content").keys().collect();
        assert_eq!(media_types, ["*/*"], "{content}");
    }

    #[test]
    fn query_names_are_decoded() {
        let names: Vec<String> = form_names("a=1&b%5Fc=2&&d&e+f=3").collect();
        assert_eq!(names, ["a", "b_c", "d", "e f"]);
    }
}
