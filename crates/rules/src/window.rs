//! Window aggregates over event time, per rule, point and factor.
//!
//! A sliding window holds the readings of the last `size` before the newest
//! data time and is evaluated at every new reading. A tumbling window holds
//! one period `[k·size, (k+1)·size)` and is evaluated once, when the first
//! reading of a later period arrives. Readings that arrive late go into the
//! window they belong to if it is still held; older ones are dropped.

use std::collections::VecDeque;

use jiff::{SignedDuration, Timestamp};

use crate::rule::{Aggregate, Window, WindowMode};

/// The aggregate of a window, with the span it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Aggregated {
    pub(crate) value: f64,
    pub(crate) count: u64,
    pub(crate) from: Timestamp,
    pub(crate) to: Timestamp,
}

/// The readings a window holds, oldest first.
#[derive(Debug, Default, Clone)]
pub(crate) struct WindowState {
    samples: VecDeque<(Timestamp, f64)>,
    /// Start of the tumbling period being filled.
    period_start: Option<Timestamp>,
    /// Tumbling: how many samples at the front belong to the period closed
    /// last, kept so that [`WindowState::aggregate_from`] can evaluate it again.
    closed: usize,
}

impl WindowState {
    /// Adds a reading and returns the aggregate to evaluate now, if any.
    /// `late` is true when the reading is not newer than the newest one
    /// evaluated; it is kept but not evaluated.
    pub(crate) fn push(
        &mut self,
        window: &Window,
        at: Timestamp,
        value: f64,
        late: bool,
    ) -> Option<Aggregated> {
        match window.mode {
            WindowMode::Sliding => self.push_sliding(window, at, value, late),
            WindowMode::Tumbling => self.push_tumbling(window, at, value),
        }
    }

    fn push_sliding(
        &mut self,
        window: &Window,
        at: Timestamp,
        value: f64,
        late: bool,
    ) -> Option<Aggregated> {
        let newest = self.samples.back().map_or(at, |(time, _)| (*time).max(at));
        let start = newest.saturating_sub(window.size).unwrap_or(newest);
        if at <= start {
            return None;
        }
        let newer = self.samples.back().is_none_or(|(time, _)| *time < at);
        let position = if newer {
            // The common case: data time only moves forward.
            self.samples.len()
        } else {
            self.samples.partition_point(|(time, _)| *time <= at)
        };
        if position > 0 && self.samples[position - 1].0 == at {
            // A retransmission replaces the value it repeats.
            self.samples[position - 1].1 = value;
        } else {
            self.samples.insert(position, (at, value));
        }
        while self.samples.front().is_some_and(|(time, _)| *time <= start) {
            self.samples.pop_front();
        }
        if late {
            return None;
        }
        aggregate(window, self.samples.iter().copied())
    }

    fn push_tumbling(&mut self, window: &Window, at: Timestamp, value: f64) -> Option<Aggregated> {
        let period = period_start(at, window.size);
        let current = *self.period_start.get_or_insert(period);
        if period < current {
            return None;
        }
        if period == current {
            self.samples.push_back((at, value));
            return None;
        }
        let closed = aggregate(window, self.samples.range(self.closed..).copied());
        self.samples.drain(..self.closed);
        self.closed = self.samples.len();
        self.samples.push_back((at, value));
        self.period_start = Some(period);
        closed
    }

    /// Returns the aggregate that the latest [`WindowState::push`] returned,
    /// computed again over only the samples with data time at or after `from`.
    pub(crate) fn aggregate_from(&self, window: &Window, from: Timestamp) -> Option<Aggregated> {
        let samples = match window.mode {
            WindowMode::Sliding => self.samples.range(..),
            WindowMode::Tumbling => self.samples.range(..self.closed),
        };
        aggregate(
            window,
            samples.copied().filter(move |&(time, _)| time >= from),
        )
    }
}

/// Returns the start of the tumbling period of `size` that contains `at`,
/// counted from the Unix epoch.
fn period_start(at: Timestamp, size: SignedDuration) -> Timestamp {
    let size = size.as_millis().max(1);
    let millis = i128::from(at.as_millisecond());
    let start = millis.div_euclid(size) * size;
    i64::try_from(start)
        .ok()
        .and_then(|start| Timestamp::from_millisecond(start).ok())
        .unwrap_or(at)
}

fn aggregate(
    window: &Window,
    samples: impl Iterator<Item = (Timestamp, f64)> + Clone,
) -> Option<Aggregated> {
    if window.aggregate == Aggregate::Avg {
        return average(window, samples);
    }
    let mut count = 0u64;
    let mut sum = 0.0;
    let mut min = f64::INFINITY;
    let mut max = f64::NEG_INFINITY;
    let mut first: Option<(Timestamp, f64)> = None;
    let mut last: Option<(Timestamp, f64)> = None;
    for (time, value) in samples {
        count += 1;
        sum += value;
        min = min.min(value);
        max = max.max(value);
        first.get_or_insert((time, value));
        last = Some((time, value));
    }
    let ((from, first_value), (to, last_value)) = (first?, last?);
    if count < u64::from(window.min_count) {
        return None;
    }
    let value = match window.aggregate {
        Aggregate::Avg => sum / count as f64,
        Aggregate::Min => min,
        Aggregate::Max => max,
        Aggregate::Sum => sum,
        Aggregate::Count => count as f64,
        Aggregate::Rate => {
            let hours = to.duration_since(from).as_secs_f64() / 3600.0;
            if hours <= 0.0 {
                return None;
            }
            (last_value - first_value) / hours
        }
    };
    Some(Aggregated {
        value,
        count,
        from,
        to,
    })
}

/// Computes the `avg` aggregate alone, the most common one, without the minimum and
/// maximum that [`aggregate`] tracks for the others. It adds the values in
/// the same order, so the result is the same to the bit.
fn average(
    window: &Window,
    mut samples: impl Iterator<Item = (Timestamp, f64)>,
) -> Option<Aggregated> {
    let (from, first) = samples.next()?;
    let mut to = from;
    // Starting from 0.0 as the general loop does turns a lone -0.0 into 0.0.
    let mut sum = 0.0 + first;
    let mut count = 1u64;
    for (time, value) in samples {
        count += 1;
        sum += value;
        to = time;
    }
    if count < u64::from(window.min_count) {
        return None;
    }
    Some(Aggregated {
        value: sum / count as f64,
        count,
        from,
        to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(mode: WindowMode, aggregate: Aggregate, minutes: i64) -> Window {
        Window {
            size: SignedDuration::from_mins(minutes),
            mode,
            aggregate,
            filter: None,
            min_count: 1,
        }
    }

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_second(1_772_323_200 + minutes * 60).unwrap()
    }

    #[test]
    fn sliding_average_drops_old_readings() {
        let window = window(WindowMode::Sliding, Aggregate::Avg, 10);
        let mut state = WindowState::default();
        assert_eq!(state.push(&window, at(0), 10.0, false).unwrap().value, 10.0);
        assert_eq!(state.push(&window, at(5), 20.0, false).unwrap().value, 15.0);
        let aggregated = state.push(&window, at(12), 30.0, false).unwrap();
        assert_eq!(aggregated.value, 25.0);
        assert_eq!(aggregated.count, 2);
        assert_eq!(aggregated.from, at(5));
    }

    #[test]
    fn sliding_late_reading_enters_window() {
        let window = window(WindowMode::Sliding, Aggregate::Max, 10);
        let mut state = WindowState::default();
        state.push(&window, at(5), 1.0, false);
        assert_eq!(state.push(&window, at(3), 9.0, true), None);
        assert_eq!(state.push(&window, at(6), 2.0, false).unwrap().value, 9.0);
        assert_eq!(state.push(&window, at(-20), 50.0, true), None);
        assert_eq!(state.push(&window, at(7), 2.0, false).unwrap().count, 4);
    }

    #[test]
    fn tumbling_evaluates_closed_period() {
        let window = window(WindowMode::Tumbling, Aggregate::Sum, 60);
        let mut state = WindowState::default();
        assert_eq!(state.push(&window, at(0), 1.0, false), None);
        assert_eq!(state.push(&window, at(30), 2.0, false), None);
        let closed = state.push(&window, at(61), 5.0, false).unwrap();
        assert_eq!(closed.value, 3.0);
        assert_eq!(closed.to, at(30));
        assert_eq!(state.push(&window, at(10), 100.0, true), None);
    }

    #[test]
    fn sliding_aggregate_from_skips_earlier_samples() {
        let window = window(WindowMode::Sliding, Aggregate::Avg, 10);
        let mut state = WindowState::default();
        state.push(&window, at(0), 10.0, false);
        state.push(&window, at(5), 20.0, false);
        assert_eq!(state.push(&window, at(8), 30.0, false).unwrap().count, 3);
        let later = state.aggregate_from(&window, at(5)).unwrap();
        assert_eq!(later.value, 25.0);
        assert_eq!(later.count, 2);
        assert_eq!(later.from, at(5));
        assert_eq!(state.aggregate_from(&window, at(9)), None);
    }

    #[test]
    fn tumbling_aggregate_from_uses_closed_period() {
        let window = window(WindowMode::Tumbling, Aggregate::Sum, 60);
        let mut state = WindowState::default();
        state.push(&window, at(0), 1.0, false);
        state.push(&window, at(30), 2.0, false);
        assert_eq!(state.push(&window, at(61), 5.0, false).unwrap().value, 3.0);
        let later = state.aggregate_from(&window, at(30)).unwrap();
        assert_eq!(later.value, 2.0);
        assert_eq!(later.count, 1);
        // The next period, minutes 60 to 119, contains 5.0 and 4.0.
        state.push(&window, at(90), 4.0, false);
        assert_eq!(state.push(&window, at(125), 1.0, false).unwrap().value, 9.0);
        assert_eq!(state.aggregate_from(&window, at(70)).unwrap().value, 4.0);
    }

    #[test]
    fn rate_is_per_hour() {
        let window = window(WindowMode::Sliding, Aggregate::Rate, 120);
        let mut state = WindowState::default();
        state.push(&window, at(0), 10.0, false);
        assert_eq!(
            state.push(&window, at(30), 15.0, false).unwrap().value,
            10.0
        );
    }
}
