//! Console adapters: email, messages, video and payments that send nothing. Each keeps what
//! it would have sent in an in-memory outbox (for tests and for a developer to inspect) and
//! logs one line per item without its content or recipient. They let the reference server
//! run end to end with no provider accounts; they are for local development only.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clinic_core::audit::{hex, hmac_sha256};
use clinic_core::ids::{InvoiceId, PracticeId};
use clinic_core::money::Money;
use clinic_core::ports::{
    CallbackError, DeliveryStatus, DeliveryUpdate, EmailMessage, EmailSender, IntentRequest, IntentStatus, JoinPermit,
    MessageSender, PaymentEvent, PaymentGateway, PaymentIntent, PortError, PortErrorKind, ProviderRefund,
    RefundRequest, RoomSpec, SentMessage, TextMessage, VideoProvider, VideoRoom, VideoToken, WebhookError,
};
use serde::Deserialize;

/// Locks a mutex, taking the data even if another thread panicked while holding it: every
/// outbox is append-only, so a half-finished push cannot leave it inconsistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Email that is kept, not sent.
#[derive(Debug, Default)]
pub struct ConsoleEmail {
    outbox: Mutex<Vec<EmailMessage>>,
}

impl ConsoleEmail {
    /// An empty outbox.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything "sent" so far, oldest first.
    #[must_use]
    pub fn sent(&self) -> Vec<EmailMessage> {
        lock(&self.outbox).clone()
    }
}

#[async_trait]
impl EmailSender for ConsoleEmail {
    async fn send(&self, email: &EmailMessage) -> Result<Option<String>, PortError> {
        let mut outbox = lock(&self.outbox);
        outbox.push(email.clone());
        let id = format!("console-email-{}", outbox.len());
        tracing::info!(
            id,
            attachments = email.attachments.len(),
            "console email: kept, not sent"
        );
        Ok(Some(id))
    }
}

/// SMS and WhatsApp messages that are kept, not sent.
#[derive(Debug, Default)]
pub struct ConsoleMessages {
    outbox: Mutex<Vec<TextMessage>>,
}

impl ConsoleMessages {
    /// An empty outbox.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything "sent" so far, oldest first.
    #[must_use]
    pub fn sent(&self) -> Vec<TextMessage> {
        lock(&self.outbox).clone()
    }
}

#[async_trait]
impl MessageSender for ConsoleMessages {
    async fn send(&self, message: &TextMessage) -> Result<SentMessage, PortError> {
        let mut outbox = lock(&self.outbox);
        outbox.push(message.clone());
        let provider_id = format!("console-message-{}", outbox.len());
        tracing::info!(id = provider_id, channel = ?message.channel, "console message: kept, not sent");
        Ok(SentMessage {
            provider_id,
            status: DeliveryStatus::Delivered,
        })
    }

    /// The console sends nothing, so no callback is ever genuine.
    fn verify_callback(
        &self,
        _url: &str,
        _params: &[(String, String)],
        _signature: &str,
    ) -> Result<DeliveryUpdate, CallbackError> {
        Err(CallbackError::BadSignature)
    }
}

/// Video rooms that exist only in memory; tokens are opaque strings no real client accepts.
#[derive(Debug, Default)]
pub struct ConsoleVideo {
    rooms: Mutex<HashMap<String, VideoRoom>>,
    tokens: Mutex<Vec<VideoToken>>,
}

impl ConsoleVideo {
    /// No rooms.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The rooms, by unique name.
    #[must_use]
    pub fn rooms(&self) -> HashMap<String, VideoRoom> {
        lock(&self.rooms).clone()
    }

    /// The tokens issued, oldest first.
    #[must_use]
    pub fn tokens(&self) -> Vec<VideoToken> {
        lock(&self.tokens).clone()
    }
}

#[async_trait]
impl VideoProvider for ConsoleVideo {
    async fn create_room(&self, spec: &RoomSpec) -> Result<VideoRoom, PortError> {
        let mut rooms = lock(&self.rooms);
        let n = rooms.len();
        let room = rooms
            .entry(spec.unique_name.clone())
            .and_modify(|r| {
                if r.status == "completed" {
                    r.status = "in-progress".into();
                }
            })
            .or_insert_with(|| VideoRoom {
                provider_id: format!("console-room-{}", n + 1),
                unique_name: spec.unique_name.clone(),
                status: "in-progress".into(),
            });
        Ok(room.clone())
    }

    fn issue_token(&self, permit: &JoinPermit, now: DateTime<Utc>) -> Result<VideoToken, PortError> {
        if permit.expires_at() <= now {
            return Err(PortError::new(PortErrorKind::Invalid, "the permit has expired"));
        }
        let token = VideoToken {
            token: format!("console:{}:{}", permit.room(), permit.identity()),
            room: permit.room().to_owned(),
            identity: permit.identity().to_owned(),
            expires_at: permit.expires_at(),
        };
        lock(&self.tokens).push(token.clone());
        Ok(token)
    }

    async fn end_room(&self, unique_name: &str) -> Result<(), PortError> {
        if let Some(r) = lock(&self.rooms).get_mut(unique_name) {
            r.status = "completed".into();
        }
        Ok(())
    }
}

/// A payment provider that moves no money. Intents wait until [`ConsolePayments::succeed`]
/// is called, which returns a signed webhook delivery exactly like a provider's, so the
/// whole payment path (webhook, verification, recording) runs locally.
#[derive(Debug)]
pub struct ConsolePayments {
    secret: Vec<u8>,
    intents: Mutex<HashMap<String, PaymentIntent>>,
    refunds: Mutex<Vec<(String, ProviderRefund)>>,
    events: Mutex<u64>,
}

/// A console webhook body.
#[derive(Deserialize)]
struct ConsoleEvent {
    id: String,
    kind: String,
    intent: String,
    amount_cents: i64,
}

impl ConsolePayments {
    /// A gateway whose webhooks are signed with `secret`.
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        Self {
            secret: secret.to_vec(),
            intents: Mutex::new(HashMap::new()),
            refunds: Mutex::new(Vec::new()),
            events: Mutex::new(0),
        }
    }

    /// The signature header for `body`.
    #[must_use]
    pub fn sign(&self, body: &[u8]) -> String {
        hex(&hmac_sha256(&self.secret, body))
    }

    fn delivery(&self, kind: &str, intent: &str, amount: Money) -> Result<(String, Vec<u8>), PortError> {
        let mut n = lock(&self.events);
        *n += 1;
        let body = serde_json::json!({
            "id": format!("console-event-{n}"),
            "kind": kind,
            "intent": intent,
            "amount_cents": amount.cents().map_err(|e| PortError::new(PortErrorKind::Invalid, e.to_string()))?,
        })
        .to_string()
        .into_bytes();
        Ok((self.sign(&body), body))
    }

    /// Marks an intent paid and returns the webhook delivery (signature header, body) a
    /// provider would send.
    ///
    /// # Errors
    /// [`PortErrorKind::NotFound`] for an unknown intent.
    pub fn succeed(&self, intent: &str) -> Result<(String, Vec<u8>), PortError> {
        let amount = {
            let mut intents = lock(&self.intents);
            let i = intents
                .get_mut(intent)
                .ok_or_else(|| PortError::not_found("payment intent"))?;
            i.status = IntentStatus::Succeeded;
            i.amount_received = i.amount;
            i.amount
        };
        self.delivery("succeeded", intent, amount)
    }

    /// The webhook delivery a provider sends after refunds of `intent`: the cumulative
    /// amount refunded so far.
    ///
    /// # Errors
    /// [`PortErrorKind::NotFound`] for an unknown intent.
    pub fn refunded(&self, intent: &str) -> Result<(String, Vec<u8>), PortError> {
        if !lock(&self.intents).contains_key(intent) {
            return Err(PortError::not_found("payment intent"));
        }
        let total = lock(&self.refunds)
            .iter()
            .filter(|(i, _)| i == intent)
            .fold(Money::ZERO, |acc, (_, r)| acc + r.amount);
        self.delivery("refunded", intent, total)
    }

    /// The refunds asked for: (intent, refund).
    #[must_use]
    pub fn refunds(&self) -> Vec<(String, ProviderRefund)> {
        lock(&self.refunds).clone()
    }
}

#[async_trait]
impl PaymentGateway for ConsolePayments {
    async fn create_intent(&self, request: &IntentRequest) -> Result<PaymentIntent, PortError> {
        let key = request.idempotency_key();
        let id = format!("pi_console_{}", &hex(&hmac_sha256(b"intent", key.as_bytes()))[..24]);
        let mut intents = lock(&self.intents);
        let intent = intents.entry(id.clone()).or_insert_with(|| PaymentIntent {
            id: id.clone(),
            amount: request.amount,
            amount_received: Money::ZERO,
            status: IntentStatus::RequiresPaymentMethod,
            client_secret: Some(format!("{id}_secret_console")),
            practice: Some(request.practice),
            invoice: Some(request.invoice),
        });
        tracing::info!(intent = id, "console payment intent: no money will move");
        Ok(intent.clone())
    }

    async fn intent(&self, id: &str) -> Result<PaymentIntent, PortError> {
        lock(&self.intents)
            .get(id)
            .cloned()
            .ok_or_else(|| PortError::not_found("payment intent"))
    }

    async fn refund(&self, request: &RefundRequest) -> Result<ProviderRefund, PortError> {
        let intent = self.intent(&request.intent).await?;
        if intent.status != IntentStatus::Succeeded {
            return Err(PortError::new(PortErrorKind::Invalid, "the payment has not succeeded"));
        }
        let mut refunds = lock(&self.refunds);
        if let Some((_, r)) = refunds.iter().find(|(_, r)| r.id == request.idempotency_key) {
            return Ok(r.clone());
        }
        let done: Money = refunds
            .iter()
            .filter(|(i, _)| *i == request.intent)
            .fold(Money::ZERO, |acc, (_, r)| acc + r.amount);
        let left = intent.amount_received - done;
        let amount = request.amount.unwrap_or(left);
        if amount > left || amount <= Money::ZERO {
            return Err(PortError::new(
                PortErrorKind::Invalid,
                "the refund exceeds what is left to refund",
            ));
        }
        let refund = ProviderRefund {
            id: request.idempotency_key.clone(),
            amount,
            status: "succeeded".into(),
        };
        refunds.push((request.intent.clone(), refund.clone()));
        Ok(refund)
    }

    fn verify_webhook(&self, signature: &str, body: &[u8], _now: DateTime<Utc>) -> Result<PaymentEvent, WebhookError> {
        let mut given = [0u8; 32];
        if signature.len() != 64 || decode_hex(signature, &mut given).is_none() {
            return Err(WebhookError::MalformedSignature);
        }
        if !clinic_core::audit::ct_eq(&given, &hmac_sha256(&self.secret, body)) {
            return Err(WebhookError::BadSignature);
        }
        let e: ConsoleEvent = serde_json::from_slice(body).map_err(|_| WebhookError::MalformedBody)?;
        let (practice, invoice): (Option<PracticeId>, Option<InvoiceId>) = lock(&self.intents)
            .get(&e.intent)
            .map_or((None, None), |i| (i.practice, i.invoice));
        Ok(match e.kind.as_str() {
            "succeeded" => PaymentEvent::Succeeded {
                event_id: e.id,
                intent: e.intent,
                amount: Money::from_cents(e.amount_cents),
                practice,
                invoice,
            },
            "refunded" => PaymentEvent::Refunded {
                event_id: e.id,
                intent: e.intent,
                total_refunded: Money::from_cents(e.amount_cents),
            },
            _ => PaymentEvent::Ignored {
                event_id: e.id,
                event_type: e.kind,
            },
        })
    }
}

fn decode_hex(text: &str, out: &mut [u8]) -> Option<()> {
    let bytes = text.as_bytes();
    for (i, o) in out.iter_mut().enumerate() {
        let hi = char::from(*bytes.get(2 * i)?).to_digit(16)?;
        let lo = char::from(*bytes.get(2 * i + 1)?).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(())
}
