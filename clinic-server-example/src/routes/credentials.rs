//! A practitioner's credentials: AHPRA registrations and professional indemnity insurance,
//! each renewal a new record, and the insurance certificate uploaded to the document store.
//!
//! The roles matrix (`shared/domain/roles.md`): a clinician reads and uploads their own;
//! the practice manager and administrator write anyone's. The compliance sweep reads the
//! same records to warn before expiry and to suspend bookings after it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use clinic_core::access::{Action, Area};
use clinic_core::credentials::{Credentials, Insurance, Registration};
use clinic_core::ids::PractitionerId;
use clinic_core::money::Money;
use clinic_core::ports::UploadError;
use clinic_core::service::ServiceError;
use serde::Deserialize;

use super::json_body;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

async fn load(s: &AppState, id: PractitionerId) -> Result<Credentials, ApiError> {
    let mut c = s.store.credentials(s.practice, id).await.map_err(ServiceError::Port)?;
    c.practitioner_id = Some(id);
    Ok(c)
}

/// `GET /api/v1/practitioners/{id}/credentials`: registrations and policies, with history.
#[utoipa::path(get, path = "/api/v1/practitioners/{id}/credentials", operation_id = "get_credentials", tag = "practitioners", params(("id" = String, Path, description = "the practitioner's id (UUID)")), responses((status = 200, description = "the credentials", body = Credentials), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such practitioner or certificate", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn get(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Credentials>, ApiError> {
    let id = super::practitioner_for(&s, &who, &id, Action::Read, Area::Credentials).await?;
    Ok(Json(load(&s, id).await?))
}

/// `POST /api/v1/practitioners/{id}/registrations`: a registration period as published on
/// the AHPRA register (a renewal is a new record; the one expiring last is in force).
#[utoipa::path(post, path = "/api/v1/practitioners/{id}/registrations", tag = "practitioners", params(("id" = String, Path, description = "the practitioner's id (UUID)")), request_body = Registration, responses((status = 201, description = "the credentials", body = Credentials), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such practitioner or certificate", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn add_registration(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<Registration>, JsonRejection>,
) -> Result<(StatusCode, Json<Credentials>), ApiError> {
    let id = super::practitioner_for(&s, &who, &id, Action::Write, Area::Credentials).await?;
    let r = json_body(body)?;
    if r.conditions
        .iter()
        .any(|c| c.trim().is_empty() || c.chars().count() > 500)
    {
        return Err(clinic_core::FieldError::new("conditions", "each must be 1 to 500 characters").into());
    }
    let mut c = load(&s, id).await?;
    if c.registrations.iter().any(|x| x.expires_on == r.expires_on) {
        return Err(
            clinic_core::FieldError::new("expires_on", "a registration ending that day is already recorded").into(),
        );
    }
    c.registrations.push(r);
    s.store
        .save_credentials(s.practice, id, &c)
        .await
        .map_err(ServiceError::Port)?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// A professional indemnity policy.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyBody {
    insurer: String,
    policy_number: String,
    /// Cover per claim.
    cover: Money,
    /// Last day of cover.
    expires_on: chrono::NaiveDate,
}

/// `POST /api/v1/practitioners/{id}/insurances`: a policy period (a renewal is a new
/// record); upload its certificate next.
#[utoipa::path(post, path = "/api/v1/practitioners/{id}/insurances", tag = "practitioners", params(("id" = String, Path, description = "the practitioner's id (UUID)")), request_body = PolicyBody, responses((status = 201, description = "the credentials", body = Credentials), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such practitioner or certificate", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn add_insurance(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<PolicyBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Credentials>), ApiError> {
    let id = super::practitioner_for(&s, &who, &id, Action::Write, Area::Credentials).await?;
    let b = json_body(body)?;
    for (field, value) in [("insurer", &b.insurer), ("policy_number", &b.policy_number)] {
        if value.trim().is_empty() || value.chars().count() > 100 || value.chars().any(char::is_control) {
            return Err(
                clinic_core::FieldError::new(field, "must be 1 to 100 characters without control characters").into(),
            );
        }
    }
    if b.cover <= Money::ZERO {
        return Err(clinic_core::FieldError::new("cover", "must be more than zero").into());
    }
    let mut c = load(&s, id).await?;
    if c.insurances
        .iter()
        .any(|i| i.policy_number == b.policy_number && i.expires_on == b.expires_on)
    {
        return Err(clinic_core::FieldError::new("policy_number", "this policy period is already recorded").into());
    }
    c.insurances.push(Insurance {
        insurer: b.insurer.trim().to_owned(),
        policy_number: b.policy_number.trim().to_owned(),
        cover: b.cover,
        expires_on: b.expires_on,
        certificate: None,
    });
    s.store
        .save_credentials(s.practice, id, &c)
        .await
        .map_err(ServiceError::Port)?;
    Ok((StatusCode::CREATED, Json(c)))
}

pub(crate) fn upload_problem(e: &UploadError) -> ApiError {
    let status = match e {
        UploadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        UploadError::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        UploadError::Empty | UploadError::TypeMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, e.code(), e.to_string())
}

/// The policy in force (the one expiring last), or 404.
fn in_force(c: &mut Credentials) -> Result<&mut Insurance, ApiError> {
    c.insurances
        .iter_mut()
        .max_by_key(|i| i.expires_on)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no insurance policy is recorded"))
}

/// `PUT /api/v1/practitioners/{id}/insurances/current/certificate`: the certificate of the
/// policy in force, as the request body (`Content-Type: application/pdf`, `image/png` or
/// `image/jpeg`, at most 5 MiB). The content must be what the type says; it is encrypted
/// before it is stored.
#[utoipa::path(put, path = "/api/v1/practitioners/{id}/insurances/current/certificate", tag = "practitioners", params(("id" = String, Path, description = "the practitioner's id (UUID)")), request_body(content = Vec<u8>, content_type = "application/pdf", description = "the certificate (PDF, PNG or JPEG)"), responses((status = 200, description = "the credentials", body = Credentials), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such practitioner or certificate", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 413, description = "the file is over 5 MiB", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 415, description = "not a PDF, PNG or JPEG", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn put_certificate(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Credentials>, ApiError> {
    let id = super::practitioner_for(&s, &who, &id, Action::Write, Area::Credentials).await?;
    let mut c = load(&s, id).await?;
    let reference = super::store_upload(&s, &headers, &body, super::SCANS).await?;
    in_force(&mut c)?.certificate = Some(reference);
    s.store
        .save_credentials(s.practice, id, &c)
        .await
        .map_err(ServiceError::Port)?;
    Ok(Json(c))
}

/// `GET /api/v1/practitioners/{id}/insurances/current/certificate`: the certificate of the
/// policy in force, as uploaded.
#[utoipa::path(get, path = "/api/v1/practitioners/{id}/insurances/current/certificate", tag = "practitioners", params(("id" = String, Path, description = "the practitioner's id (UUID)")), responses((status = 200, description = "the file", content_type = "application/pdf", body = Vec<u8>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such practitioner or certificate", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn get_certificate(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = super::practitioner_for(&s, &who, &id, Action::Read, Area::Credentials).await?;
    let mut c = load(&s, id).await?;
    let Some(reference) = in_force(&mut c)?.certificate.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no certificate is uploaded for the policy in force",
        ));
    };
    super::document_response(&s, &reference, "certificate").await
}
