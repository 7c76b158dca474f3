//! The built-in rule packs, embedded from the repository's `rules/` directory.

use crate::pack::{PackError, RulePack, parse_pack};

/// The built-in packs' names and TOML texts.
pub const BUILTIN_PACKS: &[(&str, &str)] = &[
    (
        "env/limits.toml",
        include_str!("../../../rules/env/limits.toml"),
    ),
    (
        "env/quality.toml",
        include_str!("../../../rules/env/quality.toml"),
    ),
    (
        "env/noise.toml",
        include_str!("../../../rules/env/noise.toml"),
    ),
    ("env/air.toml", include_str!("../../../rules/env/air.toml")),
];

/// Parses the built-in packs; their origin is `builtin:NAME`.
pub fn builtin_packs() -> Result<Vec<RulePack>, Vec<PackError>> {
    let mut packs = Vec::new();
    let mut errors = Vec::new();
    for (name, text) in BUILTIN_PACKS {
        match parse_pack(&format!("builtin:{name}"), text) {
            Ok(pack) => packs.push(pack),
            Err(mut pack_errors) => errors.append(&mut pack_errors),
        }
    }
    if errors.is_empty() {
        Ok(packs)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_packs_are_valid() {
        let packs = builtin_packs().unwrap_or_else(|errors| {
            panic!(
                "{}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert_eq!(packs.len(), BUILTIN_PACKS.len());
        let rules: Vec<&str> = packs
            .iter()
            .flat_map(|pack| pack.rules.iter().map(|rule| rule.id.as_str()))
            .collect();
        for id in [
            "env.limit.upper",
            "env.limit.lower",
            "env.data_missing",
            "env.offline",
            "env.flatline",
            "env.jump",
            "env.noise.limit",
            "env.aqi",
        ] {
            assert!(rules.contains(&id), "{id} missing from {rules:?}");
        }
    }

    #[test]
    fn limit_rules_take_fast_path() {
        let packs = builtin_packs().unwrap();
        let limits = &packs[0];
        for rule in &limits.rules {
            if let Some(condition) = &rule.condition {
                assert!(condition.is_fast(), "{}: {}", rule.id, condition.source());
            }
        }
    }
}
