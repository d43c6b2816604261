//! Accounts and refresh tokens on SQL, as rows of `records`: an account under its
//! lower-cased email (owner: the user), a refresh token under its hash (owner: its family),
//! a revoked family under its id. The password is stored only as its argon2id hash and a
//! refresh token only as its SHA-256; an account is sealed with the `FieldCipher` (bound to
//! `account/<user id>`), since it holds the second factor's shared secret.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clinic_core::auth::{Account, RefreshToken, RefreshUse};
use clinic_core::ids::{PracticeId, UserId};
use clinic_core::people::Email;
use clinic_core::ports::{Accounts, PortError, PortErrorKind, SealContext};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::{SqlStore, fail, read_tx, write_tx};

const ACCOUNT: &str = "account";
const REFRESH: &str = "refresh_token";
const REVOKED: &str = "revoked_family";

fn email_key(email: &Email) -> String {
    email.as_str().to_lowercase()
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, PortError> {
    serde_json::to_vec(value)
        .map_err(|_| PortError::new(PortErrorKind::Unexpected, "a sign-in record could not be encoded"))
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, PortError> {
    serde_json::from_slice(body)
        .map_err(|_| PortError::new(PortErrorKind::Unexpected, "a stored sign-in record is unreadable"))
}

impl SqlStore {
    /// The sealed body of an account and the key it is sealed under.
    fn seal_account(&self, account: &Account) -> Result<(Vec<u8>, String), PortError> {
        let record = format!("account/{}", account.user.id);
        let sealed = self.cipher.seal(
            SealContext {
                practice: account.user.practice_id,
                record: &record,
            },
            &encode(account)?,
        )?;
        let key_id = self.cipher.key_id(&sealed)?;
        Ok((sealed, key_id))
    }

    fn open_account(&self, practice: PracticeId, user: Uuid, body: &[u8]) -> Result<Account, PortError> {
        let record = format!("account/{}", UserId::from(user));
        decode(&self.cipher.open(
            SealContext {
                practice,
                record: &record,
            },
            body,
        )?)
    }
}

/// Inserts a record unless its key exists; returns the rows inserted.
macro_rules! insert_once {
    ($c:ident, $practice:expr, $kind:expr, $key:expr, $owner:expr, $body:expr) => {
        sqlx::query(
            "INSERT INTO records (practice_id, kind, key, owner_id, sealed_with, body) VALUES ($1, $2, $3, $4, NULL, $5)
             ON CONFLICT (practice_id, kind, key) DO NOTHING",
        )
        .bind($practice.as_uuid())
        .bind($kind)
        .bind($key)
        .bind($owner)
        .bind($body)
        .execute(&mut *$c)
        .await
        .map_err(fail)?
        .rows_affected()
    };
}

#[async_trait]
impl Accounts for SqlStore {
    async fn create_account(&self, account: &Account) -> Result<(), PortError> {
        let practice = account.user.practice_id;
        let (body, key_id) = self.seal_account(account)?;
        let key = email_key(&account.user.email);
        let taken_sql = format!(
            "SELECT 1 FROM {} WHERE practice_id = $1 AND kind = $2 AND owner_id = $3",
            self.records_by_owner()
        );
        let added = write_tx!(self, practice, |c| {
            let taken: Option<i32> = sqlx::query_scalar(&taken_sql)
                .bind(practice.as_uuid())
                .bind(ACCOUNT)
                .bind(account.user.id.as_uuid())
                .fetch_optional(&mut *c)
                .await
                .map_err(fail)?;
            if taken.is_some() {
                0
            } else {
                sqlx::query(
                    "INSERT INTO records (practice_id, kind, key, owner_id, sealed_with, body) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (practice_id, kind, key) DO NOTHING",
                )
                .bind(practice.as_uuid())
                .bind(ACCOUNT)
                .bind(&key)
                .bind(account.user.id.as_uuid())
                .bind(&key_id)
                .bind(&body)
                .execute(&mut *c)
                .await
                .map_err(fail)?
                .rows_affected()
            }
        });
        if added == 1 {
            Ok(())
        } else {
            Err(PortError::conflict("an account with this email exists"))
        }
    }

    async fn account_by_email(&self, practice: PracticeId, email: &Email) -> Result<Account, PortError> {
        let key = email_key(email);
        let row: Option<(Uuid, Vec<u8>)> = read_tx!(self, practice, |c| {
            sqlx::query_as("SELECT owner_id, body FROM records WHERE practice_id = $1 AND kind = $2 AND key = $3")
                .bind(practice.as_uuid())
                .bind(ACCOUNT)
                .bind(&key)
                .fetch_optional(&mut *c)
                .await
                .map_err(fail)?
        });
        let (user, body) = row.ok_or_else(|| PortError::not_found("account"))?;
        self.open_account(practice, user, &body)
    }

    async fn account(&self, practice: PracticeId, user: UserId) -> Result<Account, PortError> {
        let sql = format!(
            "SELECT body FROM {} WHERE practice_id = $1 AND kind = $2 AND owner_id = $3",
            self.records_by_owner()
        );
        let body: Option<Vec<u8>> = read_tx!(self, practice, |c| {
            sqlx::query_scalar(&sql)
                .bind(practice.as_uuid())
                .bind(ACCOUNT)
                .bind(user.as_uuid())
                .fetch_optional(&mut *c)
                .await
                .map_err(fail)?
        });
        self.open_account(
            practice,
            user.as_uuid(),
            &body.ok_or_else(|| PortError::not_found("account"))?,
        )
    }

    async fn update_account(&self, account: &Account) -> Result<(), PortError> {
        let practice = account.user.practice_id;
        let mut next = account.clone();
        next.revision += 1;
        let (body, key_id) = self.seal_account(&next)?;
        let key = email_key(&account.user.email);
        let sql = format!(
            "SELECT body FROM {} WHERE practice_id = $1 AND kind = $2 AND owner_id = $3{}",
            self.records_by_owner(),
            self.lock_clause(false)
        );
        let update_sql = format!(
            "UPDATE {} SET key = $4, body = $5, sealed_with = $6
             WHERE practice_id = $1 AND kind = $2 AND owner_id = $3",
            self.records_by_owner()
        );
        write_tx!(self, practice, |c| {
            let stored: Option<Vec<u8>> = sqlx::query_scalar(&sql)
                .bind(practice.as_uuid())
                .bind(ACCOUNT)
                .bind(account.user.id.as_uuid())
                .fetch_optional(&mut *c)
                .await
                .map_err(fail)?;
            let stored = self.open_account(
                practice,
                account.user.id.as_uuid(),
                &stored.ok_or_else(|| PortError::not_found("account"))?,
            )?;
            if stored.revision != account.revision {
                return Err(PortError::conflict("the account changed since it was read"));
            }
            sqlx::query(&update_sql)
                .bind(practice.as_uuid())
                .bind(ACCOUNT)
                .bind(account.user.id.as_uuid())
                .bind(&key)
                .bind(&body)
                .bind(&key_id)
                .execute(&mut *c)
                .await
                .map_err(|e| {
                    let e = fail(e);
                    if e.kind() == PortErrorKind::Conflict {
                        PortError::conflict("an account with this email exists")
                    } else {
                        e
                    }
                })?;
        });
        Ok(())
    }

    async fn delete_account(&self, practice: PracticeId, user: UserId) -> Result<(), PortError> {
        write_tx!(self, practice, |c| {
            sqlx::query("DELETE FROM records WHERE practice_id = $1 AND kind = $2 AND owner_id = $3")
                .bind(practice.as_uuid())
                .bind(ACCOUNT)
                .bind(user.as_uuid())
                .execute(&mut *c)
                .await
                .map_err(fail)?;
        });
        Ok(())
    }

    async fn accounts(&self, practice: PracticeId) -> Result<Vec<Account>, PortError> {
        let rows: Vec<(Uuid, Vec<u8>)> = read_tx!(self, practice, |c| {
            sqlx::query_as("SELECT owner_id, body FROM records WHERE practice_id = $1 AND kind = $2")
                .bind(practice.as_uuid())
                .bind(ACCOUNT)
                .fetch_all(&mut *c)
                .await
                .map_err(fail)?
        });
        let mut out = rows
            .iter()
            .map(|(user, body)| self.open_account(practice, *user, body))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|a| (a.created_at, a.user.id));
        Ok(out)
    }

    async fn save_refresh(&self, token: &RefreshToken) -> Result<(), PortError> {
        let practice = token.practice_id;
        let body = encode(token)?;
        let added = write_tx!(self, practice, |c| insert_once!(
            c,
            practice,
            REFRESH,
            &token.hash,
            Some(token.family),
            &body
        ));
        if added == 1 {
            Ok(())
        } else {
            Err(PortError::conflict("refresh token exists"))
        }
    }

    async fn use_refresh(&self, practice: PracticeId, hash: &str, now: DateTime<Utc>) -> Result<RefreshUse, PortError> {
        let sql = format!(
            "SELECT body FROM records WHERE practice_id = $1 AND kind = $2 AND key = $3{}",
            self.lock_clause(false)
        );
        write_tx!(self, practice, |c| {
            let body: Option<Vec<u8>> = sqlx::query_scalar(&sql)
                .bind(practice.as_uuid())
                .bind(REFRESH)
                .bind(hash)
                .fetch_optional(&mut *c)
                .await
                .map_err(fail)?;
            let Some(body) = body else {
                return Ok(RefreshUse::Unknown);
            };
            let token: RefreshToken = decode(&body)?;
            let revoked: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM records WHERE practice_id = $1 AND kind = $2 AND key = $3")
                    .bind(practice.as_uuid())
                    .bind(REVOKED)
                    .bind(token.family.to_string())
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(fail)?;
            if revoked.is_some() {
                return Ok(RefreshUse::Revoked);
            }
            // No early return below: leaving the block early would roll the revocation back.
            if token.used_at.is_some() {
                insert_once!(
                    c,
                    practice,
                    REVOKED,
                    token.family.to_string(),
                    Option::<Uuid>::None,
                    b"{}".to_vec()
                );
                Ok::<_, PortError>(RefreshUse::Reused {
                    family: token.family,
                    user_id: token.user_id,
                })
            } else if token.expires_at <= now {
                Ok(RefreshUse::Expired)
            } else {
                let mut used = token;
                used.used_at = Some(now);
                sqlx::query("UPDATE records SET body = $4 WHERE practice_id = $1 AND kind = $2 AND key = $3")
                    .bind(practice.as_uuid())
                    .bind(REFRESH)
                    .bind(hash)
                    .bind(encode(&used)?)
                    .execute(&mut *c)
                    .await
                    .map_err(fail)?;
                Ok(RefreshUse::Valid(used))
            }
        })
    }

    async fn revoke_family(&self, practice: PracticeId, family: Uuid) -> Result<(), PortError> {
        write_tx!(self, practice, |c| {
            insert_once!(
                c,
                practice,
                REVOKED,
                family.to_string(),
                Option::<Uuid>::None,
                b"{}".to_vec()
            );
        });
        Ok(())
    }
}
