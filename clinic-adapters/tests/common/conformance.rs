//! The storage conformance suite: written once against the ports, run by every storage
//! adapter. Each function takes fresh, empty stores from `make` and checks one part of the
//! ports' contracts.

use std::future::Future;
use std::sync::Arc;

use chrono::Duration;
use clinic_core::ids::*;
use clinic_core::ports::*;
use clinic_core::practice::*;
use clinic_core::scheduling::*;
use clinic_core::time::TimeRange;

use super::utc;

/// Every port a storage adapter implements.
pub trait Storage:
    PracticeRepository + PatientRepository + PractitionerRepository + AppointmentRepository + WaitlistRepository
{
}
impl<T> Storage for T where
    T: PracticeRepository + PatientRepository + PractitionerRepository + AppointmentRepository + WaitlistRepository
{
}

fn appointment(
    practice: PracticeId,
    practitioner: PractitionerId,
    patient: PatientId,
    start: &str,
    minutes: i64,
) -> Appointment {
    let interval = TimeRange::starting_at(utc(start), Duration::minutes(minutes)).unwrap();
    Appointment {
        id: super::ids().new_id(),
        practice_id: practice,
        practitioner_id: practitioner,
        patient_ids: vec![patient],
        service_id: super::ids().new_id(),
        location_id: super::ids().new_id(),
        room_id: None,
        mode: DeliveryMode::InPerson,
        interval,
        blocked: interval.widened(Duration::zero(), Duration::minutes(10)),
        status: AppointmentStatus::Booked,
        series_id: None,
        history: vec![],
        created_at: utc("2026-01-01T00:00:00Z"),
    }
}

/// Runs the whole suite.
pub async fn run_all<S, F, Fut>(make: F)
where
    S: Storage + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    practice_round_trip(make().await).await;
    tenant_boundary(make().await).await;
    snapshot_returns_overlapping_live_appointments(make().await).await;
    commit_guard_rejects_stale_versions(make().await).await;
    commit_rejects_other_practice(make().await).await;
    reschedule_moves_the_index(make().await).await;
}

pub async fn practice_round_trip<S: Storage>(s: Arc<S>) {
    let p = Practice::new(
        super::ids().new_id(),
        "Ünïcode Psychology 心理",
        BookingPolicy::default(),
    )
    .unwrap();
    s.save_practice(&p).await.unwrap();
    assert_eq!(s.practice(p.id).await.unwrap(), p);
    let missing = s.practice(super::ids().new_id()).await.unwrap_err();
    assert_eq!(missing.kind(), PortErrorKind::NotFound);
}

pub async fn tenant_boundary<S: Storage>(s: Arc<S>) {
    let a: PracticeId = super::ids().new_id();
    let b: PracticeId = super::ids().new_id();
    let loc = Location::new(
        super::ids().new_id(),
        a,
        "A",
        "1 St",
        chrono_tz::Australia::Perth,
        AuState::WA,
    )
    .unwrap();
    s.save_location(&loc).await.unwrap();
    assert_eq!(s.locations(a).await.unwrap().len(), 1);
    assert!(s.locations(b).await.unwrap().is_empty());
    let appt = appointment(
        a,
        super::ids().new_id(),
        super::ids().new_id(),
        "2026-12-01T00:00:00Z",
        50,
    );
    s.commit(a, &[], std::slice::from_ref(&appt)).await.unwrap();
    assert_eq!(
        s.appointment(b, appt.id).await.unwrap_err().kind(),
        PortErrorKind::NotFound
    );
    let snap = s
        .snapshot(b, &[ResourceKey::Practitioner(appt.practitioner_id)], appt.blocked)
        .await
        .unwrap();
    assert!(snap.appointments.is_empty(), "practice B sees none of A's appointments");
}

pub async fn snapshot_returns_overlapping_live_appointments<S: Storage>(s: Arc<S>) {
    let practice: PracticeId = super::ids().new_id();
    let who: PractitionerId = super::ids().new_id();
    let patient: PatientId = super::ids().new_id();
    let early = appointment(practice, who, patient, "2026-12-01T00:00:00Z", 50); // blocked to 01:00
    let late = appointment(practice, who, patient, "2026-12-01T03:00:00Z", 50);
    let mut cancelled = appointment(practice, who, patient, "2026-12-01T01:00:00Z", 50);
    cancelled
        .cancel(CancelledBy::Clinic, "", utc("2026-11-01T00:00:00Z"), Duration::zero())
        .unwrap();
    s.commit(practice, &[], &[early.clone(), late.clone(), cancelled])
        .await
        .unwrap();
    let window = TimeRange::new(utc("2026-12-01T00:55:00Z"), utc("2026-12-01T02:00:00Z")).unwrap();
    let snap = s
        .snapshot(practice, &[ResourceKey::Practitioner(who)], window)
        .await
        .unwrap();
    let ids: Vec<_> = snap.appointments.iter().map(|a| a.id).collect();
    assert_eq!(
        ids,
        vec![early.id],
        "only the live appointment whose buffer reaches into the window"
    );
    // Asking by practitioner and patient returns it once.
    let snap = s
        .snapshot(
            practice,
            &[ResourceKey::Practitioner(who), ResourceKey::Patient(patient)],
            window,
        )
        .await
        .unwrap();
    assert_eq!(snap.appointments.len(), 1);
    assert_eq!(snap.versions.len(), 2);
    let round_trip = s.appointment(practice, late.id).await.unwrap();
    assert_eq!(round_trip, late, "appointments round-trip exactly");
}

pub async fn commit_guard_rejects_stale_versions<S: Storage>(s: Arc<S>) {
    let practice: PracticeId = super::ids().new_id();
    let who: PractitionerId = super::ids().new_id();
    let window = TimeRange::new(utc("2026-12-01T00:00:00Z"), utc("2026-12-02T00:00:00Z")).unwrap();
    let keys = [ResourceKey::Practitioner(who)];
    let read1 = s.snapshot(practice, &keys, window).await.unwrap();
    let read2 = s.snapshot(practice, &keys, window).await.unwrap();
    let a = appointment(practice, who, super::ids().new_id(), "2026-12-01T00:00:00Z", 50);
    let b = appointment(practice, who, super::ids().new_id(), "2026-12-01T00:00:00Z", 50);
    s.commit(practice, &read1.versions, std::slice::from_ref(&a))
        .await
        .unwrap();
    let lost = s
        .commit(practice, &read2.versions, std::slice::from_ref(&b))
        .await
        .unwrap_err();
    assert_eq!(lost.kind(), PortErrorKind::Conflict);
    assert!(lost.is_retryable());
    assert_eq!(
        s.appointment(practice, b.id).await.unwrap_err().kind(),
        PortErrorKind::NotFound,
        "nothing of a lost commit is stored"
    );
    let read3 = s.snapshot(practice, &keys, window).await.unwrap();
    assert!(read3.versions[0].version > read1.versions[0].version);
}

pub async fn commit_rejects_other_practice<S: Storage>(s: Arc<S>) {
    let a: PracticeId = super::ids().new_id();
    let appt = appointment(
        super::ids().new_id(),
        super::ids().new_id(),
        super::ids().new_id(),
        "2026-12-01T00:00:00Z",
        50,
    );
    assert_eq!(
        s.commit(a, &[], &[appt]).await.unwrap_err().kind(),
        PortErrorKind::Invalid
    );
}

pub async fn reschedule_moves_the_index<S: Storage>(s: Arc<S>) {
    let practice: PracticeId = super::ids().new_id();
    let who: PractitionerId = super::ids().new_id();
    let mut a = appointment(practice, who, super::ids().new_id(), "2026-12-01T00:00:00Z", 50);
    s.commit(practice, &[], std::slice::from_ref(&a)).await.unwrap();
    let to = a.interval.shifted(Duration::days(1));
    a.reschedule(to, to, utc("2026-11-01T00:00:00Z")).unwrap();
    s.commit(practice, &[], std::slice::from_ref(&a)).await.unwrap();
    let old_window = TimeRange::new(utc("2026-12-01T00:00:00Z"), utc("2026-12-01T02:00:00Z")).unwrap();
    let keys = [ResourceKey::Practitioner(who)];
    assert!(
        s.snapshot(practice, &keys, old_window)
            .await
            .unwrap()
            .appointments
            .is_empty()
    );
    let new_window = old_window.shifted(Duration::days(1));
    assert_eq!(
        s.snapshot(practice, &keys, new_window)
            .await
            .unwrap()
            .appointments
            .len(),
        1
    );
}
