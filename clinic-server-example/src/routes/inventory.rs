//! Inventory of medical supplies: items, stock movements, and the low-stock and expiry
//! lists. Technicians and practice managers manage stock; doctors and administrators read
//! it (`access::decide`, through `clinic-core`'s `InventoryService`). Dates are the
//! practice's own (see `practice_today`); a movement is dated at its location.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use clinic_core::ids::ItemId;
use clinic_core::inventory::{ExpiryAlert, Item, ItemSpec, LowStock, Movement, MovementKind};
use clinic_core::people::Role;
use clinic_core::service::{Actor, ItemStock};
use serde::{Deserialize, Serialize};

use super::{json_body, practice_today, request_id};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The roles that touch stock, the ones that write first.
const STOCK: &[Role] = &[Role::Technician, Role::PracticeManager, Role::Doctor, Role::Admin];

fn actor(who: &Principal, headers: &HeaderMap) -> Actor {
    who.actor_as(STOCK, request_id(headers))
}

/// `GET /api/v1/inventory/items`: every item with what is on hand and usable at each
/// location, and its lots.
#[utoipa::path(get, path = "/api/v1/inventory/items", tag = "inventory", responses((status = 200, description = "done", body = Vec<ItemStock>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn list_items(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
) -> Result<Json<Vec<ItemStock>>, ApiError> {
    let today = practice_today(&s).await?;
    Ok(Json(s.inventory.items(&actor(&who, &headers), today).await?))
}

/// `POST /api/v1/inventory/items`: a new item (its SKU unique in the practice).
#[utoipa::path(post, path = "/api/v1/inventory/items", tag = "inventory", request_body = ItemSpec, responses((status = 201, description = "done", body = Item), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused (every one is listed)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn create_item(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Result<Json<ItemSpec>, JsonRejection>,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    let spec = json_body(body)?;
    let item = s.inventory.create_item(&actor(&who, &headers), &spec).await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// An item with its stock and every movement of it, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ItemDetail {
    stock: ItemStock,
    movements: Vec<Movement>,
}

/// `GET /api/v1/inventory/items/{id}`.
#[utoipa::path(get, path = "/api/v1/inventory/items/{id}", tag = "inventory", params(("id" = String, Path, description = "the item's id")), responses((status = 200, description = "done", body = ItemDetail), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such item", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn get_item(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ItemDetail>, ApiError> {
    let id: ItemId = id.parse()?;
    let today = practice_today(&s).await?;
    let (stock, movements) = s.inventory.item(&actor(&who, &headers), id, today).await?;
    Ok(Json(ItemDetail { stock, movements }))
}

/// `PUT /api/v1/inventory/items/{id}`: an item's details (its stock is moved only by
/// movements).
#[utoipa::path(put, path = "/api/v1/inventory/items/{id}", tag = "inventory", params(("id" = String, Path, description = "the item's id")), request_body = ItemSpec, responses((status = 200, description = "done", body = Item), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such item", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused (every one is listed)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn update_item(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<ItemSpec>, JsonRejection>,
) -> Result<Json<Item>, ApiError> {
    let id: ItemId = id.parse()?;
    let spec = json_body(body)?;
    Ok(Json(s.inventory.update_item(&actor(&who, &headers), id, &spec).await?))
}

/// `POST /api/v1/inventory/items/{id}/movements`: stock received, used (optionally in an
/// appointment), adjusted with a reason, transferred, or written off. One that would take
/// more than is usable answers 409 `insufficient_stock` and changes nothing.
#[utoipa::path(post, path = "/api/v1/inventory/items/{id}/movements", tag = "inventory", params(("id" = String, Path, description = "the item's id")), request_body = MovementKind, responses((status = 201, description = "done", body = Movement), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such item", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "more than is usable at that location (insufficient_stock)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or stock rule refused the movement (batch_expired, unknown_batch, already_expired …)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 503, description = "the item's stock kept changing; retry", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn record_movement(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<MovementKind>, JsonRejection>,
) -> Result<(StatusCode, Json<Movement>), ApiError> {
    let id: ItemId = id.parse()?;
    let kind = json_body(body)?;
    let m = s.inventory.record(&actor(&who, &headers), id, kind).await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// `GET /api/v1/inventory/low-stock`: items at or below their reorder level, per location.
#[utoipa::path(get, path = "/api/v1/inventory/low-stock", tag = "inventory", responses((status = 200, description = "done", body = Vec<LowStock>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn low_stock(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
) -> Result<Json<Vec<LowStock>>, ApiError> {
    let today = practice_today(&s).await?;
    Ok(Json(s.inventory.low_stock(&actor(&who, &headers), today).await?))
}

/// How far ahead to look for expiring stock.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct Horizon {
    /// Days after today, 0 to 365 (default 30).
    within_days: Option<u32>,
}

/// `GET /api/v1/inventory/expiring?within_days=30`: lots expired (to write off) or
/// expiring within the horizon, soonest first.
#[utoipa::path(get, path = "/api/v1/inventory/expiring", tag = "inventory", params(Horizon), responses((status = 200, description = "done", body = Vec<ExpiryAlert>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn expiring(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    query: Result<Query<Horizon>, QueryRejection>,
) -> Result<Json<Vec<ExpiryAlert>>, ApiError> {
    let Query(h) = query.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let days = h.within_days.unwrap_or(30);
    if days > 365 {
        return Err(clinic_core::FieldError::new("within_days", "must be 0 to 365").into());
    }
    let today = practice_today(&s).await?;
    Ok(Json(s.inventory.expiring(&actor(&who, &headers), today, days).await?))
}
