//! The Stripe adapter against a local mock of the Stripe API: the exact requests, the
//! documented error shapes, retries, and webhook signatures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod providers;

use chrono::{DateTime, Duration, Utc};
use clinic_adapters::stripe::{STRIPE_API_VERSION, Stripe, StripeConfig};
use clinic_core::audit::{hex, hmac_sha256};
use clinic_core::ids::{InvoiceId, PracticeId};
use clinic_core::money::Money;
use clinic_core::ports::{
    IntentRequest, IntentStatus, PaymentEvent, PaymentGateway, PortErrorKind, RefundRequest, WebhookError,
};
use providers::{FormIs, fast};
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk_test_51Hxyz";
const WHSEC: &str = "whsec_current";
const OLD_WHSEC: &str = "whsec_previous";

fn ids() -> (PracticeId, InvoiceId) {
    (
        Uuid::parse_str("0190f2c4-6f0e-7d6a-9f44-1a2b3c4d5e6f").unwrap().into(),
        Uuid::parse_str("0190f2c4-7000-7000-8000-000000000042").unwrap().into(),
    )
}

fn stripe(base: &str) -> Stripe {
    let mut c = StripeConfig::new(
        SecretString::from(KEY),
        vec![SecretString::from(WHSEC), SecretString::from(OLD_WHSEC)],
    );
    c.base_url = base.to_owned();
    c.http = fast();
    Stripe::new(c).unwrap()
}

fn request() -> IntentRequest {
    let (practice, invoice) = ids();
    IntentRequest {
        practice,
        invoice,
        invoice_number: Some("INV-000042".into()),
        amount: Money::from_cents(9_545),
        attempt: 1,
    }
}

fn intent_json(status: &str, received: i64) -> serde_json::Value {
    let (practice, invoice) = ids();
    json!({
        "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "object": "payment_intent",
        "amount": 9545,
        "amount_received": received,
        "currency": "aud",
        "status": status,
        "client_secret": "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH",
        "metadata": {"practice_id": practice.to_string(), "invoice_id": invoice.to_string(), "attempt": "1"}
    })
}

#[tokio::test]
async fn a_payment_intent_is_created_with_the_exact_request_stripe_expects() {
    let server = MockServer::start().await;
    let (practice, invoice) = ids();
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("stripe-version", STRIPE_API_VERSION))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header(
            "idempotency-key",
            format!("invoice-{invoice}-attempt-1").as_str(),
        ))
        .and(FormIs(vec![
            ("amount", "9545".into()),
            ("currency", "aud".into()),
            ("automatic_payment_methods[enabled]", "true".into()),
            ("description", "Invoice INV-000042".into()),
            ("metadata[practice_id]", practice.to_string()),
            ("metadata[invoice_id]", invoice.to_string()),
            ("metadata[attempt]", "1".into()),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent_json("requires_payment_method", 0)))
        .expect(1)
        .mount(&server)
        .await;
    let intent = stripe(&server.uri()).create_intent(&request()).await.unwrap();
    assert_eq!(intent.id, "pi_3MtwBwLkdIwHu7ix28a3tqPa");
    assert_eq!(intent.amount, Money::from_cents(9_545));
    assert_eq!(intent.status, IntentStatus::RequiresPaymentMethod);
    assert_eq!(intent.practice, Some(practice));
    assert_eq!(intent.invoice, Some(invoice));
    assert!(intent.client_secret.is_some());
    assert!(
        !format!("{intent:?}").contains("secret_YrKJ"),
        "the client secret is never printed"
    );
}

#[tokio::test]
async fn a_server_error_is_retried_with_the_same_idempotency_key_so_it_charges_once() {
    let server = MockServer::start().await;
    let key = request().idempotency_key();
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"type": "api_error"}})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent_json("requires_payment_method", 0)))
        .mount(&server)
        .await;
    stripe(&server.uri()).create_intent(&request()).await.unwrap();
    let seen = server.received_requests().await.unwrap();
    assert_eq!(seen.len(), 2);
    for r in &seen {
        assert_eq!(r.headers.get("idempotency-key").unwrap().to_str().unwrap(), key);
    }
}

#[tokio::test]
async fn a_declined_card_is_not_retried_and_reports_only_codes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({
            "error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
                "payment_intent": {"id": "pi_x"}
            }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let e = stripe(&server.uri()).create_intent(&request()).await.unwrap_err();
    assert_eq!(e.kind(), PortErrorKind::Invalid);
    assert_eq!(
        e.to_string(),
        "invalid: stripe: HTTP 402 card_error card_declined insufficient_funds"
    );
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after_or_give_up_when_it_is_too_long() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/pi_soon"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": {"type": "invalid_request_error", "code": "rate_limit"}})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let mut ok = intent_json("succeeded", 9545);
    ok["id"] = json!("pi_soon");
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/pi_soon"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok))
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let intent = stripe(&server.uri()).intent("pi_soon").await.unwrap();
    assert_eq!(intent.status, IntentStatus::Succeeded);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "waited as asked"
    );

    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/pi_later"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    let e = stripe(&server.uri()).intent("pi_later").await.unwrap_err();
    assert_eq!(e.kind(), PortErrorKind::RateLimited);
}

#[tokio::test]
async fn a_bad_key_is_permission_denied_without_the_key_in_the_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"type": "invalid_request_error", "message": format!("Invalid API Key provided: {KEY}")}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let e = stripe(&server.uri()).intent("pi_1").await.unwrap_err();
    assert_eq!(e.kind(), PortErrorKind::PermissionDenied);
    assert!(!e.to_string().contains(KEY));
    assert!(
        !format!("{:?}", stripe(&server.uri())).contains(KEY),
        "the key is redacted in Debug"
    );
}

#[tokio::test]
async fn an_unreachable_api_is_unavailable_after_bounded_retries() {
    // Nothing listens on this port once the listener is dropped.
    let uri = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let e = stripe(&uri).intent("pi_1").await.unwrap_err();
    assert_eq!(e.kind(), PortErrorKind::Unavailable);
    assert!(e.to_string().contains("could not connect"), "{e}");
}

#[tokio::test]
async fn refunds_name_the_intent_and_the_amount() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("idempotency-key", "refund-inv42-1"))
        .and(FormIs(vec![
            ("payment_intent", "pi_3MtwBwLkdIwHu7ix28a3tqPa".into()),
            ("amount", "2000".into()),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "re_1Nispe2eZvKYlo2Cd31jOCgZ", "object": "refund", "amount": 2000, "status": "succeeded",
            "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let r = stripe(&server.uri())
        .refund(&RefundRequest {
            intent: "pi_3MtwBwLkdIwHu7ix28a3tqPa".into(),
            amount: Some(Money::from_cents(2_000)),
            idempotency_key: "refund-inv42-1".into(),
        })
        .await
        .unwrap();
    assert_eq!(r.amount, Money::from_cents(2_000));
    assert_eq!(r.status, "succeeded");
    // A full refund sends no amount.
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(FormIs(vec![("payment_intent", "pi_full".into())]))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "re_2", "amount": 9545, "status": "pending"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let full = stripe(&server.uri())
        .refund(&RefundRequest {
            intent: "pi_full".into(),
            amount: None,
            idempotency_key: "refund-inv42-2".into(),
        })
        .await
        .unwrap();
    assert_eq!(full.amount, Money::from_cents(9_545));
    assert_eq!(
        stripe(&server.uri())
            .refund(&RefundRequest {
                intent: "../charges".into(),
                amount: None,
                idempotency_key: "k".into(),
            })
            .await
            .unwrap_err()
            .kind(),
        PortErrorKind::Invalid
    );
}

fn now() -> DateTime<Utc> {
    "2026-11-24T01:00:00Z".parse().unwrap()
}

fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    hex(&hmac_sha256(secret.as_bytes(), &signed))
}

fn event(kind: &str, object: &serde_json::Value) -> Vec<u8> {
    json!({"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "object": "event", "type": kind,
           "api_version": STRIPE_API_VERSION, "data": {"object": object}})
    .to_string()
    .into_bytes()
}

#[test]
fn webhooks_are_verified_before_they_are_read() {
    let s = stripe("http://127.0.0.1:9");
    let (practice, invoice) = ids();
    let body = event("payment_intent.succeeded", &intent_json("succeeded", 9545));
    let t = now().timestamp();
    let good = format!("t={t},v1={}", sign(WHSEC, t, &body));
    assert_eq!(
        s.verify_webhook(&good, &body, now()).unwrap(),
        PaymentEvent::Succeeded {
            event_id: "evt_1NG8Du2eZvKYlo2CUI79vXWy".into(),
            intent: "pi_3MtwBwLkdIwHu7ix28a3tqPa".into(),
            amount: Money::from_cents(9_545),
            practice: Some(practice),
            invoice: Some(invoice),
        }
    );
    // During rotation a delivery signed with the previous secret, or carrying both
    // signatures, is accepted.
    let old = format!("t={t},v1={}", sign(OLD_WHSEC, t, &body));
    assert!(s.verify_webhook(&old, &body, now()).is_ok());
    let both = format!(
        "t={t},v1={},v1={}",
        sign("whsec_unknown", t, &body),
        sign(WHSEC, t, &body)
    );
    assert!(s.verify_webhook(&both, &body, now()).is_ok());
    // A changed byte, another secret, or a changed timestamp fails.
    let mut tampered = body.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    assert_eq!(
        s.verify_webhook(&good, &tampered, now()),
        Err(WebhookError::BadSignature)
    );
    let other = format!("t={t},v1={}", sign("whsec_unknown", t, &body));
    assert_eq!(s.verify_webhook(&other, &body, now()), Err(WebhookError::BadSignature));
    let moved = format!("t={},v1={}", t + 1, sign(WHSEC, t, &body));
    assert_eq!(s.verify_webhook(&moved, &body, now()), Err(WebhookError::BadSignature));
    // Five minutes either way is the edge of the tolerance.
    for (offset, ok) in [(300, true), (301, false), (-300, true), (-301, false)] {
        let at = t - offset;
        let h = format!("t={at},v1={}", sign(WHSEC, at, &body));
        assert_eq!(s.verify_webhook(&h, &body, now()).is_ok(), ok, "{offset}");
        if !ok {
            assert_eq!(s.verify_webhook(&h, &body, now()), Err(WebhookError::StaleTimestamp));
        }
    }
    assert_eq!(
        s.verify_webhook("", &body, now()),
        Err(WebhookError::MalformedSignature)
    );
    // A signed body that is not an event.
    let junk = b"not json".to_vec();
    let h = format!("t={t},v1={}", sign(WHSEC, t, &junk));
    assert_eq!(s.verify_webhook(&h, &junk, now()), Err(WebhookError::MalformedBody));
    let _ = Duration::zero();
}

#[test]
fn failures_refunds_and_other_events_are_read() {
    let s = stripe("http://127.0.0.1:9");
    let t = now().timestamp();
    let deliver = |body: Vec<u8>| {
        let h = format!("t={t},v1={}", sign(WHSEC, t, &body));
        s.verify_webhook(&h, &body, now()).unwrap()
    };
    let mut failed = intent_json("requires_payment_method", 0);
    failed["last_payment_error"] =
        json!({"type": "card_error", "code": "card_declined", "decline_code": "stolen_card"});
    match deliver(event("payment_intent.payment_failed", &failed)) {
        PaymentEvent::Failed { code, invoice, .. } => {
            assert_eq!(code.as_deref(), Some("stolen_card"));
            assert_eq!(invoice, Some(ids().1));
        }
        other => panic!("{other:?}"),
    }
    let charge = json!({"id": "ch_3MmlLrLkdIwHu7ix0snN0B15", "object": "charge", "amount": 9545,
                        "amount_refunded": 2000, "refunded": false, "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa"});
    assert_eq!(
        deliver(event("charge.refunded", &charge)),
        PaymentEvent::Refunded {
            event_id: "evt_1NG8Du2eZvKYlo2CUI79vXWy".into(),
            intent: "pi_3MtwBwLkdIwHu7ix28a3tqPa".into(),
            total_refunded: Money::from_cents(2_000),
        }
    );
    assert_eq!(
        deliver(event("customer.created", &json!({"id": "cus_1"}))),
        PaymentEvent::Ignored {
            event_id: "evt_1NG8Du2eZvKYlo2CUI79vXWy".into(),
            event_type: "customer.created".into(),
        }
    );
}
