//! Working days and working hours, with a holiday calendar.
//!
//! A [`WorkCalendar`] combines a weekly rest pattern (Saturday and Sunday by
//! default), the official public holidays (法定节假日) and the make-up working
//! days (调休上班日) loaded from a [`Holidays`] file, the local UTC offset and
//! the office hours. Every function is pure.
//!
//! Days are counted in local dates at a fixed UTC offset; China has had no
//! daylight-saving time since 1991, so a fixed `+08:00` is exact there.
//!
//! The counting rules, which the tests pin:
//! - [`WorkCalendar::add_working_days`]`(t, n)` is the end (the following local
//!   midnight) of the n-th working day that starts at or after `t`. A task signed
//!   for on a Monday morning with 5 working days is due at the end of the next
//!   Monday, because the count starts the day after receipt.
//! - [`WorkCalendar::sub_working_days`]`(deadline, n)` is the start of the n-th
//!   working day that ends at or before `deadline`, counting back: the moment
//!   when n working days are left.
//! - Working hours run only inside the configured office hours of working days.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{ConfigError, TaskError};

/// The official holiday calendar of mainland China for the years the file covers.
const CHINA_HOLIDAYS: &str = include_str!("../data/holidays-cn.toml");

/// Largest day count the arithmetic accepts, about ten years of working days.
pub const MAX_WORKING_DAYS: u32 = 2500;
/// Largest hour count the arithmetic accepts, about a year of office hours.
pub const MAX_WORKING_HOURS: u32 = 2000;
/// How many calendar days a search may scan before it gives up.
const MAX_SCAN_DAYS: u32 = 20_000;

/// The behaviour of deadline arithmetic for a year that the holiday file does not cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutsideKnownYears {
    /// Reject the operation with [`TaskError::YearNotCovered`].
    #[default]
    Error,
    /// Treat every weekday as a working day, knowing that holidays will be missed.
    WeekendsOnly,
}

/// The calendar settings of the task configuration, `[calendar]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarSettings {
    /// Local offset from UTC, in hours. Default 8 (China Standard Time).
    pub utc_offset_hours: i8,
    /// Weekly rest days, such as `["saturday", "sunday"]` (the default).
    pub weekend: Vec<String>,
    /// Office hours of a working day as `["HH:MM", "HH:MM"]` spans, in order and
    /// without overlap. Default `[["08:30", "12:00"], ["14:00", "17:30"]]`.
    pub working_hours: Vec<[String; 2]>,
    /// The behaviour for a year that the holiday file does not cover. Default `error`.
    pub outside_known_years: OutsideKnownYears,
}

impl Default for CalendarSettings {
    fn default() -> Self {
        Self {
            utc_offset_hours: 8,
            weekend: vec!["saturday".into(), "sunday".into()],
            working_hours: vec![
                ["08:30".into(), "12:00".into()],
                ["14:00".into(), "17:30".into()],
            ],
            outside_known_years: OutsideKnownYears::Error,
        }
    }
}

/// One holiday period of a year in the holiday file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidayEntry {
    /// The holiday's name, such as 春节.
    pub name: String,
    /// First day off, `YYYY-MM-DD`.
    pub first: Date,
    /// Last day off, `YYYY-MM-DD`; equal to `first` for a one-day holiday.
    pub last: Date,
    /// Weekend days that are working days to make up for this holiday (调休上班).
    #[serde(default)]
    pub make_up_workdays: Vec<Date>,
}

/// One year of the holiday file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearEntry {
    /// The calendar year.
    pub year: i16,
    /// The announcement the dates come from, with its document number and date.
    pub announcement: String,
    /// Anything that could not be confirmed against the announcement.
    #[serde(default)]
    pub unconfirmed: Option<String>,
    /// The holiday periods.
    pub holidays: Vec<HolidayEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    years: Vec<YearEntry>,
}

/// Public holidays and make-up working days for a set of years.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holidays {
    years: BTreeMap<i16, YearEntry>,
    days_off: BTreeSet<Date>,
    make_up_workdays: BTreeSet<Date>,
}

impl Holidays {
    /// Parses a holiday file (TOML with `[[years]]` and `[[years.holidays]]`) and
    /// checks it: dates inside their year, `first <= last`, make-up days on a
    /// Saturday or Sunday, no date both off and a make-up day, no year twice.
    pub fn parse(toml_text: &str) -> Result<Self, ConfigError> {
        let file: HolidayFile = toml::from_str(toml_text).map_err(|e| ConfigError::Parse {
            file: "holiday calendar",
            message: e.to_string(),
        })?;
        let mut holidays = Self {
            years: BTreeMap::new(),
            days_off: BTreeSet::new(),
            make_up_workdays: BTreeSet::new(),
        };
        for (index, year) in file.years.into_iter().enumerate() {
            holidays.add_year(index, year)?;
        }
        Ok(holidays)
    }

    /// Returns the built-in calendar of mainland China, from the State Council's
    /// announcements for each year it covers (see the file for the citations).
    pub fn china() -> Self {
        Self::parse(CHINA_HOLIDAYS).expect("the built-in holiday file is checked by a unit test")
    }

    /// Returns an empty calendar: no year is covered.
    pub fn none() -> Self {
        Self {
            years: BTreeMap::new(),
            days_off: BTreeSet::new(),
            make_up_workdays: BTreeSet::new(),
        }
    }

    fn add_year(&mut self, index: usize, year: YearEntry) -> Result<(), ConfigError> {
        let field = format!("years[{index}]");
        if self.years.contains_key(&year.year) {
            return Err(ConfigError::invalid(
                format!("{field}.year"),
                year.year.to_string(),
                "each year may appear only once",
            ));
        }
        if year.announcement.trim().is_empty() {
            return Err(ConfigError::invalid(
                format!("{field}.announcement"),
                "",
                "name the announcement the dates come from",
            ));
        }
        for (h, holiday) in year.holidays.iter().enumerate() {
            let field = format!("{field}.holidays[{h}]");
            self.add_holiday(&field, year.year, holiday)?;
        }
        self.years.insert(year.year, year);
        Ok(())
    }

    fn add_holiday(&mut self, field: &str, year: i16, h: &HolidayEntry) -> Result<(), ConfigError> {
        if h.first > h.last {
            return Err(ConfigError::invalid(
                format!("{field}.last"),
                h.last.to_string(),
                format!("must not be before first ({})", h.first),
            ));
        }
        for date in [h.first, h.last] {
            if date.year() != year {
                return Err(ConfigError::invalid(
                    field,
                    date.to_string(),
                    format!("must lie in {year}"),
                ));
            }
        }
        let mut day = h.first;
        while day <= h.last {
            if self.make_up_workdays.contains(&day) || !self.days_off.insert(day) {
                return Err(ConfigError::invalid(
                    field,
                    day.to_string(),
                    "each date may be listed once, as a day off or as a make-up working day",
                ));
            }
            day = next_day(day).map_err(|e| ConfigError::invalid(field, day.to_string(), e))?;
        }
        for &day in &h.make_up_workdays {
            let field = format!("{field}.make_up_workdays");
            if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
                return Err(ConfigError::invalid(
                    field,
                    day.to_string(),
                    "a make-up working day must be a Saturday or Sunday",
                ));
            }
            if self.days_off.contains(&day) || !self.make_up_workdays.insert(day) {
                return Err(ConfigError::invalid(
                    field,
                    day.to_string(),
                    "each date may be listed once, as a day off or as a make-up working day",
                ));
            }
        }
        Ok(())
    }

    /// Returns true if the file covers `year`.
    pub fn covers(&self, year: i16) -> bool {
        self.years.contains_key(&year)
    }

    /// Returns the covered years with their announcements.
    pub fn years(&self) -> impl Iterator<Item = &YearEntry> {
        self.years.values()
    }
}

/// A validated calendar: rest days, holidays, offset and office hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    offset: Offset,
    weekend: [bool; 7],
    spans: Vec<(Time, Time)>,
    holidays: Holidays,
    outside_known_years: OutsideKnownYears,
}

impl WorkCalendar {
    /// Builds a calendar from its settings and a holiday file, naming the first invalid setting.
    pub fn new(settings: &CalendarSettings, holidays: Holidays) -> Result<Self, ConfigError> {
        let offset = Offset::from_hours(settings.utc_offset_hours).map_err(|_| {
            ConfigError::invalid(
                "calendar.utc_offset_hours",
                settings.utc_offset_hours.to_string(),
                "must be between -25 and 25",
            )
        })?;
        let weekend = parse_weekend(&settings.weekend)?;
        let spans = parse_spans(&settings.working_hours)?;
        Ok(Self {
            offset,
            weekend,
            spans,
            holidays,
            outside_known_years: settings.outside_known_years,
        })
    }

    /// Returns the calendar of mainland China with the default settings.
    pub fn china() -> Self {
        Self::new(&CalendarSettings::default(), Holidays::china())
            .expect("the default calendar settings are valid")
    }

    /// Returns the holiday file behind this calendar.
    pub fn holidays(&self) -> &Holidays {
        &self.holidays
    }

    /// Returns the local date of an instant.
    pub fn local_date(&self, t: Timestamp) -> Date {
        self.offset.to_datetime(t).date()
    }

    /// Returns the instant a local date and time stand for.
    pub fn instant(&self, date: Date, time: Time) -> Result<Timestamp, TaskError> {
        self.offset
            .to_timestamp(DateTime::from_parts(date, time))
            .map_err(|e| overflow(e.to_string()))
    }

    /// Returns the local midnight that starts `date`.
    pub fn start_of_day(&self, date: Date) -> Result<Timestamp, TaskError> {
        self.instant(date, Time::midnight())
    }

    /// Returns the local midnight that ends `date`.
    pub fn end_of_day(&self, date: Date) -> Result<Timestamp, TaskError> {
        self.start_of_day(next_day(date).map_err(overflow)?)
    }

    /// Returns true if `date` is a working day: not a rest day or holiday, or a make-up day.
    pub fn is_working_day(&self, date: Date) -> Result<bool, TaskError> {
        if !self.holidays.covers(date.year())
            && self.outside_known_years == OutsideKnownYears::Error
        {
            return Err(TaskError::YearNotCovered { year: date.year() });
        }
        if self.holidays.make_up_workdays.contains(&date) {
            return Ok(true);
        }
        if self.holidays.days_off.contains(&date) {
            return Ok(false);
        }
        let index = usize::from(date.weekday().to_monday_zero_offset().unsigned_abs());
        Ok(!self.weekend[index])
    }

    /// Returns the end of the n-th working day that starts at or after `t`; for
    /// `n == 0`, the end of `t`'s local date.
    pub fn add_working_days(&self, t: Timestamp, n: u32) -> Result<Timestamp, TaskError> {
        check_count("working days", n, MAX_WORKING_DAYS)?;
        let today = self.local_date(t);
        if n == 0 {
            return self.end_of_day(today);
        }
        let mut day = if self.start_of_day(today)? >= t {
            today
        } else {
            next_day(today).map_err(overflow)?
        };
        let mut left = n;
        for _ in 0..MAX_SCAN_DAYS {
            if self.is_working_day(day)? {
                left -= 1;
                if left == 0 {
                    return self.end_of_day(day);
                }
            }
            day = next_day(day).map_err(overflow)?;
        }
        Err(overflow(format!(
            "no {n} working days within {MAX_SCAN_DAYS} days"
        )))
    }

    /// Returns the start of the n-th working day that ends at or before
    /// `deadline`, counting back; for `n == 0`, `deadline` itself.
    pub fn sub_working_days(&self, deadline: Timestamp, n: u32) -> Result<Timestamp, TaskError> {
        check_count("working days", n, MAX_WORKING_DAYS)?;
        if n == 0 {
            return Ok(deadline);
        }
        let mut day = self.local_date(deadline);
        if self.end_of_day(day)? > deadline {
            day = day.yesterday().map_err(|e| overflow(e.to_string()))?;
        }
        let mut left = n;
        for _ in 0..MAX_SCAN_DAYS {
            if self.is_working_day(day)? {
                left -= 1;
                if left == 0 {
                    return self.start_of_day(day);
                }
            }
            day = day.yesterday().map_err(|e| overflow(e.to_string()))?;
        }
        Err(overflow(format!(
            "no {n} working days within {MAX_SCAN_DAYS} days"
        )))
    }

    /// Returns the instant after `hours` office hours of working days have passed since `t`.
    pub fn add_working_hours(&self, t: Timestamp, hours: u32) -> Result<Timestamp, TaskError> {
        check_count("working hours", hours, MAX_WORKING_HOURS)?;
        let mut left = SignedDuration::from_hours(i64::from(hours));
        let mut day = self.local_date(t);
        for _ in 0..MAX_SCAN_DAYS {
            if self.is_working_day(day)? {
                for &(open, close) in &self.spans {
                    let start = self.instant(day, open)?.max(t);
                    let end = self.instant(day, close)?;
                    if start >= end {
                        continue;
                    }
                    let available = end.duration_since(start);
                    if available >= left {
                        return add(start, left);
                    }
                    left -= available;
                }
            }
            day = next_day(day).map_err(overflow)?;
        }
        Err(overflow(format!(
            "no {hours} working hours within {MAX_SCAN_DAYS} days"
        )))
    }

    /// Returns the instant before `deadline` at which `hours` office hours are left.
    pub fn sub_working_hours(
        &self,
        deadline: Timestamp,
        hours: u32,
    ) -> Result<Timestamp, TaskError> {
        check_count("working hours", hours, MAX_WORKING_HOURS)?;
        let mut left = SignedDuration::from_hours(i64::from(hours));
        if left.is_zero() {
            return Ok(deadline);
        }
        let mut day = self.local_date(deadline);
        for _ in 0..MAX_SCAN_DAYS {
            if self.is_working_day(day)? {
                for &(open, close) in self.spans.iter().rev() {
                    let start = self.instant(day, open)?;
                    let end = self.instant(day, close)?.min(deadline);
                    if start >= end {
                        continue;
                    }
                    let available = end.duration_since(start);
                    if available >= left {
                        return add(end, -left);
                    }
                    left -= available;
                }
            }
            day = day.yesterday().map_err(|e| overflow(e.to_string()))?;
        }
        Err(overflow(format!(
            "no {hours} working hours within {MAX_SCAN_DAYS} days"
        )))
    }

    /// Returns how many working days lie wholly between `from` and `to`: days
    /// that start at or after `from` and end at or before `to`. Zero if `to <= from`.
    pub fn working_days_between(&self, from: Timestamp, to: Timestamp) -> Result<u32, TaskError> {
        let mut count = 0;
        let mut day = self.local_date(from);
        if self.start_of_day(day)? < from {
            day = next_day(day).map_err(overflow)?;
        }
        for _ in 0..MAX_SCAN_DAYS {
            if self.end_of_day(day)? > to {
                return Ok(count);
            }
            if self.is_working_day(day)? {
                count += 1;
            }
            day = next_day(day).map_err(overflow)?;
        }
        Err(overflow(format!(
            "more than {MAX_SCAN_DAYS} days between the instants"
        )))
    }
}

fn parse_weekend(names: &[String]) -> Result<[bool; 7], ConfigError> {
    let mut weekend = [false; 7];
    for name in names {
        let index = match name.as_str() {
            "monday" => 0,
            "tuesday" => 1,
            "wednesday" => 2,
            "thursday" => 3,
            "friday" => 4,
            "saturday" => 5,
            "sunday" => 6,
            _ => {
                return Err(ConfigError::invalid(
                    "calendar.weekend",
                    name,
                    "expected a lowercase English weekday name, such as \"saturday\"",
                ));
            }
        };
        weekend[index] = true;
    }
    if weekend.iter().all(|&rest| rest) {
        return Err(ConfigError::invalid(
            "calendar.weekend",
            names.join(","),
            "at least one weekday must be a working day",
        ));
    }
    Ok(weekend)
}

fn parse_spans(spans: &[[String; 2]]) -> Result<Vec<(Time, Time)>, ConfigError> {
    let field = "calendar.working_hours";
    if spans.is_empty() {
        return Err(ConfigError::invalid(field, "[]", "list at least one span"));
    }
    let mut parsed: Vec<(Time, Time)> = Vec::with_capacity(spans.len());
    for [open, close] in spans {
        let parse = |text: &str| -> Result<Time, ConfigError> {
            Time::strptime("%H:%M", text)
                .map_err(|_| ConfigError::invalid(field, text, "expected a time as HH:MM"))
        };
        let (open, close) = (parse(open)?, parse(close)?);
        if open >= close {
            return Err(ConfigError::invalid(
                field,
                format!("{open}-{close}"),
                "a span must end after it starts",
            ));
        }
        if parsed
            .last()
            .is_some_and(|&(_, previous_close)| open < previous_close)
        {
            return Err(ConfigError::invalid(
                field,
                format!("{open}-{close}"),
                "spans must be in order and must not overlap",
            ));
        }
        parsed.push((open, close));
    }
    Ok(parsed)
}

fn next_day(date: Date) -> Result<Date, String> {
    date.tomorrow().map_err(|e| e.to_string())
}

fn add(t: Timestamp, d: SignedDuration) -> Result<Timestamp, TaskError> {
    t.checked_add(d).map_err(|e| overflow(e.to_string()))
}

fn overflow(detail: String) -> TaskError {
    TaskError::DateOverflow { detail }
}

fn check_count(what: &'static str, n: u32, max: u32) -> Result<(), TaskError> {
    if n > max {
        return Err(TaskError::invalid(
            what,
            &n.to_string(),
            "is larger than the calendar arithmetic accepts (2500 days or 2000 hours)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn china() -> WorkCalendar {
        WorkCalendar::china()
    }

    fn at(cal: &WorkCalendar, d: Date, h: i8, m: i8) -> Timestamp {
        cal.instant(d, Time::new(h, m, 0, 0).unwrap()).unwrap()
    }

    #[test]
    fn builtin_file_parses_and_covers_2025_2026() {
        let holidays = Holidays::china();
        assert!(holidays.covers(2025));
        assert!(holidays.covers(2026));
        assert!(!holidays.covers(2024));
        for year in holidays.years() {
            assert!(year.announcement.contains("国务院办公厅"), "{}", year.year);
        }
    }

    #[test]
    fn builtin_2025_days_match_announcement() {
        let cal = china();
        let off = [
            date(2025, 1, 1),
            date(2025, 1, 28),
            date(2025, 2, 4),
            date(2025, 4, 4),
            date(2025, 5, 5),
            date(2025, 6, 2),
            date(2025, 10, 8),
        ];
        for d in off {
            assert!(!cal.is_working_day(d).unwrap(), "{d} is a day off");
        }
        let make_up = [
            date(2025, 1, 26),
            date(2025, 2, 8),
            date(2025, 4, 27),
            date(2025, 9, 28),
            date(2025, 10, 11),
        ];
        for d in make_up {
            assert!(
                cal.is_working_day(d).unwrap(),
                "{d} is a make-up working day"
            );
        }
    }

    #[test]
    fn builtin_2026_days_match_announcement() {
        let cal = china();
        let off = [
            date(2026, 1, 2),
            date(2026, 2, 16),
            date(2026, 2, 23),
            date(2026, 4, 6),
            date(2026, 5, 5),
            date(2026, 6, 19),
            date(2026, 9, 25),
            date(2026, 10, 7),
        ];
        for d in off {
            assert!(!cal.is_working_day(d).unwrap(), "{d} is a day off");
        }
        let make_up = [
            date(2026, 1, 4),
            date(2026, 2, 14),
            date(2026, 2, 28),
            date(2026, 5, 9),
            date(2026, 9, 20),
            date(2026, 10, 10),
        ];
        for d in make_up {
            assert!(
                cal.is_working_day(d).unwrap(),
                "{d} is a make-up working day"
            );
        }
    }

    #[test]
    fn working_days_skip_national_day_2025() {
        let cal = china();
        // Signed for on Friday 26 September 2025. The next working days are
        // Sunday 28 September (make-up), Monday 29, Tuesday 30, then the holiday
        // from 1 to 8 October, then Thursday 9, Friday 10, Saturday 11 (make-up).
        let signed = at(&cal, date(2025, 9, 26), 10, 0);
        let cases = [
            (1, date(2025, 9, 28)),
            (2, date(2025, 9, 29)),
            (3, date(2025, 9, 30)),
            (4, date(2025, 10, 9)),
            (5, date(2025, 10, 10)),
            (6, date(2025, 10, 11)),
            (7, date(2025, 10, 13)),
        ];
        for (n, day) in cases {
            let due = cal.add_working_days(signed, n).unwrap();
            assert_eq!(due, cal.end_of_day(day).unwrap(), "{n} working days");
        }
    }

    #[test]
    fn working_days_skip_spring_festival_2026() {
        let cal = china();
        // Signed for on Thursday 12 February 2026: Friday 13, Saturday 14
        // (make-up), holiday 15 to 23, Tuesday 24 ... Saturday 28 (make-up).
        let signed = at(&cal, date(2026, 2, 12), 16, 0);
        let cases = [
            (1, date(2026, 2, 13)),
            (2, date(2026, 2, 14)),
            (3, date(2026, 2, 24)),
            (5, date(2026, 2, 26)),
            (7, date(2026, 2, 28)),
            (8, date(2026, 3, 2)),
        ];
        for (n, day) in cases {
            let due = cal.add_working_days(signed, n).unwrap();
            assert_eq!(due, cal.end_of_day(day).unwrap(), "{n} working days");
        }
    }

    #[test]
    fn add_from_midnight_counts_that_day() {
        let cal = china();
        let monday = cal.start_of_day(date(2025, 3, 3)).unwrap();
        let due = cal.add_working_days(monday, 1).unwrap();
        assert_eq!(due, cal.end_of_day(date(2025, 3, 3)).unwrap());
    }

    #[test]
    fn add_zero_days_ends_today() {
        let cal = china();
        let t = at(&cal, date(2025, 3, 1), 9, 0);
        assert_eq!(
            cal.add_working_days(t, 0).unwrap(),
            cal.end_of_day(date(2025, 3, 1)).unwrap()
        );
    }

    #[test]
    fn sub_days_finds_last_working_day() {
        let cal = china();
        // Due at the end of Thursday 9 October 2025: one working day left from the
        // start of 9 October, two from the start of 30 September.
        let due = cal.end_of_day(date(2025, 10, 9)).unwrap();
        assert_eq!(
            cal.sub_working_days(due, 1).unwrap(),
            cal.start_of_day(date(2025, 10, 9)).unwrap()
        );
        assert_eq!(
            cal.sub_working_days(due, 2).unwrap(),
            cal.start_of_day(date(2025, 9, 30)).unwrap()
        );
        assert_eq!(cal.sub_working_days(due, 0).unwrap(), due);
    }

    #[test]
    fn days_between_counts_whole_working_days() {
        let cal = china();
        let from = at(&cal, date(2025, 9, 26), 10, 0);
        let to = cal.end_of_day(date(2025, 10, 10)).unwrap();
        assert_eq!(cal.working_days_between(from, to).unwrap(), 5);
        assert_eq!(cal.working_days_between(to, from).unwrap(), 0);
    }

    #[test]
    fn working_hours_skip_lunch_and_night() {
        let cal = china();
        // Thursday 6 March 2025, 11:00: one hour until lunch, then 14:00 onwards.
        let t = at(&cal, date(2025, 3, 6), 11, 0);
        assert_eq!(
            cal.add_working_hours(t, 1).unwrap(),
            at(&cal, date(2025, 3, 6), 12, 0)
        );
        assert_eq!(
            cal.add_working_hours(t, 2).unwrap(),
            at(&cal, date(2025, 3, 6), 15, 0)
        );
        // 11:00 + 8 h: 1 h to noon, 3.5 h in the afternoon, 3.5 h the next morning.
        assert_eq!(
            cal.add_working_hours(t, 8).unwrap(),
            at(&cal, date(2025, 3, 7), 12, 0)
        );
    }

    #[test]
    fn working_hours_skip_holidays() {
        let cal = china();
        // Tuesday 30 September 2025, 17:00: half an hour left that day, then the
        // holiday; office hours resume on Thursday 9 October.
        let t = at(&cal, date(2025, 9, 30), 17, 0);
        assert_eq!(
            cal.add_working_hours(t, 2).unwrap(),
            at(&cal, date(2025, 10, 9), 10, 0)
        );
    }

    #[test]
    fn working_hours_start_before_office_opens() {
        let cal = china();
        let t = at(&cal, date(2025, 3, 6), 6, 0);
        assert_eq!(
            cal.add_working_hours(t, 2).unwrap(),
            at(&cal, date(2025, 3, 6), 10, 30)
        );
    }

    #[test]
    fn sub_working_hours_inverts_add() {
        let cal = china();
        let t = at(&cal, date(2025, 9, 30), 17, 0);
        let due = cal.add_working_hours(t, 2).unwrap();
        assert_eq!(cal.sub_working_hours(due, 2).unwrap(), t);
        assert_eq!(
            cal.sub_working_hours(due, 1).unwrap(),
            at(&cal, date(2025, 10, 9), 9, 0)
        );
    }

    #[test]
    fn uncovered_year_is_an_error_by_default() {
        let cal = china();
        let err = cal.is_working_day(date(2031, 5, 1)).unwrap_err();
        assert_eq!(err, TaskError::YearNotCovered { year: 2031 });
        assert!(
            err.to_string()
                .contains("add the State Council's announcement")
        );
    }

    #[test]
    fn uncovered_year_can_count_weekdays() {
        let settings = CalendarSettings {
            outside_known_years: OutsideKnownYears::WeekendsOnly,
            ..CalendarSettings::default()
        };
        let cal = WorkCalendar::new(&settings, Holidays::none()).unwrap();
        assert!(cal.is_working_day(date(2031, 5, 1)).unwrap());
        assert!(!cal.is_working_day(date(2031, 5, 3)).unwrap());
    }

    #[test]
    fn holiday_file_rejects_weekday_make_up() {
        let text = r#"
            [[years]]
            year = 2025
            announcement = "test"
            [[years.holidays]]
            name = "x"
            first = "2025-05-01"
            last = "2025-05-02"
            make_up_workdays = ["2025-05-06"]
        "#;
        let err = Holidays::parse(text).unwrap_err();
        assert!(err.to_string().contains("Saturday or Sunday"), "{err}");
        assert!(err.to_string().contains("2025-05-06"), "{err}");
    }

    #[test]
    fn holiday_file_rejects_wrong_year_and_order() {
        let wrong_year = r#"
            [[years]]
            year = 2025
            announcement = "test"
            [[years.holidays]]
            name = "x"
            first = "2026-01-01"
            last = "2026-01-01"
        "#;
        let err = Holidays::parse(wrong_year).unwrap_err();
        assert!(err.to_string().contains("must lie in 2025"), "{err}");
        let reversed = wrong_year
            .replace("first = \"2026-01-01\"", "first = \"2025-01-03\"")
            .replace("last = \"2026-01-01\"", "last = \"2025-01-01\"");
        let err = Holidays::parse(&reversed).unwrap_err();
        assert!(
            err.to_string().contains("must not be before first"),
            "{err}"
        );
    }

    #[test]
    fn holiday_file_rejects_duplicates_and_unknown_fields() {
        let twice = r#"
            [[years]]
            year = 2025
            announcement = "a"
            holidays = []
            [[years]]
            year = 2025
            announcement = "b"
            holidays = []
        "#;
        let err = Holidays::parse(twice).unwrap_err();
        assert!(err.to_string().contains("only once"), "{err}");
        let unknown = "[[years]]\nyear = 2025\nannouncement = \"a\"\nholidays = []\nextra = 1\n";
        let err = Holidays::parse(unknown).unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }

    #[test]
    fn settings_reject_bad_spans_and_weekend() {
        let settings = CalendarSettings {
            working_hours: vec![["14:00".into(), "12:00".into()]],
            ..CalendarSettings::default()
        };
        let err = WorkCalendar::new(&settings, Holidays::none()).unwrap_err();
        assert!(err.to_string().contains("end after it starts"), "{err}");
        let settings = CalendarSettings {
            working_hours: vec![
                ["08:00".into(), "12:00".into()],
                ["11:00".into(), "17:00".into()],
            ],
            ..CalendarSettings::default()
        };
        let err = WorkCalendar::new(&settings, Holidays::none()).unwrap_err();
        assert!(err.to_string().contains("must not overlap"), "{err}");
        let settings = CalendarSettings {
            weekend: vec!["caturday".into()],
            ..CalendarSettings::default()
        };
        let err = WorkCalendar::new(&settings, Holidays::none()).unwrap_err();
        assert!(err.to_string().contains("caturday"), "{err}");
    }

    #[test]
    fn count_limits_are_enforced() {
        let cal = china();
        let t = at(&cal, date(2025, 3, 6), 9, 0);
        assert!(cal.add_working_days(t, MAX_WORKING_DAYS + 1).is_err());
        assert!(cal.add_working_hours(t, MAX_WORKING_HOURS + 1).is_err());
    }
}
