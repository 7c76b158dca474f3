//! Outages of delivery targets, for logging. A webhook endpoint or mail
//! recipient that fails would otherwise log a line for every attempt of
//! every notification. Instead, the failures of one target are grouped into
//! an outage: its first failure is logged, later ones are counted, and a
//! summary is logged when the target recovers or its retries give up.
//!
//! The per-attempt counters and the stored `last_error` of each
//! notification are kept as before; only the log lines are grouped.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};
use oversight_store::Channel;

/// The shortest time between two give-up summaries of one target. Retries
/// that give up sooner are counted into the next summary.
pub(crate) const SUMMARY_INTERVAL: SignedDuration = SignedDuration::from_mins(10);

/// A delivery target: the channel and the webhook or recipient id.
type TargetKey = (Channel, String);

/// The outages of all targets that failed since their last success.
#[derive(Debug, Default)]
pub(crate) struct Outages {
    targets: Mutex<HashMap<TargetKey, Outage>>,
}

/// One target's failures since its last successful delivery.
#[derive(Debug)]
struct Outage {
    started_at: Timestamp,
    failed_attempts: u64,
    dead_letters: u64,
    /// Notifications of the target that failed and wait for a retry.
    retrying: HashSet<i64>,
    /// Failed attempts and dead letters since the previous summary.
    unreported: Counts,
    /// When the previous give-up summary was logged.
    summarized_at: Option<Timestamp>,
}

/// Failed attempts and dead letters over a stretch of an outage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) failed_attempts: u64,
    pub(crate) dead_letters: u64,
}

/// A line to log about a target after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Report {
    /// The attempt is the first failure since the target's last success.
    Started,
    /// Every notification of the target that waited for a retry is now a
    /// dead letter. The counts cover the time since `since`: the outage's
    /// start or the previous summary.
    GaveUp { counts: Counts, since: Timestamp },
    /// The attempt succeeded after the outage that began at `since`. The
    /// counts cover the whole outage.
    Recovered { counts: Counts, since: Timestamp },
}

impl Outages {
    /// Notes a failed attempt of `notification` on `target` at `at`, which
    /// will be retried or has become a dead letter.
    pub(crate) fn failed(
        &self,
        target: (Channel, &str),
        notification: i64,
        will_retry: bool,
        at: Timestamp,
    ) -> Vec<Report> {
        let mut targets = self.targets.lock().unwrap_or_else(PoisonError::into_inner);
        let mut reports = Vec::new();
        let outage = targets
            .entry((target.0, target.1.to_owned()))
            .or_insert_with(|| {
                reports.push(Report::Started);
                Outage {
                    started_at: at,
                    failed_attempts: 0,
                    dead_letters: 0,
                    retrying: HashSet::new(),
                    unreported: Counts::default(),
                    summarized_at: None,
                }
            });
        outage.failed_attempts += 1;
        outage.unreported.failed_attempts += 1;
        if will_retry {
            outage.retrying.insert(notification);
            return reports;
        }
        outage.retrying.remove(&notification);
        outage.dead_letters += 1;
        outage.unreported.dead_letters += 1;
        if let Some(report) = outage.give_up(at) {
            reports.push(report);
        }
        reports
    }

    /// Notes a successful delivery on `target`, which ends its outage.
    pub(crate) fn delivered(&self, target: (Channel, &str)) -> Option<Report> {
        let mut targets = self.targets.lock().unwrap_or_else(PoisonError::into_inner);
        let outage = targets.remove(&(target.0, target.1.to_owned()))?;
        Some(Report::Recovered {
            counts: Counts {
                failed_attempts: outage.failed_attempts,
                dead_letters: outage.dead_letters,
            },
            since: outage.started_at,
        })
    }

    /// Lists the targets that are still failing, with the failures that no
    /// summary has covered and the time the uncovered stretch began.
    pub(crate) fn unreported(&self) -> Vec<(TargetKey, Counts, Timestamp)> {
        let targets = self.targets.lock().unwrap_or_else(PoisonError::into_inner);
        let mut open: Vec<_> = targets
            .iter()
            .filter(|(_, outage)| outage.unreported != Counts::default())
            .map(|(key, outage)| {
                let since = outage.summarized_at.unwrap_or(outage.started_at);
                (key.clone(), outage.unreported, since)
            })
            .collect();
        open.sort_by(|left, right| left.0.cmp(&right.0));
        open
    }
}

impl Outage {
    /// Returns a give-up summary when no notification of the target waits
    /// for a retry and the previous summary is at least
    /// [`SUMMARY_INTERVAL`] old.
    fn give_up(&mut self, at: Timestamp) -> Option<Report> {
        if !self.retrying.is_empty() {
            return None;
        }
        let since = match self.summarized_at {
            Some(previous) if at.duration_since(previous) < SUMMARY_INTERVAL => return None,
            Some(previous) => previous,
            None => self.started_at,
        };
        let counts = std::mem::take(&mut self.unreported);
        self.summarized_at = Some(at);
        Some(Report::GaveUp { counts, since })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEBHOOK: (Channel, &str) = (Channel::Webhook, "duty-webhook");

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("valid timestamp")
    }

    fn counts(failed_attempts: u64, dead_letters: u64) -> Counts {
        Counts {
            failed_attempts,
            dead_letters,
        }
    }

    #[test]
    fn first_failure_starts_outage() {
        let outages = Outages::default();
        assert_eq!(outages.failed(WEBHOOK, 1, true, at(0)), [Report::Started]);
        assert_eq!(outages.failed(WEBHOOK, 2, true, at(1)), []);
        assert_eq!(outages.failed(WEBHOOK, 1, true, at(2)), []);
    }

    #[test]
    fn targets_fail_separately() {
        let outages = Outages::default();
        let other = (Channel::Webhook, "other-webhook");
        let email = (Channel::Email, "duty-webhook");
        assert_eq!(outages.failed(WEBHOOK, 1, true, at(0)), [Report::Started]);
        assert_eq!(outages.failed(other, 2, true, at(0)), [Report::Started]);
        assert_eq!(outages.failed(email, 3, true, at(0)), [Report::Started]);
    }

    #[test]
    fn last_dead_letter_gives_up() {
        let outages = Outages::default();
        outages.failed(WEBHOOK, 1, true, at(0));
        outages.failed(WEBHOOK, 2, true, at(1));
        // Notification 2 still waits for a retry.
        assert_eq!(outages.failed(WEBHOOK, 1, false, at(2)), []);
        assert_eq!(
            outages.failed(WEBHOOK, 2, false, at(3)),
            [Report::GaveUp {
                counts: counts(4, 2),
                since: at(0),
            }]
        );
    }

    #[test]
    fn single_attempt_starts_and_gives_up() {
        let outages = Outages::default();
        assert_eq!(
            outages.failed(WEBHOOK, 1, false, at(0)),
            [
                Report::Started,
                Report::GaveUp {
                    counts: counts(1, 1),
                    since: at(0),
                },
            ]
        );
    }

    #[test]
    fn summaries_wait_for_interval() {
        let outages = Outages::default();
        outages.failed(WEBHOOK, 1, true, at(0));
        assert_eq!(outages.failed(WEBHOOK, 1, false, at(1)).len(), 1);

        // Later notifications fail and give up silently within the interval.
        for id in 2..=5 {
            let second = id * 30;
            assert_eq!(outages.failed(WEBHOOK, id, true, at(second)), []);
            assert_eq!(outages.failed(WEBHOOK, id, false, at(second + 1)), []);
        }

        let later = at(1) + SUMMARY_INTERVAL;
        outages.failed(WEBHOOK, 6, true, later);
        assert_eq!(
            outages.failed(WEBHOOK, 6, false, later),
            [Report::GaveUp {
                counts: counts(10, 5),
                since: at(1),
            }]
        );
    }

    #[test]
    fn success_reports_recovery() {
        let outages = Outages::default();
        assert_eq!(outages.delivered(WEBHOOK), None);
        outages.failed(WEBHOOK, 1, true, at(0));
        outages.failed(WEBHOOK, 1, false, at(1));
        outages.failed(WEBHOOK, 2, true, at(5));
        assert_eq!(
            outages.delivered(WEBHOOK),
            Some(Report::Recovered {
                counts: counts(3, 1),
                since: at(0),
            })
        );
        assert_eq!(outages.delivered(WEBHOOK), None);
        // The next failure starts a new outage.
        assert_eq!(outages.failed(WEBHOOK, 3, true, at(9)), [Report::Started]);
    }

    #[test]
    fn unreported_lists_uncovered_failures() {
        let outages = Outages::default();
        assert_eq!(outages.unreported(), []);
        outages.failed(WEBHOOK, 1, true, at(0));
        outages.failed(WEBHOOK, 1, false, at(1));
        assert_eq!(outages.unreported(), []);

        outages.failed(WEBHOOK, 2, true, at(30));
        let key = (WEBHOOK.0, WEBHOOK.1.to_owned());
        assert_eq!(outages.unreported(), [(key, counts(1, 0), at(1))]);
    }
}
