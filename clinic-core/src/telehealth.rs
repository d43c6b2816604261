//! The telehealth gate: may this video or phone session start?
//!
//! Expected practice (Ahpra virtual care guidance [T2]; rule sheet §6): current telehealth
//! consent; the patient's emergency contact, an emergency plan, and where the patient is
//! for this session; the technical requirements acknowledged; the practitioner allowed to
//! practise. Recording needs its own current consent from every participant.

use serde::Serialize;

use crate::ids::PatientId;
use crate::privacy::{ConsentKind, ConsentLedger};

/// What a patient confirmed before a telehealth session.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionPrep {
    /// An emergency plan for this patient is on file.
    pub emergency_plan: bool,
    /// Where the patient will be for the session (for emergency services).
    pub location: Option<String>,
    /// The patient acknowledged the technical requirements.
    pub technical_acknowledged: bool,
}

/// What one participant brings to the gate.
#[derive(Clone, Debug)]
pub struct Participant<'a> {
    /// The patient.
    pub patient_id: PatientId,
    /// Their consents.
    pub consents: &'a ConsentLedger,
    /// An emergency contact is on file.
    pub emergency_contact: bool,
    /// An emergency plan is on file.
    pub emergency_plan: bool,
    /// Where they are for this session is recorded.
    pub location_recorded: bool,
    /// They acknowledged the technical requirements.
    pub technical_acknowledged: bool,
}

/// Something missing before the session may start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Missing {
    /// No current telehealth consent.
    TelehealthConsent {
        /// Whose.
        patient_id: PatientId,
    },
    /// No emergency contact.
    EmergencyContact {
        /// Whose.
        patient_id: PatientId,
    },
    /// No emergency plan.
    EmergencyPlan {
        /// Whose.
        patient_id: PatientId,
    },
    /// The patient's location for the session is not recorded.
    PatientLocation {
        /// Whose.
        patient_id: PatientId,
    },
    /// Technical requirements not acknowledged.
    TechnicalAcknowledgement {
        /// Whose.
        patient_id: PatientId,
    },
    /// Recording asked for without this participant's current recording consent.
    RecordingConsent {
        /// Whose.
        patient_id: PatientId,
    },
    /// The practitioner may not practise (suspended).
    PractitionerNotPermitted,
}

/// Checks the gate. `Ok` when the session may start; otherwise everything missing.
///
/// # Errors
/// The list of [`Missing`] items, never empty.
pub fn gate(
    participants: &[Participant<'_>],
    practitioner_permitted: bool,
    recording: bool,
) -> Result<(), Vec<Missing>> {
    let mut missing = Vec::new();
    if !practitioner_permitted {
        missing.push(Missing::PractitionerNotPermitted);
    }
    for p in participants {
        let id = p.patient_id;
        if !p.consents.is_current(&ConsentKind::Telehealth) {
            missing.push(Missing::TelehealthConsent { patient_id: id });
        }
        if !p.emergency_contact {
            missing.push(Missing::EmergencyContact { patient_id: id });
        }
        if !p.emergency_plan {
            missing.push(Missing::EmergencyPlan { patient_id: id });
        }
        if !p.location_recorded {
            missing.push(Missing::PatientLocation { patient_id: id });
        }
        if !p.technical_acknowledged {
            missing.push(Missing::TechnicalAcknowledgement { patient_id: id });
        }
        if recording && !p.consents.is_current(&ConsentKind::SessionRecording) {
            missing.push(Missing::RecordingConsent { patient_id: id });
        }
    }
    if missing.is_empty() { Ok(()) } else { Err(missing) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::{Consent, ConsentMethod};
    use uuid::Uuid;

    fn ledger(kinds: &[ConsentKind]) -> ConsentLedger {
        ConsentLedger::new(
            kinds
                .iter()
                .map(|k| Consent {
                    patient_id: PatientId::from_uuid(Uuid::nil()),
                    kind: k.clone(),
                    granted: true,
                    at: "2026-01-01T00:00:00Z".parse().unwrap(),
                    method: ConsentMethod::Online,
                })
                .collect(),
        )
    }

    fn ready(id: u128, consents: &ConsentLedger) -> Participant<'_> {
        Participant {
            patient_id: PatientId::from_uuid(Uuid::from_u128(id)),
            consents,
            emergency_contact: true,
            emergency_plan: true,
            location_recorded: true,
            technical_acknowledged: true,
        }
    }

    #[test]
    fn all_present_passes() {
        let c = ledger(&[ConsentKind::Telehealth]);
        assert_eq!(gate(&[ready(1, &c)], true, false), Ok(()));
    }

    #[test]
    fn lists_everything_missing() {
        let none = ConsentLedger::default();
        let mut p = ready(1, &none);
        p.location_recorded = false;
        p.emergency_plan = false;
        let id = p.patient_id;
        assert_eq!(
            gate(&[p], false, false),
            Err(vec![
                Missing::PractitionerNotPermitted,
                Missing::TelehealthConsent { patient_id: id },
                Missing::EmergencyPlan { patient_id: id },
                Missing::PatientLocation { patient_id: id },
            ])
        );
    }

    #[test]
    fn recording_needs_every_participants_consent() {
        let both = ledger(&[ConsentKind::Telehealth, ConsentKind::SessionRecording]);
        let tele_only = ledger(&[ConsentKind::Telehealth]);
        let (a, b) = (ready(1, &both), ready(2, &tele_only));
        let b_id = b.patient_id;
        assert_eq!(gate(&[a.clone(), b.clone()], true, false), Ok(()), "no recording: fine");
        assert_eq!(
            gate(&[a, b], true, true),
            Err(vec![Missing::RecordingConsent { patient_id: b_id }])
        );
    }
}
