//! Outcomes of a task, the no-penalty-for-a-first-violation (首违不罚) check,
//! and the outcome record that feeds a subject's credit.
//!
//! The lead department replies with an [`OutcomeInput`]; the engine turns it
//! into an [`Outcome`] (computing the rectification deadline in working days,
//! and checking first-violation eligibility against the subject's history),
//! and closing the task emits an [`OutcomeRecord`].
//!
//! First-violation eligibility follows Article 33 of the Administrative
//! Penalty Law (行政处罚法, 2021): an initial violation whose harm is minor and
//! that is corrected in time may go unpunished. The crate checks these
//! conditions in order. The item must be on the configured list and the task
//! must name a subject. The harm must have been judged minor, and the
//! correction must have come within the configured working days of the order.
//! Last, the subject must have no violation of the same item within the
//! configured look-back period.

use jiff::civil::Date;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};

use crate::calendar::WorkCalendar;
use oversight_core::AreaCode;
use oversight_core::personal::Text;

use crate::model::{MAX_NAME_CHARS, MAX_TEXT_CHARS, PersonId, SubjectId, TaskId, validate_text};
use crate::{ConfigError, TaskError};

/// The example first-violation list, with the source of each item.
const EXAMPLE_LIST: &str = include_str!("../data/first-violation-example.toml");

/// The outcome as the lead department submits it with its reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutcomeInput {
    /// No violation was found.
    NoViolation {
        /// The findings of the check.
        findings: Text,
    },
    /// A violation was found and its rectification ordered (责令整改).
    Rectification {
        /// The violated item's code, as in the first-violation list where it appears there.
        item: String,
        /// The findings of the check.
        findings: Text,
        /// Working days the subject has to rectify.
        working_days: u32,
    },
    /// No penalty for a first minor violation corrected in time (首违不罚).
    FirstViolationNoPenalty {
        /// The item's code in the first-violation list.
        item: String,
        /// The findings of the check.
        findings: Text,
        /// Whether the inspector judged the harm minor.
        harm_minor: bool,
        /// When correction was ordered.
        correction_ordered_at: Timestamp,
        /// When the subject had corrected the violation.
        corrected_at: Timestamp,
    },
    /// An administrative penalty was decided (行政处罚决定).
    Penalty {
        /// The violated item's code.
        item: String,
        /// The findings of the check.
        findings: Text,
        /// The decision's document number, such as 厦环罚〔2025〕12号.
        decision_number: String,
        /// The fine in yuan, if any.
        fine_yuan: Option<u64>,
    },
    /// The matter belongs to another authority and was transferred (移送).
    Transferred {
        /// The receiving authority.
        authority: String,
        /// The reason for the transfer.
        findings: Text,
    },
}

/// The kind of an outcome, for records and statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// No violation found.
    NoViolation,
    /// Rectification ordered.
    Rectification,
    /// First violation, no penalty.
    FirstViolationNoPenalty,
    /// Penalty decided.
    Penalty,
    /// Transferred to another authority.
    Transferred,
}

impl OutcomeKind {
    /// Returns the kind's name as serialised, such as `first_violation_no_penalty`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::NoViolation => "no_violation",
            OutcomeKind::Rectification => "rectification",
            OutcomeKind::FirstViolationNoPenalty => "first_violation_no_penalty",
            OutcomeKind::Penalty => "penalty",
            OutcomeKind::Transferred => "transferred",
        }
    }

    /// Returns true if the outcome establishes a violation by the subject.
    pub fn is_violation(self) -> bool {
        matches!(
            self,
            OutcomeKind::Rectification
                | OutcomeKind::FirstViolationNoPenalty
                | OutcomeKind::Penalty
        )
    }
}

/// A recorded outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The outcome as submitted.
    pub input: OutcomeInput,
    /// For a rectification, the deadline computed from its working days.
    pub rectify_by: Option<Timestamp>,
    /// For a first violation, the start of the look-back window that was checked.
    pub history_checked_since: Option<Timestamp>,
    /// The person who recorded it.
    pub decided_by: PersonId,
    /// When it was recorded.
    pub decided_at: Timestamp,
}

impl Outcome {
    /// Returns the outcome's kind.
    pub fn kind(&self) -> OutcomeKind {
        self.input.kind()
    }
}

impl OutcomeInput {
    /// Returns the outcome's kind.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            OutcomeInput::NoViolation { .. } => OutcomeKind::NoViolation,
            OutcomeInput::Rectification { .. } => OutcomeKind::Rectification,
            OutcomeInput::FirstViolationNoPenalty { .. } => OutcomeKind::FirstViolationNoPenalty,
            OutcomeInput::Penalty { .. } => OutcomeKind::Penalty,
            OutcomeInput::Transferred { .. } => OutcomeKind::Transferred,
        }
    }

    /// Returns the violated item's code, for the kinds that name one.
    pub fn item(&self) -> Option<&str> {
        match self {
            OutcomeInput::Rectification { item, .. }
            | OutcomeInput::FirstViolationNoPenalty { item, .. }
            | OutcomeInput::Penalty { item, .. } => Some(item),
            OutcomeInput::NoViolation { .. } | OutcomeInput::Transferred { .. } => None,
        }
    }

    /// Returns the findings, or the reason of a transfer.
    pub fn findings(&self) -> &Text {
        match self {
            OutcomeInput::NoViolation { findings }
            | OutcomeInput::Rectification { findings, .. }
            | OutcomeInput::FirstViolationNoPenalty { findings, .. }
            | OutcomeInput::Penalty { findings, .. }
            | OutcomeInput::Transferred { findings, .. } => findings,
        }
    }

    /// Validates the text fields and numbers.
    pub fn validate(&self) -> Result<(), TaskError> {
        if let Some(item) = self.item() {
            validate_text("violation item", item, MAX_NAME_CHARS)?;
        }
        match self {
            OutcomeInput::NoViolation { findings }
            | OutcomeInput::FirstViolationNoPenalty { findings, .. } => {
                validate_text("findings", findings, MAX_TEXT_CHARS)
            }
            OutcomeInput::Rectification {
                findings,
                working_days,
                ..
            } => {
                validate_text("findings", findings, MAX_TEXT_CHARS)?;
                if *working_days == 0 || *working_days > 365 {
                    return Err(TaskError::invalid(
                        "rectification working days",
                        &working_days.to_string(),
                        "must be between 1 and 365",
                    ));
                }
                Ok(())
            }
            OutcomeInput::Penalty {
                findings,
                decision_number,
                ..
            } => {
                validate_text("findings", findings, MAX_TEXT_CHARS)?;
                validate_text("decision number", decision_number, MAX_NAME_CHARS)
            }
            OutcomeInput::Transferred {
                authority,
                findings,
            } => {
                validate_text("authority", authority, MAX_NAME_CHARS)?;
                validate_text("findings", findings, MAX_TEXT_CHARS)
            }
        }
    }
}

/// The record a closed task leaves for the subject's credit and the statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    /// The task.
    pub task: TaskId,
    /// The subject, if the task names one.
    pub subject: Option<SubjectId>,
    /// The task's area.
    pub area: AreaCode,
    /// The violated item, for violations.
    pub item: Option<String>,
    /// The outcome's kind.
    pub kind: OutcomeKind,
    /// True if the outcome establishes a violation.
    pub violation: bool,
    /// The person who recorded the outcome.
    pub decided_by: PersonId,
    /// When the outcome was recorded.
    pub decided_at: Timestamp,
    /// When the task was closed.
    pub closed_at: Timestamp,
}

/// A violation found earlier, as the history reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorViolation {
    /// The task that found it, if it came from a task.
    pub task: Option<TaskId>,
    /// The item violated.
    pub item: String,
    /// When it was established.
    pub decided_at: Timestamp,
}

/// A subject's violation history; the store implements it over its outcome records.
pub trait ViolationHistory {
    /// Returns the subject's violations of `item` established at or after `since`.
    ///
    /// An error is the storage's message; the engine rejects the operation with it.
    fn violations_since(
        &self,
        subject: &SubjectId,
        item: &str,
        since: Timestamp,
    ) -> Result<Vec<PriorViolation>, String>;
}

/// Outcome records held in memory are a history too, such as a batch loaded for one subject.
impl ViolationHistory for Vec<OutcomeRecord> {
    fn violations_since(
        &self,
        subject: &SubjectId,
        item: &str,
        since: Timestamp,
    ) -> Result<Vec<PriorViolation>, String> {
        Ok(self
            .iter()
            .filter(|r| r.violation && r.subject.as_ref() == Some(subject))
            .filter(|r| r.item.as_deref() == Some(item) && r.decided_at >= since)
            .map(|r| PriorViolation {
                task: Some(r.task.clone()),
                item: item.to_owned(),
                decided_at: r.decided_at,
            })
            .collect())
    }
}

/// The `[first_violation]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FirstViolationSettings {
    /// How far back a prior violation of the same item rules out a first violation,
    /// in calendar months. Default 12.
    pub lookback_months: u32,
    /// Working days after the order within which the correction must come. Default 5.
    pub correction_working_days: u32,
}

impl Default for FirstViolationSettings {
    fn default() -> Self {
        Self {
            lookback_months: 12,
            correction_working_days: 5,
        }
    }
}

/// An item on the first-violation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EligibleItem {
    /// A short code that outcomes refer to.
    pub code: String,
    /// The violation, as the list words it.
    pub name: String,
    /// The list's conditions for no penalty, for the inspector to check.
    pub conditions: String,
    /// The legal provisions the list cites.
    #[serde(default)]
    pub basis: Option<String>,
    /// The item's source, when the file gathers items from several lists.
    #[serde(default)]
    pub source: Option<String>,
}

/// A list of items eligible for no penalty on a first violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstViolationList {
    /// The document the list comes from.
    pub source: String,
    /// The items.
    pub items: Vec<EligibleItem>,
}

impl FirstViolationList {
    /// Parses a list file (TOML with `source` and `[[items]]`), rejecting duplicate codes.
    pub fn parse(toml_text: &str) -> Result<Self, ConfigError> {
        let list: Self = toml::from_str(toml_text).map_err(|e| ConfigError::Parse {
            file: "first-violation list",
            message: e.to_string(),
        })?;
        let mut codes = std::collections::BTreeSet::new();
        for (i, item) in list.items.iter().enumerate() {
            if item.code.trim().is_empty() || !codes.insert(item.code.as_str()) {
                return Err(ConfigError::invalid(
                    format!("items[{i}].code"),
                    &item.code,
                    "each item needs a code of its own",
                ));
            }
        }
        Ok(list)
    }

    /// Returns the example list shipped with the crate: two items from published
    /// provincial and municipal lists, each with its source. Not complete for any region.
    pub fn example() -> Self {
        Self::parse(EXAMPLE_LIST).expect("the example list is checked by a unit test")
    }

    /// Returns an empty list: no item is eligible.
    pub fn empty() -> Self {
        Self {
            source: "none".into(),
            items: Vec::new(),
        }
    }

    /// Returns the item of this code.
    pub fn item(&self, code: &str) -> Option<&EligibleItem> {
        self.items.iter().find(|i| i.code == code)
    }
}

/// The facts a first-violation check needs besides the list and settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FirstViolationClaim<'a> {
    pub(crate) subject: Option<&'a SubjectId>,
    pub(crate) item: &'a str,
    pub(crate) harm_minor: bool,
    pub(crate) correction_ordered_at: Timestamp,
    pub(crate) corrected_at: Timestamp,
}

/// Checks first-violation eligibility and returns the start of the look-back window.
pub(crate) fn check_first_violation(
    list: &FirstViolationList,
    settings: &FirstViolationSettings,
    calendar: &WorkCalendar,
    history: &dyn ViolationHistory,
    claim: FirstViolationClaim<'_>,
    now: Timestamp,
) -> Result<Timestamp, TaskError> {
    let reject = |reason: String| TaskError::NotFirstViolation { reason };
    if list.item(claim.item).is_none() {
        let codes: Vec<&str> = list.items.iter().map(|i| i.code.as_str()).collect();
        return Err(reject(format!(
            "item {:?} is not on the list ({}); eligible items: {}",
            claim.item,
            list.source,
            if codes.is_empty() {
                "none".into()
            } else {
                codes.join(", ")
            }
        )));
    }
    let Some(subject) = claim.subject else {
        return Err(reject(
            "the task names no subject whose history could be checked".into(),
        ));
    };
    if !claim.harm_minor {
        return Err(reject("the harm was not judged minor".into()));
    }
    if claim.corrected_at < claim.correction_ordered_at || claim.corrected_at > now {
        return Err(reject(format!(
            "correction time {} must lie between the order ({}) and now ({now})",
            claim.corrected_at, claim.correction_ordered_at
        )));
    }
    let correct_by = calendar.add_working_days(
        claim.correction_ordered_at,
        settings.correction_working_days,
    )?;
    if claim.corrected_at > correct_by {
        return Err(reject(format!(
            "corrected at {}, after the {} working days allowed (by {correct_by})",
            claim.corrected_at, settings.correction_working_days
        )));
    }
    let since = lookback_start(calendar, now, settings.lookback_months)?;
    let prior = history
        .violations_since(subject, claim.item, since)
        .map_err(TaskError::History)?;
    if let Some(first) = prior.iter().min_by_key(|p| p.decided_at) {
        return Err(reject(format!(
            "subject {subject} already violated {:?} on {} (task {}), within the {} months before now",
            claim.item,
            first.decided_at,
            first.task.as_ref().map_or("unknown", TaskId::as_str),
            settings.lookback_months
        )));
    }
    Ok(since)
}

/// Returns the local midnight `months` calendar months before `now`'s date.
fn lookback_start(
    calendar: &WorkCalendar,
    now: Timestamp,
    months: u32,
) -> Result<Timestamp, TaskError> {
    let today: Date = calendar.local_date(now);
    let months = i64::from(months);
    let start = today
        .checked_sub(
            Span::new()
                .try_months(months)
                .map_err(|e| overflow(e.to_string()))?,
        )
        .map_err(|e| overflow(e.to_string()))?;
    calendar.start_of_day(start)
}

fn overflow(detail: String) -> TaskError {
    TaskError::DateOverflow { detail }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    const LIST: &str = r#"
        source = "test list"
        [[items]]
        code = "air-exceedance-minor"
        name = "超标排放大气污染物"
        conditions = "一个因子超标, 小时均值超标倍数小于0.1倍"
    "#;

    fn subject() -> SubjectId {
        SubjectId::parse("91350200MA2XXXXXXX").unwrap()
    }

    fn record(item: &str, kind: OutcomeKind, decided_at: Timestamp) -> OutcomeRecord {
        OutcomeRecord {
            task: TaskId::parse("T-old").unwrap(),
            subject: Some(subject()),
            area: AreaCode::parse("350203").unwrap(),
            item: Some(item.into()),
            kind,
            violation: kind.is_violation(),
            decided_by: PersonId::parse("p1").unwrap(),
            decided_at,
            closed_at: decided_at,
        }
    }

    struct Case {
        history: Vec<OutcomeRecord>,
        item: &'static str,
        harm_minor: bool,
        ordered: Timestamp,
        corrected: Timestamp,
        has_subject: bool,
    }

    fn run(case: &Case, now: Timestamp) -> Result<Timestamp, TaskError> {
        let cal = WorkCalendar::china();
        let list = FirstViolationList::parse(LIST).unwrap();
        let subject = subject();
        check_first_violation(
            &list,
            &FirstViolationSettings::default(),
            &cal,
            &case.history,
            FirstViolationClaim {
                subject: case.has_subject.then_some(&subject),
                item: case.item,
                harm_minor: case.harm_minor,
                correction_ordered_at: case.ordered,
                corrected_at: case.corrected,
            },
            now,
        )
    }

    fn ts(cal: &WorkCalendar, d: Date, hour: i8) -> Timestamp {
        cal.instant(d, jiff::civil::Time::new(hour, 0, 0, 0).unwrap())
            .unwrap()
    }

    fn eligible_case(cal: &WorkCalendar) -> Case {
        Case {
            history: Vec::new(),
            item: "air-exceedance-minor",
            harm_minor: true,
            ordered: ts(cal, date(2025, 6, 9), 10),
            corrected: ts(cal, date(2025, 6, 11), 15),
            has_subject: true,
        }
    }

    #[test]
    fn clean_history_is_eligible() {
        let cal = WorkCalendar::china();
        let now = ts(&cal, date(2025, 6, 12), 9);
        let since = run(&eligible_case(&cal), now).unwrap();
        assert_eq!(since, cal.start_of_day(date(2024, 6, 12)).unwrap());
    }

    #[test]
    fn prior_violation_within_period_is_not_eligible() {
        let cal = WorkCalendar::china();
        let now = ts(&cal, date(2025, 6, 12), 9);
        let mut case = eligible_case(&cal);
        let prior = ts(&cal, date(2024, 12, 3), 10);
        case.history = vec![record(
            "air-exceedance-minor",
            OutcomeKind::FirstViolationNoPenalty,
            prior,
        )];
        let err = run(&case, now).unwrap_err();
        assert!(matches!(err, TaskError::NotFirstViolation { .. }), "{err}");
        assert!(err.to_string().contains("already violated"), "{err}");
        assert!(err.to_string().contains("T-old"), "{err}");
    }

    #[test]
    fn prior_violation_before_period_is_eligible() {
        let cal = WorkCalendar::china();
        let now = ts(&cal, date(2025, 6, 12), 9);
        let mut case = eligible_case(&cal);
        let old = ts(&cal, date(2024, 6, 11), 23);
        case.history = vec![record("air-exceedance-minor", OutcomeKind::Penalty, old)];
        assert!(run(&case, now).is_ok());
    }

    #[test]
    fn other_items_and_non_violations_do_not_count() {
        let cal = WorkCalendar::china();
        let now = ts(&cal, date(2025, 6, 12), 9);
        let recent = ts(&cal, date(2025, 3, 3), 10);
        let mut case = eligible_case(&cal);
        case.history = vec![
            record("water-exceedance", OutcomeKind::Penalty, recent),
            record("air-exceedance-minor", OutcomeKind::NoViolation, recent),
        ];
        assert!(run(&case, now).is_ok());
    }

    #[test]
    fn item_not_on_list_is_not_eligible() {
        let cal = WorkCalendar::china();
        let now = ts(&cal, date(2025, 6, 12), 9);
        let mut case = eligible_case(&cal);
        case.item = "illegal-dumping";
        let err = run(&case, now).unwrap_err().to_string();
        assert!(err.contains("not on the list (test list)"), "{err}");
        assert!(err.contains("air-exceedance-minor"), "{err}");
    }

    #[test]
    fn harm_and_subject_are_required() {
        let cal = WorkCalendar::china();
        let now = ts(&cal, date(2025, 6, 12), 9);
        let mut case = eligible_case(&cal);
        case.harm_minor = false;
        assert!(
            run(&case, now)
                .unwrap_err()
                .to_string()
                .contains("not judged minor")
        );
        let mut case = eligible_case(&cal);
        case.has_subject = false;
        assert!(
            run(&case, now)
                .unwrap_err()
                .to_string()
                .contains("names no subject")
        );
    }

    #[test]
    fn late_correction_is_not_eligible() {
        let cal = WorkCalendar::china();
        // Ordered Monday 9 June 2025; 5 working days end on Monday 16 June.
        let mut case = eligible_case(&cal);
        case.corrected = ts(&cal, date(2025, 6, 16), 17);
        let now = ts(&cal, date(2025, 6, 20), 9);
        assert!(run(&case, now).is_ok());
        case.corrected = ts(&cal, date(2025, 6, 17), 9);
        let err = run(&case, now).unwrap_err().to_string();
        assert!(err.contains("after the 5 working days"), "{err}");
    }

    #[test]
    fn correction_before_order_is_rejected() {
        let cal = WorkCalendar::china();
        let now = ts(&cal, date(2025, 6, 20), 9);
        let mut case = eligible_case(&cal);
        case.corrected = ts(&cal, date(2025, 6, 8), 9);
        let err = run(&case, now).unwrap_err().to_string();
        assert!(err.contains("must lie between the order"), "{err}");
    }

    #[test]
    fn example_list_cites_each_item() {
        let list = FirstViolationList::example();
        assert_eq!(list.items.len(), 2);
        for item in &list.items {
            let source = item.source.as_deref().unwrap_or_default();
            assert!(
                source.contains("生态环境局") || source.contains("生态环境厅"),
                "{}",
                item.code
            );
        }
        assert!(list.item("air-exceedance-minor").is_some());
    }

    #[test]
    fn list_rejects_duplicate_codes() {
        let doubled = format!(
            "{LIST}\n[[items]]\ncode = \"air-exceedance-minor\"\nname = \"x\"\nconditions = \"y\"\n"
        );
        let err = FirstViolationList::parse(&doubled).unwrap_err();
        assert!(err.to_string().contains("code of its own"), "{err}");
    }

    #[test]
    fn outcome_input_validation_names_field() {
        let input = OutcomeInput::Rectification {
            item: "air".into(),
            findings: "超标".into(),
            working_days: 0,
        };
        let err = input.validate().unwrap_err().to_string();
        assert!(err.contains("rectification working days"), "{err}");
        let input = OutcomeInput::Transferred {
            authority: " ".into(),
            findings: "x".into(),
        };
        assert!(
            input
                .validate()
                .unwrap_err()
                .to_string()
                .contains("authority")
        );
    }
}
