//! Taking card payments through a payment provider, and hearing back from it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PortError;
use crate::ids::{InvoiceId, PracticeId};
use crate::money::Money;

/// A request to collect an invoice's balance by card. Amounts are AUD, the only currency
/// an Australian practice invoices in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntentRequest {
    /// The practice collecting.
    pub practice: PracticeId,
    /// The invoice paid.
    pub invoice: InvoiceId,
    /// The invoice number as printed, for the card statement (never clinical).
    pub invoice_number: Option<String>,
    /// The amount: the balance at the time of the request, positive.
    pub amount: Money,
    /// Which attempt this is for the invoice (1 for the first). The gateway derives its
    /// idempotency key from the invoice and the attempt, so a retried request never
    /// creates a second charge, while a deliberate new attempt can.
    pub attempt: u32,
}

impl IntentRequest {
    /// The idempotency key for this request: the same invoice and attempt always give the
    /// same key.
    #[must_use]
    pub fn idempotency_key(&self) -> String {
        format!("invoice-{}-attempt-{}", self.invoice, self.attempt)
    }
}

/// Where a payment intent stands, in the provider's life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    /// Waiting for the payer's card.
    RequiresPaymentMethod,
    /// Waiting for confirmation.
    RequiresConfirmation,
    /// Waiting for the payer (for example 3-D Secure).
    RequiresAction,
    /// Being processed.
    Processing,
    /// Authorised, waiting for capture.
    RequiresCapture,
    /// Cancelled: no money moves.
    Canceled,
    /// Paid.
    Succeeded,
}

/// A payment intent as the provider holds it. Its `Debug` leaves out the client secret.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentIntent {
    /// The provider's id (recorded as the payment's reference).
    pub id: String,
    /// The amount asked for.
    pub amount: Money,
    /// The amount received so far.
    pub amount_received: Money,
    /// Its status.
    pub status: IntentStatus,
    /// The secret the payer's browser confirms the payment with; handed to the payer
    /// only, never logged.
    #[serde(skip_serializing)]
    pub client_secret: Option<String>,
    /// The practice, from the intent's metadata.
    pub practice: Option<PracticeId>,
    /// The invoice, from the intent's metadata.
    pub invoice: Option<InvoiceId>,
}

impl std::fmt::Debug for PaymentIntent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentIntent")
            .field("id", &self.id)
            .field("amount", &self.amount)
            .field("amount_received", &self.amount_received)
            .field("status", &self.status)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("practice", &self.practice)
            .field("invoice", &self.invoice)
            .finish()
    }
}

/// A full or partial refund to ask the provider for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRequest {
    /// The payment intent refunded (the payment's reference).
    pub intent: String,
    /// How much; `None` refunds whatever is left.
    pub amount: Option<Money>,
    /// A key that makes a retried request refund once.
    pub idempotency_key: String,
}

/// A refund as the provider holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderRefund {
    /// The provider's id.
    pub id: String,
    /// The amount.
    pub amount: Money,
    /// The provider's status word (`pending`, `succeeded`, `failed`, …).
    pub status: String,
}

/// A verified notification from the provider, reduced to what billing acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PaymentEvent {
    /// A payment intent succeeded: record a card payment on the invoice.
    Succeeded {
        /// The provider's event id.
        event_id: String,
        /// The intent (the payment's reference).
        intent: String,
        /// The amount received.
        amount: Money,
        /// The practice, from metadata.
        practice: Option<PracticeId>,
        /// The invoice, from metadata.
        invoice: Option<InvoiceId>,
    },
    /// A payment attempt failed: nothing is recorded on the invoice.
    Failed {
        /// The provider's event id.
        event_id: String,
        /// The intent.
        intent: String,
        /// The provider's failure code (`card_declined`, …), when given.
        code: Option<String>,
        /// The practice, from metadata.
        practice: Option<PracticeId>,
        /// The invoice, from metadata.
        invoice: Option<InvoiceId>,
    },
    /// A charge was refunded, in part or in full.
    Refunded {
        /// The provider's event id.
        event_id: String,
        /// The intent the charge belongs to.
        intent: String,
        /// Everything refunded on the charge so far (cumulative), so applying the event
        /// twice, or after a refund the practice recorded itself, adds nothing.
        total_refunded: Money,
    },
    /// Any other event type: acknowledged and ignored.
    Ignored {
        /// The provider's event id.
        event_id: String,
        /// Its type.
        event_type: String,
    },
}

/// Why a webhook delivery was refused. Codes are stable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No signature header, or one that does not parse.
    #[error("the signature header is missing or malformed")]
    MalformedSignature,
    /// No signature matched any configured secret.
    #[error("no signature matches")]
    BadSignature,
    /// The signed timestamp is outside the tolerance (a replay, or a badly wrong clock).
    #[error("the signed timestamp is outside the tolerance")]
    StaleTimestamp,
    /// The body is not an event this gateway understands.
    #[error("the event body is malformed")]
    MalformedBody,
}

impl WebhookError {
    /// The stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::MalformedSignature => "webhook_signature_malformed",
            Self::BadSignature => "webhook_signature_invalid",
            Self::StaleTimestamp => "webhook_timestamp_stale",
            Self::MalformedBody => "webhook_body_malformed",
        }
    }
}

/// A card payment provider.
///
/// # Contract
/// - `create_intent` is idempotent per [`IntentRequest::idempotency_key`]: the same key
///   returns the same intent and never charges twice.
/// - `verify_webhook` authenticates the raw body against the signature header before
///   reading anything from it, and refuses stale deliveries.
/// - Errors never carry the provider's secret or the card holder's details.
#[async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    /// Creates (or, for a repeated key, returns) a payment intent for an invoice balance.
    async fn create_intent(&self, request: &IntentRequest) -> Result<PaymentIntent, PortError>;

    /// Reads a payment intent.
    async fn intent(&self, id: &str) -> Result<PaymentIntent, PortError>;

    /// Refunds all or part of a paid intent.
    async fn refund(&self, request: &RefundRequest) -> Result<ProviderRefund, PortError>;

    /// Authenticates a webhook delivery and reduces it to a [`PaymentEvent`].
    ///
    /// # Errors
    /// A [`WebhookError`] when the signature, timestamp or body is not acceptable.
    fn verify_webhook(&self, signature: &str, body: &[u8], now: DateTime<Utc>) -> Result<PaymentEvent, WebhookError>;
}
