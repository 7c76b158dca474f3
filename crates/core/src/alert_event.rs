//! Alert transition events: what the rule engine and the alert API emit each
//! time an alert changes state, for notification delivery to consume.
//!
//! An event carries a snapshot of the alert after the transition, so a
//! consumer needs no store access to render it. Events of one fingerprint
//! are emitted in the order their transitions were stored.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Alert, ValidationError};

/// A change of an alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertTransition {
    /// The condition is met but has not been met for the rule's `for` duration yet.
    Pending,
    /// The alert fired: the condition held for the rule's `for` duration, or
    /// at once for a rule without one.
    Firing,
    /// The condition held again while the alert was firing or acknowledged;
    /// the snapshot carries the new count, last value and peak.
    Repeated,
    /// A person acknowledged the alert.
    Acknowledged,
    /// The alert was resolved: by its clear condition, by a person with a
    /// reason, or because the condition stopped holding while pending.
    Resolved,
    /// An escalation policy turned the alert into a supervision task.
    Escalated,
}

impl AlertTransition {
    /// Returns the transition's name as used in the API and in stored history.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Repeated => "repeated",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
            Self::Escalated => "escalated",
        }
    }

    /// Parses a transition's API name.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input {
            "pending" => Ok(Self::Pending),
            "firing" => Ok(Self::Firing),
            "repeated" => Ok(Self::Repeated),
            "acknowledged" => Ok(Self::Acknowledged),
            "resolved" => Ok(Self::Resolved),
            "escalated" => Ok(Self::Escalated),
            _ => Err(ValidationError::new(
                "alert transition",
                input,
                "expected pending, firing, repeated, acknowledged, resolved or escalated",
            )),
        }
    }
}

impl fmt::Display for AlertTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cause of a change, as alert transitions and the ledger record it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Actor {
    /// The rule engine, evaluating readings or timers.
    Engine,
    /// A person signed in to the API, by account name.
    User(String),
    /// An `oversight` command run on the server's machine, by the name of the
    /// operating-system user who ran it.
    CommandLine(String),
    /// A device, by its identifier, such as the MN of an HJ 212 datalogger.
    Device(String),
    /// The server's own housekeeping, such as the expiry of a silence.
    System,
}

impl Actor {
    /// Returns the actor of an `oversight` command: the operating-system user named
    /// by `USER` or `LOGNAME`, or `unknown` when neither is set.
    pub fn command_line() -> Self {
        let name = ["USER", "LOGNAME"]
            .into_iter()
            .find_map(|variable| std::env::var(variable).ok().filter(|name| !name.is_empty()))
            .unwrap_or_else(|| "unknown".to_owned());
        Self::CommandLine(name)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Engine => f.write_str("engine"),
            Self::User(name) => write!(f, "user:{name}"),
            Self::CommandLine(name) => write!(f, "cli:{name}"),
            Self::Device(id) => write!(f, "device:{id}"),
            Self::System => f.write_str("system"),
        }
    }
}

impl Actor {
    /// Parses the form [`Actor`]'s `Display` writes.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let (kind, name) = input.split_once(':').unwrap_or((input, ""));
        match (kind, name) {
            ("engine", "") => Ok(Self::Engine),
            ("system", "") => Ok(Self::System),
            ("user", name) if !name.is_empty() => Ok(Self::User(name.to_owned())),
            ("cli", name) if !name.is_empty() => Ok(Self::CommandLine(name.to_owned())),
            ("device", id) if !id.is_empty() => Ok(Self::Device(id.to_owned())),
            _ => Err(ValidationError::new(
                "actor",
                input,
                "expected engine, system, user:NAME, cli:NAME or device:ID",
            )),
        }
    }
}

/// The reason notifications of a transition are held back. The transition is
/// stored and emitted all the same, so the history stays complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Suppression {
    /// The alert changes state too often (percent state change above the
    /// flapping threshold); one notice is sent when flapping starts.
    Flapping,
    /// A silence (maintenance window) covers the alert.
    Silenced {
        /// The silence's identifier.
        silence_id: i64,
    },
    /// An open alert on the same subject that explains this one, such as
    /// data missing for a point whose sensor values then look wrong.
    Inhibited {
        /// The fingerprint of the inhibiting alert.
        by: String,
    },
}

/// One alert transition, as emitted to notification delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// The alert after the transition.
    pub alert: Alert,
    /// The kind of change.
    pub transition: AlertTransition,
    /// The time of the transition: event time for transitions the engine derives from
    /// readings, the clock's time for the others.
    pub at: Timestamp,
    /// The engine or the person that caused it.
    pub actor: Actor,
    /// The reason a person gave, or the engine's explanation.
    pub reason: Option<String>,
    /// Set when notifications for this transition must be held back.
    pub suppressed: Option<Suppression>,
}

impl AlertEvent {
    /// Returns true if notifications should be sent for this event.
    pub fn notifies(&self) -> bool {
        self.suppressed.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_round_trip_through_their_text() {
        for actor in [
            Actor::Engine,
            Actor::System,
            Actor::User("li.wei".to_owned()),
            Actor::CommandLine("root".to_owned()),
            Actor::Device("88888880000001".to_owned()),
        ] {
            assert_eq!(Actor::parse(&actor.to_string()).unwrap(), actor);
        }
    }

    #[test]
    fn actor_text_without_a_name_is_rejected() {
        for text in ["user:", "cli:", "device:", "admin", "engine:x", ""] {
            let error = Actor::parse(text).unwrap_err();
            assert!(error.to_string().contains("user:NAME"), "{text:?}: {error}");
        }
    }

    #[test]
    fn transition_names_round_trip() {
        for transition in [
            AlertTransition::Pending,
            AlertTransition::Firing,
            AlertTransition::Repeated,
            AlertTransition::Acknowledged,
            AlertTransition::Resolved,
            AlertTransition::Escalated,
        ] {
            assert_eq!(AlertTransition::parse(transition.as_str()), Ok(transition));
        }
        assert!(AlertTransition::parse("open").is_err());
    }

    #[test]
    fn actor_serializes_with_kind() {
        let user = serde_json::to_value(Actor::User("li.wei".to_owned())).unwrap();
        assert_eq!(user, serde_json::json!({"kind": "user", "name": "li.wei"}));
        let engine = serde_json::to_value(Actor::Engine).unwrap();
        assert_eq!(engine, serde_json::json!({"kind": "engine"}));
    }

    #[test]
    fn suppression_serializes_with_kind() {
        let silenced = serde_json::to_value(Suppression::Silenced { silence_id: 7 }).unwrap();
        assert_eq!(
            silenced,
            serde_json::json!({"kind": "silenced", "silence_id": 7})
        );
    }
}
