//! The booking request as it arrives from outside (JSON), before validation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::appointment::DeliveryMode;
use super::series::{Recurrence, SeriesPolicy};
use crate::ids::{LocationId, PatientId, PractitionerId, RoomId, ServiceId};

/// A request to book one appointment (or the first of a series).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// Practitioner.
    pub practitioner_id: PractitionerId,
    /// Service.
    pub service_id: ServiceId,
    /// Location.
    pub location_id: LocationId,
    /// Patients.
    pub patient_ids: Vec<PatientId>,
    /// Room, optional.
    #[serde(default)]
    pub room_id: Option<RoomId>,
    /// Delivery mode; in person when absent.
    #[serde(default = "in_person")]
    pub mode: DeliveryMode,
    /// Start (RFC 3339; converted to UTC).
    pub start: DateTime<Utc>,
    /// Recurrence, for a series.
    #[serde(default)]
    pub recurrence: Option<Recurrence>,
    /// How to book a series with clashes (all or nothing when absent).
    #[serde(default)]
    pub series_policy: Option<SeriesPolicy>,
}

fn in_person() -> DeliveryMode {
    DeliveryMode::InPerson
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minimal_and_rejects_unknown_fields() {
        let id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        let ok = format!(
            r#"{{"practitioner_id":"{id}","service_id":"{id}","location_id":"{id}","patient_ids":["{id}"],"start":"2026-12-01T10:00:00+11:00"}}"#
        );
        let r: BookingRequest = serde_json::from_str(&ok).unwrap();
        assert_eq!(r.mode, DeliveryMode::InPerson);
        assert_eq!(r.start, "2026-11-30T23:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let extra = ok.replace("}", r#","price":0}"#);
        assert!(serde_json::from_str::<BookingRequest>(&extra).is_err());
    }
}
