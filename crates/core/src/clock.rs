//! Clocks, injected wherever the current time matters so that tests are deterministic.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Returns the current time.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// Creates a clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock to `time`.
    pub fn set(&self, time: Timestamp) {
        *self.0.lock().expect("manual clock mutex is never poisoned") = time;
    }

    /// Moves the clock forward by `step`.
    pub fn advance(&self, step: SignedDuration) {
        let mut now = self.0.lock().expect("manual clock mutex is never poisoned");
        *now = now
            .saturating_add(step)
            .expect("step is a plain duration without calendar units");
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().expect("manual clock mutex is never poisoned")
    }
}
