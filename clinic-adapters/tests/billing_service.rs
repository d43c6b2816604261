//! Invoices and Medicare claims end to end over every storage adapter (memory, SQLite, PostgreSQL).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use clinic_adapters::manual_claims::ManualClaims;
use clinic_adapters::memory::MemoryStore;
use clinic_core::billing::{
    BillingError, ClaimStatus, InvoiceStatus, LineInput, LineMedicare, Payer, PaymentMethod, SupplyKind,
};
use clinic_core::ids::*;
use clinic_core::medicare::{CapKind, Ineligible, PastService, Referral, ReferralScope, ReferrerKind};
use clinic_core::money::Money;
use clinic_core::ports::*;
use clinic_core::service::{BillingService, BookingWarning, CapCount, ClaimRequest, ServiceError};
use common::{Fixture, practice_on, utc};
use proptest::prelude::*;

struct World {
    f: Fixture,
    billing: BillingService,
    gateway: Arc<ManualClaims>,
    referral: ReferralId,
}

async fn world() -> World {
    world_on(Arc::new(MemoryStore::new())).await
}

async fn world_on(store: Arc<dyn Storage>) -> World {
    let f = practice_on(store).await;
    let gateway = Arc::new(ManualClaims::new());
    let billing = f.billing(gateway.clone());
    let referral = Referral {
        id: common::ids().new_id(),
        practice_id: f.practice,
        patient_id: f.patients[0],
        referrer_name: "Dr Jane Citizen".into(),
        referrer_kind: ReferrerKind::GeneralPractitioner,
        referrer_provider_number: None,
        mymedicare_or_usual_gp: true,
        written_on: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        sessions_requested: Some(6),
        scope: ReferralScope::Individual,
        letter: None,
    };
    f.store.save_referral(&referral).await.unwrap();
    World {
        referral: referral.id,
        f,
        billing,
        gateway,
    }
}

impl World {
    /// Books, completes and invoices a 50-minute session for patient 0, `n` hours after
    /// Tuesday 24 Nov 2026 09:00 Sydney (8 a day on consecutive weekdays).
    async fn session(&self, n: i64) -> InvoiceId {
        let day = n / 8;
        let start = utc("2026-11-23T22:00:00Z") + Duration::days(day) + Duration::hours(n % 8);
        let a = self
            .f
            .service
            .book(self.f.practice, &self.f.request(0, &start.to_rfc3339()))
            .await
            .unwrap();
        self.f.service.arrive(self.f.practice, a.id).await.unwrap();
        self.f.service.complete(self.f.practice, a.id).await.unwrap();
        let line = LineInput {
            description: "Individual therapy, 50 minutes".into(),
            service_date: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap() + Duration::days(day),
            quantity: 1,
            unit_price: Money::from_cents(22000),
            supply: SupplyKind::PsychologicalService,
            registered_provider: true,
            clinically_necessary: true,
            appointment_id: Some(a.id),
            medicare: Some(LineMedicare {
                item: "80110".into(),
                provider_name: "Sam Lee".into(),
                provider_number: None,
                rebate: Money::from_cents(10155),
                bulk_billed: false,
                referral: Some("Dr Jane Citizen, 1 Nov 2026".into()),
            }),
        };
        let inv = self
            .billing
            .create_invoice(self.f.practice, self.f.patients[0], Payer::Patient, vec![line])
            .await
            .unwrap();
        self.billing
            .issue(self.f.practice, inv.id, chrono_tz::Australia::Sydney)
            .await
            .unwrap()
            .id
    }

    fn request(&self, invoice: InvoiceId) -> ClaimRequest {
        ClaimRequest {
            invoice_id: invoice,
            line: 0,
            referral_id: Some(self.referral),
            out_of_rooms: false,
            group_video_area_eligible: false,
        }
    }

    /// `n` claimed sessions earlier in 2026 at another practice.
    async fn external(&self, n: usize) {
        for i in 0..n {
            let s = PastService {
                date: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap() + Duration::days(i as i64 * 7),
                cap: CapKind::Individual,
                referral_id: None,
                claimed: true,
            };
            self.f
                .store
                .record_external(self.f.practice, self.f.patients[0], &s)
                .await
                .unwrap();
        }
    }
}

async fn invoice_claim_lodge_pay(store: Arc<dyn Storage>) {
    let w = world_on(store).await;
    let inv = w.session(0).await;
    let issued = w.f.store.invoice(w.f.practice, inv).await.unwrap();
    assert_eq!(issued.number, Some(1));
    assert_eq!(issued.status(), InvoiceStatus::Issued);
    let decision = w.billing.decide(w.f.practice, &w.request(inv)).await.unwrap();
    assert!(decision.claimable, "{:?}", decision.reasons);
    assert_eq!(decision.rebate, Some(Money::from_cents(10155)));
    assert_eq!(decision.gap, Some(Money::from_cents(11845)));
    let claim = w.billing.claim(w.f.practice, &w.request(inv)).await.unwrap();
    assert_eq!(claim.status, ClaimStatus::Draft);
    assert_eq!(claim.benefit, Money::from_cents(10155));
    let again = w.billing.claim(w.f.practice, &w.request(inv)).await.unwrap_err();
    assert_eq!(again.code(), "invalid_field", "a line is claimed once");
    let lodged = w.billing.lodge(w.f.practice, claim.id).await.unwrap();
    assert!(matches!(&lodged.status, ClaimStatus::Lodged { reference, .. } if reference.starts_with("MANUAL-")));
    assert_eq!(w.gateway.forms().len(), 1);
    assert_eq!(
        w.billing.lodge(w.f.practice, claim.id).await.unwrap_err().code(),
        "illegal_claim_transition"
    );
    let paid = w
        .billing
        .record_outcome(w.f.practice, claim.id, Ok(Money::from_cents(10155)))
        .await
        .unwrap();
    assert!(matches!(paid.status, ClaimStatus::Paid { .. }));
    let inv = w
        .billing
        .pay(w.f.practice, inv, Money::from_cents(22000), PaymentMethod::Card, None)
        .await
        .unwrap();
    assert_eq!(inv.status(), InvoiceStatus::Paid);
}

async fn eleventh_session_is_refused_but_can_be_invoiced_privately(store: Arc<dyn Storage>) {
    let w = world_on(store).await;
    w.external(10).await;
    let inv = w.session(0).await;
    let err = w.billing.claim(w.f.practice, &w.request(inv)).await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::NotClaimable { reasons } if reasons == &vec![Ineligible::AnnualCapReached { used: 10, cap: 10 }]),
        "{err:?}"
    );
    // The private invoice stands and can be paid in full.
    let paid = w
        .billing
        .pay(w.f.practice, inv, Money::from_cents(22000), PaymentMethod::Card, None)
        .await
        .unwrap();
    assert_eq!(paid.status(), InvoiceStatus::Paid);
}

async fn unfinished_session_cannot_be_claimed(store: Arc<dyn Storage>) {
    let w = world_on(store).await;
    let a =
        w.f.service
            .book(w.f.practice, &w.f.request(1, "2026-11-23T22:00:00Z"))
            .await
            .unwrap();
    let line = LineInput {
        description: "Session".into(),
        service_date: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        quantity: 1,
        unit_price: Money::from_cents(22000),
        supply: SupplyKind::PsychologicalService,
        registered_provider: true,
        clinically_necessary: true,
        appointment_id: Some(a.id),
        medicare: Some(LineMedicare {
            item: "80110".into(),
            provider_name: "Sam Lee".into(),
            provider_number: None,
            rebate: Money::from_cents(10155),
            bulk_billed: false,
            referral: None,
        }),
    };
    let inv = w
        .billing
        .create_invoice(w.f.practice, w.f.patients[1], Payer::Patient, vec![line])
        .await
        .unwrap();
    w.billing
        .issue(w.f.practice, inv.id, chrono_tz::Australia::Sydney)
        .await
        .unwrap();
    let err = w.billing.claim(w.f.practice, &w.request(inv.id)).await.unwrap_err();
    assert!(err.to_string().contains("must be completed"), "{err}");
}

async fn a_suspended_practitioners_claims_are_not_lodged(store: Arc<dyn Storage>) {
    let w = world_on(store).await;
    let inv = w.session(0).await;
    let claim = w.billing.claim(w.f.practice, &w.request(inv)).await.unwrap();
    let mut p = w.f.practitioner.clone();
    p.suspension = Some(clinic_core::people::Suspension {
        reason_code: "insurance_expired".into(),
        from: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
    });
    w.f.store.save_practitioner(&p).await.unwrap();
    assert_eq!(
        w.billing.lodge(w.f.practice, claim.id).await.unwrap_err().code(),
        "practitioner_not_permitted"
    );
    assert!(w.gateway.forms().is_empty());
}

async fn clinical_items_need_the_clinical_endorsement(store: Arc<dyn Storage>) {
    use clinic_core::credentials::{Credentials, Endorsement, Insurance, Registration, RegistrationType};
    let w = world_on(store).await;
    let mut p = w.f.practitioner.clone();
    p.kind = clinic_core::people::PractitionerKind::ClinicalPsychologist;
    w.f.store.save_practitioner(&p).await.unwrap();
    let inv = w.session(0).await;
    // An issued invoice's lines cannot change, so a new invoice carries item 80010.
    let mut stored = w.f.store.invoice(w.f.practice, inv).await.unwrap();
    stored.lines[0].medicare.as_mut().unwrap().item = "80010".into();
    w.f.store.update(&stored).await.unwrap_err();
    let mut line = LineInput {
        description: "Psychological therapy, 50 minutes".into(),
        service_date: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        quantity: 1,
        unit_price: Money::from_cents(25000),
        supply: SupplyKind::PsychologicalService,
        registered_provider: true,
        clinically_necessary: true,
        appointment_id: stored.lines[0].appointment_id,
        medicare: stored.lines[0].medicare.clone(),
    };
    line.medicare.as_mut().unwrap().rebate = Money::from_cents(14905);
    let clinical = w
        .billing
        .create_invoice(w.f.practice, w.f.patients[0], Payer::Patient, vec![line])
        .await
        .unwrap();
    let clinical = w
        .billing
        .issue(w.f.practice, clinical.id, chrono_tz::Australia::Sydney)
        .await
        .unwrap()
        .id;
    let err = w.billing.claim(w.f.practice, &w.request(clinical)).await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::NotClaimable { reasons } if reasons.iter().any(|r| r.code() == "provider_kind_not_allowed")),
        "{err:?}"
    );
    let creds = Credentials {
        practitioner_id: Some(p.id),
        registrations: vec![Registration {
            number: p.ahpra_number.clone().unwrap(),
            kind: RegistrationType::General,
            endorsements: vec![Endorsement::ClinicalPsychology],
            conditions: vec![],
            expires_on: NaiveDate::from_ymd_opt(2027, 11, 30).unwrap(),
        }],
        insurances: vec![Insurance {
            insurer: "I".into(),
            policy_number: "P".into(),
            cover: Money::from_cents(1),
            expires_on: NaiveDate::from_ymd_opt(2027, 6, 30).unwrap(),
            certificate: None,
        }],
    };
    w.f.store.save_credentials(w.f.practice, p.id, &creds).await.unwrap();
    let claim = w.billing.claim(w.f.practice, &w.request(clinical)).await.unwrap();
    assert_eq!(
        (claim.item.as_str(), claim.benefit),
        ("80010", Money::from_cents(14905))
    );
}

async fn rejection_frees_the_place_under_the_cap(store: Arc<dyn Storage>) {
    let w = world_on(store).await;
    w.external(9).await;
    let first = w.session(0).await;
    let second = w.session(1).await;
    let c = w.billing.claim(w.f.practice, &w.request(first)).await.unwrap();
    assert!(matches!(
        w.billing.claim(w.f.practice, &w.request(second)).await,
        Err(ServiceError::NotClaimable { .. })
    ));
    w.billing.lodge(w.f.practice, c.id).await.unwrap();
    w.billing
        .record_outcome(w.f.practice, c.id, Err("patient not eligible on date".into()))
        .await
        .unwrap();
    w.billing.claim(w.f.practice, &w.request(second)).await.unwrap();
}

/// 16 tasks claim the last session under the cap at once: exactly one claim is made.
async fn sixteen_claims_for_the_last_capped_session_one_wins(store: Arc<dyn Storage>) {
    let w = Arc::new(world_on(store).await);
    w.external(9).await;
    let mut invoices = Vec::new();
    for n in 0..16 {
        invoices.push(w.session(n).await);
    }
    let tasks: Vec<_> = invoices
        .into_iter()
        .map(|inv| {
            let w = w.clone();
            tokio::spawn(async move { w.billing.claim(w.f.practice, &w.request(inv)).await })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(ServiceError::NotClaimable { reasons }) => {
                assert!(reasons.iter().any(|r| r.code() == "annual_cap_reached"), "{reasons:?}");
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(won, 1);
    let history = w.f.store.history(w.f.practice, w.f.patients[0]).await.unwrap();
    assert_eq!(history.past_services().iter().filter(|s| s.claimed).count(), 10);
}

/// 100 drafts issued concurrently get the numbers 1 to 100, each once.
async fn hundred_concurrent_invoices_are_numbered_without_gaps(store: Arc<dyn Storage>) {
    let w = Arc::new(world_on(store).await);
    let mut drafts = Vec::new();
    for i in 0..100 {
        let line = LineInput {
            description: format!("Workbook {i}"),
            service_date: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            quantity: 1,
            unit_price: Money::from_cents(2500),
            supply: SupplyKind::Product,
            registered_provider: true,
            clinically_necessary: false,
            appointment_id: None,
            medicare: None,
        };
        drafts.push(
            w.billing
                .create_invoice(w.f.practice, w.f.patients[i % 40], Payer::Patient, vec![line])
                .await
                .unwrap()
                .id,
        );
    }
    let tasks: Vec<_> = drafts
        .into_iter()
        .map(|id| {
            let w = w.clone();
            tokio::spawn(async move {
                w.billing
                    .issue(w.f.practice, id, chrono_tz::Australia::Sydney)
                    .await
                    .unwrap()
                    .number
                    .unwrap()
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=100).collect::<Vec<u64>>());
}

/// 20 concurrent payments of $20 against $220 owed: 11 land, 9 are refused, nothing is
/// overpaid.
async fn concurrent_payments_never_overpay(store: Arc<dyn Storage>) {
    let w = Arc::new(world_on(store).await);
    let inv = w.session(0).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move {
                w.billing
                    .pay(w.f.practice, inv, Money::from_cents(2000), PaymentMethod::Card, None)
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(ServiceError::Billing(BillingError::Overpayment { .. })) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ok, 11);
    let stored = w.f.store.invoice(w.f.practice, inv).await.unwrap();
    assert_eq!(stored.balance(), Money::ZERO);
}

async fn booking_warns_but_books(store: Arc<dyn Storage>) {
    let w = world_on(store).await;
    // Patient 1 has no referral and ten sessions claimed this year.
    for i in 0..10 {
        let s = PastService {
            date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + Duration::days(i * 7),
            cap: CapKind::Individual,
            referral_id: None,
            claimed: true,
        };
        w.f.store
            .record_external(w.f.practice, w.f.patients[1], &s)
            .await
            .unwrap();
    }
    let a =
        w.f.service
            .book(w.f.practice, &w.f.request(1, "2026-11-23T22:00:00Z"))
            .await
            .unwrap();
    let warnings = w.billing.booking_warnings(w.f.practice, a.id).await.unwrap();
    assert_eq!(
        warnings,
        vec![
            BookingWarning::WouldExceedCap { counted: 10, cap: 10 },
            BookingWarning::NoReferral
        ]
    );
    // Patient 0 has a 6-session referral: with five other bookings the sixth is still
    // covered; with six, the seventh needs a new referral.
    for n in 0..5 {
        let start = utc("2026-11-24T22:00:00Z") + Duration::hours(n);
        w.f.service
            .book(w.f.practice, &w.f.request(0, &start.to_rfc3339()))
            .await
            .unwrap();
    }
    let sixth =
        w.f.service
            .book(w.f.practice, &w.f.request(0, "2026-11-25T22:00:00Z"))
            .await
            .unwrap();
    assert_eq!(
        w.billing.booking_warnings(w.f.practice, sixth.id).await.unwrap(),
        vec![]
    );
    let seventh =
        w.f.service
            .book(w.f.practice, &w.f.request(0, "2026-11-25T23:00:00Z"))
            .await
            .unwrap();
    assert_eq!(
        w.billing.booking_warnings(w.f.practice, seventh.id).await.unwrap(),
        vec![BookingWarning::NeedsNewReferral]
    );
}

/// Group sessions count against the group cap and individual ones against the individual
/// cap: six group sessions booked ahead use up neither the individual cap nor an
/// individual referral's course, and ten group claims warn a group booking only.
async fn booking_warnings_count_each_cap_apart(store: Arc<dyn Storage>) {
    use clinic_core::practice::{Service, ServiceSpec};
    let w = world_on(store).await;
    let group = Service::new(
        common::ids().new_id(),
        w.f.practice,
        ServiceSpec {
            name: "Group therapy".into(),
            duration_minutes: 60,
            price: Money::from_cents(9000),
            buffer_before_minutes: 0,
            buffer_after_minutes: 0,
            telehealth_allowed: false,
            default_mbs_item: Some("80120".into()),
            max_patients: 10,
        },
    )
    .unwrap();
    w.f.store.save_service(&group).await.unwrap();
    let book = |service: ServiceId, start: &str| {
        let mut req = w.f.request(0, start);
        req.service_id = service;
        let w = &w;
        async move {
            let a = w.f.service.book(w.f.practice, &req).await.unwrap();
            w.billing.booking_warnings(w.f.practice, a.id).await.unwrap()
        }
    };
    // Weekdays at 09:00 in Sydney.
    for day in [0, 1, 2, 3, 6, 7] {
        let start = utc("2026-11-23T22:00:00Z") + Duration::days(day);
        assert_eq!(book(group.id, &start.to_rfc3339()).await, vec![]);
    }
    assert_eq!(book(w.f.session.id, "2026-12-02T01:00:00Z").await, vec![]);
    for i in 0..10 {
        let s = PastService {
            date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap() + Duration::days(i * 7),
            cap: CapKind::Group,
            referral_id: None,
            claimed: true,
        };
        w.f.store
            .record_external(w.f.practice, w.f.patients[0], &s)
            .await
            .unwrap();
    }
    // Ten claimed and six ahead, not counting this one.
    assert_eq!(
        book(group.id, "2026-12-03T22:00:00Z").await,
        vec![
            BookingWarning::WouldExceedCap { counted: 16, cap: 10 },
            BookingWarning::NeedsNewReferral
        ]
    );
    assert_eq!(book(w.f.session.id, "2026-12-04T01:00:00Z").await, vec![]);
}

/// The usage the practice and the patient see: claims by the service date's calendar year
/// (never the server's), bookings ahead, and the referral course.
async fn cap_usage_counts_by_the_service_year(store: Arc<dyn Storage>) {
    let w = world_on(store).await;
    w.external(7).await;
    // New Year's Eve 2025 counts in 2025 only.
    let nye = PastService {
        date: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        cap: CapKind::Individual,
        referral_id: None,
        claimed: true,
    };
    w.f.store
        .record_external(w.f.practice, w.f.patients[0], &nye)
        .await
        .unwrap();
    let inv = w.session(0).await;
    w.billing.claim(w.f.practice, &w.request(inv)).await.unwrap();
    // Booked ahead: one in December 2026, one in January 2027 (at 10:00 in Sydney, which
    // is still 4 January in UTC).
    w.f.service
        .book(w.f.practice, &w.f.request(0, "2026-12-01T22:00:00Z"))
        .await
        .unwrap();
    w.f.service
        .book(w.f.practice, &w.f.request(0, "2027-01-04T23:00:00Z"))
        .await
        .unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let now = w
        .billing
        .cap_usage(w.f.practice, w.f.patients[0], 2026, today)
        .await
        .unwrap();
    assert_eq!(
        now.individual,
        CapCount {
            claimed: 8,
            booked: 1,
            cap: 10,
            remaining: 1
        }
    );
    assert_eq!(now.group.claimed, 0);
    let course = now.course.unwrap();
    assert_eq!((course.referral_id, course.covers, course.used), (w.referral, 6, 1));
    let next = w
        .billing
        .cap_usage(
            w.f.practice,
            w.f.patients[0],
            2027,
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        next.individual,
        CapCount {
            claimed: 0,
            booked: 1,
            cap: 10,
            remaining: 9
        }
    );
    let last = w
        .billing
        .cap_usage(
            w.f.practice,
            w.f.patients[0],
            2025,
            NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(last.individual.claimed, 1);
    assert!(last.course.is_none(), "the referral was written in 2026");
    assert_eq!(
        w.billing
            .cap_usage(
                w.f.practice,
                w.f.patients[0],
                2026,
                NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
            )
            .await
            .unwrap_err()
            .code(),
        "invalid_field"
    );
}

#[derive(Debug, Clone)]
enum Op {
    Claim(usize),
    Reject(usize),
    Pay(usize),
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// After any interleaving of claims, rejections and payments, the claims that count in
    /// 2026 never exceed the cap.
    #[test]
    fn counted_claims_never_exceed_the_cap(prior in 0usize..10, ops in proptest::collection::vec(prop_oneof![
        3 => (0usize..14).prop_map(Op::Claim),
        1 => (0usize..14).prop_map(Op::Reject),
        1 => (0usize..14).prop_map(Op::Pay),
    ], 1..30)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let w = world().await;
            w.external(prior).await;
            let mut invoices = Vec::new();
            for n in 0..14 {
                invoices.push(w.session(i64::from(n)).await);
            }
            for op in ops {
                let history = w.f.store.history(w.f.practice, w.f.patients[0]).await.unwrap();
                match op {
                    Op::Claim(i) => {
                        let _ = w.billing.claim(w.f.practice, &w.request(invoices[i])).await;
                    }
                    Op::Reject(i) | Op::Pay(i) => {
                        if let Some(c) = history.claims.get(i % history.claims.len().max(1)) {
                            if c.status == ClaimStatus::Draft {
                                w.billing.lodge(w.f.practice, c.id).await.unwrap();
                            }
                            let outcome = if matches!(op, Op::Reject(_)) { Err("rejected".to_owned()) } else { Ok(c.benefit) };
                            let _ = w.billing.record_outcome(w.f.practice, c.id, outcome).await;
                        }
                    }
                }
                let history = w.f.store.history(w.f.practice, w.f.patients[0]).await.unwrap();
                let counted = history.past_services().iter().filter(|s| s.claimed && s.date.format("%Y").to_string() == "2026").count();
                assert!(counted <= 10, "{counted} sessions counted");
            }
        });
    }
}

on_every_store!(
    invoice_claim_lodge_pay,
    eleventh_session_is_refused_but_can_be_invoiced_privately,
    unfinished_session_cannot_be_claimed,
    a_suspended_practitioners_claims_are_not_lodged,
    clinical_items_need_the_clinical_endorsement,
    rejection_frees_the_place_under_the_cap,
    sixteen_claims_for_the_last_capped_session_one_wins,
    hundred_concurrent_invoices_are_numbered_without_gaps,
    concurrent_payments_never_overpay,
    booking_warns_but_books,
    booking_warnings_count_each_cap_apart,
    cap_usage_counts_by_the_service_year,
);
