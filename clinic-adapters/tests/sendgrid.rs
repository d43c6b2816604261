//! The SendGrid adapter against a local mock of the v3 API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod providers;

use base64::Engine as _;
use clinic_adapters::sendgrid::{SendGrid, SendGridConfig};
use clinic_core::people::Email;
use clinic_core::ports::{Attachment, EmailMessage, EmailSender, PortErrorKind};
use providers::fast;
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "SG.test-key.abc";

fn sendgrid(base: &str) -> SendGrid {
    let mut c = SendGridConfig::new(
        SecretString::from(KEY),
        Email::parse("rooms@harbour.example").unwrap(),
        "Harbour Psychology",
    );
    c.base_url = base.to_owned();
    c.http = fast();
    SendGrid::new(c).unwrap()
}

fn email() -> EmailMessage {
    EmailMessage {
        to: Email::parse("sam@patient.example").unwrap(),
        reply_to: Some(Email::parse("admin@harbour.example").unwrap()),
        subject: "Invoice INV-000042 from Harbour Psychology".into(),
        text: "Invoice attached.".into(),
        html: Some("<p>Invoice attached.</p>".into()),
        attachments: vec![Attachment {
            filename: "INV-000042.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF-1.4 test".to_vec(),
        }],
    }
}

#[tokio::test]
async fn mail_send_carries_both_bodies_and_the_attachment() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "personalizations": [{"to": [{"email": "sam@patient.example"}]}],
            "from": {"email": "rooms@harbour.example", "name": "Harbour Psychology"},
            "reply_to": {"email": "admin@harbour.example"},
            "subject": "Invoice INV-000042 from Harbour Psychology",
            "content": [
                {"type": "text/plain", "value": "Invoice attached."},
                {"type": "text/html", "value": "<p>Invoice attached.</p>"}
            ],
            "attachments": [{
                "content": base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 test"),
                "type": "application/pdf",
                "filename": "INV-000042.pdf",
                "disposition": "attachment"
            }]
        })))
        .respond_with(ResponseTemplate::new(202).insert_header("x-message-id", "W9mSSuBdRY6j5hQ3QJ0dPQ"))
        .expect(1)
        .mount(&server)
        .await;
    let id = sendgrid(&server.uri()).send(&email()).await.unwrap();
    assert_eq!(id.as_deref(), Some("W9mSSuBdRY6j5hQ3QJ0dPQ"));
}

#[tokio::test]
async fn a_plain_text_email_sends_one_content_part_and_no_attachments() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(body_json(json!({
            "personalizations": [{"to": [{"email": "sam@patient.example"}]}],
            "from": {"email": "rooms@harbour.example", "name": "Harbour Psychology"},
            "subject": "Reminder",
            "content": [{"type": "text/plain", "value": "See you soon."}]
        })))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let mut e = email();
    e.reply_to = None;
    e.subject = "Reminder".into();
    e.text = "See you soon.".into();
    e.html = None;
    e.attachments.clear();
    assert_eq!(sendgrid(&server.uri()).send(&e).await.unwrap(), None);
}

#[tokio::test]
async fn an_invalid_recipient_names_the_field_not_the_address() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{
                "message": "Does not contain a valid address: sam@patient.example",
                "field": "personalizations.0.to.0.email",
                "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to"
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let e = sendgrid(&server.uri()).send(&email()).await.unwrap_err();
    assert_eq!(e.kind(), PortErrorKind::Invalid);
    assert_eq!(
        e.to_string(),
        "invalid: sendgrid: HTTP 400 in personalizations.0.to.0.email"
    );
    assert!(!e.to_string().contains("sam@"));
}

#[tokio::test]
async fn rate_limits_are_retried_and_outages_reported() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(json!({"errors": [{"message": "too many requests", "field": null}]})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(3)
        .mount(&server)
        .await;
    let s = sendgrid(&server.uri());
    assert!(s.send(&email()).await.is_ok(), "a 429 then a 202");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    let e = s.send(&email()).await.unwrap_err();
    assert_eq!(e.kind(), PortErrorKind::Unavailable);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2 + 3,
        "the first try and two retries"
    );
}

#[tokio::test]
async fn bad_keys_and_oversized_messages_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errors": [{"message": "The provided authorization grant is invalid, expired, or revoked", "field": null}]
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(413))
        .with_priority(2)
        .mount(&server)
        .await;
    let s = sendgrid(&server.uri());
    assert_eq!(
        s.send(&email()).await.unwrap_err().kind(),
        PortErrorKind::PermissionDenied
    );
    assert_eq!(s.send(&email()).await.unwrap_err().kind(), PortErrorKind::Invalid);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
