//! The inventory port over [`SqlStore`]: items and movements are records; each item's
//! ledger has a version row (`stock:<item>`) that guards the next append, and a movement
//! is keyed by its item and its place in the ledger, so reading by key is append order.

use async_trait::async_trait;
use clinic_core::ids::{ItemId, PracticeId};
use clinic_core::inventory::{Item, Movement};
use clinic_core::ports::{InventoryRepository, Ledger, PortError};

use super::{Kind, SqlStore, fail, read_tx, to_i64, to_u64, uuid_key, write_tx};

fn stock_version(item: ItemId) -> String {
    format!("stock:{item}")
}

/// A movement's key: its item, then its position in the item's ledger (from 1), padded
/// so that keys sort in append order.
fn movement_key(movement: &Movement, position: u64) -> String {
    format!("{}:{position:020}", uuid_key(movement.item_id.as_uuid()))
}

#[async_trait]
impl InventoryRepository for SqlStore {
    async fn item(&self, practice: PracticeId, id: ItemId) -> Result<Item, PortError> {
        self.must_get(practice, Kind::Item, &uuid_key(id.as_uuid()), "item")
            .await
    }

    async fn items(&self, practice: PracticeId) -> Result<Vec<Item>, PortError> {
        let mut v: Vec<Item> = self.list(practice, Kind::Item, None).await?;
        v.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(v)
    }

    async fn save_item(&self, item: &Item) -> Result<(), PortError> {
        self.put(item.practice_id, Kind::Item, &uuid_key(item.id.as_uuid()), None, item)
            .await
    }

    async fn ledger(&self, practice: PracticeId, item: ItemId) -> Result<Ledger, PortError> {
        // The version is read before the movements: a movement appended between the two
        // reads then makes the next append a conflict, never a stale ledger passing as
        // current.
        let version: Option<i64> = read_tx!(self, practice, |c| {
            sqlx::query_scalar("SELECT value FROM versions WHERE practice_id = $1 AND name = $2")
                .bind(practice.as_uuid())
                .bind(stock_version(item))
                .fetch_optional(&mut *c)
                .await
                .map_err(fail)?
        });
        let movements = self.list(practice, Kind::Movement, Some(item.as_uuid())).await?;
        Ok(Ledger {
            movements,
            version: to_u64(version.unwrap_or(0)),
        })
    }

    async fn append_movement(
        &self,
        practice: PracticeId,
        expected_version: u64,
        movement: &Movement,
    ) -> Result<(), PortError> {
        if movement.practice_id != practice {
            return Err(super::ports::other_practice("the movement"));
        }
        let key = movement_key(movement, expected_version + 1);
        let body = self.encode(practice, Kind::Movement, &key, movement)?;
        let name = stock_version(movement.item_id);
        write_tx!(self, practice, |c| {
            let swapped = if expected_version == 0 {
                sqlx::query(
                    "INSERT INTO versions (practice_id, name, value) VALUES ($1, $2, 1)
                     ON CONFLICT (practice_id, name) DO NOTHING",
                )
                .bind(practice.as_uuid())
                .bind(&name)
                .execute(&mut *c)
                .await
                .map_err(fail)?
            } else {
                sqlx::query("UPDATE versions SET value = value + 1 WHERE practice_id = $1 AND name = $2 AND value = $3")
                    .bind(practice.as_uuid())
                    .bind(&name)
                    .bind(to_i64(expected_version)?)
                    .execute(&mut *c)
                    .await
                    .map_err(fail)?
            };
            if swapped.rows_affected() != 1 {
                return Err(PortError::conflict("the item's stock changed since it was read"));
            }
            sqlx::query(
                "INSERT INTO records (practice_id, kind, key, owner_id, sealed_with, body) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(practice.as_uuid())
            .bind(Kind::Movement.as_str())
            .bind(&key)
            .bind(movement.item_id.as_uuid())
            .bind(&body.sealed_with)
            .bind(&body.bytes)
            .execute(&mut *c)
            .await
            .map_err(fail)?;
        });
        Ok(())
    }

    async fn movements(&self, practice: PracticeId) -> Result<Vec<Movement>, PortError> {
        self.list(practice, Kind::Movement, None).await
    }
}
