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

pub use clinic_core::ports::Storage;

pub fn appointment(
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
    commit_moves_every_occupied_resource_s_version(make().await).await;
    commit_rejects_other_practice(make().await).await;
    reschedule_moves_the_index(make().await).await;
    invoice_numbers_are_per_practice_and_sequential(make().await).await;
    invoice_writes_are_guarded(make().await).await;
    claim_commits_are_guarded_per_patient(make().await).await;
    referrals_round_trip(make().await).await;
    audit_log_is_one_chain_under_concurrency(make().await).await;
    notes_round_trip_within_their_practice(make().await).await;
    use super::conformance_more as more;
    more::booking_race_has_one_winner(make().await).await;
    more::last_capped_session_is_claimed_once(make().await).await;
    more::concurrent_invoices_are_numbered_without_gaps(make().await).await;
    more::values_round_trip_exactly(make().await).await;
    more::issued_invoices_page_by_number(make().await).await;
    more::scheduling_records_round_trip(make().await).await;
    more::practice_records_round_trip(make().await).await;
    more::destroying_notes_is_per_patient(make().await).await;
    more::snapshots_find_long_appointments_in_every_practice(make().await).await;
    more::tallies_sum_a_location_s_appointments(make().await).await;
    more::patient_sessions_are_what_holds_time_in_the_window(make().await).await;
    use super::conformance_outbox as outbox;
    outbox::outbox_queues_claims_and_settles(make().await).await;
    outbox::concurrent_claims_never_share_a_notification(make().await).await;
    outbox::inbox_delivers_once_lists_newest_first_and_marks_read(make().await).await;
    use super::conformance_accounts as accounts;
    accounts::accounts_are_unique_and_updated_by_revision(make().await).await;
    accounts::refresh_tokens_rotate_and_reuse_revokes_the_family(make().await).await;
    accounts::concurrent_uses_of_one_token_succeed_once(make().await).await;
    use super::conformance_inventory as inventory;
    inventory::items_and_ledgers_round_trip_within_their_practice(make().await).await;
    inventory::concurrent_uses_never_take_more_than_is_on_hand(make().await).await;
}

pub async fn audit_log_is_one_chain_under_concurrency<S: Storage + 'static>(s: Arc<S>) {
    use clinic_core::audit::{AuditEntry, Outcome, verify};
    let practice: PracticeId = super::ids().new_id();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.append(AuditEntry {
                    practice_id: practice,
                    at: utc("2026-11-24T00:00:00Z") + Duration::seconds(i),
                    actor: None,
                    action: "note.read".into(),
                    resource_kind: "progress_note".into(),
                    resource_id: uuid::Uuid::from_u128(u128::try_from(i).unwrap()),
                    patient_id: None,
                    outcome: Outcome::Allowed,
                    request_id: None,
                    reason: None,
                })
                .await
                .unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let events = s.events(practice, 0, 1000).await.unwrap();
    assert_eq!(
        verify(practice, &events, &[], b"k"),
        Ok(100),
        "positions 0..100, each linked to the last"
    );
    assert_eq!(
        s.events(practice, 95, 3)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![95, 96, 97]
    );
    assert!(s.events(practice, 500, 10).await.unwrap().is_empty());
    assert!(
        s.events(super::ids().new_id(), 0, 10).await.unwrap().is_empty(),
        "tenant boundary"
    );
}

pub async fn notes_round_trip_within_their_practice<S: Storage>(s: Arc<S>) {
    use clinic_core::clinical::{NoteKind, ProgressNote, Soap};
    let practice: PracticeId = super::ids().new_id();
    let patient: PatientId = super::ids().new_id();
    let note = ProgressNote::draft(
        super::ids().new_id(),
        practice,
        patient,
        super::ids().new_id(),
        NoteKind::Progress,
        Soap {
            subjective: "Ünïcode — 心理 ✓".into(),
            objective: "o".into(),
            assessment: "a".into(),
            plan: "p".into(),
        },
    );
    s.save_note(&note).await.unwrap();
    assert_eq!(s.note(practice, note.id).await.unwrap(), note);
    assert_eq!(s.notes(practice, patient).await.unwrap(), vec![note.clone()]);
    assert_eq!(
        s.note(super::ids().new_id(), note.id).await.unwrap_err().kind(),
        PortErrorKind::NotFound
    );
    assert!(
        !s.treats(practice, note.author, patient).await.unwrap(),
        "a note alone is no appointment"
    );
}

pub fn draft(practice: PracticeId, cents: i64) -> clinic_core::billing::Invoice {
    use clinic_core::billing::{GstRates, Invoice, LineInput, Payer, SupplyKind};
    let mut inv = Invoice::draft(super::ids().new_id(), practice, super::ids().new_id(), Payer::Patient);
    inv.add_line(
        LineInput {
            description: "Séance — 50 min".into(),
            service_date: "2026-11-24".parse().unwrap(),
            quantity: 1,
            unit_price: clinic_core::money::Money::from_cents(cents),
            supply: SupplyKind::MedicoLegalReport,
            registered_provider: true,
            clinically_necessary: true,
            appointment_id: None,
            medicare: None,
        },
        &GstRates::australia(),
    )
    .unwrap();
    inv
}

pub async fn invoice_numbers_are_per_practice_and_sequential<S: Storage>(s: Arc<S>) {
    let (a, b): (PracticeId, PracticeId) = (super::ids().new_id(), super::ids().new_id());
    let day = "2026-11-24".parse().unwrap();
    for (practice, expected) in [(a, 1), (a, 2), (b, 1), (a, 3)] {
        let inv = draft(practice, 12345);
        s.save_draft(&inv).await.unwrap();
        let issued = s.issue(practice, inv.id, inv.revision + 1, day).await.unwrap();
        assert_eq!(issued.number, Some(expected));
        let read = s.invoice(practice, inv.id).await.unwrap();
        assert_eq!(read, issued, "issued invoices round-trip exactly, money to the cent");
        assert_eq!(read.total(), clinic_core::money::Money::from_cents(13580));
    }
    let empty = clinic_core::billing::Invoice::draft(
        super::ids().new_id(),
        a,
        super::ids().new_id(),
        clinic_core::billing::Payer::Patient,
    );
    s.save_draft(&empty).await.unwrap();
    assert_eq!(
        s.issue(a, empty.id, 1, day).await.unwrap_err().kind(),
        PortErrorKind::Invalid
    );
    let next = draft(a, 100);
    s.save_draft(&next).await.unwrap();
    assert_eq!(
        s.issue(a, next.id, 1, day).await.unwrap().number,
        Some(4),
        "a refused issue uses no number"
    );
    assert_eq!(
        s.invoice(b, next.id).await.unwrap_err().kind(),
        PortErrorKind::NotFound,
        "tenant boundary"
    );
}

pub async fn invoice_writes_are_guarded<S: Storage>(s: Arc<S>) {
    use clinic_core::billing::{Payment, PaymentMethod};
    let practice: PracticeId = super::ids().new_id();
    let inv = draft(practice, 10000);
    s.save_draft(&inv).await.unwrap();
    assert_eq!(
        s.save_draft(&inv).await.unwrap_err().kind(),
        PortErrorKind::Conflict,
        "stale draft revision"
    );
    let issued = s
        .issue(practice, inv.id, 1, "2026-11-24".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        s.issue(practice, inv.id, issued.revision, "2026-11-24".parse().unwrap())
            .await
            .unwrap_err()
            .kind(),
        PortErrorKind::Conflict
    );
    let pay = |inv: &mut clinic_core::billing::Invoice| {
        inv.pay(Payment {
            id: super::ids().new_id(),
            amount: clinic_core::money::Money::from_cents(500),
            method: PaymentMethod::Cash,
            at: utc("2026-11-24T00:00:00Z"),
            reference: None,
        })
        .unwrap();
    };
    let (mut one, mut two) = (issued.clone(), issued.clone());
    pay(&mut one);
    pay(&mut two);
    s.update(&one).await.unwrap();
    assert_eq!(
        s.update(&two).await.unwrap_err().kind(),
        PortErrorKind::Conflict,
        "a lost update is refused"
    );
    let mut stored = s.invoice(practice, inv.id).await.unwrap();
    assert_eq!(stored.payments.len(), 1);
    stored.lines.clear();
    assert_eq!(
        s.update(&stored).await.unwrap_err().kind(),
        PortErrorKind::Invalid,
        "issued lines never change"
    );
}

/// A draft claim for item 80110 (the `n`th line of a fresh invoice).
pub fn claim_for(practice: PracticeId, patient: PatientId, n: u16) -> clinic_core::billing::Claim {
    use clinic_core::billing::{Claim, ClaimStatus};
    use clinic_core::medicare::CapKind;
    Claim {
        id: super::ids().new_id(),
        practice_id: practice,
        invoice_id: super::ids().new_id(),
        line: n,
        patient_id: patient,
        practitioner_id: super::ids().new_id(),
        referral_id: None,
        item: "80110".into(),
        service_date: "2026-11-24".parse().unwrap(),
        cap: CapKind::Individual,
        fee_charged: clinic_core::money::Money::from_cents(22000),
        benefit: clinic_core::money::Money::from_cents(10155),
        bulk_billed: false,
        status: ClaimStatus::Draft,
    }
}

pub async fn claim_commits_are_guarded_per_patient<S: Storage>(s: Arc<S>) {
    use clinic_core::medicare::{CapKind, PastService};
    let practice: PracticeId = super::ids().new_id();
    let patient: PatientId = super::ids().new_id();
    let claim = |n: u16| claim_for(practice, patient, n);
    let h0 = s.history(practice, patient).await.unwrap();
    assert_eq!((h0.claims.len(), h0.version), (0, 0));
    let first = claim(0);
    s.commit_claim(practice, h0.version, &first).await.unwrap();
    assert_eq!(
        s.commit_claim(practice, h0.version, &claim(1))
            .await
            .unwrap_err()
            .kind(),
        PortErrorKind::Conflict
    );
    s.record_external(
        practice,
        patient,
        &PastService {
            date: "2026-02-01".parse().unwrap(),
            cap: CapKind::Individual,
            referral_id: None,
            claimed: true,
        },
    )
    .await
    .unwrap();
    let h = s.history(practice, patient).await.unwrap();
    assert_eq!((h.claims.len(), h.external.len(), h.version), (1, 1, 2));
    assert_eq!(h.claims[0], first);
    assert_eq!(s.claim(practice, first.id).await.unwrap(), first);
    let other: PracticeId = super::ids().new_id();
    assert!(
        s.history(other, patient).await.unwrap().claims.is_empty(),
        "tenant boundary"
    );
    assert_eq!(
        s.claim(other, first.id).await.unwrap_err().kind(),
        PortErrorKind::NotFound
    );
}

pub async fn referrals_round_trip<S: Storage>(s: Arc<S>) {
    use clinic_core::medicare::{Referral, ReferralScope, ReferrerKind};
    let practice: PracticeId = super::ids().new_id();
    let patient: PatientId = super::ids().new_id();
    let r = |written: &str| Referral {
        id: super::ids().new_id(),
        practice_id: practice,
        patient_id: patient,
        referrer_name: "Dr Zoë O'Brien".into(),
        referrer_kind: ReferrerKind::Psychiatrist,
        referrer_provider_number: Some(clinic_core::people::ProviderNumber::parse("2429581T").unwrap()),
        mymedicare_or_usual_gp: false,
        written_on: written.parse().unwrap(),
        sessions_requested: None,
        scope: ReferralScope::Group,
        letter: None,
    };
    let (late, early) = (r("2026-06-01"), r("2026-01-01"));
    s.save_referral(&late).await.unwrap();
    s.save_referral(&early).await.unwrap();
    let list = s.referrals(practice, patient).await.unwrap();
    assert_eq!(list, vec![early.clone(), late], "oldest first, exact round trip");
    assert_eq!(s.referral(practice, early.id).await.unwrap(), early);
    assert!(s.referrals(super::ids().new_id(), patient).await.unwrap().is_empty());
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
    let all = s.patient_appointments(practice, patient).await.unwrap();
    assert_eq!(all.len(), 3, "every status, cancelled included");
    assert!(
        all.windows(2).all(|w| w[0].interval.start() <= w[1].interval.start()),
        "by start"
    );
    assert!(
        s.patient_appointments(super::ids().new_id(), patient)
            .await
            .unwrap()
            .is_empty(),
        "tenant boundary"
    );
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

/// A commit moves the version of every resource its appointments occupy, guarded or not:
/// a booking that read the patient's calendar before an unguarded commit (an import, a
/// change by staff) must not be accepted on that stale read.
pub async fn commit_moves_every_occupied_resource_s_version<S: Storage>(s: Arc<S>) {
    let practice: PracticeId = super::ids().new_id();
    let (who, patient): (PractitionerId, PatientId) = (super::ids().new_id(), super::ids().new_id());
    let window = TimeRange::new(utc("2026-12-01T00:00:00Z"), utc("2026-12-02T00:00:00Z")).unwrap();
    let keys = [ResourceKey::Practitioner(who), ResourceKey::Patient(patient)];
    let version = |snap: &clinic_core::ports::CalendarSnapshot, key: ResourceKey| {
        snap.versions.iter().find(|g| g.key == key).map_or(0, |g| g.version)
    };
    let before = s.snapshot(practice, &keys, window).await.unwrap();
    let a = appointment(practice, who, patient, "2026-12-01T01:00:00Z", 50);
    s.commit(practice, &[], std::slice::from_ref(&a)).await.unwrap();
    let after = s.snapshot(practice, &keys, window).await.unwrap();
    for key in keys {
        assert!(
            version(&after, key) > version(&before, key),
            "an unguarded commit moves {key:?}"
        );
    }
    // Guarded on the practitioner alone: the patient's version moves as well.
    let b = appointment(practice, who, patient, "2026-12-01T03:00:00Z", 50);
    let guard = |snap: &clinic_core::ports::CalendarSnapshot, key: ResourceKey| {
        [clinic_core::ports::Guarded {
            key,
            version: version(snap, key),
        }]
    };
    s.commit(
        practice,
        &guard(&after, ResourceKey::Practitioner(who)),
        std::slice::from_ref(&b),
    )
    .await
    .unwrap();
    let last = s.snapshot(practice, &keys, window).await.unwrap();
    for key in keys {
        assert!(
            version(&last, key) > version(&after, key),
            "a partly guarded commit moves {key:?}"
        );
    }
    // So a booking decided on the read before either commit loses.
    let c = appointment(practice, super::ids().new_id(), patient, "2026-12-01T05:00:00Z", 50);
    let lost = s
        .commit(
            practice,
            &guard(&before, ResourceKey::Patient(patient)),
            std::slice::from_ref(&c),
        )
        .await
        .unwrap_err();
    assert_eq!(lost.kind(), PortErrorKind::Conflict);
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
