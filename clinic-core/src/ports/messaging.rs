//! Telling people things: email, SMS and WhatsApp.
//!
//! What is said comes from [`crate::notify`]'s templates, which carry no clinical content;
//! these ports only deliver it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::PortError;
use crate::people::{Email, Phone};

/// A file sent with an email (an invoice PDF, say).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The file name the recipient sees.
    pub filename: String,
    /// Its MIME type.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// An email to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailMessage {
    /// The recipient's address.
    pub to: Email,
    /// Where replies go (the practice's address), when not the sender's.
    pub reply_to: Option<Email>,
    /// The subject.
    pub subject: String,
    /// The plain-text body (always sent).
    pub text: String,
    /// The HTML body, when there is one.
    pub html: Option<String>,
    /// Attachments.
    pub attachments: Vec<Attachment>,
}

/// Sends email.
///
/// # Contract
/// `send` delivers the message to the provider and returns the provider's message id
/// (or `None` when the provider gives none). Errors never quote the recipient or the body.
#[async_trait]
pub trait EmailSender: Send + Sync + 'static {
    /// Sends one email.
    async fn send(&self, email: &EmailMessage) -> Result<Option<String>, PortError>;
}

/// How a text message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// SMS.
    Sms,
    /// WhatsApp.
    WhatsApp,
}

/// A pre-approved WhatsApp template: WhatsApp only lets a business start a conversation
/// with a template its provider approved; free text is allowed only inside a 24-hour
/// window after the person last wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovedTemplate {
    /// The provider's id of the approved template.
    pub id: String,
    /// Its numbered variables, in order (`{{1}}`, `{{2}}`, …).
    pub variables: Vec<String>,
}

/// A text message to one phone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextMessage {
    /// The channel.
    pub channel: Channel,
    /// The phone number.
    pub to: Phone,
    /// The text (also the fallback when a template is used).
    pub body: String,
    /// For a business-initiated WhatsApp message, the approved template to send instead of
    /// free text.
    pub template: Option<ApprovedTemplate>,
}

/// Where a sent message stands, as the provider reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Accepted by the provider, not yet sent.
    Queued,
    /// Handed to the carrier.
    Sent,
    /// Delivered to the handset.
    Delivered,
    /// Read (WhatsApp).
    Read,
    /// The carrier could not deliver it.
    Undelivered,
    /// Sending failed.
    Failed,
}

impl DeliveryStatus {
    /// True when nothing further will happen to the message.
    #[must_use]
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Read | Self::Undelivered | Self::Failed)
    }
}

/// A message the provider accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SentMessage {
    /// The provider's id, which status callbacks refer to.
    pub provider_id: String,
    /// Its status at acceptance.
    pub status: DeliveryStatus,
}

/// A delivery status report from the provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryUpdate {
    /// The provider's message id.
    pub provider_id: String,
    /// The new status.
    pub status: DeliveryStatus,
    /// The provider's error code, for failures.
    pub error_code: Option<String>,
}

/// Why a status callback was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// The signature does not match.
    #[error("the request signature does not match")]
    BadSignature,
    /// The parameters are not a status report.
    #[error("the callback is not a status report")]
    Malformed,
}

impl CallbackError {
    /// The stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::BadSignature => "callback_signature_invalid",
            Self::Malformed => "callback_malformed",
        }
    }
}

/// Sends SMS and WhatsApp messages.
///
/// # Contract
/// `send` hands the message to the provider with a status callback when one is configured;
/// `verify_callback` authenticates a callback (the full URL it was posted to, its form
/// parameters and the signature header) before reading it. Errors never quote the number or
/// the text.
#[async_trait]
pub trait MessageSender: Send + Sync + 'static {
    /// Sends one message.
    async fn send(&self, message: &TextMessage) -> Result<SentMessage, PortError>;

    /// Authenticates a delivery status callback and reads it.
    ///
    /// # Errors
    /// A [`CallbackError`] for a bad signature or a request that is not a status report.
    fn verify_callback(
        &self,
        url: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> Result<DeliveryUpdate, CallbackError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses() {
        assert!(!DeliveryStatus::Queued.is_final());
        assert!(!DeliveryStatus::Sent.is_final());
        assert!(DeliveryStatus::Delivered.is_final());
        assert!(DeliveryStatus::Failed.is_final());
    }
}
