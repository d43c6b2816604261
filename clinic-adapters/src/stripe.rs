//! Stripe payments: PaymentIntents for invoice balances, refunds, and signed webhooks.
//!
//! Implements the Stripe REST API as pinned by the `Stripe-Version` header
//! [`STRIPE_API_VERSION`] (`2026-09-30.endive`):
//! - `POST /v1/payment_intents` (form-encoded; `amount` in cents, `currency=aud`,
//!   `automatic_payment_methods[enabled]=true`, `metadata[practice_id]`,
//!   `metadata[invoice_id]`, `metadata[attempt]`) with an `Idempotency-Key` header derived
//!   from the invoice and attempt;
//! - `GET /v1/payment_intents/{id}`;
//! - `POST /v1/refunds` (`payment_intent`, optional `amount`) with an `Idempotency-Key`;
//! - authentication by `Authorization: Bearer <secret key>`;
//! - errors as `{"error": {"type", "code", "decline_code", "param", "message"}}`, mapped by
//!   HTTP status (402 card errors are [`PortErrorKind::Invalid`]; 409 idempotency errors
//!   [`PortErrorKind::Conflict`]); Stripe's own `message` is not passed on, only its codes.
//!
//! Webhooks: the `Stripe-Signature` header `t=<unix>,v1=<hex>[,v1=<hex>…]` is an
//! HMAC-SHA256 of `"<t>.<raw body>"` under the endpoint's signing secret. Every `v1` is
//! compared in constant time against every configured secret (several during rotation);
//! deliveries signed more than the tolerance (5 minutes by default) from now are refused.
//! `payment_intent.succeeded`, `payment_intent.payment_failed` and `charge.refunded` are
//! read; everything else is acknowledged as ignored.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clinic_core::audit::{ct_eq, hmac_sha256};
use clinic_core::ids::{InvoiceId, PracticeId};
use clinic_core::money::Money;
use clinic_core::ports::{
    IntentRequest, IntentStatus, PaymentEvent, PaymentGateway, PaymentIntent, PortError, PortErrorKind, ProviderRefund,
    RefundRequest, WebhookError,
};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http::{Call, Http, HttpSettings, kind_for_status};

/// The Stripe API version requests are pinned to.
pub const STRIPE_API_VERSION: &str = "2026-09-30.endive";

/// How far a webhook's signed timestamp may be from now: Stripe's own default, 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Stripe settings.
#[derive(Clone, Debug)]
pub struct StripeConfig {
    /// The secret API key (`sk_live_…` or `sk_test_…`).
    pub secret_key: SecretString,
    /// Webhook signing secrets (`whsec_…`); during rotation, the old and the new.
    pub webhook_secrets: Vec<SecretString>,
    /// The API base, `https://api.stripe.com` unless testing.
    pub base_url: String,
    /// Webhook timestamp tolerance.
    pub tolerance: Duration,
    /// Timeouts and retries.
    pub http: HttpSettings,
}

impl StripeConfig {
    /// Settings for the live API with the defaults.
    #[must_use]
    pub fn new(secret_key: SecretString, webhook_secrets: Vec<SecretString>) -> Self {
        Self {
            secret_key,
            webhook_secrets,
            base_url: "https://api.stripe.com".into(),
            tolerance: DEFAULT_TOLERANCE,
            http: HttpSettings::default(),
        }
    }
}

/// The Stripe [`PaymentGateway`].
#[derive(Debug)]
pub struct Stripe {
    config: StripeConfig,
    http: Http,
}

#[derive(Deserialize)]
struct ApiError {
    error: ApiErrorBody,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
}

#[derive(Deserialize, Default)]
struct Metadata {
    practice_id: Option<String>,
    invoice_id: Option<String>,
}

#[derive(Deserialize)]
struct IntentBody {
    id: String,
    amount: i64,
    #[serde(default)]
    amount_received: i64,
    status: String,
    client_secret: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    last_payment_error: Option<ApiErrorBody>,
}

#[derive(Deserialize)]
struct RefundBody {
    id: String,
    amount: i64,
    status: Option<String>,
}

#[derive(Deserialize)]
struct ChargeBody {
    payment_intent: Option<String>,
    amount_refunded: i64,
}

#[derive(Deserialize)]
struct EventBody {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

fn status(word: &str) -> Result<IntentStatus, PortError> {
    Ok(match word {
        "requires_payment_method" => IntentStatus::RequiresPaymentMethod,
        "requires_confirmation" => IntentStatus::RequiresConfirmation,
        "requires_action" => IntentStatus::RequiresAction,
        "processing" => IntentStatus::Processing,
        "requires_capture" => IntentStatus::RequiresCapture,
        "canceled" => IntentStatus::Canceled,
        "succeeded" => IntentStatus::Succeeded,
        _ => {
            return Err(PortError::new(
                PortErrorKind::Unexpected,
                "stripe: unknown payment intent status",
            ));
        }
    })
}

fn parse_metadata(m: &Metadata) -> (Option<PracticeId>, Option<InvoiceId>) {
    (
        m.practice_id.as_deref().and_then(|s| s.parse().ok()),
        m.invoice_id.as_deref().and_then(|s| s.parse().ok()),
    )
}

impl IntentBody {
    fn into_intent(self) -> Result<PaymentIntent, PortError> {
        let (practice, invoice) = parse_metadata(&self.metadata);
        Ok(PaymentIntent {
            status: status(&self.status)?,
            id: self.id,
            amount: Money::from_cents(self.amount),
            amount_received: Money::from_cents(self.amount_received),
            client_secret: self.client_secret,
            practice,
            invoice,
        })
    }
}

/// Stripe object ids are ASCII letters, digits and underscores; anything else is refused
/// before it reaches a URL path.
fn check_id(id: &str) -> Result<(), PortError> {
    if id.is_empty() || id.len() > 255 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(PortError::new(PortErrorKind::Invalid, "stripe: malformed object id"));
    }
    Ok(())
}

fn cents(amount: Money) -> Result<i64, PortError> {
    let c = amount
        .cents()
        .map_err(|_| PortError::new(PortErrorKind::Invalid, "stripe: the amount is not whole cents"))?;
    if c <= 0 {
        return Err(PortError::new(
            PortErrorKind::Invalid,
            "stripe: the amount must be positive",
        ));
    }
    Ok(c)
}

/// Parses `t=…,v1=…` into the timestamp and the v1 signatures.
fn parse_signature(header: &str) -> Result<(i64, Vec<[u8; 32]>), WebhookError> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(WebhookError::MalformedSignature)?;
        match k {
            "t" => t = Some(v.parse::<i64>().map_err(|_| WebhookError::MalformedSignature)?),
            "v1" => {
                let mut sig = [0u8; 32];
                // A v1 that is not 32 bytes of hex cannot match; skip it like Stripe's
                // libraries do rather than failing the other signatures.
                if decode_hex(v, &mut sig) {
                    v1.push(sig);
                }
            }
            _ => {}
        }
    }
    match t {
        Some(t) if !v1.is_empty() => Ok((t, v1)),
        _ => Err(WebhookError::MalformedSignature),
    }
}

fn decode_hex(text: &str, out: &mut [u8; 32]) -> bool {
    if text.len() != 64 {
        return false;
    }
    for (i, o) in out.iter_mut().enumerate() {
        match u8::from_str_radix(&text[2 * i..2 * i + 2], 16) {
            Ok(b) => *o = b,
            Err(_) => return false,
        }
    }
    true
}

impl Stripe {
    /// A gateway with `config`.
    ///
    /// # Errors
    /// [`PortErrorKind::Invalid`] for a key that cannot be sent as a header;
    /// [`PortErrorKind::Unexpected`] when the HTTP client cannot start.
    pub fn new(config: StripeConfig) -> Result<Self, PortError> {
        let http = Http::new("stripe", &config.http)?;
        Ok(Self { config, http })
    }

    fn call(&self, method: Method, path: &str) -> Result<Call, PortError> {
        Call::new(method, format!("{}{path}", self.config.base_url.trim_end_matches('/')))
            .header(
                "authorization",
                &format!("Bearer {}", self.config.secret_key.expose_secret()),
            )?
            .header("stripe-version", STRIPE_API_VERSION)
    }

    async fn send<T: for<'de> Deserialize<'de>>(&self, call: &Call) -> Result<T, PortError> {
        let answer = self.http.send(call).await?;
        if answer.status.is_success() {
            return serde_json::from_slice(&answer.body)
                .map_err(|_| PortError::new(PortErrorKind::Unexpected, "stripe: unexpected response body"));
        }
        let mut kind = kind_for_status(answer.status);
        let detail = serde_json::from_slice::<ApiError>(&answer.body).ok().map(|e| e.error);
        let mut message = format!("stripe: HTTP {}", answer.status.as_u16());
        if let Some(d) = detail {
            if d.kind.as_deref() == Some("idempotency_error") {
                kind = PortErrorKind::Conflict;
            }
            for part in [d.kind, d.code, d.decline_code].into_iter().flatten() {
                message.push(' ');
                message.push_str(&part);
            }
        }
        Err(PortError::new(kind, message))
    }

    fn verify_signature(&self, header: &str, body: &[u8], now: DateTime<Utc>) -> Result<(), WebhookError> {
        let (t, signatures) = parse_signature(header)?;
        let mut signed = Vec::with_capacity(body.len() + 12);
        signed.extend_from_slice(t.to_string().as_bytes());
        signed.push(b'.');
        signed.extend_from_slice(body);
        let matched = self.config.webhook_secrets.iter().any(|secret| {
            let expected = hmac_sha256(secret.expose_secret().as_bytes(), &signed);
            signatures.iter().any(|s| ct_eq(s, &expected))
        });
        if !matched {
            return Err(WebhookError::BadSignature);
        }
        let tolerance = i64::try_from(self.config.tolerance.as_secs()).unwrap_or(i64::MAX);
        if (now.timestamp() - t).abs() > tolerance {
            return Err(WebhookError::StaleTimestamp);
        }
        Ok(())
    }
}

#[async_trait]
impl PaymentGateway for Stripe {
    async fn create_intent(&self, request: &IntentRequest) -> Result<PaymentIntent, PortError> {
        let description = match &request.invoice_number {
            Some(n) => format!("Invoice {n}"),
            None => "Invoice payment".to_owned(),
        };
        let form = vec![
            ("amount".to_owned(), cents(request.amount)?.to_string()),
            ("currency".to_owned(), "aud".to_owned()),
            ("automatic_payment_methods[enabled]".to_owned(), "true".to_owned()),
            ("description".to_owned(), description),
            ("metadata[practice_id]".to_owned(), request.practice.to_string()),
            ("metadata[invoice_id]".to_owned(), request.invoice.to_string()),
            ("metadata[attempt]".to_owned(), request.attempt.to_string()),
        ];
        let call = self
            .call(Method::POST, "/v1/payment_intents")?
            .header("idempotency-key", &request.idempotency_key())?
            .form(&form)?
            .idempotent();
        self.send::<IntentBody>(&call).await?.into_intent()
    }

    async fn intent(&self, id: &str) -> Result<PaymentIntent, PortError> {
        check_id(id)?;
        let call = self.call(Method::GET, &format!("/v1/payment_intents/{id}"))?;
        self.send::<IntentBody>(&call).await?.into_intent()
    }

    async fn refund(&self, request: &RefundRequest) -> Result<ProviderRefund, PortError> {
        check_id(&request.intent)?;
        let mut form = vec![("payment_intent".to_owned(), request.intent.clone())];
        if let Some(amount) = request.amount {
            form.push(("amount".to_owned(), cents(amount)?.to_string()));
        }
        let call = self
            .call(Method::POST, "/v1/refunds")?
            .header("idempotency-key", &request.idempotency_key)?
            .form(&form)?
            .idempotent();
        let r: RefundBody = self.send(&call).await?;
        Ok(ProviderRefund {
            id: r.id,
            amount: Money::from_cents(r.amount),
            status: r.status.unwrap_or_else(|| "pending".into()),
        })
    }

    fn verify_webhook(&self, signature: &str, body: &[u8], now: DateTime<Utc>) -> Result<PaymentEvent, WebhookError> {
        self.verify_signature(signature, body, now)?;
        let event: EventBody = serde_json::from_slice(body).map_err(|_| WebhookError::MalformedBody)?;
        let object = event.data.object;
        Ok(match event.kind.as_str() {
            "payment_intent.succeeded" => {
                let pi: IntentBody = serde_json::from_value(object).map_err(|_| WebhookError::MalformedBody)?;
                let (practice, invoice) = parse_metadata(&pi.metadata);
                PaymentEvent::Succeeded {
                    event_id: event.id,
                    intent: pi.id,
                    amount: Money::from_cents(pi.amount_received),
                    practice,
                    invoice,
                }
            }
            "payment_intent.payment_failed" => {
                let pi: IntentBody = serde_json::from_value(object).map_err(|_| WebhookError::MalformedBody)?;
                let (practice, invoice) = parse_metadata(&pi.metadata);
                PaymentEvent::Failed {
                    event_id: event.id,
                    intent: pi.id,
                    code: pi.last_payment_error.and_then(|e| e.decline_code.or(e.code)),
                    practice,
                    invoice,
                }
            }
            "charge.refunded" => {
                let charge: ChargeBody = serde_json::from_value(object).map_err(|_| WebhookError::MalformedBody)?;
                let intent = charge.payment_intent.ok_or(WebhookError::MalformedBody)?;
                PaymentEvent::Refunded {
                    event_id: event.id,
                    intent,
                    total_refunded: Money::from_cents(charge.amount_refunded),
                }
            }
            _ => PaymentEvent::Ignored {
                event_id: event.id,
                event_type: event.kind,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_headers_parse() {
        let good = "a".repeat(64);
        let (t, sigs) = parse_signature(&format!("t=1700000000,v1={good},v0=zz")).unwrap();
        assert_eq!(t, 1_700_000_000);
        assert_eq!(sigs.len(), 1);
        let (_, sigs) = parse_signature(&format!("t=1,v1={good},v1={good}")).unwrap();
        assert_eq!(sigs.len(), 2, "several signatures during secret rotation");
        for bad in [
            "",
            "t=1",
            "v1=abc",
            "t=x,v1=aa",
            &format!("v1={good}"),
            "t=1,v1=short",
            "garbage",
        ] {
            assert_eq!(parse_signature(bad), Err(WebhookError::MalformedSignature), "{bad}");
        }
    }

    #[test]
    fn ids_are_checked_before_they_reach_a_path() {
        assert!(check_id("pi_3MtwBwLkdIwHu7ix28a3tqPa").is_ok());
        for bad in ["", "../v1/charges", "pi_1?expand=x", "pi 1", "pi/1"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
