//! Live calls to the real providers' test modes, run only when their credentials are in
//! the environment; otherwise each test says what it needs and returns.
//!
//! - `STRIPE_TEST_SECRET_KEY` (an `sk_test_…` key): creates, reads and refunds nothing
//!   but a $1.00 test-mode PaymentIntent.
//! - `SENDGRID_API_KEY`, `SENDGRID_FROM`, `LIVE_EMAIL_TO`: sends one email.
//! - `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, `TWILIO_API_KEY_SID`, `TWILIO_API_KEY_SECRET`:
//!   creates and ends one video room.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clinic_core::ports::*;
use secrecy::SecretString;

fn vars(names: &[&str]) -> Option<Vec<String>> {
    let values: Vec<Option<String>> = names
        .iter()
        .map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        .collect();
    if values.iter().all(Option::is_some) {
        Some(values.into_iter().flatten().collect())
    } else {
        eprintln!("skipped: set {} to run this live test", names.join(", "));
        None
    }
}

#[tokio::test]
async fn stripe_test_mode_payment_intent() {
    let Some(v) = vars(&["STRIPE_TEST_SECRET_KEY"]) else {
        return;
    };
    assert!(v[0].starts_with("sk_test_"), "live tests only ever use a test-mode key");
    let stripe = clinic_adapters::stripe::Stripe::new(clinic_adapters::stripe::StripeConfig::new(
        SecretString::from(v[0].clone()),
        vec![SecretString::from("whsec_unused")],
    ))
    .unwrap();
    let req = IntentRequest {
        practice: uuid::Uuid::now_v7().into(),
        invoice: uuid::Uuid::now_v7().into(),
        invoice_number: Some("LIVE-TEST".into()),
        amount: clinic_core::money::Money::from_cents(100),
        attempt: 1,
    };
    let created = stripe.create_intent(&req).await.unwrap();
    assert_eq!(stripe.create_intent(&req).await.unwrap().id, created.id, "idempotent");
    let read = stripe.intent(&created.id).await.unwrap();
    assert_eq!(read.invoice, Some(req.invoice));
}

#[tokio::test]
async fn sendgrid_sends_one_email() {
    let Some(v) = vars(&["SENDGRID_API_KEY", "SENDGRID_FROM", "LIVE_EMAIL_TO"]) else {
        return;
    };
    let sg = clinic_adapters::sendgrid::SendGrid::new(clinic_adapters::sendgrid::SendGridConfig::new(
        SecretString::from(v[0].clone()),
        clinic_core::people::Email::parse(&v[1]).unwrap(),
        "clinic-rs live test",
    ))
    .unwrap();
    let email = EmailMessage {
        to: clinic_core::people::Email::parse(&v[2]).unwrap(),
        reply_to: None,
        subject: "clinic-rs live test".into(),
        text: "This is a test message.".into(),
        html: None,
        attachments: vec![],
    };
    sg.send(&email).await.unwrap();
}

#[tokio::test]
async fn twilio_creates_and_ends_a_room() {
    let Some(v) = vars(&[
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_KEY_SID",
        "TWILIO_API_KEY_SECRET",
    ]) else {
        return;
    };
    let t = clinic_adapters::twilio::Twilio::new(clinic_adapters::twilio::TwilioConfig::new(
        &v[0],
        SecretString::from(v[1].clone()),
        &v[2],
        SecretString::from(v[3].clone()),
    ))
    .unwrap();
    let spec = RoomSpec::for_appointment(uuid::Uuid::now_v7().into(), 1);
    let room = t.create_room(&spec).await.unwrap();
    assert_eq!(room.unique_name, spec.unique_name);
    t.end_room(&spec.unique_name).await.unwrap();
}
