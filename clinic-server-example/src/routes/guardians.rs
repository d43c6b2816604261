//! Guardians acting for a minor: the practice links a parent's own patient account to a
//! child's record, and from then on that account reads and books for the child as the
//! child would (`Principal::acts_for`), while the guardianship is in force
//! (`clinic_core::people::guardian_may_act`: under 18 and not assessed a mature minor).
//!
//! Linking grants access to a health record, so it is an accounts decision: the practice
//! manager and the administrator (who may invite) link and unlink, after checking the
//! guardian's authority; both are audited. Whether each link is still in force is decided
//! again whenever an access token is issued, so it lapses on the 18th birthday by itself.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use clinic_core::access::{Action, Area, Relation};
use clinic_core::audit::Outcome;
use clinic_core::auth::Account;
use clinic_core::ids::{PatientId, UserId};
use clinic_core::people::{Email, Role, User, guardian_may_act, may_become_guardian};
use clinic_core::ports::PortErrorKind;
use clinic_core::service::ServiceError;
use serde::{Deserialize, Serialize};

use super::{json_body, practice_today, request_id};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// A guardian linked to a patient.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Guardian {
    /// Their account.
    user_id: UserId,
    /// Their sign-in email.
    email: Email,
    /// True while they may act for the patient (false once the patient turns 18 or is
    /// assessed a mature minor; the link is kept as a record of who had access).
    in_force: bool,
}

/// The account to link.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkGuardian {
    /// The guardian's sign-in email: a patient account of this practice.
    email: String,
}

/// The patient, after checking the principal may manage guardians.
async fn managed_patient(
    s: &AppState,
    who: &Principal,
    id: &str,
    action: Action,
) -> Result<clinic_core::people::Patient, ApiError> {
    let id: PatientId = id.parse()?;
    if who.is_patient_only() {
        // A patient cannot name their own guardians; others' records are not found.
        return Err(if who.acts_for(id) {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "the practice links guardians")
        } else {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "patient not found")
        });
    }
    who.require(action, Area::StaffAccounts, Relation::Other, "patient")?;
    Ok(s.store
        .patient(s.practice, id)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "patient"))?)
}

async fn audit(
    s: &AppState,
    who: &Principal,
    headers: &HeaderMap,
    action: &str,
    patient: PatientId,
) -> Result<(), ApiError> {
    let e = super::Audited {
        action,
        kind: "patient",
        resource: patient.as_uuid(),
        patient: Some(patient),
        outcome: Outcome::Allowed,
        reason: None,
    };
    super::audit_event(s, Some(who.user_id), request_id(headers), e).await
}

/// The guardian accounts of a patient.
async fn guardians_of(s: &AppState, patient: &clinic_core::people::Patient) -> Result<Vec<Guardian>, ApiError> {
    let today = practice_today(s).await?;
    let in_force = guardian_may_act(patient, today).is_ok();
    let mut out: Vec<Guardian> = s
        .store
        .accounts(s.practice)
        .await
        .map_err(ServiceError::Port)?
        .into_iter()
        .filter(|a| a.user.guardian_of.contains(&patient.id))
        .map(|a| Guardian {
            user_id: a.user.id,
            email: a.user.email,
            in_force: in_force && !a.disabled,
        })
        .collect();
    out.sort_by(|a, b| a.email.as_str().cmp(b.email.as_str()));
    Ok(out)
}

/// Stores `change` applied to the account, re-reading once if it changed meanwhile.
async fn update(s: &AppState, user: UserId, change: impl Fn(&mut User)) -> Result<(), ApiError> {
    for _ in 0..3 {
        let mut account: Account = s
            .store
            .account(s.practice, user)
            .await
            .map_err(|e| ServiceError::from_port_kind(e, "account"))?;
        change(&mut account.user);
        match s.store.update_account(&account).await {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == PortErrorKind::Conflict => {}
            Err(e) => return Err(ServiceError::Port(e).into()),
        }
    }
    Err(ServiceError::Contention.into())
}

/// `GET /api/v1/patients/{id}/guardians`: the accounts linked as the patient's guardians.
#[utoipa::path(get, path = "/api/v1/patients/{id}/guardians", tag = "patients", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = Vec<Guardian>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn guardians(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<Guardian>>, ApiError> {
    let patient = managed_patient(&s, &who, &id, Action::Read).await?;
    Ok(Json(guardians_of(&s, &patient).await?))
}

/// `POST /api/v1/patients/{id}/guardians`: links a patient account as the guardian of a
/// minor. 422 `guardian_patient_adult`, `guardian_patient_mature_minor`,
/// `guardian_own_record` or `guardian_not_patient_account` (staff accounts do not act for
/// patients); 404 when no account signs in with the email. Linking twice is harmless.
#[utoipa::path(post, path = "/api/v1/patients/{id}/guardians", tag = "patients", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = LinkGuardian, responses((status = 201, description = "linked", body = Vec<Guardian>), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn link_guardian(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<LinkGuardian>, JsonRejection>,
) -> Result<(StatusCode, Json<Vec<Guardian>>), ApiError> {
    let b = json_body(body)?;
    let patient = managed_patient(&s, &who, &id, Action::Invite).await?;
    let email = Email::parse(b.email.trim())?;
    let account = s
        .store
        .account_by_email(s.practice, &email)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "account"))?;
    if account.disabled {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "account_disabled",
            "that account is disabled",
        ));
    }
    if account.user.roles.iter().any(|r| *r != Role::Patient) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "guardian_not_patient_account",
            "a guardian signs in with a patient account, not a staff account",
        ));
    }
    // Anyone can register any address: only an account that proved it owns the address
    // the practice holds for the parent may act for the child.
    if !account.email_verified {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "email_unverified",
            "that account has not confirmed its email address yet; ask the parent to open the link sent to them",
        ));
    }
    may_become_guardian(account.user.patient_id, &patient, practice_today(&s).await?)?;
    if !account.user.guardian_of.contains(&patient.id) {
        update(&s, account.user.id, |u| {
            if !u.guardian_of.contains(&patient.id) {
                u.guardian_of.push(patient.id);
            }
        })
        .await?;
        audit(&s, &who, &headers, "guardian.link", patient.id).await?;
    }
    Ok((StatusCode::CREATED, Json(guardians_of(&s, &patient).await?)))
}

/// `DELETE /api/v1/patients/{id}/guardians/{user_id}`: ends a guardian's access to the
/// patient. Their current access token (at most fifteen minutes old) still carries it
/// until it expires; every refresh from now on does not.
#[utoipa::path(delete, path = "/api/v1/patients/{id}/guardians/{user_id}", tag = "patients", params(("id" = String, Path, description = "the record's id (UUID)"), ("user_id" = String, Path, description = "the guardian's account (UUID)")), responses((status = 204, description = "unlinked"), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn unlink_guardian(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path((id, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let patient = managed_patient(&s, &who, &id, Action::Invite).await?;
    let user: UserId = user.parse()?;
    let account = s
        .store
        .account(s.practice, user)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "account"))?;
    if !account.user.guardian_of.contains(&patient.id) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "that account is not a guardian of this patient",
        ));
    }
    update(&s, user, |u| u.guardian_of.retain(|p| *p != patient.id)).await?;
    audit(&s, &who, &headers, "guardian.unlink", patient.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The guardianships of `user` in force on the practice's today: what an access token
/// carries. A link to a patient who has since turned 18, been assessed a mature minor or
/// been deleted is left out.
pub(crate) async fn in_force(s: &AppState, user: &User) -> Result<Vec<PatientId>, ApiError> {
    if user.guardian_of.is_empty() {
        return Ok(Vec::new());
    }
    let today = practice_today(s).await?;
    let mut out = Vec::with_capacity(user.guardian_of.len());
    for id in &user.guardian_of {
        match s.store.patient(s.practice, *id).await {
            Ok(p) if guardian_may_act(&p, today).is_ok() => out.push(*id),
            Ok(_) => {}
            Err(e) if e.kind() == PortErrorKind::NotFound => {}
            Err(e) => return Err(ServiceError::Port(e).into()),
        }
    }
    Ok(out)
}
