//! A practitioner's calendar as an iCalendar feed (RFC 5545) at a secret URL, for Google
//! Calendar, Outlook or Apple Calendar to subscribe to.
//!
//! The URL's token is an HMAC of the practitioner's id and the link's generation under the
//! server's key, so it cannot be guessed, and renewing the link ends every earlier one;
//! anyone holding the URL can read the feed, so the feed says only when and where: no
//! patient names, no service names, no record ids, nothing clinical (a calendar synced
//! to a phone or shared with a family member must not carry health information). Times are written in UTC (`…Z`), which every client reads without a
//! time-zone definition.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use clinic_core::access::{Action, Area};
use clinic_core::ids::PractitionerId;
use clinic_core::ports::ResourceKey;
use clinic_core::scheduling::{AppointmentStatus, DeliveryMode};
use clinic_core::service::ServiceError;
use clinic_core::time::TimeRange;
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The feed token of a practitioner's link of `generation`: 128 bits of HMAC-SHA256 under
/// the server's key. Generation 0 is the first link ever given (its form is kept so that
/// subscriptions made before links could be renewed still work); each renewal moves the
/// generation on and ends every earlier link.
fn feed_token(s: &AppState, practitioner: PractitionerId, generation: u32) -> String {
    let message = match generation {
        0 => format!("calendar-feed/{practitioner}"),
        n => format!("calendar-feed/{practitioner}/{n}"),
    };
    let mac = clinic_core::audit::hmac_sha256(&s.audit_key, message.as_bytes());
    clinic_core::audit::hex(&mac[..16])
}

/// An event's UID: stable for the appointment, so calendars update it in place, but not
/// its id (a feed shared by mistake names no record).
fn event_uid(s: &AppState, appointment: clinic_core::ids::AppointmentId) -> String {
    let mac = clinic_core::audit::hmac_sha256(&s.audit_key, format!("calendar-event/{appointment}").as_bytes());
    format!("{}@clinic-rs", clinic_core::audit::hex(&mac[..16]))
}

fn feed_url(s: &AppState, id: PractitionerId, generation: u32) -> String {
    let base = s
        .integrations
        .public_url
        .clone()
        .unwrap_or_else(|| "http://localhost:8080".into());
    format!(
        "{base}/api/v1/calendar/{id}.ics?token={}",
        feed_token(s, id, generation)
    )
}

/// A feed's address.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct FeedLink {
    /// Subscribe to this URL; keep it private.
    url: String,
}

/// `GET /api/v1/practitioners/{id}/calendar-link`: the practitioner's own feed address
/// (or, for a manager, any practitioner's).
#[utoipa::path(get, path = "/api/v1/practitioners/{id}/calendar-link", operation_id = "calendar_link", tag = "practitioners", params(("id" = String, Path, description = "the practitioner's id")), responses((status = 200, description = "done", body = FeedLink), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such practitioner", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn link(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<FeedLink>, ApiError> {
    let id = super::practitioner_for(&s, &who, &id, Action::Write, Area::Availability).await?;
    let practitioner = s
        .store
        .practitioner(s.practice, id)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "practitioner"))?;
    Ok(Json(FeedLink {
        url: feed_url(&s, id, practitioner.calendar_feed),
    }))
}

/// `POST /api/v1/practitioners/{id}/calendar-link/renew`: a new feed address for the
/// practitioner (their own, or any for a manager); every earlier address stops working
/// at once. Audited.
#[utoipa::path(post, path = "/api/v1/practitioners/{id}/calendar-link/renew", operation_id = "renew_calendar_link", tag = "practitioners", params(("id" = String, Path, description = "the practitioner's id")), responses((status = 200, description = "the new address", body = FeedLink), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such practitioner", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn renew(
    State(s): State<AppState>,
    who: Principal,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<FeedLink>, ApiError> {
    let id = super::practitioner_for(&s, &who, &id, Action::Write, Area::Availability).await?;
    let mut practitioner = s
        .store
        .practitioner(s.practice, id)
        .await
        .map_err(|e| ServiceError::from_port_kind(e, "practitioner"))?;
    practitioner.calendar_feed = practitioner.calendar_feed.saturating_add(1);
    s.store
        .save_practitioner(&practitioner)
        .await
        .map_err(ServiceError::Port)?;
    let e = super::Audited {
        action: "calendar_feed.renew",
        kind: "practitioner",
        resource: id.as_uuid(),
        patient: None,
        outcome: clinic_core::audit::Outcome::Allowed,
        reason: None,
    };
    super::audit_event(&s, Some(who.user_id), super::request_id(&headers), e).await?;
    Ok(Json(FeedLink {
        url: feed_url(&s, id, practitioner.calendar_feed),
    }))
}

/// The feed's token.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FeedQuery {
    /// The secret token from the calendar link.
    token: String,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes TEXT values (RFC 5545 §3.3.11).
fn text(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace(['\r', '\n'], " ")
}

/// Folds a content line at 75 octets (RFC 5545 §3.1), on character boundaries.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// `GET /api/v1/calendar/{id}.ics?token=…`: the practitioner's appointments from 30 days
/// ago to 180 days ahead, without names. A wrong token answers 404, like an unknown id.
#[utoipa::path(get, path = "/api/v1/calendar/{id}", operation_id = "calendar_feed", tag = "practitioners", params(("id" = String, Path, description = "the practitioner's id, with `.ics`"), FeedQuery), responses((status = 200, description = "the iCalendar feed", content_type = "text/calendar", body = String), (status = 400, description = "the token is missing", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such feed", content_type = "application/problem+json", body = crate::openapi::Problem)))]
pub(crate) async fn feed(
    State(s): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let missing = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such calendar");
    let id: PractitionerId = id.strip_suffix(".ics").unwrap_or(&id).parse().map_err(|_| missing())?;
    let generation = match s.store.practitioner(s.practice, id).await {
        Ok(p) => p.calendar_feed,
        Err(e) if e.kind() == clinic_core::ports::PortErrorKind::NotFound => return Err(missing()),
        Err(e) => return Err(ServiceError::Port(e).into()),
    };
    let expected = feed_token(&s, id, generation);
    let same = clinic_core::audit::ct_eq(
        &clinic_core::audit::Sha256::digest(expected.as_bytes()),
        &clinic_core::audit::Sha256::digest(q.token.as_bytes()),
    );
    if !same {
        return Err(missing());
    }
    let now = s.clock.now();
    let window = TimeRange::new(now - Duration::days(30), now + Duration::days(180)).map_err(ServiceError::Invalid)?;
    let mut appts = s
        .store
        .snapshot(s.practice, &[ResourceKey::Practitioner(id)], window)
        .await
        .map_err(ServiceError::Port)?
        .appointments;
    appts.sort_by_key(|a| a.interval.start());
    let locations = s.store.locations(s.practice).await.map_err(ServiceError::Port)?;
    let practice = s.store.practice(s.practice).await.map_err(ServiceError::Port)?;
    let mut out = String::new();
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//clinic-rs//calendar feed//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        fold(line, &mut out);
    }
    fold(&format!("X-WR-CALNAME:{}", text(&practice.name)), &mut out);
    for a in appts {
        if matches!(a.status, AppointmentStatus::Cancelled(_)) {
            continue;
        }
        let summary = match a.mode {
            DeliveryMode::InPerson => "Appointment",
            DeliveryMode::Video => "Video session",
            DeliveryMode::Phone => "Phone session",
        };
        fold("BEGIN:VEVENT", &mut out);
        fold(&format!("UID:{}", event_uid(&s, a.id)), &mut out);
        fold(&format!("DTSTAMP:{}", stamp(now)), &mut out);
        fold(&format!("DTSTART:{}", stamp(a.interval.start())), &mut out);
        fold(&format!("DTEND:{}", stamp(a.interval.end())), &mut out);
        fold(&format!("SUMMARY:{summary}"), &mut out);
        if a.mode == DeliveryMode::InPerson
            && let Some(l) = locations.iter().find(|l| l.id == a.location_id)
        {
            fold(
                &format!("LOCATION:{}", text(&format!("{}, {}", l.name, l.address))),
                &mut out,
            );
        }
        fold("STATUS:CONFIRMED", &mut out);
        fold("END:VEVENT", &mut out);
    }
    fold("END:VCALENDAR", &mut out);
    let mut res = (StatusCode::OK, out).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fold_at_75_octets_and_text_is_escaped() {
        let mut out = String::new();
        fold(&format!("LOCATION:{}", "é".repeat(60)), &mut out);
        for physical in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(physical.len() <= 75, "{} octets", physical.len());
        }
        assert_eq!(out.replace("\r\n ", ""), format!("LOCATION:{}\r\n", "é".repeat(60)));
        assert_eq!(
            text("Level 2; 1 George St, Sydney\nNSW"),
            "Level 2\\; 1 George St\\, Sydney NSW"
        );
        assert_eq!(stamp("2026-11-24T00:00:00Z".parse().unwrap()), "20261124T000000Z");
    }
}
