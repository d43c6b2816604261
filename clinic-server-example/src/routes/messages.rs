//! Secure messaging between a patient and the clinicians who treat them, with the front
//! desk writing on a clinician's behalf. Every list, read and write goes through
//! `clinic-core`'s `MessagingService`, which decides with `access::decide` and audits
//! each attempt; a patient asking for a thread that is not theirs gets 404.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use clinic_core::access::{Action, Area};
use clinic_core::ids::ThreadId;
use clinic_core::people::Role;
use clinic_core::service::{Actor, MessageView, NewMessage, NewThread, ThreadSummary, ThreadView};

use super::refusal;
use super::{json_body, request_id};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The roles that message, clinicians first.
const MESSAGING: &[Role] = &[Role::Psychologist, Role::Doctor, Role::Technician, Role::Patient];

fn actor(who: &Principal, headers: &HeaderMap) -> Actor {
    who.actor_as(MESSAGING, request_id(headers))
}

/// `GET /api/v1/messages/threads`: the threads the caller may read, most recent first,
/// with unread counts (the in-app inbox).
#[utoipa::path(get, path = "/api/v1/messages/threads", tag = "messages", responses((status = 200, description = "done", body = Vec<ThreadSummary>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn list_threads(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
) -> Result<Json<Vec<ThreadSummary>>, ApiError> {
    Ok(Json(s.messaging.threads(&actor(&who, &headers)).await?))
}

/// `POST /api/v1/messages/threads`: a new thread and its first message. A patient may
/// only write to clinicians who treat them; the front desk names the clinician it writes
/// for (`on_behalf_of`).
#[utoipa::path(post, path = "/api/v1/messages/threads", tag = "messages", request_body = NewThread, responses((status = 201, description = "done", body = ThreadView), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such patient (or another patient)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused, such as a clinician who does not treat the patient", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn start_thread(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Result<Json<NewThread>, JsonRejection>,
) -> Result<(StatusCode, Json<ThreadView>), ApiError> {
    let new = json_body(body)?;
    let view = s
        .messaging
        .start(&actor(&who, &headers), &new)
        .await
        .map_err(|e| refusal(&who, e, "thread", (Action::Write, Area::Messages)))?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /api/v1/messages/threads/{id}`: a thread's messages with read receipts; opening
/// it marks them read for the caller.
#[utoipa::path(get, path = "/api/v1/messages/threads/{id}", tag = "messages", params(("id" = String, Path, description = "the thread's id")), responses((status = 200, description = "done", body = ThreadView), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such thread (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn read_thread(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ThreadView>, ApiError> {
    let id: ThreadId = id.parse()?;
    let view = s
        .messaging
        .read(&actor(&who, &headers), id)
        .await
        .map_err(|e| refusal(&who, e, "thread", (Action::Read, Area::Messages)))?;
    Ok(Json(view))
}

/// `POST /api/v1/messages/threads/{id}/messages`: writes in a thread; the patient is told
/// by their usual channels that a message waits, never what it says.
#[utoipa::path(post, path = "/api/v1/messages/threads/{id}/messages", tag = "messages", params(("id" = String, Path, description = "the thread's id")), request_body = NewMessage, responses((status = 201, description = "done", body = MessageView), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such thread (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn post_message(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<NewMessage>, JsonRejection>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let id: ThreadId = id.parse()?;
    let new = json_body(body)?;
    let m = s
        .messaging
        .post(&actor(&who, &headers), id, &new)
        .await
        .map_err(|e| refusal(&who, e, "thread", (Action::Write, Area::Messages)))?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// `POST /api/v1/messages/attachments`: a file to attach to a message, as the request body
/// (`application/pdf`, `image/png`, `image/jpeg` or `text/plain`, at most 5 MiB), checked
/// against its declared type and encrypted before it is stored. The answer is the
/// reference to put in a message's `attachments`; the file is read back only through a
/// thread whose message holds it. Only the uploader attaches it, within a day (422
/// `attachment_not_uploaded` otherwise); an account uploads at most 20 files and 50 MiB a
/// day (429 `upload_quota`). Every filing is audited.
#[utoipa::path(post, path = "/api/v1/messages/attachments", tag = "messages", request_body(content = Vec<u8>, content_type = "application/pdf", description = "the file (PDF, PNG, JPEG or plain text)"), responses((status = 201, description = "the reference", body = clinic_core::ports::DocumentRef), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 413, description = "the file is over 5 MiB", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 415, description = "not a PDF, PNG, JPEG or text", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "the content is not what its type says", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 429, description = "the day's upload quota is used", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn upload_attachment(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<clinic_core::ports::DocumentRef>), ApiError> {
    use clinic_core::access::{Action, Area, Relation};
    // Whoever may write messages (their own, for patients and clinicians).
    who.require(Action::Write, Area::Messages, Relation::Own, "thread")?;
    let actor = actor(&who, &headers);
    s.messaging.may_upload(&actor, body.len() as u64).await?;
    let reference = super::store_upload(&s, &headers, &body, super::ANY_DOCUMENT).await?;
    s.messaging.record_upload(&actor, &reference).await?;
    Ok((StatusCode::CREATED, Json(reference)))
}

/// `GET /api/v1/messages/threads/{id}/attachments/{digest}`: a file attached to a message
/// of the thread, for whoever may read the thread (the read is audited).
#[utoipa::path(get, path = "/api/v1/messages/threads/{id}/attachments/{digest}", tag = "messages", params(("id" = String, Path, description = "the thread's id"), ("digest" = String, Path, description = "the attachment's SHA-256, as in its reference")), responses((status = 200, description = "the file", content_type = "application/pdf", body = Vec<u8>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such thread or attachment (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn attachment(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path((id, digest)): Path<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    let id: ThreadId = id.parse()?;
    let view = s
        .messaging
        .read(&actor(&who, &headers), id)
        .await
        .map_err(|e| refusal(&who, e, "thread", (Action::Read, Area::Messages)))?;
    let Some(reference) = view
        .messages
        .iter()
        .flat_map(|m| &m.message.attachments)
        .find(|a| a.digest == digest)
        .cloned()
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such attachment in this thread",
        ));
    };
    super::document_response(&s, &reference, "attachment").await
}
