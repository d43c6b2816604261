//! Practices (the tenant), their locations, rooms and the services they offer.

mod abn;
mod location;
mod service;

pub use abn::Abn;
pub use location::{AuState, Location, Room};
pub use service::{Minutes, Service, ServiceSpec};

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::PracticeId;

/// A practice: the tenant. Every other aggregate carries its `PracticeId`, and nothing is
/// ever read across practices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Practice {
    /// The tenant id.
    pub id: PracticeId,
    /// Trading name, shown to patients.
    pub name: String,
    /// The practice's booking rules.
    pub policy: BookingPolicy,
    /// The supplier's ABN, required on a tax invoice.
    #[serde(default)]
    pub abn: Option<Abn>,
    /// How patients reach reception (a phone number, say), printed in notices.
    #[serde(default)]
    pub contact: Option<String>,
    /// Staff must sign in with a second factor (patients may choose one).
    #[serde(default)]
    pub staff_two_factor: bool,
}

impl Practice {
    /// A practice with a validated, non-empty name.
    ///
    /// # Errors
    /// [`FieldError`] on `name` when it is blank or over 200 characters.
    pub fn new(id: PracticeId, name: &str, policy: BookingPolicy) -> Result<Self, FieldError> {
        Ok(Self {
            id,
            name: non_blank("name", name, 200)?,
            policy,
            abn: None,
            contact: None,
            staff_two_factor: false,
        })
    }
}

/// When patients may book and cancel. Each practice sets its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BookingPolicy {
    /// A booking must start at least this long after it is made.
    pub min_notice: Minutes,
    /// A booking may start at most this many days ahead.
    pub horizon_days: u16,
    /// A cancellation with less notice than this is flagged late (many practices charge a
    /// fee; Medicare rebates never apply to a missed session).
    pub cancellation_notice: Minutes,
    /// The grid, in minutes, on which slot search offers start times.
    pub slot_grid: Minutes,
    /// The most occurrences a series a patient books for themselves may have (the front
    /// desk books longer ones).
    #[serde(default = "default_patient_series")]
    pub patient_series_max: u16,
    /// The most future appointments a patient may hold that they booked or not, when they
    /// book for themselves: a new account cannot fill a clinician's diary.
    #[serde(default = "default_patient_open")]
    pub patient_open_max: u16,
}

const fn default_patient_series() -> u16 {
    12
}

const fn default_patient_open() -> u16 {
    20
}

impl BookingPolicy {
    /// Minimum notice as a duration.
    #[must_use]
    pub fn min_notice(&self) -> Duration {
        self.min_notice.duration()
    }

    /// Booking horizon as a duration.
    #[must_use]
    pub fn horizon(&self) -> Duration {
        Duration::days(i64::from(self.horizon_days))
    }

    /// Late-cancellation notice as a duration.
    #[must_use]
    pub fn cancellation_notice(&self) -> Duration {
        self.cancellation_notice.duration()
    }
}

impl Default for BookingPolicy {
    /// Two hours' notice, 180 days ahead, 24-hour cancellation notice, a 15-minute grid; a
    /// patient books series of up to 12 sessions and holds up to 20 future appointments.
    fn default() -> Self {
        Self {
            min_notice: Minutes::new_const(120),
            horizon_days: 180,
            cancellation_notice: Minutes::new_const(24 * 60),
            slot_grid: Minutes::new_const(15),
            patient_series_max: default_patient_series(),
            patient_open_max: default_patient_open(),
        }
    }
}

/// Whether `c` is a bidirectional formatting character (Unicode Standard Annex #9: the
/// embeddings, overrides and isolates, and the implicit marks). In a name they make text
/// display in another order than it is stored ("Trojan Source", CVE-2021-42574), so a
/// name on a screen or an invoice could read as someone else's.
#[must_use]
pub(crate) const fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Trims `value` and checks it is non-empty, at most `max` characters, and free of control
/// and bidirectional formatting characters.
pub(crate) fn non_blank(field: &'static str, value: &str, max: usize) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::new(field, "must not be blank"));
    }
    if v.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    if v.chars().any(is_bidi_control) {
        return Err(FieldError::new(
            field,
            "must not contain bidirectional formatting characters",
        ));
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn text_refuses_bidirectional_overrides_and_keeps_right_to_left_letters() {
        // "Ann" + RIGHT-TO-LEFT OVERRIDE + "nhoJ" displays as "AnnJohn" reversed.
        for bad in [
            "Ann\u{202E}nhoJ",
            "\u{2066}Mia\u{2069}",
            "Zo\u{200F}ë",
            "a\u{202A}b",
            "x\u{061C}",
        ] {
            assert_eq!(
                non_blank("given_name", bad, 100).unwrap_err().problem(),
                "must not contain bidirectional formatting characters",
                "{bad:?}"
            );
        }
        // Right-to-left scripts themselves are names like any other.
        assert_eq!(non_blank("given_name", " مريم ", 100).unwrap(), "مريم");
        assert_eq!(non_blank("given_name", "שרה", 100).unwrap(), "שרה");
        assert!(!is_bidi_control('\u{2029}') && !is_bidi_control('\u{2070}') && !is_bidi_control('\u{2065}'));
    }

    #[test]
    fn practice_name_is_trimmed_and_required() {
        let id = PracticeId::from_uuid(Uuid::nil());
        assert_eq!(
            Practice::new(id, "  Harbour Psychology ", BookingPolicy::default())
                .unwrap()
                .name,
            "Harbour Psychology"
        );
        assert_eq!(
            Practice::new(id, "   ", BookingPolicy::default()).unwrap_err().field(),
            "name"
        );
        assert!(Practice::new(id, "a\u{0}b", BookingPolicy::default()).is_err());
    }
}
