//! Prescriptions, test results and outcome measures: through the access rules, every
//! read and write audited (never the content).

use std::sync::Arc;

use super::clinical::Actor;
use super::error::ServiceError;
use super::guard::{Target, decide_and_audit};
use crate::FieldError;
use crate::access::{Action, Area, RecordFacts, Relation, Request};
use crate::clinical::{
    Instrument, MeasureRecord, Prescription, PrescriptionSpec, ResultValue, TestResult, TreatmentGoal, TreatmentPlan,
    score,
};
use crate::ids::{PatientId, PractitionerId, TestResultId};
use crate::people::Role;
use crate::ports::{
    AuditLog, CareRelationships, ClinicalRecords, Clock, IdGenerator, IdGeneratorExt, PractitionerRepository,
};

/// The ports the records need.
#[derive(Clone)]
pub struct RecordsPorts {
    /// The records.
    pub records: Arc<dyn ClinicalRecords>,
    /// Practitioners (who prescribes, performs, reviews).
    pub practitioners: Arc<dyn PractitionerRepository>,
    /// Who treats whom.
    pub care: Arc<dyn CareRelationships>,
    /// Audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

/// The records use cases.
#[derive(Clone)]
pub struct RecordsService {
    ports: RecordsPorts,
}

impl RecordsService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: RecordsPorts) -> Self {
        Self { ports }
    }

    /// The actor's relation to the patient's records, and the break-glass reason when a
    /// clinician opened the record that way (reads are then allowed and flagged).
    async fn relation(&self, actor: &Actor, patient: PatientId) -> Result<(Relation, Option<String>), ServiceError> {
        let (own, glass) = match (actor.role, actor.practitioner_id) {
            (Role::Patient, _) => (actor.acts_for(patient), None),
            (Role::Psychologist | Role::Doctor, Some(me)) => {
                let p = &self.ports;
                match super::care::care_now(&*p.care, &*p.clock, actor.practice_id, me, patient).await? {
                    crate::access::Care::Treats => (true, None),
                    crate::access::Care::BreakGlass(reason) => (false, Some(reason)),
                    crate::access::Care::None => (false, None),
                }
            }
            _ => (false, None),
        };
        Ok((if own { Relation::Own } else { Relation::Other }, glass))
    }

    #[allow(clippy::too_many_arguments)]
    async fn gate(
        &self,
        actor: &Actor,
        area: Area,
        action: Action,
        patient: PatientId,
        facts: RecordFacts,
        kind: &str,
        id: uuid::Uuid,
        code: &str,
    ) -> Result<(), ServiceError> {
        let (relation, glass) = self.relation(actor, patient).await?;
        let request = Request {
            role: actor.role,
            action,
            area,
            relation,
            facts,
            break_glass: glass.is_some(),
        };
        decide_and_audit(
            self.ports.audit.as_ref(),
            self.ports.clock.as_ref(),
            actor,
            &request,
            Target {
                kind,
                id,
                patient,
                code,
                reason: glass.as_deref(),
            },
        )
        .await?;
        Ok(())
    }

    async fn me(&self, actor: &Actor) -> Result<crate::people::Practitioner, ServiceError> {
        let id: PractitionerId = actor.practitioner_id.ok_or(ServiceError::Forbidden)?;
        self.ports
            .practitioners
            .practitioner(actor.practice_id, id)
            .await
            .map_err(ServiceError::from_port("practitioner"))
    }

    /// A doctor writes a prescription for a patient they treat.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::Invalid`] for a bad field or
    /// a prescriber who is not a doctor.
    pub async fn prescribe(
        &self,
        actor: &Actor,
        patient: PatientId,
        spec: &PrescriptionSpec,
    ) -> Result<Prescription, ServiceError> {
        self.gate(
            actor,
            Area::Prescriptions,
            Action::Write,
            patient,
            RecordFacts::default(),
            "prescription",
            uuid::Uuid::nil(),
            "prescription.create",
        )
        .await?;
        let p = Prescription::write(
            self.ports.ids.new_id(),
            actor.practice_id,
            patient,
            &self.me(actor).await?,
            spec,
        )?;
        self.ports.records.save_prescription(&p).await?;
        Ok(p)
    }

    /// A patient's prescriptions.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited).
    pub async fn prescriptions(&self, actor: &Actor, patient: PatientId) -> Result<Vec<Prescription>, ServiceError> {
        self.gate(
            actor,
            Area::Prescriptions,
            Action::Read,
            patient,
            RecordFacts::default(),
            "prescription",
            uuid::Uuid::nil(),
            "prescription.list",
        )
        .await?;
        Ok(self.ports.records.prescriptions(actor.practice_id, patient).await?)
    }

    /// A technician records a test result ordered by `ordered_by`.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::Invalid`].
    pub async fn record_result(
        &self,
        actor: &Actor,
        patient: PatientId,
        ordered_by: PractitionerId,
        values: Vec<ResultValue>,
    ) -> Result<TestResult, ServiceError> {
        self.gate(
            actor,
            Area::TestResults,
            Action::Write,
            patient,
            RecordFacts::default(),
            "test_result",
            uuid::Uuid::nil(),
            "test_result.create",
        )
        .await?;
        let r = TestResult::record(
            self.ports.ids.new_id(),
            actor.practice_id,
            patient,
            ordered_by,
            &self.me(actor).await?,
            values,
        )?;
        self.ports.records.save_test_result(&r).await?;
        Ok(r)
    }

    /// A treating doctor reviews a result; the patient can see it from then on.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::Invalid`] when already reviewed.
    pub async fn review_result(&self, actor: &Actor, id: TestResultId) -> Result<TestResult, ServiceError> {
        let mut r = self
            .ports
            .records
            .test_result(actor.practice_id, id)
            .await
            .map_err(ServiceError::from_port("test result"))?;
        self.gate(
            actor,
            Area::TestResults,
            Action::Review,
            r.patient_id,
            RecordFacts::default(),
            "test_result",
            id.as_uuid(),
            "test_result.review",
        )
        .await?;
        r.review(&self.me(actor).await?, self.ports.clock.now())?;
        self.ports.records.save_test_result(&r).await?;
        Ok(r)
    }

    async fn result(&self, actor: &Actor, id: TestResultId) -> Result<TestResult, ServiceError> {
        self.ports
            .records
            .test_result(actor.practice_id, id)
            .await
            .map_err(ServiceError::from_port("test result"))
    }

    /// A technician files a report or image (already in the document store) with a result.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Forbidden`] (audited);
    /// [`ServiceError::Invalid`] when the result holds as many files as it may.
    pub async fn attach_to_result(
        &self,
        actor: &Actor,
        id: TestResultId,
        document: crate::ports::DocumentRef,
    ) -> Result<TestResult, ServiceError> {
        let mut r = self.result(actor, id).await?;
        self.gate(
            actor,
            Area::TestResults,
            Action::Write,
            r.patient_id,
            RecordFacts::default(),
            "test_result",
            id.as_uuid(),
            "test_result.attach",
        )
        .await?;
        r.attach(document)?;
        self.ports.records.save_test_result(&r).await?;
        Ok(r)
    }

    /// A file of a result, for whoever may read the result (a patient once it is
    /// reviewed); the read is audited.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for the result or a file it does not hold;
    /// [`ServiceError::Forbidden`] (audited).
    pub async fn result_attachment(
        &self,
        actor: &Actor,
        id: TestResultId,
        digest: &str,
    ) -> Result<crate::ports::DocumentRef, ServiceError> {
        let r = self.result(actor, id).await?;
        let facts = RecordFacts {
            shared_with_patient: false,
            reviewed: r.reviewed.is_some(),
        };
        self.gate(
            actor,
            Area::TestResults,
            Action::Read,
            r.patient_id,
            facts,
            "test_result",
            id.as_uuid(),
            "test_result.attachment.read",
        )
        .await?;
        r.attachments
            .into_iter()
            .find(|a| a.digest == digest)
            .ok_or(ServiceError::NotFound { entity: "attachment" })
    }

    /// A patient's test results; a patient sees only reviewed ones.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited).
    pub async fn results(&self, actor: &Actor, patient: PatientId) -> Result<Vec<TestResult>, ServiceError> {
        let facts = RecordFacts {
            shared_with_patient: false,
            reviewed: true,
        };
        self.gate(
            actor,
            Area::TestResults,
            Action::Read,
            patient,
            facts,
            "test_result",
            uuid::Uuid::nil(),
            "test_result.list",
        )
        .await?;
        let all = self.ports.records.test_results(actor.practice_id, patient).await?;
        Ok(if actor.role == Role::Patient {
            all.into_iter().filter(|r| r.reviewed.is_some()).collect()
        } else {
            all
        })
    }

    /// Records a completed questionnaire, scored in the core.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::Invalid`] on `answers`.
    pub async fn complete_measure(
        &self,
        actor: &Actor,
        patient: PatientId,
        instrument: Instrument,
        answers: Vec<u8>,
    ) -> Result<MeasureRecord, ServiceError> {
        self.gate(
            actor,
            Area::OutcomeMeasures,
            Action::Write,
            patient,
            RecordFacts::default(),
            "outcome_measure",
            uuid::Uuid::nil(),
            "measure.create",
        )
        .await?;
        let scores = score(instrument, &answers).map_err(|e| FieldError::new("answers", e.to_string()))?;
        let m = MeasureRecord {
            id: self.ports.ids.new_id(),
            practice_id: actor.practice_id,
            patient_id: patient,
            instrument,
            answers,
            scores,
            completed_at: self.ports.clock.now(),
        };
        self.ports.records.save_measure(&m).await?;
        Ok(m)
    }

    /// A patient's measures over time, oldest first.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited).
    pub async fn measures(&self, actor: &Actor, patient: PatientId) -> Result<Vec<MeasureRecord>, ServiceError> {
        self.gate(
            actor,
            Area::OutcomeMeasures,
            Action::Read,
            patient,
            RecordFacts::default(),
            "outcome_measure",
            uuid::Uuid::nil(),
            "measure.list",
        )
        .await?;
        Ok(self.ports.records.measures(actor.practice_id, patient).await?)
    }

    /// Sets a patient's treatment plan (goals and a review date), as their treating
    /// clinician.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::Invalid`] without goals.
    pub async fn set_plan(
        &self,
        actor: &Actor,
        patient: PatientId,
        goals: Vec<TreatmentGoal>,
        review_on: chrono::NaiveDate,
    ) -> Result<TreatmentPlan, ServiceError> {
        self.gate(
            actor,
            Area::ProgressNotes,
            Action::Write,
            patient,
            RecordFacts::default(),
            "treatment_plan",
            patient.as_uuid(),
            "plan.write",
        )
        .await?;
        if goals.is_empty() || goals.iter().any(|g| g.description.trim().is_empty()) {
            return Err(FieldError::new("goals", "needs at least one goal, none blank").into());
        }
        let author = actor.practitioner_id.ok_or(ServiceError::Forbidden)?;
        let plan = TreatmentPlan {
            practice_id: actor.practice_id,
            patient_id: patient,
            author,
            goals,
            review_on,
        };
        self.ports.records.save_plan(&plan).await?;
        Ok(plan)
    }

    /// A patient's treatment plan.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::NotFound`].
    pub async fn plan(&self, actor: &Actor, patient: PatientId) -> Result<TreatmentPlan, ServiceError> {
        self.gate(
            actor,
            Area::ProgressNotes,
            Action::Read,
            patient,
            RecordFacts::default(),
            "treatment_plan",
            patient.as_uuid(),
            "plan.read",
        )
        .await?;
        self.ports
            .records
            .plan(actor.practice_id, patient)
            .await?
            .ok_or(ServiceError::NotFound {
                entity: "treatment plan",
            })
    }
}
