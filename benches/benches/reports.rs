//! Practice reports over a year of 100,000 appointments (50 practitioners, 8 sessions a
//! working day), SQLite and PostgreSQL side by side (target: under 200 ms on PostgreSQL).
//!
//! - `reports/<db>/utilisation_year`: booked against available hours per practitioner,
//!   reading availability and the appointment tallies from storage.
//! - `reports/<db>/attendance_year`: no-show and late-cancellation rates.
//!
//! Statistics are gathered after the bulk load (`ANALYZE`). PostgreSQL runs when
//! `DATABASE_URL` names a server; otherwise it is skipped with a note.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use clinic_adapters::sql::SqlStore;
use clinic_adapters::system::SettableClock;
use clinic_benches::{Practice, practice};
use clinic_core::ids::UserId;
use clinic_core::people::Role;
use clinic_core::reports::Period;
use clinic_core::service::{Actor, ReportsPorts, ReportsService};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

fn bench_store(c: &mut Criterion, rt: &Runtime, name: &str, url: &str, store: &Arc<SqlStore>, p: &Practice) {
    rt.block_on(common::load(store, p));
    rt.block_on(common::analyze(url, store));
    let service = ReportsService::new(ReportsPorts {
        practices: store.clone(),
        practitioners: store.clone(),
        appointments: store.clone(),
        invoices: store.clone(),
        claims: store.clone(),
        patients: store.clone(),
        credentials: store.clone(),
        clock: Arc::new(SettableClock::new(p.now)),
    });
    let manager = Actor {
        practice_id: p.location.practice_id,
        user_id: UserId::from_uuid(uuid::Uuid::now_v7()),
        role: Role::PracticeManager,
        practitioner_id: None,
        patient_id: None,
        guardian_of: Vec::new(),
        request_id: None,
    };
    let year = Period::new(p.first_day, p.first_day + chrono::Duration::days(p.days - 1)).unwrap();
    let booked: u64 = rt
        .block_on(service.utilisation(&manager, year))
        .unwrap()
        .iter()
        .map(|r| r.booked_minutes)
        .sum();
    assert_eq!(
        booked,
        50 * p.appointments.len() as u64,
        "every appointment is counted once"
    );
    let mut g = c.benchmark_group(format!("reports/{name}"));
    g.sample_size(20);
    g.bench_function("utilisation_year", |b| {
        b.iter(|| rt.block_on(service.utilisation(&manager, year)).unwrap().len());
    });
    g.bench_function("attendance_year", |b| {
        b.iter(|| rt.block_on(service.attendance(&manager, year)).unwrap().len());
    });
    g.finish();
}

fn reports(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let p = practice(50, 100_000, 366);
    assert_eq!(p.appointments.len(), 100_000);
    common::on_sqlite(&rt, |url, store| bench_store(c, &rt, "sqlite", url, store, &p));
    common::on_postgres(&rt, "reports", |url, store| {
        bench_store(c, &rt, "postgres", url, store, &p);
    });
}

criterion_group!(benches, reports);
criterion_main!(benches);
