//! Data access requests (APP 12): everything the practice holds about a patient, gathered
//! into one export, the export itself audited.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::clinical::Actor;
use super::error::ServiceError;
use crate::access::{self, Action, Area, Decision, RecordFacts, Relation, Request};
use crate::audit::{AuditEntry, Outcome};
use crate::billing::{Claim, Invoice};
use crate::clinical::ProgressNote;
use crate::ids::PatientId;
use crate::medicare::{PastService, Referral};
use crate::people::{Patient, Role};
use crate::ports::{
    AppointmentRepository, AuditLog, ClaimRepository, Clock, InvoiceRepository, NoteRepository, PatientRepository,
    PrivacyRecords, ReferralRepository,
};
use crate::practice::AuState;
use crate::privacy::{
    AccessRequest, Consent, ConsentLedger, CorrectionOutcome, DeletionOutcome, apply_correction, evaluate_deletion,
    retention_until,
};
use crate::scheduling::Appointment;

/// Everything held about one patient.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatientExport {
    /// When it was produced.
    pub generated_at: DateTime<Utc>,
    /// The patient's record.
    pub patient: Patient,
    /// Appointments, any status.
    pub appointments: Vec<Appointment>,
    /// Invoices.
    pub invoices: Vec<Invoice>,
    /// Medicare claims.
    pub claims: Vec<Claim>,
    /// Services elsewhere the practice recorded.
    pub external_services: Vec<PastService>,
    /// Referrals.
    pub referrals: Vec<Referral>,
    /// Clinical notes, process notes included (all that is held).
    pub notes: Vec<ProgressNote>,
}

/// What a deletion request came to. Every field states what was actually done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletionReport {
    /// Refused until a date under a named rule, or approved.
    pub outcome: DeletionOutcome,
    /// The patient record's identifying fields were removed.
    pub deidentified: bool,
    /// Clinical notes destroyed.
    pub notes_destroyed: usize,
}

/// The ports the export reads.
#[derive(Clone)]
pub struct PrivacyPorts {
    /// Patients.
    pub patients: Arc<dyn PatientRepository>,
    /// Appointments.
    pub appointments: Arc<dyn AppointmentRepository>,
    /// Invoices.
    pub invoices: Arc<dyn InvoiceRepository>,
    /// Claims.
    pub claims: Arc<dyn ClaimRepository>,
    /// Referrals.
    pub referrals: Arc<dyn ReferralRepository>,
    /// Notes.
    pub notes: Arc<dyn NoteRepository>,
    /// Audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Consents and requests.
    pub records: Arc<dyn PrivacyRecords>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

/// Privacy request use cases.
#[derive(Clone)]
pub struct PrivacyService {
    ports: PrivacyPorts,
}

impl PrivacyService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: PrivacyPorts) -> Self {
        Self { ports }
    }

    /// Records a consent given or withdrawn (a withdrawal is a new record, never a deletion).
    ///
    /// # Errors
    /// Port errors.
    pub async fn record_consent(
        &self,
        practice: crate::ids::PracticeId,
        consent: &Consent,
    ) -> Result<ConsentLedger, ServiceError> {
        self.ports.records.record_consent(practice, consent).await?;
        Ok(ConsentLedger::new(
            self.ports.records.consents(practice, consent.patient_id).await?,
        ))
    }

    /// A patient's consents.
    ///
    /// # Errors
    /// Port errors.
    pub async fn consents(
        &self,
        practice: crate::ids::PracticeId,
        patient: PatientId,
    ) -> Result<ConsentLedger, ServiceError> {
        Ok(ConsentLedger::new(
            self.ports.records.consents(practice, patient).await?,
        ))
    }

    /// Opens an access request received today, due by the practice's state's period. The
    /// patient makes it for themselves (or staff who process requests record one made by
    /// phone or letter); the attempt is audited.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited) for anyone else.
    pub async fn request_access(
        &self,
        actor: &Actor,
        patient: PatientId,
        state: AuState,
        today: chrono::NaiveDate,
    ) -> Result<AccessRequest, ServiceError> {
        let relation = if actor.acts_for(patient) {
            Relation::Own
        } else {
            Relation::Other
        };
        let own = access::decide(&Request {
            role: actor.role,
            action: Action::Request,
            area: Area::PrivacyRequests,
            relation,
            facts: RecordFacts::default(),
            break_glass: false,
        });
        let staff = access::decide(&Request {
            role: actor.role,
            action: Action::Process,
            area: Area::PrivacyRequests,
            relation,
            facts: RecordFacts::default(),
            break_glass: false,
        });
        let allowed = own != Decision::Deny || staff != Decision::Deny;
        self.audit(
            actor,
            patient,
            "access_request.create",
            if allowed { Outcome::Allowed } else { Outcome::Denied },
        )
        .await?;
        if !allowed {
            return Err(ServiceError::Forbidden);
        }
        let req = AccessRequest::new(state, today);
        self.ports
            .records
            .save_access_request(actor.practice_id, patient, &req)
            .await?;
        Ok(req)
    }

    /// Records when and how an access request was answered.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when no such request exists.
    pub async fn mark_provided(
        &self,
        practice: crate::ids::PracticeId,
        patient: PatientId,
        received_on: chrono::NaiveDate,
        on: chrono::NaiveDate,
        how: &str,
    ) -> Result<AccessRequest, ServiceError> {
        let mut req = self
            .ports
            .records
            .access_requests(practice)
            .await?
            .into_iter()
            .find(|(p, r)| *p == patient && r.received_on == received_on)
            .map(|(_, r)| r)
            .ok_or(ServiceError::NotFound {
                entity: "access request",
            })?;
        req.provided = Some((on, how.to_owned()));
        self.ports.records.save_access_request(practice, patient, &req).await?;
        Ok(req)
    }

    /// Access requests unanswered after their due date, for the sweep to flag.
    ///
    /// # Errors
    /// Port errors.
    pub async fn overdue(
        &self,
        practice: crate::ids::PracticeId,
        today: chrono::NaiveDate,
    ) -> Result<Vec<(PatientId, AccessRequest)>, ServiceError> {
        Ok(self
            .ports
            .records
            .access_requests(practice)
            .await?
            .into_iter()
            .filter(|(_, r)| r.is_overdue(today))
            .collect())
    }

    /// Processes a deletion request against the retention rule of the state `location`
    /// is in, with service dates read in its zone.
    ///
    /// While the law requires the records to be kept, the request is refused until the
    /// date the rule gives (access restricted meanwhile is the practice's policy; APP 13
    /// correction is offered instead). Once the period has passed, identifying fields are
    /// removed from the patient record, clinical notes destroyed, and the audit trail keeps
    /// the fact of the destruction without the data.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited) unless a practice manager or admin;
    /// [`ServiceError::NotFound`].
    pub async fn process_deletion(
        &self,
        actor: &Actor,
        patient: PatientId,
        location: &crate::practice::Location,
        today: chrono::NaiveDate,
    ) -> Result<DeletionReport, ServiceError> {
        let (state, zone) = (location.state, location.zone);
        self.processor(actor, patient, "deletion.process").await?;
        let p = &self.ports;
        let practice = actor.practice_id;
        let mut record = p
            .patients
            .patient(practice, patient)
            .await
            .map_err(ServiceError::from_port("patient"))?;
        let services: Vec<chrono::NaiveDate> = p
            .appointments
            .patient_appointments(practice, patient)
            .await?
            .iter()
            .filter(|a| a.status_kind() == crate::scheduling::StatusKind::Completed)
            .map(|a| crate::time::local_date(zone, a.interval.start()))
            .collect();
        let notes = p.notes.notes(practice, patient).await?;
        // A signed or locked note documents a service on its date even when no appointment
        // was marked completed (a session recorded outside the calendar), so it counts.
        let noted: Vec<chrono::NaiveDate> = notes
            .iter()
            .filter_map(|n| match n.state {
                crate::clinical::NoteState::Draft => None,
                crate::clinical::NoteState::Signed { at } => Some(at),
                crate::clinical::NoteState::Locked { locked_at, .. } => Some(locked_at),
            })
            .map(|t| crate::time::local_date(zone, t))
            .collect();
        let served = || services.iter().chain(noted.iter());
        let outcome = match (served().min(), served().max()) {
            (Some(first), Some(last)) => {
                let last_entry = notes
                    .iter()
                    .flat_map(|n| {
                        let state_at = match n.state {
                            crate::clinical::NoteState::Draft => None,
                            crate::clinical::NoteState::Signed { at } => Some(at),
                            crate::clinical::NoteState::Locked { locked_at, .. } => Some(locked_at),
                        };
                        state_at.into_iter().chain(n.addenda.iter().map(|a| a.at))
                    })
                    .map(|t| crate::time::local_date(zone, t))
                    .max()
                    .map_or(*last, |d| d.max(*last));
                evaluate_deletion(
                    today,
                    retention_until(state, record.date_of_birth, *first, *last, last_entry),
                )
            }
            // No service was ever provided: nothing clinical must be kept.
            _ => DeletionOutcome::Approved {
                rule: crate::privacy::retention_rule(state),
            },
        };
        if matches!(outcome, DeletionOutcome::RefusedUntil { .. }) {
            return Ok(DeletionReport {
                outcome,
                deidentified: false,
                notes_destroyed: 0,
            });
        }
        let notes_destroyed = p.notes.destroy_notes(practice, patient).await?;
        deidentify(&mut record);
        p.patients.save_patient(&record).await?;
        self.audit(actor, patient, "patient.destroyed", Outcome::Allowed)
            .await?;
        Ok(DeletionReport {
            outcome,
            deidentified: true,
            notes_destroyed,
        })
    }

    /// Applies a correction request (APP 13): the corrected record is validated in full,
    /// saved, and the previous version kept in the correction history.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited) unless a practice manager or admin;
    /// [`ServiceError::Invalid`] for an invalid corrected field; [`ServiceError::NotFound`].
    pub async fn correct(
        &self,
        actor: &Actor,
        patient: PatientId,
        corrected: crate::people::PatientSpec,
        today: chrono::NaiveDate,
    ) -> Result<Patient, ServiceError> {
        self.processor(actor, patient, "correction.apply").await?;
        let current = self
            .ports
            .patients
            .patient(actor.practice_id, patient)
            .await
            .map_err(ServiceError::from_port("patient"))?;
        let (next, revision) = apply_correction(&current, corrected, today)?;
        self.ports.patients.save_patient(&next).await?;
        self.ports
            .records
            .record_correction(
                actor.practice_id,
                patient,
                &CorrectionOutcome::Applied {
                    revision: Box::new(revision),
                },
            )
            .await?;
        Ok(next)
    }

    /// Declines a correction request in writing with reasons, attaching the patient's
    /// statement to the record (APP 13.4).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::Invalid`] for a blank reason.
    pub async fn decline_correction(
        &self,
        actor: &Actor,
        patient: PatientId,
        reason: &str,
        statement: Option<String>,
    ) -> Result<(), ServiceError> {
        self.processor(actor, patient, "correction.decline").await?;
        if reason.trim().is_empty() {
            return Err(crate::FieldError::new("reason", "a refusal gives its reasons").into());
        }
        let outcome = CorrectionOutcome::Declined {
            reason: reason.trim().to_owned(),
            statement,
        };
        self.ports
            .records
            .record_correction(actor.practice_id, patient, &outcome)
            .await?;
        Ok(())
    }

    /// A patient's correction history.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited).
    pub async fn corrections(&self, actor: &Actor, patient: PatientId) -> Result<Vec<CorrectionOutcome>, ServiceError> {
        self.processor(actor, patient, "correction.read").await?;
        Ok(self.ports.records.corrections(actor.practice_id, patient).await?)
    }

    /// Audits, and refuses anyone but a practice manager or admin.
    async fn processor(&self, actor: &Actor, patient: PatientId, code: &str) -> Result<(), ServiceError> {
        let allowed = matches!(actor.role, Role::PracticeManager | Role::Admin);
        self.audit(
            actor,
            patient,
            code,
            if allowed { Outcome::Allowed } else { Outcome::Denied },
        )
        .await?;
        if allowed { Ok(()) } else { Err(ServiceError::Forbidden) }
    }

    async fn audit(
        &self,
        actor: &Actor,
        patient: PatientId,
        action: &str,
        outcome: Outcome,
    ) -> Result<(), ServiceError> {
        self.ports
            .audit
            .append(AuditEntry {
                practice_id: actor.practice_id,
                at: self.ports.clock.now(),
                actor: Some(actor.user_id),
                action: action.to_owned(),
                resource_kind: "patient".into(),
                resource_id: patient.as_uuid(),
                patient_id: Some(patient),
                outcome,
                request_id: actor.request_id.clone(),
                reason: None,
            })
            .await?;
        Ok(())
    }

    /// Gathers the export for `patient`. Practice managers and admins process access
    /// requests; the export is audited either way.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited) for other roles; [`ServiceError::NotFound`].
    pub async fn export(&self, actor: &Actor, patient: PatientId) -> Result<PatientExport, ServiceError> {
        let relation = if actor.acts_for(patient) {
            Relation::Own
        } else {
            Relation::Other
        };
        let req = Request {
            role: actor.role,
            action: Action::Process,
            area: Area::PrivacyRequests,
            relation,
            facts: RecordFacts::default(),
            break_glass: false,
        };
        let decision = access::decide(&req);
        let now = self.ports.clock.now();
        let outcome = if decision == Decision::Deny {
            Outcome::Denied
        } else {
            Outcome::Allowed
        };
        self.audit(actor, patient, "export.create", outcome).await?;
        if decision == Decision::Deny || !matches!(actor.role, Role::PracticeManager | Role::Admin) {
            return Err(ServiceError::Forbidden);
        }
        let p = &self.ports;
        let practice = actor.practice_id;
        let record = p
            .patients
            .patient(practice, patient)
            .await
            .map_err(ServiceError::from_port("patient"))?;
        let appointments = p.appointments.patient_appointments(practice, patient).await?;
        let history = p.claims.history(practice, patient).await?;
        Ok(PatientExport {
            generated_at: now,
            patient: record,
            appointments,
            invoices: p.invoices.invoices_for(practice, patient).await?,
            claims: history.claims,
            external_services: history.external,
            referrals: p.referrals.referrals(practice, patient).await?,
            notes: p.notes.notes(practice, patient).await?,
        })
    }
}

/// Removes every identifying field; keeps the id (so invoices and the audit trail still
/// point somewhere) and only the year of birth.
fn deidentify(p: &mut Patient) {
    use chrono::Datelike;
    p.legal_name = crate::people::PersonName {
        given: "Deleted".into(),
        family: "Patient".into(),
    };
    p.preferred_name = None;
    p.date_of_birth = chrono::NaiveDate::from_ymd_opt(p.date_of_birth.year(), 1, 1).unwrap_or(p.date_of_birth);
    p.email = None;
    p.phone = None;
    p.address = None;
    p.medicare = None;
    p.health_fund = None;
    p.dva_number = None;
    p.usual_gp = None;
    p.guardian = None;
    p.emergency_contact = None;
    p.reminders = crate::people::ReminderPreferences {
        email: false,
        sms: false,
        whatsapp: false,
        hours_before: 24,
    };
}
