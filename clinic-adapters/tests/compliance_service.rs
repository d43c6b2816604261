//! The compliance sweep end to end over every storage adapter (memory, SQLite, PostgreSQL).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use chrono::NaiveDate;
use clinic_core::credentials::{Credentials, Insurance, Registration, RegistrationType, RenewalRules, SweepAction};
use clinic_core::money::Money;
use clinic_core::ports::*;
use clinic_core::scheduling::StatusKind;
use clinic_core::service::{CompliancePorts, ComplianceService};
use common::practice_on;

fn creds(f: &common::Fixture, reg: &str) -> Credentials {
    Credentials {
        practitioner_id: Some(f.practitioner.id),
        registrations: vec![Registration {
            number: f.practitioner.ahpra_number.clone().unwrap(),
            kind: RegistrationType::General,
            endorsements: vec![],
            conditions: vec![],
            expires_on: reg.parse().unwrap(),
        }],
        insurances: vec![Insurance {
            insurer: "I".into(),
            policy_number: "P".into(),
            cover: Money::from_cents(1),
            expires_on: NaiveDate::from_ymd_opt(2027, 6, 30).unwrap(),
            certificate: None,
        }],
    }
}

async fn lapsed_registration_suspends_cancels_and_reinstates_on_renewal(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let a = f
        .service
        .book(f.practice, &f.request(0, "2026-11-23T22:00:00Z"))
        .await
        .unwrap();
    let b = f
        .service
        .book(f.practice, &f.request(1, "2026-11-24T22:00:00Z"))
        .await
        .unwrap();
    // Registration expired 30 Nov 2025; the late period ended 31 Dec 2025.
    f.store
        .save_credentials(f.practice, f.practitioner.id, &creds(&f, "2025-11-30"))
        .await
        .unwrap();
    let sweep = ComplianceService::new(
        CompliancePorts {
            practices: f.store.clone(),
            practitioners: f.store.clone(),
            credentials: f.store.clone(),
            appointments: f.store.clone(),
            log: f.store.clone(),
            privacy: f.store.clone(),
            clock: f.clock.clone(),
        },
        f.service.clone(),
        RenewalRules::history(),
    );
    let actions = sweep.run(f.practice).await.unwrap().actions;
    assert!(actions.iter().any(|x| matches!(
        x,
        SweepAction::Suspend {
            reason_code: "registration_lapsed",
            ..
        }
    )));
    assert_eq!(
        actions
            .iter()
            .filter(|x| matches!(x, SweepAction::CancelAppointment { .. }))
            .count(),
        2
    );
    for id in [a.id, b.id] {
        assert_eq!(
            f.store.appointment(f.practice, id).await.unwrap().status_kind(),
            StatusKind::Cancelled
        );
    }
    assert!(sweep.run(f.practice).await.unwrap().actions.is_empty(), "idempotent");
    let refused = f
        .service
        .book(f.practice, &f.request(2, "2026-11-25T22:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "practitioner_not_permitted");
    // The renewal arrives.
    f.store
        .save_credentials(f.practice, f.practitioner.id, &creds(&f, "2027-11-30"))
        .await
        .unwrap();
    assert_eq!(
        sweep.run(f.practice).await.unwrap().actions,
        vec![SweepAction::Reinstate {
            practitioner_id: f.practitioner.id
        }]
    );
    f.service
        .book(f.practice, &f.request(2, "2026-11-25T22:00:00Z"))
        .await
        .unwrap();
}

async fn expiring_insurance_warns_once(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let mut c = creds(&f, "2027-11-30");
    c.insurances[0].expires_on = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
    f.store
        .save_credentials(f.practice, f.practitioner.id, &c)
        .await
        .unwrap();
    let sweep = ComplianceService::new(
        CompliancePorts {
            practices: f.store.clone(),
            practitioners: f.store.clone(),
            credentials: f.store.clone(),
            appointments: f.store.clone(),
            log: f.store.clone(),
            privacy: f.store.clone(),
            clock: f.clock.clone(),
        },
        f.service.clone(),
        RenewalRules::history(),
    );
    let first = sweep.run(f.practice).await.unwrap().actions;
    assert!(
        matches!(first.as_slice(), [SweepAction::Warn(k)] if k.credential == "insurance"),
        "{first:?}"
    );
    assert!(sweep.run(f.practice).await.unwrap().actions.is_empty());
    // An access request received 40 days ago in NSW (45 days) is not yet overdue; one in
    // Victoria's 30 days would be, and the sweep lists it.
    let received = NaiveDate::from_ymd_opt(2026, 10, 14).unwrap();
    let request = clinic_core::privacy::AccessRequest::new(clinic_core::practice::AuState::NSW, received);
    f.store
        .save_access_request(f.practice, f.patients[3], &request)
        .await
        .unwrap();
    assert!(sweep.run(f.practice).await.unwrap().overdue_access_requests.is_empty());
    let vic = clinic_core::privacy::AccessRequest::new(clinic_core::practice::AuState::VIC, received);
    f.store
        .save_access_request(f.practice, f.patients[4], &vic)
        .await
        .unwrap();
    let report = sweep.run(f.practice).await.unwrap();
    assert_eq!(report.overdue_access_requests, vec![(f.patients[4], vic)]);
}

on_every_store!(
    lapsed_registration_suspends_cancels_and_reinstates_on_renewal,
    expiring_insurance_warns_once,
);
