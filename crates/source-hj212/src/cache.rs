//! A short-lived cache of monitoring points by MN.
//!
//! The store is the source of truth. Entries, including "not registered",
//! expire after the configured time, so a point registered or changed while
//! its device is connected is seen within that time, without a store query
//! per frame.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oversight_core::{Mn, MonitoringPoint};
use oversight_store::{Store, StoreResult};
use tokio::time::Instant;

/// Entries above this many are dropped when the cache is next written, so
/// MNs sent by misbehaving devices cannot grow it without bound.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone)]
struct Entry {
    point: Option<Arc<MonitoringPoint>>,
    fetched: Instant,
}

/// Monitoring points by MN, each kept for a short time.
#[derive(Debug)]
pub(crate) struct PointCache {
    store: Arc<dyn Store>,
    ttl: Duration,
    entries: Mutex<HashMap<Mn, Entry>>,
}

impl PointCache {
    pub(crate) fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Returns the point registered under `mn`, or `None` when there is none.
    pub(crate) async fn point(&self, mn: &Mn) -> StoreResult<Option<Arc<MonitoringPoint>>> {
        if let Some(entry) = self.fresh(mn) {
            return Ok(entry.point);
        }
        let point = self.store.point(mn).await?.map(Arc::new);
        let mut entries = self
            .entries
            .lock()
            .expect("point cache mutex is never poisoned");
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            mn.clone(),
            Entry {
                point: point.clone(),
                fetched: Instant::now(),
            },
        );
        Ok(point)
    }

    /// Forgets `mn`, so the next lookup queries the store.
    pub(crate) fn invalidate(&self, mn: &Mn) {
        self.entries
            .lock()
            .expect("point cache mutex is never poisoned")
            .remove(mn);
    }

    fn fresh(&self, mn: &Mn) -> Option<Entry> {
        let entries = self
            .entries
            .lock()
            .expect("point cache mutex is never poisoned");
        let entry = entries.get(mn)?;
        (entry.fetched.elapsed() < self.ttl).then(|| entry.clone())
    }
}
