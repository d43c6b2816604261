//! The intake form: the practice's questions, a patient's answers (submitted once, then
//! amended with history), read by the patient and the practice as the roles matrix allows
//! (`shared/domain/roles.md`: own profile and intake — the patient reads and writes, the
//! practice manager and administrator read).
//!
//! Every read and write goes through `clinic-core`'s intake service, which decides with
//! `access::decide` and audits each attempt; another patient's intake answers 404 to a
//! patient.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use clinic_core::access::{Action, Area, Relation};
use clinic_core::clinical::{Answer, IntakeForm, IntakeSubmission};
use clinic_core::ids::PatientId;
use clinic_core::people::Role;
use serde::{Deserialize, Serialize};

use super::refusal;
use super::{json_body, request_id};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

const READERS: &[Role] = &[Role::Patient, Role::PracticeManager, Role::Admin];

/// `GET /api/v1/intake-form`: the questions a patient answers today, for the frontend to
/// render (sections, kinds, options, which are required).
#[utoipa::path(get, path = "/api/v1/intake-form", operation_id = "intake_form", tag = "patients", responses((status = 200, description = "the form", body = IntakeForm), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn form(State(s): State<AppState>, who: Principal) -> Result<Json<IntakeForm>, ApiError> {
    who.require(Action::Read, Area::Directory, Relation::Other, "intake form")?;
    Ok(Json(s.intake.form(s.practice).await?))
}

/// A first submission: every required question answered.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Submit {
    /// Answers by question key: `true`/`false` for yes-or-no questions, text (or the
    /// chosen option) for the rest.
    answers: BTreeMap<String, Answer>,
}

/// `POST /api/v1/patients/{id}/intake`: the patient submits their intake, once.
#[utoipa::path(post, path = "/api/v1/patients/{id}/intake", operation_id = "submit_intake", tag = "patients", params(("id" = String, Path, description = "the patient's id (UUID)")), request_body = Submit, responses((status = 201, description = "submitted", body = IntakeSubmission), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn submit(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<Submit>, JsonRejection>,
) -> Result<(StatusCode, Json<IntakeSubmission>), ApiError> {
    let patient: PatientId = id.parse()?;
    let b = json_body(body)?;
    let actor = who.actor_as(READERS, request_id(&headers));
    let (submission, _flags) = s
        .intake
        .submit(&actor, patient, b.answers)
        .await
        .map_err(|e| refusal(&who, e, "intake", (Action::Write, Area::Profile)))?;
    Ok((StatusCode::CREATED, Json(submission)))
}

/// One answer changed; the previous answer is kept in the submission's amendments.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Amend {
    key: String,
    answer: Answer,
}

/// `PATCH /api/v1/patients/{id}/intake`: the patient changes one answer.
#[utoipa::path(patch, path = "/api/v1/patients/{id}/intake", operation_id = "amend_intake", tag = "patients", params(("id" = String, Path, description = "the patient's id (UUID)")), request_body = Amend, responses((status = 200, description = "amended", body = IntakeSubmission), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn amend(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<Amend>, JsonRejection>,
) -> Result<Json<IntakeSubmission>, ApiError> {
    let patient: PatientId = id.parse()?;
    let b = json_body(body)?;
    let actor = who.actor_as(READERS, request_id(&headers));
    Ok(Json(s.intake.amend(&actor, patient, &b.key, b.answer).await.map_err(
        |e| refusal(&who, e, "intake", (Action::Write, Area::Profile)),
    )?))
}

/// A patient's intake with the risk questions answered "yes", so the practice can make
/// sure the treating clinician follows them up before the first session.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct IntakeDto {
    submission: IntakeSubmission,
    risk_flags: Vec<String>,
}

/// `GET /api/v1/patients/{id}/intake`: the patient's own, or any for the practice
/// manager and administrator (audited).
#[utoipa::path(get, path = "/api/v1/patients/{id}/intake", operation_id = "read_intake", tag = "patients", params(("id" = String, Path, description = "the patient's id (UUID)")), responses((status = 200, description = "the intake", body = IntakeDto), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn read(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<IntakeDto>, ApiError> {
    let patient: PatientId = id.parse()?;
    let actor = who.actor_as(READERS, request_id(&headers));
    let (submission, risk_flags) = s
        .intake
        .read_with_flags(&actor, patient)
        .await
        .map_err(|e| refusal(&who, e, "intake", (Action::Read, Area::Profile)))?;
    Ok(Json(IntakeDto { submission, risk_flags }))
}
