//! Appointments: book (one or a series), read, cancel.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use clinic_core::ids::{AppointmentId, SeriesId};
use clinic_core::scheduling::{Appointment, BookingRequest, CancelledBy, SeriesPolicy, WaitlistEntry};
use clinic_core::service::{BookingWarning, ServiceError};
use serde::{Deserialize, Serialize};

use super::{json_body, request_id};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use clinic_core::access::{Action, Area, Relation};
use clinic_core::people::Role;

/// One occurrence of a booked series, in the response.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct OccurrenceDto {
    index: u16,
    local_start: NaiveDateTime,
    appointment_id: Option<AppointmentId>,
    error_code: Option<&'static str>,
    error: Option<String>,
}

/// Each occurrence's outcome as the principal may see it: a clash names the other
/// appointment to staff, but a patient learns only that the time is taken.
fn occurrences(who: &Principal, report: Vec<clinic_core::service::OccurrenceReport>) -> Vec<OccurrenceDto> {
    report
        .into_iter()
        .map(|o| {
            let (appointment_id, error_code, error) = match o.outcome {
                Ok(id) => (Some(id), None, None),
                Err(e) if who.is_patient_only() && e.is_conflict() => (
                    None,
                    Some(e.code()),
                    Some("that time is no longer available".to_owned()),
                ),
                Err(e) => (None, Some(e.code()), Some(e.to_string())),
            };
            OccurrenceDto {
                index: o.index,
                local_start: o.local_start,
                appointment_id,
                error_code,
                error,
            }
        })
        .collect()
}

/// A series moved from one occurrence on.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SeriesMoveDto {
    /// The appointments as moved (none when any occurrence could not move).
    moved: Vec<Appointment>,
    /// Every occurrence that was to move: its new local start and outcome.
    occurrences: Vec<OccurrenceDto>,
}

/// A booked appointment with the Medicare warnings it raised (they never block a booking).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct BookedDto {
    #[serde(flatten)]
    appointment: Appointment,
    warnings: Vec<BookingWarning>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SeriesDto {
    series_id: Option<SeriesId>,
    booked: Vec<Appointment>,
    occurrences: Vec<OccurrenceDto>,
}

/// How an appointment (or a booking request) relates to the principal: their own when
/// they are its practitioner, or act for every one of its patients (as the patient or
/// their guardian).
fn relation(
    who: &Principal,
    patients: &[clinic_core::ids::PatientId],
    practitioner: clinic_core::ids::PractitionerId,
) -> Relation {
    let patient = !patients.is_empty() && patients.iter().all(|x| who.acts_for(*x));
    let clinician = who.practitioner_id == Some(practitioner);
    if patient || clinician {
        Relation::Own
    } else {
        Relation::Other
    }
}

/// A booking refusal as a patient may see it: a clash names the other appointment to
/// staff, but a patient learns only that the time is taken (it may be someone else's).
fn for_patient(who: &Principal, e: ServiceError) -> ApiError {
    let patient = who.is_patient_only();
    match e {
        ServiceError::Scheduling(s) if patient && s.is_conflict() => ApiError::new(
            StatusCode::CONFLICT,
            s.code(),
            "that time is no longer available; choose another",
        ),
        other => other.into(),
    }
}

#[utoipa::path(post, path = "/api/v1/appointments", tag = "appointments", request_body = clinic_core::scheduling::BookingRequest, responses((status = 201, description = "done", body = BookedDto), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn book(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Result<Json<BookingRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req = json_body(body)?;
    // The front desk's roles first: a clinician who is also the practice's manager books
    // as the practice does. Whether the actor may is the core's decision.
    let actor = who.actor_as(
        &[
            Role::Technician,
            Role::PracticeManager,
            Role::Admin,
            Role::Psychologist,
            Role::Doctor,
            Role::Patient,
        ],
        request_id(&headers),
    );
    let refused = |e: ServiceError| match e {
        // Another patient's booking is "not found" to a patient, as everywhere else.
        ServiceError::Forbidden => super::refusal(&who, e, "patient", (Action::Write, Area::Appointments)),
        other => for_patient(&who, other),
    };
    match req.recurrence {
        None => {
            let appointment = s.booking.book_as(&actor, &req).await.map_err(refused)?;
            // The booking's notices are normally stored in its own commit.
            if !s.booking.queues_notices() {
                s.booked(&appointment).await;
            }
            let warnings = s.billing.warnings_for(s.practice, &appointment).await?;
            Ok((StatusCode::CREATED, Json(BookedDto { appointment, warnings })).into_response())
        }
        Some(rec) => {
            let policy = req.series_policy.unwrap_or(SeriesPolicy::AllOrNothing);
            let out = s
                .booking
                .book_series_as(&actor, &req, rec, policy)
                .await
                .map_err(refused)?;
            for a in &out.booked {
                s.booked(a).await;
            }
            let status = if out.booked.is_empty() {
                StatusCode::CONFLICT
            } else {
                StatusCode::CREATED
            };
            let occurrences = occurrences(&who, out.report);
            Ok((
                status,
                Json(SeriesDto {
                    series_id: out.series_id,
                    booked: out.booked,
                    occurrences,
                }),
            )
                .into_response())
        }
    }
}

/// The appointment, if the principal may do `action` to it (404 for another patient's).
pub(crate) async fn permitted(
    s: &AppState,
    who: &Principal,
    id: &str,
    action: Action,
) -> Result<Appointment, ApiError> {
    let id: AppointmentId = id.parse()?;
    let a = s
        .store
        .appointment(s.practice, id)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "appointment"))?;
    who.require(
        action,
        Area::Appointments,
        relation(who, &a.patient_ids, a.practitioner_id),
        "appointment",
    )?;
    Ok(a)
}

#[utoipa::path(get, path = "/api/v1/appointments/{id}", operation_id = "get_appointment", tag = "appointments", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::scheduling::Appointment), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn get(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Appointment>, ApiError> {
    Ok(Json(permitted(&s, &who, &id, Action::Read).await?))
}

/// A cancellation request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelRequest {
    by: CancelledBy,
    #[serde(default)]
    reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CancelDto {
    appointment: Appointment,
    waitlist: Vec<WaitlistEntry>,
}

#[utoipa::path(post, path = "/api/v1/appointments/{id}/cancel", tag = "appointments", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = CancelRequest, responses((status = 200, description = "done", body = CancelDto), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn cancel(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<CancelRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let mut req = json_body(body)?;
    let id = permitted(&s, &who, &id, Action::Write).await?.id;
    // A patient cancels as the patient, whatever the request says (the fee rules differ).
    if who.is_patient_only() {
        req.by = CancelledBy::Patient;
    }
    let out = s.booking.cancel(s.practice, id, req.by, &req.reason).await?;
    s.cancelled(&out.appointment).await;
    Ok(Json(CancelDto {
        appointment: out.appointment,
        waitlist: out.waitlist,
    })
    .into_response())
}

/// What a series cancellation did.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SeriesCancelDto {
    /// Every occurrence cancelled, the one named first, each with its waitlist offers.
    cancelled: Vec<CancelDto>,
}

/// `POST /api/v1/appointments/{id}/cancel-following`: cancels the appointment and every
/// later occurrence of its series that can still be cancelled ("this and following");
/// earlier and attended occurrences stay. Each patient is told of each cancellation.
#[utoipa::path(post, path = "/api/v1/appointments/{id}/cancel-following", tag = "appointments", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = CancelRequest, responses((status = 200, description = "done", body = SeriesCancelDto), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn cancel_following(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<CancelRequest>, JsonRejection>,
) -> Result<Json<SeriesCancelDto>, ApiError> {
    let mut req = json_body(body)?;
    let id = permitted(&s, &who, &id, Action::Write).await?.id;
    if who.is_patient_only() {
        req.by = CancelledBy::Patient;
    }
    let outcomes = s.booking.cancel_following(s.practice, id, req.by, &req.reason).await?;
    let mut cancelled = Vec::with_capacity(outcomes.len());
    for out in outcomes {
        s.cancelled(&out.appointment).await;
        cancelled.push(CancelDto {
            appointment: out.appointment,
            waitlist: out.waitlist,
        });
    }
    Ok(Json(SeriesCancelDto { cancelled }))
}

/// A status change: `confirm`, `arrive`, `complete` or `no-show`.
#[derive(Clone, Copy)]
pub(crate) enum Step {
    Confirm,
    Arrive,
    Complete,
    NoShow,
}

async fn step(s: &AppState, who: &Principal, id: &str, step: Step) -> Result<Json<Appointment>, ApiError> {
    let id = permitted(s, who, id, Action::Write).await?.id;
    // A patient confirms their own attendance; the practice records the rest.
    if who.is_patient_only() && !matches!(step, Step::Confirm) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the practice records arrivals, completions and no-shows",
        ));
    }
    let done = match step {
        Step::Confirm => s.booking.confirm(s.practice, id).await?,
        Step::Arrive => s.booking.arrive(s.practice, id).await?,
        Step::Complete => s.booking.complete(s.practice, id).await?,
        Step::NoShow => s.booking.mark_no_show(s.practice, id).await?,
    };
    Ok(Json(done))
}

/// `POST /api/v1/appointments/{id}/confirm`.
#[utoipa::path(post, path = "/api/v1/appointments/{id}/confirm", operation_id = "confirm_appointment", tag = "appointments", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::scheduling::Appointment), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn confirm(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Appointment>, ApiError> {
    step(&s, &who, &id, Step::Confirm).await
}

/// `POST /api/v1/appointments/{id}/arrive`.
#[utoipa::path(post, path = "/api/v1/appointments/{id}/arrive", tag = "appointments", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::scheduling::Appointment), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn arrive(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Appointment>, ApiError> {
    step(&s, &who, &id, Step::Arrive).await
}

/// `POST /api/v1/appointments/{id}/complete`.
#[utoipa::path(post, path = "/api/v1/appointments/{id}/complete", tag = "appointments", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::scheduling::Appointment), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn complete(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Appointment>, ApiError> {
    step(&s, &who, &id, Step::Complete).await
}

/// `POST /api/v1/appointments/{id}/no-show`.
#[utoipa::path(post, path = "/api/v1/appointments/{id}/no-show", tag = "appointments", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::scheduling::Appointment), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn no_show(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Appointment>, ApiError> {
    step(&s, &who, &id, Step::NoShow).await
}

/// `POST /api/v1/appointments/{id}/reschedule-following`: moves this occurrence to `start`
/// and every later open occurrence of its series by the same number of days, at the new
/// wall-clock time ("this and following"). All or nothing: 409 with each occurrence's
/// outcome when any of them cannot move, and then nothing has moved. Each moved
/// occurrence's patients are sent its new time, as for a single move.
#[utoipa::path(post, path = "/api/v1/appointments/{id}/reschedule-following", tag = "appointments", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = Reschedule, responses((status = 200, description = "every occurrence moved", body = SeriesMoveDto), (status = 409, description = "an occurrence could not move, so none did", body = SeriesMoveDto), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn reschedule_following(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<Reschedule>, JsonRejection>,
) -> Result<(StatusCode, Json<SeriesMoveDto>), ApiError> {
    let b = json_body(body)?;
    let id = permitted(&s, &who, &id, Action::Write).await?.id;
    let out = s
        .booking
        .reschedule_following(s.practice, id, b.start)
        .await
        .map_err(|e| for_patient(&who, e))?;
    for moved in &out.moved {
        s.rescheduled(moved).await;
    }
    let status = if out.moved.is_empty() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(SeriesMoveDto {
            occurrences: occurrences(&who, out.report),
            moved: out.moved,
        }),
    ))
}

/// A new start.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reschedule {
    start: chrono::DateTime<chrono::Utc>,
}

/// `POST /api/v1/appointments/{id}/reschedule`: the same appointment at a new start,
/// under every booking rule. Each patient is sent the new time at once, and the reminder
/// is planned afresh for it; notices planned for the old time are not sent.
#[utoipa::path(post, path = "/api/v1/appointments/{id}/reschedule", tag = "appointments", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = Reschedule, responses((status = 200, description = "done", body = clinic_core::scheduling::Appointment), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn reschedule(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<Reschedule>, JsonRejection>,
) -> Result<Json<Appointment>, ApiError> {
    let b = json_body(body)?;
    let id = permitted(&s, &who, &id, Action::Write).await?.id;
    let moved = s.booking.reschedule(s.practice, id, b.start).await?;
    s.rescheduled(&moved).await;
    Ok(Json(moved))
}

/// A wish to be offered a freed time.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WaitlistBody {
    patient_id: clinic_core::ids::PatientId,
    #[serde(default)]
    practitioner_id: Option<clinic_core::ids::PractitionerId>,
    #[serde(default)]
    service_id: Option<clinic_core::ids::ServiceId>,
    #[serde(default)]
    location_id: Option<clinic_core::ids::LocationId>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    days: Vec<chrono::Weekday>,
    #[serde(default)]
    earliest: Option<chrono::NaiveTime>,
    #[serde(default)]
    latest: Option<chrono::NaiveTime>,
    #[serde(default = "routine")]
    urgency: clinic_core::scheduling::Urgency,
}

const fn routine() -> clinic_core::scheduling::Urgency {
    clinic_core::scheduling::Urgency::Routine
}

/// `POST /api/v1/waitlist`: the patient (or the front desk for them) asks to be offered
/// a time that frees up; cancellations rank the list for the freed slot.
#[utoipa::path(post, path = "/api/v1/waitlist", tag = "appointments", request_body = WaitlistBody, responses((status = 201, description = "done", body = clinic_core::scheduling::WaitlistEntry), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn join_waitlist(
    State(s): State<AppState>,
    who: Principal,
    body: Result<Json<WaitlistBody>, JsonRejection>,
) -> Result<(StatusCode, Json<WaitlistEntry>), ApiError> {
    use clinic_core::ports::IdGeneratorExt as _;
    let b = json_body(body)?;
    let relation = if who.acts_for(b.patient_id) {
        Relation::Own
    } else {
        Relation::Other
    };
    who.require(Action::Write, Area::Appointments, relation, "patient")?;
    if let (Some(from), Some(to)) = (b.earliest, b.latest)
        && to <= from
    {
        return Err(clinic_core::FieldError::new("latest", "must be after earliest").into());
    }
    let patient = s
        .store
        .patient(s.practice, b.patient_id)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "patient"))?;
    if patient.deidentified {
        return Err(ServiceError::Refused(clinic_core::service::Refusal::Deidentified).into());
    }
    let entry = WaitlistEntry {
        id: clinic_adapters::system::UuidV7Ids.new_id(),
        practice_id: s.practice,
        patient_id: b.patient_id,
        practitioner_id: b.practitioner_id,
        service_id: b.service_id,
        location_id: b.location_id,
        days: b.days,
        earliest: b.earliest,
        latest: b.latest,
        urgency: b.urgency,
        created_at: s.clock.now(),
        active: true,
    };
    s.store.save_waitlist_entry(&entry).await.map_err(ServiceError::Port)?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// Which appointments to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// From this instant (RFC 3339).
    from: chrono::DateTime<chrono::Utc>,
    /// Until this instant; at most 92 days after `from`.
    to: chrono::DateTime<chrono::Utc>,
    /// One practitioner's (staff), otherwise everyone's the caller may see.
    #[serde(default)]
    practitioner_id: Option<clinic_core::ids::PractitionerId>,
    /// The page, from 0.
    #[serde(default)]
    page: usize,
    /// Appointments a page: 1 to 200 (default 50).
    #[serde(default = "fifty")]
    page_size: usize,
}

const fn fifty() -> usize {
    50
}

/// A page of appointments.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AppointmentPage {
    items: Vec<Appointment>,
    page: usize,
    page_size: usize,
    total: usize,
}

/// `GET /api/v1/appointments?from&to`: a patient's own appointments, a clinician's own
/// calendar, or (front desk, managers, administrators) any practitioner's, by start time.
#[utoipa::path(get, path = "/api/v1/appointments", tag = "appointments", params(ListQuery), responses((status = 200, description = "done", body = AppointmentPage), (status = 400, description = "the query could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    query: Result<axum::extract::Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AppointmentPage>, ApiError> {
    use clinic_core::ports::ResourceKey;
    let axum::extract::Query(q) = query.map_err(|r| ApiError::bad_request(r.body_text()))?;
    if q.page_size == 0 || q.page_size > 200 {
        return Err(clinic_core::FieldError::new("page_size", "must be between 1 and 200").into());
    }
    if q.to <= q.from || q.to - q.from > chrono::Duration::days(92) {
        return Err(clinic_core::FieldError::new("to", "must be after from, within 92 days").into());
    }
    let window = clinic_core::time::TimeRange::new(q.from, q.to)?;
    let mut items: Vec<Appointment> = if who.is_patient_only() {
        // Their own and those of every minor they are guardian of.
        super::appointments_acted_for(&s, &who)
            .await?
            .into_iter()
            .filter(|a| a.interval.overlaps(&window))
            .collect()
    } else {
        let everyone = who.may(Action::Read, Area::Appointments, Relation::Other);
        let keys: Vec<ResourceKey> = match (q.practitioner_id, everyone, who.practitioner_id) {
            (Some(p), true, _) => vec![ResourceKey::Practitioner(p)],
            (None, true, _) => s
                .store
                .practitioners(s.practice)
                .await
                .map_err(ServiceError::Port)?
                .iter()
                .map(|p| ResourceKey::Practitioner(p.id))
                .collect(),
            (Some(p), false, Some(me)) if p != me => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "your role sees your own calendar only",
                ));
            }
            (_, false, Some(me)) => vec![ResourceKey::Practitioner(me)],
            (_, false, None) => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "your role may not list appointments",
                ));
            }
        };
        s.store
            .snapshot(s.practice, &keys, window)
            .await
            .map_err(ServiceError::Port)?
            .appointments
            .into_iter()
            .filter(|a| a.interval.overlaps(&window))
            .collect()
    };
    items.sort_by_key(|a| (a.interval.start(), a.id));
    items.dedup_by_key(|a| a.id);
    let total = items.len();
    let items: Vec<Appointment> = items
        .into_iter()
        .skip(q.page.saturating_mul(q.page_size))
        .take(q.page_size)
        .collect();
    // Who sees whom, when, is health information: the listing is audited, as one event
    // with the count (a page of a whole practice's calendar is one read).
    let e = super::Audited {
        action: "appointment.list",
        kind: "appointment",
        resource: uuid::Uuid::nil(),
        patient: None,
        outcome: clinic_core::audit::Outcome::Allowed,
        reason: Some(format!("{} of {total} shown", items.len())),
    };
    super::audit_event(&s, Some(who.user_id), request_id(&headers), e).await?;
    Ok(Json(AppointmentPage {
        items,
        page: q.page,
        page_size: q.page_size,
        total,
    }))
}
