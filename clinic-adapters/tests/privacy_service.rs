//! Data-access exports (APP 12) over every storage adapter (memory, SQLite, PostgreSQL).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use clinic_adapters::export::{to_csv, to_json};
use clinic_core::audit::Outcome;
use clinic_core::billing::{LineInput, Payer, SupplyKind};
use clinic_core::clinical::{NoteKind, Soap};
use clinic_core::ids::*;
use clinic_core::money::Money;
use clinic_core::people::Role;
use clinic_core::ports::*;
use clinic_core::practice::AuState;
use clinic_core::privacy::AccessRequest;
use clinic_core::scheduling::CancelledBy;
use clinic_core::service::{Actor, Refusal, ServiceError};
use common::{practice_on, utc};

async fn a_manager_exports_everything_held_and_the_export_is_audited(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let p = f.patients[0];
    let kept = f
        .service
        .book(f.practice, &f.request(0, "2026-11-23T22:00:00Z"))
        .await
        .unwrap();
    let gone = f
        .service
        .book(f.practice, &f.request(0, "2026-11-24T22:00:00Z"))
        .await
        .unwrap();
    f.service
        .cancel(f.practice, gone.id, CancelledBy::Patient, "travel")
        .await
        .unwrap();
    let billing = f.billing(Arc::new(clinic_adapters::manual_claims::ManualClaims::new()));
    let line = LineInput {
        description: "Workbook".into(),
        service_date: "2026-11-24".parse().unwrap(),
        quantity: 1,
        unit_price: Money::from_cents(2500),
        supply: SupplyKind::Product,
        registered_provider: true,
        clinically_necessary: false,
        appointment_id: None,
        medicare: None,
    };
    billing
        .create_invoice(f.practice, p, Payer::Patient, vec![line])
        .await
        .unwrap();
    let clinical = f.clinical();
    let sam = Actor {
        practice_id: f.practice,
        user_id: common::ids().new_id(),
        role: Role::Psychologist,
        practitioner_id: Some(f.practitioner.id),
        patient_id: None,
        guardian_of: Vec::new(),
        request_id: None,
    };
    let note = |plan: &str| Soap {
        plan: plan.into(),
        ..Soap::default()
    };
    let signed = clinical
        .create(&sam, p, NoteKind::Progress, note("Review in two weeks"))
        .await
        .unwrap();
    clinical.sign(&sam, signed.id).await.unwrap();
    // The author's process note and an unsigned draft are held, but are not the record.
    clinical
        .create(&sam, p, NoteKind::Process, note("Countertransference: impatience"))
        .await
        .unwrap();
    clinical
        .create(&sam, p, NoteKind::Progress, note("Unfinished draft"))
        .await
        .unwrap();

    let privacy = f.privacy();
    let today: chrono::NaiveDate = "2026-11-25".parse().unwrap();
    assert!(
        matches!(
            privacy.export(&sam, p, today, "json").await,
            Err(ServiceError::Forbidden)
        ),
        "clinicians do not process access requests"
    );
    let manager = Actor {
        role: Role::PracticeManager,
        practitioner_id: None,
        ..sam.clone()
    };
    // Without the patient's request there is nothing to answer.
    assert!(matches!(
        privacy.export(&manager, p, today, "json").await,
        Err(ServiceError::Refused(Refusal::NoAccessRequest))
    ));
    let asked = "2026-11-24".parse().unwrap();
    f.store
        .save_access_request(f.practice, p, &AccessRequest::new(AuState::NSW, asked))
        .await
        .unwrap();
    let export = privacy.export(&manager, p, today, "json").await.unwrap();
    let answered = f.store.access_requests(f.practice).await.unwrap();
    assert_eq!(answered.len(), 1);
    assert_eq!(
        answered[0].1.provided,
        Some((today, "json".to_owned())),
        "the request is answered"
    );
    assert!(
        matches!(
            privacy.export(&manager, p, today, "json").await,
            Err(ServiceError::Refused(Refusal::NoAccessRequest))
        ),
        "one request, one export"
    );
    assert_eq!(export.patient.id, p);
    assert_eq!(
        export.appointments.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![kept.id, gone.id],
        "cancelled ones too"
    );
    assert_eq!(export.invoices.len(), 1);
    assert_eq!(export.notes.iter().map(|n| n.id).collect::<Vec<_>>(), vec![signed.id]);
    let json = to_json(&export).unwrap();
    assert!(json.contains("Review in two weeks") && json.contains("Patient0"));
    assert!(
        !json.contains("Countertransference") && !json.contains("Unfinished draft"),
        "{json}"
    );
    let csv = to_csv(&export).unwrap();
    assert!(csv.contains("notes,notes[0].soap.plan,Review in two weeks\r\n"));
    assert!(csv.contains("appointments,appointments[1].status.state,cancelled\r\n"));
    // The PDF rendition holds the same values, through the renderer port.
    use clinic_core::ports::DocumentRenderer;
    let doc = clinic_adapters::export::to_document("Records held about patient", &export).unwrap();
    assert!(
        doc.sections
            .iter()
            .any(|(s, lines)| s == "notes" && lines.iter().any(|l| l == "notes[0].soap.plan: Review in two weeks"))
    );
    let pdf = clinic_adapters::pdf::PdfRenderer.render_pdf(&doc).await.unwrap();
    assert!(pdf.starts_with(b"%PDF-1.7"));
    let text = pdf_extract::extract_text_from_mem(&pdf).unwrap();
    assert!(text.contains("notes[0].soap.plan: Review in two weeks"), "{text}");
    std::fs::write(std::env::temp_dir().join("clinic-rs-export-example.pdf"), &pdf).unwrap();
    // The document the patient reads: sections in words, names for ids, local times.
    let names = clinic_adapters::export::Names {
        practice: "Harbour Psychology".into(),
        practitioners: [(f.practitioner.id, f.practitioner.display_name.clone())].into(),
        locations: [(f.location.id, (f.location.name.clone(), f.location.zone))].into(),
        services: [(f.session.id, f.session.name.clone())].into(),
        zone: Some(f.location.zone),
    };
    let readable = clinic_adapters::export::readable(&export, &names);
    let lines: Vec<String> = readable.sections.iter().flat_map(|(_, l)| l.clone()).collect();
    let all = lines.join("\n");
    assert_eq!(readable.title, "Your records at Harbour Psychology");
    assert!(all.contains("  Plan: Review in two weeks"), "{all}");
    assert!(
        all.contains(&format!("Note by {}", f.practitioner.display_name)),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "Tuesday 24 November 2026 at 9:00 am AEDT: {} with {}",
            f.session.name, f.practitioner.display_name
        )),
        "{all}"
    );
    assert!(all.contains("(cancelled)"), "{all}");
    assert!(all.contains("Workbook (24 November 2026): $27.50 (GST $2.50)"), "{all}");
    for id in [p.to_string(), kept.id.to_string(), f.practitioner.id.to_string()] {
        assert!(!all.contains(&id), "an id in the patient's document: {id}");
    }
    assert!(!all.contains("Countertransference") && !all.contains("Unfinished draft"));
    let pdf = clinic_adapters::pdf::PdfRenderer.render_pdf(&readable).await.unwrap();
    let text = pdf_extract::extract_text_from_mem(&pdf).unwrap();
    assert!(text.contains("Review in two weeks"), "{text}");
    let audit: Vec<_> = f
        .store
        .events(f.practice, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == "export.create")
        .map(|e| e.entry.outcome)
        .collect();
    assert_eq!(
        audit,
        vec![Outcome::Denied, Outcome::Denied, Outcome::Allowed, Outcome::Denied],
        "a refusal is audited as denied, whatever refused it"
    );
    // Another practice's manager finds nothing of this patient.
    let elsewhere = Actor {
        practice_id: common::ids().new_id(),
        ..manager
    };
    f.store
        .save_access_request(elsewhere.practice_id, p, &AccessRequest::new(AuState::NSW, asked))
        .await
        .unwrap();
    assert!(matches!(
        privacy.export(&elsewhere, p, today, "json").await,
        Err(ServiceError::NotFound { entity: "patient" })
    ));
    let _: PatientId = p;
}

async fn consents_and_access_requests_are_kept_and_overdue_ones_flagged(store: Arc<dyn Storage>) {
    use clinic_core::practice::AuState;
    use clinic_core::privacy::{Consent, ConsentKind, ConsentMethod};
    let f = practice_on(store).await;
    let privacy = f.privacy();
    let p = f.patients[0];
    let consent = |granted, at: &str| Consent {
        patient_id: p,
        kind: ConsentKind::Telehealth,
        granted,
        at: at.parse().unwrap(),
        method: ConsentMethod::Online,
    };
    assert!(
        privacy
            .record_consent(f.practice, &consent(true, "2026-11-01T00:00:00Z"))
            .await
            .unwrap()
            .is_current(&ConsentKind::Telehealth)
    );
    let ledger = privacy
        .record_consent(f.practice, &consent(false, "2026-11-20T00:00:00Z"))
        .await
        .unwrap();
    assert!(!ledger.is_current(&ConsentKind::Telehealth));
    assert_eq!(ledger.records().len(), 2, "a withdrawal adds a record");
    let received = "2026-11-23".parse().unwrap();
    let me = Actor {
        practice_id: f.practice,
        user_id: common::ids().new_id(),
        role: Role::Patient,
        practitioner_id: None,
        patient_id: Some(p),
        guardian_of: Vec::new(),
        request_id: None,
    };
    let stranger = Actor {
        patient_id: Some(f.patients[1]),
        ..me.clone()
    };
    assert!(
        matches!(
            privacy.request_access(&stranger, p, AuState::NSW, received).await,
            Err(ServiceError::Forbidden)
        ),
        "only for oneself"
    );
    let req = privacy.request_access(&me, p, AuState::NSW, received).await.unwrap();
    assert_eq!(req.due_on, "2027-01-07".parse().unwrap());
    assert!(
        privacy
            .overdue(f.practice, "2027-01-07".parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        privacy
            .overdue(f.practice, "2027-01-08".parse().unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
    privacy
        .mark_provided(
            f.practice,
            p,
            received,
            "2027-01-08".parse().unwrap(),
            "secure download link",
        )
        .await
        .unwrap();
    assert!(
        privacy
            .overdue(f.practice, "2027-01-09".parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    let wrong_day = privacy
        .mark_provided(f.practice, p, "2026-11-22".parse().unwrap(), received, "x")
        .await
        .unwrap_err();
    assert_eq!(wrong_day.code(), "not_found");
}

async fn deletion_is_refused_while_records_must_be_kept_then_carried_out(store: Arc<dyn Storage>) {
    use clinic_core::privacy::DeletionOutcome;
    let f = practice_on(store).await;
    let privacy = f.privacy();
    let clinical = f.clinical();
    let p = f.patients[0];
    // A session on Tuesday 24 Nov 2026, 09:00 Sydney, completed, with a note.
    let a = f
        .service
        .book(f.practice, &f.request(0, "2026-11-23T22:00:00Z"))
        .await
        .unwrap();
    f.service.arrive(f.practice, a.id).await.unwrap();
    f.service.complete(f.practice, a.id).await.unwrap();
    let sam = Actor {
        practice_id: f.practice,
        user_id: common::ids().new_id(),
        role: Role::Psychologist,
        practitioner_id: Some(f.practitioner.id),
        patient_id: None,
        guardian_of: Vec::new(),
        request_id: None,
    };
    clinical
        .create(
            &sam,
            p,
            NoteKind::Progress,
            Soap {
                plan: "plan".into(),
                ..Soap::default()
            },
        )
        .await
        .unwrap();
    let manager = Actor {
        role: Role::PracticeManager,
        practitioner_id: None,
        ..sam.clone()
    };

    assert!(matches!(
        privacy
            .process_deletion(&sam, p, &f.location, "2026-11-25".parse().unwrap())
            .await,
        Err(ServiceError::Forbidden)
    ));
    // Nothing is destroyed unless the patient asked.
    assert!(matches!(
        privacy
            .process_deletion(&manager, p, &f.location, "2033-11-24".parse().unwrap())
            .await,
        Err(ServiceError::Refused(Refusal::NoDeletionRequest))
    ));
    let me = Actor {
        role: Role::Patient,
        practitioner_id: None,
        patient_id: Some(p),
        ..sam.clone()
    };
    assert!(matches!(
        privacy.request_deletion(&sam, p, "2033-11-20".parse().unwrap()).await,
        Err(ServiceError::Forbidden)
    ));
    privacy
        .request_deletion(&me, p, "2033-11-20".parse().unwrap())
        .await
        .unwrap();
    // Health information beyond notes: an intake with a risk answer, a message thread.
    f.store
        .save_submission(
            f.practice,
            p,
            &clinic_core::clinical::IntakeSubmission {
                form_version: 1,
                answers: std::collections::BTreeMap::new(),
                submitted_at: utc("2026-11-20T00:00:00Z"),
                amendments: Vec::new(),
            },
        )
        .await
        .unwrap();
    let thread = clinic_core::messaging::Thread {
        id: common::ids().new_id(),
        practice_id: f.practice,
        patient_id: p,
        practitioner_ids: vec![f.practitioner.id],
        subject: "Between sessions".into(),
        started_at: utc("2026-11-20T00:00:00Z"),
    };
    f.store.save_thread(&thread).await.unwrap();
    f.store
        .add_message(&clinic_core::messaging::Message {
            id: common::ids().new_id(),
            practice_id: f.practice,
            thread_id: thread.id,
            author: clinic_core::messaging::Author {
                user_id: common::ids().new_id(),
                role: Role::Patient,
                practitioner_id: None,
                on_behalf: false,
            },
            body: "I had a bad week".into(),
            attachments: Vec::new(),
            sent_at: utc("2026-11-20T00:00:00Z"),
        })
        .await
        .unwrap();
    // The day before the 7-year anniversary of the last service (in Sydney): refused, named.
    let refused = privacy
        .process_deletion(&manager, p, &f.location, "2033-11-23".parse().unwrap())
        .await
        .unwrap();
    assert!(
        matches!(&refused.outcome, DeletionOutcome::RefusedUntil { until, rule } if *until == "2033-11-24".parse().unwrap() && rule.source.contains("NSW")),
        "{refused:?}"
    );
    assert_eq!((refused.deidentified, refused.records_destroyed), (false, 0));
    assert!(refused.kept.is_empty());
    assert_eq!(
        f.store.patient(f.practice, p).await.unwrap().legal_name.given,
        "Patient0",
        "nothing erased"
    );
    // The anniversary itself: carried out.
    let done = privacy
        .process_deletion(&manager, p, &f.location, "2033-11-24".parse().unwrap())
        .await
        .unwrap();
    assert!(matches!(done.outcome, DeletionOutcome::Approved { .. }));
    assert_eq!(
        (done.deidentified, done.records_destroyed),
        (true, 4),
        "the note, the intake, the thread and its message"
    );
    assert!(done.kept.iter().any(|k| k.starts_with("invoices")), "{:?}", done.kept);
    assert!(f.store.submission(f.practice, p).await.unwrap().is_none());
    assert!(f.store.patient_threads(f.practice, p).await.unwrap().is_empty());
    assert!(f.store.messages(f.practice, thread.id).await.unwrap().is_empty());
    // Carried out once: a second run finds no open request.
    assert!(matches!(
        privacy
            .process_deletion(&manager, p, &f.location, "2033-11-25".parse().unwrap())
            .await,
        Err(ServiceError::Refused(Refusal::NoDeletionRequest))
    ));
    // A correction never names the de-identified record again.
    let named = clinic_core::people::PatientSpec::new("Named", "Again", "1990-05-05".parse().unwrap());
    assert!(matches!(
        privacy.correct(&manager, p, named, "2033-11-26".parse().unwrap()).await,
        Err(ServiceError::Refused(Refusal::Deidentified))
    ));
    let record = f.store.patient(f.practice, p).await.unwrap();
    assert_eq!(
        (record.legal_name.given.as_str(), record.date_of_birth),
        ("Deleted", "1990-01-01".parse().unwrap())
    );
    assert!(f.store.notes(f.practice, p).await.unwrap().is_empty());
    let actions: Vec<_> = f
        .store
        .events(f.practice, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.entry.action, e.entry.outcome))
        .collect();
    assert!(actions.contains(&("patient.destroyed".to_owned(), Outcome::Allowed)));
    assert_eq!(actions.iter().filter(|(a, _)| a == "deletion.process").count(), 5);
    // Someone never seen has nothing that must be kept.
    privacy
        .request_deletion(&manager, f.patients[7], "2026-11-25".parse().unwrap())
        .await
        .unwrap();
    let never = privacy
        .process_deletion(&manager, f.patients[7], &f.location, "2026-11-25".parse().unwrap())
        .await
        .unwrap();
    assert!(matches!(never.outcome, DeletionOutcome::Approved { .. }) && never.deidentified);
}

async fn corrections_are_applied_with_history_or_declined_with_the_patients_statement(store: Arc<dyn Storage>) {
    use clinic_core::people::PatientSpec;
    use clinic_core::privacy::CorrectionOutcome;
    let f = practice_on(store).await;
    let privacy = f.privacy();
    let p = f.patients[0];
    let actor = |role| Actor {
        practice_id: f.practice,
        user_id: common::ids().new_id(),
        role,
        practitioner_id: None,
        patient_id: None,
        guardian_of: Vec::new(),
        request_id: None,
    };
    let manager = actor(Role::PracticeManager);
    let today = "2026-11-23".parse().unwrap();
    let fixed = PatientSpec::new("Patient0", "Tést-Family", "1990-01-01".parse().unwrap());
    assert!(matches!(
        privacy
            .correct(&actor(Role::Psychologist), p, fixed.clone(), today)
            .await,
        Err(ServiceError::Forbidden)
    ));
    let next = privacy.correct(&manager, p, fixed, today).await.unwrap();
    assert_eq!(next.legal_name.family, "Tést-Family");
    assert_eq!(
        f.store.patient(f.practice, p).await.unwrap().legal_name.family,
        "Tést-Family"
    );
    let bad = PatientSpec::new("Patient0", "Test", "2030-01-01".parse().unwrap());
    assert_eq!(
        privacy.correct(&manager, p, bad, today).await.unwrap_err().code(),
        "invalid_field"
    );
    assert_eq!(
        privacy
            .decline_correction(&manager, p, " ", None)
            .await
            .unwrap_err()
            .code(),
        "invalid_field"
    );
    privacy
        .decline_correction(
            &manager,
            p,
            "The diagnosis is a clinical opinion",
            Some("I disagree with the diagnosis".into()),
        )
        .await
        .unwrap();
    let history = privacy.corrections(&manager, p).await.unwrap();
    assert!(
        matches!(&history[0], CorrectionOutcome::Applied { revision } if revision.changed == vec!["legal_name".to_owned()] && revision.previous.legal_name.family == "Test")
    );
    assert!(matches!(&history[1], CorrectionOutcome::Declined { statement: Some(s), .. } if s.contains("disagree")));
}

/// A signed note documents a service even when no appointment was marked completed: the
/// record is kept seven years from it, not deleted as if nothing had been provided.
async fn a_signed_note_alone_is_kept_for_the_retention_period(store: Arc<dyn Storage>) {
    use clinic_core::privacy::DeletionOutcome;
    let f = practice_on(store).await;
    let p = f.patients[1];
    // Booked, not completed: the practitioner treats the patient, and writes and signs a
    // note on Tuesday 24 November 2026 (Sydney).
    f.service
        .book(f.practice, &f.request(1, "2026-11-23T22:00:00Z"))
        .await
        .unwrap();
    f.clock.set(utc("2026-11-24T01:00:00Z"));
    let sam = Actor {
        practice_id: f.practice,
        user_id: common::ids().new_id(),
        role: Role::Psychologist,
        practitioner_id: Some(f.practitioner.id),
        patient_id: None,
        guardian_of: Vec::new(),
        request_id: None,
    };
    let note = f
        .clinical()
        .create(&sam, p, NoteKind::Progress, Soap::default())
        .await
        .unwrap();
    f.clinical().sign(&sam, note.id).await.unwrap();
    let manager = Actor {
        role: Role::PracticeManager,
        practitioner_id: None,
        ..sam
    };
    f.privacy()
        .request_deletion(&manager, p, "2026-11-25".parse().unwrap())
        .await
        .unwrap();
    let r = f
        .privacy()
        .process_deletion(&manager, p, &f.location, "2026-11-25".parse().unwrap())
        .await
        .unwrap();
    assert!(
        matches!(&r.outcome, DeletionOutcome::RefusedUntil { until, .. } if *until == "2033-11-24".parse().unwrap()),
        "{r:?}"
    );
    assert_eq!(
        f.store.notes(f.practice, p).await.unwrap().len(),
        1,
        "nothing destroyed"
    );
}

/// A session invoiced a week ago is a service: the record is kept seven years from it,
/// though no appointment was completed and no note signed.
async fn an_invoiced_session_alone_is_kept_for_the_retention_period(store: Arc<dyn Storage>) {
    use clinic_core::privacy::DeletionOutcome;
    let f = practice_on(store).await;
    let p = f.patients[2];
    let billing = f.billing(Arc::new(clinic_adapters::manual_claims::ManualClaims::new()));
    let line = LineInput {
        description: "Individual therapy, 50 minutes".into(),
        service_date: "2026-11-18".parse().unwrap(),
        quantity: 1,
        unit_price: Money::from_cents(22_000),
        supply: SupplyKind::PsychologicalService,
        registered_provider: true,
        clinically_necessary: true,
        appointment_id: None,
        medicare: None,
    };
    // A line dated at the end of time, as an attacker entered it, starts no retention
    // period: that service has not been provided.
    let mut never = line.clone();
    never.service_date = chrono::NaiveDate::MAX;
    let draft = billing
        .create_invoice(f.practice, p, Payer::Patient, vec![line, never])
        .await
        .unwrap();
    billing.issue(f.practice, draft.id, f.location.zone).await.unwrap();
    let manager = Actor {
        practice_id: f.practice,
        user_id: common::ids().new_id(),
        role: Role::PracticeManager,
        practitioner_id: None,
        patient_id: None,
        guardian_of: Vec::new(),
        request_id: None,
    };
    let today = "2026-11-25".parse().unwrap();
    f.privacy().request_deletion(&manager, p, today).await.unwrap();
    let r = f
        .privacy()
        .process_deletion(&manager, p, &f.location, today)
        .await
        .unwrap();
    assert!(
        matches!(&r.outcome, DeletionOutcome::RefusedUntil { until, .. } if *until == "2033-11-18".parse().unwrap()),
        "{r:?}"
    );
    assert!(!r.deidentified);
    assert_eq!(
        f.store.patient(f.practice, p).await.unwrap().legal_name.given,
        "Patient2"
    );
}

on_every_store!(
    an_invoiced_session_alone_is_kept_for_the_retention_period,
    a_signed_note_alone_is_kept_for_the_retention_period,
    a_manager_exports_everything_held_and_the_export_is_audited,
    consents_and_access_requests_are_kept_and_overdue_ones_flagged,
    deletion_is_refused_while_records_must_be_kept_then_carried_out,
    corrections_are_applied_with_history_or_declined_with_the_patients_statement,
);
