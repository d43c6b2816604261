//! Typed identifiers.
//!
//! Every aggregate has its own id type so that a `PatientId` can never be passed where a
//! `PractitionerId` is expected. Ids wrap a UUID; new ones come from the
//! [`IdGenerator`](crate::ports::IdGenerator) port (UUID v7 in the shipped adapters, so ids
//! sort by creation time), never from the core itself, which does no randomness.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::FieldError;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $field:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID, typically one from the [`IdGenerator`](crate::ports::IdGenerator) port.
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = FieldError;

            /// Parses the hyphenated UUID form.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| FieldError::new($field, "is not a valid UUID"))
            }
        }
    };
}

id_type!(
    /// A practice: the tenant. Every aggregate carries one and nothing crosses practices.
    PracticeId, "practice_id"
);
id_type!(
    /// A physical location of a practice.
    LocationId, "location_id"
);
id_type!(
    /// A consulting room at a location.
    RoomId, "room_id"
);
id_type!(
    /// A service a practice offers (e.g. a 50-minute individual session).
    ServiceId, "service_id"
);
id_type!(
    /// A patient.
    PatientId, "patient_id"
);
id_type!(
    /// A practitioner (psychologist, doctor, technician ...).
    PractitionerId, "practitioner_id"
);
id_type!(
    /// A user account (patient or staff) that signs in.
    UserId, "user_id"
);
id_type!(
    /// An appointment.
    AppointmentId, "appointment_id"
);
id_type!(
    /// A recurring series of appointments.
    SeriesId, "series_id"
);
id_type!(
    /// A weekly availability template.
    TemplateId, "template_id"
);
id_type!(
    /// An availability exception (leave or extra hours).
    ExceptionId, "exception_id"
);
id_type!(
    /// A referral (GP, psychiatrist or paediatrician) for Medicare-rebated sessions.
    ReferralId, "referral_id"
);
id_type!(
    /// An invoice.
    InvoiceId, "invoice_id"
);
id_type!(
    /// A payment on an invoice.
    PaymentId, "payment_id"
);
id_type!(
    /// A Medicare claim.
    ClaimId, "claim_id"
);
id_type!(
    /// A clinical note.
    NoteId, "note_id"
);
id_type!(
    /// A prescription.
    PrescriptionId, "prescription_id"
);
id_type!(
    /// A test result.
    TestResultId, "test_result_id"
);
id_type!(
    /// A completed outcome measure.
    MeasureId, "measure_id"
);
id_type!(
    /// A waitlist entry.
    WaitlistEntryId, "waitlist_entry_id"
);
id_type!(
    /// A notification in the outbox.
    NotificationId, "notification_id"
);
id_type!(
    /// An item in someone's in-app inbox.
    InboxItemId, "inbox_item_id"
);
id_type!(
    /// A stock item (a medical supply the practice keeps).
    ItemId, "item_id"
);
id_type!(
    /// A stock movement (received, used, adjusted, transferred, written off).
    MovementId, "movement_id"
);
id_type!(
    /// A secure-messaging thread between a patient and their clinicians.
    ThreadId, "thread_id"
);
id_type!(
    /// A secure message in a thread.
    MessageId, "message_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_round_trip() {
        let s = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        let id: PatientId = s.parse().unwrap();
        assert_eq!(id.to_string(), s);
    }

    #[test]
    fn rejects_garbage_naming_the_field() {
        let err = "not-a-uuid".parse::<AppointmentId>().unwrap_err();
        assert_eq!(err.field(), "appointment_id");
    }
}
