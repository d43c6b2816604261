//! `GET /api/v1/dashboard`: what each role sees first, and the patient's own profile.
//!
//! - a patient: their upcoming sessions and what they owe;
//! - a psychologist or doctor: their day (appointments in the location's day) and their
//!   draft notes awaiting signature for the patients they see that day;
//! - a practice manager or administrator: unpaid invoices by age, AHPRA registrations
//!   and insurance expiring in the next 90 days, and the break-glass openings of the last
//!   30 days to review.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{Duration, NaiveDate};
use clinic_core::access::{Action, Area, Relation};
use clinic_core::clinical::NoteState;
use clinic_core::ids::{NoteId, PatientId};
use clinic_core::money::Money;
use clinic_core::people::{Patient, ReminderPreferences, Role};
use clinic_core::ports::ResourceKey;
use clinic_core::scheduling::{Appointment, AppointmentStatus};
use clinic_core::service::ServiceError;
use clinic_core::time::TimeRange;
use serde::Serialize;

use super::json_body;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// A draft note awaiting its author's signature.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Draft {
    note_id: NoteId,
    patient_id: PatientId,
}

/// One role's first screen.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub(crate) enum Dashboard {
    /// A patient's.
    Patient {
        /// Upcoming sessions (theirs and their children's, for a guardian), soonest first.
        upcoming: Vec<Appointment>,
        /// What they owe across issued invoices (with the minors they are guardian of).
        balance: Money,
    },
    /// A clinician's day.
    Clinician {
        /// The day (in the first location's zone).
        date: NaiveDate,
        /// Their appointments that day.
        appointments: Vec<Appointment>,
        /// Their unsigned notes for the patients they see that day.
        drafts: Vec<Draft>,
    },
    /// A manager's or administrator's.
    Practice {
        /// Unpaid issued invoices, oldest first, with their age (0–30, 31–60, 61–90 or 90+
        /// days since issue).
        unpaid: Vec<clinic_core::reports::OutstandingInvoice>,
        /// Registrations and policies lapsing within 90 days, or lapsed.
        expiring: Vec<clinic_core::reports::ExpiringCredential>,
        /// Break-glass openings of the last 30 days, newest first, for review.
        break_glass: Vec<clinic_core::access::CareRelationship>,
    },
}

/// `GET /api/v1/dashboard`.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "dashboard", responses((status = 200, description = "done", body = Dashboard), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn dashboard(State(s): State<AppState>, who: Principal) -> Result<Json<Dashboard>, ApiError> {
    let now = s.clock.now();
    let zone = super::practice_zone(&s).await?;
    let today = now.with_timezone(&zone).date_naive();
    if who.is_patient_only() && !who.patients().is_empty() {
        // A guardian sees their children's sessions and balances with their own.
        let upcoming: Vec<Appointment> = super::appointments_acted_for(&s, &who)
            .await?
            .into_iter()
            .filter(|a| a.interval.end() > now)
            .filter(|a| {
                matches!(
                    a.status,
                    AppointmentStatus::Requested | AppointmentStatus::Booked | AppointmentStatus::Confirmed
                )
            })
            .collect();
        let mut balance = Money::ZERO;
        for patient in who.patients() {
            balance = s
                .store
                .invoices_for(s.practice, patient)
                .await
                .map_err(ServiceError::Port)?
                .iter()
                .filter(|i| i.number.is_some())
                .fold(balance, |acc, i| acc + i.balance().max(Money::ZERO));
        }
        return Ok(Json(Dashboard::Patient { upcoming, balance }));
    }
    if let Some(me) = who
        .practitioner_id
        .filter(|_| who.roles.iter().any(|r| matches!(r, Role::Psychologist | Role::Doctor)))
    {
        let start = clinic_core::time::resolve_local_boundary(zone, today.and_hms_opt(0, 0, 0).unwrap_or_default());
        let end = clinic_core::time::resolve_local_boundary(
            zone,
            (today + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap_or_default(),
        );
        let window = TimeRange::new(start, end).map_err(ServiceError::Invalid)?;
        let mut appointments = s
            .store
            .snapshot(s.practice, &[ResourceKey::Practitioner(me)], window)
            .await
            .map_err(ServiceError::Port)?
            .appointments;
        appointments.sort_by_key(|a| a.interval.start());
        let mut drafts = Vec::new();
        let mut seen: Vec<PatientId> = appointments.iter().flat_map(|a| a.patient_ids.clone()).collect();
        seen.sort();
        seen.dedup();
        for patient in seen {
            for n in s.store.notes(s.practice, patient).await.map_err(ServiceError::Port)? {
                if n.author == me && matches!(n.state, NoteState::Draft) {
                    drafts.push(Draft {
                        note_id: n.id,
                        patient_id: patient,
                    });
                }
            }
        }
        return Ok(Json(Dashboard::Clinician {
            date: today,
            appointments,
            drafts,
        }));
    }
    who.require(Action::Read, Area::Reports, Relation::Other, "dashboard")?;
    // The same figures as the outstanding and credentials reports.
    let actor = who.actor_as(&[Role::PracticeManager, Role::Admin], None);
    let unpaid = s.reports.outstanding(&actor, today).await?.invoices;
    let expiring = s.reports.expiring_credentials(&actor, today, 90).await?;
    let break_glass = s.care.openings(&actor, now - Duration::days(30)).await?;
    Ok(Json(Dashboard::Practice {
        unpaid,
        expiring,
        break_glass,
    }))
}

/// `GET /api/v1/patients/{id}`: the patient's own record (or, for a manager or
/// administrator, any patient's).
#[utoipa::path(get, path = "/api/v1/patients/{id}", tag = "patients", params(("id" = String, Path, description = "the record's id (UUID)")), responses((status = 200, description = "done", body = clinic_core::people::Patient), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn patient(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Patient>, ApiError> {
    Ok(Json(super::patient_for(&s, &who, &id).await?))
}

/// `PUT /api/v1/patients/{id}/reminders`: how and when the patient wants reminders
/// (email, SMS, WhatsApp; 1 to 168 hours ahead).
#[utoipa::path(put, path = "/api/v1/patients/{id}/reminders", tag = "patients", params(("id" = String, Path, description = "the record's id (UUID)")), request_body = clinic_core::people::ReminderPreferences, responses((status = 204, description = "done"), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn reminders(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<ReminderPreferences>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let id: PatientId = id.parse()?;
    let relation = if who.acts_for(id) {
        Relation::Own
    } else {
        Relation::Other
    };
    who.require(Action::Write, Area::Profile, relation, "patient")?;
    let prefs = json_body(body)?;
    if !(1..=168).contains(&prefs.hours_before) {
        return Err(clinic_core::FieldError::new("hours_before", "must be between 1 and 168").into());
    }
    let mut p = s
        .store
        .patient(s.practice, id)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "patient"))?;
    p.reminders = prefs;
    s.store.save_patient(&p).await.map_err(ServiceError::Port)?;
    Ok(StatusCode::NO_CONTENT)
}
