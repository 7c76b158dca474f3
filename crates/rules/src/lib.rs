//! The rule engine: rule packs, detection and the alert lifecycle.
//!
//! Rules are TOML files (see [`pack`]): built-in packs embedded from the
//! repository's `rules/` directory, and the operator's own directory. Each
//! rule names what it applies to, a CEL condition, an optional window
//! aggregate, a `for` duration, a clear condition, a severity and the
//! department it routes to. [`Engine`] is the pure state machine (readings
//! in, alert updates out, with an injected clock); [`RulesService`] runs it
//! against the store, reloads changed packs, emits [`AlertEvent`]s and
//! turns serious or ignored alerts into tasks.
//!
//! [`AlertEvent`]: oversight_core::AlertEvent

pub mod aqi;
mod backtest;
mod builtin;
mod config;
mod engine;
mod error;
pub mod expr;
mod factor_codes;
mod flapping;
pub mod noise;
pub mod pack;
mod rule;
mod service;
mod task_sink;
mod window;

pub use backtest::{Backtest, BacktestAlert};
pub use builtin::{BUILTIN_PACKS, builtin_packs};
pub use config::RulesConfig;
pub use engine::{Engine, EngineConfig, RuleErrors};
pub use error::RulesError;
pub use pack::{PackError, RulePack};
pub use rule::{
    Aggregate, DuplicateRule, Escalation, FlagFilter, MissingAfter, PackSummary, Peak, Rule,
    RuleKind, RuleSet, Window, WindowMode,
};
pub use service::{
    AlertEventSink, Command, LogEventSink, ReadingBatch, RuleStatus, RulesHandle, RulesService,
    TaskSink, load_rule_set,
};
pub use task_sink::{StoreTaskSink, default_task_engine};
