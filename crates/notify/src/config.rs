//! The `[notify]` configuration: timings, channels, recipients and routes,
//! and its validation into the types the notifier uses.

use oversight_core::{AreaCode, Secret, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use crate::NotifyError;

/// The `[notify]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Run notification delivery. Without recipients nothing is sent either way.
    pub enabled: bool,
    /// The alert fields whose values form a group: `area`, `category`,
    /// `severity`, `rule`, `department` or `mn`. Alerts of one group within
    /// the group wait go out as one notification.
    pub group_by: Vec<GroupField>,
    /// Seconds a new group waits for more alerts before its first notification.
    pub group_wait_secs: u64,
    /// Seconds between two notifications of one group.
    pub group_interval_secs: u64,
    /// Seconds after which a still-firing, unacknowledged alert is notified again.
    pub repeat_interval_secs: u64,
    /// Notify when a notified alert resolves.
    pub notify_resolved: bool,
    /// At most this many notifications per recipient and channel within
    /// `rate_limit_window_secs`; later ones wait, they are not dropped.
    pub rate_limit_max: u32,
    /// The rate limit's window, in seconds.
    pub rate_limit_window_secs: u64,
    /// Delivery attempts before a notification becomes a dead letter.
    pub max_attempts: u32,
    /// Milliseconds before the first retry; each retry doubles it, with jitter.
    pub retry_initial_ms: u64,
    /// Upper bound of the delay between retries, in seconds.
    pub retry_max_secs: u64,
    /// Notifications sent at the same time.
    pub concurrency: usize,
    /// Milliseconds between two looks for due notifications.
    pub poll_interval_ms: u64,
    /// Webhook endpoints, by id.
    pub webhooks: Vec<WebhookConfig>,
    /// The SMTP server for email; required when a recipient has an email address.
    pub smtp: Option<SmtpConfig>,
    /// People and departments that receive notifications.
    pub recipients: Vec<RecipientConfig>,
    /// The routes that pick each alert's recipients, tried in order.
    pub routes: Vec<RouteConfig>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            group_by: vec![GroupField::Area, GroupField::Category],
            group_wait_secs: 30,
            group_interval_secs: 300,
            repeat_interval_secs: 4 * 3600,
            notify_resolved: true,
            rate_limit_max: 20,
            rate_limit_window_secs: 3600,
            max_attempts: 8,
            retry_initial_ms: 1000,
            retry_max_secs: 600,
            concurrency: 8,
            poll_interval_ms: 500,
            webhooks: Vec::new(),
            smtp: None,
            recipients: Vec::new(),
            routes: Vec::new(),
        }
    }
}

/// An alert field that groups notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupField {
    /// The point's area code.
    Area,
    /// The rule's category.
    Category,
    /// The alert's severity.
    Severity,
    /// The rule id.
    Rule,
    /// The department the rule routes to.
    Department,
    /// The point's MN.
    Mn,
}

/// A webhook endpoint.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The id recipients refer to.
    pub id: String,
    /// The `http` or `https` URL that receives the POST.
    pub url: String,
    /// The HMAC-SHA256 key of the `X-Oversight-Signature` header.
    pub secret: Secret<String>,
    /// Seconds before an attempt times out.
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: u64,
}

fn default_webhook_timeout() -> u64 {
    10
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secret", &self.secret)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// The security of the SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS, which must succeed.
    #[default]
    Starttls,
    /// No encryption, for a relay on the same host only.
    None,
}

/// The SMTP server that sends email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name or address.
    pub host: String,
    /// Port; 465 for `tls`, 587 for `starttls` and 25 for `none` when unset.
    pub port: Option<u16>,
    /// Connection security.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// The sender, such as `Oversight <alerts@example.gov.cn>`.
    pub from: String,
    /// Login name, when the server requires one.
    pub username: Option<String>,
    /// Login password.
    pub password: Option<Secret<String>>,
    /// Seconds before a send times out.
    #[serde(default = "default_smtp_timeout")]
    pub timeout_secs: u64,
}

fn default_smtp_timeout() -> u64 {
    30
}

/// Whether a recipient is a person or a department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    /// A person, such as the responsible party of an enterprise.
    #[default]
    Person,
    /// A department; alerts routed to a department with this id reach it
    /// without a route.
    Department,
}

/// A person or department and the channels that reach them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientConfig {
    /// The id that routes and the inbox API use.
    pub id: String,
    /// The display name.
    #[serde(default)]
    pub name: String,
    /// Person or department.
    #[serde(default)]
    pub kind: RecipientKind,
    /// The email address.
    pub email: Option<String>,
    /// The id of a webhook endpoint.
    pub webhook: Option<String>,
    /// Deliver to the in-app inbox.
    #[serde(default = "default_true")]
    pub inbox: bool,
    /// The login name of the account that reads this person's inbox.
    /// Without one, only system administrators read the inbox.
    pub account: Option<String>,
    /// The id of the account department this recipient belongs to. The
    /// department's accounts read a department recipient's inbox, and its
    /// administrators see the delivery status of either kind.
    pub department_id: Option<i64>,
}

fn default_true() -> bool {
    true
}

/// A route: alerts matching every set field go to its recipients.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    /// Alerts in this area or below it.
    pub area: Option<String>,
    /// Alerts of this rule category.
    pub category: Option<String>,
    /// Alerts the rule routes to this department.
    pub department: Option<String>,
    /// Alerts of at least this severity: `info`, `warning` or `critical`.
    pub min_severity: Option<String>,
    /// The recipient ids.
    pub recipients: Vec<String>,
    /// Keep trying the later routes after this one matched.
    #[serde(rename = "continue")]
    pub continue_matching: bool,
}

/// A route after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub(crate) area: Option<AreaCode>,
    pub(crate) category: Option<String>,
    pub(crate) department: Option<String>,
    pub(crate) min_severity: Option<Severity>,
    pub(crate) recipients: Vec<String>,
    pub(crate) continue_matching: bool,
}

impl NotifyConfig {
    /// Checks every field and cross-reference, naming the first bad value.
    pub fn validate(&self) -> Result<Vec<Route>, NotifyError> {
        positive("group_interval_secs", self.group_interval_secs)?;
        positive("repeat_interval_secs", self.repeat_interval_secs)?;
        positive("rate_limit_max", u64::from(self.rate_limit_max))?;
        positive("rate_limit_window_secs", self.rate_limit_window_secs)?;
        positive("max_attempts", u64::from(self.max_attempts))?;
        positive("retry_initial_ms", self.retry_initial_ms)?;
        positive("retry_max_secs", self.retry_max_secs)?;
        positive("concurrency", self.concurrency as u64)?;
        positive("poll_interval_ms", self.poll_interval_ms)?;
        if self.repeat_interval_secs < self.group_interval_secs {
            return Err(NotifyError::config(
                "repeat_interval_secs",
                self.repeat_interval_secs,
                "must be at least group_interval_secs, or repeats arrive faster than groups",
            ));
        }
        let webhooks = self.validate_webhooks()?;
        self.validate_recipients(&webhooks)?;
        let recipients: BTreeSet<&str> = self.recipients.iter().map(|r| r.id.as_str()).collect();
        self.routes
            .iter()
            .enumerate()
            .map(|(index, route)| validate_route(index, route, &recipients))
            .collect()
    }

    fn validate_webhooks(&self) -> Result<BTreeSet<&str>, NotifyError> {
        let mut ids = BTreeSet::new();
        for webhook in &self.webhooks {
            if !ids.insert(webhook.id.as_str()) {
                return Err(NotifyError::config(
                    "webhooks.id",
                    &webhook.id,
                    "is used twice; give each endpoint its own id",
                ));
            }
            let url = url::Url::parse(&webhook.url).map_err(|_| {
                NotifyError::config("webhooks.url", &webhook.url, "is not a valid URL")
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(NotifyError::config(
                    "webhooks.url",
                    &webhook.url,
                    "must start with http:// or https://",
                ));
            }
            if webhook.secret.expose().len() < 16 {
                return Err(NotifyError::config(
                    "webhooks.secret",
                    &webhook.id,
                    "must have at least 16 characters",
                ));
            }
            positive("webhooks.timeout_secs", webhook.timeout_secs)?;
        }
        Ok(ids)
    }

    fn validate_recipients(&self, webhooks: &BTreeSet<&str>) -> Result<(), NotifyError> {
        let mut ids = BTreeSet::new();
        for recipient in &self.recipients {
            if recipient.id.is_empty() || !ids.insert(recipient.id.as_str()) {
                return Err(NotifyError::config(
                    "recipients.id",
                    &recipient.id,
                    "must be non-empty and unique",
                ));
            }
            if let Some(account) = &recipient.account {
                if recipient.kind == RecipientKind::Department {
                    return Err(NotifyError::config(
                        "recipients.account",
                        account,
                        "is for a person; a department's inbox is read through department_id",
                    ));
                }
                if account.trim().is_empty() {
                    return Err(NotifyError::config(
                        "recipients.account",
                        &recipient.id,
                        "is empty; give the login name of the person's account",
                    ));
                }
            }
            if let Some(webhook) = &recipient.webhook
                && !webhooks.contains(webhook.as_str())
            {
                return Err(NotifyError::config(
                    "recipients.webhook",
                    webhook,
                    "names no endpoint in [[notify.webhooks]]",
                ));
            }
            if let Some(email) = &recipient.email {
                email.parse::<lettre::Address>().map_err(|_| {
                    NotifyError::config("recipients.email", email, "is not a valid email address")
                })?;
                if self.smtp.is_none() {
                    return Err(NotifyError::config(
                        "recipients.email",
                        email,
                        "needs a [notify.smtp] server to send through",
                    ));
                }
            }
        }
        if let Some(smtp) = &self.smtp {
            smtp.from.parse::<lettre::message::Mailbox>().map_err(|_| {
                NotifyError::config(
                    "smtp.from",
                    &smtp.from,
                    "is not a valid mailbox such as `Oversight <alerts@example.org>`",
                )
            })?;
            positive("smtp.timeout_secs", smtp.timeout_secs)?;
        }
        Ok(())
    }
}

impl NotifyConfig {
    /// Returns the ids of the recipients whose inbox the account reads: the
    /// persons linked to `username` and the departments with `department_id`.
    pub fn inbox_recipients(&self, username: &str, department_id: Option<i64>) -> Vec<String> {
        self.recipients
            .iter()
            .filter(|recipient| match recipient.kind {
                RecipientKind::Person => recipient.account.as_deref() == Some(username),
                RecipientKind::Department => {
                    department_id.is_some() && recipient.department_id == department_id
                }
            })
            .map(|recipient| recipient.id.clone())
            .collect()
    }

    /// Returns the ids of the recipients of either kind that belong to the
    /// account department `department_id`.
    pub fn department_recipients(&self, department_id: i64) -> Vec<String> {
        self.recipients
            .iter()
            .filter(|recipient| recipient.department_id == Some(department_id))
            .map(|recipient| recipient.id.clone())
            .collect()
    }
}

fn validate_route(
    index: usize,
    route: &RouteConfig,
    recipients: &BTreeSet<&str>,
) -> Result<Route, NotifyError> {
    let area = route
        .area
        .as_deref()
        .map(AreaCode::parse)
        .transpose()
        .map_err(|error| {
            NotifyError::config(
                "routes.area",
                route.area.as_deref().unwrap_or(""),
                &error.to_string(),
            )
        })?;
    let min_severity = route
        .min_severity
        .as_deref()
        .map(Severity::parse)
        .transpose()
        .map_err(|error| {
            NotifyError::config(
                "routes.min_severity",
                route.min_severity.as_deref().unwrap_or(""),
                &error.to_string(),
            )
        })?;
    if route.recipients.is_empty() {
        return Err(NotifyError::config(
            "routes.recipients",
            format!("route {}", index + 1),
            "is empty; list at least one recipient id",
        ));
    }
    for recipient in &route.recipients {
        if !recipients.contains(recipient.as_str()) {
            return Err(NotifyError::config(
                "routes.recipients",
                recipient,
                "names no recipient in [[notify.recipients]]",
            ));
        }
    }
    Ok(Route {
        area,
        category: route.category.clone(),
        department: route.department.clone(),
        min_severity,
        recipients: route.recipients.clone(),
        continue_matching: route.continue_matching,
    })
}

fn positive(field: &'static str, value: u64) -> Result<(), NotifyError> {
    if value == 0 {
        return Err(NotifyError::config(field, value, "must be greater than 0"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(toml_text: &str) -> String {
        let config: NotifyConfig = toml::from_str(toml_text).expect("parses");
        config.validate().expect_err("invalid").to_string()
    }

    #[test]
    fn defaults_are_valid() {
        let routes = NotifyConfig::default().validate().expect("valid");
        assert!(routes.is_empty());
    }

    #[test]
    fn unknown_field_rejected() {
        let error = toml::from_str::<NotifyConfig>("group_wait = 3").expect_err("unknown");
        assert!(
            error.to_string().contains("unknown field `group_wait`"),
            "{error}"
        );
    }

    #[test]
    fn route_to_unknown_recipient_rejected() {
        let error = rejected("[[routes]]\nrecipients = [\"nobody\"]");
        assert_eq!(
            error,
            "invalid notify.routes.recipients \"nobody\": names no recipient in [[notify.recipients]]"
        );
    }

    #[test]
    fn recipient_with_unknown_webhook_rejected() {
        let error = rejected("[[recipients]]\nid = \"a\"\nwebhook = \"ops\"");
        assert!(error.contains("names no endpoint"), "{error}");
    }

    #[test]
    fn email_without_smtp_rejected() {
        let error = rejected("[[recipients]]\nid = \"a\"\nemail = \"a@example.org\"");
        assert!(error.contains("needs a [notify.smtp] server"), "{error}");
        let error = rejected("[[recipients]]\nid = \"a\"\nemail = \"not an address\"");
        assert!(error.contains("not a valid email address"), "{error}");
    }

    #[test]
    fn webhook_checks() {
        let short =
            rejected("[[webhooks]]\nid = \"w\"\nurl = \"http://127.0.0.1/\"\nsecret = \"short\"");
        assert!(short.contains("at least 16 characters"), "{short}");
        let scheme = rejected(
            "[[webhooks]]\nid = \"w\"\nurl = \"ftp://127.0.0.1/\"\nsecret = \"0123456789abcdef\"",
        );
        assert!(scheme.contains("must start with http"), "{scheme}");
    }

    #[test]
    fn secret_masked_in_debug() {
        let config: NotifyConfig = toml::from_str(
            "[[webhooks]]\nid = \"w\"\nurl = \"http://127.0.0.1/\"\nsecret = \"0123456789abcdef-secret\"",
        )
        .expect("parses");
        let debug = format!("{config:?}");
        assert!(!debug.contains("0123456789abcdef-secret"), "{debug}");
    }

    #[test]
    fn repeat_shorter_than_group_interval_rejected() {
        let error = rejected("group_interval_secs = 600\nrepeat_interval_secs = 60");
        assert!(error.contains("repeat_interval_secs"), "{error}");
    }

    #[test]
    fn account_on_department_rejected() {
        let error =
            rejected("[[recipients]]\nid = \"d\"\nkind = \"department\"\naccount = \"chen\"");
        assert!(error.contains("is for a person"), "{error}");
        let error = rejected("[[recipients]]\nid = \"p\"\naccount = \" \"");
        assert!(error.contains("is empty"), "{error}");
    }

    #[test]
    fn inbox_recipients_by_account_and_department() {
        let config: NotifyConfig = toml::from_str(
            r#"
[[recipients]]
id = "chen-desk"
account = "chen"
department_id = 1

[[recipients]]
id = "siming-bureau"
kind = "department"
department_id = 1

[[recipients]]
id = "huli-bureau"
kind = "department"
department_id = 2

[[recipients]]
id = "unlinked"
"#,
        )
        .expect("parses");
        assert_eq!(
            config.inbox_recipients("chen", Some(1)),
            ["chen-desk", "siming-bureau"]
        );
        assert_eq!(config.inbox_recipients("li", Some(2)), ["huli-bureau"]);
        assert!(config.inbox_recipients("li", None).is_empty());
        assert_eq!(
            config.department_recipients(1),
            ["chen-desk", "siming-bureau"]
        );
        assert!(config.department_recipients(3).is_empty());
    }

    #[test]
    fn bad_severity_rejected() {
        let error = rejected(
            "[[recipients]]\nid = \"a\"\n[[routes]]\nmin_severity = \"high\"\nrecipients = [\"a\"]",
        );
        assert!(
            error.contains("expected info, warning or critical"),
            "{error}"
        );
    }
}
