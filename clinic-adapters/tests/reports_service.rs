//! Practice reports through the ports on every store: what is counted, in which local
//! day, and who may read what.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use chrono::NaiveDate;
use clinic_core::ids::*;
use clinic_core::people::Role;
use clinic_core::ports::*;
use clinic_core::reports::Period;
use clinic_core::scheduling::CancelledBy;
use clinic_core::service::{Actor, ReportsPorts, ReportsService, ServiceError};
use common::{Fixture, practice_on};
use rust_decimal::Decimal;

fn service(f: &Fixture) -> ReportsService {
    ReportsService::new(ReportsPorts {
        practices: f.store.clone(),
        practitioners: f.store.clone(),
        appointments: f.store.clone(),
        invoices: f.store.clone(),
        claims: f.store.clone(),
        patients: f.store.clone(),
        credentials: f.store.clone(),
        clock: f.clock.clone(),
    })
}

fn actor(f: &Fixture, role: Role, practitioner: Option<PractitionerId>) -> Actor {
    Actor {
        practice_id: f.practice,
        user_id: common::ids().new_id(),
        role,
        practitioner_id: practitioner,
        patient_id: None,
        guardian_of: Vec::new(),
        request_id: None,
    }
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Monday 23 November 2026 in Sydney: four sessions booked, one a no-show, one cancelled
/// late, one cancelled in time; Sam works 09:00–17:00.
async fn utilisation_and_attendance_count_sydney_s_day(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let starts = [
        "2026-11-23T22:00:00Z", // Tuesday 09:00 AEDT
        "2026-11-23T23:00:00Z",
        "2026-11-24T00:00:00Z",
        "2026-11-24T01:00:00Z",
        "2026-11-24T02:00:00Z",
    ];
    let mut ids = Vec::new();
    for (i, s) in starts.iter().enumerate() {
        ids.push(f.service.book(f.practice, &f.request(i, s)).await.unwrap().id);
    }
    // Now is Monday 09:00: the fifth is cancelled in time (more than 24 hours ahead);
    // at 23:00 the second is cancelled late (11 hours ahead).
    f.service
        .cancel(f.practice, ids[4], CancelledBy::Patient, "travelling")
        .await
        .unwrap();
    f.clock.set(common::utc("2026-11-23T12:00:00Z"));
    f.service
        .cancel(f.practice, ids[1], CancelledBy::Patient, "unwell")
        .await
        .unwrap();
    f.clock.set(common::utc("2026-11-24T03:00:00Z"));
    f.service.mark_no_show(f.practice, ids[2]).await.unwrap();
    f.service.arrive(f.practice, ids[0]).await.unwrap();
    f.service.complete(f.practice, ids[0]).await.unwrap();

    let reports = service(&f);
    let manager = actor(&f, Role::PracticeManager, None);
    let tuesday = Period::new(d("2026-11-24"), d("2026-11-24")).unwrap();
    let u = reports.utilisation(&manager, tuesday).await.unwrap();
    assert_eq!(u.len(), 1, "{u:?}");
    // Three sessions held time (the cancelled ones did not): 3 × 50 of 480 minutes is
    // 31.25%, shown as 31.3.
    assert_eq!((u[0].available_minutes, u[0].booked_minutes), (480, 150));
    assert_eq!(u[0].utilisation_percent, Some(Decimal::new(313, 1)));
    // Monday in Sydney has none of them, though 22:00Z on the 23rd is the 23rd in UTC.
    let monday = Period::new(d("2026-11-23"), d("2026-11-23")).unwrap();
    assert_eq!(
        reports.utilisation(&manager, monday).await.unwrap()[0].booked_minutes,
        0
    );

    let a = reports.attendance(&manager, tuesday).await.unwrap();
    let practice = a.last().unwrap();
    assert_eq!(
        (
            practice.due,
            practice.attended,
            practice.no_shows,
            practice.late_cancellations,
            practice.cancellations
        ),
        (5, 1, 1, 1, 1)
    );
    assert_eq!(practice.no_show_percent, Some(Decimal::new(200, 1)));

    // Sam reads his own caseload; a stranger clinician reads an empty one; a patient and a
    // technician read none; money is for the practice-wide roles only.
    let sam = actor(&f, Role::Psychologist, Some(f.practitioner.id));
    assert_eq!(reports.attendance(&sam, tuesday).await.unwrap()[0].due, 5);
    let stranger = actor(&f, Role::Psychologist, Some(common::ids().new_id()));
    assert!(
        reports
            .utilisation(&stranger, tuesday)
            .await
            .unwrap()
            .iter()
            .all(|r| r.booked_minutes == 0)
    );
    for who in [actor(&f, Role::Patient, None), actor(&f, Role::Technician, None)] {
        assert!(matches!(
            reports.attendance(&who, tuesday).await,
            Err(ServiceError::Forbidden)
        ));
    }
    assert!(matches!(
        reports.revenue(&sam, tuesday).await,
        Err(ServiceError::Forbidden)
    ));
    assert!(reports.revenue(&actor(&f, Role::Admin, None), tuesday).await.is_ok());
    let today = reports.today(f.location.zone);
    assert_eq!(today, d("2026-11-24"));
    assert!(reports.outstanding(&manager, today).await.unwrap().invoices.is_empty());
    assert_eq!(
        reports
            .medicare_caps(&manager, 2026, today)
            .await
            .unwrap()
            .patients_claiming,
        0
    );
    assert_eq!(
        reports.medicare_caps(&manager, 2025, today).await.unwrap_err().code(),
        "invalid_field"
    );
    assert!(
        reports
            .expiring_credentials(&manager, today, 90)
            .await
            .unwrap()
            .is_empty()
    );
}

on_every_store!(utilisation_and_attendance_count_sydney_s_day);
