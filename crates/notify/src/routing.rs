//! Routing: which recipients an alert goes to.
//!
//! Routes are tried in order, as in Alertmanager's routing tree flattened to
//! one level: the first route whose every set field matches adds its
//! recipients and stops the search unless it has `continue = true`. A
//! department recipient whose id equals the alert's department receives the
//! alert whether or not a route matched, so the routed department always
//! hears of its alerts.

use std::collections::BTreeMap;

use oversight_core::Alert;

use crate::config::{RecipientConfig, RecipientKind, Route};

/// The validated routes and the recipients by id.
#[derive(Debug, Clone)]
pub struct Routing {
    routes: Vec<Route>,
    recipients: BTreeMap<String, RecipientConfig>,
}

impl Routing {
    /// Builds routing from validated routes and the configured recipients.
    pub fn new(routes: Vec<Route>, recipients: &[RecipientConfig]) -> Self {
        let recipients = recipients
            .iter()
            .map(|recipient| (recipient.id.clone(), recipient.clone()))
            .collect();
        Self { routes, recipients }
    }

    /// Returns the recipients of `alert`, each once, in id order.
    pub fn recipients(&self, alert: &Alert) -> Vec<&RecipientConfig> {
        let mut ids: Vec<&str> = Vec::new();
        for route in &self.routes {
            if !route.matches(alert) {
                continue;
            }
            ids.extend(route.recipients.iter().map(String::as_str));
            if !route.continue_matching {
                break;
            }
        }
        if let Some(department) = &alert.department
            && let Some(recipient) = self.recipients.get(department)
            && recipient.kind == RecipientKind::Department
        {
            ids.push(recipient.id.as_str());
        }
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| self.recipients.get(id))
            .collect()
    }

    /// Returns the recipient with `id`.
    pub fn recipient(&self, id: &str) -> Option<&RecipientConfig> {
        self.recipients.get(id)
    }
}

impl Route {
    fn matches(&self, alert: &Alert) -> bool {
        if let Some(area) = &self.area
            && !area.contains(&alert.area)
        {
            return false;
        }
        if let Some(category) = &self.category
            && *category != alert.category
        {
            return false;
        }
        if let Some(department) = &self.department
            && alert.department.as_ref() != Some(department)
        {
            return false;
        }
        if let Some(min_severity) = self.min_severity
            && alert.severity < min_severity
        {
            return false;
        }
        true
    }
}
