//! The telehealth gate over stored data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use clinic_core::people::{ContactPerson, Phone};
use clinic_core::ports::*;
use clinic_core::privacy::{Consent, ConsentKind, ConsentMethod};
use clinic_core::scheduling::DeliveryMode;
use clinic_core::service::{TelehealthPorts, TelehealthService};
use clinic_core::telehealth::{Missing, SessionPrep};
use common::practice_on;

async fn a_video_session_starts_only_when_everything_is_in_place(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let p = f.patients[0];
    let mut req = f.request(0, "2026-11-23T22:00:00Z");
    req.mode = DeliveryMode::Video;
    let video = f.service.book(f.practice, &req).await.unwrap();
    let gate = TelehealthService::new(TelehealthPorts {
        practices: f.store.clone(),
        appointments: f.store.clone(),
        patients: f.store.clone(),
        practitioners: f.store.clone(),
        privacy: f.store.clone(),
        prep: f.store.clone(),
        clock: f.clock.clone(),
    });
    let missing = gate.check(f.practice, video.id, false).await.unwrap().unwrap_err();
    assert_eq!(
        missing,
        vec![
            Missing::TelehealthConsent { patient_id: p },
            Missing::EmergencyContact { patient_id: p },
            Missing::EmergencyPlan { patient_id: p },
            Missing::PatientLocation { patient_id: p },
            Missing::TechnicalAcknowledgement { patient_id: p },
        ]
    );
    f.store
        .record_consent(
            f.practice,
            &Consent {
                patient_id: p,
                kind: ConsentKind::Telehealth,
                granted: true,
                at: "2026-11-20T00:00:00Z".parse().unwrap(),
                method: ConsentMethod::Online,
            },
        )
        .await
        .unwrap();
    let mut patient = f.store.patient(f.practice, p).await.unwrap();
    patient.emergency_contact = Some(ContactPerson {
        name: "Sam Nguyen".into(),
        relationship: "partner".into(),
        phone: Phone::parse("0412 345 678").unwrap(),
        email: None,
    });
    f.store.save_patient(&patient).await.unwrap();
    let prep = SessionPrep {
        emergency_plan: true,
        location: Some("Home, Parramatta".into()),
        technical_acknowledged: true,
    };
    f.store.save_prep(f.practice, video.id, p, &prep).await.unwrap();
    assert_eq!(gate.check(f.practice, video.id, false).await.unwrap(), Ok(()));
    assert_eq!(
        gate.check(f.practice, video.id, true).await.unwrap(),
        Err(vec![Missing::RecordingConsent { patient_id: p }]),
        "recording is a separate opt-in"
    );
    let in_person = f
        .service
        .book(f.practice, &f.request(1, "2026-11-24T22:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        gate.check(f.practice, in_person.id, false).await.unwrap_err().code(),
        "invalid_field"
    );
}

on_every_store!(a_video_session_starts_only_when_everything_is_in_place,);
