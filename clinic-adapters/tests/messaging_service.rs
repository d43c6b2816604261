//! Secure messaging through the access rules on every store: who may write to whom, read
//! receipts, every read audited, and a notice that says only that a message waits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use clinic_adapters::console::{ConsoleEmail, ConsoleMessages};
use clinic_adapters::system::UuidV7Ids;
use clinic_core::audit::Outcome;
use clinic_core::ids::*;
use clinic_core::notify::TemplateSet;
use clinic_core::people::*;
use clinic_core::ports::*;
use clinic_core::service::{
    Actor, Channels, MessagingPorts, MessagingService, NewMessage, NewThread, NotificationPorts, NotificationService,
    ServiceError,
};
use common::{Fixture, practice_on};

const SECRET: &str = "the new medication makes me dizzy";

struct World {
    f: Fixture,
    notices: NotificationService,
    messaging: MessagingService,
    /// A psychologist of the practice who has never seen patient 0.
    stranger: PractitionerId,
}

async fn world_on(store: Arc<dyn Storage>) -> World {
    let f = practice_on(store).await;
    // Sam Lee treats patient 0.
    f.service
        .book(f.practice, &f.request(0, "2026-11-23T22:00:00Z"))
        .await
        .unwrap();
    let mut p = f.store.patient(f.practice, f.patients[0]).await.unwrap();
    p.email = Some(Email::parse("patient0@example.com").unwrap());
    f.store.save_patient(&p).await.unwrap();
    let stranger = Practitioner::new(
        common::ids().new_id(),
        f.practice,
        PractitionerKind::RegisteredPsychologist,
        "Alex Moreau",
        Some(AhpraNumber::parse("PSY0007654321").unwrap()),
        vec![],
        f.practitioner.profile.clone(),
    )
    .unwrap();
    f.store.save_practitioner(&stranger).await.unwrap();
    let notices = NotificationService::new(NotificationPorts {
        practices: f.store.clone(),
        patients: f.store.clone(),
        practitioners: f.store.clone(),
        appointments: f.store.clone(),
        outbox: f.store.clone(),
        inbox: f.store.clone(),
        clock: f.clock.clone(),
        ids: Arc::new(UuidV7Ids),
    });
    let messaging = MessagingService::new(MessagingPorts {
        messages: f.store.clone(),
        care: f.store.clone(),
        audit: f.store.clone(),
        notices: notices.clone(),
        clock: f.clock.clone(),
        ids: Arc::new(UuidV7Ids),
    });
    World {
        f,
        notices,
        messaging,
        stranger: stranger.id,
    }
}

impl World {
    fn actor(&self, role: Role, practitioner: Option<PractitionerId>, patient: Option<PatientId>) -> Actor {
        Actor {
            practice_id: self.f.practice,
            user_id: common::ids().new_id(),
            role,
            practitioner_id: practitioner,
            patient_id: patient,
            guardian_of: Vec::new(),
            request_id: None,
        }
    }

    fn new_thread(&self, to: Vec<PractitionerId>) -> NewThread {
        NewThread {
            patient_id: self.f.patients[0],
            practitioner_ids: to,
            subject: "Side effects".into(),
            body: SECRET.into(),
            attachments: vec![],
            on_behalf_of: None,
        }
    }
}

fn reply(body: &str, on_behalf_of: Option<PractitionerId>) -> NewMessage {
    NewMessage {
        body: body.into(),
        attachments: vec![],
        on_behalf_of,
    }
}

async fn a_patient_writes_to_their_clinician_who_replies_with_receipts_and_a_contentless_notice(
    store: Arc<dyn Storage>,
) {
    let w = world_on(store).await;
    let sam = w.f.practitioner.id;
    let patient = w.actor(Role::Patient, None, Some(w.f.patients[0]));
    let clinician = w.actor(Role::Psychologist, Some(sam), None);
    let started = w.messaging.start(&patient, &w.new_thread(vec![sam])).await.unwrap();
    let thread = started.thread.id;

    // Sam sees one unread thread, opens it (a receipt), and answers.
    let list = w.messaging.threads(&clinician).await.unwrap();
    assert_eq!((list.len(), list[0].unread), (1, 1));
    w.f.clock.advance(chrono::Duration::minutes(5));
    let opened = w.messaging.read(&clinician, thread).await.unwrap();
    assert_eq!(opened.messages[0].message.body, SECRET);
    assert_eq!(opened.messages[0].read_by, [clinician.user_id]);
    assert_eq!(w.messaging.threads(&clinician).await.unwrap()[0].unread, 0);
    w.f.clock.advance(chrono::Duration::minutes(5));
    w.messaging
        .post(&clinician, thread, &reply("Please call the clinic today.", None))
        .await
        .unwrap();
    let mine = w.messaging.threads(&patient).await.unwrap();
    assert_eq!((mine[0].messages, mine[0].unread), (2, 1));

    // The patient is told a message waits, and nothing of what it says.
    let email = Arc::new(ConsoleEmail::new());
    let channels = Channels {
        email: email.clone(),
        messages: Arc::new(ConsoleMessages::new()),
        whatsapp_templates: BTreeMap::new(),
        templates: TemplateSet::default(),
        join_base: None,
        inbox_link: Some("https://clinic.example/messages".into()),
    };
    assert_eq!(w.notices.dispatch(w.f.practice, &channels, 10).await.unwrap().sent, 1);
    let sent = email.sent();
    assert!(
        sent[0].text.contains("https://clinic.example/messages"),
        "{}",
        sent[0].text
    );
    for text in [&sent[0].subject, &sent[0].text] {
        assert!(
            !text.contains("call the clinic") && !text.contains("Side effects"),
            "{text}"
        );
    }

    // Every start, list, read and write is in the audit log, none with content.
    let events = w.f.store.events(w.f.practice, 0, 1000).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.entry.action.as_str()).collect();
    for a in [
        "message_thread.create",
        "message_thread.list",
        "message_thread.read",
        "message.write",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert!(events.iter().all(|e| !format!("{:?}", e.entry).contains("dizzy")));
}

async fn nobody_writes_outside_their_care_and_managers_read_no_messages(store: Arc<dyn Storage>) {
    let w = world_on(store).await;
    let sam = w.f.practitioner.id;
    let patient = w.actor(Role::Patient, None, Some(w.f.patients[0]));
    // A patient may only write to clinicians who treat them.
    let e = w
        .messaging
        .start(&patient, &w.new_thread(vec![w.stranger]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_field");
    assert!(!e.to_string().contains("dizzy"));
    // Nor for another patient.
    let other = w.actor(Role::Patient, None, Some(w.f.patients[1]));
    assert!(matches!(
        w.messaging.start(&other, &w.new_thread(vec![sam])).await,
        Err(ServiceError::Forbidden)
    ));
    let thread = w
        .messaging
        .start(&patient, &w.new_thread(vec![sam]))
        .await
        .unwrap()
        .thread
        .id;
    // A clinician outside the thread, another patient and the practice manager may not read it.
    let outsider = w.actor(Role::Psychologist, Some(w.stranger), None);
    for who in [&outsider, &other, &w.actor(Role::PracticeManager, None, None)] {
        assert!(
            matches!(w.messaging.read(who, thread).await, Err(ServiceError::Forbidden)),
            "{:?}",
            who.role
        );
    }
    assert!(w.messaging.threads(&outsider).await.unwrap().is_empty());
    assert!(matches!(
        w.messaging.threads(&w.actor(Role::Admin, None, None)).await,
        Err(ServiceError::Forbidden)
    ));
    // The front desk writes only on behalf of a clinician of the thread, and says so.
    let desk = w.actor(Role::Technician, None, None);
    let e = w
        .messaging
        .post(&desk, thread, &reply("Hello", None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_field");
    let e = w
        .messaging
        .post(&desk, thread, &reply("Hello", Some(w.stranger)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_field");
    let m = w
        .messaging
        .post(&desk, thread, &reply("Dr Lee asks you to call.", Some(sam)))
        .await
        .unwrap();
    assert!(m.message.author.on_behalf);
    assert_eq!(m.message.author.practitioner_id, Some(sam));
    // A blank message is refused without being stored.
    assert_eq!(
        w.messaging
            .post(&patient, thread, &reply("  ", None))
            .await
            .unwrap_err()
            .code(),
        "invalid_field"
    );
    assert_eq!(w.f.store.messages(w.f.practice, thread).await.unwrap().len(), 2);
    // Another practice's store holds nothing of it.
    let elsewhere: PracticeId = common::ids().new_id();
    assert_eq!(
        w.f.store.thread(elsewhere, thread).await.unwrap_err().kind(),
        PortErrorKind::NotFound
    );
    assert!(w.f.store.messages(elsewhere, thread).await.unwrap().is_empty());
    let denied =
        w.f.store
            .events(w.f.practice, 0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.entry.outcome == Outcome::Denied)
            .count();
    assert!(denied >= 4, "every refusal is audited: {denied}");
}

on_every_store!(
    a_patient_writes_to_their_clinician_who_replies_with_receipts_and_a_contentless_notice,
    nobody_writes_outside_their_care_and_managers_read_no_messages,
);
