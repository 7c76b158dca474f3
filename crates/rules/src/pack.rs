//! Rule packs: versioned TOML files of rules, parsed and checked into [`Rule`]s.
//!
//! A pack file has a `[pack]` table (id, version, description) and one
//! `[[rule]]` table per rule; docs/rules.md describes every field. Loading
//! checks everything a rule needs before it runs: known fields, durations,
//! severities, factor codes, and CEL conditions compiled with their
//! position. Every problem is reported with its file, rule id and line,
//! and a pack with any problem is rejected whole.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::{SignedDuration, Span, SpanRelativeTo};
use oversight_core::{FactorCode, Severity};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::expr::Condition;
use crate::rule::{
    Aggregate, Escalation, FlagFilter, MissingAfter, Peak, Rule, RuleKind, Window, WindowMode,
};

/// A problem in a pack file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackError {
    /// The file, as given.
    pub file: String,
    /// The rule's id, when the problem is inside a rule.
    pub rule: Option<String>,
    /// The line, from 1, when known.
    pub line: Option<usize>,
    /// The column on that line, from 1 and in characters, when known.
    pub column: Option<usize>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(rule) = &self.rule {
            write!(f, ": rule {rule}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PackError {}

/// A loaded pack and its rules.
#[derive(Debug, Clone)]
pub struct RulePack {
    /// The pack's id, such as `env`.
    pub id: String,
    /// The version the pack declares.
    pub version: String,
    /// What the pack covers.
    pub description: String,
    /// Where it came from: `builtin:NAME` or a file path.
    pub origin: String,
    /// SHA-256 of the file's bytes, in hex.
    pub sha256: String,
    /// The rules, in file order.
    pub rules: Vec<Arc<Rule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    pack: PackMeta,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<RuleSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackMeta {
    id: String,
    version: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    factors: Vec<String>,
    #[serde(default)]
    areas: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    condition: Option<Spanned<String>>,
    #[serde(default)]
    clear: Option<Spanned<String>>,
    #[serde(default)]
    critical: Option<Spanned<String>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    window: Option<WindowSpec>,
    #[serde(default, rename = "for")]
    for_duration: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    category: String,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    peak: Option<String>,
    #[serde(default = "default_true")]
    enabled: bool,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    after_intervals: Option<u32>,
    #[serde(default)]
    repeats: Option<u32>,
    #[serde(default)]
    tolerance: Option<f64>,
    #[serde(default)]
    inhibits: Option<bool>,
    #[serde(default)]
    escalate: Option<EscalateSpec>,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowSpec {
    size: String,
    #[serde(default)]
    mode: Option<String>,
    aggregate: String,
    #[serde(default)]
    filter: Option<Spanned<String>>,
    #[serde(default)]
    min_count: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalateSpec {
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    unacknowledged_for: Option<String>,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    deadline: Option<String>,
}

/// Returns the 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    position_of(text, offset).0
}

/// Returns the 1-based line and column (in characters) of byte `offset` in `text`.
fn position_of(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|&byte| byte == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Returns the byte range of the `[[rule]]` table starting at byte `start`:
/// up to the next `[[rule]]` header or the end of the file.
fn rule_range(text: &str, start: usize) -> std::ops::Range<usize> {
    let rest = text.get(start..).unwrap_or_default();
    let body_start = rest.find('\n').map_or(rest.len(), |newline| newline + 1);
    let end = rest[body_start..]
        .find("\n[[rule]]")
        .map_or(rest.len(), |next| body_start + next);
    start..start + end
}

/// Returns the byte offset at which the text of a TOML string value starts,
/// given the offset of its opening quote.
fn string_content_start(text: &str, quote: usize) -> usize {
    let raw = text.get(quote..).unwrap_or_default();
    if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        // TOML drops a newline that directly follows the opening delimiter.
        let after = &raw[3..];
        let newline = if after.starts_with("\r\n") {
            2
        } else {
            usize::from(after.starts_with('\n'))
        };
        quote + 3 + newline
    } else if raw.starts_with('"') || raw.starts_with('\'') {
        quote + 1
    } else {
        quote
    }
}

/// Parses and checks one pack file. `origin` names it in errors and in the
/// loaded pack.
pub fn parse_pack(origin: &str, text: &str) -> Result<RulePack, Vec<PackError>> {
    let file: PackFile = toml::from_str(text).map_err(|error| {
        let position = error.span().map(|span| position_of(text, span.start));
        vec![PackError {
            file: origin.to_owned(),
            rule: None,
            line: position.map(|(line, _)| line),
            column: position.map(|(_, column)| column),
            message: format!("invalid TOML: {}", error.message().trim()),
        }]
    })?;
    let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    let mut errors = Vec::new();
    let mut rules: Vec<Arc<Rule>> = Vec::new();
    let pack = &file.pack;
    if let Err(message) = check_identifier(&pack.id) {
        let (line, column) = find_key(text, 0..text.len(), "id").unwrap_or((1, 1));
        errors.push(PackError {
            file: origin.to_owned(),
            rule: None,
            line: Some(line),
            column: Some(column),
            message: format!("pack id {:?} {message}", pack.id),
        });
    }
    for spanned in &file.rules {
        let range = rule_range(text, spanned.span().start);
        let spec = spanned.get_ref();
        let source = text[range.clone()].trim().to_owned();
        let context = RuleContext {
            origin,
            text,
            rule: &spec.id,
            range,
        };
        match build_rule(&context, spec, pack, source) {
            Ok(rule) => {
                if rules.iter().any(|known| known.id == rule.id) {
                    errors.push(context.at_key(
                        "id",
                        format!(
                            "duplicate rule id {:?} in this pack; give each rule its own id",
                            rule.id
                        ),
                    ));
                } else {
                    rules.push(Arc::new(rule));
                }
            }
            Err(mut rule_errors) => errors.append(&mut rule_errors),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(RulePack {
        id: pack.id.clone(),
        version: pack.version.clone(),
        description: pack.description.clone(),
        origin: origin.to_owned(),
        sha256,
        rules,
    })
}

/// Returns the line and column of the first `key = ...` line inside `range`
/// of `text`. A dotted key such as `window.size` is looked up by its last
/// part, which also finds it under a `[rule.window]` header.
fn find_key(text: &str, range: std::ops::Range<usize>, key: &str) -> Option<(usize, usize)> {
    let key = key.rsplit('.').next().unwrap_or(key);
    let body = text.get(range.clone())?;
    let mut offset = range.start;
    for line in body.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        let rest = line.trim_start();
        if let Some(after) = rest.strip_prefix(key)
            && after.trim_start().starts_with('=')
        {
            return Some(position_of(text, offset + indent));
        }
        offset += line.len();
    }
    None
}

/// Where a rule sits, for its error messages.
struct RuleContext<'a> {
    origin: &'a str,
    text: &'a str,
    rule: &'a str,
    /// The bytes of the rule's `[[rule]]` table in `text`.
    range: std::ops::Range<usize>,
}

impl RuleContext<'_> {
    /// Returns the line of the rule's `[[rule]]` header.
    fn line(&self) -> usize {
        line_of(self.text, self.range.start)
    }

    fn error_at(&self, (line, column): (usize, usize), message: String) -> PackError {
        PackError {
            file: self.origin.to_owned(),
            rule: Some(self.rule.to_owned()),
            line: Some(line),
            column: Some(column),
            message,
        }
    }

    /// Returns an error placed at the line of `key`, or at the rule's header
    /// when the key is absent (a missing field). A dotted key written inside
    /// an inline table, such as `window = { size = "0s" }`, is placed at the
    /// table's key.
    fn at_key(&self, key: &str, message: String) -> PackError {
        let table = key.split_once('.').map(|(table, _)| table);
        let position = find_key(self.text, self.range.clone(), key)
            .or_else(|| table.and_then(|table| find_key(self.text, self.range.clone(), table)))
            .unwrap_or_else(|| position_of(self.text, self.range.start));
        self.error_at(position, message)
    }

    /// Returns an error placed at the rule's `[[rule]]` header.
    fn field(&self, message: String) -> PackError {
        self.error_at(position_of(self.text, self.range.start), message)
    }

    /// Compiles a condition field, reporting CEL errors at their line and
    /// column in the file.
    fn condition(
        &self,
        field: &str,
        spanned: Option<&Spanned<String>>,
    ) -> Result<Option<Condition>, PackError> {
        let Some(spanned) = spanned else {
            return Ok(None);
        };
        Condition::compile(spanned.get_ref())
            .map(Some)
            .map_err(|failure| {
                let content = string_content_start(self.text, spanned.span().start);
                let (line, column) = position_of(self.text, content);
                let position = if failure.line <= 1 {
                    (line, column + failure.column - 1)
                } else {
                    (line + failure.line - 1, failure.column)
                };
                self.error_at(
                    position,
                    format!(
                        "invalid {field} {:?}: CEL error at column {} of the expression: {}",
                        spanned.get_ref(),
                        failure.column,
                        failure.message
                    ),
                )
            })
    }
}

fn check_identifier(id: &str) -> Result<(), &'static str> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err("is invalid: expected 1 to 64 letters, digits, '.', '_' or '-'")
    }
}

/// Parses a duration such as `10m`, `1h 30m`, `2d` or `PT2H`. A day is 24
/// hours and a week 7 days. Months and years are rejected, because their
/// length varies.
pub(crate) fn parse_duration(input: &str) -> Result<SignedDuration, String> {
    let text = input.trim();
    let invalid = || {
        format!("invalid duration {input:?}: expected a duration such as 90s, 10m, 1h 30m or 2d")
    };
    // jiff 0.2 parses only units of hours or smaller into `SignedDuration`,
    // so days and weeks go through `Span`.
    let duration = match text.parse::<SignedDuration>() {
        Ok(duration) => duration,
        Err(_) => {
            let span: Span = text.parse().map_err(|_| invalid())?;
            if span.get_years() != 0 || span.get_months() != 0 {
                return Err(format!(
                    "invalid duration {input:?}: months and years have no fixed length; \
                     write days instead, such as 30d"
                ));
            }
            span.to_duration(SpanRelativeTo::days_are_24_hours())
                .map_err(|_| invalid())?
        }
    };
    if duration.is_negative() {
        return Err(format!("invalid duration {input:?}: must not be negative"));
    }
    Ok(duration)
}

fn build_rule(
    context: &RuleContext<'_>,
    spec: &RuleSpec,
    pack: &PackMeta,
    source: String,
) -> Result<Rule, Vec<PackError>> {
    let mut errors = Vec::new();
    let mut check = |result: Result<(), PackError>| {
        if let Err(error) = result {
            errors.push(error);
        }
    };
    check(
        check_identifier(&spec.id).map_err(|message| context.at_key("id", format!("id {message}"))),
    );
    check(check_identifier(&spec.category).map_err(|message| {
        context.at_key(
            "category",
            format!("category {:?} {message}", spec.category),
        )
    }));
    let kind = match spec.kind.as_deref().unwrap_or("threshold") {
        "threshold" => RuleKind::Threshold,
        "missing" => RuleKind::Missing,
        "offline" => RuleKind::Offline,
        "flatline" => RuleKind::Flatline,
        other => {
            errors.push(context.at_key(
                "kind",
                format!("invalid kind {other:?}: expected threshold, missing, offline or flatline"),
            ));
            RuleKind::Threshold
        }
    };
    if let Some(subject) = spec.subject.as_deref()
        && subject != "monitoring_point"
    {
        errors.push(context.at_key("subject", format!(
            "invalid subject {subject:?}: expected monitoring_point, the only subject kind so far"
        )));
    }
    let factors = parse_factors(context, &spec.factors, &mut errors);
    let severity = match Severity::parse(spec.severity.as_deref().unwrap_or("warning")) {
        Ok(severity) => severity,
        Err(failure) => {
            errors.push(context.at_key("severity", failure.to_string()));
            Severity::Warning
        }
    };
    let conditions = [
        ("condition", spec.condition.as_ref()),
        ("clear", spec.clear.as_ref()),
        ("critical", spec.critical.as_ref()),
    ]
    .map(|(field, spanned)| match context.condition(field, spanned) {
        Ok(condition) => condition,
        Err(failure) => {
            errors.push(failure);
            None
        }
    });
    let [condition, clear, critical] = conditions;
    check_kind_fields(context, spec, kind, condition.is_some(), &mut errors);
    let window = parse_window(context, spec.window.as_ref(), &mut errors);
    let for_duration =
        parse_optional_duration(context, "for", spec.for_duration.as_deref(), &mut errors);
    let missing_after = parse_missing_after(context, spec, kind, &mut errors);
    let escalation = parse_escalation(context, spec.escalate.as_ref(), &mut errors);
    let flags = match FlagFilter::parse(spec.flags.as_deref()) {
        Ok(flags) => flags,
        Err(message) => {
            errors.push(context.at_key("flags", message));
            FlagFilter::default()
        }
    };
    let peak = match spec.peak.as_deref().unwrap_or("max") {
        "max" => Peak::Max,
        "min" => Peak::Min,
        other => {
            errors.push(context.at_key(
                "peak",
                format!("invalid peak {other:?}: expected max or min"),
            ));
            Peak::Max
        }
    };
    for area in &spec.areas {
        if area.is_empty() || !area.bytes().all(|byte| byte.is_ascii_digit()) {
            errors.push(context.at_key(
                "areas",
                format!(
                    "invalid area {area:?}: expected an area code prefix of digits, such as 3502"
                ),
            ));
        }
    }
    if let Some(tolerance) = spec.tolerance
        && (!tolerance.is_finite() || tolerance < 0.0)
    {
        errors.push(context.at_key(
            "tolerance",
            format!("invalid tolerance {tolerance}: expected a finite number of 0 or more"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Rule {
        id: spec.id.clone(),
        name: spec.name.clone().unwrap_or_else(|| spec.id.clone()),
        description: spec.description.clone(),
        pack: pack.id.clone(),
        version: pack.version.clone(),
        line: context.line(),
        source,
        kind,
        factors,
        areas: spec.areas.clone(),
        tags: spec.tags.clone(),
        condition,
        clear,
        critical,
        flags,
        window,
        for_duration: for_duration.unwrap_or(SignedDuration::ZERO),
        severity,
        category: spec.category.clone(),
        department: spec.department.clone(),
        peak,
        enabled: spec.enabled,
        missing_after,
        repeats: spec.repeats.unwrap_or(0),
        tolerance: spec.tolerance.unwrap_or(0.0),
        // An offline point sends nothing, so its other alerts are stale by
        // default.
        inhibits: spec.inhibits.unwrap_or(kind == RuleKind::Offline),
        escalation,
    })
}

fn parse_factors(
    context: &RuleContext<'_>,
    factors: &[String],
    errors: &mut Vec<PackError>,
) -> Vec<FactorCode> {
    let mut parsed = Vec::new();
    for factor in factors {
        let checked = FactorCode::parse(factor)
            .map_err(|failure| failure.to_string())
            .and_then(|code| crate::factor_codes::check(factor).map(|()| code));
        match checked {
            Ok(code) => parsed.push(code),
            Err(message) => errors.push(context.at_key("factors", message)),
        }
    }
    parsed
}

/// Checks the fields each kind needs and the ones it does not use.
fn check_kind_fields(
    context: &RuleContext<'_>,
    spec: &RuleSpec,
    kind: RuleKind,
    has_condition: bool,
    errors: &mut Vec<PackError>,
) {
    match kind {
        RuleKind::Threshold if !has_condition && spec.condition.is_none() => {
            errors.push(
                context.field(
                    "missing condition: a threshold rule needs a CEL condition such as \
                 \"value > upper\""
                        .to_owned(),
                ),
            );
        }
        RuleKind::Missing | RuleKind::Offline => {
            if spec.condition.is_some() || spec.window.is_some() || spec.clear.is_some() {
                errors.push(
                    context.field(
                        "a missing or offline rule takes no condition, clear or window: it fires \
                     on silence and resolves when data arrives"
                            .to_owned(),
                    ),
                );
            }
            if kind == RuleKind::Offline && !spec.factors.is_empty() {
                errors.push(
                    context.at_key(
                        "factors",
                        "an offline rule takes no factors: it watches every upload of the point; \
                     use kind = \"missing\" for a factor"
                            .to_owned(),
                    ),
                );
            }
        }
        RuleKind::Flatline => {
            if spec.repeats.is_none_or(|repeats| repeats < 2) {
                errors.push(context.field(
                    "a flatline rule needs repeats = N with N of 2 or more: the number of equal \
                     values in a row that fires it"
                        .to_owned(),
                ));
            }
            if spec.window.is_some() {
                errors.push(context.at_key("window", "a flatline rule takes no window".to_owned()));
            }
        }
        RuleKind::Threshold => {}
    }
}

fn parse_optional_duration(
    context: &RuleContext<'_>,
    field: &str,
    input: Option<&str>,
    errors: &mut Vec<PackError>,
) -> Option<SignedDuration> {
    let input = input?;
    match parse_duration(input) {
        Ok(duration) => Some(duration),
        Err(message) => {
            errors.push(context.at_key(field, format!("{field}: {message}")));
            None
        }
    }
}

fn parse_window(
    context: &RuleContext<'_>,
    spec: Option<&WindowSpec>,
    errors: &mut Vec<PackError>,
) -> Option<Window> {
    let spec = spec?;
    let size = parse_optional_duration(context, "window.size", Some(&spec.size), errors)?;
    if size.is_zero() {
        errors.push(context.at_key(
            "window.size",
            "window.size must be longer than 0s".to_owned(),
        ));
        return None;
    }
    let mode = match spec.mode.as_deref().unwrap_or("sliding") {
        "sliding" => WindowMode::Sliding,
        "tumbling" => WindowMode::Tumbling,
        other => {
            errors.push(context.at_key(
                "window.mode",
                format!("invalid window.mode {other:?}: expected sliding or tumbling"),
            ));
            return None;
        }
    };
    let Some(aggregate) = Aggregate::parse(&spec.aggregate) else {
        errors.push(context.at_key(
            "window.aggregate",
            format!(
                "invalid window.aggregate {:?}: expected avg, min, max, sum, count or rate",
                spec.aggregate
            ),
        ));
        return None;
    };
    let filter = match context.condition("window.filter", spec.filter.as_ref()) {
        Ok(filter) => filter,
        Err(failure) => {
            errors.push(failure);
            return None;
        }
    };
    Some(Window {
        size,
        mode,
        aggregate,
        filter,
        min_count: spec.min_count.unwrap_or(1).max(1),
    })
}

fn parse_missing_after(
    context: &RuleContext<'_>,
    spec: &RuleSpec,
    kind: RuleKind,
    errors: &mut Vec<PackError>,
) -> Option<MissingAfter> {
    if !matches!(kind, RuleKind::Missing | RuleKind::Offline) {
        return None;
    }
    match (spec.after.as_deref(), spec.after_intervals) {
        (Some(after), None) => parse_optional_duration(context, "after", Some(after), errors)
            .map(MissingAfter::Duration),
        (None, Some(intervals)) if intervals > 0 => Some(MissingAfter::Intervals(intervals)),
        _ => {
            errors.push(
                context.field(
                    "a missing or offline rule needs either after = DURATION (such as \"30m\") or \
                 after_intervals = N (N of 1 or more upload intervals), not both"
                        .to_owned(),
                ),
            );
            None
        }
    }
}

fn parse_escalation(
    context: &RuleContext<'_>,
    spec: Option<&EscalateSpec>,
    errors: &mut Vec<PackError>,
) -> Option<Escalation> {
    let spec = spec?;
    let severity = match spec.severity.as_deref().map(Severity::parse) {
        Some(Ok(severity)) => Some(severity),
        Some(Err(failure)) => {
            errors
                .push(context.at_key("escalate.severity", format!("escalate.severity: {failure}")));
            None
        }
        None => None,
    };
    let unacknowledged_for = parse_optional_duration(
        context,
        "escalate.unacknowledged_for",
        spec.unacknowledged_for.as_deref(),
        errors,
    );
    let deadline = parse_optional_duration(
        context,
        "escalate.deadline",
        spec.deadline.as_deref(),
        errors,
    );
    if severity.is_none() && spec.count.is_none() && unacknowledged_for.is_none() {
        errors.push(context.field(
            "escalate needs at least one of severity, count or unacknowledged_for".to_owned(),
        ));
    }
    Some(Escalation {
        severity,
        count: spec.count,
        unacknowledged_for,
        department: spec.department.clone(),
        deadline: deadline.unwrap_or(SignedDuration::from_hours(72)),
    })
}

/// Loads every `*.toml` file under `dir`, in path order, or the one pack
/// file `dir` names. Returns every problem of every file when any file has
/// one.
pub fn load_dir(dir: &Path) -> Result<Vec<RulePack>, Vec<PackError>> {
    let files = toml_files(dir).map_err(|message| {
        vec![PackError {
            file: dir.display().to_string(),
            rule: None,
            line: None,
            column: None,
            message,
        }]
    })?;
    let mut packs = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match load_file(&file) {
            Ok(pack) => packs.push(pack),
            Err(mut file_errors) => errors.append(&mut file_errors),
        }
    }
    errors.extend(duplicates_across(&packs));
    if errors.is_empty() {
        Ok(packs)
    } else {
        Err(errors)
    }
}

/// Returns an error for each rule whose id an earlier pack already defines,
/// placed at the later definition.
fn duplicates_across(packs: &[RulePack]) -> Vec<PackError> {
    let mut first: std::collections::HashMap<&str, (&str, usize)> =
        std::collections::HashMap::new();
    let mut errors = Vec::new();
    for pack in packs {
        for rule in &pack.rules {
            match first.get(rule.id.as_str()) {
                Some((origin, line)) => errors.push(PackError {
                    file: pack.origin.clone(),
                    rule: Some(rule.id.clone()),
                    line: Some(rule.line),
                    column: Some(1),
                    message: format!(
                        "duplicate rule id {:?}: {origin}:{line} defines it already; rename \
                         one of them or remove one",
                        rule.id
                    ),
                }),
                None => {
                    first.insert(&rule.id, (&pack.origin, rule.line));
                }
            }
        }
    }
    errors
}

/// Loads one pack file.
pub fn load_file(path: &Path) -> Result<RulePack, Vec<PackError>> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|failure| {
        vec![PackError {
            file: origin.clone(),
            rule: None,
            line: None,
            column: None,
            message: format!("cannot read the file: {failure}"),
        }]
    })?;
    parse_pack(&origin, &text)
}

/// Returns the `*.toml` files under `dir`, recursively, sorted by path, or
/// `dir` itself when it is a file.
pub(crate) fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    if dir.is_file() {
        return Ok(vec![dir.to_owned()]);
    }
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|failure| {
            format!(
                "cannot read rules directory {}: {failure}",
                current.display()
            )
        })?;
        for entry in entries {
            let path = entry
                .map_err(|failure| format!("cannot list {}: {failure}", current.display()))?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|extension| extension == "toml")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
[pack]
id = "test"
version = "1"

[[rule]]
id = "t.upper"
category = "exceedance"
condition = "value > upper"
clear = "value <= 0.9 * upper"
for = "5m"
severity = "critical"
"#;

    #[test]
    fn valid_pack_loads() {
        let pack = parse_pack("test.toml", VALID).unwrap();
        assert_eq!(pack.rules.len(), 1);
        let rule = &pack.rules[0];
        assert_eq!(rule.id, "t.upper");
        assert_eq!(rule.line, 6);
        assert_eq!(rule.for_duration, SignedDuration::from_mins(5));
        assert_eq!(rule.severity, Severity::Critical);
        assert!(rule.source.contains("value > upper"), "{}", rule.source);
        assert_eq!(pack.sha256.len(), 64);
    }

    #[test]
    fn cel_error_names_file_rule_line() {
        let text = VALID.replace("value > upper", "value > ");
        let errors = parse_pack("test.toml", &text).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        let error = &errors[0];
        assert_eq!(error.rule.as_deref(), Some("t.upper"));
        assert_eq!(error.line, Some(9));
        let text = error.to_string();
        assert!(text.starts_with("test.toml:9:"), "{text}");
        assert!(text.contains("rule t.upper: invalid condition"), "{text}");
        assert!(text.contains("column"), "{text}");
    }

    #[test]
    fn unknown_variable_points_at_it() {
        let text = VALID.replace("value > upper", "value > uper");
        let errors = parse_pack("test.toml", &text).unwrap_err();
        assert_eq!(errors[0].line, Some(9), "{errors:?}");
        // `condition = "` is 13 characters, so the expression starts at 14.
        assert_eq!(errors[0].column, Some(14 + 8), "{errors:?}");
        assert!(errors[0].message.contains("\"uper\""), "{errors:?}");
    }

    #[test]
    fn toml_error_has_line_and_column() {
        let text = VALID.replace("for = \"5m\"", "for = 5m");
        let errors = parse_pack("test.toml", &text).unwrap_err();
        assert_eq!(errors[0].line, Some(11), "{errors:?}");
        assert_eq!(errors[0].column, Some(7), "{errors:?}");
        assert!(errors[0].message.starts_with("invalid TOML"), "{errors:?}");
    }

    #[test]
    fn field_errors_point_at_their_key() {
        let text = VALID
            .replace("for = \"5m\"", "for = \"5 parsecs\"")
            .replace("condition =", "factors = [\"COD\"]\ncondition =");
        let errors = parse_pack("test.toml", &text).unwrap_err();
        let lines: Vec<_> = errors
            .iter()
            .map(|error| (error.line, error.column))
            .collect();
        assert_eq!(
            lines,
            [(Some(9), Some(1)), (Some(12), Some(1))],
            "{errors:?}"
        );
        assert!(errors[0].message.contains("w01018"), "{errors:?}");
        assert!(errors[1].message.contains("5 parsecs"), "{errors:?}");
    }

    #[test]
    fn unknown_field_has_line() {
        let text = VALID.replace("for = \"5m\"", "four = \"5m\"");
        let errors = parse_pack("test.toml", &text).unwrap_err();
        assert_eq!(errors[0].line, Some(11), "{errors:?}");
        assert!(errors[0].message.contains("four"), "{}", errors[0].message);
    }

    #[test]
    fn bad_values_are_each_reported() {
        let text = VALID
            .replace("for = \"5m\"", "for = \"five minutes\"")
            .replace("severity = \"critical\"", "severity = \"urgent\"");
        let errors = parse_pack("test.toml", &text).unwrap_err();
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{messages:?}");
        assert!(
            messages
                .iter()
                .any(|message| message.contains("five minutes"))
        );
        assert!(messages.iter().any(|message| message.contains("urgent")));
    }

    #[test]
    fn severity_error_says_invalid_once() {
        let text = VALID.replace("severity = \"critical\"", "severity = \"urgent\"");
        let errors = parse_pack("test.toml", &text).unwrap_err();
        let message = &errors[0].message;
        assert!(
            message.starts_with("invalid severity \"urgent\""),
            "{message}"
        );

        let text = format!("{VALID}escalate = {{ severity = \"urgent\" }}\n");
        let errors = parse_pack("test.toml", &text).unwrap_err();
        let message = &errors[0].message;
        assert!(
            message.starts_with("escalate.severity: invalid severity \"urgent\""),
            "{message}"
        );
    }

    #[test]
    fn inline_table_errors_point_at_their_line() {
        let text = format!(
            "{VALID}window = {{ size = \"1h\", aggregate = \"median\" }}\n\
             escalate = {{ count = 3, deadline = \"-5h\" }}\n"
        );
        let errors = parse_pack("test.toml", &text).unwrap_err();
        let lines: Vec<_> = errors.iter().map(|error| error.line).collect();
        assert_eq!(lines, [Some(13), Some(14)], "{errors:?}");
        assert!(errors[0].message.contains("median"), "{errors:?}");
        assert!(errors[1].message.contains("-5h"), "{errors:?}");
    }

    #[test]
    fn duplicate_rule_ids_rejected() {
        let text = format!(
            "{VALID}\n[[rule]]\nid = \"t.upper\"\ncategory = \"x\"\ncondition = \"value > 1.0\"\n"
        );
        let errors = parse_pack("test.toml", &text).unwrap_err();
        assert!(
            errors[0].message.contains("duplicate rule id"),
            "{errors:?}"
        );
    }

    #[test]
    fn missing_rule_needs_after() {
        let text = "[pack]\nid = \"m\"\nversion = \"1\"\n[[rule]]\nid = \"m.silent\"\ncategory = \"data_missing\"\nkind = \"missing\"\n";
        let errors = parse_pack("m.toml", text).unwrap_err();
        assert!(errors[0].message.contains("after"), "{errors:?}");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Ok(SignedDuration::from_secs(90)));
        assert_eq!(parse_duration("1h 30m"), Ok(SignedDuration::from_mins(90)));
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn durations_in_days_parse() {
        let day = SignedDuration::from_hours(24);
        assert_eq!(parse_duration("2d"), Ok(day * 2));
        assert_eq!(
            parse_duration("1d 2h"),
            Ok(day + SignedDuration::from_hours(2))
        );
        assert_eq!(parse_duration("P1D"), Ok(day));
        assert_eq!(parse_duration("1w"), Ok(day * 7));
    }

    #[test]
    fn durations_in_months_are_rejected() {
        let error = parse_duration("1mo").unwrap_err();
        assert!(error.contains("\"1mo\""), "{error}");
        assert!(error.contains("months and years"), "{error}");
    }
}
