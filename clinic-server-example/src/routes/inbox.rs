//! The in-app notification inbox: a patient's (appointments booked or cancelled, messages
//! waiting) and a clinician's (messages from their patients). Items name an occasion and
//! the record to open, never its content; each reader sees only their own.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use clinic_core::ids::InboxItemId;
use clinic_core::notify::{Audience, InboxItem};
use clinic_core::service::ServiceError;
use serde::{Deserialize, Serialize};

use super::json_body;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// Whose inboxes the principal reads: the patient they are and the minors they are guardian
/// of, or the practitioner they act as.
fn readers(who: &Principal) -> Vec<Audience> {
    let patients = who.patients();
    if patients.is_empty() {
        who.practitioner_id.map(Audience::Practitioner).into_iter().collect()
    } else {
        patients.into_iter().map(Audience::Patient).collect()
    }
}

/// How many items.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct InboxQuery {
    /// 1 to 200 (default 50).
    limit: Option<usize>,
}

/// `GET /api/v1/inbox?limit=`: the caller's items, newest first (staff with no patient or
/// practitioner record have none).
#[utoipa::path(get, path = "/api/v1/inbox", tag = "inbox", params(InboxQuery), responses((status = 200, description = "done", body = Vec<InboxItem>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn inbox(
    State(s): State<AppState>,
    who: Principal,
    q: Result<Query<InboxQuery>, QueryRejection>,
) -> Result<Json<Vec<InboxItem>>, ApiError> {
    let Query(q) = q.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(clinic_core::FieldError::new("limit", "must be 1 to 200").into());
    }
    let mut items = Vec::new();
    for audience in readers(&who) {
        items.extend(
            s.store
                .inbox(s.practice, audience, limit)
                .await
                .map_err(ServiceError::Port)?,
        );
    }
    items.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
    items.truncate(limit);
    Ok(Json(items))
}

/// Items to mark read.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MarkRead {
    /// The items (the caller's own; others are ignored), at most 200.
    ids: Vec<InboxItemId>,
}

/// How many were marked.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Marked {
    marked: usize,
}

/// `POST /api/v1/inbox/read`: marks the caller's items read.
#[utoipa::path(post, path = "/api/v1/inbox/read", tag = "inbox", request_body = MarkRead, responses((status = 200, description = "done", body = Marked), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn mark_read(
    State(s): State<AppState>,
    who: Principal,
    body: Result<Json<MarkRead>, JsonRejection>,
) -> Result<Json<Marked>, ApiError> {
    let b = json_body(body)?;
    if b.ids.len() > 200 {
        return Err(clinic_core::FieldError::new("ids", "at most 200 at a time").into());
    }
    let mut marked = 0;
    for audience in readers(&who) {
        marked += s
            .store
            .mark_read_items(s.practice, audience, &b.ids, s.clock.now())
            .await
            .map_err(ServiceError::Port)?;
    }
    Ok(Json(Marked { marked }))
}
