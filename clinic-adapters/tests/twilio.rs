//! The Twilio adapter against a local mock of the Messaging and Video APIs, its access
//! tokens, and callback signatures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod providers;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clinic_adapters::memory::MemoryStore;
use clinic_adapters::twilio::{Twilio, TwilioConfig, callback_signature};
use clinic_core::audit::hmac_sha256;
use clinic_core::people::Phone;
use clinic_core::ports::{
    ApprovedTemplate, CallbackError, Channel, DeliveryStatus, MessageSender, PortErrorKind, TextMessage,
};
use clinic_core::service::Joiner;
use common::{practice_on, utc};
use providers::{FormIs, fast};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AC: &str = "AC0123456789abcdef0123456789abcdef";
const SK: &str = "SK0123456789abcdef0123456789abcdef";
const KEY_SECRET: &str = "api-key-secret";
const AUTH_TOKEN: &str = "auth-token";

fn config(base: &str) -> TwilioConfig {
    let mut c = TwilioConfig::new(AC, SecretString::from(AUTH_TOKEN), SK, SecretString::from(KEY_SECRET));
    c.api_base = base.to_owned();
    c.video_base = base.to_owned();
    c.sms_from = Some(Phone::parse("+61480000000").unwrap());
    c.whatsapp_from = Some(Phone::parse("+61480000001").unwrap());
    c.status_callback = Some("https://clinic.example/api/v1/hooks/twilio/status".into());
    c.http = fast();
    c
}

fn basic() -> String {
    format!("Basic {}", STANDARD.encode(format!("{SK}:{KEY_SECRET}")))
}

fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{AC}/Messages.json")
}

fn sms(body: &str) -> TextMessage {
    TextMessage {
        channel: Channel::Sms,
        to: Phone::parse("0412 345 678").unwrap(),
        body: body.into(),
        template: None,
    }
}

#[tokio::test]
async fn an_sms_is_sent_with_the_exact_form_twilio_expects() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", basic().as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(FormIs(vec![
            ("To", "+61412345678".into()),
            ("From", "+61480000000".into()),
            ("Body", "Harbour Psychology: reminder".into()),
            (
                "StatusCallback",
                "https://clinic.example/api/v1/hooks/twilio/status".into(),
            ),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "status": "queued", "error_code": null
        })))
        .expect(1)
        .mount(&server)
        .await;
    let sent = Twilio::new(config(&server.uri()))
        .unwrap()
        .send(&sms("Harbour Psychology: reminder"))
        .await
        .unwrap();
    assert_eq!(sent.provider_id, "SM1f0e8ae6ade43cb3c0ce4525424e404f");
    assert_eq!(sent.status, DeliveryStatus::Queued);
}

#[tokio::test]
async fn a_business_initiated_whatsapp_message_uses_the_approved_template() {
    let server = MockServer::start().await;
    let mut cfg = config(&server.uri());
    cfg.status_callback = None;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(FormIs(vec![
            ("To", "whatsapp:+61412345678".into()),
            ("From", "whatsapp:+61480000001".into()),
            ("ContentSid", "HXb5b62575e6e4ff6129ad7c8efe1f983e".into()),
            (
                "ContentVariables",
                r#"{"1":"Sam","2":"Tuesday 24 November at 11:00 am"}"#.into(),
            ),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM2", "status": "accepted"})))
        .expect(1)
        .mount(&server)
        .await;
    let message = TextMessage {
        channel: Channel::WhatsApp,
        to: Phone::parse("+61412345678").unwrap(),
        body: "fallback".into(),
        template: Some(ApprovedTemplate {
            id: "HXb5b62575e6e4ff6129ad7c8efe1f983e".into(),
            variables: vec!["Sam".into(), "Tuesday 24 November at 11:00 am".into()],
        }),
    };
    Twilio::new(cfg).unwrap().send(&message).await.unwrap();
}

#[tokio::test]
async fn a_messaging_service_can_be_the_sender() {
    let server = MockServer::start().await;
    let mut cfg = config(&server.uri());
    cfg.messaging_service_sid = Some("MG0123456789abcdef0123456789abcdef".into());
    cfg.status_callback = None;
    Mock::given(method("POST"))
        .and(FormIs(vec![
            ("To", "+61412345678".into()),
            ("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef".into()),
            ("Body", "hi".into()),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM3", "status": "accepted"})))
        .expect(1)
        .mount(&server)
        .await;
    Twilio::new(cfg).unwrap().send(&sms("hi")).await.unwrap();
}

#[tokio::test]
async fn an_invalid_number_reports_the_code_not_the_number() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 21211,
            "message": "The 'To' number +61412345678 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400
        })))
        .expect(1)
        .mount(&server)
        .await;
    let e = Twilio::new(config(&server.uri()))
        .unwrap()
        .send(&sms("x"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), PortErrorKind::Invalid);
    assert_eq!(e.to_string(), "invalid: twilio messages: HTTP 400 error 21211");
}

#[tokio::test]
async fn rate_limits_are_retried_and_auth_failures_are_not() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"code": 20429, "message": "Too Many Requests", "status": 429})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM4", "status": "queued"})))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"code": 20003, "message": "Authenticate", "status": 401})),
        )
        .with_priority(3)
        .mount(&server)
        .await;
    let t = Twilio::new(config(&server.uri())).unwrap();
    assert_eq!(t.send(&sms("x")).await.unwrap().provider_id, "SM4");
    assert_eq!(
        t.send(&sms("x")).await.unwrap_err().kind(),
        PortErrorKind::PermissionDenied
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[test]
fn a_missing_sender_or_malformed_sid_is_refused_up_front() {
    let mut c = config("http://127.0.0.1:9");
    c.account_sid = "AC123".into();
    assert_eq!(Twilio::new(c).unwrap_err().kind(), PortErrorKind::Invalid);
    let mut c = config("http://127.0.0.1:9");
    c.sms_from = None;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt.block_on(Twilio::new(c).unwrap().send(&sms("x"))).unwrap_err();
    assert_eq!(e.to_string(), "invalid: twilio: no SMS sender is configured");
}

#[test]
fn callback_signatures_match_twilios_published_example() {
    // The worked example in Twilio's webhook security documentation (auth token 12345).
    let params: Vec<(String, String)> = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(
        callback_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &params),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
}

#[test]
fn status_callbacks_are_verified_then_read() {
    let t = Twilio::new(config("http://127.0.0.1:9")).unwrap();
    let url = "https://clinic.example/api/v1/hooks/twilio/status";
    let params: Vec<(String, String)> = [
        ("MessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
        ("AccountSid", AC),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let sig = callback_signature(AUTH_TOKEN, url, &params);
    let update = t.verify_callback(url, &params, &sig).unwrap();
    assert_eq!(update.provider_id, "SM1f0e8ae6ade43cb3c0ce4525424e404f");
    assert_eq!(update.status, DeliveryStatus::Undelivered);
    assert_eq!(update.error_code.as_deref(), Some("30003"));
    // Another URL, an altered parameter, or another token's signature is refused.
    assert_eq!(
        t.verify_callback("https://evil.example/status", &params, &sig),
        Err(CallbackError::BadSignature)
    );
    let mut altered = params.clone();
    altered[1].1 = "delivered".into();
    assert_eq!(t.verify_callback(url, &altered, &sig), Err(CallbackError::BadSignature));
    let other = callback_signature("another-token", url, &params);
    assert_eq!(
        t.verify_callback(url, &params, &other),
        Err(CallbackError::BadSignature)
    );
    // Genuine but not a status report.
    let odd = vec![("Foo".to_owned(), "bar".to_owned())];
    let sig = callback_signature(AUTH_TOKEN, url, &odd);
    assert_eq!(t.verify_callback(url, &odd, &sig), Err(CallbackError::Malformed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joined_session_gets_a_group_room_and_a_token_for_that_room_only() {
    let server = MockServer::start().await;
    let f = practice_on(Arc::new(MemoryStore::new())).await;
    let appt = f.ready_video_session(0, "2026-11-24T00:00:00Z").await;
    let room = format!("appt-{}", appt.id);
    Mock::given(method("POST"))
        .and(path("/v1/Rooms"))
        .and(header("authorization", basic().as_str()))
        .and(FormIs(vec![
            ("UniqueName", room.clone()),
            ("Type", "group".into()),
            // The service sees up to 2 patients, plus the practitioner.
            ("MaxParticipants", "3".into()),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "RM2f4b1e9a8b8c4f7d9e6a5b4c3d2e1f00", "unique_name": room, "status": "in-progress", "type": "group"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let twilio = Twilio::new(config(&server.uri())).unwrap();
    f.clock.set(utc("2026-11-23T23:50:00Z"));
    let token = f
        .telehealth()
        .join(f.practice, appt.id, Joiner::Patient(f.patients[0]), &twilio)
        .await
        .unwrap()
        .unwrap();
    let parts: Vec<&str> = token.token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT", "cty": "twilio-fpa;v=1"}));
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let iat = utc("2026-11-23T23:50:00Z").timestamp();
    assert_eq!(
        claims,
        json!({
            "jti": format!("{SK}-{iat}"),
            "iss": SK,
            "sub": AC,
            "iat": iat,
            "nbf": iat,
            "exp": utc("2026-11-24T00:50:00Z").timestamp(),
            "grants": {"identity": format!("patient-{}", f.patients[0]), "video": {"room": room}}
        })
    );
    let expected = hmac_sha256(KEY_SECRET.as_bytes(), format!("{}.{}", parts[0], parts[1]).as_bytes());
    assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap(), expected.to_vec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_that_exists_is_reused_and_ending_twice_succeeds() {
    let server = MockServer::start().await;
    let f = practice_on(Arc::new(MemoryStore::new())).await;
    let appt = f.ready_video_session(0, "2026-11-24T00:00:00Z").await;
    let room = format!("appt-{}", appt.id);
    Mock::given(method("POST"))
        .and(path("/v1/Rooms"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 53113, "message": "Room exists", "more_info": "https://www.twilio.com/docs/errors/53113", "status": 400
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/Rooms/{room}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sid": "RM1", "unique_name": room, "status": "in-progress"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Rooms/{room}")))
        .and(FormIs(vec![("Status", "completed".into())]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sid": "RM1", "unique_name": room, "status": "completed"
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Rooms/{room}")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"code": 20404, "status": 404})))
        .with_priority(2)
        .mount(&server)
        .await;
    let twilio = Twilio::new(config(&server.uri())).unwrap();
    f.clock.set(utc("2026-11-24T00:05:00Z"));
    let th = f.telehealth();
    th.join(f.practice, appt.id, Joiner::Practitioner(f.practitioner.id), &twilio)
        .await
        .unwrap()
        .unwrap();
    th.end_session(f.practice, appt.id, &twilio).await.unwrap();
    th.end_session(f.practice, appt.id, &twilio).await.unwrap();
}
