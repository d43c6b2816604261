use chrono::NaiveDate;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::ids::{ItemId, LocationId, PracticeId};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

const A: LocationId = LocationId::from_uuid(Uuid::from_u128(1));
const B: LocationId = LocationId::from_uuid(Uuid::from_u128(2));

fn received(
    location_id: LocationId,
    quantity: u32,
    batch: Option<&str>,
    expires_on: Option<NaiveDate>,
) -> MovementKind {
    MovementKind::Received {
        location_id,
        quantity,
        batch: batch.map(str::to_owned),
        expires_on,
    }
}

fn used(location_id: LocationId, quantity: u32, batch: Option<&str>) -> MovementKind {
    MovementKind::Used {
        location_id,
        quantity,
        batch: batch.map(str::to_owned),
        appointment_id: None,
    }
}

fn item(reorder_level: u32) -> Item {
    Item::new(
        ItemId::from_uuid(Uuid::from_u128(9)),
        PracticeId::from_uuid(Uuid::from_u128(8)),
        &ItemSpec {
            name: "Nitrile gloves, medium".into(),
            sku: "gl-100".into(),
            unit: "box of 100".into(),
            location_id: A,
            reorder_level,
            preferred_supplier: Some("  ".into()),
        },
    )
    .unwrap()
}

#[test]
fn an_item_is_validated_field_by_field() {
    let i = item(3);
    assert_eq!(i.sku.as_str(), "GL-100");
    assert_eq!(i.preferred_supplier, None);
    let bad = Item::new(
        ItemId::from_uuid(Uuid::nil()),
        PracticeId::from_uuid(Uuid::nil()),
        &ItemSpec {
            name: " ".into(),
            sku: "GL 100".into(),
            unit: "box".into(),
            location_id: A,
            reorder_level: 0,
            preferred_supplier: None,
        },
    )
    .unwrap_err();
    let fields: Vec<_> = bad.iter().map(crate::FieldError::field).collect();
    assert_eq!(fields, ["name", "sku"]);
}

#[test]
fn a_use_that_would_go_below_zero_is_refused_and_changes_nothing() {
    let today = d(2026, 12, 1);
    let mut s = Stock::default();
    s.apply(&received(A, 5, None, None), today).unwrap();
    s.apply(&used(A, 5, None), today).unwrap();
    assert_eq!(s.on_hand(A), 0);
    let before = s.clone();
    assert_eq!(
        s.apply(&used(A, 1, None), today),
        Err(InventoryError::InsufficientStock {
            available: 0,
            requested: 1
        })
    );
    assert_eq!(s, before);
}

#[test]
fn stock_is_usable_on_its_expiry_date_and_expired_the_day_after() {
    let mut s = Stock::default();
    s.apply(&received(A, 4, Some("L1"), Some(d(2026, 12, 31))), d(2026, 12, 1))
        .unwrap();
    assert_eq!(s.usable(A, d(2026, 12, 31)), 4);
    assert_eq!(s.usable(A, d(2027, 1, 1)), 0);
    assert_eq!(s.on_hand(A), 4);
    s.apply(&used(A, 1, Some("L1")), d(2026, 12, 31)).unwrap();
    assert_eq!(
        s.apply(&used(A, 1, Some("L1")), d(2027, 1, 1)),
        Err(InventoryError::BatchExpired {
            expired_on: d(2026, 12, 31)
        })
    );
    assert_eq!(
        s.apply(&used(A, 1, None), d(2027, 1, 1)),
        Err(InventoryError::InsufficientStock {
            available: 0,
            requested: 1
        })
    );
}

#[test]
fn a_leap_day_expiry_is_a_real_date() {
    let mut s = Stock::default();
    s.apply(&received(A, 2, Some("LEAP"), Some(d(2028, 2, 29))), d(2028, 2, 1))
        .unwrap();
    assert_eq!(s.usable(A, d(2028, 2, 29)), 2);
    assert_eq!(s.usable(A, d(2028, 3, 1)), 0);
}

#[test]
fn uses_without_a_batch_take_the_soonest_expiry_first() {
    let today = d(2026, 12, 1);
    let mut s = Stock::default();
    s.apply(&received(A, 3, Some("LATE"), Some(d(2027, 6, 1))), today)
        .unwrap();
    s.apply(&received(A, 3, None, None), today).unwrap();
    s.apply(&received(A, 3, Some("SOON"), Some(d(2027, 1, 1))), today)
        .unwrap();
    s.apply(&used(A, 4, None), today).unwrap();
    let left: Vec<_> = s.lots().iter().map(|l| (l.batch.as_deref(), l.quantity)).collect();
    assert_eq!(left, [(Some("LATE"), 2), (None, 3)]);
}

#[test]
fn receiving_expired_stock_or_a_known_batch_with_another_expiry_is_refused() {
    let today = d(2026, 12, 1);
    let mut s = Stock::default();
    assert_eq!(
        s.apply(&received(A, 1, Some("X"), Some(d(2026, 11, 30))), today),
        Err(InventoryError::AlreadyExpired)
    );
    s.apply(&received(A, 1, Some("X"), Some(d(2026, 12, 1))), today)
        .unwrap();
    assert_eq!(
        s.apply(&received(B, 1, Some("X"), Some(d(2027, 1, 1))), today),
        Err(InventoryError::BatchExpiryMismatch)
    );
}

#[test]
fn a_transfer_moves_lots_with_their_batch_and_expiry() {
    let today = d(2026, 12, 1);
    let mut s = Stock::default();
    s.apply(&received(A, 5, Some("L1"), Some(d(2027, 3, 1))), today)
        .unwrap();
    let t = MovementKind::Transferred {
        from: A,
        to: B,
        quantity: 2,
        batch: None,
    };
    s.apply(&t, today).unwrap();
    assert_eq!((s.on_hand(A), s.on_hand(B)), (3, 2));
    let at_b = s.lots().iter().find(|l| l.location_id == B).unwrap();
    assert_eq!(
        (at_b.batch.as_deref(), at_b.expires_on),
        (Some("L1"), Some(d(2027, 3, 1)))
    );
    let same = MovementKind::Transferred {
        from: A,
        to: A,
        quantity: 1,
        batch: None,
    };
    assert_eq!(s.apply(&same, today).unwrap_err().code(), "invalid_field");
    let too_many = MovementKind::Transferred {
        from: B,
        to: A,
        quantity: 3,
        batch: None,
    };
    assert_eq!(s.apply(&too_many, today).unwrap_err().code(), "insufficient_stock");
}

#[test]
fn only_expired_lots_are_written_off_as_expired() {
    let mut s = Stock::default();
    s.apply(&received(A, 2, Some("OLD"), Some(d(2026, 12, 31))), d(2026, 12, 1))
        .unwrap();
    s.apply(&received(A, 2, Some("NEW"), Some(d(2027, 12, 31))), d(2026, 12, 1))
        .unwrap();
    let off = |quantity, batch: Option<&str>, reason| MovementKind::WrittenOff {
        location_id: A,
        quantity,
        batch: batch.map(str::to_owned),
        reason,
    };
    // On the expiry date itself the lot is still good.
    assert_eq!(
        s.apply(&off(1, None, WriteOffReason::Expired), d(2026, 12, 31))
            .unwrap_err()
            .code(),
        "insufficient_stock"
    );
    let jan = d(2027, 1, 1);
    assert_eq!(
        s.apply(&off(1, Some("NEW"), WriteOffReason::Expired), jan)
            .unwrap_err()
            .code(),
        "insufficient_stock"
    );
    assert_eq!(
        s.apply(&off(3, None, WriteOffReason::Expired), jan).unwrap_err(),
        InventoryError::InsufficientStock {
            available: 2,
            requested: 3
        }
    );
    s.apply(&off(2, None, WriteOffReason::Expired), jan).unwrap();
    s.apply(&off(1, Some("NEW"), WriteOffReason::Damaged), jan).unwrap();
    assert_eq!(s.on_hand(A), 1);
}

#[test]
fn adjustments_need_a_reason_and_a_non_zero_delta() {
    let today = d(2026, 12, 1);
    let mut s = Stock::default();
    let adj = |delta, reason: &str| MovementKind::Adjusted {
        location_id: A,
        batch: None,
        delta,
        reason: reason.into(),
    };
    assert_eq!(s.apply(&adj(2, " "), today).unwrap_err().code(), "invalid_field");
    assert_eq!(s.apply(&adj(0, "count"), today).unwrap_err().code(), "invalid_field");
    s.apply(&adj(2, "found in the store room"), today).unwrap();
    assert_eq!(
        s.apply(&adj(-3, "stocktake"), today).unwrap_err().code(),
        "insufficient_stock"
    );
    s.apply(&adj(-2, "stocktake"), today).unwrap();
    assert_eq!(s.on_hand(A), 0);
    assert_eq!(s.apply(&used(A, 0, None), today).unwrap_err().code(), "invalid_field");
}

#[test]
fn low_stock_is_at_or_below_the_reorder_level_counting_usable_units_only() {
    let i = item(3);
    let mut s = Stock::default();
    let today = d(2026, 12, 1);
    s.apply(&received(A, 4, Some("L"), Some(d(2026, 12, 2))), today)
        .unwrap();
    s.apply(&received(B, 3, None, None), today).unwrap();
    // A holds 4 (above 3); B holds 3 (at the level).
    let low = low_stock([(&i, &s)], today);
    assert_eq!(
        low.iter().map(|l| (l.location_id, l.usable)).collect::<Vec<_>>(),
        [(B, 3)]
    );
    // Two days later A's lot has expired: nothing usable there.
    let low = low_stock([(&i, &s)], d(2026, 12, 3));
    assert_eq!(
        low.iter().map(|l| (l.location_id, l.usable)).collect::<Vec<_>>(),
        [(A, 0), (B, 3)]
    );
    // An item never stocked is low at its home location.
    let empty = Stock::default();
    assert_eq!(low_stock([(&i, &empty)], today)[0].location_id, A);
}

#[test]
fn expiring_lists_lots_up_to_the_horizon_and_flags_the_expired() {
    let i = item(0);
    let mut s = Stock::default();
    let today = d(2026, 12, 1);
    s.apply(&received(A, 1, Some("P"), Some(d(2026, 12, 1))), today)
        .unwrap();
    s.apply(&received(A, 1, Some("Q"), Some(d(2026, 12, 31))), today)
        .unwrap();
    s.apply(&received(A, 1, Some("R"), Some(d(2027, 1, 1))), today).unwrap();
    s.apply(&received(A, 1, None, None), today).unwrap();
    let list = expiring([(&i, &s)], d(2026, 12, 2), 29);
    let seen: Vec<_> = list.iter().map(|a| (a.lot.batch.as_deref(), a.expired)).collect();
    assert_eq!(seen, [(Some("P"), true), (Some("Q"), false)]);
}

proptest! {
    /// Whatever is asked, in whatever order, on-hand at every location is what was
    /// accepted in minus what was accepted out, and never negative.
    #[test]
    fn stock_never_goes_negative_and_balances(ops in proptest::collection::vec((0u8..5, 0u32..8, any::<bool>(), 0u32..40), 1..60)) {
        let start = d(2026, 12, 1);
        let mut s = Stock::default();
        let mut balance = [0i64; 2];
        for (op, qty, at_b, day) in ops {
            let (here, there, hi, ti) = if at_b { (B, A, 1, 0) } else { (A, B, 0, 1) };
            let today = start + chrono::Days::new(u64::from(day));
            let expiry = Some(start + chrono::Days::new(u64::from(qty) * 5));
            let kind = match op {
                0 => received(here, qty, None, expiry),
                1 => used(here, qty, None),
                2 => MovementKind::Transferred { from: here, to: there, quantity: qty, batch: None },
                3 => MovementKind::WrittenOff { location_id: here, quantity: qty, batch: None, reason: WriteOffReason::Expired },
                _ => MovementKind::Adjusted { location_id: here, batch: None, delta: i32::try_from(qty).unwrap() - 4, reason: "count".into() },
            };
            let before = s.clone();
            if s.apply(&kind, today).is_ok() {
                let q = i64::from(qty);
                match op {
                    0 => balance[hi] += q,
                    1 | 3 => balance[hi] -= q,
                    2 => { balance[hi] -= q; balance[ti] += q; }
                    _ => balance[hi] += q - 4,
                }
            } else {
                prop_assert_eq!(&s, &before);
            }
            prop_assert!(balance.iter().all(|b| *b >= 0));
            prop_assert_eq!(i64::try_from(s.on_hand(A)).unwrap(), balance[0]);
            prop_assert_eq!(i64::try_from(s.on_hand(B)).unwrap(), balance[1]);
            prop_assert!(s.lots().iter().all(|l| l.quantity > 0));
        }
    }
}
