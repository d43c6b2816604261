//! Practitioners' availability (their own, or the practice's managers'), and the audit log
//! with its chain verification (administrators).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{NaiveDate, NaiveTime, Weekday};
use clinic_adapters::system::UuidV7Ids;
use clinic_core::access::{Action, Area, Relation};
use clinic_core::audit::AuditEvent;
use clinic_core::ids::LocationId;
use clinic_core::ports::IdGeneratorExt;
use clinic_core::scheduling::{Availability, AvailabilityException, ExceptionKind, WeeklyTemplate};
use clinic_core::service::{AuditService, ServiceError};
use serde::{Deserialize, Serialize};

use super::json_body;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /api/v1/practitioners/{id}/availability`: weekly templates and exceptions.
#[utoipa::path(get, path = "/api/v1/practitioners/{id}/availability", tag = "practitioners", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::scheduling::Availability), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn availability(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Availability>, ApiError> {
    let id = super::practitioner_for(&s, &who, &id, Action::Read, Area::Availability).await?;
    Ok(Json(
        s.store.availability(s.practice, id).await.map_err(ServiceError::Port)?,
    ))
}

/// A weekly template, in the location's local time.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTemplate {
    location_id: LocationId,
    #[schema(value_type = String, example = "Mon")]
    weekday: Weekday,
    start: NaiveTime,
    end: NaiveTime,
    effective_from: NaiveDate,
    #[serde(default)]
    effective_to: Option<NaiveDate>,
}

/// `POST /api/v1/practitioners/{id}/templates`.
#[utoipa::path(post, path = "/api/v1/practitioners/{id}/templates", tag = "practitioners", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = NewTemplate, responses((status = 201, description = "done", body = clinic_core::scheduling::WeeklyTemplate), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn add_template(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<NewTemplate>, JsonRejection>,
) -> Result<(StatusCode, Json<WeeklyTemplate>), ApiError> {
    let id = super::practitioner_for(&s, &who, &id, Action::Write, Area::Availability).await?;
    let b = json_body(body)?;
    if !s
        .store
        .locations(s.practice)
        .await
        .map_err(ServiceError::Port)?
        .iter()
        .any(|l| l.id == b.location_id)
    {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "location not found"));
    }
    let t = WeeklyTemplate::new(
        UuidV7Ids.new_id(),
        s.practice,
        id,
        b.location_id,
        b.weekday,
        b.start,
        b.end,
        b.effective_from,
        b.effective_to,
    )?;
    s.store.save_template(&t).await.map_err(ServiceError::Port)?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// An exception: leave (`{"kind": "unavailable", "from", "to"}`) or extra hours
/// (`{"kind": "extra_hours", "date", "start", "end"}`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewException {
    #[serde(default)]
    location_id: Option<LocationId>,
    exception: ExceptionKind,
}

/// `POST /api/v1/practitioners/{id}/exceptions`.
#[utoipa::path(post, path = "/api/v1/practitioners/{id}/exceptions", tag = "practitioners", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = NewException, responses((status = 201, description = "done", body = clinic_core::scheduling::AvailabilityException), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn add_exception(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<NewException>, JsonRejection>,
) -> Result<(StatusCode, Json<AvailabilityException>), ApiError> {
    let id = super::practitioner_for(&s, &who, &id, Action::Write, Area::Availability).await?;
    let b = json_body(body)?;
    let e = AvailabilityException::new(UuidV7Ids.new_id(), s.practice, id, b.location_id, b.exception)?;
    s.store.save_exception(&e).await.map_err(ServiceError::Port)?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// A page of the audit log.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    #[serde(default)]
    from: u64,
    #[serde(default = "hundred")]
    limit: usize,
}

const fn hundred() -> usize {
    100
}

/// `GET /api/v1/audit?from=0&limit=100`: audit events from a position (at most 1,000 a
/// page); what was done, by whom, to which record, with what outcome — never content.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(Page), responses((status = 200, description = "done", body = Vec<clinic_core::audit::AuditEvent>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn audit(
    State(s): State<AppState>,
    who: Principal,
    Query(p): Query<Page>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    who.require(Action::Read, Area::AuditLog, Relation::Other, "audit")?;
    if p.limit == 0 || p.limit > 1000 {
        return Err(clinic_core::FieldError::new("limit", "must be between 1 and 1000").into());
    }
    Ok(Json(
        s.store
            .events(s.practice, p.from, p.limit)
            .await
            .map_err(ServiceError::Port)?,
    ))
}

/// The chain's state.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Verified {
    intact: bool,
    events: Option<u64>,
    problem: Option<String>,
}

/// `POST /api/v1/audit/verify`: checks the whole hash chain against its signed
/// checkpoints; an edited, removed or reordered event, or a cut tail, is reported.
#[utoipa::path(post, path = "/api/v1/audit/verify", tag = "audit", responses((status = 200, description = "done", body = Verified), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn verify(State(s): State<AppState>, who: Principal) -> Result<Json<Verified>, ApiError> {
    who.require(Action::Verify, Area::AuditLog, Relation::Other, "audit")?;
    let result = AuditService::new(s.store.clone())
        .verify(s.practice, &s.audit_key, &[])
        .await?;
    Ok(Json(match result {
        Ok(n) => Verified {
            intact: true,
            events: Some(n),
            problem: None,
        },
        Err(e) => Verified {
            intact: false,
            events: None,
            problem: Some(e.to_string()),
        },
    }))
}
