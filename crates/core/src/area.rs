//! Administrative areas: the tree from province down to residential compound.
//!
//! Codes follow China's 12-digit statistical division codes
//! (统计用区划代码): 2 digits province, 2 city, 2 district (county),
//! 3 street (township), 3 community (village). Oversight stores a code in its
//! short form, without the trailing zero groups, so the level is the length:
//! `35` province, `3502` city, `350203` district, `350203001` street,
//! `350203001001` community. Residential compounds get a local 3-digit code
//! under their community, giving 15 digits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// A level of the area tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaLevel {
    /// 省级, 2 digits.
    Province,
    /// 地级 (city or prefecture), 4 digits.
    City,
    /// 县级 (district or county), 6 digits.
    District,
    /// 乡级 (street or township), 9 digits.
    Street,
    /// 村级 (community or village), 12 digits.
    Community,
    /// 小区 (residential compound), 15 digits: a community code and a local suffix.
    Compound,
}

impl AreaLevel {
    /// Returns the number of digits a code of this level has.
    pub fn code_len(self) -> usize {
        match self {
            Self::Province => 2,
            Self::City => 4,
            Self::District => 6,
            Self::Street => 9,
            Self::Community => 12,
            Self::Compound => 15,
        }
    }

    fn from_code_len(len: usize) -> Option<Self> {
        match len {
            2 => Some(Self::Province),
            4 => Some(Self::City),
            6 => Some(Self::District),
            9 => Some(Self::Street),
            12 => Some(Self::Community),
            15 => Some(Self::Compound),
            _ => None,
        }
    }

    /// Returns the level's name as used in the API and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Province => "province",
            Self::City => "city",
            Self::District => "district",
            Self::Street => "street",
            Self::Community => "community",
            Self::Compound => "compound",
        }
    }
}

/// An area code in short form; its length gives its level.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AreaCode(String);

impl AreaCode {
    /// Parses a code in short form, or a 12-digit statistical code with trailing
    /// zero groups (`350203000000` becomes `350203`).
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        const WHAT: &str = "area code";
        let code = input.trim();
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new(WHAT, input, "expected digits only"));
        }
        let code = if code.len() == 12 {
            strip_zero_groups(code)
        } else {
            code
        };
        if AreaLevel::from_code_len(code.len()).is_none() {
            return Err(ValidationError::new(
                WHAT,
                input,
                "expected 2, 4, 6, 9, 12 or 15 digits (province to compound)",
            ));
        }
        if code.starts_with("00") {
            return Err(ValidationError::new(
                WHAT,
                input,
                "province part must not be 00",
            ));
        }
        Ok(Self(code.to_owned()))
    }

    /// Returns the code's level.
    pub fn level(&self) -> AreaLevel {
        AreaLevel::from_code_len(self.0.len()).expect("constructor checked the length")
    }

    /// Returns the enclosing area's code, or `None` for a province.
    pub fn parent(&self) -> Option<AreaCode> {
        let parent_len = match self.level() {
            AreaLevel::Province => return None,
            AreaLevel::City => 2,
            AreaLevel::District => 4,
            AreaLevel::Street => 6,
            AreaLevel::Community => 9,
            AreaLevel::Compound => 12,
        };
        Some(Self(self.0[..parent_len].to_owned()))
    }

    /// Returns true if `other` is this area or lies inside it.
    pub fn contains(&self, other: &AreaCode) -> bool {
        other.0.starts_with(&self.0)
    }

    /// Returns the code as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Strips trailing zero groups of a 12-digit statistical code (3 + 3 + 2 + 2 digits).
fn strip_zero_groups(code: &str) -> &str {
    let mut end = code.len();
    for group in [3, 3, 2, 2] {
        if code[..end].ends_with(&"000"[..group]) && end > 2 {
            end -= group;
        } else {
            break;
        }
    }
    &code[..end]
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AreaCode {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for AreaCode {
    type Error = ValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AreaCode> for String {
    fn from(code: AreaCode) -> Self {
        code.0
    }
}

/// One node of the area tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Area {
    /// The area's code; its prefix names every enclosing area.
    pub code: AreaCode,
    /// The official name, such as 思明区.
    pub name: String,
}

impl Area {
    /// Creates an area, rejecting an empty or overlong name.
    pub fn new(code: AreaCode, name: &str) -> Result<Self, ValidationError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ValidationError::new("area name", name, "must not be empty"));
        }
        if name.chars().count() > 100 {
            return Err(ValidationError::new(
                "area name",
                name,
                "must be at most 100 characters",
            ));
        }
        Ok(Self {
            code,
            name: name.to_owned(),
        })
    }

    /// Returns the area's level.
    pub fn level(&self) -> AreaLevel {
        self.code.level()
    }

    /// Returns the enclosing area's code.
    pub fn parent(&self) -> Option<AreaCode> {
        self.code.parent()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_short_codes_by_level() {
        let cases = [
            ("35", AreaLevel::Province),
            ("3502", AreaLevel::City),
            ("350203", AreaLevel::District),
            ("350203001", AreaLevel::Street),
            ("350203001001", AreaLevel::Community),
            ("350203001001007", AreaLevel::Compound),
        ];
        for (input, level) in cases {
            let code = AreaCode::parse(input).expect(input);
            assert_eq!(code.level(), level, "{input}");
        }
    }

    #[test]
    fn parse_strips_statistical_padding() {
        assert_eq!(AreaCode::parse("350203000000").unwrap().as_str(), "350203");
        assert_eq!(
            AreaCode::parse("350203001000").unwrap().as_str(),
            "350203001"
        );
        assert_eq!(AreaCode::parse("350000000000").unwrap().as_str(), "35");
        assert_eq!(AreaCode::parse("350200000000").unwrap().as_str(), "3502");
    }

    #[test]
    fn parse_rejects_bad_codes() {
        for input in ["", "3", "35a2", "3502031", "00", "000000000000"] {
            let error = AreaCode::parse(input).unwrap_err();
            assert_eq!(error.what, "area code", "{input}");
        }
    }

    #[test]
    fn parent_walks_up_the_tree() {
        let mut code = AreaCode::parse("350203001001007").unwrap();
        let mut chain = vec![code.to_string()];
        while let Some(parent) = code.parent() {
            chain.push(parent.to_string());
            code = parent;
        }
        assert_eq!(
            chain,
            [
                "350203001001007",
                "350203001001",
                "350203001",
                "350203",
                "3502",
                "35"
            ]
        );
    }

    #[test]
    fn contains_is_prefix() {
        let city = AreaCode::parse("3502").unwrap();
        assert!(city.contains(&AreaCode::parse("350203001").unwrap()));
        assert!(!city.contains(&AreaCode::parse("350102").unwrap()));
    }

    #[test]
    fn serde_validates() {
        let error = serde_json::from_str::<AreaCode>("\"12x\"").unwrap_err();
        assert!(error.to_string().contains("digits only"), "{error}");
    }
}
