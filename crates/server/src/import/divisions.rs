//! China's administrative divisions from province to street, embedded in the binary.
//!
//! The lists are the files of `data/divisions/` (statistical division codes,
//! 2023 edition, from the WTFPL-licensed modood/Administrative-divisions-of-China
//! repository; see the README there). They are embedded as text so that the
//! demo and `oversight import areas --builtin` work without network access.

use oversight_core::{Area, AreaCode, ValidationError};

const PROVINCES: &str = include_str!("../../../../data/divisions/provinces.csv");
const CITIES: &str = include_str!("../../../../data/divisions/cities.csv");
const DISTRICTS: &str = include_str!("../../../../data/divisions/areas.csv");
const STREETS: &str = include_str!("../../../../data/divisions/streets.csv");

/// An embedded list that does not parse; only a corrupted build gets this.
#[derive(Debug, thiserror::Error)]
pub enum DivisionsError {
    /// A CSV record could not be read.
    #[error("built-in division list {file} is corrupt: {source}")]
    Csv {
        /// The embedded file.
        file: &'static str,
        /// The parser's error.
        #[source]
        source: csv::Error,
    },
    /// A record contains an invalid code or name.
    #[error("built-in division list {file} is corrupt: {source}")]
    Invalid {
        /// The embedded file.
        file: &'static str,
        /// The invalid value.
        #[source]
        source: ValidationError,
    },
    /// A requested province code is not in the list.
    #[error(
        "province {0:?} not found in the built-in divisions; use a 2-digit code such as 35 (Fujian) or 50 (Chongqing)"
    )]
    UnknownProvince(String),
}

/// The built-in division tree, parsed.
#[derive(Debug, Clone)]
pub struct BuiltinDivisions {
    areas: Vec<Area>,
}

impl BuiltinDivisions {
    /// Parses the embedded lists: provinces, then cities, districts and streets.
    pub fn load() -> Result<Self, DivisionsError> {
        let mut areas = Vec::with_capacity(45_000);
        for (file, text) in [
            ("provinces.csv", PROVINCES),
            ("cities.csv", CITIES),
            ("areas.csv", DISTRICTS),
            ("streets.csv", STREETS),
        ] {
            parse_into(file, text, &mut areas)?;
        }
        Ok(Self { areas })
    }

    /// Returns every area, parents before children.
    pub fn all(&self) -> &[Area] {
        &self.areas
    }

    /// Returns the areas in the given provinces, parents before children.
    /// An empty list selects every province.
    pub fn provinces(&self, codes: &[String]) -> Result<Vec<Area>, DivisionsError> {
        if codes.is_empty() {
            return Ok(self.areas.clone());
        }
        let mut provinces = Vec::with_capacity(codes.len());
        for code in codes {
            let known = self.areas.iter().any(|area| area.code.as_str() == code);
            if code.len() != 2 || !known {
                return Err(DivisionsError::UnknownProvince(code.clone()));
            }
            provinces.push(code.as_str());
        }
        let selected = self
            .areas
            .iter()
            .filter(|area| {
                provinces
                    .iter()
                    .any(|province| area.code.as_str().starts_with(province))
            })
            .cloned()
            .collect();
        Ok(selected)
    }
}

/// Appends the `code,name,...` records of one embedded file.
fn parse_into(file: &'static str, text: &str, areas: &mut Vec<Area>) -> Result<(), DivisionsError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    for record in reader.records() {
        let record = record.map_err(|source| DivisionsError::Csv { file, source })?;
        let code = record.get(0).unwrap_or_default();
        let name = record.get(1).unwrap_or_default();
        let code =
            AreaCode::parse(code).map_err(|source| DivisionsError::Invalid { file, source })?;
        let area =
            Area::new(code, name).map_err(|source| DivisionsError::Invalid { file, source })?;
        areas.push(area);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use oversight_core::AreaLevel;

    use super::*;

    #[test]
    fn embedded_lists_parse_completely() {
        let divisions = BuiltinDivisions::load().unwrap();
        let count = |level| {
            divisions
                .all()
                .iter()
                .filter(|area| area.level() == level)
                .count()
        };
        assert_eq!(count(AreaLevel::Province), 31);
        assert_eq!(count(AreaLevel::City), 342);
        assert_eq!(count(AreaLevel::District), 2978);
        assert_eq!(count(AreaLevel::Street), 41_352);
    }

    #[test]
    fn every_parent_comes_first() {
        let divisions = BuiltinDivisions::load().unwrap();
        let mut seen = std::collections::HashSet::new();
        for area in divisions.all() {
            if let Some(parent) = area.parent() {
                assert!(seen.contains(&parent), "{} before its parent", area.code);
            }
            seen.insert(area.code.clone());
        }
    }

    #[test]
    fn province_filter() {
        let divisions = BuiltinDivisions::load().unwrap();
        let selected = divisions.provinces(&["35".into(), "50".into()]).unwrap();
        assert!(
            selected
                .iter()
                .all(|area| ["35", "50"].contains(&&area.code.as_str()[..2]))
        );
        let names: Vec<&str> = selected.iter().map(|area| area.name.as_str()).collect();
        for name in [
            "福建省",
            "厦门市",
            "思明区",
            "鼓浪屿街道",
            "重庆市",
            "渝北区",
            "悦来街道",
        ] {
            assert!(names.contains(&name), "{name} missing");
        }
        let error = divisions.provinces(&["99".into()]).unwrap_err();
        assert!(error.to_string().contains("\"99\""), "{error}");
    }
}
