//! Early warning, first version: limit checks and data-missing detection.
//!
//! [`Evaluator`] is the pure state machine: stored readings and point
//! statuses in, [`AlertUpdate`](oversight_store::AlertUpdate)s out, with an
//! injected clock. [`RulesService`] runs it against an
//! `Arc<dyn Store>`: it rebuilds the state from the open alerts on start,
//! evaluates the batches that sources submit through a [`RulesHandle`], runs
//! the data-missing check on a timer and applies the updates to the store.

mod config;
mod error;
mod evaluator;
mod limit;
mod service;

pub use config::RulesConfig;
pub use error::RulesError;
pub use evaluator::Evaluator;
pub use service::{ReadingBatch, RulesHandle, RulesService};
