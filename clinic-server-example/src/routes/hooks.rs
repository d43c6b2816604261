//! Callbacks from providers: payment events and message delivery reports. Each is
//! authenticated by the provider's signature before anything in it is read.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use clinic_core::service::{PaymentOutcome, ServiceError};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Received {
    received: bool,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
}

/// `POST /api/v1/hooks/stripe`: a Stripe webhook delivery. A bad signature is 400 (Stripe
/// shows it on the endpoint); a delivery applied before is 200 again, so Stripe stops
/// retrying; a storage failure is 503, so it retries later.
#[utoipa::path(post, path = "/api/v1/hooks/stripe", tag = "hooks", request_body(content = String, content_type = "application/json", description = "the raw event body, as Stripe signed it"), responses((status = 200, description = "done", body = Received), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 503, description = "not available now; retry", content_type = "application/problem+json", body = crate::openapi::Problem)))]
pub async fn stripe(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let gateway = state.integrations.payments.clone();
    let event = gateway
        .verify_webhook(signature, &body, chrono::Utc::now())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.code(), e.to_string()))?;
    let outcome = match state.billing.apply_payment_event(&event, &*gateway).await {
        Ok(o) => o,
        Err(e @ (ServiceError::Port(_) | ServiceError::Contention)) => {
            tracing::warn!(code = e.code(), "payment event not applied; the provider will retry");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                e.code(),
                "the event could not be applied now; deliver it again later",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let (outcome, code) = match outcome {
        PaymentOutcome::Applied(_) => ("applied", None),
        PaymentOutcome::AlreadyApplied => ("already_applied", None),
        PaymentOutcome::NothingToDo => ("nothing_to_do", None),
        PaymentOutcome::NeedsAttention { code } => {
            tracing::warn!(code, "a payment event needs staff attention");
            ("needs_attention", Some(code))
        }
    };
    Ok((
        StatusCode::OK,
        Json(Received {
            received: true,
            outcome,
            code,
        }),
    )
        .into_response())
}

/// `POST /api/v1/hooks/twilio/status`: a message delivery report, checked against the
/// signature Twilio computes over this endpoint's public URL and the posted parameters.
#[utoipa::path(post, path = "/api/v1/hooks/twilio/status", tag = "hooks", request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's status parameters"), responses((status = 204, description = "done"), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 503, description = "not available now; retry", content_type = "application/problem+json", body = crate::openapi::Problem)))]
pub async fn twilio_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let Some(public) = &state.integrations.public_url else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "public_url_not_configured",
            "CLINIC_PUBLIC_URL is not set, so callbacks cannot be verified",
        ));
    };
    let params: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|_| ApiError::bad_request("the body is not a form"))?;
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let url = format!("{public}/api/v1/hooks/twilio/status");
    let update = state
        .integrations
        .messages
        .verify_callback(&url, &params, signature)
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, e.code(), e.to_string()))?;
    // Ids and status words only: no number, no text.
    tracing::info!(
        message = update.provider_id,
        status = ?update.status,
        error_code = update.error_code.as_deref().unwrap_or(""),
        "message delivery report"
    );
    let known = state
        .store
        .record_delivery(state.practice, &update.provider_id, update.status, update.error_code)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                e.kind().code(),
                "the report could not be recorded now; deliver it again later",
            )
        })?;
    if !known {
        tracing::info!(
            message = update.provider_id,
            "delivery report for a message not in the outbox"
        );
    }
    Ok(StatusCode::NO_CONTENT)
}
