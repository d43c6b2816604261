//! An account's life after sign-up: proving the email address, resetting a forgotten
//! password, and the administrator's offboarding of staff (disable, enable, roles, a lost
//! second factor). Every change to someone else's account is audited; every change that
//! takes access away ends the account's sessions at once.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use clinic_core::access::{Action, Area, Relation};
use clinic_core::audit::Outcome;
use clinic_core::auth::{Account, OneTimeLink, RESET_TTL, VERIFICATION_TTL, check_password, check_staff_roles};
use clinic_core::ids::{PractitionerId, UserId};
use clinic_core::people::{Email, Role};
use clinic_core::ports::{EmailMessage, PortErrorKind};
use clinic_core::service::ServiceError;
use serde::{Deserialize, Serialize};

use super::{json_body, request_id};
use crate::auth::{self, Enrolling, Principal};
use crate::error::ApiError;
use crate::state::AppState;

/// A new one-time link valid for `ttl` from `now`: the token to send, and what is kept.
pub(crate) fn new_link(now: DateTime<Utc>, ttl: chrono::Duration) -> (String, OneTimeLink) {
    let (token, token_hash) = auth::new_refresh_token();
    (
        token,
        OneTimeLink {
            token_hash,
            expires_at: now + ttl,
        },
    )
}

fn base_url(s: &AppState) -> String {
    s.integrations
        .public_url
        .clone()
        .unwrap_or_else(|| "http://localhost:8080".into())
}

/// Sends `text` to `to` in the background: the answer to the request neither waits for
/// the provider nor tells by its timing whether an email was sent.
fn send(s: &AppState, to: &Email, subject: String, text: String) {
    let message = EmailMessage {
        to: to.clone(),
        reply_to: None,
        subject,
        text,
        html: None,
        attachments: vec![],
    };
    let email = s.integrations.email.clone();
    tokio::spawn(async move {
        if let Err(e) = email.send(&message).await {
            tracing::warn!(code = e.kind().code(), "an account email was not sent");
        }
    });
}

/// Where no email provider is configured, the console adapter sends nothing and logs no
/// content, so an account link (an invitation, a verification, a reset) would reach
/// nobody and a clinic trying the server could never accept, verify or reset: the link is
/// logged instead, naming its purpose and never the recipient. With a provider configured
/// nothing is logged. A link carries no health information; it is a one-time secret, which
/// is why this happens only on the console adapter, for local development.
pub(crate) fn show_link_in_development(s: &AppState, purpose: &str, link: &str) {
    if s.integrations.console.contains(&"email") {
        tracing::warn!(
            purpose,
            link,
            "console email: an account link, logged because no email provider is configured"
        );
    }
}

/// Emails the verification link (the token rides in the URL fragment, so it reaches no
/// server log).
pub(crate) async fn send_verification(s: &AppState, to: &Email, token: &str) {
    let name = s.store.practice(s.practice).await.map(|p| p.name).unwrap_or_default();
    let link = format!("{}/verify-email#token={token}", base_url(s));
    show_link_in_development(s, "verify-email", &link);
    send(
        s,
        to,
        format!("Confirm your email address for {name}"),
        format!(
            "Open this link within 48 hours to confirm your email address: {link}\n\nIf you did not register, ignore this email.\n"
        ),
    );
}

fn account_error(e: clinic_core::ports::PortError) -> ApiError {
    ServiceError::from_port_kind(e, "account").into()
}

async fn audit(s: &AppState, actor: UserId, action: &str, target: UserId, headers: &HeaderMap) -> Result<(), ApiError> {
    let e = super::Audited {
        action,
        kind: "account",
        resource: target.as_uuid(),
        patient: None,
        outcome: Outcome::Allowed,
        reason: None,
    };
    super::audit_event(s, Some(actor), request_id(headers), e).await
}

/// Ends every session of `account` now: refresh tokens through the stored account, access
/// tokens through the server's revocation list.
fn end_sessions(s: &AppState, account: &mut Account) {
    let now = Utc::now();
    account.sessions_valid_from = Some(now);
    s.throttle.revoke(account.user.id, now);
}

/// The token from the verification link.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyEmail {
    token: String,
}

/// `POST /api/v1/auth/verify-email`: the signed-in user proves their address with the
/// token from the link, and gets tokens that say so.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth", request_body = VerifyEmail, responses((status = 200, description = "done", body = super::auth::TokenPair), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the link is wrong or has lapsed", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn verify_email(
    State(s): State<AppState>,
    Enrolling(who): Enrolling,
    body: Result<Json<VerifyEmail>, JsonRejection>,
) -> Result<Json<super::auth::TokenPair>, ApiError> {
    let r = json_body(body)?;
    let mut account = s.store.account(s.practice, who.user_id).await.map_err(account_error)?;
    let given = auth::refresh_hash(r.token.trim());
    if !account.email_verified {
        let opens = account
            .verification
            .as_ref()
            .is_some_and(|l| l.opens(&given, Utc::now()));
        if !opens {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "link_invalid",
                "the link is wrong or has lapsed; ask for a new one",
            ));
        }
        account.email_verified = true;
        account.verification = None;
        s.store.update_account(&account).await.map_err(ServiceError::Port)?;
    }
    Ok(Json(
        super::auth::tokens_for(&s, &account, uuid::Uuid::new_v4(), false, None).await?,
    ))
}

/// `POST /api/v1/auth/verify-email/resend`: a new verification link for the signed-in
/// user (the old one stops working). 204, also when the address is already proven.
#[utoipa::path(post, path = "/api/v1/auth/verify-email/resend", tag = "auth", responses((status = 204, description = "done"), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn resend_verification(
    State(s): State<AppState>,
    Enrolling(who): Enrolling,
) -> Result<StatusCode, ApiError> {
    let mut account = s.store.account(s.practice, who.user_id).await.map_err(account_error)?;
    if account.email_verified {
        return Ok(StatusCode::NO_CONTENT);
    }
    // At most one link a minute: asking again and again floods nobody's inbox.
    let now = Utc::now();
    let recent = account
        .verification
        .as_ref()
        .is_some_and(|l| l.expires_at - VERIFICATION_TTL > now - chrono::Duration::minutes(1));
    if recent {
        return Ok(StatusCode::NO_CONTENT);
    }
    let (token, link) = new_link(now, VERIFICATION_TTL);
    account.verification = Some(link);
    s.store.update_account(&account).await.map_err(ServiceError::Port)?;
    send_verification(&s, &account.user.email, &token).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Whose password to reset.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetRequest {
    email: String,
}

/// `POST /api/v1/auth/password-reset`: emails a one-time link (one hour) to the address if
/// it has an account, at most once in five minutes. 202 whatever the address, at once,
/// so neither the answer nor its time tells anybody whether it has.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest, responses((status = 202, description = "if the address has an account, a link is on its way"), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)))]
pub(crate) async fn request_reset(
    State(s): State<AppState>,
    body: Result<Json<ResetRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let r = json_body(body)?;
    let email = Email::parse(r.email.trim())?;
    // The work happens after the answer, so its time never tells whether the address has
    // an account.
    let s = s.clone();
    tokio::spawn(async move {
        if let Err(e) = send_reset(&s, &email).await {
            tracing::warn!(code = e.code(), "a password reset was not sent");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

/// Emails a reset link to `email`'s account, if there is one that may sign in, and no link
/// was sent to it in the last five minutes (asking again and again floods nobody's inbox).
async fn send_reset(s: &AppState, email: &Email) -> Result<(), ApiError> {
    let now = Utc::now();
    let mut account = match s.store.account_by_email(s.practice, email).await {
        Ok(a) if !a.disabled && a.invitation.is_none() => a,
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == PortErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ServiceError::Port(e).into()),
    };
    let recent = account
        .reset
        .as_ref()
        .is_some_and(|l| l.expires_at - RESET_TTL > now - chrono::Duration::minutes(5));
    if recent {
        return Ok(());
    }
    let (token, link) = new_link(now, RESET_TTL);
    account.reset = Some(link);
    s.store.update_account(&account).await.map_err(ServiceError::Port)?;
    let url = format!("{}/reset-password#token={token}", base_url(s));
    show_link_in_development(s, "reset-password", &url);
    send(
        s,
        &account.user.email,
        "Reset your password".into(),
        format!(
            "Open this link within an hour to choose a new password: {url}\n\nIf you did not ask for this, ignore this email: your password has not changed.\n"
        ),
    );
    Ok(())
}

/// The link's token and the new password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetConfirm {
    email: String,
    token: String,
    password: String,
}

/// `POST /api/v1/auth/password-reset/confirm`: sets the new password with the token from
/// the link (once, within the hour) and ends every session of the account; then sign in.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm, responses((status = 204, description = "done: sign in with the new password"), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the link is wrong, used or has lapsed", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)))]
pub(crate) async fn confirm_reset(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ResetConfirm>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let r = json_body(body)?;
    check_password(&r.password)?;
    let invalid = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "link_invalid",
            "the link is wrong, used or has lapsed; ask for a new one",
        )
    };
    let email = Email::parse(r.email.trim())?;
    let mut account = match s.store.account_by_email(s.practice, &email).await {
        Ok(a) => a,
        Err(e) if e.kind() == PortErrorKind::NotFound => return Err(invalid()),
        Err(e) => return Err(ServiceError::Port(e).into()),
    };
    let given = auth::refresh_hash(r.token.trim());
    if account.disabled || !account.reset.as_ref().is_some_and(|l| l.opens(&given, Utc::now())) {
        return Err(invalid());
    }
    account.password_hash = auth::hash_password(r.password).await?;
    account.reset = None;
    // The link reached the address.
    account.email_verified = true;
    account.succeeded();
    end_sessions(&s, &mut account);
    // Compare-and-swap: of two uses of one link, one stores and the other conflicts.
    s.store.update_account(&account).await.map_err(|e| {
        if e.kind() == PortErrorKind::Conflict {
            invalid()
        } else {
            ServiceError::Port(e).into()
        }
    })?;
    audit(&s, account.user.id, "account.password_reset", account.user.id, &headers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A member of staff as the staff screen lists them.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct StaffMember {
    user_id: UserId,
    email: Email,
    roles: Vec<Role>,
    practitioner_id: Option<PractitionerId>,
    disabled: bool,
    /// Invited and not yet accepted.
    invited: bool,
    two_factor: bool,
}

impl From<&Account> for StaffMember {
    fn from(a: &Account) -> Self {
        Self {
            user_id: a.user.id,
            email: a.user.email.clone(),
            roles: a.user.roles.clone(),
            practitioner_id: a.user.practitioner_id,
            disabled: a.disabled && a.invitation.is_none(),
            invited: a.invitation.is_some(),
            two_factor: a.has_two_factor(),
        }
    }
}

fn is_staff(a: &Account) -> bool {
    a.user.roles.iter().any(|r| *r != Role::Patient)
}

/// `GET /api/v1/staff`: every staff account, for administrators and practice managers.
#[utoipa::path(get, path = "/api/v1/staff", tag = "staff", responses((status = 200, description = "done", body = Vec<StaffMember>), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn list_staff(State(s): State<AppState>, who: Principal) -> Result<Json<Vec<StaffMember>>, ApiError> {
    who.require(Action::Read, Area::StaffAccounts, Relation::Other, "staff")?;
    let accounts = s.store.accounts(s.practice).await.map_err(ServiceError::Port)?;
    Ok(Json(
        accounts.iter().filter(|a| is_staff(a)).map(StaffMember::from).collect(),
    ))
}

/// A staff account an administrator may change: it exists and is staff (a patient's
/// account is the patient's own).
/// Staff-account changes one at a time in this process, so that the "an administrator
/// remains" check and the write it guards are not interleaved with another's (two
/// administrators disabling each other at once left the practice with none). Replicas on
/// PostgreSQL would need the same through the database.
static STAFF_CHANGES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn staff_account(s: &AppState, who: &Principal, id: &str) -> Result<Account, ApiError> {
    who.require(Action::Write, Area::StaffAccounts, Relation::Other, "staff")?;
    let id: UserId = id.parse()?;
    let account = s.store.account(s.practice, id).await.map_err(account_error)?;
    if !is_staff(&account) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "account not found"));
    }
    Ok(account)
}

/// Refuses a change that would leave the practice without an enabled administrator.
async fn keeps_an_admin(s: &AppState, changed: &Account) -> Result<(), ApiError> {
    let accounts = s.store.accounts(s.practice).await.map_err(ServiceError::Port)?;
    let others = accounts
        .iter()
        .any(|a| a.user.id != changed.user.id && a.user.has_role(Role::Admin) && !a.disabled);
    if others || (changed.user.has_role(Role::Admin) && !changed.disabled) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            "last_administrator",
            "the practice would have no administrator left",
        ))
    }
}

/// Stores an administrator's change to a staff account (ending its sessions when the
/// change takes access away), audits it, and answers with the account as listed.
async fn changed(
    s: &AppState,
    who: &Principal,
    headers: &HeaderMap,
    mut account: Account,
    action: &str,
    ends_sessions: bool,
) -> Result<Json<StaffMember>, ApiError> {
    if ends_sessions {
        end_sessions(s, &mut account);
    }
    store_changed(s, &account).await?;
    audit(s, who.user_id, action, account.user.id, headers).await?;
    Ok(Json(StaffMember::from(&account)))
}

async fn store_changed(s: &AppState, account: &Account) -> Result<(), ApiError> {
    s.store.update_account(account).await.map_err(|e| {
        if e.kind() == PortErrorKind::Conflict {
            ApiError::new(
                StatusCode::CONFLICT,
                "contention",
                "the account changed meanwhile; try again",
            )
        } else {
            ServiceError::Port(e).into()
        }
    })
}

/// `POST /api/v1/staff/{user_id}/disable`: offboarding. The account cannot sign in, and
/// every session it has ends at once (refresh tokens and access tokens alike). Audited.
#[utoipa::path(post, path = "/api/v1/staff/{user_id}/disable", tag = "staff", params(("user_id" = String, Path, description = "the staff account's user id (UUID)")), responses((status = 200, description = "done", body = StaffMember), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn disable(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Result<Json<StaffMember>, ApiError> {
    let _one_at_a_time = STAFF_CHANGES.lock().await;
    let mut account = staff_account(&s, &who, &user_id).await?;
    account.disabled = true;
    account.invitation = None;
    keeps_an_admin(&s, &account).await?;
    changed(&s, &who, &headers, account, "account.disable", true).await
}

/// `POST /api/v1/staff/{user_id}/enable`: lets a disabled account sign in again (with its
/// password; nothing of its old sessions comes back). Audited.
#[utoipa::path(post, path = "/api/v1/staff/{user_id}/enable", tag = "staff", params(("user_id" = String, Path, description = "the staff account's user id (UUID)")), responses((status = 200, description = "done", body = StaffMember), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn enable(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Result<Json<StaffMember>, ApiError> {
    let _one_at_a_time = STAFF_CHANGES.lock().await;
    let mut account = staff_account(&s, &who, &user_id).await?;
    if account.password_hash == "!" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "never_accepted",
            "this account never accepted its invitation; invite the person again",
        ));
    }
    account.disabled = false;
    changed(&s, &who, &headers, account, "account.enable", false).await
}

/// A staff account's new roles.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetRoles {
    roles: Vec<Role>,
}

/// `PUT /api/v1/staff/{user_id}/roles`: replaces a staff account's roles (a role removed
/// is removed at once: the account's sessions end). The roles must fit its practitioner
/// record, and nobody grants a role beyond their own. Audited.
#[utoipa::path(put, path = "/api/v1/staff/{user_id}/roles", tag = "staff", params(("user_id" = String, Path, description = "the staff account's user id (UUID)")), request_body = SetRoles, responses((status = 200, description = "done", body = StaffMember), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn set_roles(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    body: Result<Json<SetRoles>, JsonRejection>,
) -> Result<Json<StaffMember>, ApiError> {
    let _one_at_a_time = STAFF_CHANGES.lock().await;
    let mut account = staff_account(&s, &who, &user_id).await?;
    let r = json_body(body)?;
    let mut roles = r.roles;
    roles.sort_by_key(|r| *r as u8);
    roles.dedup();
    if roles.is_empty() || roles.contains(&Role::Patient) {
        return Err(
            clinic_core::FieldError::new("roles", "must name at least one staff role, and no patient role").into(),
        );
    }
    if let Some(role) = roles.iter().find(|r| !clinic_core::auth::may_grant(&who.roles, **r)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "role_not_grantable",
            format!("your role may not grant {role:?}"),
        ));
    }
    let kind = match account.user.practitioner_id {
        Some(p) => Some(
            s.store
                .practitioner(s.practice, p)
                .await
                .map_err(|e| ServiceError::from_port_kind(e, "practitioner"))?
                .kind,
        ),
        None => None,
    };
    check_staff_roles(&roles, kind)?;
    account.user.roles = roles;
    keeps_an_admin(&s, &account).await?;
    changed(&s, &who, &headers, account, "account.roles", true).await
}

/// `POST /api/v1/staff/{user_id}/two-factor/reset`: removes a staff member's second factor
/// (a lost phone); they enrol again at their next sign-in, and their sessions end.
/// Audited.
#[utoipa::path(post, path = "/api/v1/staff/{user_id}/two-factor/reset", tag = "staff", params(("user_id" = String, Path, description = "the staff account's user id (UUID)")), responses((status = 200, description = "done", body = StaffMember), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn reset_two_factor(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Result<Json<StaffMember>, ApiError> {
    let _one_at_a_time = STAFF_CHANGES.lock().await;
    let mut account = staff_account(&s, &who, &user_id).await?;
    if account.user.id == who.user_id {
        // One's own factor comes off with the password and a code (/auth/2fa/remove): a
        // stolen administrator's token alone must not strip it.
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "own_two_factor",
            "remove your own second factor with POST /api/v1/auth/2fa/remove (password and code)",
        ));
    }
    account.two_factor = None;
    changed(&s, &who, &headers, account, "account.two_factor_reset", true).await
}

/// The password, to change a second factor.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordOnly {
    password: String,
}

/// Checks the signed-in user's password before a change to how they sign in: a stolen
/// access token alone cannot enrol or remove a second factor. Wrong passwords count
/// towards the account's lock as at sign-in, so this is no way round it to guess.
pub(crate) async fn check_own_password(s: &AppState, account: &mut Account, password: String) -> Result<(), ApiError> {
    let now = Utc::now();
    if account.is_locked(now) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_locked",
            "too many wrong passwords or codes; try again in 15 minutes",
        ));
    }
    if auth::verify_password(password, account.password_hash.clone()).await {
        return Ok(());
    }
    count_failure(s, account).await;
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "password_wrong",
        "the password is wrong",
    ))
}

/// Counts a wrong password or code against the account (a lost race only loses a count).
async fn count_failure(s: &AppState, account: &mut Account) {
    account.failed(Utc::now());
    if s.store.update_account(account).await.is_ok() {
        account.revision += 1;
    }
}

/// A code from the authenticator app (or a recovery code) and the password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoveTwoFactor {
    password: String,
    #[serde(default)]
    totp: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
}

/// `POST /api/v1/auth/2fa/remove`: the signed-in user switches their own second factor
/// off, with their password and a current code (or a recovery code). A practice that
/// requires staff to use one asks them to enrol again at their next sign-in.
#[utoipa::path(post, path = "/api/v1/auth/2fa/remove", tag = "auth", request_body = RemoveTwoFactor, responses((status = 204, description = "done"), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the password or code is wrong", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "no second factor is set up", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn remove_two_factor(
    State(s): State<AppState>,
    Enrolling(who): Enrolling,
    headers: HeaderMap,
    body: Result<Json<RemoveTwoFactor>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let r = json_body(body)?;
    let mut account = s.store.account(s.practice, who.user_id).await.map_err(account_error)?;
    if !account.has_two_factor() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "two_factor_not_enrolled",
            "no second factor is set up",
        ));
    }
    check_own_password(&s, &mut account, r.password).await?;
    let Some(tf) = account.two_factor.as_ref() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "two_factor_not_enrolled",
            "no second factor is set up",
        ));
    };
    let code_ok = match (r.totp.as_deref(), r.recovery_code.as_deref()) {
        (Some(code), _) => crate::totp::verify(&tf.secret, code, Utc::now().timestamp(), tf.last_step).is_some(),
        (None, Some(code)) => tf.recovery.contains(&crate::totp::recovery_hash(code)),
        (None, None) => false,
    };
    if !code_ok {
        count_failure(&s, &mut account).await;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "two_factor_invalid",
            "send a current code as totp (or a recovery_code)",
        ));
    }
    account.two_factor = None;
    store_changed(&s, &account).await?;
    audit(&s, who.user_id, "account.two_factor_removed", who.user_id, &headers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// For the enrolment route: the password, read from the body.
pub(crate) fn password_of(body: Result<Json<PasswordOnly>, JsonRejection>) -> Result<String, ApiError> {
    json_body(body).map(|p| p.password)
}
