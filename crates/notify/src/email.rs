//! Email delivery over SMTP with `lettre`.

use std::time::Duration;

use jiff::tz::TimeZone;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use oversight_store::Notification;

use crate::config::{SmtpConfig, SmtpSecurity};
use crate::{NotifyError, message};

/// A connection pool to the configured SMTP server.
#[derive(Debug, Clone)]
pub(crate) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// Builds the transport; no connection is made until the first send.
    pub(crate) fn new(config: &SmtpConfig) -> Result<Self, NotifyError> {
        let builder = match config.security {
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host),
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
            }
            SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                &config.host,
            )),
        }
        .map_err(|error| NotifyError::config("smtp.host", &config.host, &error.to_string()))?;
        let port = config.port.unwrap_or(match config.security {
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::None => 25,
        });
        let mut builder = builder
            .port(port)
            .timeout(Some(Duration::from_secs(config.timeout_secs)));
        if let (Some(username), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                username.clone(),
                password.expose().clone(),
            ));
        }
        let from = config.from.parse::<Mailbox>().map_err(|_| {
            NotifyError::config("smtp.from", &config.from, "is not a valid mailbox")
        })?;
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// Sends `notification` to its target address.
    pub(crate) async fn send(
        &self,
        notification: &Notification,
        time_zone: &TimeZone,
    ) -> Result<(), String> {
        let to = notification
            .target
            .parse::<Mailbox>()
            .map_err(|error| format!("invalid email address {:?}: {error}", notification.target))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message::subject(notification))
            .header(ContentType::TEXT_PLAIN)
            .message_id(Some(format!(
                "<{}@oversight>",
                message::idempotency_key(notification)
            )))
            .body(message::text(notification, time_zone))
            .map_err(|error| format!("cannot build email: {error}"))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|error| format!("SMTP send failed: {error}"))
    }
}
