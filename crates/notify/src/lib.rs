//! Reminders (早提醒) for alerts: routing alert events to people and
//! departments, grouping a storm of alerts into one notification, rate
//! limits, repeats, and delivery by webhook, email and the in-app inbox.
//!
//! [`Planner`] is pure: it turns an [`oversight_core::AlertEvent`] into
//! outbox items. [`Notifier`] runs it off the rule path and delivers what
//! the store's outbox holds, at least once, with retries and dead letters.

mod backoff;
mod config;
mod email;
mod error;
pub mod message;
mod notifier;
mod outage;
mod plan;
mod routing;
pub mod webhook;

pub use backoff::retry_delay;
pub use config::{
    GroupField, NotifyConfig, RecipientConfig, RecipientKind, Route, RouteConfig, SmtpConfig,
    SmtpSecurity, WebhookConfig,
};
pub use error::NotifyError;
pub use notifier::Notifier;
pub use plan::{Planner, Timings};
pub use routing::Routing;
