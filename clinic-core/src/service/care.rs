//! Who may write to whose calendar: the appointments row of the roles matrix, plus the
//! care relationship a clinician needs before a patient enters their calendar.
//!
//! A clinician's access to a patient's record follows from treating them
//! ([`CareRelationships::treats`]). If a clinician could create that relationship by
//! booking any patient into their own calendar, every record in the practice would be one
//! booking away; so a clinician books only patients they already treat, and a new patient
//! is assigned by the practice (the front desk or a manager books them, or the patient
//! books themselves).

use std::sync::Arc;

use super::clinical::Actor;
use super::error::{Refusal, ServiceError};
use crate::access::{
    self, Action, Area, Care, CareBasis, CareRelationship, Decision, RecordFacts, Relation, Request, care_at,
};
use crate::audit::Outcome;
use crate::ids::{PatientId, PractitionerId};
use crate::people::Role;
use crate::ports::{AuditLog, CareRelationships, Clock};

/// The ports a calendar write needs to decide who may make it and to audit the decision.
#[derive(Clone)]
pub struct AccessPorts {
    /// Who treats whom.
    pub care: Arc<dyn CareRelationships>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// The clock, for the audit event.
    pub clock: Arc<dyn Clock>,
}

/// How `practitioner` stands to `patient` now: booked with them (an appointment that is not
/// cancelled), assigned to them, opened by break-glass, or none of these.
///
/// # Errors
/// Port errors.
pub async fn care_now(
    care: &dyn CareRelationships,
    clock: &dyn Clock,
    practice: crate::ids::PracticeId,
    practitioner: PractitionerId,
    patient: PatientId,
) -> Result<Care, ServiceError> {
    if care.treats(practice, practitioner, patient).await? {
        return Ok(Care::Treats);
    }
    let records = care.care_records(practice, Some(patient)).await?;
    Ok(care_at(false, &records, practitioner, clock.now()))
}

/// Whether `practitioner` treats `patient` now (booked or assigned; a break-glass opening
/// is not treating).
///
/// # Errors
/// Port errors.
pub async fn treats_now(
    care: &dyn CareRelationships,
    clock: &dyn Clock,
    practice: crate::ids::PracticeId,
    practitioner: PractitionerId,
    patient: PatientId,
) -> Result<bool, ServiceError> {
    Ok(care_now(care, clock, practice, practitioner, patient).await? == Care::Treats)
}

/// The relation of `actor` to an appointment of `patients` with `practitioner`: their
/// own when they act for every patient, or it is in their own calendar.
pub(crate) fn relation(actor: &Actor, patients: &[PatientId], practitioner: PractitionerId) -> Relation {
    let patient = !patients.is_empty() && patients.iter().all(|p| actor.acts_for(*p));
    if patient || actor.practitioner_id == Some(practitioner) {
        Relation::Own
    } else {
        Relation::Other
    }
}

impl AccessPorts {
    /// Decides whether `actor` may put `patients` into `practitioner`'s calendar (or move
    /// or cancel such an appointment), audits the decision once per patient (denied when
    /// refused, whatever refused it), and refuses.
    ///
    /// A psychologist or doctor acting in their clinical role writes to their own calendar
    /// only, and only for patients they already treat.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] when the roles matrix refuses;
    /// [`Refusal::NotTreating`] for a clinician booking a patient they do not treat.
    pub(crate) async fn calendar_write(
        &self,
        actor: &Actor,
        patients: &[PatientId],
        practitioner: PractitionerId,
        code: &str,
    ) -> Result<(), ServiceError> {
        let relation = relation(actor, patients, practitioner);
        let decision = access::decide(&Request {
            role: actor.role,
            action: Action::Write,
            area: Area::Appointments,
            relation,
            facts: RecordFacts::default(),
            break_glass: false,
        });
        let mut refusal = (decision == Decision::Deny).then_some(ServiceError::Forbidden);
        if refusal.is_none() && matches!(actor.role, Role::Psychologist | Role::Doctor) {
            for p in patients {
                if !treats_now(&*self.care, &*self.clock, actor.practice_id, practitioner, *p).await? {
                    refusal = Some(Refusal::NotTreating.into());
                    break;
                }
            }
        }
        let outcome = if refusal.is_some() {
            Outcome::Denied
        } else {
            Outcome::Allowed
        };
        for p in patients {
            super::guard::audit_patient(&*self.audit, &*self.clock, actor, code, *p, outcome, None).await?;
        }
        refusal.map_or(Ok(()), Err)
    }
}

/// The ports the care-team use cases need.
#[derive(Clone)]
pub struct CarePorts {
    /// Who treats whom, and the care records.
    pub care: Arc<dyn CareRelationships>,
    /// Patients (an assignment names one that exists).
    pub patients: Arc<dyn crate::ports::PatientRepository>,
    /// Practitioners (an assignment names one that exists).
    pub practitioners: Arc<dyn crate::ports::PractitionerRepository>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Ids for new records.
    pub ids: Arc<dyn crate::ports::IdGenerator>,
}

/// A patient's care team as records: assignments by the practice, ended by removing them,
/// and a clinician's break-glass openings, time-boxed and flagged for review.
#[derive(Clone)]
pub struct CareService {
    ports: CarePorts,
}

impl CareService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: CarePorts) -> Self {
        Self { ports }
    }

    async fn audit(
        &self,
        actor: &Actor,
        code: &str,
        patient: PatientId,
        outcome: Outcome,
        reason: Option<String>,
    ) -> Result<(), ServiceError> {
        let p = &self.ports;
        super::guard::audit_patient(&*p.audit, &*p.clock, actor, code, patient, outcome, reason).await
    }

    /// Whether the actor manages care teams: whoever books for any patient (the front
    /// desk, managers, administrators).
    fn manages(actor: &Actor) -> bool {
        access::decide(&Request {
            role: actor.role,
            action: Action::Write,
            area: Area::Appointments,
            relation: Relation::Other,
            facts: RecordFacts::default(),
            break_glass: false,
        }) != Decision::Deny
    }

    /// A patient's care records, oldest first: for the practice's front desk and managers,
    /// and for a clinician, their own records about the patient.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::NotFound`].
    pub async fn team(&self, actor: &Actor, patient: PatientId) -> Result<Vec<CareRelationship>, ServiceError> {
        let p = &self.ports;
        let records = p.care.care_records(actor.practice_id, Some(patient)).await?;
        let visible: Vec<CareRelationship> = if Self::manages(actor) || actor.acts_for(patient) {
            // The practice, and the patient themselves: who is in their care is theirs to know.
            records
        } else if let Some(me) = actor
            .practitioner_id
            .filter(|_| matches!(actor.role, Role::Psychologist | Role::Doctor))
        {
            records.into_iter().filter(|r| r.practitioner_id == me).collect()
        } else {
            self.audit(actor, "care.read", patient, Outcome::Denied, None).await?;
            return Err(ServiceError::Forbidden);
        };
        p.patients
            .patient(actor.practice_id, patient)
            .await
            .map_err(ServiceError::from_port("patient"))?;
        self.audit(actor, "care.read", patient, Outcome::Allowed, None).await?;
        Ok(visible)
    }

    /// Puts `patient` in `practitioner`'s care from now until ended (intake, a referral, a
    /// manager's decision). The front desk, managers and administrators assign.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::NotFound`] for an unknown
    /// patient or practitioner.
    pub async fn assign(
        &self,
        actor: &Actor,
        patient: PatientId,
        practitioner: PractitionerId,
    ) -> Result<CareRelationship, ServiceError> {
        if !Self::manages(actor) {
            self.audit(actor, "care.assign", patient, Outcome::Denied, None).await?;
            return Err(ServiceError::Forbidden);
        }
        let p = &self.ports;
        p.patients
            .patient(actor.practice_id, patient)
            .await
            .map_err(ServiceError::from_port("patient"))?;
        p.practitioners
            .practitioner(actor.practice_id, practitioner)
            .await
            .map_err(ServiceError::from_port("practitioner"))?;
        let record = CareRelationship {
            id: p.ids.new_uuid(),
            practice_id: actor.practice_id,
            practitioner_id: practitioner,
            patient_id: patient,
            basis: CareBasis::Assigned,
            from: p.clock.now(),
            until: None,
            by: actor.user_id,
        };
        p.care.save_care(&record).await?;
        self.audit(actor, "care.assign", patient, Outcome::Allowed, None)
            .await?;
        Ok(record)
    }

    /// Ends a care record now (an assignment removed, a break-glass opening closed early).
    /// Access the record gave ends with it; appointments still booked keep theirs.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::NotFound`] for a record not
    /// of this patient.
    pub async fn end(
        &self,
        actor: &Actor,
        patient: PatientId,
        record: uuid::Uuid,
    ) -> Result<CareRelationship, ServiceError> {
        let p = &self.ports;
        let found = p
            .care
            .care_records(actor.practice_id, Some(patient))
            .await?
            .into_iter()
            .find(|r| r.id == record);
        let own_opening = |r: &CareRelationship| actor.practitioner_id == Some(r.practitioner_id);
        let allowed = Self::manages(actor) || found.as_ref().is_some_and(own_opening);
        if !allowed {
            self.audit(actor, "care.end", patient, Outcome::Denied, None).await?;
            return Err(ServiceError::Forbidden);
        }
        let mut r = found.ok_or(ServiceError::NotFound { entity: "care record" })?;
        let now = p.clock.now();
        if r.in_force(now) {
            r.until = Some(now);
            p.care.save_care(&r).await?;
        }
        self.audit(actor, "care.end", patient, Outcome::Allowed, None).await?;
        Ok(r)
    }

    /// A clinician opens `patient`'s clinical record outside their care, with a stated
    /// reason, for [`crate::access::BREAK_GLASS_TTL`]: every read meanwhile is allowed,
    /// flagged and carries the reason in the audit trail; nothing may be written. The
    /// opening itself is audited as flagged and shows on the managers' dashboard.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited) for anyone but a psychologist or doctor;
    /// [`ServiceError::Invalid`] for a missing or short reason; [`ServiceError::NotFound`].
    pub async fn break_glass(
        &self,
        actor: &Actor,
        patient: PatientId,
        reason: &str,
    ) -> Result<CareRelationship, ServiceError> {
        let Some(me) = actor
            .practitioner_id
            .filter(|_| matches!(actor.role, Role::Psychologist | Role::Doctor))
        else {
            self.audit(actor, "care.break_glass", patient, Outcome::Denied, None)
                .await?;
            return Err(ServiceError::Forbidden);
        };
        let reason = crate::access::break_glass_reason(reason)?;
        let p = &self.ports;
        p.patients
            .patient(actor.practice_id, patient)
            .await
            .map_err(ServiceError::from_port("patient"))?;
        let now = p.clock.now();
        let record = CareRelationship {
            id: p.ids.new_uuid(),
            practice_id: actor.practice_id,
            practitioner_id: me,
            patient_id: patient,
            basis: CareBasis::BreakGlass { reason: reason.clone() },
            from: now,
            until: Some(now + crate::access::BREAK_GLASS_TTL),
            by: actor.user_id,
        };
        p.care.save_care(&record).await?;
        self.audit(actor, "care.break_glass", patient, Outcome::Flagged, Some(reason))
            .await?;
        Ok(record)
    }

    /// The break-glass openings made since `since`, newest first, for review by a
    /// practice manager or administrator.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for other roles.
    pub async fn openings(
        &self,
        actor: &Actor,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<CareRelationship>, ServiceError> {
        if !matches!(actor.role, Role::PracticeManager | Role::Admin) {
            return Err(ServiceError::Forbidden);
        }
        let mut v: Vec<CareRelationship> = self
            .ports
            .care
            .care_records(actor.practice_id, None)
            .await?
            .into_iter()
            .filter(|r| r.break_glass_reason().is_some() && r.from >= since)
            .collect();
        v.reverse();
        Ok(v)
    }
}
