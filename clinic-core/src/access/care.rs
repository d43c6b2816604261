//! Care relationships as records: who treats whom, on what basis, from when until when.
//!
//! A clinician's "own" patients (roles matrix, `shared/domain/roles.md`) are those the
//! practice put in their care: booked with them by the front desk or by the patient
//! (the appointment is the record, while it is not cancelled), or assigned to them by a
//! manager or the front desk (an [`CareBasis::Assigned`] record, ended by removing it).
//! Break-glass is a record too: a clinician opens a record outside their care with a
//! stated reason, for [`BREAK_GLASS_TTL`]; it lets them read the clinical record, flagged
//! for review on every read, and never write.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::FieldError;
use crate::ids::{PatientId, PracticeId, PractitionerId, UserId};

/// How long a break-glass opening lasts: four hours, a clinical emergency's working time,
/// after which the clinician asks again (with a new reason) or the practice assigns them.
pub const BREAK_GLASS_TTL: Duration = Duration::hours(4);

/// The longest break-glass reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Why a clinician is in a patient's care.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum CareBasis {
    /// The practice assigned the patient to the clinician (intake, referral, a manager).
    Assigned,
    /// The clinician opened the record in an emergency, with this reason.
    BreakGlass {
        /// The stated reason (kept in the record and the audit trail).
        reason: String,
    },
}

/// One care relationship.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CareRelationship {
    /// Its id.
    pub id: Uuid,
    /// The practice.
    pub practice_id: PracticeId,
    /// The clinician.
    pub practitioner_id: PractitionerId,
    /// The patient.
    pub patient_id: PatientId,
    /// Why.
    #[serde(flatten)]
    pub basis: CareBasis,
    /// From when.
    pub from: DateTime<Utc>,
    /// Until when (exclusive); open-ended while `None`.
    pub until: Option<DateTime<Utc>>,
    /// Who made it.
    pub by: UserId,
}

impl CareRelationship {
    /// Whether it is in force at `at`: from its start (inclusive) to its end (exclusive).
    #[must_use]
    pub fn in_force(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && self.until.is_none_or(|u| at < u)
    }

    /// The break-glass reason, for an opening of that kind.
    #[must_use]
    pub fn break_glass_reason(&self) -> Option<&str> {
        match &self.basis {
            CareBasis::BreakGlass { reason } => Some(reason),
            CareBasis::Assigned => None,
        }
    }
}

/// A break-glass reason: trimmed, 10 to [`MAX_REASON_CHARS`] characters (a reviewer must be
/// able to tell why), no control characters.
///
/// # Errors
/// A [`FieldError`] on `reason`.
pub fn break_glass_reason(text: &str) -> Result<String, FieldError> {
    let t = text.trim();
    if t.chars().count() < 10 {
        return Err(FieldError::new("reason", "must say why, in at least 10 characters"));
    }
    if t.chars().count() > MAX_REASON_CHARS {
        return Err(FieldError::new(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters"),
        ));
    }
    if t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(FieldError::new("reason", "must not contain control characters"));
    }
    Ok(t.to_owned())
}

/// How a clinician stands to a patient at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Care {
    /// In their care: the patient is their own.
    Treats,
    /// Opened by break-glass, with the reason: clinical reads allowed and flagged.
    BreakGlass(String),
    /// Neither.
    None,
}

/// How `practitioner` stands to the patient at `at`, from whether an appointment makes
/// them treat the patient and the patient's care records.
#[must_use]
pub fn care_at(booked: bool, records: &[CareRelationship], practitioner: PractitionerId, at: DateTime<Utc>) -> Care {
    let mine = || {
        records
            .iter()
            .filter(move |r| r.practitioner_id == practitioner && r.in_force(at))
    };
    if booked || mine().any(|r| r.basis == CareBasis::Assigned) {
        return Care::Treats;
    }
    mine()
        .filter_map(CareRelationship::break_glass_reason)
        .next()
        .map_or(Care::None, |r| Care::BreakGlass(r.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn record(basis: CareBasis, from: &str, until: Option<&str>) -> CareRelationship {
        CareRelationship {
            id: Uuid::nil(),
            practice_id: Uuid::nil().into(),
            practitioner_id: Uuid::nil().into(),
            patient_id: Uuid::nil().into(),
            basis,
            from: at(from),
            until: until.map(at),
            by: Uuid::nil().into(),
        }
    }

    #[test]
    fn a_relationship_is_in_force_from_its_start_to_just_before_its_end() {
        let r = record(
            CareBasis::Assigned,
            "2026-12-01T00:00:00Z",
            Some("2026-12-02T00:00:00Z"),
        );
        assert!(!r.in_force(at("2026-11-30T23:59:59Z")));
        assert!(r.in_force(at("2026-12-01T00:00:00Z")));
        assert!(r.in_force(at("2026-12-01T23:59:59Z")));
        assert!(!r.in_force(at("2026-12-02T00:00:00Z")), "ended at its end");
        let open = record(CareBasis::Assigned, "2026-12-01T00:00:00Z", None);
        assert!(open.in_force(at("2036-12-01T00:00:00Z")));
    }

    #[test]
    fn break_glass_reads_flagged_for_four_hours_and_an_assignment_treats() {
        let me: PractitionerId = Uuid::nil().into();
        let glass = record(
            CareBasis::BreakGlass {
                reason: "patient in crisis at reception".into(),
            },
            "2026-12-01T00:00:00Z",
            Some("2026-12-01T04:00:00Z"),
        );
        let records = [glass];
        assert_eq!(
            care_at(false, &records, me, at("2026-12-01T03:59:59Z")),
            Care::BreakGlass("patient in crisis at reception".into())
        );
        assert_eq!(
            care_at(false, &records, me, at("2026-12-01T04:00:00Z")),
            Care::None,
            "time-boxed"
        );
        assert_eq!(
            care_at(true, &records, me, at("2026-12-01T01:00:00Z")),
            Care::Treats,
            "a booking outranks it"
        );
        let other: PractitionerId = Uuid::from_u128(7).into();
        assert_eq!(
            care_at(false, &records, other, at("2026-12-01T01:00:00Z")),
            Care::None,
            "someone else's"
        );
        let assigned = [record(
            CareBasis::Assigned,
            "2026-12-01T00:00:00Z",
            Some("2026-12-05T00:00:00Z"),
        )];
        assert_eq!(care_at(false, &assigned, me, at("2026-12-04T00:00:00Z")), Care::Treats);
        assert_eq!(
            care_at(false, &assigned, me, at("2026-12-05T00:00:00Z")),
            Care::None,
            "ended"
        );
        assert_eq!(care_at(false, &[], me, at("2026-12-04T00:00:00Z")), Care::None);
    }

    #[test]
    fn a_break_glass_reason_says_why() {
        assert_eq!(break_glass_reason("  urgent  ").unwrap_err().field(), "reason");
        assert_eq!(break_glass_reason(&"x".repeat(501)).unwrap_err().field(), "reason");
        assert!(break_glass_reason(&"x".repeat(500)).is_ok());
        assert!(break_glass_reason("risk of harm\u{7}").is_err());
        assert_eq!(
            break_glass_reason("  patient in crisis at reception ").unwrap(),
            "patient in crisis at reception"
        );
    }
}
