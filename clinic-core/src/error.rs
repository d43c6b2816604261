//! Validation errors shared by every constructor in the core.

use std::fmt;

/// A value that failed validation: which field, and what was wrong with it.
///
/// The message never repeats the rejected value: many fields here (Medicare numbers,
/// names, dates of birth) are personal or health information, and errors end up in logs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    field: &'static str,
    problem: String,
}

impl FieldError {
    /// A new error for `field`, saying what was wrong.
    #[must_use]
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }

    /// The field that failed, as named in the API (snake_case).
    #[must_use]
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// What was wrong with it.
    #[must_use]
    pub fn problem(&self) -> &str {
        &self.problem
    }

    /// The stable machine code of every validation failure.
    #[must_use]
    pub fn code(&self) -> &'static str {
        "invalid_field"
    }
}

/// Formats a list of field errors as one line, for callers that collect several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
