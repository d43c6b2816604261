//! Authentication: argon2id password hashes, short-lived JWT access tokens (HS256), and
//! opaque refresh tokens stored as their SHA-256, rotated on every use, with reuse of an
//! old one revoking its whole family (the rules are `clinic_core::auth`'s).
//!
//! Every handler that needs a signed-in user takes a [`Principal`], which only a valid,
//! unexpired access token issued for this practice produces; what the principal may do is
//! decided by `clinic_core::access::decide` and nothing else ([`Principal::may`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use clinic_core::access::{self, Action, Area, Decision, RecordFacts, Relation};
use clinic_core::ids::{PatientId, PracticeId, PractitionerId, UserId};
use clinic_core::people::{Role, User};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// How long an access token lives: fifteen minutes (the refresh token renews it).
pub const ACCESS_TTL: Duration = Duration::minutes(15);

/// Failed sign-ins from one address before it must wait: twenty per fifteen minutes.
pub const IP_FAILURES: u32 = 20;

/// The window of the per-address count.
pub const IP_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The keys access tokens are signed and checked with.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(<redacted>)")
    }
}

/// What an access token says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The practice it was issued for.
    pub practice: Uuid,
    /// The user's roles.
    pub roles: Vec<Role>,
    /// The patient record the user is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<Uuid>,
    /// The practitioner record the user acts as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practitioner: Option<Uuid>,
    /// The minors the user acts for as guardian, as in force when the token was issued.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardian_of: Vec<Uuid>,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Not valid before.
    pub nbf: i64,
    /// Expires.
    pub exp: i64,
    /// Token id.
    pub jti: Uuid,
    /// The sign-in passed a second factor.
    #[serde(default)]
    pub mfa: bool,
    /// The practice requires this user to sign in with a second factor and they have not:
    /// the token only reaches the enrolment routes.
    #[serde(default)]
    pub mfa_required: bool,
    /// The account's email address was proven when the token was issued.
    #[serde(default)]
    pub email_verified: bool,
    /// Issued at, in milliseconds: a revocation ends the tokens issued before it, and a
    /// sign-in in the same second after it keeps its token.
    #[serde(default)]
    pub iat_ms: i64,
}

impl TokenKeys {
    /// Keys from a secret of at least 32 bytes.
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// An access token for `user`, valid from `now` for [`ACCESS_TTL`].
    ///
    /// # Errors
    /// 500 if signing fails (it cannot with an HMAC key).
    pub fn issue(&self, user: &User, now: DateTime<Utc>) -> Result<String, ApiError> {
        self.issue_with(user, now, false, false, true)
    }

    /// An access token recording whether the sign-in passed a second factor, and whether
    /// the practice required one it did not pass.
    ///
    /// # Errors
    /// 500 if signing fails.
    pub fn issue_with(
        &self,
        user: &User,
        now: DateTime<Utc>,
        mfa: bool,
        mfa_required: bool,
        email_verified: bool,
    ) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user.id.as_uuid(),
            practice: user.practice_id.as_uuid(),
            roles: user.roles.clone(),
            patient: user.patient_id.map(|p| p.as_uuid()),
            practitioner: user.practitioner_id.map(|p| p.as_uuid()),
            guardian_of: user.guardian_of.iter().map(PatientId::as_uuid).collect(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: (now + ACCESS_TTL).timestamp(),
            jti: Uuid::new_v4(),
            mfa,
            mfa_required: mfa_required && !mfa,
            email_verified,
            iat_ms: now.timestamp_millis(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "token_signing_failed",
                "could not sign",
            )
        })
    }

    /// The claims of a token signed with these keys (HS256 only: `alg: none` and every
    /// other algorithm are refused), unexpired and already valid, with five seconds'
    /// allowance for clock skew.
    ///
    /// # Errors
    /// 401 `token_expired` or `token_invalid`.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 5;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp", "nbf", "iat", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    unauthenticated("token_expired", "the access token has expired; refresh it")
                }
                _ => unauthenticated("token_invalid", "the access token is not valid"),
            })
    }
}

fn unauthenticated(code: &'static str, detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, detail)
}

/// The signed-in user of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user_id: UserId,
    /// Their practice.
    pub practice: PracticeId,
    /// Their roles.
    pub roles: Vec<Role>,
    /// The patient record they are.
    pub patient_id: Option<PatientId>,
    /// The practitioner record they act as.
    pub practitioner_id: Option<PractitionerId>,
    /// The minors they act for as guardian (those in force when the token was issued).
    pub guardian_of: Vec<PatientId>,
}

impl Principal {
    /// What `access::decide` says for the best of the principal's roles.
    #[must_use]
    pub fn decide(&self, action: Action, area: Area, relation: Relation, facts: RecordFacts) -> Decision {
        let mut best = Decision::Deny;
        for role in &self.roles {
            match access::decide(&access::Request {
                role: *role,
                action,
                area,
                relation,
                facts,
                break_glass: false,
            }) {
                Decision::Allow => return Decision::Allow,
                Decision::AllowFlagged => best = Decision::AllowFlagged,
                Decision::Deny => {}
            }
        }
        best
    }

    /// True when some role of the principal may do `action` in `area` on a record with
    /// `relation` to them.
    #[must_use]
    pub fn may(&self, action: Action, area: Area, relation: Relation) -> bool {
        self.decide(action, area, relation, RecordFacts::default()) == Decision::Allow
    }

    /// Refuses unless [`may`](Self::may): 403 with the area and action, or 404 when the
    /// record is someone else's (so its existence does not leak).
    ///
    /// # Errors
    /// 403 `forbidden`, or 404 `not_found` for another's record.
    pub fn require(
        &self,
        action: Action,
        area: Area,
        relation: Relation,
        entity: &'static str,
    ) -> Result<(), ApiError> {
        if self.may(action, area, relation) {
            return Ok(());
        }
        if relation == Relation::Other && self.may(action, area, Relation::Own) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{entity} not found"),
            ));
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your role may not do this",
        ))
    }

    /// True when the principal acts for `patient` as the patient themselves: they are the
    /// patient, or the patient's guardian. The one test of a patient's "own" record.
    #[must_use]
    pub fn acts_for(&self, patient: PatientId) -> bool {
        self.patient_id == Some(patient) || self.guardian_of.contains(&patient)
    }

    /// Every patient the principal acts for: their own record, then the minors they guard.
    #[must_use]
    pub fn patients(&self) -> Vec<PatientId> {
        self.patient_id.iter().chain(&self.guardian_of).copied().collect()
    }

    /// True for a staff member who is not acting only for themselves.
    #[must_use]
    pub fn is_patient_only(&self) -> bool {
        self.roles.iter().all(|r| *r == Role::Patient)
    }

    /// The principal as the core's services see an actor, in `role` when they hold it,
    /// otherwise their first role.
    #[must_use]
    pub fn actor_as(&self, preferred: &[Role], request_id: Option<String>) -> clinic_core::service::Actor {
        let role = preferred
            .iter()
            .copied()
            .find(|r| self.roles.contains(r))
            .or_else(|| self.roles.first().copied())
            .unwrap_or(Role::Patient);
        clinic_core::service::Actor {
            practice_id: self.practice,
            user_id: self.user_id,
            role,
            practitioner_id: self.practitioner_id,
            patient_id: self.patient_id,
            guardian_of: self.guardian_of.clone(),
            request_id,
        }
    }
}

/// A signed-in user who may still owe the practice a second factor: what the enrolment
/// routes (and `me`) accept. Every other route takes a [`Principal`], which refuses such a
/// token with 403 `two_factor_enrolment_required`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolling(pub Principal);

impl FromRequestParts<AppState> for Enrolling {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        principal(parts, state).map(|(p, _)| Self(p))
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (p, owes_second_factor) = principal(parts, state)?;
        if owes_second_factor {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "two_factor_enrolment_required",
                "the practice requires staff to sign in with a second factor: enrol at /api/v1/auth/2fa/enrol",
            ));
        }
        Ok(p)
    }
}

/// The principal of a request, and whether it still owes a second factor.
fn principal(parts: &Parts, state: &AppState) -> Result<(Principal, bool), ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthenticated("unauthenticated", "sign in: send Authorization: Bearer <access token>"))?;
    let token = header
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthenticated("unauthenticated", "the Authorization header must be Bearer <token>"))?;
    let claims = state.tokens.verify(token.trim())?;
    if claims.practice != state.practice.as_uuid() {
        return Err(unauthenticated(
            "token_invalid",
            "the access token is for another practice",
        ));
    }
    // A token from before milliseconds were carried counts from the start of its second.
    let issued_ms = if claims.iat_ms > 0 {
        claims.iat_ms
    } else {
        claims.iat.saturating_mul(1000)
    };
    if state.throttle.is_revoked(claims.sub.into(), issued_ms) {
        return Err(unauthenticated(
            "session_revoked",
            "this session was ended (account disabled, password reset or roles changed); sign in again",
        ));
    }
    // A patient whose address is not yet proven reads their own record and keeps their
    // profile, consents and reminders, but changes nothing else (no booking, no message,
    // no request) until they open the link sent to them.
    if !claims.email_verified && claims.roles.iter().all(|r| *r == Role::Patient) {
        let path = parts.uri.path();
        let reading = matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
        let own_settings = path.starts_with("/api/v1/auth/")
            || path.ends_with("/profile")
            || path.ends_with("/consents")
            || path.ends_with("/reminders");
        if !reading && !own_settings {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "email_unverified",
                "confirm your email address first: open the link we sent (POST /api/v1/auth/verify-email/resend sends another)",
            ));
        }
    }
    Ok((
        Principal {
            user_id: claims.sub.into(),
            practice: claims.practice.into(),
            roles: claims.roles,
            patient_id: claims.patient.map(Into::into),
            practitioner_id: claims.practitioner.map(Into::into),
            guardian_of: claims.guardian_of.into_iter().map(Into::into).collect(),
        },
        claims.mfa_required && !claims.mfa,
    ))
}

/// The argon2id cost of new hashes: 7 MiB, five passes, one lane. OWASP's Password Storage
/// Cheat Sheet lists it beside 19 MiB with two passes as an equal defence that trades memory
/// for passes; the server's whole budget is 60 MB, and every sign-in briefly holds one hash's
/// memory (which the allocator then keeps). Stored hashes carry their own parameters, so
/// hashes made with other ones still verify.
fn hasher() -> argon2::Argon2<'static> {
    // 7168 KiB, 5 passes, 1 lane are inside argon2's limits, so `new` cannot fail.
    let params = argon2::Params::new(7 * 1024, 5, 1, None).unwrap_or_default();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// Hashes a password with argon2id at [`hasher`]'s cost, off the async threads, at most
/// two at once ([`crate::heavy::run_hashing`]).
///
/// # Errors
/// 500 if hashing fails.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    crate::heavy::run_hashing(move || {
        use argon2::password_hash::PasswordHasher as _;
        hasher().hash_password(password.as_bytes()).map(|h| h.to_string())
    })
    .await
    .ok()
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "hashing_failed",
            "could not hash the password",
        )
    })
}

/// A hash of a random password, checked when an email is unknown, so that answering
/// "wrong password" takes as long whether or not the account exists.
pub async fn decoy_hash() -> String {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_init(|| async {
            hash_password(Uuid::new_v4().to_string())
                .await
                .unwrap_or_else(|_| "$argon2id$invalid".to_owned())
        })
        .await
        .clone()
}

/// Whether `password` matches the PHC string `hash`, off the async threads.
pub async fn verify_password(password: String, hash: String) -> bool {
    crate::heavy::run_hashing(move || {
        use argon2::password_hash::PasswordVerifier as _;
        // Verification uses the parameters stored in the hash itself.
        hasher().verify_password(password.as_bytes(), hash.as_str()).is_ok()
    })
    .await
}

/// A new refresh token (256 random bits, base64url) and its stored hash.
#[must_use]
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = refresh_hash(&token);
    (token, hash)
}

/// The stored form of a refresh token.
#[must_use]
pub fn refresh_hash(token: &str) -> String {
    clinic_core::audit::hex(&clinic_core::audit::Sha256::digest(token.as_bytes()))
}

/// Registrations from one address before it must wait: five an hour (a family, a shared
/// clinic computer), not a script creating accounts.
pub const REGISTRATIONS_PER_WINDOW: u32 = 5;

/// The window of the per-address registration count.
pub const REGISTRATION_WINDOW: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// Counts per client address, in a fixed window that starts with its first event.
type Counts = Mutex<HashMap<IpAddr, (u32, Instant)>>;

/// Sign-in throttling that a stranger cannot turn against the real user.
///
/// - Failed sign-ins per address: twenty in fifteen minutes make the address wait.
/// - An address that has signed in to an account before is *trusted* for it: the account
///   still signs in from there while its password lock or the address's wait lasts, so
///   someone elsewhere guessing at the account (or sharing the address) cannot lock its
///   owner out.
/// - Registrations per address: five an hour.
/// - Sessions revoked (a disable, a password reset, a role change): access tokens issued
///   before the revocation are refused at once, not only when they expire. This list is
///   per process; refresh tokens are refused through the stored account whatever process
///   answers.
#[derive(Debug, Default)]
pub struct IpThrottle {
    failures: Counts,
    registrations: Counts,
    /// Addresses each account signed in from, with the wrong passwords given from there
    /// since: at [`clinic_core::auth::MAX_FAILURES`] the address is no longer trusted, so
    /// someone sharing the owner's address guesses no more than anyone else.
    trusted: Mutex<HashMap<(UserId, IpAddr), u32>>,
    revoked: Mutex<HashMap<UserId, i64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn count(map: &Counts, ip: IpAddr, now: Instant, window: std::time::Duration) {
    let mut map = lock(map);
    let entry = map.entry(ip).or_insert((0, now));
    if now.duration_since(entry.1) >= window {
        *entry = (0, now);
    }
    entry.0 += 1;
    // Bound the table: drop windows that are over.
    if map.len() > 100_000 {
        map.retain(|_, (_, since)| now.duration_since(*since) < window);
    }
}

fn over(map: &Counts, ip: IpAddr, now: Instant, limit: u32, window: std::time::Duration) -> bool {
    lock(map)
        .get(&ip)
        .is_some_and(|(n, since)| *n >= limit && now.duration_since(*since) < window)
}

impl IpThrottle {
    /// True when `ip` has failed [`IP_FAILURES`] times within the window.
    #[must_use]
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        over(&self.failures, ip, now, IP_FAILURES, IP_WINDOW)
    }

    /// Counts a failure from `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        count(&self.failures, ip, now, IP_WINDOW);
    }

    /// Records that `user` signed in from `ip`.
    pub fn succeeded(&self, user: UserId, ip: IpAddr) {
        let mut t = lock(&self.trusted);
        // Bound the table; a cleared entry only costs that user the exemption once.
        if t.len() > 100_000 {
            t.clear();
        }
        t.insert((user, ip), 0);
    }

    /// Counts a wrong password for `user` from a trusted `ip`.
    pub fn trusted_failed(&self, user: UserId, ip: IpAddr) {
        if let Some(n) = lock(&self.trusted).get_mut(&(user, ip)) {
            *n += 1;
        }
    }

    /// Whether `user` signed in from `ip` before, with fewer wrong passwords from there
    /// since than would lock the account.
    #[must_use]
    pub fn trusted(&self, user: UserId, ip: IpAddr) -> bool {
        lock(&self.trusted)
            .get(&(user, ip))
            .is_some_and(|n| *n < clinic_core::auth::MAX_FAILURES)
    }

    /// True when `ip` may not register another account yet; otherwise counts this one.
    pub fn registration_refused(&self, ip: IpAddr, now: Instant) -> bool {
        if over(
            &self.registrations,
            ip,
            now,
            REGISTRATIONS_PER_WINDOW,
            REGISTRATION_WINDOW,
        ) {
            return true;
        }
        count(&self.registrations, ip, now, REGISTRATION_WINDOW);
        false
    }

    /// Ends every access token of `user` issued before `at`.
    pub fn revoke(&self, user: UserId, at: DateTime<Utc>) {
        lock(&self.revoked).insert(user, at.timestamp_millis());
        lock(&self.trusted).retain(|(u, _), _| *u != user);
    }

    /// Whether an access token of `user` issued at `issued_ms` (milliseconds since the
    /// epoch) was revoked: issued at or before the revocation.
    #[must_use]
    pub fn is_revoked(&self, user: UserId, issued_ms: i64) -> bool {
        lock(&self.revoked).get(&user).is_some_and(|at| issued_ms <= *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn new_hashes_cost_seven_mib_and_older_nineteen_mib_hashes_still_verify() {
        let new = hash_password("correct horse battery".into()).await.unwrap();
        assert!(new.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{new}");
        assert!(verify_password("correct horse battery".into(), new.clone()).await);
        assert!(!verify_password("correct horse batterz".into(), new).await);
        // A hash stored before the change, at the crate's default cost.
        use argon2::password_hash::PasswordHasher as _;
        let old = argon2::Argon2::default()
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert!(old.contains("m=19456,t=2,p=1"), "{old}");
        assert!(verify_password("correct horse battery".into(), old.clone()).await);
        assert!(!verify_password("correct horse batterz".into(), old).await);
    }

    fn user() -> User {
        User {
            id: Uuid::now_v7().into(),
            practice_id: Uuid::now_v7().into(),
            email: clinic_core::people::Email::parse("sam@example.com").unwrap(),
            roles: vec![Role::Patient],
            practitioner_id: None,
            patient_id: Some(Uuid::now_v7().into()),
            guardian_of: Vec::new(),
        }
    }

    #[test]
    fn tokens_verify_only_with_their_key_and_only_unexpired() {
        let keys = TokenKeys::new(&[7; 32]);
        let u = user();
        let now = Utc::now();
        let t = keys.issue(&u, now).unwrap();
        let c = keys.verify(&t).unwrap();
        assert_eq!((c.sub, c.practice), (u.id.as_uuid(), u.practice_id.as_uuid()));
        assert_eq!(c.exp - c.iat, 15 * 60);
        assert_eq!(
            TokenKeys::new(&[8; 32]).verify(&t).unwrap_err().status(),
            StatusCode::UNAUTHORIZED
        );
        let old = keys.issue(&u, now - Duration::minutes(16)).unwrap();
        let e = keys.verify(&old).unwrap_err();
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(e.code(), "token_expired");
        let future = keys.issue(&u, now + Duration::minutes(2)).unwrap();
        assert_eq!(
            keys.verify(&future).unwrap_err().code(),
            "token_invalid",
            "not yet valid"
        );
        // The same claims unsigned (alg: none) are refused.
        let payload = t.split('.').nth(1).unwrap();
        let none = format!(
            "{}.{payload}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
        );
        assert_eq!(keys.verify(&none).unwrap_err().code(), "token_invalid");
        // A changed payload breaks the signature.
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        let mut claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&parts[1])
                .unwrap(),
        )
        .unwrap();
        claims["roles"] = serde_json::json!(["admin"]);
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        assert_eq!(keys.verify(&parts.join(".")).unwrap_err().code(), "token_invalid");
    }

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), h.clone()).await);
        assert!(!verify_password("correct horse battery!".into(), h).await);
        let decoy = decoy_hash().await;
        assert!(decoy.starts_with("$argon2id$"));
        assert!(!verify_password("anything at all".into(), decoy).await);
        assert!(!verify_password("x".into(), "not a hash".into()).await);
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "32 bytes, base64url without padding");
        assert_eq!(ha, refresh_hash(&a));
        assert!(!ha.contains(&a));
    }

    #[test]
    fn an_address_is_blocked_after_twenty_failures_for_the_window() {
        let t = IpThrottle::default();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let start = Instant::now();
        for _ in 0..19 {
            t.failed(ip, start);
        }
        assert!(!t.blocked(ip, start));
        t.failed(ip, start);
        assert!(t.blocked(ip, start));
        assert!(!t.blocked("203.0.113.10".parse().unwrap(), start), "per address");
        assert!(!t.blocked(ip, start + IP_WINDOW), "the window passes");
    }

    #[test]
    fn roles_decide_through_the_access_matrix() {
        let p = Principal {
            user_id: Uuid::nil().into(),
            practice: Uuid::nil().into(),
            roles: vec![Role::Patient],
            patient_id: Some(Uuid::nil().into()),
            practitioner_id: None,
            guardian_of: Vec::new(),
        };
        assert!(p.may(Action::Write, Area::Appointments, Relation::Own));
        assert_eq!(
            p.require(Action::Read, Area::Appointments, Relation::Other, "appointment")
                .unwrap_err()
                .status(),
            StatusCode::NOT_FOUND,
            "another patient's appointment does not exist for them"
        );
        assert_eq!(
            p.require(Action::Read, Area::AuditLog, Relation::Other, "audit")
                .unwrap_err()
                .status(),
            StatusCode::FORBIDDEN
        );
        let manager = Principal {
            roles: vec![Role::PracticeManager],
            ..p
        };
        assert!(manager.may(Action::Write, Area::Appointments, Relation::Other));
        assert!(!manager.may(Action::Read, Area::ProgressNotes, Relation::Other));
    }
}
