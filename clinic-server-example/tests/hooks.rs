//! Provider callbacks over real HTTP: a Stripe payment event applied once however often it
//! arrives, and Twilio delivery reports checked against their signature.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::NaiveDate;
use clinic_adapters::console::{ConsoleEmail, ConsolePayments, ConsoleVideo};
use clinic_adapters::memory::MemoryStore;
use clinic_adapters::pdf::PdfRenderer;
use clinic_adapters::system::{SettableClock, UuidV7Ids};
use clinic_adapters::twilio::{Twilio, TwilioConfig, callback_signature};
use clinic_core::billing::{LineInput, Payer, SupplyKind};
use clinic_core::ids::InvoiceId;
use clinic_core::money::Money;
use clinic_core::ports::IdGeneratorExt;
use clinic_server_example::providers::Integrations;
use clinic_server_example::{AppState, demo, routes};
use secrecy::SecretString;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const AUTH_TOKEN: &str = "twilio-auth-token";
const PUBLIC: &str = "https://clinic.example";

struct App {
    addr: SocketAddr,
    state: AppState,
    payments: Arc<ConsolePayments>,
}

async fn spawn(public_url: Option<&str>) -> App {
    let practice = UuidV7Ids.new_id();
    let clock = Arc::new(SettableClock::new("2026-11-23T00:00:00Z".parse().unwrap()));
    let payments = Arc::new(ConsolePayments::new(b"per-test-secret"));
    let twilio = Arc::new(
        Twilio::new(TwilioConfig::new(
            "AC0123456789abcdef0123456789abcdef",
            SecretString::from(AUTH_TOKEN),
            "SK0123456789abcdef0123456789abcdef",
            SecretString::from("key-secret"),
        ))
        .unwrap(),
    );
    let mut integrations = Integrations::console_only();
    integrations.payments = payments.clone();
    integrations.messages = twilio;
    integrations.email = Arc::new(ConsoleEmail::new());
    integrations.video = Arc::new(ConsoleVideo::new());
    integrations.renderer = Arc::new(PdfRenderer);
    integrations.public_url = public_url.map(str::to_owned);
    let state = AppState::with_clock(Arc::new(MemoryStore::new()), practice, clock).with_integrations(integrations);
    demo::seed(&state, practice, "2026-11-23".parse().unwrap())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = routes::router(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    App { addr, state, payments }
}

async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], content_type: &str, body: &[u8]) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, payload) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(payload).unwrap_or(Value::Null))
}

async fn issued_invoice(app: &App) -> InvoiceId {
    let patients = app.state.store.patients(app.state.practice).await.unwrap();
    let line = LineInput {
        description: "Individual therapy, 50 minutes".into(),
        service_date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        quantity: 1,
        unit_price: Money::from_cents(22_000),
        supply: SupplyKind::PsychologicalService,
        registered_provider: true,
        clinically_necessary: true,
        appointment_id: None,
        medicare: None,
    };
    let inv = app
        .state
        .billing
        .create_invoice(app.state.practice, patients[0].id, Payer::Patient, vec![line])
        .await
        .unwrap();
    app.state
        .billing
        .issue(app.state.practice, inv.id, chrono_tz::Australia::Sydney)
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn a_stripe_event_pays_the_invoice_once_however_often_it_arrives() {
    let app = spawn(Some(PUBLIC)).await;
    let inv = issued_invoice(&app).await;
    let intent = app
        .state
        .billing
        .start_card_payment(app.state.practice, inv, 1, &*app.payments)
        .await
        .unwrap();
    let (signature, body) = app.payments.succeed(&intent.id).unwrap();
    let hook = "/api/v1/hooks/stripe";
    let (status, reply) = post(
        app.addr,
        hook,
        &[("Stripe-Signature", &signature)],
        "application/json",
        &body,
    )
    .await;
    assert_eq!((status, reply["outcome"].as_str()), (200, Some("applied")));
    let (status, reply) = post(
        app.addr,
        hook,
        &[("Stripe-Signature", &signature)],
        "application/json",
        &body,
    )
    .await;
    assert_eq!((status, reply["outcome"].as_str()), (200, Some("already_applied")));
    let stored = app.state.store.invoice(app.state.practice, inv).await.unwrap();
    assert_eq!(stored.payments.len(), 1);
    assert_eq!(stored.balance(), Money::ZERO);

    let (status, reply) = post(
        app.addr,
        hook,
        &[("Stripe-Signature", "0".repeat(64).as_str())],
        "application/json",
        &body,
    )
    .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (400, Some("webhook_signature_invalid"))
    );
    let (status, reply) = post(app.addr, hook, &[], "application/json", &body).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (400, Some("webhook_signature_malformed"))
    );
}

#[tokio::test]
async fn twilio_delivery_reports_are_accepted_only_with_a_valid_signature() {
    let app = spawn(Some(PUBLIC)).await;
    let params: Vec<(String, String)> = vec![
        ("MessageSid".into(), "SM1f0e8ae6ade43cb3c0ce4525424e404f".into()),
        ("MessageStatus".into(), "delivered".into()),
        ("AccountSid".into(), "AC0123456789abcdef0123456789abcdef".into()),
    ];
    let body = serde_urlencoded::to_string(&params).unwrap();
    let path = "/api/v1/hooks/twilio/status";
    let signature = callback_signature(AUTH_TOKEN, &format!("{PUBLIC}{path}"), &params);
    let form = "application/x-www-form-urlencoded";
    let (status, _) = post(
        app.addr,
        path,
        &[("X-Twilio-Signature", &signature)],
        form,
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 204);
    let forged = body.replace("delivered", "failed");
    let (status, reply) = post(
        app.addr,
        path,
        &[("X-Twilio-Signature", &signature)],
        form,
        forged.as_bytes(),
    )
    .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (403, Some("callback_signature_invalid"))
    );

    // Without a public URL the signature cannot be checked, so nothing is accepted.
    let bare = spawn(None).await;
    let (status, reply) = post(
        bare.addr,
        path,
        &[("X-Twilio-Signature", &signature)],
        form,
        body.as_bytes(),
    )
    .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (503, Some("public_url_not_configured"))
    );
}
