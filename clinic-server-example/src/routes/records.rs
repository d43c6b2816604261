//! A patient's own records: consents, session preparation for telehealth, clinical notes
//! (for their clinicians), and privacy requests (access and deletion).
//!
//! Reads and writes of clinical records go through `clinic-core`'s services, which decide
//! with `access::decide` and audit every attempt; a record of another patient answers 404
//! to a patient, so its existence does not leak.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clinic_core::access::{Action, Area, Relation};
use clinic_core::clinical::{NoteKind, ProgressNote, Soap};
use clinic_core::ids::{AppointmentId, NoteId, PatientId};
use clinic_core::people::Role;
use clinic_core::privacy::{AccessRequest, Consent, ConsentKind, ConsentLedger, ConsentMethod, DeletionOutcome};
use clinic_core::service::{Actor, ServiceError};
use clinic_core::telehealth::SessionPrep;
use serde::{Deserialize, Serialize};

use super::refusal;
use super::{json_body, request_id};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

fn own(who: &Principal, patient: PatientId) -> Relation {
    if who.acts_for(patient) {
        Relation::Own
    } else {
        Relation::Other
    }
}

/// A consent given or withdrawn.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsentBody {
    consent: ConsentKind,
    granted: bool,
    #[serde(default = "online")]
    method: ConsentMethod,
}

const fn online() -> ConsentMethod {
    ConsentMethod::Online
}

/// `POST /api/v1/patients/{id}/consents`: the patient gives or withdraws a consent
/// (privacy policy, telehealth, recording …); a withdrawal is a new record, never a deletion.
#[utoipa::path(post, path = "/api/v1/patients/{id}/consents", tag = "patients", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = ConsentBody, responses((status = 201, description = "done", body = clinic_core::privacy::ConsentLedger), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn record_consent(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<ConsentBody>, JsonRejection>,
) -> Result<(StatusCode, Json<ConsentLedger>), ApiError> {
    let patient: PatientId = id.parse()?;
    who.require(Action::Write, Area::Profile, own(&who, patient), "patient")?;
    let b = json_body(body)?;
    let ledger = s
        .privacy
        .record_consent(
            s.practice,
            &Consent {
                patient_id: patient,
                kind: b.consent,
                granted: b.granted,
                at: s.clock.now(),
                method: b.method,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(ledger)))
}

/// `GET /api/v1/patients/{id}/consents`.
#[utoipa::path(get, path = "/api/v1/patients/{id}/consents", tag = "patients", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::privacy::ConsentLedger), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn consents(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<ConsentLedger>, ApiError> {
    let patient: PatientId = id.parse()?;
    who.require(Action::Read, Area::Profile, own(&who, patient), "patient")?;
    Ok(Json(s.privacy.consents(s.practice, patient).await?))
}

/// `PUT /api/v1/patients/{id}/emergency-contact`: who to call in an emergency (needed
/// before a telehealth session).
#[utoipa::path(put, path = "/api/v1/patients/{id}/emergency-contact", tag = "patients", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = clinic_core::people::ContactPerson, responses((status = 204, description = "done"), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn emergency_contact(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<clinic_core::people::ContactPerson>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let patient: PatientId = id.parse()?;
    who.require(Action::Write, Area::Profile, own(&who, patient), "patient")?;
    let contact = json_body(body)?.checked()?;
    let mut record = s
        .store
        .patient(s.practice, patient)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "patient"))?;
    record.emergency_contact = Some(contact);
    s.store.save_patient(&record).await.map_err(ServiceError::Port)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/appointments/{id}/prep`: the patient confirms, before a video session,
/// their emergency plan, where they will be, and the technical requirements.
#[utoipa::path(put, path = "/api/v1/appointments/{id}/prep", tag = "telehealth", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = clinic_core::telehealth::SessionPrep, responses((status = 204, description = "done"), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn save_prep(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<SessionPrep>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let id: AppointmentId = id.parse()?;
    let prep = json_body(body)?;
    let appt = s
        .store
        .appointment(s.practice, id)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "appointment"))?;
    let Some(patient) = appt.patient_ids.iter().copied().find(|p| who.acts_for(*p)) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "appointment not found",
        ));
    };
    s.store
        .save_prep(s.practice, id, patient, &prep)
        .await
        .map_err(ServiceError::Port)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new note.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewNote {
    patient_id: PatientId,
    #[serde(default = "progress")]
    kind: NoteKind,
    soap: Soap,
}

const fn progress() -> NoteKind {
    NoteKind::Progress
}

fn clinician(who: &Principal, headers: &HeaderMap) -> Actor {
    who.actor_as(&[Role::Psychologist, Role::Doctor], request_id(headers))
}

/// `POST /api/v1/notes`: a clinician drafts a note for a patient they treat.
#[utoipa::path(post, path = "/api/v1/notes", tag = "notes", request_body = NewNote, responses((status = 201, description = "done", body = clinic_core::clinical::ProgressNote), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn create_note(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Result<Json<NewNote>, JsonRejection>,
) -> Result<(StatusCode, Json<ProgressNote>), ApiError> {
    let b = json_body(body)?;
    let note = s
        .clinical
        .create(&clinician(&who, &headers), b.patient_id, b.kind, b.soap)
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Write, Area::ProgressNotes)))?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// `GET /api/v1/notes/{id}` (audited).
#[utoipa::path(get, path = "/api/v1/notes/{id}", tag = "notes", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::clinical::ProgressNote), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn note(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ProgressNote>, ApiError> {
    let id: NoteId = id.parse()?;
    let actor = who.actor_as(&[Role::Psychologist, Role::Doctor, Role::Patient], request_id(&headers));
    let note = s
        .clinical
        .read(&actor, id, None)
        .await
        .map_err(|e| refusal(&who, e, "note", (Action::Read, Area::ProgressNotes)))?;
    Ok(Json(note))
}

/// `POST /api/v1/notes/{id}/sign` and `/lock`: the author signs, then locks; after that a
/// note changes only by addenda.
#[utoipa::path(post, path = "/api/v1/notes/{id}/sign", tag = "notes", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::clinical::ProgressNote), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn sign_note(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ProgressNote>, ApiError> {
    let id: NoteId = id.parse()?;
    Ok(Json(s.clinical.sign(&clinician(&who, &headers), id).await.map_err(
        |e| refusal(&who, e, "note", (Action::Sign, Area::ProgressNotes)),
    )?))
}

/// `POST /api/v1/notes/{id}/lock`.
#[utoipa::path(post, path = "/api/v1/notes/{id}/lock", tag = "notes", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::clinical::ProgressNote), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn lock_note(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ProgressNote>, ApiError> {
    let id: NoteId = id.parse()?;
    Ok(Json(s.clinical.lock(&clinician(&who, &headers), id).await.map_err(
        |e| refusal(&who, e, "note", (Action::Sign, Area::ProgressNotes)),
    )?))
}

/// An addendum.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Addendum {
    text: String,
}

/// `POST /api/v1/notes/{id}/addenda`.
#[utoipa::path(post, path = "/api/v1/notes/{id}/addenda", tag = "notes", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = Addendum, responses((status = 200, description = "done", body = clinic_core::clinical::ProgressNote), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn amend_note(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<Addendum>, JsonRejection>,
) -> Result<Json<ProgressNote>, ApiError> {
    let id: NoteId = id.parse()?;
    let b = json_body(body)?;
    Ok(Json(
        s.clinical
            .amend(&clinician(&who, &headers), id, &b.text)
            .await
            .map_err(|e| refusal(&who, e, "note", (Action::Write, Area::ProgressNotes)))?,
    ))
}

/// The location whose law governs the patient's records (see [`patient_state`]) and
/// today's date there.
async fn patient_today(
    s: &AppState,
    patient: PatientId,
) -> Result<(clinic_core::practice::Location, chrono::NaiveDate), ApiError> {
    let location = patient_state(s, patient).await?;
    let today = s.clock.now().with_timezone(&location.zone).date_naive();
    Ok((location, today))
}

/// The location whose state's law governs a patient's records (access periods,
/// retention): where they were most recently seen, or, for someone never seen, the
/// practice's first location.
async fn patient_state(s: &AppState, patient: PatientId) -> Result<clinic_core::practice::Location, ApiError> {
    let locations = s.store.locations(s.practice).await.map_err(ServiceError::Port)?;
    let seen = s
        .store
        .patient_appointments(s.practice, patient)
        .await
        .map_err(ServiceError::Port)?
        .into_iter()
        .max_by_key(|a| a.interval.start())
        .map(|a| a.location_id);
    seen.and_then(|id| locations.iter().find(|l| l.id == id).cloned())
        .or_else(|| locations.first().cloned())
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "no_location", "the practice has no location yet"))
}

/// `POST /api/v1/patients/{id}/access-requests`: an APP 12 request for everything held,
/// due by the state's period (30 days; 45 in NSW); audited.
#[utoipa::path(post, path = "/api/v1/patients/{id}/access-requests", tag = "privacy", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 201, description = "done", body = clinic_core::privacy::AccessRequest), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn request_access(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<AccessRequest>), ApiError> {
    let patient: PatientId = id.parse()?;
    let (location, today) = patient_today(&s, patient).await?;
    let actor = who.actor_as(
        &[Role::Patient, Role::PracticeManager, Role::Admin],
        request_id(&headers),
    );
    let request = s
        .privacy
        .request_access(&actor, patient, location.state, today)
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Request, Area::PrivacyRequests)))?;
    Ok((StatusCode::CREATED, Json(request)))
}

/// The export's format.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/v1/patients/{id}/export?format=json|csv|pdf`: the patient's record, for a
/// manager or administrator answering the patient's open access request (409
/// `no_access_request` without one); process notes and unsigned drafts are never in it;
/// audited, and the open request is marked provided.
#[utoipa::path(get, path = "/api/v1/patients/{id}/export", tag = "privacy", params(("id" = String, Path, description = "the record's id (UUID)"), ExportQuery), responses((status = 200, description = "done", body = clinic_core::service::PatientExport), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "no access request of the patient's is open", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn export(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let patient: PatientId = id.parse()?;
    let actor = who.actor_as(&[Role::PracticeManager, Role::Admin], request_id(&headers));
    let format = q.format.unwrap_or_else(|| "json".into());
    if !["json", "csv", "pdf"].contains(&format.as_str()) {
        return Err(clinic_core::FieldError::new("format", "must be json, csv or pdf").into());
    }
    let (_, today) = patient_today(&s, patient).await?;
    let data = s
        .privacy
        .export(&actor, patient, today, &format!("export ({format})"))
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Process, Area::PrivacyRequests)))?;
    let fail = |e: clinic_adapters::export::ExportError| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "export_failed", e.to_string())
    };
    let (bytes, mime) = match format.as_str() {
        "csv" => (
            clinic_adapters::export::to_csv(&data).map_err(fail)?.into_bytes(),
            "text/csv",
        ),
        "pdf" => {
            let doc = clinic_adapters::export::readable(&data, &s.export_names().await?);
            (
                s.integrations
                    .renderer
                    .render_pdf(&doc)
                    .await
                    .map_err(ServiceError::Port)?,
                "application/pdf",
            )
        }
        _ => (
            clinic_adapters::export::to_json(&data).map_err(fail)?.into_bytes(),
            "application/json",
        ),
    };
    let mut res = (StatusCode::OK, bytes).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    Ok(res)
}

/// The answer to a deletion request.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DeletionDto {
    outcome: DeletionOutcome,
    deidentified: bool,
    /// Health records destroyed (notes, intake, measures, plan, prescriptions, test
    /// results, message threads and their messages).
    records_destroyed: usize,
    /// What was kept, each with its reason.
    kept: Vec<String>,
    /// Sign-in accounts of the patient deleted (their sessions end at once), besides the
    /// guardians unlinked from them.
    accounts_deleted: usize,
}

/// After a patient's records are destroyed, their own sign-in account goes too (it ties
/// an email address to the record, and would let its holder name the record again) and
/// every guardian link to them is removed. Sessions end at once.
async fn forget_accounts(s: &AppState, patient: PatientId) -> Result<usize, ApiError> {
    let mut deleted = 0;
    for mut account in s.store.accounts(s.practice).await.map_err(ServiceError::Port)? {
        if account.user.patient_id == Some(patient) {
            s.throttle.revoke(account.user.id, chrono::Utc::now());
            s.store
                .delete_account(s.practice, account.user.id)
                .await
                .map_err(ServiceError::Port)?;
            deleted += 1;
        } else if account.user.guardian_of.contains(&patient) {
            account.user.guardian_of.retain(|p| *p != patient);
            s.throttle.revoke(account.user.id, chrono::Utc::now());
            s.store.update_account(&account).await.map_err(ServiceError::Port)?;
        }
    }
    Ok(deleted)
}

/// `POST /api/v1/patients/{id}/deletion-requests`: the patient asks that their records be
/// destroyed (or a manager records a request received by phone or letter); audited. A
/// manager then processes it with `POST …/deletion`.
#[utoipa::path(post, path = "/api/v1/patients/{id}/deletion-requests", tag = "privacy", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 201, description = "done", body = clinic_core::privacy::DeletionRequest), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn request_deletion(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<clinic_core::privacy::DeletionRequest>), ApiError> {
    let patient: PatientId = id.parse()?;
    let (_, today) = patient_today(&s, patient).await?;
    let actor = who.actor_as(
        &[Role::Patient, Role::PracticeManager, Role::Admin],
        request_id(&headers),
    );
    let request = s
        .privacy
        .request_deletion(&actor, patient, today)
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Request, Area::PrivacyRequests)))?;
    Ok((StatusCode::CREATED, Json(request)))
}

/// `POST /api/v1/patients/{id}/deletion`: a manager or administrator processes the
/// patient's open deletion request (409 `no_deletion_request` without one). Health records
/// must be kept for the state's period (seven years after the last service, attended,
/// invoiced, claimed or noted; to age 25 for records made before 18): until then the answer
/// is a refusal naming the date and the rule; after it, the health records are destroyed,
/// the record de-identified, and the answer lists what was kept and why.
#[utoipa::path(post, path = "/api/v1/patients/{id}/deletion", tag = "privacy", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = DeletionDto), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "no deletion request of the patient's is open", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn process_deletion(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<DeletionDto>, ApiError> {
    let patient: PatientId = id.parse()?;
    who.require(Action::Process, Area::PrivacyRequests, own(&who, patient), "patient")?;
    let (location, today) = patient_today(&s, patient).await?;
    let actor = who.actor_as(&[Role::PracticeManager, Role::Admin], request_id(&headers));
    let report = s
        .privacy
        .process_deletion(&actor, patient, &location, today)
        .await
        .map_err(|e| refusal(&who, e, "patient", (Action::Process, Area::PrivacyRequests)))?;
    let mut accounts_deleted = 0;
    if report.deidentified {
        accounts_deleted = forget_accounts(&s, patient).await?;
    }
    Ok(Json(DeletionDto {
        accounts_deleted,
        outcome: report.outcome,
        deidentified: report.deidentified,
        records_destroyed: report.records_destroyed,
        kept: report.kept,
    }))
}
