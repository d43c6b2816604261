//! `GET /api/v1/slots`: bookable starts for a service.

use axum::extract::{Query, State, rejection::QueryRejection};
use axum::response::{IntoResponse as _, Response};
use chrono::NaiveDate;
use clinic_core::FieldError;
use clinic_core::ids::{LocationId, PatientId, PractitionerId, ServiceId};
use clinic_core::scheduling::{DeliveryMode, Slot, SlotQuery};
use clinic_core::service::SlotSearch;
use serde::Deserialize;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use clinic_core::access::{Action, Area, Relation};

/// Query parameters. `practitioner_id` takes a comma-separated list; `zone` is the
/// viewer's IANA zone (default `Australia/Sydney`).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct Params {
    service_id: ServiceId,
    from: NaiveDate,
    to: NaiveDate,
    zone: Option<String>,
    practitioner_id: Option<String>,
    location_id: Option<LocationId>,
    patient_id: Option<PatientId>,
    mode: Option<DeliveryMode>,
}

#[utoipa::path(get, path = "/api/v1/slots", tag = "scheduling", params(Params), responses((status = 200, description = "done", body = Vec<clinic_core::scheduling::Slot>), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn search(
    State(s): State<AppState>,
    who: Principal,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    who.require(Action::Read, Area::Directory, Relation::Other, "slots")?;
    let Query(p) = params.map_err(|r| ApiError::bad_request(r.body_text()))?;
    // The same question asked a moment ago, with nothing changed since, has the same
    // answer (see `crate::slot_cache`); the key is every parameter as parsed.
    // The practice's minute is part of the key, so the clock moving on (past the notice
    // period, say) is seen within a minute even without a write.
    let minute = s.clock.now().timestamp().div_euclid(60);
    let key = format!(
        "{}|{minute}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}",
        s.practice, p.service_id, p.from, p.to, p.zone, p.practitioner_id, p.location_id, p.patient_id, p.mode
    );
    let asked = std::time::Instant::now();
    if let Some(body) = s.slot_cache.get(&key, asked) {
        return Ok(json_bytes(body));
    }
    let generation = s.slot_cache.generation();
    let viewer_zone = clinic_core::time::parse_zone("zone", p.zone.as_deref().unwrap_or("Australia/Sydney"))?;
    let practitioner_ids = p
        .practitioner_id
        .as_deref()
        .map(|list| {
            list.split(',')
                .filter(|x| !x.trim().is_empty())
                .map(|x| x.trim().parse::<PractitionerId>())
                .collect::<Result<Vec<_>, FieldError>>()
        })
        .transpose()?
        .unwrap_or_default();
    let search = SlotSearch {
        service_id: p.service_id,
        practitioner_ids,
        query: SlotQuery {
            from: p.from,
            to: p.to,
            viewer_zone,
            mode: p.mode.unwrap_or(DeliveryMode::InPerson),
            location: p.location_id,
            patient: p.patient_id,
        },
    };
    let slots: Vec<Slot> = s.booking.search_slots(s.practice, &search).await?;
    let body = axum::body::Bytes::from(serde_json::to_vec(&slots).map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "serialization_failed",
            "the slots could not be written",
        )
    })?);
    s.slot_cache.put(key, generation, asked, body.clone());
    Ok(json_bytes(body))
}

fn json_bytes(body: axum::body::Bytes) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}
