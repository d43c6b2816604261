//! Helpers for the provider adapter tests: form-body matchers and fast retry settings.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use clinic_adapters::http::{HttpSettings, RetryPolicy};
use wiremock::{Match, Request};

/// Retries that do not slow the tests down.
pub fn fast() -> HttpSettings {
    HttpSettings {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_secs(2),
        },
    }
}

/// The pairs of a form-encoded body.
pub fn form(req: &Request) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&req.body).unwrap()
}

/// Matches a form-encoded body that holds exactly these pairs (in any order).
pub struct FormIs(pub Vec<(&'static str, String)>);

impl Match for FormIs {
    fn matches(&self, req: &Request) -> bool {
        let Ok(mut got) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&req.body) else {
            return false;
        };
        let mut want: Vec<(String, String)> = self.0.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        got.sort();
        want.sort();
        got == want
    }
}
