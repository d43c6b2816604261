//! Scheduling benchmarks.
//!
//! - `conflict_check_10k`: every booking rule for one proposal against a calendar of
//!   10,000 appointments (target: under 2 µs).
//! - `slot_search_50x90`: 50 practitioners, 90 days, 20,000 existing appointments, weekly
//!   templates with leave (target: under 10 ms).

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use clinic_benches::practice;
use clinic_core::ids::PatientId;
use clinic_core::scheduling::slots::{self, Candidate, SlotQuery};
use clinic_core::scheduling::{Calendar, DeliveryMode, Proposal, RuleContext, check};
use criterion::{Criterion, criterion_group, criterion_main};
use uuid::Uuid;

fn conflict_check(c: &mut Criterion) {
    // One practitioner holding all 10,000 appointments makes the index as deep as it gets.
    let p = practice(1, 10_000, 2000);
    assert_eq!(p.appointments.len(), 10_000);
    let calendar = Calendar::new(&p.appointments);
    let ctx = RuleContext {
        now: p.now,
        policy: &p.policy,
        holidays: &p.holidays,
    };
    let patients = [PatientId::from_uuid(Uuid::from_u128(42))];
    // Tuesday 13 Jan 2026, 09:00 Sydney: taken, so every rule runs up to the clash.
    let busy = Proposal {
        practitioner: &p.practitioners[0],
        availability: &p.availability[0],
        service: &p.service,
        location: &p.location,
        room: Some(&p.room),
        patients: &patients,
        mode: DeliveryMode::InPerson,
        start: "2026-01-12T22:00:00Z".parse().unwrap(),
    };
    assert!(check(&ctx, &busy, &calendar, None).is_err());
    c.bench_function("conflict_check_10k", |b| {
        b.iter(|| check(black_box(&ctx), black_box(&busy), black_box(&calendar), None));
    });
    c.bench_function("practitioner_clash_10k", |b| {
        b.iter(|| {
            calendar.practitioner_clash(
                black_box(p.practitioners[0].id),
                black_box(&p.appointments[5000].blocked),
                None,
            )
        });
    });
}

fn slot_search(c: &mut Criterion) {
    let p = practice(50, 20_000, 90);
    assert_eq!(p.appointments.len(), 20_000);
    let calendar = Calendar::new(&p.appointments);
    let ctx = RuleContext {
        now: p.now,
        policy: &p.policy,
        holidays: &p.holidays,
    };
    let candidates: Vec<Candidate<'_>> = p
        .practitioners
        .iter()
        .zip(&p.availability)
        .map(|(practitioner, availability)| Candidate {
            practitioner,
            availability,
        })
        .collect();
    let query = SlotQuery {
        from: p.first_day,
        to: p.first_day + chrono::Duration::days(p.days - 1),
        viewer_zone: chrono_tz::Australia::Sydney,
        mode: DeliveryMode::InPerson,
        location: None,
        patient: None,
    };
    let found = slots::search(&ctx, &p.service, &candidates, &p.locations, &calendar, &query).unwrap();
    assert!(!found.is_empty());
    let mut g = c.benchmark_group("slot_search");
    g.sample_size(30);
    g.bench_function("slot_search_50x90", |b| {
        b.iter(|| {
            slots::search(
                black_box(&ctx),
                &p.service,
                &candidates,
                &p.locations,
                &calendar,
                &query,
            )
        });
    });
    let one = &candidates[..1];
    g.bench_function("slot_search_1x90", |b| {
        b.iter(|| slots::search(black_box(&ctx), &p.service, one, &p.locations, &calendar, &query));
    });
    g.finish();
}

criterion_group!(benches, conflict_check, slot_search);
criterion_main!(benches);
