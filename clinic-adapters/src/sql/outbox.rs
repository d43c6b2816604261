//! The outbox on SQL: one row per notification, claimed with `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL and inside the single writer's `BEGIN IMMEDIATE` on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clinic_core::ids::PracticeId;
use clinic_core::notify::Notification;
use clinic_core::ports::{DeliveryStatus, Outbox, PortError, PortErrorKind};
use sqlx::Row as _;
use uuid::Uuid;

use super::{Db, SqlStore, fail, read_tx, write_tx};

/// The statement that queues `rows` notifications at once (ten parameters a row, from
/// `$first`), skipping any whose key is already queued.
pub(crate) fn insert_sql_at(rows: usize, first: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| format!("({})", super::appointments::placeholders(first + i * 10, 10)))
        .collect();
    format!(
        "INSERT INTO outbox (practice_id, id, key, about, state, attempts, next_attempt_at, lease_until,
                             provider_id, body)
         VALUES {}
         ON CONFLICT (practice_id, key) DO NOTHING",
        values.join(", ")
    )
}

/// Binds the parameters of [`insert_sql_at`] for `$notifications` (of `$practice`, encoded
/// as `$bodies`), timestamps through `$ts`, onto the query `$q`.
macro_rules! bind_outbox {
    ($q:expr, $ts:ident, $practice:expr, $notifications:expr, $bodies:expr) => {{
        let mut q = $q;
        for (n, body) in $notifications.iter().zip($bodies) {
            q = q
                .bind($practice.as_uuid())
                .bind(n.id.as_uuid())
                .bind(&n.key)
                .bind(n.about)
                .bind(n.state.code())
                .bind(i64::from(n.attempts))
                .bind($ts(n.next_attempt_at))
                .bind(n.lease_until.map($ts))
                .bind(n.provider_id.as_deref())
                .bind(body);
        }
        q
    }};
}
pub(crate) use bind_outbox;

/// Queues `$notifications` (of `$practice`, encoded as `$bodies`) on the open transaction
/// `$c`, whose timestamps `$ts` writes; evaluates to the rows added. Shared by
/// [`Outbox::enqueue`] and the booking commit, which queues a booking's notices with it.
macro_rules! insert_outbox {
    ($c:ident, $ts:ident, $practice:expr, $notifications:expr, $bodies:expr) => {{
        let notifications: &[clinic_core::notify::Notification] = $notifications;
        if notifications.is_empty() {
            0
        } else {
            let sql = $crate::sql::outbox::insert_sql_at(notifications.len(), 1);
            $crate::sql::outbox::bind_outbox!(sqlx::query(&sql), $ts, $practice, notifications, $bodies)
                .execute(&mut *$c)
                .await
                .map_err($crate::sql::fail)?
                .rows_affected()
        }
    }};
}
pub(crate) use insert_outbox;

/// A notification as stored.
pub(crate) fn encode(n: &Notification) -> Result<Vec<u8>, PortError> {
    serde_json::to_vec(n).map_err(|_| PortError::new(PortErrorKind::Unexpected, "a notification could not be encoded"))
}

fn decode(body: &[u8]) -> Result<Notification, PortError> {
    serde_json::from_slice(body)
        .map_err(|_| PortError::new(PortErrorKind::Unexpected, "a stored notification is unreadable"))
}

impl SqlStore {
    /// The row lock a read-then-update takes: PostgreSQL locks the rows it reads (skipping
    /// rows another worker holds, when claiming); SQLite's single writer already excludes
    /// every other writer.
    pub(super) fn lock_clause(&self, skip_locked: bool) -> &'static str {
        match &self.db {
            #[cfg(feature = "sqlite")]
            Db::Sqlite { .. } => "",
            #[cfg(feature = "postgres")]
            Db::Postgres(_) if skip_locked => " FOR UPDATE SKIP LOCKED",
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => " FOR UPDATE",
        }
    }
}

/// Writes a notification's columns and body, guarded by the state and attempt count it
/// had when read (`None` for no guard). Returns the rows changed.
macro_rules! store_row {
    ($c:ident, $ts:ident, $n:expr, $guard:expr) => {{
        let n: &Notification = $n;
        let guard: Option<i64> = $guard;
        let attempts = i64::from(n.attempts);
        sqlx::query(
            "UPDATE outbox SET state = $3, attempts = $4, next_attempt_at = $5, lease_until = $6,
                    provider_id = $7, body = $8
             WHERE practice_id = $1 AND id = $2
               AND ($9 IS NULL OR (state = 'claimed' AND attempts = $9))",
        )
        .bind(n.practice_id.as_uuid())
        .bind(n.id.as_uuid())
        .bind(n.state.code())
        .bind(attempts)
        .bind($ts(n.next_attempt_at))
        .bind(n.lease_until.map($ts))
        .bind(n.provider_id.as_deref())
        .bind(encode(n)?)
        .bind(guard)
        .execute(&mut *$c)
        .await
        .map_err(fail)?
        .rows_affected()
    }};
}

#[async_trait]
impl Outbox for SqlStore {
    async fn enqueue(&self, notifications: &[Notification]) -> Result<usize, PortError> {
        let Some(first) = notifications.first() else {
            return Ok(0);
        };
        let practice = first.practice_id;
        if notifications.iter().any(|n| n.practice_id != practice) {
            return Err(PortError::new(
                PortErrorKind::Invalid,
                "one enqueue holds one practice's notifications",
            ));
        }
        let bodies = notifications.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        let added = write_tx!(self, practice, |c, ts| insert_outbox!(
            c,
            ts,
            practice,
            notifications,
            &bodies
        ));
        usize::try_from(added).map_err(|_| PortError::new(PortErrorKind::Unexpected, "row count out of range"))
    }

    async fn claim_due(
        &self,
        practice: PracticeId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Notification>, PortError> {
        let sql = match &self.db {
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => format!(
                "SELECT body FROM outbox
                 WHERE practice_id = $1
                   AND ((state = 'pending' AND next_attempt_at <= $2) OR (state = 'claimed' AND lease_until <= $2))
                 ORDER BY next_attempt_at, id
                 LIMIT $3{}",
                self.lock_clause(true)
            ),
            // SQLite plans the `OR` above as a scan of every notification the practice has
            // ever queued (5 ms at 9,000, inside the writer's lock); each branch on its own
            // is a range of the `outbox_due` index (26 µs).
            #[cfg(feature = "sqlite")]
            Db::Sqlite { .. } => "SELECT body FROM (
                 SELECT body, next_attempt_at, id FROM outbox INDEXED BY outbox_due
                 WHERE practice_id = $1 AND state = 'pending' AND next_attempt_at <= $2
                 UNION ALL
                 SELECT body, next_attempt_at, id FROM outbox INDEXED BY outbox_due
                 WHERE practice_id = $1 AND state = 'claimed' AND lease_until <= $2
             )
             ORDER BY next_attempt_at, id
             LIMIT $3"
                .to_owned(),
        };
        write_tx!(self, practice, |c, ts| {
            let rows = sqlx::query(&sql)
                .bind(practice.as_uuid())
                .bind(ts(now))
                .bind(i64::from(limit))
                .fetch_all(&mut *c)
                .await
                .map_err(fail)?;
            let mut claimed = Vec::with_capacity(rows.len());
            for row in rows {
                let mut n = decode(&row.try_get::<Vec<u8>, _>(0).map_err(fail)?)?;
                n.claim(lease_until);
                store_row!(c, ts, &n, None);
                claimed.push(n);
            }
            Ok::<_, PortError>(claimed)
        })
    }

    async fn settle(&self, n: &Notification) -> Result<(), PortError> {
        let practice = n.practice_id;
        // The stored row must still be this worker's claim: claimed, and not claimed again
        // (which would have counted another attempt).
        let changed = write_tx!(self, practice, |c, ts| store_row!(
            c,
            ts,
            n,
            Some(i64::from(n.attempts))
        ));
        if changed == 1 {
            return Ok(());
        }
        let exists = read_tx!(self, practice, |c| {
            sqlx::query("SELECT 1 FROM outbox WHERE practice_id = $1 AND id = $2")
                .bind(practice.as_uuid())
                .bind(n.id.as_uuid())
                .fetch_optional(&mut *c)
                .await
                .map_err(fail)?
                .is_some()
        });
        Err(if exists {
            PortError::conflict("the notification was claimed again since")
        } else {
            PortError::not_found("notification")
        })
    }

    async fn record_delivery(
        &self,
        practice: PracticeId,
        provider_id: &str,
        status: DeliveryStatus,
        error_code: Option<String>,
    ) -> Result<bool, PortError> {
        let sql = format!(
            "SELECT body FROM {} WHERE practice_id = $1 AND provider_id = $2{}",
            self.through(super::OUTBOX_BY_PROVIDER),
            self.lock_clause(false)
        );
        write_tx!(self, practice, |c, ts| {
            let row = sqlx::query(&sql)
                .bind(practice.as_uuid())
                .bind(provider_id)
                .fetch_optional(&mut *c)
                .await
                .map_err(fail)?;
            let Some(row) = row else {
                return Ok(false);
            };
            let mut n = decode(&row.try_get::<Vec<u8>, _>(0).map_err(fail)?)?;
            n.delivery(status, error_code);
            store_row!(c, ts, &n, None);
            Ok::<_, PortError>(true)
        })
    }

    async fn notifications_about(&self, practice: PracticeId, about: Uuid) -> Result<Vec<Notification>, PortError> {
        let sql = format!(
            "SELECT body FROM {} WHERE practice_id = $1 AND about = $2",
            self.through(super::OUTBOX_BY_ABOUT)
        );
        let bodies: Vec<Vec<u8>> = read_tx!(self, practice, |c| {
            sqlx::query_scalar(&sql)
                .bind(practice.as_uuid())
                .bind(about)
                .fetch_all(&mut *c)
                .await
                .map_err(fail)?
        });
        let mut out = bodies.iter().map(|b| decode(b)).collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|n| (n.created_at, n.id));
        Ok(out)
    }

    async fn queue_depth(&self, practice: PracticeId) -> Result<clinic_core::ports::QueueDepth, PortError> {
        let rows: Vec<(String, i64)> = read_tx!(self, practice, |c| {
            sqlx::query_as(
                "SELECT state, COUNT(*) FROM outbox
                 WHERE practice_id = $1 AND state IN ('pending', 'claimed', 'parked') GROUP BY state",
            )
            .bind(practice.as_uuid())
            .fetch_all(&mut *c)
            .await
            .map_err(fail)?
        });
        let mut depth = clinic_core::ports::QueueDepth::default();
        for (state, n) in rows {
            let n = super::to_u64(n);
            match state.as_str() {
                "pending" => depth.pending = n,
                "claimed" => depth.claimed = n,
                _ => depth.parked = n,
            }
        }
        Ok(depth)
    }
}

#[cfg(test)]
mod tests {
    use clinic_core::notify::OutboxState;

    #[test]
    fn states_stored_are_the_ones_claiming_filters_on() {
        assert_eq!(OutboxState::Pending.code(), "pending");
        assert_eq!(OutboxState::Claimed.code(), "claimed");
    }
}
