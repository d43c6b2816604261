//! Correction requests for demographic data (APP 13): corrected free of charge, the history
//! kept; if the practice declines, the patient's statement is attached to the record.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::people::{Patient, PatientSpec};

/// A past version of a patient's record and what changed from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatientRevision {
    /// When the correction was made.
    pub on: NaiveDate,
    /// The record before it.
    pub previous: Patient,
    /// The fields that changed (names only).
    pub changed: Vec<String>,
}

/// The answer to a correction request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CorrectionOutcome {
    /// Corrected.
    Applied {
        /// The history entry.
        revision: Box<PatientRevision>,
    },
    /// Declined in writing with reasons; the patient's statement goes with the record.
    Declined {
        /// Why (given to the patient in writing).
        reason: String,
        /// The patient's statement, attached to the record.
        statement: Option<String>,
    },
}

/// Applies a correction: the whole record is validated again as at registration, and the
/// previous version is kept.
///
/// # Errors
/// [`FieldError`] naming the first invalid field of the corrected record.
pub fn apply_correction(
    current: &Patient,
    corrected: PatientSpec,
    today: NaiveDate,
) -> Result<(Patient, PatientRevision), FieldError> {
    let next = Patient::register(current.id, current.practice_id, corrected, today)?;
    let mut changed = Vec::new();
    let checks: [(&'static str, bool); 12] = [
        ("legal_name", next.legal_name != current.legal_name),
        ("preferred_name", next.preferred_name != current.preferred_name),
        ("date_of_birth", next.date_of_birth != current.date_of_birth),
        ("email", next.email != current.email),
        ("phone", next.phone != current.phone),
        ("address", next.address != current.address),
        ("medicare", next.medicare != current.medicare),
        ("health_fund", next.health_fund != current.health_fund),
        ("dva_number", next.dva_number != current.dva_number),
        ("usual_gp", next.usual_gp != current.usual_gp),
        ("guardian", next.guardian != current.guardian),
        ("emergency_contact", next.emergency_contact != current.emergency_contact),
    ];
    changed.extend(checks.iter().filter(|(_, c)| *c).map(|(f, _)| (*f).to_owned()));
    Ok((
        next,
        PatientRevision {
            on: today,
            previous: current.clone(),
            changed,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{PatientId, PracticeId};
    use crate::people::Email;
    use uuid::Uuid;

    fn spec() -> PatientSpec {
        PatientSpec::new("Alex", "Nguyen", "1990-01-01".parse().unwrap())
    }

    #[test]
    fn corrections_keep_history_and_revalidate() {
        let today: NaiveDate = "2026-11-24".parse().unwrap();
        let p = Patient::register(
            PatientId::from_uuid(Uuid::nil()),
            PracticeId::from_uuid(Uuid::nil()),
            spec(),
            today,
        )
        .unwrap();
        let fixed = PatientSpec {
            family_name: "Nguyễn".into(),
            email: Some(Email::parse("alex@example.com").unwrap()),
            ..spec()
        };
        let (next, rev) = apply_correction(&p, fixed, today).unwrap();
        assert_eq!(next.legal_name.family, "Nguyễn");
        assert_eq!(rev.changed, vec!["legal_name", "email"]);
        assert_eq!(rev.previous, p);
        let bad = PatientSpec {
            date_of_birth: "2027-01-01".parse().unwrap(),
            ..spec()
        };
        assert_eq!(apply_correction(&p, bad, today).unwrap_err().field(), "date_of_birth");
    }
}
