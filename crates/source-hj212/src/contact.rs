//! Contact times of points that send commands without readings, such as
//! 9015 heartbeats. They are collected in memory and written to the store
//! in batches every `contact_flush_ms`, so a connection never waits on the
//! store for a heartbeat. While the store accepts writes, a crash loses at
//! most the contacts of the last interval and of a write in progress.
//! Uploads with readings need no entry here, because storing them records
//! their receive time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use oversight_core::Mn;
use oversight_store::Store;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// The latest contact time of each point since the last write.
#[derive(Debug, Default)]
pub(crate) struct ContactLog {
    pending: Mutex<HashMap<Mn, Timestamp>>,
}

impl ContactLog {
    /// Notes that `mn` made contact at `at`.
    pub(crate) fn record(&self, mn: Mn, at: Timestamp) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let latest = pending.entry(mn).or_insert(at);
        *latest = (*latest).max(at);
    }

    /// Writes the collected contact times to the store. After a failure they
    /// are kept for the next write, unless a later contact replaced them.
    pub(crate) async fn flush(&self, store: &dyn Store) {
        let contacts: Vec<(Mn, Timestamp)> = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.drain().collect()
        };
        if contacts.is_empty() {
            return;
        }
        if let Err(error) = store.record_contacts(&contacts).await {
            warn!(points = contacts.len(), error = %error, "failed to record hj212 contact times, retrying later");
            for (mn, at) in contacts {
                self.record(mn, at);
            }
        }
    }

    /// Writes the contact times every `interval` until `cancel` fires.
    pub(crate) async fn run(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        interval: Duration,
        cancel: CancellationToken,
    ) {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticker.tick() => self.flush(store.as_ref()).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keeps_latest_time() {
        let log = ContactLog::default();
        let mn = Mn::parse("MN1").unwrap();
        let early: Timestamp = "2026-12-04T08:00:00Z".parse().unwrap();
        let late: Timestamp = "2026-12-04T08:01:00Z".parse().unwrap();
        log.record(mn.clone(), late);
        log.record(mn.clone(), early);
        let pending = log.pending.lock().unwrap();
        assert_eq!(pending.get(&mn), Some(&late));
    }
}
