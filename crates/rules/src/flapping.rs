//! Flapping detection by percent state change over the last 21 evaluations,
//! the method Nagios and Naemon use for hosts and services.
//!
//! Of 21 results there are 20 changes between neighbours. Each change
//! weighs from 0.8 (oldest) to 1.2 (newest), so recent changes count more;
//! the percent state change is the weighted sum of changes over 20, × 100.
//! Flapping starts above the high threshold and stops below the low one, so
//! a value between them keeps the current state. Nothing is decided before
//! 21 results exist.

/// The number of results kept.
const HISTORY: u32 = 21;

/// The last 21 condition results of one alert, newest in bit 0.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FlapHistory {
    bits: u32,
    /// The number of results kept, up to [`HISTORY`]. A byte, because every
    /// rule state contains a history and a smaller state fits more in the cache.
    len: u8,
    flapping: bool,
}

impl FlapHistory {
    /// Adds a result and returns whether the alert is flapping now.
    pub(crate) fn record(&mut self, met: bool, high: f64, low: f64) -> bool {
        self.bits = ((self.bits << 1) | u32::from(met)) & ((1 << HISTORY) - 1);
        self.len = (self.len + 1).min(HISTORY as u8);
        if u32::from(self.len) < HISTORY {
            return self.flapping;
        }
        let change = self.percent_state_change();
        if !self.flapping && change > high {
            self.flapping = true;
        } else if self.flapping && change < low {
            self.flapping = false;
        }
        self.flapping
    }

    /// Returns the weighted percent of changes between neighbouring results.
    pub(crate) fn percent_state_change(&self) -> f64 {
        let changes = HISTORY - 1;
        // Bit `age` is set where the result of that age differs from the
        // older one. Visiting only those bits, youngest first, adds the same
        // weights in the same order as a scan of every age, and a steady
        // history costs no loop at all.
        let mut changed = (self.bits ^ (self.bits >> 1)) & ((1 << changes) - 1);
        let mut weighted = 0.0;
        while changed != 0 {
            // age 0 is the newest change.
            let age = changed.trailing_zeros();
            weighted += 1.2 - 0.4 * f64::from(age) / f64::from(changes - 1);
            changed &= changed - 1;
        }
        weighted / f64::from(changes) * 100.0
    }

    pub(crate) fn is_flapping(&self) -> bool {
        self.flapping
    }

    pub(crate) fn set_flapping(&mut self, flapping: bool) {
        self.flapping = flapping;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternating_results_flap() {
        let mut history = FlapHistory::default();
        let mut flapping = false;
        for index in 0..21 {
            flapping = history.record(index % 2 == 0, 50.0, 25.0);
        }
        assert!(flapping);
        assert!((history.percent_state_change() - 100.0).abs() < 1e-9);
    }

    #[test]
    fn steady_results_stop_flapping() {
        let mut history = FlapHistory::default();
        for index in 0..21 {
            history.record(index % 2 == 0, 50.0, 25.0);
        }
        let mut flapping = true;
        for _ in 0..21 {
            flapping = history.record(true, 50.0, 25.0);
        }
        assert!(!flapping);
        assert_eq!(history.percent_state_change(), 0.0);
    }

    /// The weighted change of every history of 21 results, computed the
    /// plain way: each neighbouring pair, oldest weight 0.8, newest 1.2.
    #[test]
    fn state_change_matches_pairwise_sum() {
        for bits in (0..1u32 << HISTORY)
            .step_by(997)
            .chain([0, (1 << HISTORY) - 1])
        {
            let history = FlapHistory {
                bits,
                len: HISTORY as u8,
                flapping: false,
            };
            let mut expected = 0.0;
            for age in 0..HISTORY - 1 {
                if (bits >> age) & 1 != (bits >> (age + 1)) & 1 {
                    expected += 1.2 - 0.4 * f64::from(age) / f64::from(HISTORY - 2);
                }
            }
            expected = expected / f64::from(HISTORY - 1) * 100.0;
            assert_eq!(history.percent_state_change(), expected, "bits {bits:021b}");
        }
    }

    #[test]
    fn undecided_before_full_history() {
        let mut history = FlapHistory::default();
        for index in 0..20 {
            assert!(!history.record(index % 2 == 0, 50.0, 25.0));
        }
    }
}
