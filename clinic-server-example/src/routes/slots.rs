//! `GET /api/v1/slots`: bookable starts for a service.

use std::num::NonZeroUsize;

use axum::extract::{Query, State, rejection::QueryRejection};
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse as _, Response};
use chrono::NaiveDate;
use clinic_core::FieldError;
use clinic_core::ids::{LocationId, PatientId, PractitionerId, ServiceId};
use clinic_core::scheduling::slots::MAX_PAGE;
use clinic_core::scheduling::{DeliveryMode, SlotCursor, SlotQuery};
use clinic_core::service::SlotSearch;
use serde::Deserialize;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::slot_cache::Answer;
use crate::state::AppState;
use clinic_core::access::{Action, Area, Relation};

/// The slots on one page when the request names no `limit`.
pub(crate) const DEFAULT_PAGE: usize = 2_000;

/// The most practitioners one search names: a practice's whole list in one question, and
/// a bound on what one request costs (a list of 1,500 repeated ids took 12 s).
pub(crate) const MAX_PRACTITIONERS: usize = 100;

/// More named practitioners than this make a search wide (run off the request threads).
const WIDE: usize = 4;

/// The `practitioner_id` list, each id once, in order: at most [`MAX_PRACTITIONERS`].
fn practitioner_list(list: Option<&str>) -> Result<Vec<PractitionerId>, FieldError> {
    let mut ids = list
        .unwrap_or_default()
        .split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| x.trim().parse::<PractitionerId>())
        .collect::<Result<Vec<_>, FieldError>>()?;
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > MAX_PRACTITIONERS {
        return Err(FieldError::new(
            "practitioner_id",
            format!("names at most {MAX_PRACTITIONERS} practitioners; search in parts"),
        ));
    }
    Ok(ids)
}

/// Query parameters. `practitioner_id` takes a comma-separated list; `zone` is the
/// viewer's IANA zone (default `Australia/Sydney`). A search answers at most `limit` slots
/// (default 2,000, at most 5,000); when more remain, the response's `Link` header names the
/// next page (`rel="next"`, the same query with `after` set to the page's last slot).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct Params {
    service_id: ServiceId,
    from: NaiveDate,
    to: NaiveDate,
    zone: Option<String>,
    practitioner_id: Option<String>,
    location_id: Option<LocationId>,
    patient_id: Option<PatientId>,
    mode: Option<DeliveryMode>,
    /// The most slots on this page: 1 to 5,000, default 2,000.
    limit: Option<u64>,
    /// Where this page starts: the cursor from the previous page's `Link` header.
    after: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/slots", tag = "scheduling", params(Params), responses((status = 200, description = "the slots of this page, in order of start, practitioner and location", body = Vec<clinic_core::scheduling::Slot>, headers(("link" = String, description = "`<…>; rel=\"next\"`: the next page, when more slots remain"))), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn search(
    State(s): State<AppState>,
    who: Principal,
    uri: Uri,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    who.require(Action::Read, Area::Directory, Relation::Other, "slots")?;
    let Query(p) = params.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let practitioner_ids = practitioner_list(p.practitioner_id.as_deref())?;
    // Searching for a named patient shows their appointments by the gaps: only for
    // whoever may see that patient's appointments.
    if let Some(patient) = p.patient_id {
        let staff = who.may(Action::Read, Area::Appointments, Relation::Other);
        let treats = match who.practitioner_id {
            Some(me) if !staff && !who.acts_for(patient) => s.treats(me, patient).await?,
            _ => false,
        };
        if !(staff || treats || who.acts_for(patient)) {
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "patient not found",
            ));
        }
    }
    // The same question asked a moment ago, with nothing changed since, has the same
    // answer (see `crate::slot_cache`); the key is every parameter as parsed.
    // The practice's minute is part of the key, so the clock moving on (past the notice
    // period, say) is seen within a minute even without a write.
    let minute = s.clock.now().timestamp().div_euclid(60);
    let key = format!(
        "{}|{minute}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        s.practice,
        p.service_id,
        p.from,
        p.to,
        p.zone,
        practitioner_ids,
        p.location_id,
        p.patient_id,
        p.mode,
        p.limit,
        p.after
    );
    let asked = std::time::Instant::now();
    // A search over a few practitioners is a millisecond's work; a wide one (the whole
    // practice, or many named) runs off the request threads (see `crate::heavy`).
    let wide = practitioner_ids.is_empty() || practitioner_ids.len() > WIDE;
    let state = s.clone();
    let compute = async move {
        let limit = match p.limit {
            None => NonZeroUsize::new(DEFAULT_PAGE),
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|n| *n <= MAX_PAGE)
                .and_then(NonZeroUsize::new),
        }
        .ok_or_else(|| FieldError::new("limit", format!("must be from 1 to {MAX_PAGE}")))?;
        let after = p.after.as_deref().map(str::parse::<SlotCursor>).transpose()?;
        let viewer_zone = clinic_core::time::parse_zone("zone", p.zone.as_deref().unwrap_or("Australia/Sydney"))?;
        let search = SlotSearch {
            service_id: p.service_id,
            practitioner_ids,
            query: SlotQuery {
                from: p.from,
                to: p.to,
                viewer_zone,
                mode: p.mode.unwrap_or(DeliveryMode::InPerson),
                location: p.location_id,
                patient: p.patient_id,
            },
        };
        let page = state
            .booking
            .search_slot_page(state.practice, &search, after, Some(limit))
            .await?;
        let body = axum::body::Bytes::from(serde_json::to_vec(&page.slots).map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "serialization_failed",
                "the slots could not be written",
            )
        })?);
        Ok::<_, ApiError>(Answer {
            body,
            next: page.next.map(|c| c.to_string().into()),
        })
    };
    let answer = s
        .slot_cache
        .get_or_compute(key, asked, async move {
            if wide {
                crate::heavy::run(compute).await
            } else {
                compute.await
            }
        })
        .await?;
    Ok(page_response(&uri, answer))
}

/// The page's JSON, with a `Link` to the next page when there is one: the request's own
/// query with `after` replaced by the cursor (RFC 8288).
fn page_response(uri: &Uri, answer: Answer) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "application/json")], answer.body).into_response();
    if let Some(next) = answer.next {
        let kept = uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty() && *pair != "after" && !pair.starts_with("after="));
        let mut query: Vec<&str> = kept.collect();
        let after = format!("after={next}");
        query.push(&after);
        let link = format!("<{}?{}>; rel=\"next\"", uri.path(), query.join("&"));
        // The query came in as a valid URI and the cursor is digits, hex, dots and hyphens.
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}
