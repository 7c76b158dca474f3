//! Extractors and parsers for query parameters, path segments and bodies.
//!
//! Query strings are first read as strings (unknown parameters are rejected
//! by `deny_unknown_fields` on each query type), then parsed here so that the
//! error names the parameter, the value and the expected form.

use axum::extract::{FromRequest, FromRequestParts, Json, Multipart, Path, Query, Request};
use jiff::Timestamp;
use oversight_core::{AreaCode, Mn};

use crate::error::ApiError;

/// A query string whose rejection is an [`ApiError`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub(super) struct ApiQuery<T>(pub(super) T);

/// A path segment whose rejection is an [`ApiError`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub(super) struct ApiPath<T>(pub(super) T);

/// A JSON body whose rejection is an [`ApiError`].
#[derive(Debug, FromRequest)]
#[from_request(via(Json), rejection(ApiError))]
pub(super) struct ApiJson<T>(pub(super) T);

/// A `multipart/form-data` body whose rejection, such as a missing or
/// invalid boundary, is an [`ApiError`] instead of axum's plain-text response.
pub(super) struct ApiMultipart(pub(super) Multipart);

impl<S: Send + Sync> FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Multipart::from_request(request, state)
            .await
            .map(Self)
            .map_err(ApiError::from)
    }
}

/// Page sizes of list routes.
#[derive(Debug, Clone, Copy)]
pub(super) struct PageSize {
    /// Used when the request has no `limit`.
    pub(super) default: u32,
    /// Largest accepted `limit`.
    pub(super) max: u32,
}

/// Page sizes of points, alerts and quarantined uploads.
pub(super) const LIST_PAGE: PageSize = PageSize {
    default: 100,
    max: 1000,
};

/// Page sizes of readings, which charts request in bulk.
pub(super) const READING_PAGE: PageSize = PageSize {
    default: 1000,
    max: 10_000,
};

/// Parses `limit`, which must be a whole number from 1 to `size.max`.
pub(super) fn parse_limit(value: Option<&str>, size: PageSize) -> Result<u32, ApiError> {
    let Some(value) = value else {
        return Ok(size.default);
    };
    match value.trim().parse::<u32>() {
        Ok(limit) if (1..=size.max).contains(&limit) => Ok(limit),
        _ => Err(ApiError::invalid_param(
            "limit",
            value,
            &format!("expected a whole number from 1 to {}", size.max),
        )),
    }
}

/// Parses an optional RFC 3339 time parameter such as `from` or `to`.
pub(super) fn parse_time(name: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value.map(|value| parse_timestamp(name, value)).transpose()
}

/// Parses the RFC 3339 time `value` of the parameter or field `name`.
pub(super) fn parse_timestamp(name: &str, value: &str) -> Result<Timestamp, ApiError> {
    value.trim().parse::<Timestamp>().map_err(|error| {
        ApiError::invalid_param(
            name,
            value,
            &format!(
                "{error}; expected an RFC 3339 time with offset from {} to {}, such as \
                 2026-12-04T08:00:00Z",
                Timestamp::MIN,
                Timestamp::MAX
            ),
        )
    })
}

/// Parses an optional `area` parameter.
pub(super) fn parse_area(value: Option<&str>) -> Result<Option<AreaCode>, ApiError> {
    value
        .map(|value| parse_area_code("area", value))
        .transpose()
}

/// Parses the area code `value` of the parameter or path segment `name`.
pub(super) fn parse_area_code(name: &str, value: &str) -> Result<AreaCode, ApiError> {
    AreaCode::parse(value).map_err(|error| {
        ApiError::invalid_param(
            name,
            value,
            &format!("{}; such as 35 or 350203", error.rule),
        )
    })
}

/// Parses an MN from a path segment.
pub(super) fn parse_mn(value: &str) -> Result<Mn, ApiError> {
    Ok(Mn::parse(value)?)
}

/// Checks that `from` is before `to` when both are given.
pub(super) fn check_range(from: Option<Timestamp>, to: Option<Timestamp>) -> Result<(), ApiError> {
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(ApiError::invalid(format!(
            "invalid time range from={from} to={to}: from must be before to"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(parse_limit(None, LIST_PAGE).unwrap(), 100);
        assert_eq!(parse_limit(Some("1"), LIST_PAGE).unwrap(), 1);
        assert_eq!(parse_limit(Some("1000"), LIST_PAGE).unwrap(), 1000);
        for bad in ["0", "1001", "-1", "ten", ""] {
            let error = parse_limit(Some(bad), LIST_PAGE).unwrap_err();
            assert!(error.message.contains("limit="), "{bad}: {}", error.message);
            assert!(
                error.message.contains("1 to 1000"),
                "{bad}: {}",
                error.message
            );
        }
        assert_eq!(parse_limit(Some("10000"), READING_PAGE).unwrap(), 10_000);
    }

    #[test]
    fn time_accepts_rfc3339_only() {
        let time = parse_time("from", Some("2026-12-04T08:00:00Z"))
            .unwrap()
            .unwrap();
        assert_eq!(time.to_string(), "2026-12-04T08:00:00Z");
        let offset = parse_time("from", Some("2026-12-04T16:00:00+08:00"))
            .unwrap()
            .unwrap();
        assert_eq!(offset, time);
        let error = parse_time("to", Some("2026-12-04")).unwrap_err();
        assert!(
            error.message.contains("to=\"2026-12-04\""),
            "{}",
            error.message
        );
        assert!(error.message.contains("RFC 3339"), "{}", error.message);
    }

    #[test]
    fn time_out_of_range_names_range() {
        for value in ["9999-12-31T23:59:59Z", "-009999-01-01T00:00:00Z"] {
            let error = parse_time("from", Some(value)).unwrap_err();
            assert!(error.message.contains(value), "{}", error.message);
            assert!(
                error.message.contains(&Timestamp::MAX.to_string()),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn area_names_parameter() {
        assert_eq!(parse_area(Some("3502")).unwrap().unwrap().as_str(), "3502");
        let error = parse_area(Some("35x")).unwrap_err();
        assert!(error.message.contains("area=\"35x\""), "{}", error.message);
    }

    #[test]
    fn range_must_be_ordered() {
        let early = parse_time("from", Some("2026-12-04T08:00:00Z")).unwrap();
        let late = parse_time("to", Some("2026-12-04T09:00:00Z")).unwrap();
        assert!(check_range(early, late).is_ok());
        assert!(check_range(late, early).is_err());
        assert!(check_range(None, early).is_ok());
    }
}
