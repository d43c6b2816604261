//! `/api/v1/auth`: registration, sign-in, token refresh, sign-out, the current user, and
//! the first administrator.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::NaiveDate;
use clinic_adapters::system::UuidV7Ids;
use clinic_core::auth::{Account, REFRESH_TTL, RefreshToken, RefreshUse, check_password};
use clinic_core::ids::{PatientId, UserId};
use clinic_core::people::{Email, Patient, PatientSpec, Role, User};
use clinic_core::ports::{IdGeneratorExt, PortErrorKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::json_body;
use crate::auth::{self, Enrolling};
use crate::error::ApiError;
use crate::state::AppState;

/// The client's address (unknown when the server was not started with connection info).
pub(crate) struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip()),
        ))
    }
}

/// Tokens handed out on sign-in and refresh.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenPair {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
}

/// Sign-in time is real time: tokens are checked against the system clock (by the JWT
/// library and by clients), whatever clock the practice's rules run on.
fn real_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// A new token pair for `account`, in refresh family `family`; `mfa` when this sign-in
/// passed a second factor. `ends` is when the sign-in itself ends (the family's first
/// token's expiry, [`clinic_core::auth::SESSION_MAX`] after the password): a renewed
/// refresh token never outlives it.
pub(crate) async fn tokens_for(
    s: &AppState,
    account: &Account,
    family: Uuid,
    mfa: bool,
    ends: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<TokenPair, ApiError> {
    let now = real_now();
    let user = &account.user;
    let staff = user.roles.iter().any(|r| *r != Role::Patient);
    let required = staff
        && s.store
            .practice(s.practice)
            .await
            .map_err(clinic_core::service::ServiceError::Port)?
            .staff_two_factor;
    // A guardian's links are carried only while in force (the child is a minor).
    let user = &User {
        guardian_of: super::guardians::in_force(s, user).await?,
        ..user.clone()
    };
    let access_token = s.tokens.issue_with(user, now, mfa, required, account.email_verified)?;
    let (refresh_token, hash) = auth::new_refresh_token();
    s.store
        .save_refresh(&RefreshToken {
            hash,
            practice_id: user.practice_id,
            user_id: user.id,
            family,
            issued_at: now,
            expires_at: ends.map_or(now + REFRESH_TTL, |end| end.min(now + REFRESH_TTL)),
            used_at: None,
            two_factor: mfa,
        })
        .await
        .map_err(clinic_core::service::ServiceError::Port)?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in: auth::ACCESS_TTL.num_seconds(),
        refresh_token,
    })
}

fn parse_email(text: &str) -> Result<Email, ApiError> {
    Ok(Email::parse(text.trim())?)
}

/// A patient's self-registration.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Register {
    email: String,
    password: String,
    given_name: String,
    family_name: String,
    date_of_birth: NaiveDate,
}

/// `POST /api/v1/auth/register`: a patient creates their record and account and is signed
/// in; a one-time link is emailed to prove the address, and until it is opened the account
/// reads its own record and edits its profile only (403 `email_unverified` elsewhere). 409
/// `email_taken` when the address has an account; 429 `too_many_registrations` after five
/// from one address in an hour.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = Register, responses((status = 201, description = "done", body = TokenPair), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 429, description = "too many registrations from this address", content_type = "application/problem+json", body = crate::openapi::Problem)))]
pub(crate) async fn register(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<Json<Register>, JsonRejection>,
) -> Result<(StatusCode, Json<TokenPair>), ApiError> {
    let r = json_body(body)?;
    let email = parse_email(&r.email)?;
    check_password(&r.password)?;
    let now = s.clock.now();
    let today = now.with_timezone(&chrono_tz::Australia::Sydney).date_naive();
    let patient_id: PatientId = UuidV7Ids.new_id();
    let mut patient = Patient::register(
        patient_id,
        s.practice,
        PatientSpec::new(&r.given_name, &r.family_name, r.date_of_birth),
        today,
    )?;
    patient.email = Some(email.clone());
    // Counted once the request is valid, so a typo does not use up an address's quota.
    if s.throttle.registration_refused(ip, std::time::Instant::now()) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_registrations",
            "too many accounts were registered from this address; try again in an hour",
        ));
    }
    let user = User {
        id: UuidV7Ids.new_id(),
        practice_id: s.practice,
        email,
        roles: vec![Role::Patient],
        practitioner_id: None,
        patient_id: Some(patient_id),
        guardian_of: Vec::new(),
    };
    let hash = auth::hash_password(r.password).await?;
    let mut account = Account::new(user.clone(), hash, now);
    let (token, link) = super::lifecycle::new_link(real_now(), clinic_core::auth::VERIFICATION_TTL);
    account.verification = Some(link);
    match s.store.create_account(&account).await {
        Ok(()) => {}
        Err(e) if e.kind() == PortErrorKind::Conflict => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "an account with this email exists; sign in instead",
            ));
        }
        Err(e) => return Err(clinic_core::service::ServiceError::Port(e).into()),
    }
    s.store
        .save_patient(&patient)
        .await
        .map_err(clinic_core::service::ServiceError::Port)?;
    super::lifecycle::send_verification(&s, &account.user.email, &token).await;
    // The address that registered the account has signed in to it.
    s.throttle.succeeded(account.user.id, ip);
    let pair = tokens_for(&s, &account, Uuid::new_v4(), false, None).await?;
    Ok((StatusCode::CREATED, Json(pair)))
}

/// Email and password, and for an account with a second factor, a code from the
/// authenticator app or one recovery code.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    email: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
}

fn bad_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "the email or password is wrong",
    )
}

/// `POST /api/v1/auth/login`. An unknown email, a wrong password, a locked and a disabled
/// account all get the same answer (401 `invalid_credentials`) in the same time. Five
/// wrong passwords lock the account for fifteen minutes and twenty failures from one
/// address in fifteen minutes make that address wait (429 `too_many_attempts`), except
/// from an address the account signed in from before: a stranger's guesses never lock
/// the owner out.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login, responses((status = 200, description = "done", body = TokenPair), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 429, description = "too many attempts", content_type = "application/problem+json", body = crate::openapi::Problem)))]
pub(crate) async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<Json<Login>, JsonRejection>,
) -> Result<Json<TokenPair>, ApiError> {
    let r = json_body(body)?;
    let started = std::time::Instant::now();
    let Ok(email) = Email::parse(r.email.trim()) else {
        s.throttle.failed(ip, started);
        return Err(bad_credentials());
    };
    let now = real_now();
    let account = match s.store.account_by_email(s.practice, &email).await {
        Ok(a) => Some(a),
        Err(e) if e.kind() == PortErrorKind::NotFound => None,
        Err(e) => return Err(clinic_core::service::ServiceError::Port(e).into()),
    };
    // An address that signed in to this account before is not held back by failures
    // others caused: neither the address's wait nor the account's lock shuts out its owner.
    let trusted = account.as_ref().is_some_and(|a| s.throttle.trusted(a.user.id, ip));
    if s.throttle.blocked(ip, started) && !trusted {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many failed sign-ins from this address; try again in 15 minutes",
        ));
    }
    // Unknown, locked and disabled accounts answer exactly as a wrong password does, in
    // the same time: the answer never tells whether an address has an account.
    let Some(mut account) = account.filter(|a| !a.is_locked(now) || trusted) else {
        let _ = auth::verify_password(r.password, auth::decoy_hash().await).await;
        s.throttle.failed(ip, started);
        return Err(bad_credentials());
    };
    let ok = !account.disabled && auth::verify_password(r.password, account.password_hash.clone()).await;
    if ok && !account.has_two_factor() {
        if account.failed_logins > 0 {
            account.succeeded();
            // A lost race with another sign-in only loses a counter reset.
            let _ = s.store.update_account(&account).await;
        }
        s.throttle.succeeded(account.user.id, ip);
        signed_in(&s, account.user.id, clinic_core::audit::Outcome::Allowed).await?;
        return Ok(Json(tokens_for(&s, &account, Uuid::new_v4(), false, None).await?));
    }
    if ok {
        match second_factor(&mut account, r.totp.as_deref(), r.recovery_code.as_deref(), now) {
            SecondFactor::Missing => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "two_factor_required",
                    "send the code from your authenticator app as totp (or a recovery_code)",
                ));
            }
            SecondFactor::Passed => {
                account.succeeded();
                // The step or recovery code just used must be stored before tokens go out,
                // or it could be replayed: a lost race is a refusal.
                s.store.update_account(&account).await.map_err(|e| {
                    if e.kind() == PortErrorKind::Conflict {
                        ApiError::new(StatusCode::CONFLICT, "contention", "sign in again")
                    } else {
                        clinic_core::service::ServiceError::Port(e).into()
                    }
                })?;
                s.throttle.succeeded(account.user.id, ip);
                signed_in(&s, account.user.id, clinic_core::audit::Outcome::Allowed).await?;
                return Ok(Json(tokens_for(&s, &account, Uuid::new_v4(), true, None).await?));
            }
            SecondFactor::Failed => {}
        }
    }
    if trusted {
        s.throttle.trusted_failed(account.user.id, ip);
    } else {
        account.failed(now);
        // Count the failure even when another request changed the account meanwhile.
        for _ in 0..3 {
            match s.store.update_account(&account).await {
                Ok(()) => break,
                Err(e) if e.kind() == PortErrorKind::Conflict => {
                    if let Ok(fresh) = s.store.account(s.practice, account.user.id).await {
                        account = fresh;
                        account.failed(now);
                    }
                }
                Err(e) => return Err(clinic_core::service::ServiceError::Port(e).into()),
            }
        }
    }
    s.throttle.failed(ip, started);
    signed_in(&s, account.user.id, clinic_core::audit::Outcome::Denied).await?;
    Err(bad_credentials())
}

/// Audits a sign-in to an existing account, granted or refused (a guess at an unknown
/// address names nobody and is not written to the trail, which a stranger could otherwise
/// fill).
async fn signed_in(s: &AppState, user: UserId, outcome: clinic_core::audit::Outcome) -> Result<(), ApiError> {
    let e = super::Audited {
        action: "auth.sign_in",
        kind: "account",
        resource: user.as_uuid(),
        patient: None,
        outcome,
        reason: None,
    };
    super::audit_event(s, Some(user), None, e).await
}

enum SecondFactor {
    Missing,
    Passed,
    Failed,
}

/// Checks the second factor of an account that has one, recording what was used (the
/// step, so it cannot be replayed; the recovery code, so it cannot be used again).
fn second_factor(
    account: &mut Account,
    totp: Option<&str>,
    recovery: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> SecondFactor {
    let Some(tf) = account.two_factor.as_mut() else {
        return SecondFactor::Passed;
    };
    if let Some(code) = totp {
        return match crate::totp::verify(&tf.secret, code, now.timestamp(), tf.last_step) {
            Some(step) => {
                tf.last_step = Some(step);
                SecondFactor::Passed
            }
            None => SecondFactor::Failed,
        };
    }
    if let Some(code) = recovery {
        let hash = crate::totp::recovery_hash(code);
        return match tf.recovery.iter().position(|h| *h == hash) {
            Some(i) => {
                tf.recovery.remove(i);
                SecondFactor::Passed
            }
            None => SecondFactor::Failed,
        };
    }
    SecondFactor::Missing
}

/// A refresh token.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Refresh {
    refresh_token: String,
}

fn refresh_refused(code: &'static str, detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, detail)
}

/// `POST /api/v1/auth/refresh`: exchanges a refresh token for a new pair. Each refresh
/// token works once; presenting one that was already used signs out every session of
/// that sign-in (401 `refresh_token_reused`).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = Refresh, responses((status = 200, description = "done", body = TokenPair), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem)))]
pub(crate) async fn refresh(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<Json<Refresh>, JsonRejection>,
) -> Result<Json<TokenPair>, ApiError> {
    let r = json_body(body)?;
    let hash = auth::refresh_hash(r.refresh_token.trim());
    let used = s
        .store
        .use_refresh(s.practice, &hash, real_now())
        .await
        .map_err(clinic_core::service::ServiceError::Port)?;
    let token = match used {
        RefreshUse::Valid(t) => t,
        RefreshUse::Reused { user_id, .. } => {
            tracing::warn!(user = %user_id, "a used refresh token was presented again; its sessions are revoked");
            // Someone holds a copy of the token: the access tokens issued from it end too.
            s.throttle.revoke(user_id, real_now());
            return Err(refresh_refused(
                "refresh_token_reused",
                "this refresh token was already used; sign in again",
            ));
        }
        RefreshUse::Revoked => return Err(refresh_refused("refresh_token_revoked", "signed out; sign in again")),
        RefreshUse::Expired => return Err(refresh_refused("refresh_token_expired", "expired; sign in again")),
        RefreshUse::Unknown => return Err(refresh_refused("refresh_token_invalid", "not a valid refresh token")),
    };
    let account = match s.store.account(s.practice, token.user_id).await {
        Ok(a) => a,
        // The account was deleted (with the patient's records): its sessions are over.
        Err(e) if e.kind() == PortErrorKind::NotFound => {
            return Err(refresh_refused(
                "session_revoked",
                "this session has ended; sign in again",
            ));
        }
        Err(e) => return Err(clinic_core::service::ServiceError::Port(e).into()),
    };
    if !account.session_valid(token.issued_at) {
        s.store
            .revoke_family(s.practice, token.family)
            .await
            .map_err(clinic_core::service::ServiceError::Port)?;
        return Err(refresh_refused(
            "session_revoked",
            "this session was ended (account disabled, password reset or roles changed); sign in again",
        ));
    }
    s.throttle.succeeded(account.user.id, ip);
    Ok(Json(
        tokens_for(&s, &account, token.family, token.two_factor, Some(token.expires_at)).await?,
    ))
}

/// `POST /api/v1/auth/logout`: revokes the refresh token's family (every token of that
/// sign-in). Succeeds for a token already revoked or unknown.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = Refresh, responses((status = 204, description = "done"), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem)))]
pub(crate) async fn logout(
    State(s): State<AppState>,
    body: Result<Json<Refresh>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let r = json_body(body)?;
    let hash = auth::refresh_hash(r.refresh_token.trim());
    // Using it finds its family (and spends it); then the family is revoked.
    let family = match s
        .store
        .use_refresh(s.practice, &hash, real_now())
        .await
        .map_err(clinic_core::service::ServiceError::Port)?
    {
        RefreshUse::Valid(t) => Some(t.family),
        RefreshUse::Reused { family, .. } => Some(family),
        _ => None,
    };
    if let Some(family) = family {
        s.store
            .revoke_family(s.practice, family)
            .await
            .map_err(clinic_core::service::ServiceError::Port)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Me {
    user_id: UserId,
    email: Email,
    roles: Vec<Role>,
    patient_id: Option<PatientId>,
    practitioner_id: Option<clinic_core::ids::PractitionerId>,
    /// The minors this account acts for as guardian, while in force.
    guardian_of: Vec<PatientId>,
    two_factor: bool,
    /// The address was proven by the link sent to it; until then a patient account books
    /// nothing.
    email_verified: bool,
}

/// `GET /api/v1/auth/me` (also for staff who still owe the practice a second factor).
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, description = "done", body = Me), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn me(State(s): State<AppState>, Enrolling(who): Enrolling) -> Result<Json<Me>, ApiError> {
    let account = s
        .store
        .account(s.practice, who.user_id)
        .await
        .map_err(|e| clinic_core::service::ServiceError::from_port_kind(e, "account"))?;
    let guardian_of = super::guardians::in_force(&s, &account.user).await?;
    Ok(Json(Me {
        guardian_of,
        two_factor: account.has_two_factor(),
        email_verified: account.email_verified,
        user_id: account.user.id,
        email: account.user.email,
        roles: account.user.roles,
        patient_id: account.user.patient_id,
        practitioner_id: account.user.practitioner_id,
    }))
}

/// The first administrator.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Bootstrap {
    token: String,
    email: String,
    password: String,
}

/// `POST /api/v1/auth/bootstrap`: creates the first administrator with the one-time token
/// the server printed at start-up. The token works once, and only while the practice has
/// no administrator.
#[utoipa::path(post, path = "/api/v1/auth/bootstrap", tag = "auth", request_body = Bootstrap, responses((status = 201, description = "done", body = TokenPair), (status = 400, description = "the request could not be read", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)))]
pub(crate) async fn bootstrap(
    State(s): State<AppState>,
    body: Result<Json<Bootstrap>, JsonRejection>,
) -> Result<(StatusCode, Json<TokenPair>), ApiError> {
    let r = json_body(body)?;
    let email = parse_email(&r.email)?;
    check_password(&r.password)?;
    let expected = s
        .bootstrap
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let matches = expected.as_deref().is_some_and(|t| {
        clinic_core::audit::ct_eq(
            &clinic_core::audit::Sha256::digest(t.as_bytes()),
            &clinic_core::audit::Sha256::digest(r.token.trim().as_bytes()),
        )
    });
    if !matches {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "bootstrap_token_invalid",
            "the one-time token is wrong or already used",
        ));
    }
    let user = crate::accounts::create_admin(&s, email, r.password).await?;
    *s.bootstrap.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    let account = s
        .store
        .account(s.practice, user.id)
        .await
        .map_err(clinic_core::service::ServiceError::Port)?;
    let pair = tokens_for(&s, &account, Uuid::new_v4(), false, None).await?;
    Ok((StatusCode::CREATED, Json(pair)))
}

/// What an authenticator app needs, and the recovery codes (shown this once).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Enrolment {
    secret: String,
    otpauth_uri: String,
    recovery_codes: Vec<String>,
}

/// `POST /api/v1/auth/2fa/enrol` `{"password"}`: starts (or restarts, until confirmed) a
/// second factor; the password is asked so that a stolen access token alone cannot put a
/// factor of the thief's on the account (403 `password_wrong`). 409
/// `two_factor_already_enrolled` once confirmed.
#[utoipa::path(post, path = "/api/v1/auth/2fa/enrol", tag = "auth", request_body = super::lifecycle::PasswordOnly, responses((status = 200, description = "done", body = Enrolment), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the password is wrong", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn enrol(
    State(s): State<AppState>,
    Enrolling(who): Enrolling,
    body: Result<Json<super::lifecycle::PasswordOnly>, JsonRejection>,
) -> Result<Json<Enrolment>, ApiError> {
    let password = super::lifecycle::password_of(body)?;
    let mut account = s
        .store
        .account(s.practice, who.user_id)
        .await
        .map_err(|e| clinic_core::service::ServiceError::from_port_kind(e, "account"))?;
    super::lifecycle::check_own_password(&s, &mut account, password).await?;
    if account.has_two_factor() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "two_factor_already_enrolled",
            "a second factor is already set up",
        ));
    }
    let secret = crate::totp::new_secret();
    let (codes, hashes) = crate::totp::recovery_codes();
    let practice = s
        .store
        .practice(s.practice)
        .await
        .map_err(clinic_core::service::ServiceError::Port)?;
    let uri = crate::totp::otpauth_uri(&practice.name, account.user.email.as_str(), &secret);
    account.two_factor = Some(clinic_core::auth::TwoFactor {
        secret: secret.clone(),
        confirmed: false,
        last_step: None,
        recovery: hashes,
    });
    s.store
        .update_account(&account)
        .await
        .map_err(clinic_core::service::ServiceError::Port)?;
    Ok(Json(Enrolment {
        secret: crate::totp::base32(&secret),
        otpauth_uri: uri,
        recovery_codes: codes,
    }))
}

/// A code from the authenticator app.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Confirm {
    code: String,
}

/// `POST /api/v1/auth/2fa/confirm`: the first correct code switches the second factor on
/// and returns tokens of a sign-in that passed it.
#[utoipa::path(post, path = "/api/v1/auth/2fa/confirm", operation_id = "confirm_two_factor", tag = "auth", request_body = Confirm, responses((status = 200, description = "done", body = TokenPair), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 409, description = "a conflict with the current state", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field or rule refused the request", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn confirm(
    State(s): State<AppState>,
    Enrolling(who): Enrolling,
    body: Result<Json<Confirm>, JsonRejection>,
) -> Result<Json<TokenPair>, ApiError> {
    let r = json_body(body)?;
    let mut account = s
        .store
        .account(s.practice, who.user_id)
        .await
        .map_err(|e| clinic_core::service::ServiceError::from_port_kind(e, "account"))?;
    let Some(tf) = account.two_factor.as_mut().filter(|t| !t.confirmed) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "two_factor_not_pending",
            "start with /api/v1/auth/2fa/enrol",
        ));
    };
    let Some(step) = crate::totp::verify(&tf.secret, &r.code, real_now().timestamp(), None) else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "two_factor_invalid",
            "the code does not match; check the device's clock",
        ));
    };
    tf.confirmed = true;
    tf.last_step = Some(step);
    s.store
        .update_account(&account)
        .await
        .map_err(clinic_core::service::ServiceError::Port)?;
    Ok(Json(tokens_for(&s, &account, Uuid::new_v4(), true, None).await?))
}
