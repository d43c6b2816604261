//! Prescriptions and test results.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::{PatientId, PracticeId, PractitionerId, PrescriptionId, TestResultId};
use crate::people::{Practitioner, PractitionerKind};
use crate::practice::non_blank;

/// A prescription. Only doctors prescribe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Prescription {
    /// Id.
    pub id: PrescriptionId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The patient.
    pub patient_id: PatientId,
    /// The prescriber.
    pub prescriber: PractitionerId,
    /// Medication (generic name and strength).
    pub medication: String,
    /// Dose, e.g. "50 mg".
    pub dose: String,
    /// Route, e.g. "oral".
    pub route: String,
    /// Frequency, e.g. "once daily".
    pub frequency: String,
    /// Quantity per supply.
    pub quantity: u32,
    /// Repeats.
    pub repeats: u8,
    /// Written on.
    pub written_on: NaiveDate,
    /// Valid until.
    pub valid_until: NaiveDate,
}

/// The fields of a prescription as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrescriptionSpec {
    /// Medication.
    pub medication: String,
    /// Dose.
    pub dose: String,
    /// Route.
    pub route: String,
    /// Frequency.
    pub frequency: String,
    /// Quantity.
    pub quantity: u32,
    /// Repeats.
    pub repeats: u8,
    /// Written on.
    pub written_on: NaiveDate,
    /// Valid until.
    pub valid_until: NaiveDate,
}

impl Prescription {
    /// Writes a prescription.
    ///
    /// # Errors
    /// [`FieldError`] on `prescriber` unless a doctor writes it (and is not suspended on
    /// the date), or on a blank field, a quantity of 0, more than 12 repeats, or a validity
    /// that ends before it starts.
    pub fn write(
        id: PrescriptionId,
        practice_id: PracticeId,
        patient_id: PatientId,
        prescriber: &Practitioner,
        spec: &PrescriptionSpec,
    ) -> Result<Self, FieldError> {
        if prescriber.kind != PractitionerKind::Doctor {
            return Err(FieldError::new("prescriber", "only doctors prescribe"));
        }
        if prescriber.is_suspended_on(spec.written_on) {
            return Err(FieldError::new("prescriber", "may not practise on that date"));
        }
        if spec.quantity == 0 {
            return Err(FieldError::new("quantity", "must be at least 1"));
        }
        if spec.repeats > 12 {
            return Err(FieldError::new("repeats", "must be at most 12"));
        }
        if spec.valid_until < spec.written_on {
            return Err(FieldError::new("valid_until", "must not be before written_on"));
        }
        Ok(Self {
            id,
            practice_id,
            patient_id,
            prescriber: prescriber.id,
            medication: non_blank("medication", &spec.medication, 200)?,
            dose: non_blank("dose", &spec.dose, 100)?,
            route: non_blank("route", &spec.route, 50)?,
            frequency: non_blank("frequency", &spec.frequency, 100)?,
            quantity: spec.quantity,
            repeats: spec.repeats,
            written_on: spec.written_on,
            valid_until: spec.valid_until,
        })
    }
}

/// One measured value with its unit and reference range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResultValue {
    /// What was measured, e.g. "TSH".
    pub analyte: String,
    /// The value.
    pub value: Decimal,
    /// Unit, e.g. "mIU/L".
    pub unit: String,
    /// Reference range low.
    pub reference_low: Option<Decimal>,
    /// Reference range high.
    pub reference_high: Option<Decimal>,
}

impl ResultValue {
    /// Outside its reference range.
    #[must_use]
    pub fn abnormal(&self) -> bool {
        self.reference_low.is_some_and(|lo| self.value < lo) || self.reference_high.is_some_and(|hi| self.value > hi)
    }
}

/// A test result: ordered by a clinician, performed by a technician, reviewed by a doctor.
/// Patients see it once reviewed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestResult {
    /// Id.
    pub id: TestResultId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The patient.
    pub patient_id: PatientId,
    /// Who ordered it.
    pub ordered_by: PractitionerId,
    /// Who performed it.
    pub performed_by: PractitionerId,
    /// Values.
    pub values: Vec<ResultValue>,
    /// Reports and images filed with it, in the document store (sealed).
    pub attachments: Vec<crate::ports::DocumentRef>,
    /// Reviewed by whom, when.
    pub reviewed: Option<(PractitionerId, DateTime<Utc>)>,
}

impl TestResult {
    /// Records a result performed by `technician`.
    ///
    /// # Errors
    /// [`FieldError`] on `performed_by` unless a technician, or on `values` when empty.
    pub fn record(
        id: TestResultId,
        practice_id: PracticeId,
        patient_id: PatientId,
        ordered_by: PractitionerId,
        technician: &Practitioner,
        values: Vec<ResultValue>,
    ) -> Result<Self, FieldError> {
        if technician.kind != PractitionerKind::Technician {
            return Err(FieldError::new("performed_by", "must be a technician"));
        }
        if values.is_empty() {
            return Err(FieldError::new("values", "must have at least one value"));
        }
        Ok(Self {
            id,
            practice_id,
            patient_id,
            ordered_by,
            performed_by: technician.id,
            values,
            attachments: Vec::new(),
            reviewed: None,
        })
    }

    /// The most files one result holds.
    pub const MAX_ATTACHMENTS: usize = 10;

    /// Files a report or image with the result (the same file twice is kept once).
    ///
    /// # Errors
    /// [`FieldError`] on `attachments` when it already holds [`Self::MAX_ATTACHMENTS`].
    pub fn attach(&mut self, document: crate::ports::DocumentRef) -> Result<(), FieldError> {
        if self.attachments.iter().any(|a| a.digest == document.digest) {
            return Ok(());
        }
        if self.attachments.len() >= Self::MAX_ATTACHMENTS {
            return Err(FieldError::new(
                "attachments",
                format!("a result holds at most {} files", Self::MAX_ATTACHMENTS),
            ));
        }
        self.attachments.push(document);
        Ok(())
    }

    /// Marks it reviewed by a doctor.
    ///
    /// # Errors
    /// [`FieldError`] on `reviewer` unless a doctor; on `reviewed` when already reviewed.
    pub fn review(&mut self, reviewer: &Practitioner, at: DateTime<Utc>) -> Result<(), FieldError> {
        if reviewer.kind != PractitionerKind::Doctor {
            return Err(FieldError::new("reviewer", "must be a doctor"));
        }
        if self.reviewed.is_some() {
            return Err(FieldError::new("reviewed", "is already reviewed"));
        }
        self.reviewed = Some((reviewer.id, at));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::{AhpraNumber, PractitionerProfile, Suspension};
    use uuid::Uuid;

    fn person(kind: PractitionerKind, n: u128) -> Practitioner {
        let ahpra = match kind {
            PractitionerKind::Doctor => Some(AhpraNumber::parse("MED0001234567").unwrap()),
            PractitionerKind::Technician => None,
            _ => Some(AhpraNumber::parse("PSY0001234567").unwrap()),
        };
        Practitioner::new(
            PractitionerId::from_uuid(Uuid::from_u128(n)),
            PracticeId::from_uuid(Uuid::nil()),
            kind,
            "X",
            ahpra,
            vec![],
            PractitionerProfile::default(),
        )
        .unwrap()
    }

    fn spec() -> PrescriptionSpec {
        PrescriptionSpec {
            medication: "Sertraline 50 mg tablet".into(),
            dose: "50 mg".into(),
            route: "oral".into(),
            frequency: "once daily".into(),
            quantity: 30,
            repeats: 5,
            written_on: "2026-11-24".parse().unwrap(),
            valid_until: "2027-11-24".parse().unwrap(),
        }
    }

    fn ids() -> (PracticeId, PatientId) {
        (PracticeId::from_uuid(Uuid::nil()), PatientId::from_uuid(Uuid::nil()))
    }

    #[test]
    fn only_doctors_prescribe() {
        let (pr, pa) = ids();
        assert!(
            Prescription::write(
                PrescriptionId::from_uuid(Uuid::nil()),
                pr,
                pa,
                &person(PractitionerKind::Doctor, 1),
                &spec()
            )
            .is_ok()
        );
        let e = Prescription::write(
            PrescriptionId::from_uuid(Uuid::nil()),
            pr,
            pa,
            &person(PractitionerKind::ClinicalPsychologist, 2),
            &spec(),
        )
        .unwrap_err();
        assert_eq!(e.field(), "prescriber");
        let mut suspended = person(PractitionerKind::Doctor, 3);
        suspended.suspension = Some(Suspension {
            reason_code: "registration_lapsed".into(),
            from: "2026-11-24".parse().unwrap(),
        });
        assert!(Prescription::write(PrescriptionId::from_uuid(Uuid::nil()), pr, pa, &suspended, &spec()).is_err());
        assert_eq!(
            Prescription::write(
                PrescriptionId::from_uuid(Uuid::nil()),
                pr,
                pa,
                &person(PractitionerKind::Doctor, 1),
                &PrescriptionSpec { repeats: 13, ..spec() }
            )
            .unwrap_err()
            .field(),
            "repeats"
        );
        assert_eq!(
            Prescription::write(
                PrescriptionId::from_uuid(Uuid::nil()),
                pr,
                pa,
                &person(PractitionerKind::Doctor, 1),
                &PrescriptionSpec { quantity: 0, ..spec() }
            )
            .unwrap_err()
            .field(),
            "quantity"
        );
    }

    #[test]
    fn results_are_recorded_by_technicians_and_reviewed_by_doctors() {
        let (pr, pa) = ids();
        let v = ResultValue {
            analyte: "TSH".into(),
            value: "5.2".parse().unwrap(),
            unit: "mIU/L".into(),
            reference_low: Some("0.4".parse().unwrap()),
            reference_high: Some("4.0".parse().unwrap()),
        };
        assert!(v.abnormal());
        let tech = person(PractitionerKind::Technician, 4);
        let doc = person(PractitionerKind::Doctor, 1);
        assert!(
            TestResult::record(
                TestResultId::from_uuid(Uuid::nil()),
                pr,
                pa,
                doc.id,
                &doc,
                vec![v.clone()]
            )
            .is_err()
        );
        let mut r = TestResult::record(TestResultId::from_uuid(Uuid::nil()), pr, pa, doc.id, &tech, vec![v]).unwrap();
        assert!(r.review(&tech, "2026-11-24T00:00:00Z".parse().unwrap()).is_err());
        r.review(&doc, "2026-11-24T00:00:00Z".parse().unwrap()).unwrap();
        assert!(r.review(&doc, "2026-11-25T00:00:00Z".parse().unwrap()).is_err());
    }
}
