//! Storage benchmarks, SQLite and PostgreSQL side by side.
//!
//! - `storage/<db>/book_1_client`, `book_16_clients`: a booking through the port, i.e. a
//!   calendar snapshot and a guarded commit (targets: SQLite 5,000/s single writer,
//!   PostgreSQL 2,000/s with 16 clients). Throughput is reported in bookings per second.
//! - `storage/<db>/snapshot`, `commit_unguarded`: a booking's two halves alone, one client:
//!   the calendar snapshot of its keys, and the commit of a new appointment without guards.
//! - `storage/<db>/slot_search_50x90`: `BookingService::search_slots` over 90 days for 50
//!   practitioners, reading everything it needs from storage holding 20,000 appointments
//!   (target: under 30 ms on PostgreSQL); `slot_search_1x90`, the same for one
//!   practitioner (the search a patient makes, which the HTTP target of 2 ms includes).
//!
//! Statistics are gathered after the bulk load (`ANALYZE`), as in a database in service.
//! PostgreSQL runs when `DATABASE_URL` names a server (a database is created for the run
//! and dropped after); otherwise it is skipped with a note.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clinic_adapters::sql::SqlStore;
use clinic_adapters::system::{SettableClock, UuidV7Ids};
use clinic_benches::{Practice, practice};
use clinic_core::ports::{AppointmentRepository, ResourceKey};
use clinic_core::scheduling::slots::SlotQuery;
use clinic_core::scheduling::{Appointment, AppointmentStatus, DeliveryMode};
use clinic_core::service::{BookingService, SchedulingPorts, SlotSearch};
use clinic_core::time::TimeRange;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

/// The `n`th new booking: practitioners in turn, one hour apart, after the loaded window.
fn booking(p: &Practice, n: u64) -> Appointment {
    let who = &p.practitioners[usize::try_from(n % 50).unwrap()];
    let start = p.now + chrono::Duration::days(400) + chrono::Duration::hours(i64::try_from(n / 50).unwrap());
    let interval = TimeRange::starting_at(start, chrono::Duration::minutes(50)).unwrap();
    Appointment {
        id: clinic_core::ids::AppointmentId::from_uuid(uuid::Uuid::now_v7()),
        practice_id: p.location.practice_id,
        practitioner_id: who.id,
        patient_ids: vec![clinic_core::ids::PatientId::from_uuid(uuid::Uuid::now_v7())],
        service_id: p.service.id,
        location_id: p.location.id,
        room_id: None,
        mode: DeliveryMode::InPerson,
        interval,
        blocked: interval.widened(chrono::Duration::zero(), chrono::Duration::minutes(10)),
        status: AppointmentStatus::Booked,
        series_id: None,
        history: vec![],
        created_at: p.now,
    }
}

async fn book(store: &SqlStore, p: &Practice, n: u64) {
    let a = booking(p, n);
    let keys = ResourceKey::of(&a);
    // A concurrent booking of the same practitioner (another slot) moves its version: read
    // again and retry, as the booking service does.
    loop {
        let snap = store.snapshot(a.practice_id, &keys, a.blocked).await.unwrap();
        assert!(snap.appointments.is_empty());
        match store
            .commit(a.practice_id, &snap.versions, std::slice::from_ref(&a))
            .await
        {
            Ok(()) => return,
            Err(e) if e.kind() == clinic_core::ports::PortErrorKind::Conflict => {}
            Err(e) => panic!("{e}"),
        }
    }
}

/// A 90-day search for every practitioner through the booking service, which reads the
/// practice, its services, locations and practitioners, their availability and their busy
/// time from storage.
async fn search(service: &BookingService, p: &Practice, one: bool) -> usize {
    let query = SlotQuery {
        from: p.first_day,
        to: p.first_day + chrono::Duration::days(p.days - 1),
        viewer_zone: chrono_tz::Australia::Sydney,
        mode: DeliveryMode::InPerson,
        location: None,
        patient: None,
    };
    let search = SlotSearch {
        service_id: p.service.id,
        practitioner_ids: if one { vec![p.practitioners[0].id] } else { vec![] },
        query,
    };
    service
        .search_slots(p.location.practice_id, &search)
        .await
        .unwrap()
        .len()
}

/// Runs `one` for each of `iters` iterations in turn, on `rt`, and answers how long they took.
fn timed(rt: &Runtime, iters: u64, mut one: impl AsyncFnMut(u64)) -> Duration {
    rt.block_on(async {
        let t = Instant::now();
        for i in 0..iters {
            one(i).await;
        }
        t.elapsed()
    })
}

fn booking_service(store: &Arc<SqlStore>, p: &Practice) -> BookingService {
    BookingService::new(SchedulingPorts {
        practices: store.clone(),
        patients: store.clone(),
        practitioners: store.clone(),
        appointments: store.clone(),
        waitlist: store.clone(),
        clock: Arc::new(SettableClock::new(p.now)),
        ids: Arc::new(UuidV7Ids),
    })
}

fn bench_store(c: &mut Criterion, rt: &Runtime, name: &str, url: &str, store: &Arc<SqlStore>, p: &Arc<Practice>) {
    rt.block_on(common::load(store, p));
    rt.block_on(common::analyze(url, store));
    let next = Arc::new(AtomicU64::new(0));
    let mut g = c.benchmark_group(format!("storage/{name}"));
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("book_1_client", |b| {
        b.iter_custom(|iters| {
            timed(rt, iters, async |_| {
                book(store, p, next.fetch_add(1, Ordering::Relaxed)).await;
            })
        });
    });
    g.bench_function("snapshot", |b| {
        b.iter_custom(|iters| {
            timed(rt, iters, async |i| {
                let a = booking(p, i);
                let keys = ResourceKey::of(&a);
                store.snapshot(a.practice_id, &keys, a.blocked).await.unwrap();
            })
        });
    });
    g.bench_function("commit_unguarded", |b| {
        b.iter_custom(|iters| {
            timed(rt, iters, async |_| {
                let a = booking(p, next.fetch_add(1, Ordering::Relaxed));
                store
                    .commit(a.practice_id, &[], std::slice::from_ref(&a))
                    .await
                    .unwrap();
            })
        });
    });
    g.bench_function("book_16_clients", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                let tasks: Vec<_> = (0..16)
                    .map(|client| {
                        let (store, p, next) = (store.clone(), p.clone(), next.clone());
                        let share = iters / 16 + u64::from(client < iters % 16);
                        tokio::spawn(async move {
                            for _ in 0..share {
                                book(&store, &p, next.fetch_add(1, Ordering::Relaxed)).await;
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                t.elapsed()
            })
        });
    });
    g.finish();
    let mut g = c.benchmark_group(format!("storage/{name}"));
    g.sample_size(20);
    let service = booking_service(store, p);
    assert!(rt.block_on(search(&service, p, false)) > 1000);
    g.bench_function("slot_search_50x90", |b| {
        b.iter(|| rt.block_on(search(&service, p, false)));
    });
    assert!(rt.block_on(search(&service, p, true)) > 20);
    g.bench_function("slot_search_1x90", |b| {
        b.iter(|| rt.block_on(search(&service, p, true)));
    });
    g.finish();
}

fn storage(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let p = Arc::new(practice(50, 20_000, 90));

    common::on_sqlite(&rt, |url, store| bench_store(c, &rt, "sqlite", url, store, &p));
    common::on_postgres(&rt, "storage", |url, store| {
        bench_store(c, &rt, "postgres", url, store, &p);
    });
}

criterion_group!(benches, storage);
criterion_main!(benches);
