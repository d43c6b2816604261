//! The conformance suite, inventory: items within their practice, the append-only ledger
//! and its guard, and the stock invariant under concurrency through the service.

use std::sync::Arc;

use chrono::NaiveDate;
use clinic_adapters::system::SettableClock;
use clinic_core::ids::*;
use clinic_core::inventory::{Item, ItemSpec, Movement, MovementKind};
use clinic_core::people::Role;
use clinic_core::ports::*;
use clinic_core::practice::{AuState, BookingPolicy, Location, Practice};
use clinic_core::service::{Actor, InventoryPorts, InventoryService, ServiceError};
use tokio::sync::Barrier;

use super::conformance::Storage;
use super::{ids, utc};

fn item(practice: PracticeId, location: LocationId, name: &str, sku: &str) -> Item {
    Item::new(
        ids().new_id(),
        practice,
        &ItemSpec {
            name: name.into(),
            sku: sku.into(),
            unit: "each".into(),
            location_id: location,
            reorder_level: 2,
            preferred_supplier: Some("Medical Supplies Pty Ltd".into()),
        },
    )
    .unwrap()
}

fn movement(item: &Item, seconds: i64, kind: MovementKind) -> Movement {
    Movement {
        id: ids().new_id(),
        practice_id: item.practice_id,
        item_id: item.id,
        at: utc("2026-12-01T00:00:00Z") + chrono::Duration::seconds(seconds),
        on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        by: ids().new_id(),
        kind,
    }
}

fn received(location: LocationId, quantity: u32) -> MovementKind {
    MovementKind::Received {
        location_id: location,
        quantity,
        batch: Some("LOT-ü-1".into()),
        expires_on: NaiveDate::from_ymd_opt(2028, 2, 29),
    }
}

/// Items round-trip, list by name and stay in their practice; the ledger appends only on
/// its current version, lists oldest first, and refuses another practice's movement.
pub async fn items_and_ledgers_round_trip_within_their_practice<S: Storage>(s: Arc<S>) {
    let (a, b): (PracticeId, PracticeId) = (ids().new_id(), ids().new_id());
    let location: LocationId = ids().new_id();
    let gloves = item(a, location, "Nitrile gloves", "GL-1");
    let swabs = item(a, location, "Alcohol swabs", "SW-1");
    s.save_item(&gloves).await.unwrap();
    s.save_item(&swabs).await.unwrap();
    assert_eq!(s.item(a, gloves.id).await.unwrap(), gloves);
    let names: Vec<_> = s.items(a).await.unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(names, ["Alcohol swabs", "Nitrile gloves"]);
    assert_eq!(s.item(b, gloves.id).await.unwrap_err().kind(), PortErrorKind::NotFound);
    assert!(s.items(b).await.unwrap().is_empty());

    let mut renamed = gloves.clone();
    renamed.reorder_level = 9;
    s.save_item(&renamed).await.unwrap();
    assert_eq!(s.item(a, gloves.id).await.unwrap().reorder_level, 9);

    let empty = s.ledger(a, gloves.id).await.unwrap();
    assert_eq!((empty.version, empty.movements.len()), (0, 0));
    let first = movement(&gloves, 10, received(location, 5));
    s.append_movement(a, 0, &first).await.unwrap();
    let stale = movement(&gloves, 20, received(location, 1));
    assert_eq!(
        s.append_movement(a, 0, &stale).await.unwrap_err().kind(),
        PortErrorKind::Conflict
    );
    // A clock that stepped back does not reorder the ledger: it replays as appended.
    let second = movement(&gloves, 5, received(location, 2));
    s.append_movement(a, 1, &second).await.unwrap();
    let ledger = s.ledger(a, gloves.id).await.unwrap();
    assert_eq!(ledger.version, 2);
    assert_eq!(ledger.movements, [first.clone(), second.clone()]);
    let other = movement(&swabs, 1, received(location, 1));
    s.append_movement(a, 0, &other).await.unwrap();
    let expected = if swabs.id < gloves.id {
        vec![other, first, second]
    } else {
        vec![first, second, other]
    };
    assert_eq!(s.movements(a).await.unwrap(), expected);

    assert_eq!(s.ledger(b, gloves.id).await.unwrap().movements.len(), 0);
    assert!(s.movements(b).await.unwrap().is_empty());
    let foreign = movement(&gloves, 30, received(location, 1));
    assert_eq!(
        s.append_movement(b, 0, &foreign).await.unwrap_err().kind(),
        PortErrorKind::Invalid
    );
}

/// Five units on hand and sixteen technicians each use one at the same moment: exactly
/// five uses are stored, the rest are refused for want of stock, and nothing is negative.
pub async fn concurrent_uses_never_take_more_than_is_on_hand<S: Storage + 'static>(s: Arc<S>) {
    let practice = Practice::new(ids().new_id(), "Harbour Clinic", BookingPolicy::default()).unwrap();
    s.save_practice(&practice).await.unwrap();
    let location = Location::new(
        ids().new_id(),
        practice.id,
        "Hobart",
        "1 Elizabeth St, Hobart TAS 7000",
        chrono_tz::Australia::Hobart,
        AuState::TAS,
    )
    .unwrap();
    s.save_location(&location).await.unwrap();
    let service = InventoryService::new(InventoryPorts {
        inventory: s.clone(),
        practices: s.clone(),
        appointments: s.clone(),
        clock: Arc::new(SettableClock::new(utc("2026-12-01T01:00:00Z"))),
        ids: Arc::new(ids()),
    });
    let actor = Actor {
        practice_id: practice.id,
        user_id: ids().new_id(),
        role: Role::Technician,
        practitioner_id: None,
        patient_id: None,
        guardian_of: Vec::new(),
        request_id: None,
    };
    let spec = ItemSpec {
        name: "Sterile dressing".into(),
        sku: "DR-10".into(),
        unit: "each".into(),
        location_id: location.id,
        reorder_level: 1,
        preferred_supplier: None,
    };
    let dressing = service.create_item(&actor, &spec).await.unwrap();
    service
        .record(&actor, dressing.id, received(location.id, 5))
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (service, actor, barrier) = (service.clone(), actor.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let used = MovementKind::Used {
                    location_id: location.id,
                    quantity: 1,
                    batch: None,
                    appointment_id: None,
                };
                service.record(&actor, dressing.id, used).await.map_err(|e| e.code())
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 5, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(o, Ok(_) | Err("insufficient_stock"))),
        "{outcomes:?}"
    );
    let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let (stock, movements) = service.item(&actor, dressing.id, today).await.unwrap();
    assert_eq!(stock.locations[0].on_hand, 0);
    assert_eq!(movements.len(), 6);
    // A doctor reads stock but may not move it.
    let doctor = Actor {
        role: Role::Doctor,
        ..actor.clone()
    };
    assert!(service.items(&doctor, today).await.is_ok());
    assert!(matches!(
        service.record(&doctor, dressing.id, received(location.id, 1)).await,
        Err(ServiceError::Forbidden)
    ));
}
