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

fn reader(a: Audience) -> Uuid {
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
        for item in items {
            let practice = item.practice_id;
            let key = item.key();
            let body = self.encode(practice, Kind::InboxItem, &key, item)?;
            let n = write_tx!(self, practice, |c| {
                sqlx::query(
                    "INSERT INTO records (practice_id, kind, key, owner_id, sealed_with, body) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (practice_id, kind, key) DO NOTHING",
                )
                .bind(practice.as_uuid())
                .bind(Kind::InboxItem.as_str())
                .bind(&key)
                .bind(reader(item.audience))
                .bind(&body.sealed_with)
                .bind(&body.bytes)
                .execute(&mut *c)
                .await
                .map_err(fail)?
                .rows_affected()
            });
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
