//! Ordering of password logins, so that parallel attempts cannot outrun the
//! failure limits, and a bound on the password hashes checked at once.
//!
//! A login reads the failures recorded for its login name and address,
//! checks the password and records a failure. Without ordering, a client
//! that sends many attempts at once gets all of them past the read before the
//! first failure is recorded, and so more guesses than
//! `auth.max_account_failures` allows. [`LoginGate::turn`] lets one attempt
//! per login name and per client address run at a time. Argon2id needs
//! 19 MiB per check, so [`LoginGate::hashing_permit`] also bounds how many
//! checks run at once, whatever the number of addresses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedMutexGuard, Semaphore, SemaphorePermit};

/// Idle keys kept before a turn sweeps them out of the map.
const SWEEP_AFTER_KEYS: usize = 1024;

/// The per-key locks of logins and the permits of password hashing.
#[derive(Debug)]
pub struct LoginGate {
    keys: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    hashing: Semaphore,
}

impl Default for LoginGate {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::new(cores)
    }
}

impl LoginGate {
    /// Creates a gate that lets `hashes` password checks run at once.
    pub fn new(hashes: usize) -> Self {
        Self {
            keys: Mutex::new(HashMap::new()),
            hashing: Semaphore::new(hashes.max(1)),
        }
    }

    /// Waits until no other attempt for `username` or from `address` runs,
    /// and returns the turn that keeps both locked until it is dropped.
    pub async fn turn(&self, username: &str, address: Option<IpAddr>) -> LoginTurn<'_> {
        // Every attempt takes the address lock before the account lock, so
        // two attempts never wait for each other in a cycle.
        let mut keys = Vec::with_capacity(2);
        if let Some(address) = address {
            keys.push(format!("address:{address}"));
        }
        keys.push(format!("account:{username}"));
        let mutexes: Vec<_> = {
            let mut map = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
            if map.len() > SWEEP_AFTER_KEYS {
                map.retain(|_, mutex| Arc::strong_count(mutex) > 1);
            }
            keys.iter()
                .map(|key| Arc::clone(map.entry(key.clone()).or_default()))
                .collect()
        };
        let mut turn = LoginTurn {
            gate: self,
            keys,
            guards: Vec::with_capacity(mutexes.len()),
        };
        for mutex in mutexes {
            turn.guards.push(mutex.lock_owned().await);
        }
        turn
    }

    /// Waits for a permit to check or compute one password hash.
    pub async fn hashing_permit(&self) -> SemaphorePermit<'_> {
        self.hashing
            .acquire()
            .await
            .expect("the hashing semaphore is never closed")
    }

    #[cfg(test)]
    fn key_count(&self) -> usize {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// One login attempt's hold on its login name and client address.
#[derive(Debug)]
pub struct LoginTurn<'a> {
    gate: &'a LoginGate,
    keys: Vec<String>,
    guards: Vec<OwnedMutexGuard<()>>,
}

impl Drop for LoginTurn<'_> {
    fn drop(&mut self) {
        self.guards.clear();
        let mut map = self
            .gate
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for key in &self.keys {
            if map
                .get(key)
                .is_some_and(|mutex| Arc::strong_count(mutex) == 1)
            {
                map.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn turn_waits_for_same_account() {
        let gate = LoginGate::new(2);
        let first = gate.turn("zhang", None).await;
        let second = tokio::time::timeout(Duration::from_millis(50), gate.turn("zhang", None));
        assert!(second.await.is_err(), "a second turn for zhang ran at once");
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(5), gate.turn("zhang", None));
        assert!(
            third.await.is_ok(),
            "the turn did not pass after the first ended"
        );
    }

    #[tokio::test]
    async fn turn_waits_for_same_address() {
        let gate = LoginGate::new(2);
        let address = Some(IpAddr::from([127, 0, 0, 1]));
        let _first = gate.turn("zhang", address).await;
        let other = tokio::time::timeout(Duration::from_millis(50), gate.turn("li", address));
        assert!(
            other.await.is_err(),
            "another account from one address ran at once"
        );
    }

    #[tokio::test]
    async fn turn_passes_other_keys() {
        let gate = LoginGate::new(2);
        let _first = gate.turn("zhang", Some(IpAddr::from([127, 0, 0, 1]))).await;
        let other = gate.turn("li", Some(IpAddr::from([127, 0, 0, 2])));
        let other = tokio::time::timeout(Duration::from_secs(5), other);
        assert!(other.await.is_ok(), "an unrelated turn waited");
    }

    #[tokio::test]
    async fn ended_turns_leave_no_keys() {
        let gate = LoginGate::new(2);
        for index in 0..10 {
            let address = Some(IpAddr::from([10, 0, 0, index]));
            drop(gate.turn(&format!("user{index}"), address).await);
        }
        assert_eq!(gate.key_count(), 0);
    }

    #[tokio::test]
    async fn hashing_permits_are_bounded() {
        let gate = LoginGate::new(1);
        let first = gate.hashing_permit().await;
        let second = tokio::time::timeout(Duration::from_millis(50), gate.hashing_permit());
        assert!(second.await.is_err(), "a second permit was granted at once");
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(5), gate.hashing_permit());
        assert!(
            third.await.is_ok(),
            "no permit after the first was returned"
        );
    }
}
