//! The conformance suite, part four: accounts and refresh tokens.

use std::sync::Arc;

use chrono::Duration;
use clinic_core::auth::{Account, RefreshToken, RefreshUse};
use clinic_core::ids::*;
use clinic_core::people::{Email, Role, User};
use clinic_core::ports::*;
use tokio::sync::Barrier;

use super::conformance::Storage;
use super::{ids, utc};

fn account(practice: PracticeId, email: &str) -> Account {
    Account::new(
        User {
            id: ids().new_id(),
            practice_id: practice,
            email: Email::parse(email).unwrap(),
            roles: vec![Role::Patient],
            practitioner_id: None,
            patient_id: Some(ids().new_id()),
            guardian_of: vec![ids().new_id()],
        },
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
        utc("2026-11-24T00:00:00Z"),
    )
}

fn token(practice: PracticeId, user: UserId, family: uuid::Uuid, hash: &str) -> RefreshToken {
    RefreshToken {
        hash: hash.into(),
        practice_id: practice,
        user_id: user,
        family,
        issued_at: utc("2026-11-24T00:00:00Z"),
        expires_at: utc("2026-12-24T00:00:00Z"),
        used_at: None,
        two_factor: false,
    }
}

/// Emails are unique per practice whatever their case; updates are compare-and-swap.
pub async fn accounts_are_unique_and_updated_by_revision<S: Storage>(s: Arc<S>) {
    let (a, b): (PracticeId, PracticeId) = (ids().new_id(), ids().new_id());
    let sam = account(a, "Sam@Example.com");
    s.create_account(&sam).await.unwrap();
    assert_eq!(
        s.create_account(&account(a, "sam@example.COM"))
            .await
            .unwrap_err()
            .kind(),
        PortErrorKind::Conflict
    );
    s.create_account(&account(b, "sam@example.com")).await.unwrap();
    let found = s
        .account_by_email(a, &Email::parse("SAM@example.com").unwrap())
        .await
        .unwrap();
    assert_eq!(found, sam);
    assert_eq!(s.account(a, sam.user.id).await.unwrap(), sam);
    assert_eq!(
        s.account(b, sam.user.id).await.unwrap_err().kind(),
        PortErrorKind::NotFound
    );

    let mut locked = found.clone();
    for _ in 0..5 {
        locked.failed(utc("2026-11-24T01:00:00Z"));
    }
    s.update_account(&locked).await.unwrap();
    let stored = s.account(a, sam.user.id).await.unwrap();
    assert_eq!(stored.revision, 1);
    assert!(stored.is_locked(utc("2026-11-24T01:00:00Z")));
    assert_eq!(
        s.update_account(&found).await.unwrap_err().kind(),
        PortErrorKind::Conflict,
        "a write from a stale read is refused"
    );
    assert_eq!(s.accounts(a).await.unwrap().len(), 1);
    // Deleted, the account is gone and its email free; the other practice's is untouched.
    s.delete_account(a, sam.user.id).await.unwrap();
    assert_eq!(
        s.account(a, sam.user.id).await.unwrap_err().kind(),
        PortErrorKind::NotFound
    );
    assert!(s.accounts(a).await.unwrap().is_empty());
    s.create_account(&account(a, "sam@example.com")).await.unwrap();
    assert_eq!(s.accounts(b).await.unwrap().len(), 1);
    s.delete_account(a, ids().new_id()).await.unwrap();
}

/// A refresh token works once; a second use revokes its family; logout revokes too.
pub async fn refresh_tokens_rotate_and_reuse_revokes_the_family<S: Storage>(s: Arc<S>) {
    let practice: PracticeId = ids().new_id();
    let user: UserId = ids().new_id();
    let family = uuid::Uuid::now_v7();
    let now = utc("2026-11-25T00:00:00Z");
    s.save_refresh(&token(practice, user, family, "h1")).await.unwrap();
    assert_eq!(
        s.save_refresh(&token(practice, user, family, "h1"))
            .await
            .unwrap_err()
            .kind(),
        PortErrorKind::Conflict
    );
    match s.use_refresh(practice, "h1", now).await.unwrap() {
        RefreshUse::Valid(t) => assert_eq!((t.user_id, t.family, t.used_at), (user, family, Some(now))),
        other => panic!("{other:?}"),
    }
    s.save_refresh(&token(practice, user, family, "h2")).await.unwrap();
    assert_eq!(
        s.use_refresh(practice, "h1", now).await.unwrap(),
        RefreshUse::Reused { family, user_id: user },
        "the old token again: stolen"
    );
    assert_eq!(
        s.use_refresh(practice, "h2", now).await.unwrap(),
        RefreshUse::Revoked,
        "the whole family"
    );
    assert_eq!(s.use_refresh(practice, "nope", now).await.unwrap(), RefreshUse::Unknown);
    assert_eq!(
        s.use_refresh(ids().new_id(), "h2", now).await.unwrap(),
        RefreshUse::Unknown,
        "per practice"
    );

    let other = uuid::Uuid::now_v7();
    s.save_refresh(&token(practice, user, other, "h3")).await.unwrap();
    assert_eq!(
        s.use_refresh(practice, "h3", utc("2026-12-24T00:00:00Z"))
            .await
            .unwrap(),
        RefreshUse::Expired,
        "expired at its expiry"
    );
    s.save_refresh(&token(practice, user, other, "h4")).await.unwrap();
    s.revoke_family(practice, other).await.unwrap();
    s.revoke_family(practice, other).await.unwrap();
    assert_eq!(s.use_refresh(practice, "h4", now).await.unwrap(), RefreshUse::Revoked);
    let _ = Duration::zero();
}

/// Eight requests present one token at once: one succeeds, and the family is then revoked.
pub async fn concurrent_uses_of_one_token_succeed_once<S: Storage + 'static>(s: Arc<S>) {
    let practice: PracticeId = ids().new_id();
    let user: UserId = ids().new_id();
    s.save_refresh(&token(practice, user, uuid::Uuid::now_v7(), "race"))
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (s, barrier) = (s.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                s.use_refresh(practice, "race", utc("2026-11-25T00:00:00Z"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut valid = 0;
    for t in tasks {
        match t.await.unwrap() {
            RefreshUse::Valid(_) => valid += 1,
            RefreshUse::Reused { .. } | RefreshUse::Revoked => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(valid, 1);
}
