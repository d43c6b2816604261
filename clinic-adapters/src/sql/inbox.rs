//! The in-app inbox over [`SqlStore`]: items are records owned by their reader, keyed by
//! what makes them unique, so delivering twice stores once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clinic_core::ids::{InboxItemId, PracticeId};
use clinic_core::notify::{Audience, InboxItem};
use clinic_core::ports::{Inbox, PortError};
use uuid::Uuid;

use super::ports::upsert_record;
use super::{Kind, SqlStore, fail, write_tx};

/// The statement that stores `rows` inbox items at once (five parameters a row, from
/// `$first`, after the practice at `$1`), skipping any already delivered.
pub(crate) fn insert_sql_at(rows: usize, first: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| format!("($1, {})", super::appointments::placeholders(first + i * 5, 5)))
        .collect();
    format!(
        "INSERT INTO records (practice_id, kind, key, owner_id, sealed_with, body) VALUES {}
         ON CONFLICT (practice_id, kind, key) DO NOTHING",
        values.join(", ")
    )
}

/// Binds the parameters of [`insert_sql_at`] after the practice for `$items`, encoded as
/// `$bodies` (the record bodies and the keys that seal them), onto the query `$q`.
macro_rules! bind_items {
    ($q:expr, $items:expr, $bodies:expr) => {{
        let mut q = $q;
        let bodies: &[(String, $crate::sql::Body)] = $bodies;
        for (item, (key, body)) in $items.iter().zip(bodies) {
            q = q
                .bind($crate::sql::Kind::InboxItem.as_str())
                .bind(key)
                .bind($crate::sql::inbox::reader(item.audience))
                .bind(&body.sealed_with)
                .bind(&body.bytes);
        }
        q
    }};
}
pub(crate) use bind_items;

/// Stores `$items` (of `$practice`, encoded as `$bodies`: the record bodies and the keys
/// that seal them) on the open transaction `$c` in one statement, skipping any already
/// delivered; evaluates to the rows added. Shared by [`Inbox::deliver`] and the booking
/// commit.
macro_rules! insert_items {
    ($c:ident, $practice:expr, $items:expr, $bodies:expr) => {{
        let items: &[clinic_core::notify::InboxItem] = $items;
        if items.is_empty() {
            0
        } else {
            let sql = $crate::sql::inbox::insert_sql_at(items.len(), 2);
            $crate::sql::inbox::bind_items!(sqlx::query(&sql).bind($practice.as_uuid()), items, $bodies)
                .execute(&mut *$c)
                .await
                .map_err($crate::sql::fail)?
                .rows_affected()
        }
    }};
}
pub(crate) use insert_items;

impl SqlStore {
    /// Each item's key and stored body, sealed as its kind is.
    pub(crate) fn encode_items(&self, items: &[InboxItem]) -> Result<Vec<(String, super::Body)>, PortError> {
        items
            .iter()
            .map(|item| {
                let key = item.key();
                let body = self.encode(item.practice_id, Kind::InboxItem, &key, item)?;
                Ok((key, body))
            })
            .collect()
    }
}

/// Whose inbox an item is in.
pub(crate) fn reader(a: Audience) -> Uuid {
    match a {
        Audience::Patient(p) => p.as_uuid(),
        Audience::Practitioner(p) => p.as_uuid(),
    }
}

impl SqlStore {
    async fn all_items(&self, practice: PracticeId, audience: Audience) -> Result<Vec<InboxItem>, PortError> {
        let mut v: Vec<InboxItem> = self.list(practice, Kind::InboxItem, Some(reader(audience))).await?;
        // Owner ids are UUIDs of either kind of reader; keep this reader's only.
        v.retain(|i| i.audience == audience);
        v.sort_by_key(|i| std::cmp::Reverse((i.at, i.id)));
        Ok(v)
    }
}

#[async_trait]
impl Inbox for SqlStore {
    async fn deliver(&self, items: &[InboxItem]) -> Result<usize, PortError> {
        let mut stored = 0;
        // One statement a practice (a delivery is nearly always one practice's).
        let mut practices: Vec<PracticeId> = items.iter().map(|i| i.practice_id).collect();
        practices.sort();
        practices.dedup();
        for practice in practices {
            let mine: Vec<InboxItem> = items.iter().filter(|i| i.practice_id == practice).cloned().collect();
            let bodies = self.encode_items(&mine)?;
            let n = write_tx!(self, practice, |c| insert_items!(c, practice, &mine, &bodies));
            stored += usize::try_from(n).unwrap_or(0);
        }
        Ok(stored)
    }

    async fn inbox(&self, practice: PracticeId, audience: Audience, limit: usize) -> Result<Vec<InboxItem>, PortError> {
        let mut v = self.all_items(practice, audience).await?;
        v.truncate(limit);
        Ok(v)
    }

    async fn mark_read_items(
        &self,
        practice: PracticeId,
        audience: Audience,
        ids: &[InboxItemId],
        at: DateTime<Utc>,
    ) -> Result<usize, PortError> {
        let changed: Vec<InboxItem> = self
            .all_items(practice, audience)
            .await?
            .into_iter()
            .filter(|i| ids.contains(&i.id) && i.read_at.is_none())
            .map(|mut i| {
                i.read_at = Some(at);
                i
            })
            .collect();
        let mut rows = Vec::with_capacity(changed.len());
        for i in &changed {
            let key = i.key();
            rows.push((key.clone(), self.encode(practice, Kind::InboxItem, &key, i)?));
        }
        let owner = reader(audience);
        write_tx!(self, practice, |c| {
            for (key, body) in &rows {
                upsert_record!(c, practice, Kind::InboxItem, key, owner, body);
            }
        });
        Ok(changed.len())
    }
}
