//! The booking use cases end to end over every storage adapter (memory, SQLite, PostgreSQL).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test bodies run through `on_every_store!`

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use clinic_adapters::memory::MemoryStore;
use clinic_core::ids::*;
use clinic_core::ports::*;
use clinic_core::scheduling::*;
use clinic_core::service::{ServiceError, SlotSearch};
use common::{Fixture, practice_on, utc};
use proptest::prelude::*;

async fn fixture() -> Fixture {
    fixture_on(Arc::new(MemoryStore::new())).await
}

async fn fixture_on(store: Arc<dyn Storage>) -> Fixture {
    practice_on(store).await
}

// Tuesday 24 Nov 2026 09:00 Sydney = 2026-11-23T22:00Z.
const TUE_0900: &str = "2026-11-23T22:00:00Z";

async fn books_then_refuses_the_same_slot(store: Arc<dyn Storage>) {
    let f = fixture_on(store).await;
    let a = f.service.book(f.practice, &f.request(0, TUE_0900)).await.unwrap();
    assert_eq!(a.status_kind(), StatusKind::Booked);
    assert_eq!(
        a.blocked.end(),
        utc("2026-11-23T23:00:00Z"),
        "50 minutes plus a 10-minute buffer"
    );
    let err = f.service.book(f.practice, &f.request(1, TUE_0900)).await.unwrap_err();
    assert!(
        matches!(err, ServiceError::Scheduling(SchedulingError::PractitionerBusy { existing }) if existing == a.id)
    );
    assert_eq!(err.code(), "practitioner_busy");
}

async fn unknown_records_are_not_found(store: Arc<dyn Storage>) {
    let f = fixture_on(store).await;
    let mut r = f.request(0, TUE_0900);
    r.patient_ids = vec![common::ids().new_id()];
    assert!(matches!(
        f.service.book(f.practice, &r).await,
        Err(ServiceError::NotFound { entity: "patient" })
    ));
    let mut r = f.request(0, TUE_0900);
    r.service_id = common::ids().new_id();
    assert!(matches!(
        f.service.book(f.practice, &r).await,
        Err(ServiceError::NotFound { entity: "service" })
    ));
    let other: PracticeId = common::ids().new_id();
    assert!(matches!(
        f.service.book(other, &f.request(0, TUE_0900)).await,
        Err(ServiceError::NotFound { entity: "practice" })
    ));
}

async fn cancel_flags_late_and_ranks_the_waitlist(store: Arc<dyn Storage>) {
    let f = fixture_on(store).await;
    let a = f.service.book(f.practice, &f.request(0, TUE_0900)).await.unwrap();
    let entry = WaitlistEntry {
        id: common::ids().new_id(),
        practice_id: f.practice,
        patient_id: f.patients[5],
        practitioner_id: Some(f.practitioner.id),
        service_id: None,
        location_id: None,
        days: vec![chrono::Weekday::Tue],
        earliest: None,
        latest: None,
        urgency: Urgency::Soon,
        created_at: utc("2026-11-01T00:00:00Z"),
        active: true,
    };
    f.store.save_waitlist_entry(&entry).await.unwrap();
    // 23 hours before the start: late under the 24-hour policy.
    f.clock.set(utc("2026-11-22T23:00:00Z"));
    let out = f
        .service
        .cancel(f.practice, a.id, CancelledBy::Patient, "unwell")
        .await
        .unwrap();
    let AppointmentStatus::Cancelled(c) = &out.appointment.status else {
        panic!("not cancelled")
    };
    assert!(c.late);
    assert_eq!(out.waitlist.iter().map(|e| e.id).collect::<Vec<_>>(), vec![entry.id]);
    // The slot is free again.
    f.service.book(f.practice, &f.request(5, TUE_0900)).await.unwrap();
    // Cancelling twice is an illegal transition.
    let again = f
        .service
        .cancel(f.practice, a.id, CancelledBy::Clinic, "")
        .await
        .unwrap_err();
    assert_eq!(again.code(), "illegal_transition");
}

async fn reschedule_keeps_history_and_frees_the_old_time(store: Arc<dyn Storage>) {
    let f = fixture_on(store).await;
    let a = f.service.book(f.practice, &f.request(0, TUE_0900)).await.unwrap();
    let moved = f
        .service
        .reschedule(f.practice, a.id, utc("2026-11-23T23:00:00Z"))
        .await
        .unwrap();
    assert_eq!(moved.history.len(), 1);
    assert_eq!(moved.history[0].from, a.interval);
    // Into its own old neighbourhood is fine (it ignores itself); the old slot is free.
    f.service.book(f.practice, &f.request(1, TUE_0900)).await.unwrap();
    let clash = f
        .service
        .reschedule(f.practice, a.id, TUE_0900.parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(clash.code(), "practitioner_busy");
}

async fn status_machine_through_the_service(store: Arc<dyn Storage>) {
    let f = fixture_on(store).await;
    let a = f.service.book(f.practice, &f.request(0, TUE_0900)).await.unwrap();
    assert_eq!(
        f.service.mark_no_show(f.practice, a.id).await.unwrap_err().code(),
        "no_show_before_start"
    );
    f.service.confirm(f.practice, a.id).await.unwrap();
    f.service.arrive(f.practice, a.id).await.unwrap();
    let done = f.service.complete(f.practice, a.id).await.unwrap();
    assert_eq!(done.status_kind(), StatusKind::Completed);
    assert_eq!(
        f.service.confirm(f.practice, a.id).await.unwrap_err().code(),
        "illegal_transition"
    );
}

async fn series_all_or_nothing_and_book_free(store: Arc<dyn Storage>) {
    let f = fixture_on(store).await;
    // Someone already has Tuesday 8 Dec 09:00.
    f.service
        .book(f.practice, &f.request(9, "2026-12-07T22:00:00Z"))
        .await
        .unwrap();
    let rec = Recurrence {
        every_weeks: 1,
        end: SeriesEnd::Count(4),
    };
    let req = f.request(0, TUE_0900);
    let none = f
        .service
        .book_series(f.practice, &req, rec, SeriesPolicy::AllOrNothing)
        .await
        .unwrap();
    assert!(none.booked.is_empty() && none.series_id.is_none());
    assert_eq!(none.report.len(), 4);
    assert_eq!(none.report[2].outcome.as_ref().unwrap_err().code(), "practitioner_busy");
    let some = f
        .service
        .book_series(f.practice, &req, rec, SeriesPolicy::BookFree)
        .await
        .unwrap();
    assert_eq!(some.booked.len(), 3);
    assert!(
        some.booked
            .iter()
            .all(|a| a.series_id == some.series_id && some.series_id.is_some())
    );
    let fortnightly = Recurrence {
        every_weeks: 2,
        end: SeriesEnd::Until(NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()),
    };
    let mut req = f.request(1, "2026-11-24T02:00:00Z"); // Tue 13:00
    req.patient_ids = vec![f.patients[1]];
    let out = f
        .service
        .book_series(f.practice, &req, fortnightly, SeriesPolicy::BookFree)
        .await
        .unwrap();
    // 24 Nov, 8 Dec, 22 Dec, 5 Jan, 19 Jan.
    assert_eq!(out.report.len(), 5);
    assert_eq!(out.booked.len(), 5);
    // Cancelling "this and following" from 22 Dec leaves the first two, and an
    // occurrence already attended stays as it was.
    f.clock.set(utc("2026-12-08T02:30:00Z"));
    f.service.arrive(f.practice, out.booked[1].id).await.unwrap();
    let cancelled = f
        .service
        .cancel_following(f.practice, out.booked[2].id, CancelledBy::Patient, "moving away")
        .await
        .unwrap();
    let ids: Vec<_> = cancelled.iter().map(|c| c.appointment.id).collect();
    assert_eq!(ids, [out.booked[2].id, out.booked[3].id, out.booked[4].id]);
    let now: Vec<_> = f
        .store
        .patient_appointments(f.practice, f.patients[1])
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.status_kind())
        .collect();
    assert_eq!(
        now,
        [
            StatusKind::Booked,
            StatusKind::Arrived,
            StatusKind::Cancelled,
            StatusKind::Cancelled,
            StatusKind::Cancelled
        ]
    );
    // An appointment outside any series cancels alone.
    let single = f
        .service
        .book(f.practice, &f.request(2, "2027-01-05T22:00:00Z"))
        .await
        .unwrap();
    let alone = f
        .service
        .cancel_following(f.practice, single.id, CancelledBy::Clinic, "unwell")
        .await
        .unwrap();
    assert_eq!(alone.len(), 1);
}

async fn a_series_moves_from_one_occurrence_on_all_or_nothing(store: Arc<dyn Storage>) {
    let f = fixture_on(store).await;
    // Tuesdays at 13:00 Sydney from 24 Nov: 24 Nov, 1, 8, 15, 22, 29 Dec.
    let mut req = f.request(1, "2026-11-24T02:00:00Z");
    req.patient_ids = vec![f.patients[1]];
    let rec = Recurrence {
        every_weeks: 1,
        end: SeriesEnd::Count(6),
    };
    let out = f
        .service
        .book_series(f.practice, &req, rec, SeriesPolicy::AllOrNothing)
        .await
        .unwrap();
    assert_eq!(out.booked.len(), 6);
    // Someone else has Wednesday 23 Dec at 14:00.
    let blocker = f
        .service
        .book(f.practice, &f.request(0, "2026-12-23T03:00:00Z"))
        .await
        .unwrap();
    f.clock.set(utc("2026-12-01T02:30:00Z"));
    f.service.arrive(f.practice, out.booked[1].id).await.unwrap();
    let before = f.store.patient_appointments(f.practice, f.patients[1]).await.unwrap();

    // From 8 Dec on to Wednesdays at 14:00: 23 Dec is taken, so nothing moves.
    let refused = f
        .service
        .reschedule_following(f.practice, out.booked[2].id, utc("2026-12-09T03:00:00Z"))
        .await
        .unwrap();
    assert!(refused.moved.is_empty());
    let codes: Vec<_> = refused
        .report
        .iter()
        .map(|o| o.outcome.as_ref().map_err(SchedulingError::code).err())
        .collect();
    assert_eq!(codes, [None, None, Some("practitioner_busy"), None]);
    assert_eq!(
        refused.report[2].local_start,
        "2026-12-23T14:00:00".parse::<chrono::NaiveDateTime>().unwrap()
    );
    let unchanged = f.store.patient_appointments(f.practice, f.patients[1]).await.unwrap();
    assert_eq!(unchanged, before, "all or nothing");

    // Wednesdays at 15:00 are free (the 14:00 session and its buffer end at 15:00).
    let moved = f
        .service
        .reschedule_following(f.practice, out.booked[2].id, utc("2026-12-09T04:00:00Z"))
        .await
        .unwrap();
    let starts: Vec<_> = moved.moved.iter().map(|a| a.interval.start()).collect();
    assert_eq!(
        starts,
        [
            utc("2026-12-09T04:00:00Z"),
            utc("2026-12-16T04:00:00Z"),
            utc("2026-12-23T04:00:00Z"),
            utc("2026-12-30T04:00:00Z")
        ]
    );
    let now = f.store.patient_appointments(f.practice, f.patients[1]).await.unwrap();
    // The first and the attended one stay; the moved keep their old times in history.
    assert_eq!(now[0].interval, out.booked[0].interval);
    assert_eq!(now[1].status_kind(), StatusKind::Arrived);
    assert!(
        now[2..]
            .iter()
            .all(|a| a.series_id == out.series_id && !a.history.is_empty())
    );
    // Moving again by half an hour overlaps the series' own old times, which is fine.
    let again = f
        .service
        .reschedule_following(f.practice, out.booked[3].id, utc("2026-12-16T04:30:00Z"))
        .await
        .unwrap();
    assert_eq!(again.moved.len(), 3);
    assert_eq!(again.moved[0].interval.start(), utc("2026-12-16T04:30:00Z"));
    // An attended occurrence cannot be moved at all.
    let err = f
        .service
        .reschedule_following(f.practice, out.booked[1].id, utc("2026-12-02T04:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "illegal_transition");
    // Nobody else's appointment moved.
    assert_eq!(
        f.store.appointment(f.practice, blocker.id).await.unwrap().interval,
        blocker.interval
    );
}

async fn the_booking_context_is_the_separate_reads_in_one(store: Arc<dyn Storage>) {
    let f = fixture_on(store).await;
    let stranger: PatientId = common::ids().new_id();
    let ask = ContextRequest {
        practitioner: f.practitioner.id,
        service: f.session.id,
        location: f.location.id,
        room: Some(f.room.id),
        patients: &[f.patients[0], stranger, f.patients[2]],
    };
    let ctx = f.store.booking_context(f.practice, ask).await.unwrap();
    assert_eq!(ctx.practice.unwrap(), f.store.practice(f.practice).await.unwrap());
    assert_eq!(ctx.practitioner.unwrap(), f.practitioner);
    assert_eq!(
        ctx.availability,
        f.store.availability(f.practice, f.practitioner.id).await.unwrap()
    );
    assert!(!ctx.availability.templates.is_empty());
    assert_eq!(ctx.service.unwrap(), f.session);
    assert_eq!(ctx.location.unwrap(), f.location);
    assert_eq!(ctx.room.unwrap(), f.room);
    assert_eq!(
        ctx.patients,
        [
            f.store.patient(f.practice, f.patients[0]).await.unwrap(),
            f.store.patient(f.practice, f.patients[2]).await.unwrap()
        ],
        "only those that exist, whole, in the order asked"
    );
    // Without a room or patients, none are read.
    let bare = f
        .store
        .booking_context(
            f.practice,
            ContextRequest {
                room: None,
                patients: &[],
                ..ask
            },
        )
        .await
        .unwrap();
    assert!(bare.room.is_none() && bare.patients.is_empty() && bare.service.is_some());
    // Another practice sees none of it.
    let elsewhere = f.store.booking_context(common::ids().new_id(), ask).await.unwrap();
    assert!(elsewhere.practice.is_none() && elsewhere.practitioner.is_none());
    assert!(elsewhere.availability.templates.is_empty() && elsewhere.service.is_none());
    assert!(elsewhere.location.is_none() && elsewhere.room.is_none() && elsewhere.patients.is_empty());
}

async fn slot_search_excludes_booked_time_and_everything_found_books(store: Arc<dyn Storage>) {
    let f = fixture_on(store).await;
    f.service.book(f.practice, &f.request(0, TUE_0900)).await.unwrap();
    let search = SlotSearch {
        service_id: f.session.id,
        practitioner_ids: vec![],
        query: SlotQuery {
            from: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            viewer_zone: chrono_tz::Australia::Perth,
            mode: DeliveryMode::InPerson,
            location: None,
            patient: None,
        },
    };
    let slots = f.service.search_slots(f.practice, &search).await.unwrap();
    assert!(!slots.is_empty());
    assert!(
        slots.iter().all(|s| s.start >= utc("2026-11-23T23:00:00Z")),
        "09:00–10:00 is taken"
    );
    // The viewer in Perth (UTC+8) sees 07:00 for 10:00 Sydney.
    assert_eq!(slots[0].local_start.to_rfc3339(), "2026-11-24T07:00:00+08:00");
    // Perth's 24 Nov ends at 16:00Z, which is 03:00 Sydney on the 25th: only 24 Nov hours here.
    assert!(slots.iter().all(|s| s.start < utc("2026-11-24T16:00:00Z")));
    for (i, s) in slots.iter().enumerate() {
        f.service
            .book(f.practice, &f.request(10 + (i % 30), &s.start.to_rfc3339()))
            .await
            .map(|_| ())
            .or_else(|e| match e {
                // Neighbouring 15-minute slots overlap one another once one of them is booked.
                ServiceError::Scheduling(SchedulingError::PractitionerBusy { .. }) => Ok(()),
                other => Err(other),
            })
            .unwrap();
    }
}

/// 32 OS threads book the same slot at once: exactly one wins, every other gets the
/// practitioner-busy conflict naming the winner, and one appointment is stored.
#[test]
fn thirty_two_threads_one_slot_one_winner() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let f = Arc::new(rt.block_on(fixture()));
    let barrier = Arc::new(std::sync::Barrier::new(32));
    let handles: Vec<_> = (0..32)
        .map(|i| {
            let f = f.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
                let req = f.request(i, TUE_0900);
                barrier.wait();
                rt.block_on(f.service.book(f.practice, &req))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1);
    let winner = winners[0].id;
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, ServiceError::Scheduling(SchedulingError::PractitionerBusy { existing }) if *existing == winner),
                "{e:?}"
            );
        }
    }
    let window = clinic_core::TimeRange::new(utc("2026-11-23T00:00:00Z"), utc("2026-11-25T00:00:00Z")).unwrap();
    let snap = rt
        .block_on(
            f.store
                .snapshot(f.practice, &[ResourceKey::Practitioner(f.practitioner.id)], window),
        )
        .unwrap();
    assert_eq!(snap.appointments.len(), 1);
}

#[derive(Debug, Clone)]
enum Op {
    Book { patient: usize, quarter: i64, room: bool },
    Cancel(usize),
    Reschedule(usize, i64),
    Series { patient: usize, quarter: i64, weeks: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    // Quarter-hours across two weeks from Monday 23 Nov 00:00 Sydney.
    prop_oneof![
        4 => (0usize..40, 0i64..14 * 96, any::<bool>()).prop_map(|(patient, quarter, room)| Op::Book { patient, quarter, room }),
        1 => (0usize..64).prop_map(Op::Cancel),
        1 => (0usize..64, 0i64..14 * 96).prop_map(|(i, q)| Op::Reschedule(i, q)),
        1 => (0usize..40, 0i64..14 * 96, 1u8..3).prop_map(|(patient, quarter, weeks)| Op::Series { patient, quarter, weeks }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// After any sequence of book / cancel / reschedule / series operations through the
    /// service and the store, no practitioner, room or patient is double-booked.
    #[test]
    fn service_never_stores_an_overlap(ops in proptest::collection::vec(op(), 1..50)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let f = fixture().await;
            let base = utc("2026-11-22T13:00:00Z");
            let mut booked: Vec<AppointmentId> = Vec::new();
            for op in ops {
                match op {
                    Op::Book { patient, quarter, room } => {
                        let mut r = f.request(patient, &(base + Duration::minutes(quarter * 15)).to_rfc3339());
                        r.room_id = room.then_some(f.room.id);
                        if let Ok(a) = f.service.book(f.practice, &r).await { booked.push(a.id); }
                    }
                    Op::Cancel(i) if !booked.is_empty() => {
                        let _ = f.service.cancel(f.practice, booked[i % booked.len()], CancelledBy::Clinic, "").await;
                    }
                    Op::Reschedule(i, q) if !booked.is_empty() => {
                        let _ = f.service.reschedule(f.practice, booked[i % booked.len()], base + Duration::minutes(q * 15)).await;
                    }
                    Op::Series { patient, quarter, weeks } => {
                        let r = f.request(patient, &(base + Duration::minutes(quarter * 15)).to_rfc3339());
                        let rec = Recurrence { every_weeks: weeks, end: SeriesEnd::Count(3) };
                        if let Ok(out) = f.service.book_series(f.practice, &r, rec, SeriesPolicy::BookFree).await {
                            booked.extend(out.booked.iter().map(|a| a.id));
                        }
                    }
                    _ => {}
                }
            }
            let mut live = Vec::new();
            for id in &booked {
                let a = f.store.appointment(f.practice, *id).await.unwrap();
                if a.holds_time() { live.push(a); }
            }
            let ids: BTreeSet<_> = live.iter().map(|a| a.id).collect();
            assert_eq!(ids.len(), live.len());
            for (i, a) in live.iter().enumerate() {
                for b in &live[i + 1..] {
                    assert!(!a.blocked.overlaps(&b.blocked), "practitioner double-booked");
                    if a.room_id.is_some() && a.room_id == b.room_id { assert!(!a.interval.overlaps(&b.interval), "room double-booked"); }
                    if a.patient_ids.iter().any(|p| b.patient_ids.contains(p)) { assert!(!a.interval.overlaps(&b.interval), "patient double-booked"); }
                }
            }
        });
    }
}

on_every_store!(
    books_then_refuses_the_same_slot,
    unknown_records_are_not_found,
    cancel_flags_late_and_ranks_the_waitlist,
    reschedule_keeps_history_and_frees_the_old_time,
    status_machine_through_the_service,
    series_all_or_nothing_and_book_free,
    a_series_moves_from_one_occurrence_on_all_or_nothing,
    the_booking_context_is_the_separate_reads_in_one,
    slot_search_excludes_booked_time_and_everything_found_books,
);
