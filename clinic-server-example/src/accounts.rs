//! Staff accounts the server creates itself: the first administrator (from the one-time
//! start-up token or the `create-admin` command).

use axum::http::StatusCode;
use clinic_adapters::system::UuidV7Ids;
use clinic_core::auth::{Account, check_password};
use clinic_core::people::{Email, Role, User};
use clinic_core::ports::{IdGeneratorExt, PortErrorKind};

use crate::error::ApiError;
use crate::state::AppState;

/// True when the practice has an administrator.
///
/// # Errors
/// A storage failure.
pub async fn has_admin(s: &AppState) -> Result<bool, ApiError> {
    let accounts = s
        .store
        .accounts(s.practice)
        .await
        .map_err(clinic_core::service::ServiceError::Port)?;
    Ok(accounts.iter().any(|a| a.user.has_role(Role::Admin) && !a.disabled))
}

/// Creates an administrator account.
///
/// # Errors
/// 422 for a password the policy refuses; 409 `email_taken`; a storage failure.
pub async fn create_admin(s: &AppState, email: Email, password: String) -> Result<User, ApiError> {
    check_password(&password)?;
    let user = User {
        id: UuidV7Ids.new_id(),
        practice_id: s.practice,
        email,
        roles: vec![Role::Admin],
        practitioner_id: None,
        patient_id: None,
        guardian_of: Vec::new(),
    };
    let hash = crate::auth::hash_password(password).await?;
    match s
        .store
        .create_account(&Account::new(user.clone(), hash, s.clock.now()))
        .await
    {
        Ok(()) => Ok(user),
        Err(e) if e.kind() == PortErrorKind::Conflict => Err(ApiError::new(
            StatusCode::CONFLICT,
            "email_taken",
            "an account with this email exists",
        )),
        Err(e) => Err(clinic_core::service::ServiceError::Port(e).into()),
    }
}

/// A fresh one-time token (244 random bits, hex).
#[must_use]
pub fn one_time_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}
