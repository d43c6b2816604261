//! A patient's clinical records beyond notes: prescriptions (doctors), test results
//! (technicians record, doctors review), treatment plans and outcome measures. Every read
//! and write goes through `clinic-core`'s `RecordsService`, which decides with
//! `access::decide` and audits every attempt.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use clinic_core::access::{Action, Area};
use clinic_core::clinical::{
    Instrument, MeasureRecord, Prescription, PrescriptionSpec, ResultValue, TestResult, TreatmentGoal, TreatmentPlan,
};
use clinic_core::ids::{PatientId, PractitionerId, TestResultId};
use clinic_core::people::Role;
use clinic_core::service::Actor;
use serde::Deserialize;

use super::json_body;
use super::refusal;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

const CLINICAL: &[Role] = &[Role::Doctor, Role::Psychologist, Role::Technician, Role::Patient];

fn actor(who: &Principal, headers: &HeaderMap, prefer: &[Role]) -> Actor {
    let id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    who.actor_as(prefer, id)
}

fn patient_id(id: &str) -> Result<PatientId, ApiError> {
    Ok(id.parse()?)
}

/// `POST /api/v1/patients/{id}/prescriptions`: a doctor who treats the patient prescribes.
#[utoipa::path(post, path = "/api/v1/patients/{id}/prescriptions", tag = "clinical", params(("id" = String, Path, description = "the patient's id")), request_body = PrescriptionSpec, responses((status = 201, description = "done", body = Prescription), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn prescribe(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<PrescriptionSpec>, JsonRejection>,
) -> Result<(StatusCode, Json<Prescription>), ApiError> {
    let patient = patient_id(&id)?;
    let spec = json_body(body)?;
    let p = s
        .records
        .prescribe(&actor(&who, &headers, &[Role::Doctor]), patient, &spec)
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Write, Area::Prescriptions)))?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// `GET /api/v1/patients/{id}/prescriptions`.
#[utoipa::path(get, path = "/api/v1/patients/{id}/prescriptions", tag = "clinical", params(("id" = String, Path, description = "the patient's id")), responses((status = 200, description = "done", body = Vec<Prescription>), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn prescriptions(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<Prescription>>, ApiError> {
    let patient = patient_id(&id)?;
    Ok(Json(
        s.records
            .prescriptions(&actor(&who, &headers, CLINICAL), patient)
            .await
            .map_err(|e| refusal(&who, e, "patient", (Action::Read, Area::Prescriptions)))?,
    ))
}

/// A test result as recorded.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewResult {
    ordered_by: PractitionerId,
    values: Vec<ResultValue>,
}

/// `POST /api/v1/patients/{id}/test-results`: a technician records a result for the
/// ordering doctor to review.
#[utoipa::path(post, path = "/api/v1/patients/{id}/test-results", tag = "clinical", params(("id" = String, Path, description = "the patient's id")), request_body = NewResult, responses((status = 201, description = "done", body = TestResult), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn record_result(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<NewResult>, JsonRejection>,
) -> Result<(StatusCode, Json<TestResult>), ApiError> {
    let patient = patient_id(&id)?;
    let b = json_body(body)?;
    let r = s
        .records
        .record_result(
            &actor(&who, &headers, &[Role::Technician]),
            patient,
            b.ordered_by,
            b.values,
        )
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Write, Area::TestResults)))?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// `GET /api/v1/patients/{id}/test-results` (a patient sees only reviewed results).
#[utoipa::path(get, path = "/api/v1/patients/{id}/test-results", tag = "clinical", params(("id" = String, Path, description = "the patient's id")), responses((status = 200, description = "done", body = Vec<TestResult>), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn results(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<TestResult>>, ApiError> {
    let patient = patient_id(&id)?;
    Ok(Json(
        s.records
            .results(&actor(&who, &headers, CLINICAL), patient)
            .await
            .map_err(|e| refusal(&who, e, "patient", (Action::Read, Area::TestResults)))?,
    ))
}

/// `POST /api/v1/test-results/{id}/review`: the doctor reviews a result (then the patient
/// may see it).
#[utoipa::path(post, path = "/api/v1/test-results/{id}/review", tag = "clinical", params(("id" = String, Path, description = "the result's id")), responses((status = 200, description = "done", body = TestResult), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such result", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "already reviewed", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn review_result(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    let id: TestResultId = id.parse()?;
    Ok(Json(
        s.records
            .review_result(&actor(&who, &headers, &[Role::Doctor]), id)
            .await
            .map_err(|e| refusal(&who, e, "patient", (Action::Review, Area::TestResults)))?,
    ))
}

/// `POST /api/v1/test-results/{id}/attachments`: a technician files a report or image
/// with the result, as the request body (PDF, PNG, JPEG or text, at most 5 MiB), checked
/// against its declared type and sealed before it is stored. Audited.
#[utoipa::path(post, path = "/api/v1/test-results/{id}/attachments", tag = "clinical", params(("id" = String, Path, description = "the result's id")), request_body(content = Vec<u8>, content_type = "application/pdf", description = "the file (PDF, PNG, JPEG or plain text)"), responses((status = 201, description = "the result with the file", body = TestResult), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such result", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 413, description = "the file is over 5 MiB", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 415, description = "not a PDF, PNG, JPEG or text", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "the content is not what its type says, or the result is full", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn attach_to_result(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<TestResult>), ApiError> {
    use clinic_core::access::{Action, Area, Relation};
    let id: TestResultId = id.parse()?;
    // Only those who write results may store a file at all (the service decides again,
    // on the result itself, and audits).
    who.require(Action::Write, Area::TestResults, Relation::Other, "test result")?;
    let reference = super::store_upload(&s, &headers, &body, super::ANY_DOCUMENT).await?;
    let r = s
        .records
        .attach_to_result(&actor(&who, &headers, &[Role::Technician]), id, reference)
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Write, Area::TestResults)))?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// `GET /api/v1/test-results/{id}/attachments/{digest}`: a file of the result, for
/// whoever may read the result (a patient once it is reviewed). Audited.
#[utoipa::path(get, path = "/api/v1/test-results/{id}/attachments/{digest}", tag = "clinical", params(("id" = String, Path, description = "the result's id"), ("digest" = String, Path, description = "the file's SHA-256, as in the result")), responses((status = 200, description = "the file", content_type = "application/pdf", body = Vec<u8>), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such result or file (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn result_attachment(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path((id, digest)): Path<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    let id: TestResultId = id.parse()?;
    let reference = s
        .records
        .result_attachment(&actor(&who, &headers, CLINICAL), id, &digest)
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Read, Area::TestResults)))?;
    super::document_response(&s, &reference, "attachment").await
}

/// A treatment plan.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlanBody {
    goals: Vec<TreatmentGoal>,
    review_on: chrono::NaiveDate,
}

/// `PUT /api/v1/patients/{id}/plan`: the treating clinician sets the treatment plan.
#[utoipa::path(put, path = "/api/v1/patients/{id}/plan", tag = "clinical", params(("id" = String, Path, description = "the patient's id")), request_body = PlanBody, responses((status = 200, description = "done", body = TreatmentPlan), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn set_plan(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<PlanBody>, JsonRejection>,
) -> Result<Json<TreatmentPlan>, ApiError> {
    let patient = patient_id(&id)?;
    let b = json_body(body)?;
    Ok(Json(
        s.records
            .set_plan(
                &actor(&who, &headers, &[Role::Psychologist, Role::Doctor]),
                patient,
                b.goals,
                b.review_on,
            )
            .await
            .map_err(|e| refusal(&who, e, "patient", (Action::Write, Area::ProgressNotes)))?,
    ))
}

/// `GET /api/v1/patients/{id}/plan`.
#[utoipa::path(get, path = "/api/v1/patients/{id}/plan", tag = "clinical", params(("id" = String, Path, description = "the patient's id")), responses((status = 200, description = "done", body = TreatmentPlan), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient or plan", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn plan(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<TreatmentPlan>, ApiError> {
    let patient = patient_id(&id)?;
    Ok(Json(
        s.records
            .plan(&actor(&who, &headers, CLINICAL), patient)
            .await
            .map_err(|e| refusal(&who, e, "patient", (Action::Read, Area::ProgressNotes)))?,
    ))
}

/// A completed questionnaire.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MeasureBody {
    instrument: Instrument,
    answers: Vec<u8>,
}

/// `POST /api/v1/patients/{id}/measures`: the patient (or their clinician) completes an
/// outcome measure (K10, PHQ-9, GAD-7, DASS-21), scored by the core.
#[utoipa::path(post, path = "/api/v1/patients/{id}/measures", tag = "clinical", params(("id" = String, Path, description = "the patient's id")), request_body = MeasureBody, responses((status = 201, description = "done", body = MeasureRecord), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "the answers do not fit the instrument", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn complete_measure(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<MeasureBody>, JsonRejection>,
) -> Result<(StatusCode, Json<MeasureRecord>), ApiError> {
    let patient = patient_id(&id)?;
    let b = json_body(body)?;
    let m = s
        .records
        .complete_measure(
            &actor(&who, &headers, &[Role::Patient, Role::Psychologist, Role::Doctor]),
            patient,
            b.instrument,
            b.answers,
        )
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Write, Area::OutcomeMeasures)))?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// `GET /api/v1/patients/{id}/measures`: outcome measures over time.
#[utoipa::path(get, path = "/api/v1/patients/{id}/measures", tag = "clinical", params(("id" = String, Path, description = "the patient's id")), responses((status = 200, description = "done", body = Vec<MeasureRecord>), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn measures(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<MeasureRecord>>, ApiError> {
    let patient = patient_id(&id)?;
    Ok(Json(
        s.records
            .measures(&actor(&who, &headers, CLINICAL), patient)
            .await
            .map_err(|e| refusal(&who, e, "patient", (Action::Read, Area::OutcomeMeasures)))?,
    ))
}
