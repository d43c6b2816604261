//! The inventory port: items and the append-only ledger of their movements.

use async_trait::async_trait;

use super::PortError;
use crate::ids::{ItemId, PracticeId};
use crate::inventory::{Item, Movement};

/// An item's movements as read, with the version that guards the next append.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Movements in the order they were appended (each was checked against those before
    /// it, so this is the order that replays).
    pub movements: Vec<Movement>,
    /// The ledger's version when read (0 if it has no movement).
    pub version: u64,
}

/// Stock items and their movements.
///
/// # Contract
/// - `save_item` inserts or replaces by id; `items` lists the practice's items by name.
/// - Movements are append-only: nothing changes or removes one.
/// - `append_movement` is atomic: if the item's ledger is still at `expected_version` it
///   stores the movement and advances the version by one, otherwise it stores nothing and
///   returns [`PortErrorKind::Conflict`](super::PortErrorKind::Conflict). So two
///   movements decided on the same stock are never both stored, which is what keeps
///   on-hand from going negative under concurrency. A movement of another practice is
///   [`PortErrorKind::Invalid`](super::PortErrorKind::Invalid).
/// - `ledger` lists an item's movements in the order appended; `movements` returns every
///   movement of the practice, by item id and, within an item, in the order appended.
#[async_trait]
pub trait InventoryRepository: Send + Sync + 'static {
    /// An item.
    async fn item(&self, practice: PracticeId, id: ItemId) -> Result<Item, PortError>;
    /// The practice's items, by name.
    async fn items(&self, practice: PracticeId) -> Result<Vec<Item>, PortError>;
    /// Inserts or replaces an item.
    async fn save_item(&self, item: &Item) -> Result<(), PortError>;
    /// An item's ledger.
    async fn ledger(&self, practice: PracticeId, item: ItemId) -> Result<Ledger, PortError>;
    /// Appends a movement if the item's ledger is still at `expected_version`.
    async fn append_movement(
        &self,
        practice: PracticeId,
        expected_version: u64,
        movement: &Movement,
    ) -> Result<(), PortError>;
    /// Every movement of the practice, by item id, each item's in the order appended.
    async fn movements(&self, practice: PracticeId) -> Result<Vec<Movement>, PortError>;
}
