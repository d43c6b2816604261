//! Inventory of medical supplies: items, the movements of their stock, and what is on
//! hand, running low or expiring.
//!
//! Stock is never stored as a number that could drift: what is on hand at each location
//! is derived by replaying the item's movements (received, used, adjusted, transferred,
//! written off). Each movement is checked against the stock as it stands before it is
//! stored, so on-hand can never go negative; the storage port appends a movement only if
//! nobody appended one to the same item since it was read, which keeps that true under
//! concurrency.
//!
//! Stock is kept in lots: a location, a batch (when the supplier prints one) and an
//! expiry date. A use or transfer that names no batch takes the lots that expire first
//! (first-expiry, first-out), and never an expired lot: supplies are usable up to and
//! including their expiry date and expired from the day after. The roles matrix
//! (`shared/domain/roles.md`) lets technicians and practice managers manage stock and
//! doctors and administrators read it.

mod item;
mod stock;

pub use item::{Item, ItemSpec, Sku};
pub use stock::{
    ExpiryAlert, InventoryError, Lot, LowStock, Movement, MovementKind, Stock, WriteOffReason, expiring, low_stock,
};

#[cfg(test)]
mod tests;
