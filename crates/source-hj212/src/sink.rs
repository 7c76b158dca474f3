//! The hand-off of stored readings to whatever evaluates them.

use std::sync::Arc;

use async_trait::async_trait;
use oversight_core::{MonitoringPoint, Reading};

/// Receives the readings of each upload after the store accepted them.
///
/// The server implements it to feed the rules. The connection that stored
/// the readings waits for the call to return before it reads its next
/// frame, so an implementation with a bounded queue slows fast devices down
/// instead of dropping readings.
#[async_trait]
pub trait ReadingSink: Send + Sync + std::fmt::Debug + 'static {
    /// Takes the readings of one upload of `point`, already stored.
    async fn readings_stored(&self, point: Arc<MonitoringPoint>, readings: Vec<Reading>);
}
