//! Appointment notices end to end over every store: queued once, sent when due through
//! each patient's channels, retried and parked on failure, skipped when moot, and updated
//! by delivery reports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::Duration;
use clinic_adapters::console::{ConsoleEmail, ConsoleMessages};
use clinic_adapters::system::UuidV7Ids;
use clinic_core::notify::{Audience, Occasion, OutboxState, TemplateSet, Via};
use clinic_core::people::{Email, Phone};
use clinic_core::ports::IdGeneratorExt as _;
use clinic_core::ports::*;
use clinic_core::scheduling::{CancelledBy, DeliveryMode};
use clinic_core::service::{Channels, DispatchReport, NotificationPorts, NotificationService};
use common::{Fixture, practice_on, utc};

fn service(f: &Fixture) -> NotificationService {
    NotificationService::new(NotificationPorts {
        practices: f.store.clone(),
        patients: f.store.clone(),
        practitioners: f.store.clone(),
        appointments: f.store.clone(),
        outbox: f.store.clone(),
        inbox: f.store.clone(),
        clock: f.clock.clone(),
        ids: Arc::new(UuidV7Ids),
    })
}

fn channels(email: Arc<dyn EmailSender>, messages: Arc<dyn MessageSender>) -> Channels {
    Channels {
        email,
        messages,
        whatsapp_templates: BTreeMap::new(),
        templates: TemplateSet::default(),
        join_base: Some("https://clinic.example/join".into()),
        inbox_link: Some("https://clinic.example/messages".into()),
    }
}

/// Gives patient `i` an email address and a mobile, wanting reminders by both.
async fn reachable(f: &Fixture, i: usize, sms: bool) {
    let mut p = f.store.patient(f.practice, f.patients[i]).await.unwrap();
    p.email = Some(Email::parse(&format!("patient{i}@example.com")).unwrap());
    p.phone = Some(Phone::parse("0412 345 678").unwrap());
    p.reminders.sms = sms;
    f.store.save_patient(&p).await.unwrap();
}

/// A practice on `store` whose patient `i` wants notices by email only, with the notice
/// service, an email outbox and the channels through it, and that patient's booking at
/// `start`.
struct EmailOnly {
    f: Fixture,
    notices: NotificationService,
    email: Arc<ConsoleEmail>,
    ch: Channels,
    appt: clinic_core::scheduling::Appointment,
}

async fn booked_by_email(store: Arc<dyn Storage>, i: usize, start: &str) -> EmailOnly {
    let f = practice_on(store).await;
    reachable(&f, i, false).await;
    let notices = service(&f);
    let email = Arc::new(ConsoleEmail::new());
    let ch = channels(email.clone(), Arc::new(ConsoleMessages::new()));
    let appt = f.service.book(f.practice, &f.request(i, start)).await.unwrap();
    EmailOnly {
        f,
        notices,
        email,
        ch,
        appt,
    }
}

async fn a_booking_confirms_now_and_reminds_a_day_ahead(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    reachable(&f, 0, true).await;
    let notices = service(&f);
    let email = Arc::new(ConsoleEmail::new());
    let sms = Arc::new(ConsoleMessages::new());
    let ch = channels(email.clone(), sms.clone());
    // Wednesday 25 November 2026, 11:00 Sydney (00:00Z), by video.
    let mut req = f.request(0, "2026-11-25T00:00:00Z");
    req.mode = DeliveryMode::Video;
    let appt = f.service.book(f.practice, &req).await.unwrap();
    assert_eq!(notices.appointment_booked(f.practice, &appt).await.unwrap(), 6);
    assert_eq!(
        notices.appointment_booked(f.practice, &appt).await.unwrap(),
        0,
        "queued once"
    );

    let first = notices.dispatch(f.practice, &ch, 50).await.unwrap();
    assert_eq!(first.sent, 2, "the confirmation, by email and by SMS: {first:?}");
    let sent = email.sent();
    assert_eq!(sent[0].subject, "Your appointment at Harbour Psychology is booked");
    assert!(
        sent[0].text.contains("Wednesday 25 November 2026 at 11:00 am AEDT"),
        "{}",
        sent[0].text
    );
    assert!(sent[0].text.contains("by video"));
    assert!(!sent[0].text.contains("therapy"), "no service name, nothing clinical");
    assert!(sms.sent()[0].body.starts_with("Harbour Psychology: your appointment"));
    assert_eq!(
        notices.dispatch(f.practice, &ch, 50).await.unwrap(),
        DispatchReport::default()
    );

    // One second before 24 hours ahead: nothing; at 24 hours: the reminder and the link.
    f.clock.set(utc("2026-11-23T23:59:59Z"));
    assert_eq!(notices.dispatch(f.practice, &ch, 50).await.unwrap().sent, 0);
    f.clock.set(utc("2026-11-24T00:00:00Z"));
    assert_eq!(notices.dispatch(f.practice, &ch, 50).await.unwrap().sent, 4);
    let subjects: Vec<String> = email.sent().iter().map(|e| e.subject.clone()).collect();
    assert!(subjects.contains(&"Reminder: your appointment at Harbour Psychology".to_owned()));
    let link = email
        .sent()
        .into_iter()
        .find(|e| e.subject.starts_with("Joining your video appointment"))
        .unwrap();
    assert!(link.text.contains(&format!("https://clinic.example/join/{}", appt.id)));

    // Delivery reports land on the notification sent under that provider id.
    let stored = f
        .store
        .notifications_about(f.practice, appt.id.as_uuid())
        .await
        .unwrap();
    let sms_confirmation = stored
        .iter()
        .find(|n| n.via == Via::Sms && n.occasion == Occasion::AppointmentConfirmation)
        .unwrap();
    let provider_id = sms_confirmation.provider_id.clone().unwrap();
    assert!(
        f.store
            .record_delivery(f.practice, &provider_id, DeliveryStatus::Delivered, None)
            .await
            .unwrap()
    );
    let after = f
        .store
        .notifications_about(f.practice, appt.id.as_uuid())
        .await
        .unwrap();
    assert_eq!(
        after.iter().find(|n| n.id == sms_confirmation.id).unwrap().state,
        OutboxState::Delivered
    );
}

async fn a_cancelled_appointment_sends_its_notice_and_skips_its_reminder(store: Arc<dyn Storage>) {
    let EmailOnly {
        f,
        notices,
        email,
        ch,
        appt,
    } = booked_by_email(store, 1, "2026-11-26T00:00:00Z").await;
    assert_eq!(
        notices.appointment_booked(f.practice, &appt).await.unwrap(),
        2,
        "email only"
    );
    notices.dispatch(f.practice, &ch, 50).await.unwrap();
    let outcome = f
        .service
        .cancel(f.practice, appt.id, CancelledBy::Patient, "cannot attend")
        .await
        .unwrap();
    assert_eq!(
        notices
            .appointment_cancelled(f.practice, &outcome.appointment)
            .await
            .unwrap(),
        1
    );
    assert_eq!(notices.dispatch(f.practice, &ch, 50).await.unwrap().sent, 1);
    assert!(email.sent().last().unwrap().subject.ends_with("is cancelled"));
    f.clock.set(utc("2026-11-25T00:00:00Z"));
    let report = notices.dispatch(f.practice, &ch, 50).await.unwrap();
    assert_eq!((report.sent, report.skipped), (0, 1), "the reminder is moot");
    assert_eq!(email.sent().len(), 2);
}

/// A moved appointment: the new time is confirmed at once, the reminder planned for the
/// old time is skipped when it comes due (a day before the old start), and the new
/// reminder goes a day before the new start.
async fn a_moved_appointment_confirms_its_new_time_and_reminds_for_it_alone(store: Arc<dyn Storage>) {
    // Wednesday 25 November 2026, 11:00 Sydney, moved to Friday 27 November, 11:00.
    let EmailOnly {
        f,
        notices,
        email,
        ch,
        appt,
    } = booked_by_email(store, 1, "2026-11-25T00:00:00Z").await;
    assert_eq!(notices.appointment_booked(f.practice, &appt).await.unwrap(), 2);
    assert_eq!(notices.dispatch(f.practice, &ch, 50).await.unwrap().sent, 1);
    let moved = f
        .service
        .reschedule(f.practice, appt.id, utc("2026-11-27T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        notices.appointment_rescheduled(f.practice, &moved).await.unwrap(),
        2,
        "the new time's confirmation and reminder"
    );
    assert_eq!(
        notices.appointment_rescheduled(f.practice, &moved).await.unwrap(),
        0,
        "queued once for a start"
    );
    assert_eq!(notices.dispatch(f.practice, &ch, 50).await.unwrap().sent, 1);
    let confirmed = email.sent().last().unwrap().clone();
    assert!(
        confirmed.text.contains("Friday 27 November 2026 at 11:00 am AEDT"),
        "{}",
        confirmed.text
    );
    // A day before the old start: the old reminder is moot, nothing is sent.
    f.clock.set(utc("2026-11-24T00:00:00Z"));
    let report = notices.dispatch(f.practice, &ch, 50).await.unwrap();
    assert_eq!((report.sent, report.skipped), (0, 1), "{report:?}");
    // A second before a day ahead of the new start: still nothing; then the reminder.
    f.clock.set(utc("2026-11-25T23:59:59Z"));
    assert_eq!(notices.dispatch(f.practice, &ch, 50).await.unwrap().sent, 0);
    f.clock.set(utc("2026-11-26T00:00:00Z"));
    assert_eq!(notices.dispatch(f.practice, &ch, 50).await.unwrap().sent, 1);
    let reminder = email.sent().last().unwrap().clone();
    assert!(reminder.subject.starts_with("Reminder"), "{}", reminder.subject);
    assert!(reminder.text.contains("Friday 27 November 2026"), "{}", reminder.text);
    assert_eq!(email.sent().len(), 3);
    let stored = f
        .store
        .notifications_about(f.practice, appt.id.as_uuid())
        .await
        .unwrap();
    let skipped = stored
        .iter()
        .find(|n| n.after_moves == Some(0) && n.occasion == Occasion::AppointmentReminder)
        .unwrap();
    assert_eq!(skipped.state, OutboxState::Skipped);
    assert_eq!(skipped.error.as_deref(), Some("appointment_moved"));
    // The patient's inbox has the booking and the move.
    let inbox = f
        .store
        .inbox(f.practice, Audience::Patient(f.patients[1]), 10)
        .await
        .unwrap();
    assert_eq!(inbox.len(), 2, "{inbox:?}");
}

/// Moved away and back to its first time: the patient is told each time, and reminded
/// once, by the notice planned after the last move.
async fn an_appointment_moved_back_is_told_again_and_reminded_once(store: Arc<dyn Storage>) {
    let EmailOnly {
        f,
        notices,
        email,
        ch,
        appt,
    } = booked_by_email(store, 2, "2026-11-25T00:00:00Z").await;
    let first = appt.interval.start();
    notices.appointment_booked(f.practice, &appt).await.unwrap();
    let away = f
        .service
        .reschedule(f.practice, appt.id, utc("2026-11-27T00:00:00Z"))
        .await
        .unwrap();
    notices.appointment_rescheduled(f.practice, &away).await.unwrap();
    let back = f.service.reschedule(f.practice, appt.id, first).await.unwrap();
    assert_eq!(back.interval.start(), first);
    assert_eq!(
        notices.appointment_rescheduled(f.practice, &back).await.unwrap(),
        2,
        "the same start as the booking, but a move of its own"
    );
    // Now: only the last move's confirmation goes; the earlier two are moot.
    let now = notices.dispatch(f.practice, &ch, 50).await.unwrap();
    assert_eq!((now.sent, now.skipped), (1, 2), "{now:?}");
    assert!(email.sent()[0].text.contains("Wednesday 25 November 2026"));
    // A day ahead: the booking's reminder is moot, the last move's goes.
    f.clock.set(utc("2026-11-24T00:00:00Z"));
    let day_before = notices.dispatch(f.practice, &ch, 50).await.unwrap();
    assert_eq!((day_before.sent, day_before.skipped), (1, 1), "{day_before:?}");
    // A day before the time it was moved away to: that move's reminder is moot.
    f.clock.set(utc("2026-11-26T00:00:00Z"));
    let later = notices.dispatch(f.practice, &ch, 50).await.unwrap();
    assert_eq!((later.sent, later.skipped), (0, 1), "{later:?}");
    assert_eq!(email.sent().len(), 2);
    let inbox = f
        .store
        .inbox(f.practice, Audience::Patient(f.patients[2]), 10)
        .await
        .unwrap();
    assert_eq!(inbox.len(), 3, "the booking and each move");
}

/// An email provider that fails: first `transient` times with an outage, then for good.
struct Failing {
    calls: AtomicUsize,
    kind: PortErrorKind,
}

#[async_trait]
impl EmailSender for Failing {
    async fn send(&self, _: &EmailMessage) -> Result<Option<String>, PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(PortError::new(self.kind, "test provider failure"))
    }
}

async fn failures_back_off_then_park(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    reachable(&f, 2, false).await;
    let notices = service(&f);
    let outage = Arc::new(Failing {
        calls: AtomicUsize::new(0),
        kind: PortErrorKind::Unavailable,
    });
    let ch = channels(outage.clone(), Arc::new(ConsoleMessages::new()));
    let appt = f
        .service
        .book(f.practice, &f.request(2, "2026-12-01T00:00:00Z"))
        .await
        .unwrap();
    notices.appointment_booked(f.practice, &appt).await.unwrap();
    let mut parked = 0;
    for _ in 0..5 {
        let r = notices.dispatch(f.practice, &ch, 50).await.unwrap();
        parked += r.parked;
        // Past the longest backoff, but before the reminder is due.
        f.clock.advance(Duration::minutes(300));
    }
    assert_eq!(outage.calls.load(Ordering::SeqCst), 5, "five attempts in all");
    assert_eq!(parked, 1);
    let stored = f
        .store
        .notifications_about(f.practice, appt.id.as_uuid())
        .await
        .unwrap();
    let confirmation = stored
        .iter()
        .find(|n| n.occasion == Occasion::AppointmentConfirmation)
        .unwrap();
    assert_eq!(confirmation.state, OutboxState::Parked);
    assert_eq!(confirmation.error.as_deref(), Some("unavailable"));

    // A refusal is not retried.
    let refused = Arc::new(Failing {
        calls: AtomicUsize::new(0),
        kind: PortErrorKind::Invalid,
    });
    let ch = channels(refused.clone(), Arc::new(ConsoleMessages::new()));
    let other = f
        .service
        .book(f.practice, &f.request(2, "2026-12-02T00:00:00Z"))
        .await
        .unwrap();
    notices.appointment_booked(f.practice, &other).await.unwrap();
    assert_eq!(notices.dispatch(f.practice, &ch, 50).await.unwrap().parked, 1);
    assert_eq!(refused.calls.load(Ordering::SeqCst), 1);
}

async fn missing_contact_details_and_templates_are_reported_not_retried(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    // Patient 3 wants email and WhatsApp but has no email address and the practice has no
    // approved WhatsApp template.
    let mut p = f.store.patient(f.practice, f.patients[3]).await.unwrap();
    p.phone = Some(Phone::parse("0412 345 678").unwrap());
    p.reminders.whatsapp = true;
    f.store.save_patient(&p).await.unwrap();
    let notices = service(&f);
    let messages = Arc::new(ConsoleMessages::new());
    let ch = channels(Arc::new(ConsoleEmail::new()), messages.clone());
    let appt = f
        .service
        .book(f.practice, &f.request(3, "2026-12-01T00:00:00Z"))
        .await
        .unwrap();
    notices.appointment_booked(f.practice, &appt).await.unwrap();
    let r = notices.dispatch(f.practice, &ch, 50).await.unwrap();
    assert_eq!((r.skipped, r.parked, r.sent), (1, 1, 0), "{r:?}");
    let stored = f
        .store
        .notifications_about(f.practice, appt.id.as_uuid())
        .await
        .unwrap();
    let errors: BTreeMap<Via, Option<String>> = stored
        .iter()
        .filter(|n| n.occasion == Occasion::AppointmentConfirmation)
        .map(|n| (n.via, n.error.clone()))
        .collect();
    assert_eq!(errors[&Via::Email].as_deref(), Some("no_email_address"));
    assert_eq!(errors[&Via::WhatsApp].as_deref(), Some("invalid"));
    // With the template configured, the WhatsApp confirmation of a new booking goes out as
    // the approved template.
    let mut ch = ch;
    ch.whatsapp_templates
        .insert(Occasion::AppointmentConfirmation, "HXconfirm".into());
    let second = f
        .service
        .book(f.practice, &f.request(3, "2026-12-03T00:00:00Z"))
        .await
        .unwrap();
    notices.appointment_booked(f.practice, &second).await.unwrap();
    notices.dispatch(f.practice, &ch, 50).await.unwrap();
    let sent = messages.sent();
    assert_eq!(sent.len(), 1);
    let template = sent[0].template.as_ref().unwrap();
    assert_eq!(template.id, "HXconfirm");
    assert_eq!(template.variables[0], "Harbour Psychology");
    assert_eq!(template.variables[2], "Thursday 3 December 2026 at 11:00 am AEDT");
}

/// With notices wired in, a booking stores its notices in its own commit: a booking made
/// has them at once, a booking refused or beaten in a race leaves none behind.
async fn a_booking_stores_its_notices_in_its_own_commit_or_none_at_all(store: Arc<dyn Storage>) {
    use clinic_core::notify::Audience;
    let f = practice_on(store).await;
    for i in 0..18 {
        reachable(&f, i, i % 2 == 0).await;
    }
    let notices = service(&f);
    let booker = f.service.clone().with_notices(notices.clone());
    assert!(booker.queues_notices() && !f.service.queues_notices());
    let mut req = f.request(0, "2026-11-25T00:00:00Z");
    req.mode = DeliveryMode::Video;
    let appt = booker.book(f.practice, &req).await.unwrap();
    let queued = f
        .store
        .notifications_about(f.practice, appt.id.as_uuid())
        .await
        .unwrap();
    assert_eq!(queued.len(), 6, "confirmation, reminder and link, by email and SMS");
    let inbox = f
        .store
        .inbox(f.practice, Audience::Patient(f.patients[0]), 10)
        .await
        .unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].about, appt.id.as_uuid());
    assert_eq!(
        notices.appointment_booked(f.practice, &appt).await.unwrap(),
        0,
        "already queued with the booking"
    );

    // Refused: nothing queued, nothing in the inbox.
    let before = f.store.queue_depth(f.practice).await.unwrap();
    let clash = booker.book(f.practice, &f.request(1, "2026-11-25T00:00:00Z")).await;
    assert_eq!(clash.unwrap_err().code(), "practitioner_busy");
    assert_eq!(f.store.queue_depth(f.practice).await.unwrap(), before);
    let inbox = f.store.inbox(f.practice, Audience::Patient(f.patients[1]), 10);
    assert!(inbox.await.unwrap().is_empty());

    // Sixteen patients race for one slot: one wins, and only the winner's notices exist.
    let mut tasks = Vec::new();
    for i in 2..18 {
        let (booker, req) = (booker.clone(), f.request(i, "2026-11-26T00:00:00Z"));
        let practice = f.practice;
        tasks.push(tokio::spawn(async move { booker.book(practice, &req).await }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        if let Ok(a) = t.await.unwrap() {
            winners.push(a);
        }
    }
    assert_eq!(winners.len(), 1);
    let won = f
        .store
        .notifications_about(f.practice, winners[0].id.as_uuid())
        .await
        .unwrap();
    assert!(!won.is_empty());
    let after = f.store.queue_depth(f.practice).await.unwrap();
    assert_eq!(after.pending, before.pending + won.len() as u64, "no loser's notices");
    let mut delivered = 0;
    for i in 2..18 {
        delivered += f
            .store
            .inbox(f.practice, Audience::Patient(f.patients[i]), 10)
            .await
            .unwrap()
            .len();
    }
    assert_eq!(delivered, 1, "the winner's inbox item only");
}

/// A notice of another practice is refused with the commit, which then stores nothing.
async fn a_commit_with_a_foreign_notice_stores_nothing(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let notices = service(&f);
    let appt = f
        .service
        .book(f.practice, &f.request(0, "2026-11-25T00:00:00Z"))
        .await
        .unwrap();
    let mut moved = appt.clone();
    moved.interval = clinic_core::time::TimeRange::new(
        appt.interval.start() + Duration::hours(2),
        appt.interval.end() + Duration::hours(2),
    )
    .unwrap();
    let patient = f.store.patient(f.practice, f.patients[0]).await.unwrap();
    let mut planned = notices.booking_notices(f.practice, &moved, std::slice::from_ref(&patient));
    assert!(!planned.outbox.is_empty() && !planned.inbox.is_empty());
    planned.outbox[0].practice_id = UuidV7Ids.new_id();
    let e = f
        .store
        .commit_with_notices(f.practice, &[], std::slice::from_ref(&moved), &planned)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), PortErrorKind::Invalid);
    let stored = f.store.appointment(f.practice, appt.id).await.unwrap();
    assert_eq!(stored.interval, appt.interval, "the change was not stored");
    assert!(
        f.store
            .notifications_about(f.practice, appt.id.as_uuid())
            .await
            .unwrap()
            .is_empty()
    );
}

on_every_store!(
    a_booking_stores_its_notices_in_its_own_commit_or_none_at_all,
    a_commit_with_a_foreign_notice_stores_nothing,
    a_booking_confirms_now_and_reminds_a_day_ahead,
    a_cancelled_appointment_sends_its_notice_and_skips_its_reminder,
    a_moved_appointment_confirms_its_new_time_and_reminds_for_it_alone,
    an_appointment_moved_back_is_told_again_and_reminded_once,
    failures_back_off_then_park,
    missing_contact_details_and_templates_are_reported_not_retried,
);
