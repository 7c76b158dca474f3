//! Per-address state of the listener: open connections and wrong passwords.
//!
//! Both tables are keyed by IP address, not by socket address, because a
//! client opens each connection from a new port. They are bounded: an entry
//! lives only while its address has connections open or a block or failure
//! window running, and the failure table is cleared of expired entries
//! whenever it grows past [`MAX_TRACKED_ADDRESSES`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Addresses with wrong passwords tracked at most; past it the oldest
/// windows are dropped, which only forgets failures, never blocks anyone.
const MAX_TRACKED_ADDRESSES: usize = 100_000;

/// Wrong passwords counted for one address.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// When the first failure of the current window happened.
    window_start: Instant,
    /// Until when the address is blocked, once it reached the limit.
    blocked_until: Option<Instant>,
}

/// Open connections per address and wrong passwords per address.
#[derive(Debug)]
pub(crate) struct AddressBook {
    max_connections: usize,
    failures_before_block: u32,
    block: Duration,
    connections: Mutex<HashMap<IpAddr, usize>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

/// One open connection of an address; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
    book: Arc<AddressBook>,
    ip: IpAddr,
}

/// The reason a connection from an address is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The address has `max_connections_per_address` connections open.
    TooManyConnections,
    /// The address sent too many wrong passwords recently.
    Blocked,
}

impl Refusal {
    /// Returns the metric label of the refusal.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::TooManyConnections => "per_address_limit",
            Self::Blocked => "address_blocked",
        }
    }
}

impl AddressBook {
    pub(crate) fn new(max_connections: usize, failures_before_block: u32, block: Duration) -> Self {
        Self {
            max_connections,
            failures_before_block,
            block,
            connections: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a connection slot for `ip`, unless the address is blocked or
    /// has its maximum of connections open.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, Refusal> {
        if self.is_blocked(ip) {
            return Err(Refusal::Blocked);
        }
        let mut connections = self
            .connections
            .lock()
            .expect("address table mutex is never poisoned");
        let open = connections.entry(ip).or_insert(0);
        if *open >= self.max_connections {
            return Err(Refusal::TooManyConnections);
        }
        *open += 1;
        Ok(ConnectionSlot {
            book: Arc::clone(self),
            ip,
        })
    }

    /// Returns true while `ip` is blocked for wrong passwords.
    pub(crate) fn is_blocked(&self, ip: IpAddr) -> bool {
        let failures = self
            .failures
            .lock()
            .expect("failure table mutex is never poisoned");
        failures
            .get(&ip)
            .and_then(|entry| entry.blocked_until)
            .is_some_and(|until| Instant::now() < until)
    }

    /// Counts a wrong password from `ip`. Returns true when this failure
    /// blocks the address.
    pub(crate) fn record_failure(&self, ip: IpAddr) -> bool {
        if self.failures_before_block == 0 {
            return false;
        }
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .expect("failure table mutex is never poisoned");
        if failures.len() >= MAX_TRACKED_ADDRESSES {
            failures.retain(|_, entry| !entry.expired(now, self.block));
        }
        if failures.len() >= MAX_TRACKED_ADDRESSES {
            failures.clear();
        }
        let entry = failures.entry(ip).or_insert(Failures {
            count: 0,
            window_start: now,
            blocked_until: None,
        });
        if entry.expired(now, self.block) {
            *entry = Failures {
                count: 0,
                window_start: now,
                blocked_until: None,
            };
        }
        entry.count += 1;
        if entry.count >= self.failures_before_block && entry.blocked_until.is_none() {
            entry.blocked_until = Some(now + self.block);
            return true;
        }
        false
    }

    fn release(&self, ip: IpAddr) {
        let mut connections = self
            .connections
            .lock()
            .expect("address table mutex is never poisoned");
        if let Some(open) = connections.get_mut(&ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                connections.remove(&ip);
            }
        }
    }
}

impl Failures {
    /// Returns true when neither the failure window nor a block is running.
    fn expired(&self, now: Instant, block: Duration) -> bool {
        match self.blocked_until {
            Some(until) => now >= until,
            None => now >= self.window_start + block,
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.book.release(self.ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[tokio::test]
    async fn slots_cap_per_address() {
        let book = Arc::new(AddressBook::new(2, 0, Duration::from_secs(60)));
        let first = book.admit(IP).expect("first");
        let _second = book.admit(IP).expect("second");
        assert_eq!(
            book.admit(IP).expect_err("third"),
            Refusal::TooManyConnections
        );
        assert!(book.admit(OTHER).is_ok(), "other address unaffected");
        drop(first);
        assert!(book.admit(IP).is_ok(), "slot freed on drop");
    }

    #[tokio::test(start_paused = true)]
    async fn failures_block_then_expire() {
        let book = Arc::new(AddressBook::new(10, 3, Duration::from_secs(60)));
        assert!(!book.record_failure(IP));
        assert!(!book.record_failure(IP));
        assert!(book.record_failure(IP), "third failure blocks");
        assert_eq!(book.admit(IP).expect_err("blocked"), Refusal::Blocked);
        assert!(book.admit(OTHER).is_ok(), "other address unaffected");
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(book.admit(IP).is_ok(), "block expired");
        assert!(!book.record_failure(IP), "count restarts after the block");
    }

    #[tokio::test(start_paused = true)]
    async fn failures_outside_window_do_not_add_up() {
        let book = Arc::new(AddressBook::new(10, 2, Duration::from_secs(60)));
        assert!(!book.record_failure(IP));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(!book.record_failure(IP), "window restarted");
        assert!(book.record_failure(IP));
    }

    #[test]
    fn zero_limit_never_blocks() {
        let book = AddressBook::new(10, 0, Duration::from_secs(60));
        for _ in 0..100 {
            assert!(!book.record_failure(IP));
        }
        assert!(!book.is_blocked(IP));
    }
}
