//! Invoices for their readers: the invoice, its PDF, and a card payment of its balance;
//! and joining a video session.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clinic_core::access::{Action, Area, Relation};
use clinic_core::billing::Invoice;
use clinic_core::ids::{AppointmentId, InvoiceId};
use clinic_core::ports::VideoToken;
use clinic_core::service::{Joiner, ServiceError};
use serde::{Deserialize, Serialize};

use super::json_body;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// How an invoice relates to the principal: their own when it is theirs as the patient,
/// or, for a clinician, when they treat its patient.
async fn relation(s: &AppState, who: &Principal, invoice: &Invoice) -> Result<Relation, ApiError> {
    if who.patient_id == Some(invoice.patient_id) {
        return Ok(Relation::Own);
    }
    if let Some(practitioner) = who.practitioner_id
        && s.store
            .treats(s.practice, practitioner, invoice.patient_id)
            .await
            .map_err(ServiceError::Port)?
    {
        return Ok(Relation::Own);
    }
    Ok(Relation::Other)
}

async fn readable_invoice(s: &AppState, who: &Principal, id: &str, action: Action) -> Result<Invoice, ApiError> {
    let id: InvoiceId = id.parse()?;
    let inv = s
        .store
        .invoice(s.practice, id)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "invoice"))?;
    who.require(action, Area::Billing, relation(s, who, &inv).await?, "invoice")?;
    Ok(inv)
}

/// `GET /api/v1/invoices/{id}`.
#[utoipa::path(get, path = "/api/v1/invoices/{id}", operation_id = "get_invoice", tag = "billing", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::billing::Invoice), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn get(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Invoice>, ApiError> {
    Ok(Json(readable_invoice(&s, &who, &id, Action::Read).await?))
}

/// `GET /api/v1/invoices/{id}/pdf`: the tax invoice, invoice or receipt as the billing
/// rules title it, with its Medicare particulars.
#[utoipa::path(get, path = "/api/v1/invoices/{id}/pdf", tag = "billing", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "the PDF", content_type = "application/pdf", body = Vec<u8>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn pdf(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let inv = readable_invoice(&s, &who, &id, Action::Read).await?;
    let practice = s.store.practice(s.practice).await.map_err(ServiceError::Port)?;
    let patient = s
        .store
        .patient(s.practice, inv.patient_id)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "patient"))?;
    let name = format!("{} {}", patient.legal_name.given, patient.legal_name.family);
    let doc = inv.document(&practice, &name).map_err(ServiceError::Billing)?;
    let file = format!("{}.pdf", doc.number_text());
    let bytes = s
        .integrations
        .renderer
        .render_pdf(&doc.to_document())
        .await
        .map_err(ServiceError::Port)?;
    let mut res = (StatusCode::OK, bytes).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// Which payment attempt this is.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntentBody {
    #[serde(default = "first")]
    attempt: u32,
}

const fn first() -> u32 {
    1
}

/// What the payer's browser needs to confirm a card payment.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct IntentDto {
    id: String,
    client_secret: Option<String>,
    amount: clinic_core::money::Money,
    status: clinic_core::ports::IntentStatus,
}

/// `POST /api/v1/invoices/{id}/payment-intent`: a card payment of the balance through the
/// payment provider. The same attempt number returns the same intent.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/payment-intent", tag = "billing", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = IntentBody, responses((status = 200, description = "done", body = IntentDto), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn payment_intent(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<IntentBody>, JsonRejection>,
) -> Result<Json<IntentDto>, ApiError> {
    let b = json_body(body)?;
    let inv = readable_invoice(&s, &who, &id, Action::Pay).await?;
    let intent = s
        .billing
        .start_card_payment(s.practice, inv.id, b.attempt, &*s.integrations.payments)
        .await?;
    Ok(Json(IntentDto {
        id: intent.id,
        client_secret: intent.client_secret,
        amount: intent.amount,
        status: intent.status,
    }))
}

/// `POST /api/v1/appointments/{id}/join`: the telehealth gate, then a video token for this
/// appointment's room only. 422 `telehealth_not_ready` lists what is missing (as codes).
#[utoipa::path(post, path = "/api/v1/appointments/{id}/join", tag = "telehealth", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::ports::VideoToken), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn join(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<VideoToken>, ApiError> {
    let id: AppointmentId = id.parse()?;
    let joiner = match (who.patient_id, who.practitioner_id) {
        (Some(p), _) if who.is_patient_only() => Joiner::Patient(p),
        (_, Some(p)) => Joiner::Practitioner(p),
        (Some(p), None) => Joiner::Patient(p),
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "only the session's patients and practitioner join it",
            ));
        }
    };
    match s
        .telehealth
        .join(s.practice, id, joiner, &*s.integrations.video)
        .await?
    {
        Ok(token) => Ok(Json(token)),
        Err(missing) => {
            let codes: Vec<String> = missing
                .iter()
                .filter_map(|m| serde_json::to_value(m).ok())
                .filter_map(|v| v["code"].as_str().map(str::to_owned))
                .collect();
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "telehealth_not_ready",
                format!("before this session can start: {}", codes.join(", ")),
            ))
        }
    }
}

/// A Medicare claim for one invoice line.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimBody {
    invoice_id: InvoiceId,
    #[serde(default)]
    line: u16,
    #[serde(default)]
    referral_id: Option<clinic_core::ids::ReferralId>,
    #[serde(default)]
    out_of_rooms: bool,
    #[serde(default)]
    group_video_area_eligible: bool,
}

/// `POST /api/v1/claims`: the billing desk claims a delivered session under Medicare.
/// Refused with 422 `not_claimable` and every reason (the annual cap, no referral, a
/// session not completed …); the session can still be invoiced privately.
#[utoipa::path(post, path = "/api/v1/claims", tag = "billing", request_body = ClaimBody, responses((status = 201, description = "done", body = clinic_core::billing::Claim), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn claim(
    State(s): State<AppState>,
    who: Principal,
    body: Result<Json<ClaimBody>, JsonRejection>,
) -> Result<(StatusCode, Json<clinic_core::billing::Claim>), ApiError> {
    who.require(Action::Write, Area::Billing, Relation::Other, "invoice")?;
    let b = json_body(body)?;
    let claim = s
        .billing
        .claim(
            s.practice,
            &clinic_core::service::ClaimRequest {
                invoice_id: b.invoice_id,
                line: b.line,
                referral_id: b.referral_id,
                out_of_rooms: b.out_of_rooms,
                group_video_area_eligible: b.group_video_area_eligible,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(claim)))
}
