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
use crate::access::{self, Action, Area, Decision, RecordFacts, Relation, Request};
use crate::audit::{AuditEntry, Outcome};
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
                if !self.care.treats(actor.practice_id, practitioner, *p).await? {
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
            self.audit
                .append(AuditEntry {
                    practice_id: actor.practice_id,
                    at: self.clock.now(),
                    actor: Some(actor.user_id),
                    action: code.to_owned(),
                    resource_kind: "patient".into(),
                    resource_id: p.as_uuid(),
                    patient_id: Some(*p),
                    outcome,
                    request_id: actor.request_id.clone(),
                    reason: None,
                })
                .await?;
        }
        refusal.map_or(Ok(()), Err)
    }
}
