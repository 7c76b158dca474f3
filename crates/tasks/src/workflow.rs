//! The task state machine, read from configuration and validated.
//!
//! States and actions are data. `[[workflow.states]]` names the states and the
//! clock that runs in each. `[[workflow.actions]]` names the transitions with
//! the states they start from, the state they lead to, the roles that may
//! perform them, whether a reason is required, and the built-in [`Effect`]s
//! they run.
//! [`Workflow::new`] rejects a configuration with unknown or duplicate names,
//! unreachable states or effects that cannot work together, naming the field.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ConfigError;
use crate::model::{ClockKind, Role};

/// Action names the engine writes into transition records itself.
pub const RESERVED_ACTIONS: [&str; 3] = ["create", "remind", "escalate"];

/// A state of the workflow configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The state's name, used in records and the API, such as `in_progress`.
    pub name: String,
    /// A label for people, such as 办理中.
    #[serde(default)]
    pub label: Option<String>,
    /// The deadline that runs while a task is in this state, if any.
    #[serde(default)]
    pub clock: Option<ClockKind>,
    /// True for states where the work is over (closed, cancelled); inboxes hide them by default.
    #[serde(default)]
    pub terminal: bool,
}

/// A built-in step that an action runs besides changing the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Sets the sign-for deadline from now (dispatch).
    StartSignClock,
    /// Sets the handling deadline from now (sign for, reopen).
    StartHandleClock,
    /// Sets the lead department: from the command if given, else by routing.
    SetLeadDepartment,
    /// Sets the assignee from the command, which must carry one.
    Assign,
    /// Records an extension request from the command's working days.
    RequestExtension,
    /// Moves the handling deadline by the pending request's working days.
    ApproveExtension,
    /// Drops the pending extension request.
    RejectExtension,
    /// Rejects the action while a co-operating child task is not done.
    RequireChildrenDone,
    /// Records the command's outcome, which must be given.
    RecordOutcome,
    /// Finalises the outcome: emits the outcome record and any follow-up task.
    FinalizeOutcome,
}

impl Effect {
    /// Returns the effect's name as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::StartSignClock => "start_sign_clock",
            Effect::StartHandleClock => "start_handle_clock",
            Effect::SetLeadDepartment => "set_lead_department",
            Effect::Assign => "assign",
            Effect::RequestExtension => "request_extension",
            Effect::ApproveExtension => "approve_extension",
            Effect::RejectExtension => "reject_extension",
            Effect::RequireChildrenDone => "require_children_done",
            Effect::RecordOutcome => "record_outcome",
            Effect::FinalizeOutcome => "finalize_outcome",
        }
    }
}

/// An action (transition) of the workflow configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// The action's name, such as `dispatch`.
    pub name: String,
    /// A label for people, such as 派单.
    #[serde(default)]
    pub label: Option<String>,
    /// The states the action may start from.
    pub from: Vec<String>,
    /// The state the action leads to; absent means the task stays where it is.
    #[serde(default)]
    pub to: Option<String>,
    /// The roles that may perform the action.
    pub roles: Vec<Role>,
    /// Whether the actor must give a reason.
    #[serde(default)]
    pub reason_required: bool,
    /// The built-in steps the action runs, in order.
    #[serde(default)]
    pub effects: Vec<Effect>,
}

/// The `[workflow]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowConfig {
    /// The state of a new task.
    pub initial: String,
    /// The roles that may create tasks.
    pub create_roles: Vec<Role>,
    /// The states in which a co-operating child task counts as done for
    /// [`Effect::RequireChildrenDone`].
    pub children_done_states: Vec<String>,
    /// The states.
    pub states: Vec<StateConfig>,
    /// The actions.
    pub actions: Vec<ActionConfig>,
}

/// A validated workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    config: WorkflowConfig,
    states: BTreeMap<String, usize>,
    actions: BTreeMap<String, usize>,
}

impl Workflow {
    /// Validates a workflow configuration.
    pub fn new(config: WorkflowConfig) -> Result<Self, ConfigError> {
        let states = index_states(&config.states)?;
        if !states.contains_key(&config.initial) {
            return Err(unknown_state("workflow.initial", &config.initial, &states));
        }
        if config.create_roles.is_empty() {
            return Err(ConfigError::invalid(
                "workflow.create_roles",
                "[]",
                "list at least one role",
            ));
        }
        for (i, state) in config.children_done_states.iter().enumerate() {
            if !states.contains_key(state) {
                let field = format!("workflow.children_done_states[{i}]");
                return Err(unknown_state(&field, state, &states));
            }
        }
        let mut actions = BTreeMap::new();
        for (i, action) in config.actions.iter().enumerate() {
            validate_action(i, action, &states)?;
            if actions.insert(action.name.clone(), i).is_some() {
                return Err(ConfigError::invalid(
                    format!("workflow.actions[{i}].name"),
                    &action.name,
                    "each action name may appear only once",
                ));
            }
        }
        let workflow = Self {
            config,
            states,
            actions,
        };
        workflow.check_reachable()?;
        Ok(workflow)
    }

    fn check_reachable(&self) -> Result<(), ConfigError> {
        let mut reached = BTreeSet::from([self.config.initial.as_str()]);
        let mut changed = true;
        while changed {
            changed = false;
            for action in &self.config.actions {
                let Some(to) = action.to.as_deref() else {
                    continue;
                };
                if action.from.iter().any(|s| reached.contains(s.as_str())) {
                    changed |= reached.insert(to);
                }
            }
        }
        for (i, state) in self.config.states.iter().enumerate() {
            if !reached.contains(state.name.as_str()) {
                return Err(ConfigError::invalid(
                    format!("workflow.states[{i}]"),
                    &state.name,
                    format!(
                        "is unreachable from the initial state {:?}; add an action that leads to it or remove it",
                        self.config.initial
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Returns the configuration this workflow was built from.
    pub fn config(&self) -> &WorkflowConfig {
        &self.config
    }

    /// Returns the initial state.
    pub fn initial(&self) -> &str {
        &self.config.initial
    }

    /// Returns the state of this name.
    pub fn state(&self, name: &str) -> Option<&StateConfig> {
        self.states.get(name).map(|&i| &self.config.states[i])
    }

    /// Returns the action of this name.
    pub fn action(&self, name: &str) -> Option<&ActionConfig> {
        self.actions.get(name).map(|&i| &self.config.actions[i])
    }

    /// Returns every state, in configuration order.
    pub fn states(&self) -> &[StateConfig] {
        &self.config.states
    }

    /// Returns every action, in configuration order.
    pub fn actions(&self) -> &[ActionConfig] {
        &self.config.actions
    }

    /// Returns the names of the actions that may start from `state`, in configuration order.
    pub fn allowed_from(&self, state: &str) -> Vec<&str> {
        self.config
            .actions
            .iter()
            .filter(|a| a.from.iter().any(|s| s == state))
            .map(|a| a.name.as_str())
            .collect()
    }

    /// Returns the clock that runs in `state`, if any.
    pub fn clock_in(&self, state: &str) -> Option<ClockKind> {
        self.state(state).and_then(|s| s.clock)
    }

    /// Returns true if `state` is terminal.
    pub fn is_terminal(&self, state: &str) -> bool {
        self.state(state).is_some_and(|s| s.terminal)
    }

    /// Returns true if a child task in `state` counts as done for its lead task.
    pub fn child_done(&self, state: &str) -> bool {
        self.config.children_done_states.iter().any(|s| s == state)
    }
}

fn index_states(states: &[StateConfig]) -> Result<BTreeMap<String, usize>, ConfigError> {
    let mut index = BTreeMap::new();
    for (i, state) in states.iter().enumerate() {
        check_name(&format!("workflow.states[{i}].name"), &state.name)?;
        if index.insert(state.name.clone(), i).is_some() {
            return Err(ConfigError::invalid(
                format!("workflow.states[{i}].name"),
                &state.name,
                "each state name may appear only once",
            ));
        }
    }
    if index.is_empty() {
        return Err(ConfigError::invalid(
            "workflow.states",
            "[]",
            "list at least one state",
        ));
    }
    Ok(index)
}

fn validate_action(
    i: usize,
    action: &ActionConfig,
    states: &BTreeMap<String, usize>,
) -> Result<(), ConfigError> {
    let field = format!("workflow.actions[{i}]");
    check_name(&format!("{field}.name"), &action.name)?;
    if RESERVED_ACTIONS.contains(&action.name.as_str()) {
        return Err(ConfigError::invalid(
            format!("{field}.name"),
            &action.name,
            "create, remind and escalate are written by the engine itself; choose another name",
        ));
    }
    if action.from.is_empty() {
        return Err(ConfigError::invalid(
            format!("{field}.from"),
            "[]",
            "list at least one state",
        ));
    }
    for (j, state) in action.from.iter().enumerate() {
        if !states.contains_key(state) {
            return Err(unknown_state(&format!("{field}.from[{j}]"), state, states));
        }
    }
    if let Some(to) = &action.to
        && !states.contains_key(to)
    {
        return Err(unknown_state(&format!("{field}.to"), to, states));
    }

    if action.roles.is_empty() {
        return Err(ConfigError::invalid(
            format!("{field}.roles"),
            "[]",
            "list at least one role",
        ));
    }

    let unique: BTreeSet<_> = action.effects.iter().collect();
    if unique.len() != action.effects.len() {
        return Err(ConfigError::invalid(
            format!("{field}.effects"),
            effect_list(&action.effects),
            "each effect may appear only once",
        ));
    }
    let exclusive = [
        Effect::RequestExtension,
        Effect::ApproveExtension,
        Effect::RejectExtension,
    ];
    if action
        .effects
        .iter()
        .filter(|e| exclusive.contains(e))
        .count()
        > 1
    {
        return Err(ConfigError::invalid(
            format!("{field}.effects"),
            effect_list(&action.effects),
            "request_extension, approve_extension and reject_extension exclude each other",
        ));
    }
    Ok(())
}

fn check_name(field: &str, name: &str) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            field,
            name,
            "expected 1 to 64 lowercase ASCII letters, digits or underscores, such as in_progress",
        ))
    }
}

fn unknown_state(field: &str, state: &str, states: &BTreeMap<String, usize>) -> ConfigError {
    let known: Vec<&str> = states.keys().map(String::as_str).collect();
    ConfigError::invalid(
        field,
        state,
        format!(
            "unknown state; the configured states are {}",
            known.join(", ")
        ),
    )
}

fn effect_list(effects: &[Effect]) -> String {
    effects
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TasksConfig;

    fn default_workflow() -> WorkflowConfig {
        TasksConfig::default().workflow
    }

    #[test]
    fn default_workflow_is_valid() {
        let workflow = Workflow::new(default_workflow()).unwrap();
        assert_eq!(workflow.initial(), "created");
        assert_eq!(
            workflow.allowed_from("created"),
            ["dispatch", "add_evidence", "cancel"]
        );
        assert_eq!(workflow.clock_in("dispatched"), Some(ClockKind::Sign));
        assert_eq!(workflow.clock_in("in_progress"), Some(ClockKind::Handle));
        assert!(workflow.is_terminal("cancelled"));
        assert!(!workflow.is_terminal("replied"));
    }

    #[test]
    fn unknown_target_state_is_named() {
        let mut config = default_workflow();
        config.actions[0].to = Some("dispached".into());
        let err = Workflow::new(config).unwrap_err().to_string();
        assert!(err.contains("workflow.actions[0].to"), "{err}");
        assert!(err.contains("\"dispached\""), "{err}");
        assert!(err.contains("the configured states are"), "{err}");
    }

    #[test]
    fn unknown_from_state_is_named() {
        let mut config = default_workflow();
        config.actions[1].from.push("nowhere".into());
        let err = Workflow::new(config).unwrap_err().to_string();
        assert!(err.contains("workflow.actions[1].from["), "{err}");
        assert!(err.contains("nowhere"), "{err}");
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let mut config = default_workflow();
        let copy = config.actions[0].clone();
        config.actions.push(copy);
        let err = Workflow::new(config).unwrap_err().to_string();
        assert!(err.contains("only once"), "{err}");

        let mut config = default_workflow();
        let copy = config.states[0].clone();
        config.states.push(copy);
        let err = Workflow::new(config).unwrap_err().to_string();
        assert!(err.contains("each state name"), "{err}");
    }

    #[test]
    fn unreachable_state_is_rejected() {
        let mut config = default_workflow();
        config.states.push(StateConfig {
            name: "limbo".into(),
            label: None,
            clock: None,
            terminal: false,
        });
        let err = Workflow::new(config).unwrap_err().to_string();
        assert!(err.contains("limbo"), "{err}");
        assert!(err.contains("unreachable"), "{err}");
    }

    #[test]
    fn reserved_and_malformed_names_are_rejected() {
        let mut config = default_workflow();
        config.actions[0].name = "remind".into();
        let err = Workflow::new(config).unwrap_err().to_string();
        assert!(err.contains("written by the engine"), "{err}");

        let mut config = default_workflow();
        config.actions[0].name = "Dispatch Now".into();
        let err = Workflow::new(config).unwrap_err().to_string();
        assert!(err.contains("lowercase ASCII"), "{err}");
    }

    #[test]
    fn conflicting_effects_are_rejected() {
        let mut config = default_workflow();
        config.actions[0].effects = vec![Effect::RequestExtension, Effect::ApproveExtension];
        let err = Workflow::new(config).unwrap_err().to_string();
        assert!(err.contains("exclude each other"), "{err}");

        let mut config = default_workflow();
        config.actions[0].effects = vec![Effect::Assign, Effect::Assign];
        let err = Workflow::new(config).unwrap_err().to_string();
        assert!(err.contains("only once"), "{err}");
    }

    #[test]
    fn empty_roles_and_initial_are_checked() {
        let mut config = default_workflow();
        config.actions[2].roles.clear();
        let err = Workflow::new(config).unwrap_err().to_string();
        assert!(err.contains("roles"), "{err}");

        let mut config = default_workflow();
        config.initial = "start".into();
        let err = Workflow::new(config).unwrap_err().to_string();
        assert!(err.contains("workflow.initial"), "{err}");
    }
}
