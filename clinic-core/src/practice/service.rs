//! Services a practice offers: length, price, buffers, telehealth, default MBS item.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::non_blank;
use crate::error::FieldError;
use crate::ids::{PracticeId, ServiceId};
use crate::money::Money;

/// A whole number of minutes between 0 and one week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "u32", into = "u32")]
pub struct Minutes(u32);

impl Minutes {
    const MAX: u32 = 7 * 24 * 60;

    /// Minutes, checked.
    ///
    /// # Errors
    /// [`FieldError`] on `field` when over one week.
    pub fn new(field: &'static str, minutes: u32) -> Result<Self, FieldError> {
        if minutes > Self::MAX {
            return Err(FieldError::new(field, "must be at most one week in minutes"));
        }
        Ok(Self(minutes))
    }

    /// For constants known to be in range (checked at compile time).
    #[must_use]
    pub const fn new_const(minutes: u32) -> Self {
        assert!(minutes <= Self::MAX);
        Self(minutes)
    }

    /// The number of minutes.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// As a duration.
    #[must_use]
    pub fn duration(self) -> Duration {
        Duration::minutes(i64::from(self.0))
    }
}

impl TryFrom<u32> for Minutes {
    type Error = FieldError;
    fn try_from(v: u32) -> Result<Self, Self::Error> {
        Minutes::new("minutes", v)
    }
}

impl From<Minutes> for u32 {
    fn from(m: Minutes) -> u32 {
        m.0
    }
}

/// A service a practice offers, e.g. "Individual therapy, 50 minutes".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Service {
    /// Id.
    pub id: ServiceId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// Display name.
    pub name: String,
    /// Session length (at least one minute).
    pub duration: Minutes,
    /// The practice's fee (GST is classified per invoice line by the billing rules).
    pub price: Money,
    /// Practitioner time reserved before the session (preparation).
    pub buffer_before: Minutes,
    /// Practitioner time reserved after the session (notes).
    pub buffer_after: Minutes,
    /// Whether the service may be delivered by video or phone.
    pub telehealth_allowed: bool,
    /// The MBS item usually claimed for it, if any (e.g. `"80110"`).
    pub default_mbs_item: Option<String>,
    /// Most patients in one appointment: 1 for individual, 2+ for couples, family or group.
    pub max_patients: u16,
}

/// The fields of a new service, before validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceSpec {
    /// Display name.
    pub name: String,
    /// Session length in minutes (1 to 480).
    pub duration_minutes: u32,
    /// Fee.
    pub price: Money,
    /// Preparation buffer, minutes.
    pub buffer_before_minutes: u32,
    /// Notes buffer, minutes.
    pub buffer_after_minutes: u32,
    /// Telehealth allowed.
    pub telehealth_allowed: bool,
    /// Default MBS item number.
    pub default_mbs_item: Option<String>,
    /// Most patients per appointment.
    pub max_patients: u16,
}

impl Service {
    /// A validated service.
    ///
    /// # Errors
    /// [`FieldError`] naming the field: blank name, a duration outside 1–480 minutes, a
    /// buffer over 120 minutes, a negative price, an MBS item that is not 1–6 digits, or
    /// `max_patients` of 0.
    pub fn new(id: ServiceId, practice_id: PracticeId, spec: ServiceSpec) -> Result<Self, FieldError> {
        let name = non_blank("name", &spec.name, 120)?;
        if !(1..=480).contains(&spec.duration_minutes) {
            return Err(FieldError::new("duration_minutes", "must be between 1 and 480"));
        }
        for (field, v) in [
            ("buffer_before_minutes", spec.buffer_before_minutes),
            ("buffer_after_minutes", spec.buffer_after_minutes),
        ] {
            if v > 120 {
                return Err(FieldError::new(field, "must be at most 120"));
            }
        }
        if spec.price.is_negative() {
            return Err(FieldError::new("price", "must not be negative"));
        }
        if let Some(item) = &spec.default_mbs_item
            && (item.is_empty() || item.len() > 6 || !item.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(FieldError::new(
                "default_mbs_item",
                "must be an MBS item number of 1 to 6 digits",
            ));
        }
        if spec.max_patients == 0 {
            return Err(FieldError::new("max_patients", "must be at least 1"));
        }
        Ok(Self {
            id,
            practice_id,
            name,
            duration: Minutes::new("duration_minutes", spec.duration_minutes)?,
            price: spec.price,
            buffer_before: Minutes::new("buffer_before_minutes", spec.buffer_before_minutes)?,
            buffer_after: Minutes::new("buffer_after_minutes", spec.buffer_after_minutes)?,
            telehealth_allowed: spec.telehealth_allowed,
            default_mbs_item: spec.default_mbs_item,
            max_patients: spec.max_patients,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn spec() -> ServiceSpec {
        ServiceSpec {
            name: "Individual therapy".into(),
            duration_minutes: 50,
            price: Money::from_cents(22000),
            buffer_before_minutes: 0,
            buffer_after_minutes: 10,
            telehealth_allowed: true,
            default_mbs_item: Some("80110".into()),
            max_patients: 1,
        }
    }

    fn new(s: ServiceSpec) -> Result<Service, FieldError> {
        Service::new(ServiceId::from_uuid(Uuid::nil()), PracticeId::from_uuid(Uuid::nil()), s)
    }

    #[test]
    fn valid_service_builds() {
        let s = new(spec()).unwrap();
        assert_eq!(s.duration.get(), 50);
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(
            new(ServiceSpec {
                duration_minutes: 0,
                ..spec()
            })
            .unwrap_err()
            .field(),
            "duration_minutes"
        );
        assert_eq!(
            new(ServiceSpec {
                duration_minutes: 481,
                ..spec()
            })
            .unwrap_err()
            .field(),
            "duration_minutes"
        );
        assert!(
            new(ServiceSpec {
                duration_minutes: 480,
                ..spec()
            })
            .is_ok()
        );
        assert_eq!(
            new(ServiceSpec {
                buffer_after_minutes: 121,
                ..spec()
            })
            .unwrap_err()
            .field(),
            "buffer_after_minutes"
        );
        assert_eq!(
            new(ServiceSpec {
                price: Money::from_cents(-1),
                ..spec()
            })
            .unwrap_err()
            .field(),
            "price"
        );
        assert_eq!(
            new(ServiceSpec {
                default_mbs_item: Some("80A10".into()),
                ..spec()
            })
            .unwrap_err()
            .field(),
            "default_mbs_item"
        );
        assert_eq!(
            new(ServiceSpec {
                max_patients: 0,
                ..spec()
            })
            .unwrap_err()
            .field(),
            "max_patients"
        );
    }
}
