//! A patient's care team: who treats them because the practice assigned them, and the
//! break-glass openings by which a clinician read the record in an emergency. Decided and
//! audited by `clinic-core`'s `CareService`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use clinic_core::access::{Action, Area, CareRelationship};
use clinic_core::ids::{PatientId, PractitionerId};
use clinic_core::people::Role;
use serde::Deserialize;

use super::{json_body, refusal, request_id};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The roles that act on care teams: the front desk and the practice first, then
/// clinicians (for their own records and break-glass).
const CARE: &[Role] = &[
    Role::Technician,
    Role::PracticeManager,
    Role::Admin,
    Role::Psychologist,
    Role::Doctor,
    Role::Patient,
];

/// `GET /api/v1/patients/{id}/care-team`: the patient's care records, oldest first (the
/// front desk and managers see all; a clinician their own).
#[utoipa::path(get, path = "/api/v1/patients/{id}/care-team", tag = "patients", params(("id" = String, Path, description = "the patient's id (UUID)")), responses((status = 200, description = "done", body = Vec<CareRelationship>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn team(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<CareRelationship>>, ApiError> {
    let patient: PatientId = id.parse()?;
    let actor = who.actor_as(CARE, request_id(&headers));
    let team = s
        .care
        .team(&actor, patient)
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Read, Area::Appointments)))?;
    Ok(Json(team))
}

/// Whom to assign.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Assign {
    practitioner_id: PractitionerId,
}

/// `POST /api/v1/patients/{id}/care-team`: the front desk or a manager puts the patient in
/// a clinician's care (intake, a referral) until the assignment is ended. Audited.
#[utoipa::path(post, path = "/api/v1/patients/{id}/care-team", tag = "patients", params(("id" = String, Path, description = "the patient's id (UUID)")), request_body = Assign, responses((status = 201, description = "done", body = CareRelationship), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient or practitioner", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn assign(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<Assign>, JsonRejection>,
) -> Result<(StatusCode, Json<CareRelationship>), ApiError> {
    let patient: PatientId = id.parse()?;
    let b = json_body(body)?;
    let actor = who.actor_as(CARE, request_id(&headers));
    let record = s
        .care
        .assign(&actor, patient, b.practitioner_id)
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Write, Area::Appointments)))?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// `POST /api/v1/patients/{id}/care-team/{record_id}/end`: ends an assignment (or a
/// break-glass opening early) now; the access it gave ends with it. Audited.
#[utoipa::path(post, path = "/api/v1/patients/{id}/care-team/{record_id}/end", tag = "patients", params(("id" = String, Path, description = "the patient's id (UUID)"), ("record_id" = String, Path, description = "the care record's id (UUID)")), responses((status = 200, description = "done", body = CareRelationship), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn end(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path((id, record)): Path<(String, String)>,
) -> Result<Json<CareRelationship>, ApiError> {
    let patient: PatientId = id.parse()?;
    let record: uuid::Uuid = record
        .parse()
        .map_err(|_| clinic_core::FieldError::new("record_id", "must be a UUID"))?;
    let actor = who.actor_as(CARE, request_id(&headers));
    let ended = s
        .care
        .end(&actor, patient, record)
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Write, Area::Appointments)))?;
    Ok(Json(ended))
}

/// Why the record is opened.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BreakGlass {
    /// At least 10 characters: a reviewer must be able to tell why.
    reason: String,
}

/// `POST /api/v1/patients/{id}/break-glass`: a psychologist or doctor opens the clinical
/// record of a patient outside their care, with a reason, for four hours: reads are
/// allowed and flagged (the reason in every audit event), nothing may be written, and the
/// opening shows on the managers' dashboard for review.
#[utoipa::path(post, path = "/api/v1/patients/{id}/break-glass", tag = "patients", params(("id" = String, Path, description = "the patient's id (UUID)")), request_body = BreakGlass, responses((status = 201, description = "opened until `until`", body = CareRelationship), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn break_glass(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<BreakGlass>, JsonRejection>,
) -> Result<(StatusCode, Json<CareRelationship>), ApiError> {
    let patient: PatientId = id.parse()?;
    let b = json_body(body)?;
    let actor = who.actor_as(&[Role::Psychologist, Role::Doctor], request_id(&headers));
    let opened = s.care.break_glass(&actor, patient, &b.reason).await?;
    Ok((StatusCode::CREATED, Json(opened)))
}
