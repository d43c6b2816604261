//! The console adapters keep what they would send and refuse what cannot be genuine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clinic_adapters::console::{ConsoleEmail, ConsoleMessages, ConsolePayments};
use clinic_core::ids::{InvoiceId, PracticeId};
use clinic_core::money::Money;
use clinic_core::people::{Email, Phone};
use clinic_core::ports::*;
use uuid::Uuid;

#[tokio::test]
async fn email_and_messages_are_kept_in_order() {
    let email = ConsoleEmail::new();
    let m = EmailMessage {
        to: Email::parse("sam@patient.example").unwrap(),
        reply_to: None,
        subject: "Reminder".into(),
        text: "See you soon".into(),
        html: None,
        attachments: vec![],
    };
    assert_eq!(email.send(&m).await.unwrap().as_deref(), Some("console-email-1"));
    assert_eq!(email.send(&m).await.unwrap().as_deref(), Some("console-email-2"));
    assert_eq!(email.sent(), vec![m.clone(), m]);

    let sms = ConsoleMessages::new();
    let t = TextMessage {
        channel: Channel::Sms,
        to: Phone::parse("0412 345 678").unwrap(),
        body: "hi".into(),
        template: None,
    };
    let sent = sms.send(&t).await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Delivered);
    assert_eq!(sms.sent(), vec![t]);
    // Nothing was sent, so no status callback is genuine.
    assert_eq!(
        sms.verify_callback("https://x", &[], "sig"),
        Err(CallbackError::BadSignature)
    );
}

#[tokio::test]
async fn console_payments_are_idempotent_and_signed() {
    let g = ConsolePayments::new(b"secret");
    let practice: PracticeId = Uuid::now_v7().into();
    let invoice: InvoiceId = Uuid::now_v7().into();
    let req = IntentRequest {
        practice,
        invoice,
        invoice_number: Some("7".into()),
        amount: Money::from_cents(5_000),
        attempt: 1,
    };
    let a = g.create_intent(&req).await.unwrap();
    assert_eq!(g.create_intent(&req).await.unwrap().id, a.id);
    let next = IntentRequest { attempt: 2, ..req };
    assert_ne!(
        g.create_intent(&next).await.unwrap().id,
        a.id,
        "a new attempt is a new intent"
    );
    // No refund before the payment succeeds; then no more than was paid.
    let refund = |amount: Option<i64>, key: &str| RefundRequest {
        intent: a.id.clone(),
        amount: amount.map(Money::from_cents),
        idempotency_key: key.into(),
    };
    assert!(g.refund(&refund(None, "r0")).await.is_err());
    let (sig, body) = g.succeed(&a.id).unwrap();
    assert!(matches!(
        g.verify_webhook(&sig, &body, chrono::Utc::now()).unwrap(),
        PaymentEvent::Succeeded { .. }
    ));
    assert_eq!(
        ConsolePayments::new(b"other").verify_webhook(&sig, &body, chrono::Utc::now()),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(
        g.verify_webhook("zz", &body, chrono::Utc::now()),
        Err(WebhookError::MalformedSignature)
    );
    g.refund(&refund(Some(3_000), "r1")).await.unwrap();
    assert_eq!(
        g.refund(&refund(Some(3_000), "r1")).await.unwrap().amount,
        Money::from_cents(3_000),
        "same key, same refund"
    );
    assert!(g.refund(&refund(Some(2_001), "r2")).await.is_err());
    assert_eq!(
        g.refund(&refund(None, "r3")).await.unwrap().amount,
        Money::from_cents(2_000)
    );
    assert_eq!(g.refunds().len(), 2);
}
