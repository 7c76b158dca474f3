//! HTTP API, web dashboard and the composition of sources, rules and store.
//!
//! The `oversight` binary is a thin layer over this crate: [`config`] reads
//! and validates the configuration, [`api`] is the HTTP API, and the serve
//! runtime wires the HJ 212 source, the rules evaluator and the store
//! together.

pub mod api;
pub mod assets;
pub mod auth;
pub mod config;
pub mod data_dir;
pub mod error;
pub mod guard;
pub mod import;
pub mod ledger;
pub mod listener;
pub mod name_key;
pub mod oidc;
pub mod runtime;
pub mod tasks;
pub mod telemetry;

pub use error::{ApiError, ErrorCode};
