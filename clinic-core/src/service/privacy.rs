//! Data access requests (APP 12): everything the practice holds about a patient, gathered
//! into one export, the export itself audited.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::clinical::Actor;
use super::error::{Refusal, ServiceError};
use crate::access::{self, Action, Area, Decision, RecordFacts, Relation, Request};
use crate::audit::Outcome;
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
    AccessRequest, Consent, ConsentLedger, CorrectionOutcome, DeletionOutcome, DeletionRequest, apply_correction,
    evaluate_deletion, retention_until,
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
    /// Signed progress notes with their addenda: the clinical record. Process notes (the
    /// author's own) and unsigned drafts are never released.
    pub notes: Vec<ProgressNote>,
    /// Consents given and withdrawn, oldest first.
    pub consents: Vec<Consent>,
    /// Corrections applied or declined (with the patient's statement), oldest first.
    pub corrections: Vec<CorrectionOutcome>,
}

/// What a deletion request came to. Every field states what was actually done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletionReport {
    /// Refused until a date under a named rule, or approved.
    pub outcome: DeletionOutcome,
    /// The patient record's identifying fields were removed.
    pub deidentified: bool,
    /// Health records destroyed: notes, intake, measures, plan, prescriptions, test
    /// results, message threads with their messages.
    pub records_destroyed: usize,
    /// What was kept, each with its reason (empty when nothing was carried out).
    pub kept: Vec<String>,
}

/// What a carried-out deletion keeps, and why. None of it holds clinical content.
const KEPT_AFTER_DELETION: &[&str] = &[
    "invoices, payments and Medicare claims: financial records kept for 5 years (Income Tax Assessment Act 1936 s262A; Health Insurance Act 1973 claims), with the patient de-identified",
    "appointments: dates and times only, with the patient de-identified, so the practitioners' calendars and invoices stay whole",
    "consents and privacy requests: the evidence of what the patient agreed to and asked for, this request included",
    "the audit trail: who did what and when, without content (APP 11 security; tamper evidence)",
    "message attachments: sealed files in the document store, no longer referenced by any message",
];

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
        self.not_deidentified(actor, patient).await?;
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

    /// Records the patient's request that their records be destroyed, received `today`.
    /// The patient asks for themselves (or their guardian for them); a manager or
    /// administrator records one received by phone or letter. Audited either way.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited) for anyone else.
    pub async fn request_deletion(
        &self,
        actor: &Actor,
        patient: PatientId,
        today: chrono::NaiveDate,
    ) -> Result<DeletionRequest, ServiceError> {
        let relation = if actor.acts_for(patient) {
            Relation::Own
        } else {
            Relation::Other
        };
        let may = |action| {
            access::decide(&Request {
                role: actor.role,
                action,
                area: Area::PrivacyRequests,
                relation,
                facts: RecordFacts::default(),
                break_glass: false,
            }) != Decision::Deny
        };
        let allowed = may(Action::Request) || may(Action::Process);
        self.audit(
            actor,
            patient,
            "deletion_request.create",
            if allowed { Outcome::Allowed } else { Outcome::Denied },
        )
        .await?;
        if !allowed {
            return Err(ServiceError::Forbidden);
        }
        // The record must exist: a request about nobody is refused, not stored.
        self.not_deidentified(actor, patient).await?;
        let request = DeletionRequest {
            received_on: today,
            carried_out_on: None,
        };
        self.ports
            .records
            .save_deletion_request(actor.practice_id, patient, &request)
            .await?;
        Ok(request)
    }

    /// Processes the patient's open deletion request against the retention rule of the
    /// state `location` is in, with service dates read in its zone.
    ///
    /// Every service counts towards the retention period: an attended (completed)
    /// appointment, a signed note, an issued invoice's line and a Medicare claim, each on
    /// its date of service. While the law requires the records to be kept, the request is
    /// refused until the date the rule gives (APP 13 correction is offered instead). Once
    /// the period has passed, the health information held about the patient is destroyed
    /// ([`PrivacyRecords::destroy_health_records`]), identifying fields are removed from
    /// the patient record, and the audit trail keeps the fact of the destruction without
    /// the data. The report says what was kept and why.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited) unless a practice manager or admin;
    /// [`Refusal::NoDeletionRequest`] without an open request; [`ServiceError::NotFound`].
    pub async fn process_deletion(
        &self,
        actor: &Actor,
        patient: PatientId,
        location: &crate::practice::Location,
        today: chrono::NaiveDate,
    ) -> Result<DeletionReport, ServiceError> {
        let (state, zone) = (location.state, location.zone);
        const CODE: &str = "deletion.process";
        if !Self::processes(actor) {
            self.audit_with(actor, patient, CODE, Outcome::Denied, None).await?;
            return Err(ServiceError::Forbidden);
        }
        let p = &self.ports;
        let practice = actor.practice_id;
        let mut record = p
            .patients
            .patient(practice, patient)
            .await
            .map_err(ServiceError::from_port("patient"))?;
        let Some(mut request) = p
            .records
            .deletion_requests(practice, patient)
            .await?
            .into_iter()
            .find(|r| r.carried_out_on.is_none())
        else {
            self.audit_with(
                actor,
                patient,
                CODE,
                Outcome::Denied,
                Some("no deletion request".into()),
            )
            .await?;
            return Err(Refusal::NoDeletionRequest.into());
        };
        let mut services: Vec<chrono::NaiveDate> = p
            .appointments
            .patient_appointments(practice, patient)
            .await?
            .iter()
            .filter(|a| a.status_kind() == crate::scheduling::StatusKind::Completed)
            .map(|a| crate::time::local_date(zone, a.interval.start()))
            .collect();
        // An invoice or a claim is a record of a service on its date, whether or not the
        // calendar shows it attended (a session invoiced by hand, a claim lodged later).
        services.extend(
            p.invoices
                .invoices_for(practice, patient)
                .await?
                .iter()
                .filter(|i| i.issued_on.is_some())
                .flat_map(|i| i.lines.iter().map(|l| l.service_date)),
        );
        services.extend(
            p.claims
                .history(practice, patient)
                .await?
                .claims
                .iter()
                .map(|c| c.service_date),
        );
        // A service dated after today has not been provided: it cannot start a retention
        // period (an invoice dated in the year 262142 must not keep a record forever).
        services.retain(|d| *d <= today);
        let notes = p.notes.notes(practice, patient).await?;
        let signed_on = |n: &ProgressNote| match n.state {
            crate::clinical::NoteState::Draft => None,
            crate::clinical::NoteState::Signed { at } => Some(at),
            crate::clinical::NoteState::Locked { locked_at, .. } => Some(locked_at),
        };
        // A signed or locked note documents a service on its date even when no appointment
        // was marked completed (a session recorded outside the calendar), so it counts.
        let noted: Vec<chrono::NaiveDate> = notes
            .iter()
            .filter_map(signed_on)
            .map(|t| crate::time::local_date(zone, t))
            .collect();
        let served = || services.iter().chain(noted.iter());
        let outcome = match (served().min(), served().max()) {
            (Some(first), Some(last)) => {
                let last_entry = notes
                    .iter()
                    .flat_map(|n| signed_on(n).into_iter().chain(n.addenda.iter().map(|a| a.at)))
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
        if let DeletionOutcome::RefusedUntil { until, .. } = &outcome {
            let why = format!("records must be kept until {until}");
            self.audit_with(actor, patient, CODE, Outcome::Denied, Some(why))
                .await?;
            return Ok(DeletionReport {
                outcome,
                deidentified: false,
                records_destroyed: 0,
                kept: Vec::new(),
            });
        }
        self.audit_with(actor, patient, CODE, Outcome::Allowed, None).await?;
        let records_destroyed = p.records.destroy_health_records(practice, patient).await?;
        deidentify(&mut record);
        p.patients.save_patient(&record).await?;
        request.carried_out_on = Some(today);
        p.records.save_deletion_request(practice, patient, &request).await?;
        self.audit(actor, patient, "patient.destroyed", Outcome::Allowed)
            .await?;
        Ok(DeletionReport {
            outcome,
            deidentified: true,
            records_destroyed,
            kept: KEPT_AFTER_DELETION.iter().map(|s| (*s).to_owned()).collect(),
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
        const CODE: &str = "correction.apply";
        if !Self::processes(actor) {
            self.audit_with(actor, patient, CODE, Outcome::Denied, None).await?;
            return Err(ServiceError::Forbidden);
        }
        let current = self
            .ports
            .patients
            .patient(actor.practice_id, patient)
            .await
            .map_err(ServiceError::from_port("patient"))?;
        if self
            .ports
            .records
            .deletion_requests(actor.practice_id, patient)
            .await?
            .iter()
            .any(|r| r.carried_out_on.is_some())
        {
            self.audit_with(actor, patient, CODE, Outcome::Denied, Some("de-identified".into()))
                .await?;
            return Err(Refusal::Deidentified.into());
        }
        let (next, revision) = apply_correction(&current, corrected, today)?;
        self.audit_with(actor, patient, CODE, Outcome::Allowed, None).await?;
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
        self.not_deidentified(actor, patient).await?;
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

    /// A patient's correction history: for the patient (APP 13.3 gives them the outcome and
    /// the reasons of a refusal) and for those who process requests.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited).
    pub async fn corrections(&self, actor: &Actor, patient: PatientId) -> Result<Vec<CorrectionOutcome>, ServiceError> {
        let own = actor.role == Role::Patient && actor.acts_for(patient);
        if own {
            self.audit(actor, patient, "correction.read", Outcome::Allowed).await?;
        } else {
            self.processor(actor, patient, "correction.read").await?;
        }
        Ok(self.ports.records.corrections(actor.practice_id, patient).await?)
    }

    /// Refuses (and audits as denied) anything new recorded against a record that was
    /// de-identified at the patient's request.
    async fn not_deidentified(&self, actor: &Actor, patient: PatientId) -> Result<(), ServiceError> {
        let record = self
            .ports
            .patients
            .patient(actor.practice_id, patient)
            .await
            .map_err(ServiceError::from_port("patient"))?;
        if record.deidentified {
            self.audit_with(
                actor,
                patient,
                "patient.write",
                Outcome::Denied,
                Some("de-identified".into()),
            )
            .await?;
            return Err(Refusal::Deidentified.into());
        }
        Ok(())
    }

    /// Whether the actor processes privacy requests: practice managers and admins.
    fn processes(actor: &Actor) -> bool {
        matches!(actor.role, Role::PracticeManager | Role::Admin)
    }

    /// Audits, and refuses anyone but a practice manager or admin.
    async fn processor(&self, actor: &Actor, patient: PatientId, code: &str) -> Result<(), ServiceError> {
        let allowed = Self::processes(actor);
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
        self.audit_with(actor, patient, action, outcome, None).await
    }

    async fn audit_with(
        &self,
        actor: &Actor,
        patient: PatientId,
        action: &str,
        outcome: Outcome,
        reason: Option<String>,
    ) -> Result<(), ServiceError> {
        let p = &self.ports;
        super::guard::audit_patient(&*p.audit, &*p.clock, actor, action, patient, outcome, reason).await
    }

    /// Answers the patient's open access request (APP 12) with everything the record
    /// holds about them, and marks every open request provided on `today` by `how`.
    ///
    /// The export is the patient's record, not the practice's working papers: psychotherapy
    /// process notes are their author's own (kept apart from the record, see
    /// [`crate::clinical::NoteKind::Process`]) and unsigned drafts are not yet part of it, so
    /// neither is included. Only practice managers and administrators answer requests; the
    /// attempt is audited whatever the outcome.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited) for other roles; [`Refusal::NoAccessRequest`]
    /// when no request of the patient's is open; [`ServiceError::NotFound`].
    pub async fn export(
        &self,
        actor: &Actor,
        patient: PatientId,
        today: chrono::NaiveDate,
        how: &str,
    ) -> Result<PatientExport, ServiceError> {
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
        let allowed =
            access::decide(&req) != Decision::Deny && matches!(actor.role, Role::PracticeManager | Role::Admin);
        let p = &self.ports;
        let practice = actor.practice_id;
        let open: Vec<AccessRequest> = if allowed {
            p.records
                .access_requests(practice)
                .await?
                .into_iter()
                .filter(|(who, r)| *who == patient && r.provided.is_none())
                .map(|(_, r)| r)
                .collect()
        } else {
            Vec::new()
        };
        let outcome = if allowed && !open.is_empty() {
            Outcome::Allowed
        } else {
            Outcome::Denied
        };
        self.audit(actor, patient, "export.create", outcome).await?;
        if !allowed {
            return Err(ServiceError::Forbidden);
        }
        if open.is_empty() {
            return Err(Refusal::NoAccessRequest.into());
        }
        let now = p.clock.now();
        let record = p
            .patients
            .patient(practice, patient)
            .await
            .map_err(ServiceError::from_port("patient"))?;
        let appointments = p.appointments.patient_appointments(practice, patient).await?;
        let history = p.claims.history(practice, patient).await?;
        let notes = p
            .notes
            .notes(practice, patient)
            .await?
            .into_iter()
            .filter(part_of_the_record)
            .collect();
        let export = PatientExport {
            generated_at: now,
            patient: record,
            appointments,
            invoices: p.invoices.invoices_for(practice, patient).await?,
            claims: history.claims,
            external_services: history.external,
            referrals: p.referrals.referrals(practice, patient).await?,
            notes,
            consents: p.records.consents(practice, patient).await?,
            corrections: p.records.corrections(practice, patient).await?,
        };
        for mut r in open {
            r.provided = Some((today, how.to_owned()));
            p.records.save_access_request(practice, patient, &r).await?;
        }
        Ok(export)
    }
}

/// Whether a note belongs in the patient's record as released to them: a progress note
/// that was signed (its addenda with it). Process notes are the author's; drafts are not
/// yet a record of anything.
fn part_of_the_record(n: &ProgressNote) -> bool {
    n.kind == crate::clinical::NoteKind::Progress && !matches!(n.state, crate::clinical::NoteState::Draft)
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
    p.deidentified = true;
    p.reminders = crate::people::ReminderPreferences {
        email: false,
        sms: false,
        whatsapp: false,
        hours_before: 24,
    };
}
