//! Email through the practice's own mail server, over SMTP (RFC 5321) with lettre.
//!
//! Security is chosen explicitly and never downgraded: [`SmtpSecurity::StartTls`] (port
//! 587, the default) refuses a server that does not offer STARTTLS rather than sending in
//! clear; [`SmtpSecurity::Tls`] is implicit TLS (port 465); [`SmtpSecurity::Plain`] is
//! accepted only for a loopback host (a local relay or a test server). Transient failures
//! (SMTP 4xx, a connection that could not be made) are retried with backoff; permanent
//! ones (5xx, such as an unknown mailbox) are not.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use clinic_core::people::Email;
use clinic_core::ports::{EmailMessage, EmailSender, PortError, PortErrorKind};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::retry::RetryPolicy;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: loopback hosts only.
    Plain,
}

/// SMTP settings.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// The server's host name (checked against its certificate).
    pub host: String,
    /// The port; `None` for the security mode's standard port.
    pub port: Option<u16>,
    /// Security.
    pub security: SmtpSecurity,
    /// The login, when the server wants one.
    pub username: Option<String>,
    /// The password.
    pub password: Option<SecretString>,
    /// The sender address.
    pub from: Email,
    /// The sender's display name (the practice).
    pub from_name: String,
    /// Per-command timeout.
    pub timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
}

impl SmtpConfig {
    /// STARTTLS on port 587 with a 30-second timeout and the default retries.
    #[must_use]
    pub fn new(host: &str, from: Email, from_name: &str) -> Self {
        Self {
            host: host.to_owned(),
            port: None,
            security: SmtpSecurity::StartTls,
            username: None,
            password: None,
            from,
            from_name: from_name.to_owned(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// The SMTP [`EmailSender`].
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp").finish_non_exhaustive()
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn invalid(what: &str) -> PortError {
    PortError::new(PortErrorKind::Invalid, format!("smtp: {what}"))
}

impl Smtp {
    /// A sender with `config`.
    ///
    /// # Errors
    /// [`PortErrorKind::Invalid`] for plain SMTP to a host that is not loopback, a host
    /// name TLS cannot use, or a username without a password.
    pub fn new(config: &SmtpConfig) -> Result<Self, PortError> {
        let builder = match config.security {
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(|_| invalid("the host name cannot be used for TLS"))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|_| invalid("the host name cannot be used for TLS"))?,
            SmtpSecurity::Plain if is_loopback(&config.host) => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host).port(25)
            }
            SmtpSecurity::Plain => return Err(invalid("plain SMTP is allowed only to a loopback host")),
        };
        let mut builder = builder.timeout(Some(config.timeout));
        if let Some(port) = config.port {
            builder = builder.port(port);
        }
        match (&config.username, &config.password) {
            (Some(user), Some(pass)) => {
                builder = builder.credentials(Credentials::new(user.clone(), pass.expose_secret().to_owned()));
            }
            (Some(_), None) => return Err(invalid("a username needs a password")),
            _ => {}
        }
        let from_name = config.from_name.replace(['\r', '\n'], " ");
        let from = Mailbox::new(
            Some(from_name),
            config
                .from
                .as_str()
                .parse()
                .map_err(|_| invalid("the sender address is not valid"))?,
        );
        Ok(Self {
            transport: builder.build(),
            from,
            retry: config.retry,
        })
    }

    fn message(&self, email: &EmailMessage) -> Result<Message, PortError> {
        let mailbox = |e: &Email| -> Result<Mailbox, PortError> {
            Ok(Mailbox::new(
                None,
                e.as_str().parse().map_err(|_| invalid("an address is not valid"))?,
            ))
        };
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(mailbox(&email.to)?)
            .subject(email.subject.replace(['\r', '\n'], " "));
        if let Some(r) = &email.reply_to {
            builder = builder.reply_to(mailbox(r)?);
        }
        let body = match &email.html {
            Some(html) => MultiPart::alternative_plain_html(email.text.clone(), html.clone()),
            None => MultiPart::mixed().singlepart(SinglePart::plain(email.text.clone())),
        };
        let mut all = MultiPart::mixed().multipart(body);
        for a in &email.attachments {
            let ct = ContentType::parse(&a.content_type).map_err(|_| invalid("an attachment's type is not valid"))?;
            all = all.singlepart(Attachment::new(a.filename.clone()).body(a.bytes.clone(), ct));
        }
        builder
            .multipart(all)
            .map_err(|_| invalid("the message could not be built"))
    }
}

#[async_trait]
impl EmailSender for Smtp {
    async fn send(&self, email: &EmailMessage) -> Result<Option<String>, PortError> {
        let message = self.message(email)?;
        let mut attempt = 0;
        loop {
            match self.transport.send(message.clone()).await {
                Ok(response) => {
                    return Ok(response.message().next().map(str::to_owned));
                }
                Err(e) => {
                    // Transient: a 4xx reply, or no connection at all (nothing was sent).
                    let transient = e.is_transient() || connection_refused(&e);
                    if !transient || attempt >= self.retry.max_retries {
                        let (kind, what) = if e.is_permanent() {
                            (PortErrorKind::Invalid, "the server refused the message")
                        } else if e.is_transient() {
                            (PortErrorKind::Unavailable, "the server deferred the message")
                        } else if e.is_tls() {
                            (PortErrorKind::Unavailable, "TLS could not be established")
                        } else if e.is_timeout() {
                            (PortErrorKind::Unavailable, "the server timed out")
                        } else {
                            (PortErrorKind::Unavailable, "the connection failed")
                        };
                        let code = e.status().map(|c| format!(" ({c})")).unwrap_or_default();
                        return Err(PortError::new(kind, format!("smtp: {what}{code}")));
                    }
                    tokio::time::sleep(self.retry.backoff(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// The server could not be reached at all, so nothing was sent and trying again is safe.
fn connection_refused(e: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
            );
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_smtp_only_to_loopback() {
        let from = Email::parse("rooms@harbour.example").unwrap();
        let mut c = SmtpConfig::new("mail.harbour.example", from, "Harbour");
        c.security = SmtpSecurity::Plain;
        assert_eq!(Smtp::new(&c).unwrap_err().kind(), PortErrorKind::Invalid);
        for host in ["localhost", "127.0.0.1", "::1", "[::1]"] {
            c.host = host.into();
            assert!(Smtp::new(&c).is_ok(), "{host}");
        }
        c.security = SmtpSecurity::StartTls;
        c.host = "mail.harbour.example".into();
        c.username = Some("rooms".into());
        assert_eq!(
            Smtp::new(&c).unwrap_err().to_string(),
            "invalid: smtp: a username needs a password"
        );
    }
}
