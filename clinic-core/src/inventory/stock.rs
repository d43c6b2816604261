//! Stock movements and the stock they add up to.

use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::Item;
use crate::error::FieldError;
use crate::ids::{AppointmentId, ItemId, LocationId, MovementId, PracticeId, UserId};

/// Why stock was written off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WriteOffReason {
    /// Past its expiry date: only expired lots qualify.
    Expired,
    /// Damaged, contaminated or recalled: any lot.
    Damaged,
}

/// What happened to an item's stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MovementKind {
    /// Delivered from a supplier.
    Received {
        /// Where it was put.
        location_id: LocationId,
        /// Units received (at least one).
        quantity: u32,
        /// The supplier's batch or lot number, if printed.
        #[serde(default)]
        batch: Option<String>,
        /// The expiry date printed on it, if any.
        #[serde(default)]
        expires_on: Option<NaiveDate>,
    },
    /// Used in care, optionally for an appointment.
    Used {
        /// Where it was taken from.
        location_id: LocationId,
        /// Units used (at least one).
        quantity: u32,
        /// The batch used; without it, the lots expiring first.
        #[serde(default)]
        batch: Option<String>,
        /// The appointment it was used in.
        #[serde(default)]
        appointment_id: Option<AppointmentId>,
    },
    /// A stocktake correction: found (positive) or missing (negative) units.
    Adjusted {
        /// Where.
        location_id: LocationId,
        /// The batch corrected; without it, units found go to an unbatched lot and
        /// missing units come off the lots expiring first.
        #[serde(default)]
        batch: Option<String>,
        /// Units found (positive) or missing (negative); never zero.
        delta: i32,
        /// Why, in a few words.
        reason: String,
    },
    /// Moved between two locations of the practice.
    Transferred {
        /// From.
        from: LocationId,
        /// To (not `from`).
        to: LocationId,
        /// Units moved (at least one).
        quantity: u32,
        /// The batch moved; without it, the usable lots expiring first.
        #[serde(default)]
        batch: Option<String>,
    },
    /// Taken out of stock for good.
    WrittenOff {
        /// Where.
        location_id: LocationId,
        /// Units written off (at least one).
        quantity: u32,
        /// The batch; without it, the lots expiring first among those that qualify.
        #[serde(default)]
        batch: Option<String>,
        /// Why.
        reason: WriteOffReason,
    },
}

impl MovementKind {
    /// Every location the movement touches.
    #[must_use]
    pub fn locations(&self) -> Vec<LocationId> {
        match self {
            Self::Received { location_id, .. }
            | Self::Used { location_id, .. }
            | Self::Adjusted { location_id, .. }
            | Self::WrittenOff { location_id, .. } => vec![*location_id],
            Self::Transferred { from, to, .. } => vec![*from, *to],
        }
    }
}

/// A recorded movement of one item's stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Movement {
    /// Id.
    pub id: MovementId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The item.
    pub item_id: ItemId,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// The local date at the location when it was recorded: what expiry is judged by.
    pub on: NaiveDate,
    /// Who recorded it.
    pub by: UserId,
    /// What happened.
    pub kind: MovementKind,
}

/// Why a movement was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// A field of the movement is invalid.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// Taking this many would leave less than nothing: on-hand never goes negative.
    #[error("only {available} usable at that location; {requested} asked for")]
    InsufficientStock {
        /// Units that could be taken.
        available: u64,
        /// Units asked for.
        requested: u64,
    },
    /// The named batch is not held at that location.
    #[error("that batch is not held at that location")]
    UnknownBatch,
    /// The named batch is past its expiry date and may only be written off.
    #[error("that batch expired on {expired_on} and may only be written off")]
    BatchExpired {
        /// Its expiry date.
        expired_on: NaiveDate,
    },
    /// Stock received already past its expiry date.
    #[error("stock received past its expiry date")]
    AlreadyExpired,
    /// A batch received again with another expiry date than it was first received with.
    #[error("that batch was received before with another expiry date")]
    BatchExpiryMismatch,
}

impl InventoryError {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(e) => e.code(),
            Self::InsufficientStock { .. } => "insufficient_stock",
            Self::UnknownBatch => "unknown_batch",
            Self::BatchExpired { .. } => "batch_expired",
            Self::AlreadyExpired => "already_expired",
            Self::BatchExpiryMismatch => "batch_expiry_mismatch",
        }
    }
}

/// Units of one batch (or of unbatched stock with one expiry) at one location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lot {
    /// Where.
    pub location_id: LocationId,
    /// The batch, if any.
    pub batch: Option<String>,
    /// The expiry date, if any.
    pub expires_on: Option<NaiveDate>,
    /// Units on hand (always at least one: empty lots are dropped).
    pub quantity: u64,
}

impl Lot {
    /// Expired on `today`: usable up to and including its expiry date.
    #[must_use]
    pub fn expired(&self, today: NaiveDate) -> bool {
        self.expires_on.is_some_and(|e| e < today)
    }
}

/// An item's stock: its lots at every location, as its movements leave it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stock {
    /// Lots holding stock, by location, then expiry (soonest first, none last), then batch.
    lots: Vec<Lot>,
    /// Every location that stock has ever been at.
    seen: BTreeSet<LocationId>,
}

fn positive(quantity: u32) -> Result<u64, InventoryError> {
    if quantity == 0 {
        return Err(FieldError::new("quantity", "must be at least 1").into());
    }
    Ok(u64::from(quantity))
}

fn batch_name(batch: Option<&String>) -> Result<Option<String>, InventoryError> {
    match batch.map(|b| b.trim()) {
        None | Some("") => Ok(None),
        Some(b) if b.chars().count() > 60 || b.chars().any(char::is_control) => {
            Err(FieldError::new("batch", "must be at most 60 characters, without control characters").into())
        }
        Some(b) => Ok(Some(b.to_owned())),
    }
}

/// Lots first-expiry first: an expiry date before none, then by batch.
fn fefo(a: &Lot, b: &Lot) -> std::cmp::Ordering {
    let key = |l: &Lot| (l.expires_on.is_none(), l.expires_on, l.batch.clone());
    key(a).cmp(&key(b))
}

impl Stock {
    /// The stock `movements` leave, applied in order, each judged on its own date.
    ///
    /// # Errors
    /// The first movement that its predecessors do not allow (stored data that was
    /// tampered with or written without this check).
    pub fn replay<'a>(movements: impl IntoIterator<Item = &'a Movement>) -> Result<Self, InventoryError> {
        // A failure discards the whole replay, so there is nothing to roll back: apply in
        // place rather than copying the stock at every step.
        let mut stock = Self::default();
        for m in movements {
            stock.apply_in_place(&m.kind, m.on)?;
        }
        Ok(stock)
    }

    /// The lots holding stock.
    #[must_use]
    pub fn lots(&self) -> &[Lot] {
        &self.lots
    }

    /// Every location stock has been at.
    pub fn locations(&self) -> impl Iterator<Item = LocationId> + '_ {
        self.seen.iter().copied()
    }

    /// Units at `location`, expired ones included.
    #[must_use]
    pub fn on_hand(&self, location: LocationId) -> u64 {
        self.lots
            .iter()
            .filter(|l| l.location_id == location)
            .map(|l| l.quantity)
            .sum()
    }

    /// Units at `location` that may be used on `today` (not expired).
    #[must_use]
    pub fn usable(&self, location: LocationId, today: NaiveDate) -> u64 {
        self.lots
            .iter()
            .filter(|l| l.location_id == location && !l.expired(today))
            .map(|l| l.quantity)
            .sum()
    }

    /// Checks `kind` against the stock on `today` and applies it; on a refusal nothing
    /// changes.
    ///
    /// # Errors
    /// [`InventoryError`] saying what the movement would break.
    pub fn apply(&mut self, kind: &MovementKind, today: NaiveDate) -> Result<(), InventoryError> {
        let mut next = self.clone();
        next.apply_in_place(kind, today)?;
        *self = next;
        Ok(())
    }

    fn apply_in_place(&mut self, kind: &MovementKind, today: NaiveDate) -> Result<(), InventoryError> {
        match kind {
            MovementKind::Received {
                location_id,
                quantity,
                batch,
                expires_on,
            } => {
                let quantity = positive(*quantity)?;
                let batch = batch_name(batch.as_ref())?;
                if expires_on.is_some_and(|e| e < today) {
                    return Err(InventoryError::AlreadyExpired);
                }
                if let Some(b) = &batch
                    && self
                        .lots
                        .iter()
                        .any(|l| l.batch.as_ref() == Some(b) && l.expires_on != *expires_on)
                {
                    return Err(InventoryError::BatchExpiryMismatch);
                }
                self.add(*location_id, batch, *expires_on, quantity);
            }
            MovementKind::Used {
                location_id,
                quantity,
                batch,
                ..
            } => {
                let quantity = positive(*quantity)?;
                self.take(*location_id, batch.as_ref(), quantity, |l| !l.expired(today), today)?;
            }
            MovementKind::Adjusted {
                location_id,
                batch,
                delta,
                reason,
            } => {
                crate::practice::non_blank("reason", reason, 200)?;
                let amount = u64::from(delta.unsigned_abs());
                if *delta > 0 {
                    let batch = batch_name(batch.as_ref())?;
                    let expires_on = match &batch {
                        Some(b) => {
                            self.lots
                                .iter()
                                .find(|l| l.batch.as_ref() == Some(b))
                                .ok_or(InventoryError::UnknownBatch)?
                                .expires_on
                        }
                        None => None,
                    };
                    self.add(*location_id, batch, expires_on, amount);
                } else if *delta < 0 {
                    self.take(*location_id, batch.as_ref(), amount, |_| true, today)?;
                } else {
                    return Err(FieldError::new("delta", "must not be zero").into());
                }
            }
            MovementKind::Transferred {
                from,
                to,
                quantity,
                batch,
            } => {
                if from == to {
                    return Err(FieldError::new("to", "must differ from the location moved from").into());
                }
                let quantity = positive(*quantity)?;
                let taken = self.take(*from, batch.as_ref(), quantity, |l| !l.expired(today), today)?;
                for lot in taken {
                    self.add(*to, lot.batch, lot.expires_on, lot.quantity);
                }
            }
            MovementKind::WrittenOff {
                location_id,
                quantity,
                batch,
                reason,
            } => {
                let quantity = positive(*quantity)?;
                let qualifies = |l: &Lot| *reason == WriteOffReason::Damaged || l.expired(today);
                self.take(*location_id, batch.as_ref(), quantity, qualifies, today)?;
            }
        }
        Ok(())
    }

    fn add(&mut self, location: LocationId, batch: Option<String>, expires_on: Option<NaiveDate>, quantity: u64) {
        self.seen.insert(location);
        if let Some(lot) = self
            .lots
            .iter_mut()
            .find(|l| l.location_id == location && l.batch == batch && l.expires_on == expires_on)
        {
            lot.quantity += quantity;
            return;
        }
        self.lots.push(Lot {
            location_id: location,
            batch,
            expires_on,
            quantity,
        });
        self.lots
            .sort_by(|a, b| a.location_id.cmp(&b.location_id).then_with(|| fefo(a, b)));
    }

    /// Takes `quantity` from the named batch, or first-expiry-first from the lots at
    /// `location` that `eligible` admits; returns what was taken, lot by lot.
    fn take(
        &mut self,
        location: LocationId,
        batch: Option<&String>,
        quantity: u64,
        eligible: impl Fn(&Lot) -> bool,
        today: NaiveDate,
    ) -> Result<Vec<Lot>, InventoryError> {
        let batch = batch_name(batch)?;
        let here = |l: &Lot| l.location_id == location && batch.as_ref().is_none_or(|b| l.batch.as_ref() == Some(b));
        if batch.is_some() {
            let Some(lot) = self.lots.iter().find(|l| here(l)) else {
                return Err(InventoryError::UnknownBatch);
            };
            if !eligible(lot) {
                return match lot.expires_on {
                    Some(e) if lot.expired(today) => Err(InventoryError::BatchExpired { expired_on: e }),
                    _ => Err(InventoryError::InsufficientStock {
                        available: 0,
                        requested: quantity,
                    }),
                };
            }
        }
        let available: u64 = self
            .lots
            .iter()
            .filter(|l| here(l) && eligible(l))
            .map(|l| l.quantity)
            .sum();
        if available < quantity {
            return Err(InventoryError::InsufficientStock {
                available,
                requested: quantity,
            });
        }
        let mut left = quantity;
        let mut taken = Vec::new();
        // Lots are kept first-expiry first within a location, so walking them in order
        // takes the soonest-expiring stock.
        for lot in self.lots.iter_mut().filter(|l| here(l) && eligible(l)) {
            if left == 0 {
                break;
            }
            let n = left.min(lot.quantity);
            lot.quantity -= n;
            left -= n;
            taken.push(Lot {
                quantity: n,
                ..lot.clone()
            });
        }
        self.lots.retain(|l| l.quantity > 0);
        Ok(taken)
    }
}

/// An item at a location whose usable stock is at or below its reorder level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LowStock {
    /// The item.
    pub item_id: ItemId,
    /// Its name.
    pub name: String,
    /// Its SKU.
    pub sku: String,
    /// Where.
    pub location_id: LocationId,
    /// Usable units there.
    pub usable: u64,
    /// The reorder level.
    pub reorder_level: u32,
    /// Who to order from.
    pub preferred_supplier: Option<String>,
}

/// Items to reorder on `today`: each item at its home location and at every location it
/// has been stocked at, where usable stock is at or below the reorder level. Sorted by
/// name, then location.
#[must_use]
pub fn low_stock<'a>(stock: impl IntoIterator<Item = (&'a Item, &'a Stock)>, today: NaiveDate) -> Vec<LowStock> {
    let mut out = Vec::new();
    for (item, stock) in stock {
        let mut places: BTreeSet<LocationId> = stock.locations().collect();
        places.insert(item.location_id);
        for location_id in places {
            let usable = stock.usable(location_id, today);
            if usable <= u64::from(item.reorder_level) {
                out.push(LowStock {
                    item_id: item.id,
                    name: item.name.clone(),
                    sku: item.sku.as_str().to_owned(),
                    location_id,
                    usable,
                    reorder_level: item.reorder_level,
                    preferred_supplier: item.preferred_supplier.clone(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.location_id.cmp(&b.location_id)));
    out
}

/// A lot that has expired or expires within the window asked about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExpiryAlert {
    /// The item.
    pub item_id: ItemId,
    /// Its name.
    pub name: String,
    /// The lot.
    pub lot: Lot,
    /// Already expired on the day asked about: to be written off.
    pub expired: bool,
}

/// Lots holding stock that expire on or before `today + within_days` (expired ones
/// included, flagged), soonest first.
#[must_use]
pub fn expiring<'a>(
    stock: impl IntoIterator<Item = (&'a Item, &'a Stock)>,
    today: NaiveDate,
    within_days: u32,
) -> Vec<ExpiryAlert> {
    let horizon = today
        .checked_add_days(Days::new(u64::from(within_days)))
        .unwrap_or(NaiveDate::MAX);
    let mut out: Vec<ExpiryAlert> = stock
        .into_iter()
        .flat_map(|(item, stock)| {
            stock
                .lots()
                .iter()
                .filter(|l| l.expires_on.is_some_and(|e| e <= horizon))
                .map(|l| ExpiryAlert {
                    item_id: item.id,
                    name: item.name.clone(),
                    lot: l.clone(),
                    expired: l.expired(today),
                })
        })
        .collect();
    out.sort_by(|a, b| {
        a.lot
            .expires_on
            .cmp(&b.lot.expires_on)
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}
