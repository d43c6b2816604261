//! Intake: the patient submits once against the practice's current form, amends with
//! history; every read and write audited.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::clinical::Actor;
use super::error::ServiceError;
use super::guard::{Target, decide_and_audit};
use crate::FieldError;
use crate::access::{Action, Area, RecordFacts, Relation, Request};
use crate::clinical::{Answer, IntakeForm, IntakeSubmission};
use crate::ids::PatientId;
use crate::ports::{AuditLog, Clock, IntakeRecords};

/// The intake use cases.
#[derive(Clone)]
pub struct IntakeService {
    records: Arc<dyn IntakeRecords>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
}

fn intake_error(e: &crate::clinical::IntakeError) -> ServiceError {
    FieldError::new("answers", e.to_string()).into()
}

impl IntakeService {
    /// A service over the ports.
    #[must_use]
    pub fn new(records: Arc<dyn IntakeRecords>, audit: Arc<dyn AuditLog>, clock: Arc<dyn Clock>) -> Self {
        Self { records, audit, clock }
    }

    async fn gate(&self, actor: &Actor, action: Action, patient: PatientId, code: &str) -> Result<(), ServiceError> {
        let relation = if actor.acts_for(patient) {
            Relation::Own
        } else {
            Relation::Other
        };
        let request = Request {
            role: actor.role,
            action,
            area: Area::Profile,
            relation,
            facts: RecordFacts::default(),
            break_glass: false,
        };
        decide_and_audit(
            self.audit.as_ref(),
            self.clock.as_ref(),
            actor,
            &request,
            Target {
                kind: "intake",
                id: patient.as_uuid(),
                patient,
                code,
                reason: None,
            },
        )
        .await?;
        Ok(())
    }

    async fn current_form(&self, actor: &Actor) -> Result<IntakeForm, ServiceError> {
        self.form(actor.practice_id).await
    }

    /// The form a patient of `practice` answers today: the practice's latest stored form,
    /// or the shipped psychology form (version 1). It holds questions only, no answers.
    ///
    /// # Errors
    /// A port error.
    pub async fn form(&self, practice: crate::ids::PracticeId) -> Result<IntakeForm, ServiceError> {
        Ok(self
            .records
            .latest_form(practice)
            .await?
            .unwrap_or_else(IntakeForm::psychology_v1))
    }

    /// Submits the patient's intake against the practice's current form (the shipped
    /// version 1 until the practice stores its own). Returns the submission and the risk
    /// questions answered "yes", for the treating clinician's prompt follow-up.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::Invalid`] for a missing,
    /// unknown or invalid answer or a second submission (amend instead).
    pub async fn submit(
        &self,
        actor: &Actor,
        patient: PatientId,
        answers: BTreeMap<String, Answer>,
    ) -> Result<(IntakeSubmission, Vec<String>), ServiceError> {
        self.gate(actor, Action::Write, patient, "intake.submit").await?;
        if self.records.submission(actor.practice_id, patient).await?.is_some() {
            return Err(FieldError::new("intake", "is already submitted: amend it instead").into());
        }
        let form = self.current_form(actor).await?;
        self.records.save_form(actor.practice_id, &form).await?;
        let submission = form.submit(answers, self.clock.now()).map_err(|e| intake_error(&e))?;
        self.records
            .save_submission(actor.practice_id, patient, &submission)
            .await?;
        let flags = form.risk_flags(&submission).into_iter().map(str::to_owned).collect();
        Ok((submission, flags))
    }

    /// Changes one answer, keeping the previous one.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::NotFound`] before a
    /// submission; [`ServiceError::Invalid`] for an invalid answer.
    pub async fn amend(
        &self,
        actor: &Actor,
        patient: PatientId,
        key: &str,
        answer: Answer,
    ) -> Result<IntakeSubmission, ServiceError> {
        self.gate(actor, Action::Write, patient, "intake.amend").await?;
        let mut s = self
            .records
            .submission(actor.practice_id, patient)
            .await?
            .ok_or(ServiceError::NotFound { entity: "intake" })?;
        let form = self
            .records
            .form(actor.practice_id, s.form_version)
            .await?
            .ok_or(ServiceError::NotFound { entity: "intake form" })?;
        s.amend(&form, key, answer, self.clock.now())
            .map_err(|e| intake_error(&e))?;
        self.records.save_submission(actor.practice_id, patient, &s).await?;
        Ok(s)
    }

    /// Reads a patient's intake.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::NotFound`].
    pub async fn read(&self, actor: &Actor, patient: PatientId) -> Result<IntakeSubmission, ServiceError> {
        self.gate(actor, Action::Read, patient, "intake.read").await?;
        self.records
            .submission(actor.practice_id, patient)
            .await?
            .ok_or(ServiceError::NotFound { entity: "intake" })
    }

    /// Reads a patient's intake with the keys of the risk questions answered "yes" under
    /// the form it was answered on (current answers, after amendments).
    ///
    /// # Errors
    /// As [`Self::read`].
    pub async fn read_with_flags(
        &self,
        actor: &Actor,
        patient: PatientId,
    ) -> Result<(IntakeSubmission, Vec<String>), ServiceError> {
        let submission = self.read(actor, patient).await?;
        let flags = match self.records.form(actor.practice_id, submission.form_version).await? {
            Some(form) => form.risk_flags(&submission).into_iter().map(str::to_owned).collect(),
            None => Vec::new(),
        };
        Ok((submission, flags))
    }
}
