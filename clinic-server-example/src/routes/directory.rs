//! The practice directory: locations, services and practitioners a frontend offers.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use clinic_core::people::{DirectoryQuery, Practitioner, search_directory};
use clinic_core::practice::{Location, Service};
use serde::Serialize;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use clinic_core::access::{Action, Area, Relation};

/// What the directory returns.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Directory {
    locations: Vec<Location>,
    services: Vec<Service>,
    practitioners: Vec<Practitioner>,
}

#[utoipa::path(get, path = "/api/v1/directory", tag = "scheduling", responses((status = 200, description = "done", body = Directory), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn directory(State(s): State<AppState>, who: Principal) -> Result<Json<Directory>, ApiError> {
    who.require(Action::Read, Area::Directory, Relation::Other, "directory")?;
    let locations = s
        .store
        .locations(s.practice)
        .await
        .map_err(clinic_core::service::ServiceError::from)?;
    let services = s
        .store
        .services(s.practice)
        .await
        .map_err(clinic_core::service::ServiceError::from)?;
    let all = s
        .store
        .practitioners(s.practice)
        .await
        .map_err(clinic_core::service::ServiceError::from)?;
    let today: NaiveDate = locations
        .first()
        .map_or_else(|| chrono::Utc::now().date_naive(), |l| s.booking.today_at(l));
    let practitioners = search_directory(&all, &DirectoryQuery::default(), today)
        .into_iter()
        .cloned()
        .collect();
    Ok(Json(Directory {
        locations,
        services,
        practitioners,
    }))
}
