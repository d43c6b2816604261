//! Staff accounts: invitations from an administrator or practice manager, accepted by
//! the invitee setting their password.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use clinic_adapters::system::UuidV7Ids;
use clinic_core::access::{Action, Area, Relation};
use clinic_core::auth::{Account, INVITATION_TTL, Invitation, may_grant};
use clinic_core::ids::{PractitionerId, UserId};
use clinic_core::people::{Email, Role, User};
use clinic_core::ports::{EmailMessage, IdGeneratorExt, PortErrorKind};
use clinic_core::service::ServiceError;
use serde::{Deserialize, Serialize};

use super::json_body;
use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::state::AppState;

/// Who to invite, in which roles.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Invite {
    email: String,
    roles: Vec<Role>,
    #[serde(default)]
    practitioner_id: Option<PractitionerId>,
}

/// An invitation sent.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Invited {
    user_id: UserId,
    email: Email,
    roles: Vec<Role>,
    expires_at: DateTime<Utc>,
}

/// `POST /api/v1/staff/invitations`: creates the staff account, closed until accepted, and
/// emails the invitee a link with a one-time token (in the URL fragment, so it reaches no
/// server log). An administrator invites anyone on staff; a manager other managers only
/// (nobody grants a role beyond their own: a technician reads every test result, a
/// clinician their patients' notes, and a manager neither).
#[utoipa::path(post, path = "/api/v1/staff/invitations", tag = "staff", request_body = Invite, responses((status = 201, description = "done", body = Invited), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no such record (or another patient's)", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn invite(
    State(s): State<AppState>,
    who: Principal,
    body: Result<Json<Invite>, JsonRejection>,
) -> Result<(StatusCode, Json<Invited>), ApiError> {
    who.require(Action::Invite, Area::StaffAccounts, Relation::Other, "staff")?;
    let r = json_body(body)?;
    let email = Email::parse(r.email.trim())?;
    if r.roles.is_empty() {
        return Err(clinic_core::FieldError::new("roles", "must name at least one role").into());
    }
    if let Some(role) = r.roles.iter().find(|role| !may_grant(&who.roles, **role)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "role_not_grantable",
            format!("your role may not grant {role:?}"),
        ));
    }
    let record = match r.practitioner_id {
        Some(p) => Some(
            s.store
                .practitioner(s.practice, p)
                .await
                .map_err(|e| ServiceError::from_port_kind(e, "practitioner"))?,
        ),
        None => None,
    };
    clinic_core::auth::check_staff_roles(&r.roles, record.as_ref().map(|p| p.kind))?;
    if let Some(p) = r.practitioner_id {
        // An invitation creates the practitioner's account; it never takes over one that
        // exists (the new account would read that clinician's notes and sign as them).
        let accounts = s.store.accounts(s.practice).await.map_err(ServiceError::Port)?;
        if accounts.iter().any(|a| a.user.practitioner_id == Some(p)) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "practitioner_has_account",
                "this practitioner already has an account; change its roles instead of inviting again",
            ));
        }
    }
    let now = Utc::now();
    let (token, token_hash) = auth::new_refresh_token();
    let user = User {
        id: UuidV7Ids.new_id(),
        practice_id: s.practice,
        email: email.clone(),
        roles: r.roles.clone(),
        practitioner_id: r.practitioner_id,
        patient_id: None,
        guardian_of: Vec::new(),
    };
    // No password until accepted: "!" is no argon2 hash, so nothing verifies against it.
    let mut account = Account::new(user.clone(), "!".into(), now);
    account.disabled = true;
    account.invitation = Some(Invitation {
        token_hash,
        expires_at: now + INVITATION_TTL,
        invited_by: who.user_id,
    });
    match s.store.create_account(&account).await {
        Ok(()) => {}
        Err(e) if e.kind() == PortErrorKind::Conflict => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "an account with this email exists",
            ));
        }
        Err(e) => return Err(ServiceError::Port(e).into()),
    }
    let practice = s.store.practice(s.practice).await.map_err(ServiceError::Port)?;
    let base = s
        .integrations
        .public_url
        .clone()
        .unwrap_or_else(|| "http://localhost:8080".into());
    let link = format!("{base}/accept-invitation#token={token}");
    super::lifecycle::show_link_in_development(&s, "accept-invitation", &link);
    let message = EmailMessage {
        to: email.clone(),
        reply_to: None,
        subject: format!("You are invited to {}", practice.name),
        text: format!(
            "You have been invited to join {} on the practice's system.\n\nSet your password here within 7 days: {link}\n",
            practice.name
        ),
        html: None,
        attachments: vec![],
    };
    if let Err(e) = s.integrations.email.send(&message).await {
        tracing::warn!(code = e.kind().code(), "the invitation email was not sent");
    }
    Ok((
        StatusCode::CREATED,
        Json(Invited {
            user_id: user.id,
            email,
            roles: r.roles,
            expires_at: now + INVITATION_TTL,
        }),
    ))
}

/// Accepting an invitation.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Accept {
    email: String,
    token: String,
    password: String,
}

fn invalid_invitation() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "invitation_invalid",
        "the invitation is not valid; ask for a new one",
    )
}

/// `POST /api/v1/auth/accept-invitation`: the invitee sets their password and is signed in.
#[utoipa::path(post, path = "/api/v1/auth/accept-invitation", tag = "auth", request_body = Accept, responses((status = 200, description = "done", body = super::auth::TokenPair), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)))]
pub(crate) async fn accept(
    State(s): State<AppState>,
    super::auth::ClientIp(ip): super::auth::ClientIp,
    body: Result<Json<Accept>, JsonRejection>,
) -> Result<Json<super::auth::TokenPair>, ApiError> {
    let r = json_body(body)?;
    clinic_core::auth::check_password(&r.password)?;
    let email = Email::parse(r.email.trim())?;
    let mut account = match s.store.account_by_email(s.practice, &email).await {
        Ok(a) => a,
        Err(e) if e.kind() == PortErrorKind::NotFound => return Err(invalid_invitation()),
        Err(e) => return Err(ServiceError::Port(e).into()),
    };
    let Some(invitation) = account.invitation.clone() else {
        return Err(invalid_invitation());
    };
    let given = auth::refresh_hash(r.token.trim());
    let same = clinic_core::audit::ct_eq(
        &clinic_core::audit::Sha256::digest(given.as_bytes()),
        &clinic_core::audit::Sha256::digest(invitation.token_hash.as_bytes()),
    );
    if !same {
        return Err(invalid_invitation());
    }
    if invitation.expires_at <= Utc::now() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invitation_expired",
            "the invitation has expired; ask for a new one",
        ));
    }
    account.password_hash = auth::hash_password(r.password).await?;
    account.invitation = None;
    account.disabled = false;
    // The invitation reached this address: it is proven.
    account.email_verified = true;
    s.store.update_account(&account).await.map_err(ServiceError::Port)?;
    s.throttle.succeeded(account.user.id, ip);
    Ok(Json(
        super::auth::tokens_for(&s, &account, uuid::Uuid::new_v4(), false, None).await?,
    ))
}
