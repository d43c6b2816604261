//! The HTTP client every provider adapter shares: rustls, timeouts, and bounded retries
//! with exponential backoff and full jitter for failures that may succeed later.
//!
//! What is retried:
//! - a connection that could not be made (nothing was sent);
//! - `429 Too Many Requests`, waiting as long as `Retry-After` says (seconds or an HTTP
//!   date) when that is within [`RetryPolicy::max_delay`], otherwise giving up at once;
//! - `5xx` answers;
//! - a timeout after the request was sent, only for requests marked idempotent (a read,
//!   or a write carrying an idempotency key), since the provider may have acted on it.
//!
//! A `4xx` other than 429 is never retried: the request itself is wrong.

use std::time::Duration;

use clinic_core::ports::{PortError, PortErrorKind};

pub use crate::retry::RetryPolicy;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};

/// Connection settings shared by the provider adapters.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// The whole-request timeout.
    pub timeout: Duration,
    /// The connect timeout.
    pub connect_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
}

impl Default for HttpSettings {
    /// 15 s per request, 5 s to connect, the default retries.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }
}

/// A request to send, kept whole so it can be sent again.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Option<(&'static str, Vec<u8>)>,
    /// Safe to send twice (a read, or a write with an idempotency key).
    pub idempotent: bool,
}

impl Call {
    pub fn new(method: Method, url: String) -> Self {
        let idempotent = method == Method::GET || method == Method::DELETE;
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            idempotent,
        }
    }

    /// Adds a header. Secrets (authorization) are marked sensitive so they are never
    /// printed by the client's debug output.
    pub fn header(mut self, name: &'static str, value: &str) -> Result<Self, PortError> {
        let mut v = HeaderValue::from_str(value).map_err(|_| {
            PortError::new(
                PortErrorKind::Invalid,
                format!("the {name} header has invalid characters"),
            )
        })?;
        if name.eq_ignore_ascii_case("authorization") {
            v.set_sensitive(true);
        }
        self.headers.insert(HeaderName::from_static(name), v);
        Ok(self)
    }

    pub fn form(mut self, pairs: &[(String, String)]) -> Result<Self, PortError> {
        let body = serde_urlencoded::to_string(pairs)
            .map_err(|_| PortError::new(PortErrorKind::Invalid, "the form body could not be encoded"))?;
        self.body = Some(("application/x-www-form-urlencoded", body.into_bytes()));
        Ok(self)
    }

    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = Some(("application/json", value.to_string().into_bytes()));
        self
    }

    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }
}

/// A provider's answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// The shared client.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    retry: RetryPolicy,
    provider: &'static str,
}

/// The port error kind for an HTTP status a provider answered with.
pub(crate) fn kind_for_status(status: StatusCode) -> PortErrorKind {
    match status.as_u16() {
        401 | 403 => PortErrorKind::PermissionDenied,
        404 => PortErrorKind::NotFound,
        409 => PortErrorKind::Conflict,
        429 => PortErrorKind::RateLimited,
        500..=599 => PortErrorKind::Unavailable,
        _ => PortErrorKind::Invalid,
    }
}

/// How long `Retry-After` asks us to wait, from seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

impl Http {
    pub fn new(provider: &'static str, settings: &HttpSettings) -> Result<Self, PortError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("clinic-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                PortError::new(
                    PortErrorKind::Unexpected,
                    format!("{provider}: HTTP client setup failed"),
                )
                .with_source(e)
            })?;
        Ok(Self {
            client,
            retry: settings.retry,
            provider,
        })
    }

    /// Sends `call`, retrying what may succeed later. Returns the provider's answer for any
    /// status (the adapter reads its error body); a transport failure after the last try is
    /// [`PortErrorKind::Unavailable`].
    pub async fn send(&self, call: &Call) -> Result<Answer, PortError> {
        let mut attempt = 0;
        loop {
            let mut req = self
                .client
                .request(call.method.clone(), &call.url)
                .headers(call.headers.clone());
            if let Some((content_type, body)) = &call.body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, *content_type)
                    .body(body.clone());
            }
            let last = attempt >= self.retry.max_retries;
            let wait = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !retryable || last {
                        let body = resp.bytes().await.map_err(|e| self.transport(&e))?.to_vec();
                        return Ok(Answer { status, headers, body });
                    }
                    match retry_after(&headers, chrono::Utc::now()) {
                        Some(d) if d > self.retry.max_delay => {
                            let body = resp.bytes().await.map_err(|e| self.transport(&e))?.to_vec();
                            return Ok(Answer { status, headers, body });
                        }
                        Some(d) => d,
                        None => self.retry.backoff(attempt),
                    }
                }
                Err(e) => {
                    let retryable = e.is_connect() || (e.is_timeout() && call.idempotent);
                    if !retryable || last {
                        return Err(self.transport(&e));
                    }
                    self.retry.backoff(attempt)
                }
            };
            tracing::debug!(
                provider = self.provider,
                attempt,
                wait_ms = wait.as_millis(),
                "retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn transport(&self, e: &reqwest::Error) -> PortError {
        // The reqwest error is not attached: its text includes the URL, which can carry
        // account identifiers.
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "failed in transport"
        };
        PortError::new(
            PortErrorKind::Unavailable,
            format!("{}: the request {what}", self.provider),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now: chrono::DateTime<chrono::Utc> = "2026-11-24T01:00:00Z".parse().unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_static("Tue, 24 Nov 2026 01:00:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_static("Tue, 24 Nov 2026 00:59:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO), "a date in the past: now");
        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn statuses_map_to_port_kinds() {
        assert_eq!(
            kind_for_status(StatusCode::UNAUTHORIZED),
            PortErrorKind::PermissionDenied
        );
        assert_eq!(kind_for_status(StatusCode::NOT_FOUND), PortErrorKind::NotFound);
        assert_eq!(
            kind_for_status(StatusCode::TOO_MANY_REQUESTS),
            PortErrorKind::RateLimited
        );
        assert_eq!(kind_for_status(StatusCode::BAD_GATEWAY), PortErrorKind::Unavailable);
        assert_eq!(kind_for_status(StatusCode::PAYMENT_REQUIRED), PortErrorKind::Invalid);
        assert_eq!(kind_for_status(StatusCode::BAD_REQUEST), PortErrorKind::Invalid);
    }
}
