//! The one error type every port returns.

use std::error::Error as StdError;
use std::fmt;

/// What kind of failure a port reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PortErrorKind {
    /// The record does not exist (in this practice).
    NotFound,
    /// A guard failed or a uniqueness or exclusion rule was hit: the caller may re-read
    /// and decide again.
    Conflict,
    /// The backing service is down or unreachable.
    Unavailable,
    /// The backing service asked us to slow down.
    RateLimited,
    /// The backing service refused our credentials.
    PermissionDenied,
    /// The request was malformed for the backing service.
    Invalid,
    /// Anything else.
    Unexpected,
}

impl PortErrorKind {
    /// The stable machine code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
            Self::RateLimited => "rate_limited",
            Self::PermissionDenied => "permission_denied",
            Self::Invalid => "invalid",
            Self::Unexpected => "unexpected",
        }
    }
}

/// A port failure: its kind, a message safe to log (adapters never put health data or
/// secrets in it) and the adapter's own error as `source`.
#[derive(Debug, thiserror::Error)]
pub struct PortError {
    kind: PortErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl PortError {
    /// A new error.
    #[must_use]
    pub fn new(kind: PortErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the adapter's error.
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Shorthand for a [`PortErrorKind::NotFound`] about `what`.
    #[must_use]
    pub fn not_found(what: &str) -> Self {
        Self::new(PortErrorKind::NotFound, format!("{what} not found"))
    }

    /// Shorthand for a [`PortErrorKind::Conflict`].
    #[must_use]
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::Conflict, message)
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> PortErrorKind {
        self.kind
    }

    /// True when trying again later may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            PortErrorKind::Conflict | PortErrorKind::Unavailable | PortErrorKind::RateLimited
        )
    }
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}
