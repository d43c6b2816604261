//! Joining a video session: the gate decides, then a room and a token for that room only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use chrono::Duration;
use clinic_adapters::console::ConsoleVideo;
use clinic_core::ports::*;
use clinic_core::service::{JOIN_TOKEN_TTL, Joiner};
use clinic_core::telehealth::Missing;
use common::{practice_on, utc};

async fn a_participant_joins_only_their_own_session_inside_its_window(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let video = ConsoleVideo::new();
    let th = f.telehealth();
    // 11:00–11:50 Sydney on Tuesday 24 November 2026 (00:00Z).
    let appt = f.ready_video_session(0, "2026-11-24T00:00:00Z").await;
    let patient = Joiner::Patient(f.patients[0]);

    // 15 minutes and one second before the start: not yet.
    f.clock.set(utc("2026-11-23T23:44:59Z"));
    let e = th.join(f.practice, appt.id, patient, &video).await.unwrap_err();
    assert_eq!(e.code(), "invalid_field");
    assert!(video.rooms().is_empty(), "no room before the window opens");

    // Exactly 15 minutes before: the window opens.
    f.clock.set(utc("2026-11-23T23:45:00Z"));
    let token = th.join(f.practice, appt.id, patient, &video).await.unwrap().unwrap();
    assert_eq!(token.room, format!("appt-{}", appt.id));
    assert_eq!(token.identity, format!("patient-{}", f.patients[0]));
    assert_eq!(token.expires_at, utc("2026-11-23T23:45:00Z") + JOIN_TOKEN_TTL);
    let rooms = video.rooms();
    assert_eq!(rooms.len(), 1);

    // The practitioner joins the same room; the token ends with the session.
    f.clock.set(utc("2026-11-24T00:20:00Z"));
    let t2 = th
        .join(f.practice, appt.id, Joiner::Practitioner(f.practitioner.id), &video)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t2.room, token.room);
    assert_eq!(t2.expires_at, utc("2026-11-24T00:50:00Z"), "capped at the end");
    assert_eq!(video.rooms().len(), 1, "the same room, not a second one");

    // Someone not in the appointment learns nothing about it.
    let stranger = Joiner::Patient(f.patients[1]);
    assert_eq!(
        th.join(f.practice, appt.id, stranger, &video).await.unwrap_err().code(),
        "not_found"
    );
    // At the end the window is closed.
    f.clock.set(utc("2026-11-24T00:50:00Z"));
    assert!(th.join(f.practice, appt.id, patient, &video).await.is_err());
    th.end_session(f.practice, appt.id, &video).await.unwrap();
    assert_eq!(video.rooms()[&token.room].status, "completed");
    assert_eq!(video.tokens().len(), 2);
    let _ = Duration::zero();
}

async fn no_room_and_no_token_when_the_gate_is_not_passed(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let video = ConsoleVideo::new();
    let mut req = f.request(2, "2026-11-24T00:00:00Z");
    req.mode = clinic_core::scheduling::DeliveryMode::Video;
    let appt = f.service.book(f.practice, &req).await.unwrap();
    f.clock.set(utc("2026-11-24T00:00:00Z"));
    let missing = f
        .telehealth()
        .join(f.practice, appt.id, Joiner::Patient(f.patients[2]), &video)
        .await
        .unwrap()
        .unwrap_err();
    assert!(missing.contains(&Missing::TelehealthConsent {
        patient_id: f.patients[2]
    }));
    assert!(video.rooms().is_empty());
    assert!(video.tokens().is_empty());
    // A cancelled session cannot be joined either.
    let ready = f.ready_video_session(3, "2026-11-25T00:00:00Z").await;
    f.service
        .cancel(
            f.practice,
            ready.id,
            clinic_core::scheduling::CancelledBy::Patient,
            "cannot attend",
        )
        .await
        .unwrap();
    f.clock.set(utc("2026-11-25T00:00:00Z"));
    assert!(
        f.telehealth()
            .join(f.practice, ready.id, Joiner::Patient(f.patients[3]), &video)
            .await
            .is_err()
    );
    assert!(video.tokens().is_empty());
}

on_every_store!(
    a_participant_joins_only_their_own_session_inside_its_window,
    no_room_and_no_token_when_the_gate_is_not_passed,
);
