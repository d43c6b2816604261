//! Inventory: items, stock movements checked against the stock as it stands, and the
//! lists staff act on (low stock, expiring soon).
//!
//! Who may do what is the roles matrix's inventory row: technicians and practice
//! managers write, doctors and administrators read. Stock records hold no health
//! information (a use names at most an appointment id), so they are not audited as
//! clinical reads are.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use super::booking::MAX_ATTEMPTS;
use super::clinical::Actor;
use super::error::{ServiceError, settle};
use crate::FieldError;
use crate::access::{self, Action, Area, Decision, RecordFacts, Relation, Request};
use crate::ids::{ItemId, LocationId, MovementId};
use crate::inventory::{
    ExpiryAlert, Item, ItemSpec, Lot, LowStock, Movement, MovementKind, Stock, expiring, low_stock,
};
use crate::ports::{
    AppointmentRepository, Clock, IdGenerator, IdGeneratorExt, InventoryRepository, PortErrorKind, PracticeRepository,
};
use crate::practice::Location;
use crate::time::local_date;

/// The ports inventory needs.
#[derive(Clone)]
pub struct InventoryPorts {
    /// Items and movements.
    pub inventory: Arc<dyn InventoryRepository>,
    /// Locations (their zones date a movement).
    pub practices: Arc<dyn PracticeRepository>,
    /// Appointments a use names.
    pub appointments: Arc<dyn AppointmentRepository>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

/// One location's count of an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocationCount {
    /// Where.
    pub location_id: LocationId,
    /// Units held, expired ones included.
    pub on_hand: u64,
    /// Units that may be used today.
    pub usable: u64,
}

/// An item with its stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemStock {
    /// The item.
    pub item: Item,
    /// Per location it has been stocked at (and its home location).
    pub locations: Vec<LocationCount>,
    /// The lots holding stock.
    pub lots: Vec<Lot>,
}

impl ItemStock {
    fn of(item: Item, stock: &Stock, today: NaiveDate) -> Self {
        let mut places: Vec<LocationId> = stock.locations().collect();
        if !places.contains(&item.location_id) {
            places.push(item.location_id);
        }
        places.sort();
        Self {
            locations: places
                .into_iter()
                .map(|location_id| LocationCount {
                    location_id,
                    on_hand: stock.on_hand(location_id),
                    usable: stock.usable(location_id, today),
                })
                .collect(),
            lots: stock.lots().to_vec(),
            item,
        }
    }
}

/// The inventory use cases.
#[derive(Clone)]
pub struct InventoryService {
    ports: InventoryPorts,
}

impl InventoryService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: InventoryPorts) -> Self {
        Self { ports }
    }

    fn allow(actor: &Actor, action: Action) -> Result<(), ServiceError> {
        let request = Request {
            role: actor.role,
            action,
            area: Area::Inventory,
            relation: Relation::Other,
            facts: RecordFacts::default(),
            break_glass: false,
        };
        match access::decide(&request) {
            Decision::Allow | Decision::AllowFlagged => Ok(()),
            Decision::Deny => Err(ServiceError::Forbidden),
        }
    }

    async fn locations(&self, actor: &Actor) -> Result<Vec<Location>, ServiceError> {
        Ok(self.ports.practices.locations(actor.practice_id).await?)
    }

    async fn checked(&self, actor: &Actor, id: ItemId, spec: &ItemSpec) -> Result<Item, ServiceError> {
        let item = Item::new(id, actor.practice_id, spec).map_err(ServiceError::Fields)?;
        if !self.locations(actor).await?.iter().any(|l| l.id == spec.location_id) {
            return Err(FieldError::new("location_id", "is not a location of this practice").into());
        }
        let items = self.ports.inventory.items(actor.practice_id).await?;
        if items.iter().any(|i| i.sku == item.sku && i.id != id) {
            return Err(FieldError::new("sku", "is already used by another item").into());
        }
        Ok(item)
    }

    /// Adds an item (technicians and managers).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; [`ServiceError::Invalid`] for a bad field, a location
    /// of another practice or a SKU already in use.
    pub async fn create_item(&self, actor: &Actor, spec: &ItemSpec) -> Result<Item, ServiceError> {
        Self::allow(actor, Action::Write)?;
        let item = self.checked(actor, self.ports.ids.new_id(), spec).await?;
        self.ports.inventory.save_item(&item).await?;
        Ok(item)
    }

    /// Changes an item's details; its stock is untouched.
    ///
    /// # Errors
    /// As [`create_item`](Self::create_item), and [`ServiceError::NotFound`].
    pub async fn update_item(&self, actor: &Actor, id: ItemId, spec: &ItemSpec) -> Result<Item, ServiceError> {
        Self::allow(actor, Action::Write)?;
        self.ports
            .inventory
            .item(actor.practice_id, id)
            .await
            .map_err(ServiceError::from_port("item"))?;
        let item = self.checked(actor, id, spec).await?;
        self.ports.inventory.save_item(&item).await?;
        Ok(item)
    }

    /// Every item with its stock on `today`.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; a port error, or stored movements that do not add up.
    pub async fn items(&self, actor: &Actor, today: NaiveDate) -> Result<Vec<ItemStock>, ServiceError> {
        Self::allow(actor, Action::Read)?;
        let all = self.all_stock(actor).await?;
        Ok(all
            .into_iter()
            .map(|(item, stock)| ItemStock::of(item, &stock, today))
            .collect())
    }

    /// One item with its stock on `today` and its movements, oldest first.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; [`ServiceError::NotFound`]; a port error.
    pub async fn item(
        &self,
        actor: &Actor,
        id: ItemId,
        today: NaiveDate,
    ) -> Result<(ItemStock, Vec<Movement>), ServiceError> {
        Self::allow(actor, Action::Read)?;
        let item = self
            .ports
            .inventory
            .item(actor.practice_id, id)
            .await
            .map_err(ServiceError::from_port("item"))?;
        let ledger = self.ports.inventory.ledger(actor.practice_id, id).await?;
        let stock = Stock::replay(&ledger.movements).map_err(corrupt)?;
        Ok((ItemStock::of(item, &stock, today), ledger.movements))
    }

    /// Records a movement of an item's stock, checked against its stock at that moment:
    /// nothing that would take on-hand below zero, use expired stock, or write off as
    /// expired what has not expired is stored. Expiry is judged on the local date at the
    /// location (for a transfer, the location it leaves).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; [`ServiceError::NotFound`] for the item;
    /// [`ServiceError::Inventory`] for a movement the stock does not allow;
    /// [`ServiceError::Invalid`] for a location or appointment not of this practice;
    /// [`ServiceError::Contention`] if the item's stock kept changing under the request.
    pub async fn record(&self, actor: &Actor, item: ItemId, kind: MovementKind) -> Result<Movement, ServiceError> {
        Self::allow(actor, Action::Write)?;
        let practice = actor.practice_id;
        self.ports
            .inventory
            .item(practice, item)
            .await
            .map_err(ServiceError::from_port("item"))?;
        let locations = self.locations(actor).await?;
        let zone_of = |id: LocationId, field: &'static str| {
            locations
                .iter()
                .find(|l| l.id == id)
                .map(|l| l.zone)
                .ok_or_else(|| FieldError::new(field, "is not a location of this practice"))
        };
        let zone = match &kind {
            MovementKind::Transferred { from, to, .. } => {
                zone_of(*to, "to")?;
                zone_of(*from, "from")?
            }
            other => zone_of(other.locations()[0], "location_id")?,
        };
        if let MovementKind::Used {
            appointment_id: Some(a),
            ..
        } = &kind
        {
            match self.ports.appointments.appointment(practice, *a).await {
                Ok(_) => {}
                Err(e) if e.kind() == PortErrorKind::NotFound => {
                    return Err(FieldError::new("appointment_id", "is not an appointment of this practice").into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        let id: MovementId = self.ports.ids.new_id();
        for _ in 0..MAX_ATTEMPTS {
            let ledger = self.ports.inventory.ledger(practice, item).await?;
            let mut stock = Stock::replay(&ledger.movements).map_err(corrupt)?;
            let at = self.ports.clock.now();
            let on = local_date(zone, at);
            stock.apply(&kind, on)?;
            let movement = Movement {
                id,
                practice_id: practice,
                item_id: item,
                at,
                on,
                by: actor.user_id,
                kind: kind.clone(),
            };
            let landed = self
                .ports
                .inventory
                .append_movement(practice, ledger.version, &movement)
                .await;
            if let Some(m) = settle(landed, movement)? {
                return Ok(m);
            }
        }
        Err(ServiceError::Contention)
    }

    /// Items whose usable stock at a location is at or below their reorder level on
    /// `today`.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; a port error.
    pub async fn low_stock(&self, actor: &Actor, today: NaiveDate) -> Result<Vec<LowStock>, ServiceError> {
        Self::allow(actor, Action::Read)?;
        let all = self.all_stock(actor).await?;
        Ok(low_stock(all.iter().map(|(i, s)| (i, s)), today))
    }

    /// Lots expired on `today` or expiring within `within_days` days after it.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; a port error.
    pub async fn expiring(
        &self,
        actor: &Actor,
        today: NaiveDate,
        within_days: u32,
    ) -> Result<Vec<ExpiryAlert>, ServiceError> {
        Self::allow(actor, Action::Read)?;
        let all = self.all_stock(actor).await?;
        Ok(expiring(all.iter().map(|(i, s)| (i, s)), today, within_days))
    }

    async fn all_stock(&self, actor: &Actor) -> Result<Vec<(Item, Stock)>, ServiceError> {
        let items = self.ports.inventory.items(actor.practice_id).await?;
        let mut by_item: HashMap<ItemId, Vec<Movement>> = HashMap::new();
        for m in self.ports.inventory.movements(actor.practice_id).await? {
            by_item.entry(m.item_id).or_default().push(m);
        }
        items
            .into_iter()
            .map(|item| {
                let stock = Stock::replay(by_item.get(&item.id).into_iter().flatten()).map_err(corrupt)?;
                Ok((item, stock))
            })
            .collect()
    }
}

/// Stored movements that do not add up: data written around the service.
fn corrupt(_: crate::inventory::InventoryError) -> ServiceError {
    ServiceError::Port(crate::ports::PortError::new(
        PortErrorKind::Unexpected,
        "an item's stored movements do not add up",
    ))
}
