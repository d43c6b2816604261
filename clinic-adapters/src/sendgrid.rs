//! Email through the SendGrid v3 Web API.
//!
//! `POST /v3/mail/send` with `Authorization: Bearer <API key>` and a JSON body:
//! `personalizations[0].to`, `from` (the practice's verified sender), `reply_to`,
//! `subject`, `content` (`text/plain` first, then `text/html`, the order SendGrid requires)
//! and `attachments` (base64 `content`, `type`, `filename`, `disposition: attachment`).
//! Success is `202 Accepted` with the message id in `X-Message-Id`. Errors are
//! `{"errors": [{"message", "field", "help"}]}`; only the `field` names are passed on, since
//! SendGrid's messages can quote the addresses.

use async_trait::async_trait;
use base64::Engine as _;
use clinic_core::people::Email;
use clinic_core::ports::{EmailMessage, EmailSender, PortError, PortErrorKind};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::http::{Call, Http, HttpSettings, kind_for_status};

/// SendGrid settings.
#[derive(Clone, Debug)]
pub struct SendGridConfig {
    /// The API key (`SG.…`), with the Mail Send permission.
    pub api_key: SecretString,
    /// The verified sender address.
    pub from: Email,
    /// The sender's display name (the practice).
    pub from_name: String,
    /// The API base, `https://api.sendgrid.com` unless testing (or the EU region,
    /// `https://api.eu.sendgrid.com`).
    pub base_url: String,
    /// Timeouts and retries.
    pub http: HttpSettings,
}

impl SendGridConfig {
    /// Settings for the global API with the defaults.
    #[must_use]
    pub fn new(api_key: SecretString, from: Email, from_name: &str) -> Self {
        Self {
            api_key,
            from,
            from_name: from_name.to_owned(),
            base_url: "https://api.sendgrid.com".into(),
            http: HttpSettings::default(),
        }
    }
}

/// The SendGrid [`EmailSender`].
#[derive(Debug)]
pub struct SendGrid {
    config: SendGridConfig,
    http: Http,
}

#[derive(Deserialize)]
struct Errors {
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    field: Option<String>,
}

impl SendGrid {
    /// A sender with `config`.
    ///
    /// # Errors
    /// [`PortErrorKind::Unexpected`] when the HTTP client cannot start.
    pub fn new(config: SendGridConfig) -> Result<Self, PortError> {
        let http = Http::new("sendgrid", &config.http)?;
        Ok(Self { config, http })
    }

    /// The request body for `email`.
    fn body(&self, email: &EmailMessage) -> serde_json::Value {
        let mut content = vec![json!({"type": "text/plain", "value": email.text})];
        if let Some(html) = &email.html {
            content.push(json!({"type": "text/html", "value": html}));
        }
        let mut body = json!({
            "personalizations": [{"to": [{"email": email.to.as_str()}]}],
            "from": {"email": self.config.from.as_str(), "name": self.config.from_name},
            "subject": email.subject,
            "content": content,
        });
        if let Some(reply) = &email.reply_to {
            body["reply_to"] = json!({"email": reply.as_str()});
        }
        if !email.attachments.is_empty() {
            body["attachments"] = email
                .attachments
                .iter()
                .map(|a| {
                    json!({
                        "content": base64::engine::general_purpose::STANDARD.encode(&a.bytes),
                        "type": a.content_type,
                        "filename": a.filename,
                        "disposition": "attachment",
                    })
                })
                .collect();
        }
        body
    }
}

#[async_trait]
impl EmailSender for SendGrid {
    async fn send(&self, email: &EmailMessage) -> Result<Option<String>, PortError> {
        let call = Call::new(
            Method::POST,
            format!("{}/v3/mail/send", self.config.base_url.trim_end_matches('/')),
        )
        .header(
            "authorization",
            &format!("Bearer {}", self.config.api_key.expose_secret()),
        )?
        .json(&self.body(email));
        let answer = self.http.send(&call).await?;
        if answer.status.is_success() {
            return Ok(answer
                .headers
                .get("x-message-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned));
        }
        let mut message = format!("sendgrid: HTTP {}", answer.status.as_u16());
        if let Ok(e) = serde_json::from_slice::<Errors>(&answer.body) {
            let fields: Vec<String> = e.errors.into_iter().filter_map(|i| i.field).collect();
            if !fields.is_empty() {
                message.push_str(" in ");
                message.push_str(&fields.join(", "));
            }
        }
        let kind = match answer.status.as_u16() {
            413 => PortErrorKind::Invalid,
            _ => kind_for_status(answer.status),
        };
        Err(PortError::new(kind, message))
    }
}
