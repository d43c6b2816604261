//! The one gate every clinical read and write passes: decide with the access rules, audit
//! the attempt whatever the outcome (never the content), then allow or refuse.

use uuid::Uuid;

use super::clinical::Actor;
use super::error::ServiceError;
use crate::access::{self, Decision, Request};
use crate::audit::{AuditEntry, Outcome};
use crate::ids::PatientId;
use crate::ports::{AuditLog, Clock};

/// What the audit event is about.
pub(crate) struct Target<'a> {
    /// Record kind, e.g. `prescription`.
    pub kind: &'a str,
    /// Record id (nil for a record not yet created).
    pub id: Uuid,
    /// The patient.
    pub patient: PatientId,
    /// The action code, e.g. `prescription.read`.
    pub code: &'a str,
    /// A break-glass reason, recorded with the event.
    pub reason: Option<&'a str>,
}

/// Decides `request` for `actor`, appends the audit event, and refuses a denial.
pub(crate) async fn decide_and_audit(
    audit: &dyn AuditLog,
    clock: &dyn Clock,
    actor: &Actor,
    request: &Request,
    target: Target<'_>,
) -> Result<Decision, ServiceError> {
    let decision = access::decide(request);
    let outcome = match decision {
        Decision::Allow => Outcome::Allowed,
        Decision::AllowFlagged => Outcome::Flagged,
        Decision::Deny => Outcome::Denied,
    };
    audit
        .append(AuditEntry {
            practice_id: actor.practice_id,
            at: clock.now(),
            actor: Some(actor.user_id),
            action: target.code.to_owned(),
            resource_kind: target.kind.to_owned(),
            resource_id: target.id,
            patient_id: Some(target.patient),
            outcome,
            request_id: actor.request_id.clone(),
            reason: target.reason.map(str::to_owned),
        })
        .await?;
    if decision == Decision::Deny {
        return Err(ServiceError::Forbidden);
    }
    Ok(decision)
}

/// Appends an audit event about `patient` (the record kind `patient`, its id the
/// patient's) for `actor`, with the outcome and, where there is one, a reason.
pub(crate) async fn audit_patient(
    audit: &dyn AuditLog,
    clock: &dyn Clock,
    actor: &Actor,
    code: &str,
    patient: PatientId,
    outcome: Outcome,
    reason: Option<String>,
) -> Result<(), ServiceError> {
    audit
        .append(AuditEntry {
            practice_id: actor.practice_id,
            at: clock.now(),
            actor: Some(actor.user_id),
            action: code.to_owned(),
            resource_kind: "patient".into(),
            resource_id: patient.as_uuid(),
            patient_id: Some(patient),
            outcome,
            request_id: actor.request_id.clone(),
            reason,
        })
        .await?;
    Ok(())
}
