//! The login throttling policy: lockout after repeated failures per account
//! and per client address.
//!
//! The store counts failed logins in a sliding window; this module decides
//! from those counts. A locked account or address is rejected before its
//! password is checked, so guessing stops costing the server Argon2 time.

use jiff::{SignedDuration, Timestamp};

/// Limits on failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Failures of one account within `window` that lock it.
    pub max_account_failures: u32,
    /// Failures from one client address within `window` that lock it.
    pub max_address_failures: u32,
    /// How far back failures are counted; a lock ends when the latest failure
    /// is this old.
    pub window: SignedDuration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        Self {
            max_account_failures: 5,
            max_address_failures: 20,
            window: SignedDuration::from_mins(15),
        }
    }
}

/// Failed logins counted by the store since `now - window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureCounts {
    /// Failures of the account.
    pub account: u32,
    /// Failures from the address.
    pub address: u32,
    /// The latest failure of either kind.
    pub latest: Option<Timestamp>,
}

/// The reason a login attempt is rejected before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Locked {
    /// Too many failures for this account.
    #[error("too many failed logins for this account; retry after {until}")]
    Account {
        /// When the lock ends.
        until: Timestamp,
    },
    /// Too many failures from this address.
    #[error("too many failed logins from this address; retry after {until}")]
    Address {
        /// When the lock ends.
        until: Timestamp,
    },
}

impl Locked {
    /// Returns when the lock ends.
    pub fn until(self) -> Timestamp {
        match self {
            Self::Account { until } | Self::Address { until } => until,
        }
    }
}

impl LoginPolicy {
    /// Returns the earliest time of a failure that still counts at `now`.
    /// A failure exactly `window` old no longer counts, so a client that
    /// waits until the lock's end is let in.
    pub fn window_start(&self, now: Timestamp) -> Timestamp {
        let start = now.saturating_sub(self.window).unwrap_or(now);
        start
            .checked_add(SignedDuration::from_micros(1))
            .unwrap_or(start)
    }

    /// Decides whether a login may be attempted, given the recent failures.
    pub fn check(&self, counts: FailureCounts, now: Timestamp) -> Result<(), Locked> {
        let until = counts
            .latest
            .and_then(|latest| latest.checked_add(self.window).ok())
            .unwrap_or(now);
        if counts.account >= self.max_account_failures {
            return Err(Locked::Account { until });
        }
        if counts.address >= self.max_address_failures {
            return Err(Locked::Address { until });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn below_limits_passes() {
        let policy = LoginPolicy::default();
        let counts = FailureCounts {
            account: 4,
            address: 19,
            latest: Some(at(1000)),
        };
        assert_eq!(policy.check(counts, at(1001)), Ok(()));
    }

    #[test]
    fn account_limit_locks_until_window_after_latest() {
        let policy = LoginPolicy::default();
        let counts = FailureCounts {
            account: 5,
            address: 5,
            latest: Some(at(1000)),
        };
        assert_eq!(
            policy.check(counts, at(1001)),
            Err(Locked::Account {
                until: at(1000 + 900)
            })
        );
    }

    #[test]
    fn address_limit_locks() {
        let policy = LoginPolicy::default();
        let counts = FailureCounts {
            account: 0,
            address: 20,
            latest: Some(at(1000)),
        };
        assert!(matches!(
            policy.check(counts, at(1001)),
            Err(Locked::Address { .. })
        ));
    }

    #[test]
    fn window_start_is_window_before_now() {
        let policy = LoginPolicy::default();
        let start = policy.window_start(at(10_000));
        assert!(start > at(10_000 - 900));
        assert!(start < at(10_000 - 899));
    }
}
