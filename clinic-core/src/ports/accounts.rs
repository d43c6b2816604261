//! Sign-in storage: accounts and refresh tokens (see [`crate::auth`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::PortError;
use crate::auth::{Account, RefreshToken, RefreshUse};
use crate::ids::{PracticeId, UserId};
use crate::people::Email;

/// Accounts and refresh tokens.
///
/// # Contract
/// - Emails are unique per practice, compared case-insensitively: `create_account` of a
///   taken email is [`super::PortErrorKind::Conflict`].
/// - `update_account` stores the account only if the stored revision is the one it was
///   read at, and bumps it; otherwise `Conflict`.
/// - `use_refresh` is atomic: of two concurrent uses of one token, one is `Valid` and the
///   other `Reused`, which revokes the family.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Stores a new account.
    async fn create_account(&self, account: &Account) -> Result<(), PortError>;

    /// The account signing in with `email`.
    async fn account_by_email(&self, practice: PracticeId, email: &Email) -> Result<Account, PortError>;

    /// The account of a user.
    async fn account(&self, practice: PracticeId, user: UserId) -> Result<Account, PortError>;

    /// Stores a changed account (compare-and-swap on `revision`).
    async fn update_account(&self, account: &Account) -> Result<(), PortError>;

    /// Every account of the practice (staff screens; the first-admin check).
    async fn accounts(&self, practice: PracticeId) -> Result<Vec<Account>, PortError>;

    /// Deletes an account (its email becomes free; its refresh tokens find no account and
    /// are refused). Deleting an account that does not exist does nothing.
    async fn delete_account(&self, practice: PracticeId, user: UserId) -> Result<(), PortError>;

    /// Stores a new refresh token.
    async fn save_refresh(&self, token: &RefreshToken) -> Result<(), PortError>;

    /// Presents the token with this hash at `now` (see [`RefreshUse`]).
    async fn use_refresh(&self, practice: PracticeId, hash: &str, now: DateTime<Utc>) -> Result<RefreshUse, PortError>;

    /// Revokes a family: none of its tokens works again.
    async fn revoke_family(&self, practice: PracticeId, family: Uuid) -> Result<(), PortError>;
}
