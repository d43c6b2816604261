//! The practice itself: its settings (administrators), and its locations, rooms and
//! services (managers and administrators, who run the practice's calendar).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use clinic_adapters::system::UuidV7Ids;
use clinic_core::access::{Action, Area, Relation};
use clinic_core::ids::LocationId;
use clinic_core::ports::IdGeneratorExt;
use clinic_core::practice::{Abn, AuState, Location, Practice, Room, Service, ServiceSpec};
use clinic_core::service::ServiceError;
use serde::Deserialize;

use super::json_body;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

fn problem(status: u16, code: &'static str, detail: &'static str) -> ApiError {
    ApiError::new(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        code,
        detail,
    )
}

/// `GET /api/v1/practice`: the practice's settings.
#[utoipa::path(get, path = "/api/v1/practice", tag = "practice", responses((status = 200, description = "done", body = Practice), (status = 401, description = "not signed in", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn get(State(s): State<AppState>, who: Principal) -> Result<Json<Practice>, ApiError> {
    who.require(Action::Read, Area::StaffAccounts, Relation::Other, "practice")?;
    Ok(Json(s.store.practice(s.practice).await.map_err(ServiceError::Port)?))
}

/// Settings to change; what is left out stays as it is.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    #[serde(default)]
    name: Option<String>,
    /// The ABN, 11 digits (checked).
    #[serde(default)]
    abn: Option<String>,
    /// Reception's phone or email, printed in notices.
    #[serde(default)]
    contact: Option<String>,
    /// Staff must sign in with a second factor.
    #[serde(default)]
    staff_two_factor: Option<bool>,
}

/// `PUT /api/v1/practice`: an administrator changes the practice's name, ABN, contact or
/// second-factor policy.
#[utoipa::path(put, path = "/api/v1/practice", tag = "practice", request_body = Settings, responses((status = 200, description = "done", body = Practice), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn update(
    State(s): State<AppState>,
    who: Principal,
    body: Result<Json<Settings>, JsonRejection>,
) -> Result<Json<Practice>, ApiError> {
    who.require(Action::Write, Area::StaffAccounts, Relation::Other, "practice")?;
    let b = json_body(body)?;
    let mut p = s.store.practice(s.practice).await.map_err(ServiceError::Port)?;
    if let Some(name) = b.name {
        p = Practice {
            name: Practice::new(p.id, &name, p.policy)?.name,
            ..p
        };
    }
    if let Some(abn) = b.abn {
        p.abn = Some(Abn::parse(&abn)?);
    }
    if let Some(contact) = b.contact {
        let contact = contact.trim().to_owned();
        if contact.is_empty() || contact.len() > 200 {
            return Err(clinic_core::FieldError::new("contact", "must be 1 to 200 characters").into());
        }
        p.contact = Some(contact);
    }
    if let Some(required) = b.staff_two_factor {
        p.staff_two_factor = required;
    }
    s.store.save_practice(&p).await.map_err(ServiceError::Port)?;
    Ok(Json(p))
}

fn manage(who: &Principal) -> Result<(), ApiError> {
    who.require(Action::Write, Area::Availability, Relation::Other, "practice")
}

/// A new location.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewLocation {
    name: String,
    address: String,
    /// The IANA zone, such as `Australia/Perth`.
    zone: String,
    state: AuState,
}

/// `POST /api/v1/locations`.
#[utoipa::path(post, path = "/api/v1/locations", tag = "practice", request_body = NewLocation, responses((status = 201, description = "done", body = Location), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn add_location(
    State(s): State<AppState>,
    who: Principal,
    body: Result<Json<NewLocation>, JsonRejection>,
) -> Result<(StatusCode, Json<Location>), ApiError> {
    manage(&who)?;
    let b = json_body(body)?;
    let zone = clinic_core::time::parse_zone("zone", &b.zone)?;
    let l = Location::new(UuidV7Ids.new_id(), s.practice, &b.name, &b.address, zone, b.state)?;
    s.store.save_location(&l).await.map_err(ServiceError::Port)?;
    Ok((StatusCode::CREATED, Json(l)))
}

/// A new room.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRoom {
    location_id: LocationId,
    name: String,
}

/// `POST /api/v1/rooms`.
#[utoipa::path(post, path = "/api/v1/rooms", tag = "practice", request_body = NewRoom, responses((status = 201, description = "done", body = Room), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such location", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn add_room(
    State(s): State<AppState>,
    who: Principal,
    body: Result<Json<NewRoom>, JsonRejection>,
) -> Result<(StatusCode, Json<Room>), ApiError> {
    manage(&who)?;
    let b = json_body(body)?;
    let known = s
        .store
        .locations(s.practice)
        .await
        .map_err(ServiceError::Port)?
        .iter()
        .any(|l| l.id == b.location_id);
    if !known {
        return Err(problem(404, "not_found", "location not found"));
    }
    let r = Room::new(UuidV7Ids.new_id(), s.practice, b.location_id, &b.name)?;
    s.store.save_room(&r).await.map_err(ServiceError::Port)?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// `POST /api/v1/services`: a bookable service (duration, price, buffers, telehealth, the
/// usual MBS item, how many patients it sees together).
#[utoipa::path(post, path = "/api/v1/services", tag = "practice", request_body = ServiceSpec, responses((status = 201, description = "done", body = Service), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn add_service(
    State(s): State<AppState>,
    who: Principal,
    body: Result<Json<ServiceSpec>, JsonRejection>,
) -> Result<(StatusCode, Json<Service>), ApiError> {
    manage(&who)?;
    let spec = json_body(body)?;
    let svc = Service::new(UuidV7Ids.new_id(), s.practice, spec)?;
    s.store.save_service(&svc).await.map_err(ServiceError::Port)?;
    Ok((StatusCode::CREATED, Json(svc)))
}
