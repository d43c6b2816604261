//! Compliance benchmarks.
//!
//! - `sweep_5k_practitioners_1m_appointments`: the credentials sweep over 5,000
//!   practitioners (some expiring, some lapsed) and 1,000,000 future appointments (target:
//!   under 500 ms).
//! - `audit_append`: sealing one event onto the chain (target: under 2 µs).
//! - `audit_verify_1m`: verifying a chain of 1,000,000 events with a checkpoint (target:
//!   under 1 s).

#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use clinic_core::audit::{AuditEntry, AuditEvent, Outcome, checkpoint, seal, verify};
use clinic_core::credentials::{
    Credentials, Insurance, Registration, RegistrationType, RenewalRules, SweepInput, sweep,
};
use clinic_core::ids::*;
use clinic_core::money::Money;
use clinic_core::people::{AhpraNumber, Practitioner, PractitionerKind, PractitionerProfile};
use clinic_core::scheduling::{Appointment, AppointmentStatus, DeliveryMode};
use clinic_core::time::TimeRange;
use criterion::{Criterion, criterion_group, criterion_main};
use uuid::Uuid;

fn id<T: From<Uuid>>(n: u128) -> T {
    T::from(Uuid::from_u128(n))
}

fn sweep_bench(c: &mut Criterion) {
    let today = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    let practice: PracticeId = id(1);
    let ahpra = AhpraNumber::parse("PSY0001234567").unwrap();
    let practitioners: Vec<Practitioner> = (0..5000u128)
        .map(|i| {
            Practitioner::new(
                id(10_000 + i),
                practice,
                PractitionerKind::RegisteredPsychologist,
                "P",
                Some(ahpra.clone()),
                vec![],
                PractitionerProfile::default(),
            )
            .unwrap()
        })
        .collect();
    // One in 50 lapsed on 30 Nov (past the late period), one in 10 expiring soon.
    let credentials: HashMap<PractitionerId, Credentials> = practitioners
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let reg_exp = if i % 50 == 0 {
                NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
            } else {
                NaiveDate::from_ymd_opt(2027, 11, 30).unwrap()
            };
            let ins_exp = if i % 10 == 0 {
                today + Duration::days(10)
            } else {
                today + Duration::days(200)
            };
            (
                p.id,
                Credentials {
                    practitioner_id: Some(p.id),
                    registrations: vec![Registration {
                        number: ahpra.clone(),
                        kind: RegistrationType::General,
                        endorsements: vec![],
                        conditions: vec![],
                        expires_on: reg_exp,
                    }],
                    insurances: vec![Insurance {
                        insurer: "I".into(),
                        policy_number: "P".into(),
                        cover: Money::from_cents(1),
                        expires_on: ins_exp,
                        certificate: None,
                    }],
                },
            )
        })
        .collect();
    let start: DateTime<Utc> = "2027-01-02T00:00:00Z".parse().unwrap();
    let appointments: Vec<(Appointment, NaiveDate)> = (0..1_000_000u128)
        .map(|i| {
            let s = start + Duration::minutes(i64::try_from(i % 100_000).unwrap() * 15);
            let interval = TimeRange::starting_at(s, Duration::minutes(50)).unwrap();
            let a = Appointment {
                id: id(1_000_000 + i),
                practice_id: practice,
                practitioner_id: practitioners[usize::try_from(i % 5000).unwrap()].id,
                patient_ids: vec![id(5_000_000 + i % 20_000)],
                service_id: id(2),
                location_id: id(3),
                room_id: None,
                mode: DeliveryMode::InPerson,
                interval,
                blocked: interval,
                status: AppointmentStatus::Booked,
                series_id: None,
                history: vec![],
                created_at: start,
            };
            (a, s.date_naive())
        })
        .collect();
    let rules = RenewalRules::default();
    let sent = HashSet::new();
    let input = SweepInput {
        today,
        rules: &rules,
        practitioners: &practitioners,
        credentials: &credentials,
        appointments: &appointments,
        sent: &sent,
    };
    let actions = sweep(&input);
    assert!(actions.len() > 100 * 200, "{} actions", actions.len());
    let mut g = c.benchmark_group("compliance");
    g.sample_size(10);
    g.bench_function("sweep_5k_practitioners_1m_appointments", |b| {
        b.iter(|| sweep(black_box(&input)));
    });
    g.finish();
}

fn entry(i: u64) -> AuditEntry {
    AuditEntry {
        practice_id: id(1),
        at: DateTime::from_timestamp(1_795_000_000 + i64::try_from(i).unwrap(), 0).unwrap(),
        actor: Some(id(u128::from(i % 40))),
        action: "note.read".into(),
        resource_kind: "progress_note".into(),
        resource_id: Uuid::from_u128(u128::from(i)),
        patient_id: Some(id(u128::from(i % 5000))),
        outcome: Outcome::Allowed,
        request_id: Some(format!("01J{i:020}")),
        reason: None,
    }
}

fn audit_bench(c: &mut Criterion) {
    let key = b"checkpoint key";
    let mut events: Vec<AuditEvent> = Vec::with_capacity(1_000_000);
    for i in 0..1_000_000 {
        let e = seal(events.last(), entry(i));
        events.push(e);
    }
    let cp = [checkpoint(&events[999_999], key)];
    assert_eq!(verify(id(1), &events, &cp, key), Ok(1_000_000));
    let last = events[999_999].clone();
    let next = entry(1_000_000);
    c.bench_function("audit_append", |b| {
        b.iter(|| seal(Some(black_box(&last)), black_box(next.clone())));
    });
    let mut g = c.benchmark_group("audit");
    g.sample_size(10);
    g.bench_function("audit_verify_1m", |b| {
        b.iter(|| verify(id(1), black_box(&events), &cp, key));
    });
    g.finish();
}

criterion_group!(benches, sweep_bench, audit_bench);
criterion_main!(benches);
