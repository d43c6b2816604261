//! Prescriptions, test results and outcome measures through the access rules, audited.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use chrono::Duration;
use clinic_adapters::system::UuidV7Ids;
use clinic_core::audit::Outcome;
use clinic_core::clinical::{Instrument, PrescriptionSpec, ResultValue, Severity};
use clinic_core::ids::*;
use clinic_core::people::{AhpraNumber, Practitioner, PractitionerKind, PractitionerProfile, Role};
use clinic_core::ports::*;
use clinic_core::scheduling::{Appointment, AppointmentStatus, DeliveryMode};
use clinic_core::service::{Actor, RecordsPorts, RecordsService, ServiceError};
use clinic_core::time::TimeRange;
use common::{practice_on, utc};

async fn who_may_prescribe_record_review_and_read(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let p = f.patients[0];
    let doctor = Practitioner::new(
        common::ids().new_id(),
        f.practice,
        PractitionerKind::Doctor,
        "Dr Rae",
        Some(AhpraNumber::parse("MED0001234567").unwrap()),
        vec![],
        PractitionerProfile::default(),
    )
    .unwrap();
    let tech = Practitioner::new(
        common::ids().new_id(),
        f.practice,
        PractitionerKind::Technician,
        "Lee",
        None,
        vec![],
        PractitionerProfile::default(),
    )
    .unwrap();
    f.store.save_practitioner(&doctor).await.unwrap();
    f.store.save_practitioner(&tech).await.unwrap();
    // The doctor and the psychologist both treat patient 0.
    let interval = TimeRange::starting_at(utc("2026-11-20T00:00:00Z"), Duration::minutes(30)).unwrap();
    let seen = Appointment {
        id: common::ids().new_id(),
        practice_id: f.practice,
        practitioner_id: doctor.id,
        patient_ids: vec![p],
        service_id: f.session.id,
        location_id: f.location.id,
        room_id: None,
        mode: DeliveryMode::InPerson,
        interval,
        blocked: interval,
        status: AppointmentStatus::Completed,
        series_id: None,
        history: vec![],
        created_at: utc("2026-11-01T00:00:00Z"),
    };
    f.store.commit(f.practice, &[], &[seen]).await.unwrap();
    f.service
        .book(f.practice, &f.request(0, "2026-11-23T22:00:00Z"))
        .await
        .unwrap();
    let records = RecordsService::new(RecordsPorts {
        records: f.store.clone(),
        practitioners: f.store.clone(),
        care: f.store.clone(),
        audit: f.store.clone(),
        clock: f.clock.clone(),
        ids: Arc::new(UuidV7Ids),
    });
    let actor = |role, practitioner: Option<PractitionerId>, patient: Option<PatientId>| Actor {
        practice_id: f.practice,
        user_id: common::ids().new_id(),
        role,
        practitioner_id: practitioner,
        patient_id: patient,
        guardian_of: Vec::new(),
        request_id: None,
    };
    let dr = actor(Role::Doctor, Some(doctor.id), None);
    let sam = actor(Role::Psychologist, Some(f.practitioner.id), None);
    let lee = actor(Role::Technician, Some(tech.id), None);
    let me = actor(Role::Patient, None, Some(p));
    let someone_else = actor(Role::Patient, None, Some(f.patients[1]));
    let manager = actor(Role::PracticeManager, None, None);

    let spec = PrescriptionSpec {
        medication: "Sertraline 50 mg tablet".into(),
        dose: "50 mg".into(),
        route: "oral".into(),
        frequency: "once daily".into(),
        quantity: 30,
        repeats: 5,
        written_on: "2026-11-23".parse().unwrap(),
        valid_until: "2027-11-23".parse().unwrap(),
    };
    records.prescribe(&dr, p, &spec).await.unwrap();
    assert!(
        matches!(records.prescribe(&sam, p, &spec).await, Err(ServiceError::Forbidden)),
        "psychologists do not prescribe"
    );
    assert_eq!(
        records.prescriptions(&sam, p).await.unwrap().len(),
        1,
        "but read their patients' prescriptions"
    );
    assert_eq!(records.prescriptions(&me, p).await.unwrap().len(), 1);
    assert!(matches!(
        records.prescriptions(&someone_else, p).await,
        Err(ServiceError::Forbidden)
    ));

    let value = ResultValue {
        analyte: "TSH".into(),
        value: "2.1".parse().unwrap(),
        unit: "mIU/L".into(),
        reference_low: Some("0.4".parse().unwrap()),
        reference_high: Some("4.0".parse().unwrap()),
    };
    let result = records.record_result(&lee, p, doctor.id, vec![value]).await.unwrap();
    assert!(records.results(&me, p).await.unwrap().is_empty(), "not reviewed yet");
    // A report filed with it: the technician files (twice is once), the patient waits for
    // the review, a psychologist who does not treat the patient never opens it.
    let report = DocumentRef {
        digest: "a".repeat(64),
        kind: DocumentType::Pdf,
        size: 1024,
    };
    records.attach_to_result(&lee, result.id, report.clone()).await.unwrap();
    let filed = records.attach_to_result(&lee, result.id, report.clone()).await.unwrap();
    assert_eq!(filed.attachments, std::slice::from_ref(&report));
    assert!(matches!(
        records.attach_to_result(&me, result.id, report.clone()).await,
        Err(ServiceError::Forbidden)
    ));
    assert!(matches!(
        records.result_attachment(&me, result.id, &report.digest).await,
        Err(ServiceError::Forbidden)
    ));
    let stranger = actor(Role::Psychologist, Some(common::ids().new_id()), None);
    assert!(matches!(
        records.result_attachment(&stranger, result.id, &report.digest).await,
        Err(ServiceError::Forbidden)
    ));
    assert!(matches!(
        records.review_result(&sam, result.id).await,
        Err(ServiceError::Forbidden)
    ));
    records.review_result(&dr, result.id).await.unwrap();
    assert_eq!(records.results(&me, p).await.unwrap().len(), 1);
    assert_eq!(
        records.result_attachment(&me, result.id, &report.digest).await.unwrap(),
        report
    );
    assert!(matches!(
        records.result_attachment(&me, result.id, &"b".repeat(64)).await,
        Err(ServiceError::NotFound { .. })
    ));
    let actions: Vec<String> = f
        .store
        .events(f.practice, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry.action)
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "test_result.attach").count(), 3);
    assert_eq!(
        actions.iter().filter(|a| *a == "test_result.attachment.read").count(),
        4
    );

    let first = records
        .complete_measure(&me, p, Instrument::K10, vec![3; 10])
        .await
        .unwrap();
    assert_eq!(first.scores[0].severity, Severity::Severe);
    f.clock.advance(Duration::days(28));
    records
        .complete_measure(&me, p, Instrument::K10, vec![2; 10])
        .await
        .unwrap();
    let series = records.measures(&sam, p).await.unwrap();
    assert_eq!(
        series.iter().map(|m| m.scores[0].value).collect::<Vec<_>>(),
        vec![30, 20],
        "progress over time"
    );
    assert_eq!(
        records
            .complete_measure(&me, p, Instrument::Phq9, vec![0; 3])
            .await
            .unwrap_err()
            .code(),
        "invalid_field"
    );
    assert!(
        matches!(records.measures(&manager, p).await, Err(ServiceError::Forbidden)),
        "managers do not read clinical data"
    );

    let goals = vec![clinic_core::clinical::TreatmentGoal {
        description: "Sleep seven hours most nights".into(),
        achieved: false,
    }];
    let plan = records
        .set_plan(&sam, p, goals, "2027-02-23".parse().unwrap())
        .await
        .unwrap();
    assert!(!plan.review_due("2027-02-22".parse().unwrap()) && plan.review_due("2027-02-23".parse().unwrap()));
    assert_eq!(records.plan(&sam, p).await.unwrap(), plan);
    assert!(
        matches!(records.plan(&me, p).await, Err(ServiceError::Forbidden)),
        "plans are not shared with the patient by default"
    );
    assert!(matches!(records.plan(&manager, p).await, Err(ServiceError::Forbidden)));
    assert_eq!(
        records
            .set_plan(&sam, p, vec![], "2027-02-23".parse().unwrap())
            .await
            .unwrap_err()
            .code(),
        "invalid_field"
    );

    let events = f.store.events(f.practice, 0, 1000).await.unwrap();
    assert_eq!(events.len(), 27, "one event per call (27 calls), refusals included");
    assert_eq!(events.iter().filter(|e| e.entry.outcome == Outcome::Denied).count(), 9);
    assert!(
        !format!("{events:?}").contains("Sertraline"),
        "no clinical content in the audit trail"
    );
}

on_every_store!(who_may_prescribe_record_review_and_read,);
