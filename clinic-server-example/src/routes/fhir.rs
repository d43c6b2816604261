//! FHIR R4 reads for other systems (`application/fhir+json`): a patient, a practitioner,
//! an appointment, a practitioner's schedules and the free slots on one. Who may read
//! what is the same as for the practice's own routes (`access::decide`); the resources
//! carry the AU Base identifiers (`clinic_adapters::fhir`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use clinic_adapters::fhir;
use clinic_core::access::{Action, Area, Relation};
use clinic_core::ids::{PractitionerId, ServiceId};
use clinic_core::scheduling::DeliveryMode;
use clinic_core::scheduling::slots::SlotQuery;
use clinic_core::service::{ServiceError, SlotSearch};
use serde::Deserialize;
use serde_json::Value;

use super::appointments::permitted;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The base the bundles' full URLs are under.
const BASE: &str = "/api/v1/fhir";

fn fhir_json(v: Value) -> Response {
    let mut res = Json(v).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+json"));
    res
}

fn port(entity: &'static str) -> impl FnOnce(clinic_core::ports::PortError) -> ApiError {
    move |e| ServiceError::from_port_kind(e, entity).into()
}

/// `GET /api/v1/fhir/Patient/{id}`: the patient themselves, or the practice's manager or
/// administrator (another patient's answers 404).
#[utoipa::path(get, path = "/api/v1/fhir/Patient/{id}", tag = "fhir", params(("id" = String, Path, description = "the patient's id")), responses((status = 200, description = "a FHIR R4 Patient", content_type = "application/fhir+json", body = Object), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient (or another patient)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn fhir_patient(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let p = super::patient_for(&s, &who, &id).await?;
    Ok(fhir_json(fhir::patient(&p)))
}

/// `GET /api/v1/fhir/Practitioner/{id}`: anyone signed in (the directory).
#[utoipa::path(get, path = "/api/v1/fhir/Practitioner/{id}", tag = "fhir", params(("id" = String, Path, description = "the practitioner's id")), responses((status = 200, description = "a FHIR R4 Practitioner", content_type = "application/fhir+json", body = Object), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such practitioner", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn fhir_practitioner(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    who.require(Action::Read, Area::Directory, Relation::Other, "practitioner")?;
    let id: PractitionerId = id.parse()?;
    let p = s
        .store
        .practitioner(s.practice, id)
        .await
        .map_err(port("practitioner"))?;
    Ok(fhir_json(fhir::practitioner(&p)))
}

/// `GET /api/v1/fhir/Appointment/{id}`: as `GET /api/v1/appointments/{id}` allows.
#[utoipa::path(get, path = "/api/v1/fhir/Appointment/{id}", tag = "fhir", params(("id" = String, Path, description = "the appointment's id")), responses((status = 200, description = "a FHIR R4 Appointment", content_type = "application/fhir+json", body = Object), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such appointment (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn fhir_appointment(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let a = permitted(&s, &who, &id, Action::Read).await?;
    let services = s.store.services(s.practice).await.map_err(ServiceError::Port)?;
    let name = services
        .iter()
        .find(|x| x.id == a.service_id)
        .map_or_else(|| "Appointment".to_owned(), |x| x.name.clone());
    Ok(fhir_json(fhir::appointment(&a, &name)))
}

/// Which schedules.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleQuery {
    /// The practitioner (FHIR's `actor`).
    actor: PractitionerId,
}

/// `GET /api/v1/fhir/Schedule?actor={practitioner}`: a searchset of the practitioner's
/// schedules, one per location they work at.
#[utoipa::path(get, path = "/api/v1/fhir/Schedule", tag = "fhir", params(ScheduleQuery), responses((status = 200, description = "a FHIR R4 searchset Bundle of Schedules", content_type = "application/fhir+json", body = Object), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such practitioner", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn fhir_schedules(
    State(s): State<AppState>,
    who: Principal,
    q: Result<Query<ScheduleQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    who.require(Action::Read, Area::Directory, Relation::Other, "practitioner")?;
    let Query(q) = q.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let p = s
        .store
        .practitioner(s.practice, q.actor)
        .await
        .map_err(port("practitioner"))?;
    let availability = s
        .store
        .availability(s.practice, p.id)
        .await
        .map_err(ServiceError::Port)?;
    let works_at = availability.locations();
    let locations = s.store.locations(s.practice).await.map_err(ServiceError::Port)?;
    let found = locations
        .iter()
        .filter(|l| works_at.contains(&l.id))
        .map(|l| fhir::schedule(&p, l))
        .collect();
    Ok(fhir_json(fhir::bundle(BASE, found)))
}

/// Which slots.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlotQueryParams {
    /// The schedule's id.
    schedule: String,
    /// The service whose length the slots are for.
    service_id: ServiceId,
    /// First day (local to the schedule's location).
    from: NaiveDate,
    /// Last day.
    to: NaiveDate,
}

/// `GET /api/v1/fhir/Slot?schedule=&service_id=&from=&to=`: a searchset of the free slots
/// on a schedule, as the practice's own slot search finds them.
#[utoipa::path(get, path = "/api/v1/fhir/Slot", tag = "fhir", params(SlotQueryParams), responses((status = 200, description = "a FHIR R4 searchset Bundle of free Slots", content_type = "application/fhir+json", body = Object), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such schedule", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn fhir_slots(
    State(s): State<AppState>,
    who: Principal,
    q: Result<Query<SlotQueryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    who.require(Action::Read, Area::Directory, Relation::Other, "slots")?;
    let Query(q) = q.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let locations = s.store.locations(s.practice).await.map_err(ServiceError::Port)?;
    let people = s.store.practitioners(s.practice).await.map_err(ServiceError::Port)?;
    let Some((p, l)) = people
        .iter()
        .flat_map(|p| locations.iter().map(move |l| (p, l)))
        .find(|(p, l)| fhir::schedule_id(p.id, l) == q.schedule)
    else {
        return Err(ServiceError::NotFound { entity: "schedule" }.into());
    };
    let search = SlotSearch {
        service_id: q.service_id,
        practitioner_ids: vec![p.id],
        query: SlotQuery {
            from: q.from,
            to: q.to,
            viewer_zone: l.zone,
            mode: DeliveryMode::InPerson,
            location: Some(l.id),
            patient: None,
        },
    };
    let free = s.booking.search_slots(s.practice, &search).await?;
    let found = free.iter().map(|slot| fhir::slot(slot, &q.schedule)).collect();
    Ok(fhir_json(fhir::bundle(BASE, found)))
}
