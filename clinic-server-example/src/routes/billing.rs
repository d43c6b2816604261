//! Invoices: drafted and issued by the billing desk, paid at the desk or by card, refunded
//! and credited; read, downloaded and paid by card by their patient; and joining a video
//! session.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clinic_core::access::{Action, Area, Relation};
use clinic_core::billing::Invoice;
use clinic_core::billing::{LineInput, Payer, PaymentMethod};
use clinic_core::ids::{AppointmentId, InvoiceId, PatientId, PaymentId};
use clinic_core::money::Money;
use clinic_core::ports::VideoToken;
use clinic_core::service::{Joiner, ServiceError};
use clinic_core::service::{RefundOutcome, RefundPayment};
use serde::{Deserialize, Serialize};

use super::json_body;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// How an invoice relates to the principal: their own when it is theirs as the patient,
/// or, for a clinician, when they treat its patient.
async fn relation(s: &AppState, who: &Principal, invoice: &Invoice) -> Result<Relation, ApiError> {
    patient_relation(s, who, invoice.patient_id).await
}

/// How a patient relates to the principal: their own record, one they treat, or another's.
async fn patient_relation(s: &AppState, who: &Principal, patient: PatientId) -> Result<Relation, ApiError> {
    if who.acts_for(patient) {
        return Ok(Relation::Own);
    }
    if let Some(practitioner) = who.practitioner_id
        && s.treats(practitioner, patient).await?
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
    // A guardian joins their child's session as that child's party.
    let patient = if who.is_patient_only() && !who.guardian_of.is_empty() {
        let appt = s
            .store
            .appointment(s.practice, id)
            .await
            .map_err(|e| ServiceError::from_port_kind(e, "appointment"))?;
        appt.patient_ids
            .iter()
            .copied()
            .find(|p| who.acts_for(*p))
            .or(who.patient_id)
    } else {
        who.patient_id
    };
    let joiner = match (patient, who.practitioner_id) {
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

/// `POST /api/v1/appointments/{id}/end-session`: the practitioner (or the practice) ends a
/// video session's room, so nobody can stay in it or rejoin with a live token. Recording
/// the session as completed is a separate step (`…/complete`).
#[utoipa::path(post, path = "/api/v1/appointments/{id}/end-session", tag = "telehealth", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 204, description = "the room is closed"), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn end_session(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: AppointmentId = id.parse()?;
    let appt = s
        .store
        .appointment(s.practice, id)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "appointment"))?;
    let own = if who.practitioner_id == Some(appt.practitioner_id) {
        Relation::Own
    } else {
        Relation::Other
    };
    if who.is_patient_only() {
        // Patients leave a session; only the practice ends it (and others' are not found).
        let theirs = appt.patient_ids.iter().any(|p| who.acts_for(*p));
        return Err(if theirs {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "the practitioner ends the session")
        } else {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such appointment")
        });
    }
    who.require(Action::Write, Area::Appointments, own, "appointment")?;
    if appt.mode != clinic_core::scheduling::DeliveryMode::Video {
        return Err(clinic_core::FieldError::new("mode", "only a video session has a room to end").into());
    }
    s.telehealth.end_session(s.practice, id, &*s.integrations.video).await?;
    Ok(StatusCode::NO_CONTENT)
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

/// A new invoice: for whom, who pays, and its lines as entered (GST is worked out by the
/// billing rules, never taken from the request).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewInvoice {
    patient_id: PatientId,
    #[serde(default = "patient_pays")]
    payer: Payer,
    lines: Vec<LineInput>,
}

const fn patient_pays() -> Payer {
    Payer::Patient
}

/// `POST /api/v1/invoices`: the billing desk drafts an invoice.
#[utoipa::path(post, path = "/api/v1/invoices", operation_id = "create_invoice", tag = "billing", request_body = NewInvoice, responses((status = 201, description = "the draft", body = clinic_core::billing::Invoice), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn create(
    State(s): State<AppState>,
    who: Principal,
    body: Result<Json<NewInvoice>, JsonRejection>,
) -> Result<(StatusCode, Json<Invoice>), ApiError> {
    let b = json_body(body)?;
    who.require(
        Action::Write,
        Area::Billing,
        patient_relation(&s, &who, b.patient_id).await?,
        "invoice",
    )?;
    let inv = s
        .billing
        .create_invoice(s.practice, b.patient_id, b.payer, b.lines)
        .await?;
    Ok((StatusCode::CREATED, Json(inv)))
}

/// `POST /api/v1/invoices/{id}/issue`: numbers and dates a draft (gap-free numbering);
/// from then on it changes only by payments, refunds and credit notes.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/issue", operation_id = "issue_invoice", tag = "billing", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "the issued invoice", body = clinic_core::billing::Invoice), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn issue(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Invoice>, ApiError> {
    let inv = readable_invoice(&s, &who, &id, Action::Write).await?;
    let zone = super::practice_zone(&s).await?;
    Ok(Json(s.billing.issue(s.practice, inv.id, zone).await?))
}

/// A payment taken at the desk (cash, transfer, a terminal, a fund or Medicare benefit).
/// Card payments through the payment provider are recorded from its notification instead.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeskPayment {
    amount: Money,
    method: PaymentMethod,
    #[serde(default)]
    reference: Option<String>,
}

/// `POST /api/v1/invoices/{id}/payments`: records a payment of at most the balance.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/payments", operation_id = "pay_invoice", tag = "billing", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = DeskPayment, responses((status = 200, description = "the invoice with the payment", body = clinic_core::billing::Invoice), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn pay(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<DeskPayment>, JsonRejection>,
) -> Result<Json<Invoice>, ApiError> {
    let b = json_body(body)?;
    let inv = readable_invoice(&s, &who, &id, Action::Write).await?;
    if let Some(r) = &b.reference
        && (r.trim().is_empty() || r.chars().count() > 100 || r.chars().any(char::is_control))
    {
        return Err(clinic_core::FieldError::new(
            "reference",
            "must be 1 to 100 characters without control characters",
        )
        .into());
    }
    Ok(Json(
        s.billing
            .pay(s.practice, inv.id, b.amount, b.method, b.reference)
            .await?,
    ))
}

/// A refund of part or all of one payment.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefundBody {
    payment_id: PaymentId,
    amount: Money,
    reason: String,
    /// The client's key for this refund (a UUID it made): sending the same key again
    /// never refunds twice.
    request_key: String,
}

/// `POST /api/v1/invoices/{id}/refunds`: a payment taken by the payment provider is
/// refunded through it (202: recorded on the invoice when the provider confirms); any other
/// is recorded at once (200).
#[utoipa::path(post, path = "/api/v1/invoices/{id}/refunds", operation_id = "refund_payment", tag = "billing", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = RefundBody, responses((status = 200, description = "recorded", body = RefundOutcome), (status = 202, description = "asked of the payment provider", body = RefundOutcome), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn refund(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<RefundBody>, JsonRejection>,
) -> Result<(StatusCode, Json<RefundOutcome>), ApiError> {
    let b = json_body(body)?;
    let inv = readable_invoice(&s, &who, &id, Action::Write).await?;
    let outcome = s
        .billing
        .refund_payment(
            s.practice,
            inv.id,
            &RefundPayment {
                payment_id: b.payment_id,
                amount: b.amount,
                reason: &b.reason,
                request_key: &b.request_key,
            },
            &*s.integrations.payments,
        )
        .await?;
    let status = match outcome {
        RefundOutcome::Recorded(_) => StatusCode::OK,
        RefundOutcome::Requested { .. } => StatusCode::ACCEPTED,
    };
    Ok((status, Json(outcome)))
}

/// A credit note: reduces what is owed without money changing hands.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreditBody {
    amount: Money,
    reason: String,
}

/// `POST /api/v1/invoices/{id}/credit-notes`: credits part or all of an issued invoice.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/credit-notes", operation_id = "credit_invoice", tag = "billing", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = CreditBody, responses((status = 201, description = "the invoice with the credit note", body = clinic_core::billing::Invoice), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn credit(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<CreditBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Invoice>), ApiError> {
    let b = json_body(body)?;
    let inv = readable_invoice(&s, &who, &id, Action::Write).await?;
    Ok((
        StatusCode::CREATED,
        Json(s.billing.credit(s.practice, inv.id, b.amount, &b.reason).await?),
    ))
}

/// `GET /api/v1/patients/{id}/invoices`: a patient's invoices, the newest issued first and
/// drafts last, for the patient, their clinicians and the billing desk.
#[utoipa::path(get, path = "/api/v1/patients/{id}/invoices", tag = "billing", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "the invoices", body = Vec<clinic_core::billing::Invoice>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn for_patient(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<Invoice>>, ApiError> {
    let patient = billing_patient(&s, &who, &id, Action::Read).await?;
    let mut list = s
        .store
        .invoices_for(s.practice, patient)
        .await
        .map_err(ServiceError::Port)?;
    list.sort_by_key(|i| std::cmp::Reverse((i.issued_on, i.number)));
    Ok(Json(list))
}

/// Reads a patient's billing-side records (invoices, referrals, Medicare usage) as the
/// matrix allows: 404 to another patient, as for any record of theirs.
async fn billing_patient(s: &AppState, who: &Principal, id: &str, action: Action) -> Result<PatientId, ApiError> {
    let patient: PatientId = id.parse()?;
    let relation = patient_relation(s, who, patient).await?;
    if who.is_patient_only() && relation == Relation::Other {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such patient"));
    }
    who.require(action, Area::Billing, relation, "patient")?;
    s.store
        .patient(s.practice, patient)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "patient"))?;
    Ok(patient)
}

/// The year asked about.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct YearQuery {
    /// The calendar year (default: this year at the practice).
    #[serde(default)]
    year: Option<i32>,
}

/// `GET /api/v1/patients/{id}/medicare-usage?year=`: Better Access sessions claimed and
/// booked against each annual cap in a calendar year (by the service date at the clinic),
/// and the referral course in use.
#[utoipa::path(get, path = "/api/v1/patients/{id}/medicare-usage", tag = "billing", params(("id" = String, Path, description = "the patient's id (UUID)"), YearQuery), responses((status = 200, description = "the usage", body = clinic_core::service::CapUsage), (status = 400, description = "the query could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn medicare_usage(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<YearQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<clinic_core::service::CapUsage>, ApiError> {
    use chrono::Datelike;
    let axum::extract::Query(q) = query.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let patient = billing_patient(&s, &who, &id, Action::Read).await?;
    let today = super::practice_today(&s).await?;
    let year = q.year.unwrap_or(today.year());
    if !(2000..=today.year() + 1).contains(&year) {
        return Err(clinic_core::FieldError::new("year", "must be between 2000 and next year").into());
    }
    // The rule in force today for this year; the year's last day for a past year; its
    // first for next year.
    let on = match year.cmp(&today.year()) {
        std::cmp::Ordering::Equal => today,
        std::cmp::Ordering::Less => chrono::NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(today),
        std::cmp::Ordering::Greater => chrono::NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today),
    };
    Ok(Json(s.billing.cap_usage(s.practice, patient, year, on).await?))
}

/// `GET /api/v1/patients/{id}/referrals`: a patient's referral letters, newest first.
#[utoipa::path(get, path = "/api/v1/patients/{id}/referrals", operation_id = "list_referrals", tag = "billing", params(("id" = String, Path, description = "the patient's id (UUID)")), responses((status = 200, description = "the referrals", body = Vec<clinic_core::medicare::Referral>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn referrals(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<clinic_core::medicare::Referral>>, ApiError> {
    let patient = billing_patient(&s, &who, &id, Action::Read).await?;
    let mut list = s
        .store
        .referrals(s.practice, patient)
        .await
        .map_err(ServiceError::Port)?;
    list.sort_by_key(|r| std::cmp::Reverse(r.written_on));
    Ok(Json(list))
}

/// A referral letter as received.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewReferral {
    referrer_name: String,
    referrer_kind: clinic_core::medicare::ReferrerKind,
    #[serde(default)]
    referrer_provider_number: Option<clinic_core::people::ProviderNumber>,
    /// For a GP: the patient's MyMedicare practice or usual medical practitioner.
    #[serde(default)]
    mymedicare_or_usual_gp: bool,
    written_on: chrono::NaiveDate,
    #[serde(default)]
    sessions_requested: Option<u16>,
    scope: clinic_core::medicare::ReferralScope,
}

/// `POST /api/v1/patients/{id}/referrals`: the billing desk records a referral letter
/// (claims name it; the course it covers is counted from it).
#[utoipa::path(post, path = "/api/v1/patients/{id}/referrals", tag = "billing", params(("id" = String, Path, description = "the patient's id (UUID)")), request_body = NewReferral, responses((status = 201, description = "recorded", body = clinic_core::medicare::Referral), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn add_referral(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<NewReferral>, JsonRejection>,
) -> Result<(StatusCode, Json<clinic_core::medicare::Referral>), ApiError> {
    use clinic_core::ports::IdGeneratorExt;
    let b = json_body(body)?;
    let patient = billing_patient(&s, &who, &id, Action::Write).await?;
    let today = super::practice_today(&s).await?;
    if b.written_on > today {
        return Err(clinic_core::FieldError::new("written_on", "must not be in the future").into());
    }
    let referral = clinic_core::medicare::Referral {
        id: clinic_adapters::system::UuidV7Ids.new_id(),
        practice_id: s.practice,
        patient_id: patient,
        referrer_name: b.referrer_name.trim().to_owned(),
        referrer_kind: b.referrer_kind,
        referrer_provider_number: b.referrer_provider_number,
        mymedicare_or_usual_gp: b.mymedicare_or_usual_gp,
        written_on: b.written_on,
        sessions_requested: b.sessions_requested,
        scope: b.scope,
        letter: None,
    }
    .validate()?;
    s.store.save_referral(&referral).await.map_err(ServiceError::Port)?;
    Ok((StatusCode::CREATED, Json(referral)))
}

/// The desk's list query.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct InvoiceQuery {
    /// Only invoices numbered below this (the `next_before` of the previous page).
    #[serde(default)]
    before: Option<u64>,
    /// Invoices a page: 1 to 200 (default 50).
    #[serde(default = "fifty")]
    limit: usize,
    /// Only invoices with something still owing.
    #[serde(default)]
    unpaid: bool,
}

const fn fifty() -> usize {
    50
}

/// A page of issued invoices, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct InvoicePage {
    items: Vec<Invoice>,
    /// Pass as `before` for the next page; absent on the last.
    next_before: Option<u64>,
}

/// `GET /api/v1/invoices?before=&limit=&unpaid=`: the billing desk's list of issued
/// invoices by number, newest first (managers, technicians and administrators).
#[utoipa::path(get, path = "/api/v1/invoices", operation_id = "list_invoices", tag = "billing", params(InvoiceQuery), responses((status = 200, description = "a page", body = InvoicePage), (status = 400, description = "the query could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    who: Principal,
    query: Result<axum::extract::Query<InvoiceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<InvoicePage>, ApiError> {
    let axum::extract::Query(q) = query.map_err(|r| ApiError::bad_request(r.body_text()))?;
    // A list, not a record: those who read only their own get a plain refusal.
    if !who.may(Action::Read, Area::Billing, Relation::Other) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the desk's invoice list is for the billing desk",
        ));
    }
    if q.limit == 0 || q.limit > 200 {
        return Err(clinic_core::FieldError::new("limit", "must be between 1 and 200").into());
    }
    // Unpaid ones are filtered from fuller pages until the page is full or the numbers run
    // out, so a page is never short while older unpaid invoices remain.
    let mut items = Vec::new();
    let mut before = q.before;
    loop {
        let batch = s
            .store
            .issued_invoices(s.practice, before, q.limit)
            .await
            .map_err(ServiceError::Port)?;
        let exhausted = batch.len() < q.limit;
        before = batch.last().and_then(|i| i.number).or(before);
        for inv in batch {
            if items.len() < q.limit && (!q.unpaid || inv.balance() > Money::ZERO) {
                items.push(inv);
            }
        }
        if exhausted || items.len() >= q.limit {
            let next_before = if items.len() < q.limit {
                None
            } else {
                items.last().and_then(|i| i.number)
            };
            return Ok(Json(InvoicePage { items, next_before }));
        }
    }
}

/// The referral of `patient` named `referral`, or 404.
async fn referral_of(
    s: &AppState,
    patient: PatientId,
    referral: &str,
) -> Result<clinic_core::medicare::Referral, ApiError> {
    let id: clinic_core::ids::ReferralId = referral.parse()?;
    let r = s
        .store
        .referral(s.practice, id)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "referral"))?;
    if r.patient_id != patient {
        return Err(ServiceError::NotFound { entity: "referral" }.into());
    }
    Ok(r)
}

/// `PUT /api/v1/patients/{id}/referrals/{referral}/letter`: the billing desk files the
/// letter itself as the request body (PDF, PNG or JPEG, at most 5 MiB), checked against its
/// declared type and sealed before it is stored; a second upload replaces the first.
#[utoipa::path(put, path = "/api/v1/patients/{id}/referrals/{referral}/letter", tag = "billing", params(("id" = String, Path, description = "the patient's id (UUID)"), ("referral" = String, Path, description = "the referral's id")), request_body(content = Vec<u8>, content_type = "application/pdf", description = "the letter (PDF, PNG or JPEG)"), responses((status = 200, description = "the referral", body = clinic_core::medicare::Referral), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient or referral", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 413, description = "the file is over 5 MiB", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 415, description = "not a PDF, PNG or JPEG", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "the content is not what its type says", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn put_referral_letter(
    State(s): State<AppState>,
    who: Principal,
    Path((id, referral)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<clinic_core::medicare::Referral>, ApiError> {
    let patient = billing_patient(&s, &who, &id, Action::Write).await?;
    let mut r = referral_of(&s, patient, &referral).await?;
    let reference = super::store_upload(&s, &headers, &body, super::SCANS).await?;
    r.letter = Some(reference);
    s.store.save_referral(&r).await.map_err(ServiceError::Port)?;
    Ok(Json(r))
}

/// `GET /api/v1/patients/{id}/referrals/{referral}/letter`: the letter as filed, for those
/// who may read the patient's billing.
#[utoipa::path(get, path = "/api/v1/patients/{id}/referrals/{referral}/letter", tag = "billing", params(("id" = String, Path, description = "the patient's id (UUID)"), ("referral" = String, Path, description = "the referral's id")), responses((status = 200, description = "the letter", content_type = "application/pdf", body = Vec<u8>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient, referral or letter", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn get_referral_letter(
    State(s): State<AppState>,
    who: Principal,
    Path((id, referral)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let patient = billing_patient(&s, &who, &id, Action::Read).await?;
    let r = referral_of(&s, patient, &referral).await?;
    let Some(reference) = r.letter else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no letter is filed for this referral",
        ));
    };
    super::document_response(&s, &reference, "letter").await
}
