//! Billing benchmarks.
//!
//! - `eligibility_5y_history`: the Better Access decision for a patient with five years of
//!   history (20 sessions a year across two referrals a year) (target: under 5 µs).
//! - `invoices_10k`: building 10,000 invoices of three lines each, GST worked out per line,
//!   with a payment and a credit note, and their balances (target: under 20 ms).

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use clinic_core::billing::{CreditNote, GstRates, Invoice, LineInput, Payer, Payment, PaymentMethod, SupplyKind};
use clinic_core::ids::{InvoiceId, PatientId, PaymentId, PracticeId, ReferralId};
use clinic_core::medicare::{
    CapKind, CapTable, Catalogue, ItemMode, PastService, Referral, ReferralScope, ReferrerKind, Session, decide,
};
use clinic_core::money::Money;
use clinic_core::people::PractitionerKind;
use criterion::{Criterion, criterion_group, criterion_main};
use uuid::Uuid;

fn eligibility(c: &mut Criterion) {
    let catalogue = Catalogue::shipped();
    let caps = CapTable::shipped();
    let history: Vec<PastService> = (0..100)
        .map(|i| PastService {
            date: NaiveDate::from_ymd_opt(2021, 1, 4).unwrap() + Duration::days(i * 18),
            cap: if i % 5 == 0 {
                CapKind::Group
            } else {
                CapKind::Individual
            },
            referral_id: Some(ReferralId::from_uuid(Uuid::from_u128(u128::try_from(i / 6).unwrap()))),
            claimed: i % 13 != 0,
        })
        .collect();
    let referral = Referral {
        id: ReferralId::from_uuid(Uuid::from_u128(16)),
        practice_id: PracticeId::from_uuid(Uuid::nil()),
        patient_id: PatientId::from_uuid(Uuid::nil()),
        referrer_name: "Dr A".into(),
        referrer_kind: ReferrerKind::GeneralPractitioner,
        referrer_provider_number: None,
        mymedicare_or_usual_gp: true,
        written_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        sessions_requested: Some(6),
        scope: ReferralScope::Individual,
        letter: None,
    };
    let session = Session {
        item: "80110",
        practitioner_kind: PractitionerKind::RegisteredPsychologist,
        practitioner_permitted: true,
        mode: ItemMode::InRooms,
        minutes: 50,
        group_size: None,
        group_video_area_eligible: false,
        date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        fee_charged: Money::from_cents(22000),
    };
    assert!(
        decide(&catalogue, &caps, &session, &history, Some(&referral))
            .rebate
            .is_some()
    );
    c.bench_function("eligibility_5y_history", |b| {
        b.iter(|| {
            decide(
                black_box(&catalogue),
                black_box(&caps),
                black_box(&session),
                black_box(&history),
                Some(&referral),
            )
        });
    });
}

fn invoices(c: &mut Criterion) {
    let rates = GstRates::australia();
    let date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let at: DateTime<Utc> = "2026-11-24T00:00:00Z".parse().unwrap();
    let line = |cents: i64, supply: SupplyKind| LineInput {
        description: "Line".into(),
        service_date: date,
        quantity: 1,
        unit_price: Money::from_cents(cents),
        supply,
        registered_provider: true,
        clinically_necessary: true,
        appointment_id: None,
        medicare: None,
    };
    let inputs = [
        line(22000, SupplyKind::PsychologicalService),
        line(3995, SupplyKind::Product),
        line(50000, SupplyKind::MedicoLegalReport),
    ];
    let build = || {
        let mut balance = Money::ZERO;
        for i in 0..10_000u128 {
            let mut inv = Invoice::draft(
                InvoiceId::from_uuid(Uuid::from_u128(i)),
                PracticeId::from_uuid(Uuid::nil()),
                PatientId::from_uuid(Uuid::nil()),
                Payer::Patient,
            );
            for l in &inputs {
                inv.add_line(l.clone(), &rates).unwrap();
            }
            inv.issue(u64::try_from(i).unwrap() + 1, date).unwrap();
            inv.pay(Payment {
                id: PaymentId::from_uuid(Uuid::from_u128(i)),
                amount: Money::from_cents(20000),
                method: PaymentMethod::Card,
                at,
                reference: None,
            })
            .unwrap();
            inv.credit(CreditNote {
                amount: Money::from_cents(1000),
                at,
                reason: "discount".into(),
            })
            .unwrap();
            balance = balance + inv.balance();
        }
        balance
    };
    assert_eq!(
        build(),
        Money::from_cents(10_000 * (22000 + 3995 + 400 + 50000 + 5000 - 20000 - 1000))
    );
    let mut g = c.benchmark_group("invoices");
    g.sample_size(20);
    g.bench_function("invoices_10k", |b| b.iter(build));
    g.finish();
}

criterion_group!(benches, eligibility, invoices);
criterion_main!(benches);
