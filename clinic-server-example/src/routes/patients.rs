//! Patients as people: the list the practice searches, a patient's own contact details,
//! and corrections (APP 13) processed by the practice.
//!
//! A patient edits their own contact details, fund, GP and guardian; their legal name and
//! date of birth (which Medicare claims rely on) change only through a correction the
//! practice applies, which keeps the previous version. Every edit is validated with the
//! whole record, exactly as at registration (a minor still needs a guardian).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::NaiveDate;
use clinic_core::access::{Action, Area, Relation};
use clinic_core::ids::PatientId;
use clinic_core::people::{
    ContactPerson, DvaNumber, Email, HealthFund, MedicareCard, Patient, PatientSpec, Phone, Role, UsualGp,
};
use clinic_core::privacy::CorrectionOutcome;
use clinic_core::service::ServiceError;
use serde::{Deserialize, Serialize};

use super::{json_body, request_id};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The list's query.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PatientQuery {
    /// Part of a name (legal or preferred), any case; empty lists everyone.
    #[serde(default)]
    q: String,
    /// The page, from 0.
    #[serde(default)]
    page: usize,
    /// Patients a page: 1 to 200 (default 50).
    #[serde(default = "fifty")]
    page_size: usize,
}

const fn fifty() -> usize {
    50
}

/// A patient as a list shows them: enough to tell two people apart, nothing more.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PatientSummary {
    id: PatientId,
    given_name: String,
    family_name: String,
    preferred_name: Option<String>,
    date_of_birth: NaiveDate,
}

/// A page of patients.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PatientPage {
    items: Vec<PatientSummary>,
    page: usize,
    page_size: usize,
    total: usize,
}

/// `GET /api/v1/patients?q=`: the practice manager, administrator and front desk
/// (technician) search every patient; a clinician sees the patients they treat; a patient
/// has no list. Sorted by family then given name.
#[utoipa::path(get, path = "/api/v1/patients", operation_id = "list_patients", tag = "patients", params(PatientQuery), responses((status = 200, description = "a page of patients", body = PatientPage), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    query: Result<Query<PatientQuery>, QueryRejection>,
) -> Result<Json<PatientPage>, ApiError> {
    let Query(q) = query.map_err(|r| ApiError::bad_request(r.body_text()))?;
    if q.page_size == 0 || q.page_size > 200 {
        return Err(clinic_core::FieldError::new("page_size", "must be between 1 and 200").into());
    }
    if q.q.chars().count() > 100 {
        return Err(clinic_core::FieldError::new("q", "must be at most 100 characters").into());
    }
    // Everyone: those who read any profile, or book for any patient at the front desk.
    let everyone = who.may(Action::Read, Area::Profile, Relation::Other)
        || who.may(Action::Write, Area::Appointments, Relation::Other);
    let treating = who
        .practitioner_id
        .filter(|_| who.may(Action::Read, Area::Appointments, Relation::Own));
    let searched = |outcome, reason| super::Audited {
        action: "patient.search",
        kind: "patient",
        resource: uuid::Uuid::nil(),
        patient: None,
        outcome,
        reason,
    };
    if !everyone && treating.is_none() {
        let e = searched(clinic_core::audit::Outcome::Denied, None);
        super::audit_event(&s, Some(who.user_id), request_id(&headers), e).await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this role has no list of patients",
        ));
    }
    let needle = q.q.trim().to_lowercase();
    let mut matches = Vec::new();
    for p in s.store.patients(s.practice).await.map_err(ServiceError::Port)? {
        let named = needle.is_empty()
            || p.legal_name.given.to_lowercase().contains(&needle)
            || p.legal_name.family.to_lowercase().contains(&needle)
            || p.preferred_name
                .as_deref()
                .is_some_and(|n| n.to_lowercase().contains(&needle));
        if !named {
            continue;
        }
        if !everyone
            && let Some(practitioner) = treating
            && !s.treats(practitioner, p.id).await?
        {
            continue;
        }
        matches.push(p);
    }
    matches.sort_by(|a, b| {
        (
            a.legal_name.family.to_lowercase(),
            a.legal_name.given.to_lowercase(),
            a.id,
        )
            .cmp(&(
                b.legal_name.family.to_lowercase(),
                b.legal_name.given.to_lowercase(),
                b.id,
            ))
    });
    let total = matches.len();
    let items = matches
        .into_iter()
        .skip(q.page.saturating_mul(q.page_size))
        .take(q.page_size)
        .map(|p| PatientSummary {
            id: p.id,
            given_name: p.legal_name.given,
            family_name: p.legal_name.family,
            preferred_name: p.preferred_name,
            date_of_birth: p.date_of_birth,
        })
        .collect::<Vec<_>>();
    // The search is read access to every patient it shows: one event names how many, and
    // never the search term (a name).
    let e = searched(
        clinic_core::audit::Outcome::Allowed,
        Some(format!("{} of {total} shown", items.len())),
    );
    super::audit_event(&s, Some(who.user_id), request_id(&headers), e).await?;
    Ok(Json(PatientPage {
        items,
        page: q.page,
        page_size: q.page_size,
        total,
    }))
}

/// A patient's own details as they edit them. Every field is replaced: one left out is
/// cleared. The legal name and date of birth are not here (a correction changes them);
/// the emergency contact and reminders have their own routes and are kept.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileBody {
    #[serde(default)]
    preferred_name: Option<String>,
    #[serde(default)]
    email: Option<Email>,
    #[serde(default)]
    phone: Option<Phone>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    medicare: Option<MedicareCard>,
    #[serde(default)]
    health_fund: Option<HealthFund>,
    #[serde(default)]
    dva_number: Option<DvaNumber>,
    #[serde(default)]
    usual_gp: Option<UsualGp>,
    #[serde(default)]
    guardian: Option<ContactPerson>,
}

/// `PUT /api/v1/patients/{id}/profile`: the patient updates their own details.
#[utoipa::path(put, path = "/api/v1/patients/{id}/profile", tag = "patients", params(("id" = String, Path, description = "the patient's id (UUID)")), request_body = ProfileBody, responses((status = 200, description = "the patient", body = Patient), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn update_profile(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<ProfileBody>, JsonRejection>,
) -> Result<Json<Patient>, ApiError> {
    let patient: PatientId = id.parse()?;
    let relation = if who.acts_for(patient) {
        Relation::Own
    } else {
        Relation::Other
    };
    if who.is_patient_only() && relation == Relation::Other {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "patient not found"));
    }
    who.require(Action::Write, Area::Profile, relation, "patient")?;
    let b = json_body(body)?;
    for (field, value) in [("preferred_name", &b.preferred_name), ("address", &b.address)] {
        if let Some(v) = value
            && (v.trim().is_empty() || v.chars().count() > 200 || v.chars().any(|c| c.is_control() && c != '\n'))
        {
            return Err(
                clinic_core::FieldError::new(field, "must be 1 to 200 characters, without control characters").into(),
            );
        }
    }
    let current = s
        .store
        .patient(s.practice, patient)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "patient"))?;
    let spec = PatientSpec {
        preferred_name: b.preferred_name,
        email: b.email,
        phone: b.phone,
        address: b.address,
        medicare: b.medicare,
        health_fund: b.health_fund,
        dva_number: b.dva_number,
        usual_gp: b.usual_gp,
        guardian: b.guardian,
        ..current.spec()
    };
    let next = Patient::register(current.id, current.practice_id, spec, super::practice_today(&s).await?)?;
    s.store.save_patient(&next).await.map_err(ServiceError::Port)?;
    Ok(Json(next))
}

/// A correction the practice applies: the whole record as it should read.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CorrectionBody {
    corrected: PatientSpec,
}

/// `POST /api/v1/patients/{id}/corrections`: a practice manager or administrator applies
/// a patient's correction request (APP 13); the previous version is kept.
#[utoipa::path(post, path = "/api/v1/patients/{id}/corrections", operation_id = "correct_patient", tag = "privacy", params(("id" = String, Path, description = "the patient's id (UUID)")), request_body = CorrectionBody, responses((status = 200, description = "the corrected patient", body = Patient), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "the record was de-identified at the patient's request", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn correct(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<CorrectionBody>, JsonRejection>,
) -> Result<Json<Patient>, ApiError> {
    let patient: PatientId = id.parse()?;
    let b = json_body(body)?;
    let actor = who.actor_as(&[Role::PracticeManager, Role::Admin], request_id(&headers));
    let today = super::practice_today(&s).await?;
    Ok(Json(s.privacy.correct(&actor, patient, b.corrected, today).await?))
}

/// A declined correction: the reasons, and the patient's statement to attach.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeclineBody {
    reason: String,
    #[serde(default)]
    statement: Option<String>,
}

/// `POST /api/v1/patients/{id}/corrections/decline`: the practice declines in writing,
/// with reasons, and attaches the patient's statement to the record (APP 13.3–13.4).
#[utoipa::path(post, path = "/api/v1/patients/{id}/corrections/decline", tag = "privacy", params(("id" = String, Path, description = "the patient's id (UUID)")), request_body = DeclineBody, responses((status = 204, description = "recorded"), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn decline(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<DeclineBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let patient: PatientId = id.parse()?;
    let b = json_body(body)?;
    let actor = who.actor_as(&[Role::PracticeManager, Role::Admin], request_id(&headers));
    s.store
        .patient(s.practice, patient)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "patient"))?;
    s.privacy
        .decline_correction(&actor, patient, &b.reason, b.statement)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/patients/{id}/corrections`: the correction history (practice managers
/// and administrators, and the patient themselves).
#[utoipa::path(get, path = "/api/v1/patients/{id}/corrections", tag = "privacy", params(("id" = String, Path, description = "the patient's id (UUID)")), responses((status = 200, description = "the history, oldest first", body = Vec<CorrectionOutcome>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn corrections(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<CorrectionOutcome>>, ApiError> {
    let patient: PatientId = id.parse()?;
    let actor = who.actor_as(
        &[Role::PracticeManager, Role::Admin, Role::Patient],
        request_id(&headers),
    );
    let history = s
        .privacy
        .corrections(&actor, patient)
        .await
        .map_err(|e| super::refusal(&who, e, "patient", (Action::Read, Area::PrivacyRequests)))?;
    Ok(Json(history))
}
