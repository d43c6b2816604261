//! Twilio: Video rooms and participant tokens, SMS and WhatsApp messages.
//!
//! APIs implemented:
//! - Programmable Messaging, REST API version `2010-04-01`:
//!   `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded `To`, `From` (or
//!   `MessagingServiceSid`), `Body`, or for a business-initiated WhatsApp message `ContentSid`
//!   and `ContentVariables` (a JSON object of the numbered variables), and `StatusCallback`.
//!   WhatsApp addresses take the `whatsapp:+61…` form. Errors are
//!   `{"code", "message", "more_info", "status"}`; only the numeric code is passed on (the
//!   message can quote the phone number).
//! - Video REST API `v1`: `POST /v1/Rooms` (`UniqueName`, `Type=group`, `MaxParticipants`),
//!   `GET /v1/Rooms/{UniqueName}` when the name is taken (error 53113), and
//!   `POST /v1/Rooms/{UniqueName}` with `Status=completed` to end it.
//! - Access tokens: a JWT (HS256, header `cty: twilio-fpa;v=1`) signed with an API key
//!   secret, `iss` the API key SID, `sub` the account SID, `jti` `<key sid>-<iat>`, and
//!   `grants: {identity, video: {room}}` for the permit's room only.
//! - Request validation for status callbacks: `X-Twilio-Signature` is the base64
//!   HMAC-SHA1, under the auth token, of the full callback URL followed by every POST
//!   parameter's name and value, sorted by name.
//!
//! REST calls authenticate with HTTP Basic as the API key (`SK…:secret`), as Twilio
//! recommends over the account's auth token.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use clinic_core::audit::hmac_sha256;
use clinic_core::people::Phone;
use clinic_core::ports::{
    CallbackError, Channel, DeliveryStatus, DeliveryUpdate, JoinPermit, MessageSender, PortError, PortErrorKind,
    RoomSpec, SentMessage, TextMessage, VideoProvider, VideoRoom, VideoToken,
};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::http::{Answer, Call, Http, HttpSettings, kind_for_status};

/// Twilio settings.
#[derive(Clone, Debug)]
pub struct TwilioConfig {
    /// The account SID (`AC…`).
    pub account_sid: String,
    /// The account's auth token: used only to check callback signatures.
    pub auth_token: SecretString,
    /// An API key SID (`SK…`) for REST calls and token signing.
    pub api_key_sid: String,
    /// The API key's secret.
    pub api_key_secret: SecretString,
    /// The SMS sender: a number, or `None` with a messaging service.
    pub sms_from: Option<Phone>,
    /// A messaging service SID (`MG…`) used as the sender instead of a number.
    pub messaging_service_sid: Option<String>,
    /// The WhatsApp sender number.
    pub whatsapp_from: Option<Phone>,
    /// Where Twilio posts delivery status.
    pub status_callback: Option<String>,
    /// `https://api.twilio.com` unless testing.
    pub api_base: String,
    /// `https://video.twilio.com` unless testing.
    pub video_base: String,
    /// Timeouts and retries.
    pub http: HttpSettings,
}

impl TwilioConfig {
    /// Settings for the live APIs with the defaults and no senders.
    #[must_use]
    pub fn new(account_sid: &str, auth_token: SecretString, api_key_sid: &str, api_key_secret: SecretString) -> Self {
        Self {
            account_sid: account_sid.to_owned(),
            auth_token,
            api_key_sid: api_key_sid.to_owned(),
            api_key_secret,
            sms_from: None,
            messaging_service_sid: None,
            whatsapp_from: None,
            status_callback: None,
            api_base: "https://api.twilio.com".into(),
            video_base: "https://video.twilio.com".into(),
            http: HttpSettings::default(),
        }
    }
}

/// Twilio as a [`VideoProvider`] and a [`MessageSender`].
#[derive(Debug)]
pub struct Twilio {
    config: TwilioConfig,
    http: Http,
}

#[derive(Deserialize)]
struct ApiError {
    code: Option<i64>,
}

#[derive(Deserialize)]
struct MessageBody {
    sid: String,
    status: String,
}

#[derive(Deserialize)]
struct RoomBody {
    sid: String,
    unique_name: String,
    status: String,
}

/// Twilio's message status words, reduced to the port's.
fn delivery_status(word: &str) -> Option<DeliveryStatus> {
    Some(match word {
        "accepted" | "scheduled" | "queued" | "sending" => DeliveryStatus::Queued,
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "undelivered" => DeliveryStatus::Undelivered,
        "failed" | "canceled" => DeliveryStatus::Failed,
        _ => return None,
    })
}

/// The names Twilio gives account, key and service SIDs: two letters and 32 hex digits.
fn check_sid(what: &str, sid: &str, prefix: &str) -> Result<(), PortError> {
    let ok = sid.len() == 34 && sid.starts_with(prefix) && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(PortError::new(
            PortErrorKind::Invalid,
            format!("twilio: the {what} must be {prefix} followed by 32 hex digits"),
        ))
    }
}

/// Room names reach URL paths: letters, digits and `-` only.
fn check_room_name(name: &str) -> Result<(), PortError> {
    if name.is_empty() || name.len() > 128 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(PortError::new(PortErrorKind::Invalid, "twilio: malformed room name"));
    }
    Ok(())
}

/// The signature Twilio sends for a callback to `url` with `params`.
#[must_use]
pub fn callback_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    // HMAC-SHA1 takes a key of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

fn error(provider: &str, answer: &Answer) -> PortError {
    let code = serde_json::from_slice::<ApiError>(&answer.body)
        .ok()
        .and_then(|e| e.code);
    let message = match code {
        Some(c) => format!("{provider}: HTTP {} error {c}", answer.status.as_u16()),
        None => format!("{provider}: HTTP {}", answer.status.as_u16()),
    };
    PortError::new(kind_for_status(answer.status), message)
}

impl Twilio {
    /// Twilio with `config`.
    ///
    /// # Errors
    /// [`PortErrorKind::Invalid`] for malformed SIDs; [`PortErrorKind::Unexpected`] when the
    /// HTTP client cannot start.
    pub fn new(config: TwilioConfig) -> Result<Self, PortError> {
        check_sid("account SID", &config.account_sid, "AC")?;
        check_sid("API key SID", &config.api_key_sid, "SK")?;
        if let Some(mg) = &config.messaging_service_sid {
            check_sid("messaging service SID", mg, "MG")?;
        }
        let http = Http::new("twilio", &config.http)?;
        Ok(Self { config, http })
    }

    fn call(&self, method: Method, url: String) -> Result<Call, PortError> {
        let basic = STANDARD.encode(format!(
            "{}:{}",
            self.config.api_key_sid,
            self.config.api_key_secret.expose_secret()
        ));
        Call::new(method, url).header("authorization", &format!("Basic {basic}"))
    }

    fn video_url(&self, path: &str) -> String {
        format!("{}{path}", self.config.video_base.trim_end_matches('/'))
    }

    async fn room(&self, unique_name: &str) -> Result<VideoRoom, PortError> {
        let call = self.call(Method::GET, self.video_url(&format!("/v1/Rooms/{unique_name}")))?;
        let answer = self.http.send(&call).await?;
        if !answer.status.is_success() {
            return Err(error("twilio video", &answer));
        }
        room(&answer)
    }
}

fn room(answer: &Answer) -> Result<VideoRoom, PortError> {
    let r: RoomBody = serde_json::from_slice(&answer.body)
        .map_err(|_| PortError::new(PortErrorKind::Unexpected, "twilio video: unexpected response body"))?;
    Ok(VideoRoom {
        provider_id: r.sid,
        unique_name: r.unique_name,
        status: r.status,
    })
}

#[async_trait]
impl MessageSender for Twilio {
    async fn send(&self, message: &TextMessage) -> Result<SentMessage, PortError> {
        let mut form: Vec<(String, String)> = Vec::with_capacity(5);
        match message.channel {
            Channel::Sms => {
                form.push(("To".into(), message.to.as_str().to_owned()));
                match (&self.config.messaging_service_sid, &self.config.sms_from) {
                    (Some(mg), _) => form.push(("MessagingServiceSid".into(), mg.clone())),
                    (None, Some(from)) => form.push(("From".into(), from.as_str().to_owned())),
                    (None, None) => {
                        return Err(PortError::new(
                            PortErrorKind::Invalid,
                            "twilio: no SMS sender is configured",
                        ));
                    }
                }
            }
            Channel::WhatsApp => {
                let from = self.config.whatsapp_from.as_ref().ok_or_else(|| {
                    PortError::new(PortErrorKind::Invalid, "twilio: no WhatsApp sender is configured")
                })?;
                form.push(("To".into(), format!("whatsapp:{}", message.to.as_str())));
                form.push(("From".into(), format!("whatsapp:{}", from.as_str())));
            }
        }
        match &message.template {
            Some(t) => {
                let vars: serde_json::Map<String, serde_json::Value> = t
                    .variables
                    .iter()
                    .enumerate()
                    .map(|(i, v)| ((i + 1).to_string(), json!(v)))
                    .collect();
                form.push(("ContentSid".into(), t.id.clone()));
                form.push(("ContentVariables".into(), serde_json::Value::Object(vars).to_string()));
            }
            None => form.push(("Body".into(), message.body.clone())),
        }
        if let Some(cb) = &self.config.status_callback {
            form.push(("StatusCallback".into(), cb.clone()));
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.config.api_base.trim_end_matches('/'),
            self.config.account_sid
        );
        let answer = self.http.send(&self.call(Method::POST, url)?.form(&form)?).await?;
        if !answer.status.is_success() {
            return Err(error("twilio messages", &answer));
        }
        let m: MessageBody = serde_json::from_slice(&answer.body)
            .map_err(|_| PortError::new(PortErrorKind::Unexpected, "twilio messages: unexpected response body"))?;
        Ok(SentMessage {
            provider_id: m.sid,
            status: delivery_status(&m.status).unwrap_or(DeliveryStatus::Queued),
        })
    }

    fn verify_callback(
        &self,
        url: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> Result<DeliveryUpdate, CallbackError> {
        let expected = callback_signature(self.config.auth_token.expose_secret(), url, params);
        // Compare as fixed-size digests so the comparison takes the same time wherever
        // the strings differ.
        let same = clinic_core::audit::ct_eq(
            &clinic_core::audit::Sha256::digest(expected.as_bytes()),
            &clinic_core::audit::Sha256::digest(signature.as_bytes()),
        );
        if expected.is_empty() || !same {
            return Err(CallbackError::BadSignature);
        }
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let provider_id = get("MessageSid").ok_or(CallbackError::Malformed)?.to_owned();
        let status = get("MessageStatus")
            .and_then(delivery_status)
            .ok_or(CallbackError::Malformed)?;
        Ok(DeliveryUpdate {
            provider_id,
            status,
            error_code: get("ErrorCode").filter(|c| !c.is_empty()).map(str::to_owned),
        })
    }
}

#[async_trait]
impl VideoProvider for Twilio {
    async fn create_room(&self, spec: &RoomSpec) -> Result<VideoRoom, PortError> {
        check_room_name(&spec.unique_name)?;
        let form = vec![
            ("UniqueName".to_owned(), spec.unique_name.clone()),
            ("Type".to_owned(), "group".to_owned()),
            ("MaxParticipants".to_owned(), spec.max_participants.to_string()),
        ];
        let answer = self
            .http
            .send(&self.call(Method::POST, self.video_url("/v1/Rooms"))?.form(&form)?)
            .await?;
        if answer.status.is_success() {
            return room(&answer);
        }
        // 53113: a room with this unique name is already in progress; use it.
        let code = serde_json::from_slice::<ApiError>(&answer.body)
            .ok()
            .and_then(|e| e.code);
        if code == Some(53_113) {
            return self.room(&spec.unique_name).await;
        }
        Err(error("twilio video", &answer))
    }

    fn issue_token(&self, permit: &JoinPermit, now: DateTime<Utc>) -> Result<VideoToken, PortError> {
        if permit.expires_at() <= now {
            return Err(PortError::new(
                PortErrorKind::Invalid,
                "twilio video: the permit has expired",
            ));
        }
        let iat = now.timestamp();
        let header = json!({"alg": "HS256", "typ": "JWT", "cty": "twilio-fpa;v=1"});
        let claims = json!({
            "jti": format!("{}-{iat}", self.config.api_key_sid),
            "iss": self.config.api_key_sid,
            "sub": self.config.account_sid,
            "iat": iat,
            "nbf": iat,
            "exp": permit.expires_at().timestamp(),
            "grants": {
                "identity": permit.identity(),
                "video": {"room": permit.room()},
            },
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = hmac_sha256(
            self.config.api_key_secret.expose_secret().as_bytes(),
            signing_input.as_bytes(),
        );
        Ok(VideoToken {
            token: format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)),
            room: permit.room().to_owned(),
            identity: permit.identity().to_owned(),
            expires_at: permit.expires_at(),
        })
    }

    async fn end_room(&self, unique_name: &str) -> Result<(), PortError> {
        check_room_name(unique_name)?;
        let form = vec![("Status".to_owned(), "completed".to_owned())];
        let answer = self
            .http
            .send(
                &self
                    .call(Method::POST, self.video_url(&format!("/v1/Rooms/{unique_name}")))?
                    .form(&form)?
                    .idempotent(),
            )
            .await?;
        // A room that is already over is not found by name: it is ended.
        if answer.status.is_success() || answer.status.as_u16() == 404 {
            return Ok(());
        }
        Err(error("twilio video", &answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(delivery_status("queued"), Some(DeliveryStatus::Queued));
        assert_eq!(delivery_status("delivered"), Some(DeliveryStatus::Delivered));
        assert_eq!(delivery_status("read"), Some(DeliveryStatus::Read));
        assert_eq!(delivery_status("canceled"), Some(DeliveryStatus::Failed));
        assert_eq!(delivery_status("exploded"), None);
    }

    #[test]
    fn sids_and_room_names_are_checked() {
        assert!(check_sid("account SID", &format!("AC{}", "a".repeat(32)), "AC").is_ok());
        assert!(check_sid("account SID", &format!("SK{}", "a".repeat(32)), "AC").is_err());
        assert!(check_sid("account SID", &format!("AC{}", "g".repeat(32)), "AC").is_err());
        assert!(check_sid("account SID", "AC123", "AC").is_err());
        assert!(check_room_name("appt-0190f2c4-6f0e-7d6a-9f44-1a2b3c4d5e6f").is_ok());
        for bad in ["", "a/b", "a?b", "room name", &"a".repeat(129)] {
            assert!(check_room_name(bad).is_err(), "{bad}");
        }
    }
}
