//! The router.

pub(crate) mod admin;
pub(crate) mod appointments;
pub(crate) mod auth;
pub(crate) mod billing;
pub(crate) mod calendar;
pub(crate) mod care;
pub(crate) mod clinical;
pub(crate) mod credentials;
pub(crate) mod dashboard;
pub(crate) mod directory;
pub(crate) mod fhir;
pub(crate) mod guardians;
pub(crate) mod hooks;
pub(crate) mod inbox;
pub(crate) mod intake;
pub(crate) mod inventory;
pub(crate) mod lifecycle;
pub(crate) mod messages;
pub(crate) mod patients;
pub(crate) mod practice;
pub(crate) mod records;
pub(crate) mod reports;
pub(crate) mod slots;
pub(crate) mod staff;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::routing::{delete, get, post, put};
use axum::{Json, http::StatusCode};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// The largest request body accepted: 1 MiB (uploads have their own limit).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The largest uploaded document (a certificate, a referral letter, a message attachment):
/// 5 MiB.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;

/// Every route of the server, with its middleware: a request id on every request and
/// response (generated when the client sends none), security headers, the body limit,
/// CORS for the configured origins only, and a trace span per request that names the
/// method, path and request id (never a query string or body).
pub fn router(state: AppState) -> Router {
    use axum::http::{HeaderName, HeaderValue, Method, header};
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    use tower_http::set_header::SetResponseHeaderLayer;
    let cors = (!state.cors_origins.is_empty()).then(|| {
        tower_http::cors::CorsLayer::new()
            .allow_origin(state.cors_origins.clone())
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([HeaderName::from_static("x-request-id"), header::LINK])
            .max_age(std::time::Duration::from_secs(600))
    });
    let security = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Responses carry health data: no shared or browser cache may keep them.
        (header::CACHE_CONTROL, "no-store"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains"),
    ];
    let mut app = routes(state)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                // The path names records by id only; the query string is left out.
                tracing::info_span!("request", method = %req.method(), path = req.uri().path(), request_id = id)
            }),
        );
    for (name, value) in security {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    app.layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // Outermost, so it runs first: a client's id that is not a plain short token is
        // dropped, and one is generated in its place.
        .layer(axum::middleware::map_request(plain_request_id))
}

/// The longest request id kept from a client: room for a UUID, a ULID or a trace id.
pub const MAX_REQUEST_ID: usize = 64;

/// Whether a client's request id is kept: 1 to [`MAX_REQUEST_ID`] letters, digits, `-`,
/// `_`, `.` or `:`. Anything else (16 KB of text, control or non-ASCII characters) would
/// be stored in the audit trail and echoed back to whoever sent it.
#[must_use]
pub fn is_plain_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

async fn plain_request_id(mut req: axum::extract::Request) -> axum::extract::Request {
    let headers = req.headers_mut();
    let ids = headers.get_all("x-request-id");
    let mut it = ids.iter();
    let keep = matches!((it.next(), it.next()), (Some(v), None) if is_plain_request_id(v.as_bytes()));
    if !keep {
        headers.remove("x-request-id");
    }
    req
}

fn routes(state: AppState) -> Router {
    // The page at /docs only points at /openapi.json, which serves the checked-in document.
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/openapi.json"));
    Router::new()
        .merge(docs)
        .route(
            "/openapi.json",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    crate::openapi::JSON,
                )
            }),
        )
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/v1/auth/register", post(auth::register))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/me", get(auth::me))
        .route("/api/v1/auth/bootstrap", post(auth::bootstrap))
        .route("/api/v1/auth/2fa/enrol", post(auth::enrol))
        .route("/api/v1/auth/2fa/confirm", post(auth::confirm))
        .route("/api/v1/auth/2fa/remove", post(lifecycle::remove_two_factor))
        .route("/api/v1/auth/verify-email", post(lifecycle::verify_email))
        .route("/api/v1/auth/verify-email/resend", post(lifecycle::resend_verification))
        .route("/api/v1/auth/password-reset", post(lifecycle::request_reset))
        .route("/api/v1/auth/password-reset/confirm", post(lifecycle::confirm_reset))
        .route("/api/v1/auth/accept-invitation", post(staff::accept))
        .route("/api/v1/staff/invitations", post(staff::invite))
        .route("/api/v1/staff", get(lifecycle::list_staff))
        .route("/api/v1/staff/{user_id}/disable", post(lifecycle::disable))
        .route("/api/v1/staff/{user_id}/enable", post(lifecycle::enable))
        .route("/api/v1/staff/{user_id}/roles", put(lifecycle::set_roles))
        .route(
            "/api/v1/staff/{user_id}/two-factor/reset",
            post(lifecycle::reset_two_factor),
        )
        .route("/api/v1/dashboard", get(dashboard::dashboard))
        .route("/api/v1/patients/{id}", get(dashboard::patient))
        .route("/api/v1/patients/{id}/reminders", put(dashboard::reminders))
        .route("/api/v1/intake-form", get(intake::form))
        .route("/api/v1/patients", get(patients::list))
        .route("/api/v1/patients/{id}/profile", put(patients::update_profile))
        .route(
            "/api/v1/patients/{id}/guardians",
            get(guardians::guardians).post(guardians::link_guardian),
        )
        .route(
            "/api/v1/patients/{id}/guardians/{user_id}",
            delete(guardians::unlink_guardian),
        )
        .route(
            "/api/v1/patients/{id}/corrections",
            get(patients::corrections).post(patients::correct),
        )
        .route("/api/v1/patients/{id}/corrections/decline", post(patients::decline))
        .route(
            "/api/v1/patients/{id}/intake",
            get(intake::read).post(intake::submit).patch(intake::amend),
        )
        .route("/api/v1/practitioners/{id}/availability", get(admin::availability))
        .route("/api/v1/practitioners/{id}/calendar-link", get(calendar::link))
        .route("/api/v1/practitioners/{id}/calendar-link/renew", post(calendar::renew))
        .route("/api/v1/practitioners/{id}/credentials", get(credentials::get))
        .route(
            "/api/v1/practitioners/{id}/registrations",
            post(credentials::add_registration),
        )
        .route(
            "/api/v1/practitioners/{id}/insurances",
            post(credentials::add_insurance),
        )
        .route(
            "/api/v1/practitioners/{id}/insurances/current/certificate",
            put(credentials::put_certificate)
                .get(credentials::get_certificate)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 1)),
        )
        .route("/api/v1/calendar/{id}", get(calendar::feed))
        .route("/api/v1/practitioners/{id}/templates", post(admin::add_template))
        .route("/api/v1/practitioners/{id}/exceptions", post(admin::add_exception))
        .route("/api/v1/audit", get(admin::audit))
        .route("/api/v1/audit/verify", post(admin::verify))
        .route("/api/v1/practice", get(practice::get).put(practice::update))
        .route("/api/v1/locations", post(practice::add_location))
        .route("/api/v1/rooms", post(practice::add_room))
        .route("/api/v1/services", post(practice::add_service))
        .route("/api/v1/directory", get(directory::directory))
        .route("/api/v1/slots", get(slots::search))
        .route("/api/v1/appointments", get(appointments::list).post(appointments::book))
        .route("/api/v1/appointments/{id}", get(appointments::get))
        .route("/api/v1/appointments/{id}/cancel", post(appointments::cancel))
        .route(
            "/api/v1/appointments/{id}/cancel-following",
            post(appointments::cancel_following),
        )
        .route("/api/v1/appointments/{id}/confirm", post(appointments::confirm))
        .route("/api/v1/appointments/{id}/arrive", post(appointments::arrive))
        .route("/api/v1/appointments/{id}/complete", post(appointments::complete))
        .route("/api/v1/appointments/{id}/no-show", post(appointments::no_show))
        .route("/api/v1/appointments/{id}/reschedule", post(appointments::reschedule))
        .route(
            "/api/v1/appointments/{id}/reschedule-following",
            post(appointments::reschedule_following),
        )
        .route("/api/v1/claims", post(billing::claim))
        .route("/api/v1/waitlist", post(appointments::join_waitlist))
        .route("/api/v1/appointments/{id}/join", post(billing::join))
        .route("/api/v1/appointments/{id}/end-session", post(billing::end_session))
        .route("/api/v1/appointments/{id}/prep", put(records::save_prep))
        .route(
            "/api/v1/patients/{id}/consents",
            get(records::consents).post(records::record_consent),
        )
        .route(
            "/api/v1/patients/{id}/emergency-contact",
            put(records::emergency_contact),
        )
        .route("/api/v1/patients/{id}/access-requests", post(records::request_access))
        .route("/api/v1/patients/{id}/export", get(records::export))
        .route("/api/v1/patients/{id}/deletion", post(records::process_deletion))
        .route("/api/v1/patients/{id}/care-team", get(care::team).post(care::assign))
        .route("/api/v1/patients/{id}/care-team/{record_id}/end", post(care::end))
        .route("/api/v1/patients/{id}/break-glass", post(care::break_glass))
        .route(
            "/api/v1/patients/{id}/deletion-requests",
            post(records::request_deletion),
        )
        .route(
            "/api/v1/patients/{id}/prescriptions",
            get(clinical::prescriptions).post(clinical::prescribe),
        )
        .route(
            "/api/v1/patients/{id}/test-results",
            get(clinical::results).post(clinical::record_result),
        )
        .route("/api/v1/test-results/{id}/review", post(clinical::review_result))
        .route(
            "/api/v1/test-results/{id}/attachments",
            post(clinical::attach_to_result).layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 1)),
        )
        .route(
            "/api/v1/test-results/{id}/attachments/{digest}",
            get(clinical::result_attachment),
        )
        .route(
            "/api/v1/patients/{id}/plan",
            get(clinical::plan).put(clinical::set_plan),
        )
        .route(
            "/api/v1/patients/{id}/measures",
            get(clinical::measures).post(clinical::complete_measure),
        )
        .route("/api/v1/notes", post(records::create_note))
        .route("/api/v1/notes/{id}", get(records::note))
        .route("/api/v1/notes/{id}/sign", post(records::sign_note))
        .route("/api/v1/notes/{id}/lock", post(records::lock_note))
        .route("/api/v1/notes/{id}/addenda", post(records::amend_note))
        .route("/api/v1/invoices", get(billing::list).post(billing::create))
        .route("/api/v1/invoices/{id}", get(billing::get))
        .route("/api/v1/invoices/{id}/issue", post(billing::issue))
        .route("/api/v1/invoices/{id}/payments", post(billing::pay))
        .route("/api/v1/invoices/{id}/refunds", post(billing::refund))
        .route("/api/v1/invoices/{id}/credit-notes", post(billing::credit))
        .route("/api/v1/patients/{id}/invoices", get(billing::for_patient))
        .route("/api/v1/patients/{id}/medicare-usage", get(billing::medicare_usage))
        .route(
            "/api/v1/patients/{id}/referrals/{referral}/letter",
            put(billing::put_referral_letter)
                .get(billing::get_referral_letter)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 1)),
        )
        .route(
            "/api/v1/patients/{id}/referrals",
            get(billing::referrals).post(billing::add_referral),
        )
        .route("/api/v1/invoices/{id}/pdf", get(billing::pdf))
        .route("/api/v1/invoices/{id}/payment-intent", post(billing::payment_intent))
        .route(
            "/api/v1/inventory/items",
            get(inventory::list_items).post(inventory::create_item),
        )
        .route(
            "/api/v1/inventory/items/{id}",
            get(inventory::get_item).put(inventory::update_item),
        )
        .route(
            "/api/v1/inventory/items/{id}/movements",
            post(inventory::record_movement),
        )
        .route("/api/v1/inventory/low-stock", get(inventory::low_stock))
        .route("/api/v1/inventory/expiring", get(inventory::expiring))
        .route(
            "/api/v1/messages/threads",
            get(messages::list_threads).post(messages::start_thread),
        )
        .route("/api/v1/messages/threads/{id}", get(messages::read_thread))
        .route("/api/v1/messages/threads/{id}/messages", post(messages::post_message))
        .route(
            "/api/v1/messages/threads/{id}/attachments/{digest}",
            get(messages::attachment),
        )
        .route(
            "/api/v1/messages/attachments",
            post(messages::upload_attachment).layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 1)),
        )
        .route("/api/v1/reports/utilisation", get(reports::utilisation))
        .route("/api/v1/reports/attendance", get(reports::attendance))
        .route("/api/v1/reports/revenue", get(reports::revenue))
        .route("/api/v1/reports/outstanding", get(reports::outstanding))
        .route("/api/v1/reports/medicare-caps", get(reports::medicare_caps))
        .route("/api/v1/reports/credentials", get(reports::credentials))
        .route("/api/v1/fhir/Patient/{id}", get(fhir::fhir_patient))
        .route("/api/v1/fhir/Practitioner/{id}", get(fhir::fhir_practitioner))
        .route("/api/v1/fhir/Appointment/{id}", get(fhir::fhir_appointment))
        .route("/api/v1/fhir/Schedule", get(fhir::fhir_schedules))
        .route("/api/v1/fhir/Slot", get(fhir::fhir_slots))
        .route("/api/v1/inbox", get(inbox::inbox))
        .route("/api/v1/inbox/read", post(inbox::mark_read))
        .route("/api/v1/hooks/stripe", post(hooks::stripe))
        .route("/api/v1/hooks/twilio/status", post(hooks::twilio_status))
        // Every matched route is counted under its template (`route_layer` runs after
        // routing, so the template is known).
        .route_layer(axum::middleware::from_fn_with_state(
            state.slot_cache.clone(),
            crate::slot_cache::note_writes,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        .fallback(not_found)
        .with_state(state)
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    status: &'static str,
}

#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, description = "done", body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Ready when the database answers (migrations ran when the store connected, and a newer
/// schema would have stopped start-up).
#[utoipa::path(get, path = "/ready", tag = "health", responses((status = 200, description = "done", body = Health), (status = 503, description = "not available now; retry", content_type = "application/problem+json", body = crate::openapi::Problem)))]
pub(crate) async fn ready(axum::extract::State(s): axum::extract::State<AppState>) -> Result<Json<Health>, ApiError> {
    s.store.practice(s.practice).await.map_err(|e| {
        tracing::warn!(code = e.kind().code(), "not ready: the database did not answer");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the database is not reachable",
        )
    })?;
    Ok(Json(Health { status: "ready" }))
}

/// `GET /metrics`: the Prometheus text exposition (see [`crate::metrics`]). A scraper sends
/// the configured `metrics_token` as a bearer token; a caller on this machine reads it
/// without one only where `metrics_loopback` is configured (403 otherwise).
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem)), security((), ("metrics_token" = [])))]
pub(crate) async fn metrics(
    axum::extract::State(s): axum::extract::State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let bearer = s.metrics_token.as_ref().is_some_and(|token| {
        headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                clinic_core::audit::ct_eq(
                    &clinic_core::audit::Sha256::digest(given.trim().as_bytes()),
                    &clinic_core::audit::Sha256::digest(token.as_bytes()),
                )
            })
    });
    let allowed = bearer || (s.metrics_loopback && peer.ip().is_loopback());
    if !allowed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "metrics are for the configured scraper (metrics_token), or this machine where metrics_loopback is set",
        ));
    }
    // A monitor still wants the request counts when the database is down.
    let queue = s.store.queue_depth(s.practice).await.ok();
    let pool = s.pool_usage.as_ref().map(|read| read());
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(queue, pool),
    )
        .into_response())
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route")
}

/// What an audit event written by the server (not by a core use case) records.
pub(crate) struct Audited<'a> {
    /// The action code, e.g. `patient.search`.
    pub action: &'a str,
    /// The kind of record, e.g. `patient`.
    pub kind: &'a str,
    /// The record (nil for a list or search).
    pub resource: uuid::Uuid,
    /// The patient it is about, if one.
    pub patient: Option<clinic_core::ids::PatientId>,
    /// Allowed or denied.
    pub outcome: clinic_core::audit::Outcome,
    /// What else the trail needs (a count, never content or a search term).
    pub reason: Option<String>,
}

/// Appends an audit event for `actor`'s request.
pub(crate) async fn audit_event(
    s: &AppState,
    actor: Option<clinic_core::ids::UserId>,
    request_id: Option<String>,
    e: Audited<'_>,
) -> Result<(), ApiError> {
    s.store
        .append(clinic_core::audit::AuditEntry {
            practice_id: s.practice,
            at: s.clock.now(),
            actor,
            action: e.action.to_owned(),
            resource_kind: e.kind.to_owned(),
            resource_id: e.resource,
            patient_id: e.patient,
            outcome: e.outcome,
            request_id,
            reason: e.reason,
        })
        .await
        .map_err(clinic_core::service::ServiceError::Port)?;
    Ok(())
}

/// Unwraps a JSON body or turns the rejection into a 400 problem (413 for a body over
/// the limit, 415 for a wrong content type).
pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v).map_err(|r| {
        let status = r.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "bad_request",
        };
        ApiError::new(status, code, r.body_text())
    })
}

/// The request id the middleware put on the request, for the audit trail.
pub(crate) fn request_id(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The practice's own zone: its first location's (its head office), Sydney when it has
/// none yet. Dates that belong to the practice rather than to a location (an invoice's
/// issue date, today for a registration rule, the Medicare year asked about) use it.
pub(crate) async fn practice_zone(s: &AppState) -> Result<chrono_tz::Tz, ApiError> {
    let locations = s
        .store
        .locations(s.practice)
        .await
        .map_err(clinic_core::service::ServiceError::Port)?;
    Ok(locations.first().map_or(chrono_tz::Australia::Sydney, |l| l.zone))
}

/// A core service's refusal as the caller sees it: 404 `not_found` when the caller's access
/// turns on the record being theirs (always for a patient or guardian; for staff, when
/// their role could do `what` to a record of their own, as a clinician to a patient they
/// treat), so a record's existence never leaks; otherwise the service's own error (403 for
/// a role refused whatever the record).
pub(crate) fn refusal(
    who: &crate::auth::Principal,
    e: clinic_core::service::ServiceError,
    entity: &'static str,
    what: (clinic_core::access::Action, clinic_core::access::Area),
) -> ApiError {
    let hidden = who.is_patient_only() || who.may(what.0, what.1, clinic_core::access::Relation::Own);
    match e {
        clinic_core::service::ServiceError::Forbidden if hidden => ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            format!("{entity} not found"),
        ),
        other => other.into(),
    }
}

/// Every appointment of the patients the principal acts for (their own record and the
/// minors they guard), each once (a group session shared with a child is one), soonest
/// first.
pub(crate) async fn appointments_acted_for(
    s: &AppState,
    who: &crate::auth::Principal,
) -> Result<Vec<clinic_core::scheduling::Appointment>, ApiError> {
    let mut all: Vec<clinic_core::scheduling::Appointment> = Vec::new();
    for patient in who.patients() {
        for a in s
            .store
            .patient_appointments(s.practice, patient)
            .await
            .map_err(clinic_core::service::ServiceError::Port)?
        {
            if !all.iter().any(|m| m.id == a.id) {
                all.push(a);
            }
        }
    }
    all.sort_by_key(|a| (a.interval.start(), a.id));
    Ok(all)
}

/// Today at the practice (see [`practice_zone`]).
pub(crate) async fn practice_today(s: &AppState) -> Result<chrono::NaiveDate, ApiError> {
    Ok(s.clock.now().with_timezone(&practice_zone(s).await?).date_naive())
}

/// A practitioner of this practice whose `area` the principal may `action`: their own, or
/// anyone's for the roles the matrix lets act for others (404 for an unknown id).
pub(crate) async fn practitioner_for(
    s: &AppState,
    who: &crate::auth::Principal,
    id: &str,
    action: clinic_core::access::Action,
    area: clinic_core::access::Area,
) -> Result<clinic_core::ids::PractitionerId, ApiError> {
    use clinic_core::access::Relation;
    let id: clinic_core::ids::PractitionerId = id.parse()?;
    s.store
        .practitioner(s.practice, id)
        .await
        .map_err(|e| clinic_core::service::ServiceError::from_port_kind(e, "practitioner"))?;
    let relation = if who.practitioner_id == Some(id) {
        Relation::Own
    } else {
        Relation::Other
    };
    who.require(action, area, relation, "practitioner")?;
    Ok(id)
}

/// A patient of this practice whose profile the principal may read: their own, or anyone's
/// for the manager and administrator (another patient's answers 404 to a patient).
pub(crate) async fn patient_for(
    s: &AppState,
    who: &crate::auth::Principal,
    id: &str,
) -> Result<clinic_core::people::Patient, ApiError> {
    use clinic_core::access::{Action, Area, Relation};
    let id: clinic_core::ids::PatientId = id.parse()?;
    let relation = if who.acts_for(id) {
        Relation::Own
    } else {
        Relation::Other
    };
    who.require(Action::Read, Area::Profile, relation, "patient")?;
    s.store
        .patient(s.practice, id)
        .await
        .map_err(|e| clinic_core::service::ServiceError::from_port_kind(e, "patient").into())
}

/// Documents a scan or a report may be: what certificates and referral letters accept.
pub(crate) const SCANS: &[clinic_core::ports::DocumentType] = &[
    clinic_core::ports::DocumentType::Pdf,
    clinic_core::ports::DocumentType::Png,
    clinic_core::ports::DocumentType::Jpeg,
];

/// Every type the document store keeps: attachments also take plain text.
pub(crate) const ANY_DOCUMENT: &[clinic_core::ports::DocumentType] = &[
    clinic_core::ports::DocumentType::Pdf,
    clinic_core::ports::DocumentType::Png,
    clinic_core::ports::DocumentType::Jpeg,
    clinic_core::ports::DocumentType::Text,
];

/// Checks an uploaded body against its declared `Content-Type` (one of `accept`, at most
/// [`MAX_UPLOAD_BYTES`], content matching the type) and stores it sealed, returning its
/// reference: 415 for a type not accepted, 413 for a file too large, 422 for content that
/// is not what its type says.
pub(crate) async fn store_upload(
    s: &AppState,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    accept: &[clinic_core::ports::DocumentType],
) -> Result<clinic_core::ports::DocumentRef, ApiError> {
    use clinic_core::ports::{Upload, UploadError};
    let declared = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let upload = Upload::new(declared, body.to_vec(), MAX_UPLOAD_BYTES).map_err(|e| credentials::upload_problem(&e))?;
    if !accept.contains(&upload.kind()) {
        return Err(credentials::upload_problem(&UploadError::UnsupportedType));
    }
    s.integrations
        .documents
        .put(s.practice, &upload)
        .await
        .map_err(|e| clinic_core::service::ServiceError::Port(e).into())
}

/// A stored document as the response, with its type (404 naming `entity` when the store
/// no longer has it).
pub(crate) async fn document_response(
    s: &AppState,
    reference: &clinic_core::ports::DocumentRef,
    entity: &'static str,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let bytes = s
        .integrations
        .documents
        .get(s.practice, reference)
        .await
        .map_err(|e| clinic_core::service::ServiceError::from_port_kind(e, entity))?;
    let mut res = (StatusCode::OK, bytes).into_response();
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(reference.kind.mime()),
    );
    Ok(res)
}
