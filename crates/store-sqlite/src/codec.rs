//! Conversions between domain values and SQLite columns, and paging cursors.
//!
//! Times are stored as integer microseconds since the Unix epoch, so a
//! timestamp's sub-microsecond part is dropped. Data kinds are stored as their
//! HJ 212 command codes.

use jiff::Timestamp;
use oversight_core::{AreaCode, DataKind, ValidationError};
use oversight_store::{SortOrder, StoreError, StoreResult};

use crate::error::{SqliteError, corrupt};

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// Converts a timestamp to stored microseconds.
pub(crate) fn micros(time: Timestamp) -> i64 {
    time.as_microsecond()
}

/// Converts stored microseconds back to a timestamp.
pub(crate) fn timestamp(micros: i64) -> Result<Timestamp, SqliteError> {
    Timestamp::from_microsecond(micros).map_err(|error| corrupt("timestamp", &micros, &error))
}

/// Converts optional stored microseconds back to a timestamp.
pub(crate) fn optional_timestamp(micros: Option<i64>) -> Result<Option<Timestamp>, SqliteError> {
    micros.map(timestamp).transpose()
}

/// Returns the hour since the Unix epoch that contains `micros`.
pub(crate) fn hour_of(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_HOUR)
}

/// Returns the stored code of a data kind.
pub(crate) fn kind_code(kind: DataKind) -> i64 {
    i64::from(kind.command())
}

/// Decodes a stored data kind.
pub(crate) fn kind_from_code(code: i64) -> Result<DataKind, SqliteError> {
    u16::try_from(code)
        .ok()
        .and_then(DataKind::from_command)
        .ok_or_else(|| corrupt("data kind", &code, &"expected 2011, 2051, 2061 or 2031"))
}

/// Returns the bounds `[lower, upper)` that select `area` and every area below it,
/// because codes below an area extend its code with more digits and ':' sorts
/// after every digit.
pub(crate) fn area_range(area: &AreaCode) -> (String, String) {
    (area.as_str().to_owned(), format!("{}:", area.as_str()))
}

/// Builds the SQL condition that `column` lies in one of `areas` or below
/// them: `1` for every area when `areas` is `None`, and `0` for an empty
/// list. `bind` adds a bound to the statement's parameters and returns its
/// placeholder.
pub(crate) fn areas_condition(
    column: &str,
    areas: Option<&[AreaCode]>,
    mut bind: impl FnMut(String) -> String,
) -> String {
    let Some(areas) = areas else {
        return "1".to_owned();
    };
    if areas.is_empty() {
        return "0".to_owned();
    }
    let ranges: Vec<String> = areas
        .iter()
        .map(|area| {
            let (lower, upper) = area_range(area);
            let lower = bind(lower);
            let upper = bind(upper);
            format!("({column} >= {lower} AND {column} < {upper})")
        })
        .collect();
    format!("({})", ranges.join(" OR "))
}

/// Decodes a stored value with a domain parser, reporting failures as corrupt data.
pub(crate) fn parse_stored<T>(
    what: &'static str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> Result<T, SqliteError> {
    parse(value).map_err(|error| corrupt(what, &value, &error))
}

/// Caps a requested page size at `max`; 0 means `max`.
pub(crate) fn page_size(limit: u32, max: u32) -> u32 {
    if limit == 0 { max } else { limit.min(max) }
}

/// Position after the last reading of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadingCursor {
    pub(crate) point_id: i64,
    pub(crate) data_time: i64,
    pub(crate) kind: i64,
    pub(crate) factor_id: i64,
}

impl ReadingCursor {
    /// Encodes the cursor for a query in `order`.
    pub(crate) fn encode(&self, order: SortOrder) -> String {
        let direction = order_tag(order);
        format!(
            "r{direction}.{}.{}.{}.{}",
            self.point_id, self.data_time, self.kind, self.factor_id
        )
    }

    /// Decodes a cursor issued for a query of `point_id` in `order`.
    pub(crate) fn decode(cursor: &str, point_id: i64, order: SortOrder) -> StoreResult<Self> {
        let invalid = || StoreError::InvalidCursor(cursor.to_owned());
        let prefix = format!("r{}.", order_tag(order));
        let rest = cursor.strip_prefix(&prefix).ok_or_else(invalid)?;
        let fields: Vec<i64> = rest
            .split('.')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| invalid())?;
        let [cursor_point, data_time, kind, factor_id] = fields[..] else {
            return Err(invalid());
        };
        if cursor_point != point_id {
            return Err(invalid());
        }
        Ok(Self {
            point_id,
            data_time,
            kind,
            factor_id,
        })
    }
}

fn order_tag(order: SortOrder) -> char {
    match order {
        SortOrder::Ascending => 'a',
        SortOrder::Descending => 'd',
    }
}

/// Encodes the cursor after the point with MN `mn`.
pub(crate) fn encode_point_cursor(mn: &str) -> String {
    format!("p.{mn}")
}

/// Decodes a point cursor into the MN of the last point of the previous page.
pub(crate) fn decode_point_cursor(cursor: &str) -> StoreResult<String> {
    match cursor.strip_prefix("p.") {
        Some(mn) if !mn.is_empty() => Ok(mn.to_owned()),
        _ => Err(StoreError::InvalidCursor(cursor.to_owned())),
    }
}

/// Encodes the cursor after the alert with `id`.
pub(crate) fn encode_alert_cursor(id: i64) -> String {
    format!("a.{id}")
}

/// Decodes an alert cursor into the id of the last alert of the previous page.
pub(crate) fn decode_alert_cursor(cursor: &str) -> StoreResult<i64> {
    cursor
        .strip_prefix("a.")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| StoreError::InvalidCursor(cursor.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_cursor_round_trips() {
        let cursor = ReadingCursor {
            point_id: 7,
            data_time: -5,
            kind: 2011,
            factor_id: 3,
        };
        let text = cursor.encode(SortOrder::Descending);
        let decoded =
            ReadingCursor::decode(&text, 7, SortOrder::Descending).expect("issued cursor decodes");
        assert_eq!(decoded, cursor);
    }

    #[test]
    fn reading_cursor_rejects_other_query() {
        let text = ReadingCursor {
            point_id: 7,
            data_time: 1,
            kind: 2011,
            factor_id: 3,
        }
        .encode(SortOrder::Ascending);
        assert!(ReadingCursor::decode(&text, 8, SortOrder::Ascending).is_err());
        assert!(ReadingCursor::decode(&text, 7, SortOrder::Descending).is_err());
        assert!(ReadingCursor::decode("ra.7.1.2011", 7, SortOrder::Ascending).is_err());
        assert!(ReadingCursor::decode("ra.7.x.2011.3", 7, SortOrder::Ascending).is_err());
    }

    #[test]
    fn hour_of_rounds_down() {
        assert_eq!(hour_of(0), 0);
        assert_eq!(hour_of(MICROS_PER_HOUR - 1), 0);
        assert_eq!(hour_of(-1), -1);
    }

    #[test]
    fn area_range_bounds_sub_areas() {
        let (lower, upper) = area_range(&AreaCode::parse("3502").expect("valid code"));
        assert!("350203001".as_bytes() >= lower.as_bytes());
        assert!("350203001".as_bytes() < upper.as_bytes());
        assert!("3503".as_bytes() > upper.as_bytes());
    }

    #[test]
    fn page_size_caps() {
        assert_eq!(page_size(0, 1000), 1000);
        assert_eq!(page_size(5, 1000), 5);
        assert_eq!(page_size(5000, 1000), 1000);
    }
}
