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
    /// Two hours' notice, 180 days ahead, 24-hour cancellation notice, a 15-minute grid.
    fn default() -> Self {
        Self {
            min_notice: Minutes::new_const(120),
            horizon_days: 180,
            cancellation_notice: Minutes::new_const(24 * 60),
            slot_grid: Minutes::new_const(15),
        }
    }
}

/// Trims `value` and checks it is non-empty and at most `max` characters.
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
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

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
