//! Departments and the routing of a task to its lead department.
//!
//! A routing rule maps an area prefix and an optional category to a
//! department. A rule matches when its area contains the task's area and its
//! category is the task's or absent. Of the matching rules, the one with the
//! longest (most specific) area wins. At equal length, a rule naming the
//! category beats one without.
//! Two rules with the same area and category are a configuration error, so the
//! choice is never ambiguous.

use std::collections::{BTreeMap, BTreeSet};

use oversight_core::AreaCode;
use serde::{Deserialize, Serialize};

use crate::model::{Category, DepartmentId};
use crate::{ConfigError, TaskError};

/// A department, `[[departments]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    /// The department's id.
    pub id: DepartmentId,
    /// Its official name, such as 厦门市思明区生态环境局.
    pub name: String,
    /// The department that supervises it and receives its escalations (督办).
    /// Without one, escalations go to the dispatchers.
    #[serde(default)]
    pub supervisor: Option<DepartmentId>,
}

/// A routing rule, `[[routing]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// The area the rule covers, with every area inside it.
    pub area: AreaCode,
    /// The category the rule covers; absent means every category.
    #[serde(default)]
    pub category: Option<Category>,
    /// The lead department for matching tasks.
    pub department: DepartmentId,
}

/// The validated departments and routing rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    departments: BTreeMap<DepartmentId, Department>,
    rules: Vec<RouteRule>,
}

impl Directory {
    /// Checks that ids are unique, supervisors and rule departments exist, and
    /// no two rules share an area and category.
    pub fn new(departments: Vec<Department>, rules: Vec<RouteRule>) -> Result<Self, ConfigError> {
        let mut by_id = BTreeMap::new();
        for (i, department) in departments.into_iter().enumerate() {
            if department.name.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("departments[{i}].name"),
                    "",
                    "must not be blank",
                ));
            }
            let id = department.id.clone();
            if by_id.insert(id.clone(), department).is_some() {
                return Err(ConfigError::invalid(
                    format!("departments[{i}].id"),
                    id.as_str(),
                    "each department id may appear only once",
                ));
            }
        }
        for department in by_id.values() {
            let Some(supervisor) = &department.supervisor else {
                continue;
            };
            if supervisor == &department.id || !by_id.contains_key(supervisor) {
                return Err(ConfigError::invalid(
                    format!("supervisor of department {}", department.id),
                    supervisor.as_str(),
                    "must name another configured department",
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for (i, rule) in rules.iter().enumerate() {
            if !by_id.contains_key(&rule.department) {
                return Err(ConfigError::invalid(
                    format!("routing[{i}].department"),
                    rule.department.as_str(),
                    "unknown department; add it under [[departments]]",
                ));
            }
            if !seen.insert((rule.area.clone(), rule.category.clone())) {
                return Err(ConfigError::invalid(
                    format!("routing[{i}]"),
                    format!(
                        "{} {}",
                        rule.area,
                        rule.category.as_ref().map_or("*", Category::as_str)
                    ),
                    "another rule has the same area and category",
                ));
            }
        }
        Ok(Self {
            departments: by_id,
            rules,
        })
    }

    /// Returns the department of this id.
    pub fn department(&self, id: &DepartmentId) -> Result<&Department, TaskError> {
        self.departments
            .get(id)
            .ok_or_else(|| TaskError::UnknownDepartment {
                department: id.to_string(),
            })
    }

    /// Returns every department, ordered by id.
    pub fn departments(&self) -> impl Iterator<Item = &Department> {
        self.departments.values()
    }

    /// Returns the lead department for a task in `area` of `category`.
    pub fn route(&self, area: &AreaCode, category: &Category) -> Result<&DepartmentId, TaskError> {
        self.rules
            .iter()
            .filter(|rule| rule.area.contains(area))
            .filter(|rule| rule.category.as_ref().is_none_or(|c| c == category))
            .max_by_key(|rule| (rule.area.as_str().len(), rule.category.is_some()))
            .map(|rule| &rule.department)
            .ok_or_else(|| TaskError::NoRoute {
                area: area.to_string(),
                category: category.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(id: &str, supervisor: Option<&str>) -> Department {
        Department {
            id: DepartmentId::parse(id).unwrap(),
            name: format!("{id} name"),
            supervisor: supervisor.map(|s| DepartmentId::parse(s).unwrap()),
        }
    }

    fn rule(area: &str, category: Option<&str>, department: &str) -> RouteRule {
        RouteRule {
            area: AreaCode::parse(area).unwrap(),
            category: category.map(|c| Category::parse(c).unwrap()),
            department: DepartmentId::parse(department).unwrap(),
        }
    }

    fn directory() -> Directory {
        Directory::new(
            vec![
                dept("xm-eeb", Some("xm-supervision")),
                dept("sm-eeb", Some("xm-supervision")),
                dept("sm-urban", None),
                dept("xm-supervision", None),
            ],
            vec![
                rule("3502", None, "xm-eeb"),
                rule("350203", Some("water"), "sm-eeb"),
                rule("350203", None, "sm-urban"),
                rule("350203001", Some("noise"), "sm-urban"),
            ],
        )
        .unwrap()
    }

    fn route(dir: &Directory, area: &str, category: &str) -> Result<String, TaskError> {
        dir.route(
            &AreaCode::parse(area).unwrap(),
            &Category::parse(category).unwrap(),
        )
        .map(ToString::to_string)
    }

    #[test]
    fn longest_area_prefix_wins() {
        let dir = directory();
        assert_eq!(route(&dir, "350203001", "noise").unwrap(), "sm-urban");
        assert_eq!(route(&dir, "350203001", "water").unwrap(), "sm-eeb");
        assert_eq!(route(&dir, "350205", "water").unwrap(), "xm-eeb");
    }

    #[test]
    fn category_beats_wildcard_at_same_area() {
        let dir = directory();
        assert_eq!(route(&dir, "350203", "water").unwrap(), "sm-eeb");
        assert_eq!(route(&dir, "350203", "air").unwrap(), "sm-urban");
    }

    #[test]
    fn no_match_names_area_and_category() {
        let dir = directory();
        let err = route(&dir, "500112", "water").unwrap_err();
        assert_eq!(
            err,
            TaskError::NoRoute {
                area: "500112".into(),
                category: "water".into()
            }
        );
        assert!(err.to_string().contains("add a [[routing]] rule"), "{err}");
    }

    #[test]
    fn duplicate_rule_is_rejected() {
        let err = Directory::new(
            vec![dept("a", None)],
            vec![
                rule("35", Some("water"), "a"),
                rule("35", Some("water"), "a"),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("same area and category"), "{err}");
    }

    #[test]
    fn unknown_departments_are_rejected() {
        let err = Directory::new(vec![dept("a", None)], vec![rule("35", None, "b")]).unwrap_err();
        assert!(err.to_string().contains("routing[0].department"), "{err}");
        let err = Directory::new(vec![dept("a", Some("b"))], vec![]).unwrap_err();
        assert!(err.to_string().contains("supervisor"), "{err}");
        let err = Directory::new(vec![dept("a", Some("a"))], vec![]).unwrap_err();
        assert!(
            err.to_string().contains("another configured department"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_department_is_rejected() {
        let err = Directory::new(vec![dept("a", None), dept("a", None)], vec![]).unwrap_err();
        assert!(err.to_string().contains("only once"), "{err}");
    }
}
