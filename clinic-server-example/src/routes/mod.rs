//! The router.

mod appointments;
mod auth;
mod directory;
mod hooks;
mod slots;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::routing::{get, post};
use axum::{Json, http::StatusCode};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/api/v1/auth/register", post(auth::register))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/me", get(auth::me))
        .route("/api/v1/auth/bootstrap", post(auth::bootstrap))
        .route("/api/v1/directory", get(directory::directory))
        .route("/api/v1/slots", get(slots::search))
        .route("/api/v1/appointments", post(appointments::book))
        .route("/api/v1/appointments/{id}", get(appointments::get))
        .route("/api/v1/appointments/{id}/cancel", post(appointments::cancel))
        .route("/api/v1/hooks/stripe", post(hooks::stripe))
        .route("/api/v1/hooks/twilio/status", post(hooks::twilio_status))
        .fallback(not_found)
        .with_state(state)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route")
}

/// Unwraps a JSON body or turns the rejection into a 400 problem (413 for a body over
/// the limit, 415 for a wrong content type).
pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v).map_err(|r| {
        let status = r.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "bad_request",
        };
        ApiError::new(status, code, r.body_text())
    })
}
