//! Checks shared by the SQLite and PostgreSQL adapters' own tests: what lands in the
//! database file, and what a schema from the future does.

use std::sync::Arc;

use clinic_adapters::sql::SqlStore;
use clinic_core::clinical::{NoteKind, ProgressNote, Soap};
use clinic_core::ids::*;
use clinic_core::ports::*;

use super::ids;

/// A phrase no table should ever hold in clear.
pub const SECRET: &str = "disclosed childhood trauma zqxj";

/// Saves a note, a plan, a message thread and a message whose text is [`SECRET`], and
/// reads them back.
pub async fn store_clinical_text(s: &Arc<SqlStore>) -> (PracticeId, PatientId) {
    use clinic_core::clinical::{TreatmentGoal, TreatmentPlan};
    let practice: PracticeId = ids().new_id();
    let patient: PatientId = ids().new_id();
    let note = ProgressNote::draft(
        ids().new_id(),
        practice,
        patient,
        ids().new_id(),
        NoteKind::Progress,
        Soap {
            subjective: SECRET.into(),
            objective: SECRET.into(),
            assessment: SECRET.into(),
            plan: SECRET.into(),
        },
    );
    s.save_note(&note).await.unwrap();
    let plan = TreatmentPlan {
        practice_id: practice,
        patient_id: patient,
        author: note.author,
        goals: vec![TreatmentGoal {
            description: SECRET.into(),
            achieved: false,
        }],
        review_on: "2027-01-01".parse().unwrap(),
    };
    s.save_plan(&plan).await.unwrap();
    assert_eq!(s.note(practice, note.id).await.unwrap(), note);
    assert_eq!(s.plan(practice, patient).await.unwrap(), Some(plan));
    let thread = clinic_core::messaging::Thread {
        id: ids().new_id(),
        practice_id: practice,
        patient_id: patient,
        practitioner_ids: vec![note.author],
        subject: SECRET.into(),
        started_at: super::utc("2026-12-01T00:00:00Z"),
    };
    s.save_thread(&thread).await.unwrap();
    let message = clinic_core::messaging::Message {
        id: ids().new_id(),
        practice_id: practice,
        thread_id: thread.id,
        author: clinic_core::messaging::Author {
            user_id: ids().new_id(),
            role: clinic_core::people::Role::Patient,
            practitioner_id: None,
            on_behalf: false,
        },
        body: SECRET.into(),
        attachments: vec![],
        sent_at: super::utc("2026-12-01T00:00:00Z"),
    };
    s.add_message(&message).await.unwrap();
    assert_eq!(s.messages(practice, thread.id).await.unwrap(), [message]);
    assert_eq!(s.practitioner_threads(practice, note.author).await.unwrap(), [thread]);
    (practice, patient)
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Anything in `bytes` that looks like the secret, in clear or as PostgreSQL's hex dump.
pub fn leaks(bytes: &[u8]) -> bool {
    let hex: String = SECRET.bytes().map(|b| format!("{b:02x}")).collect();
    contains(bytes, SECRET) || contains(bytes, &hex)
}

/// The error a store opened on a too-new schema gives.
pub async fn open_refuses_newer_schema(url: &str) {
    let err = SqlStore::connect(url, super::databases::cipher()).await.unwrap_err();
    assert_eq!(err.code(), "schema_too_new");
    assert!(err.to_string().contains("version 999"), "{err}");
}

/// Data sealed under an old key is re-wrapped under a new one without reading the bodies,
/// after which the old key can be retired; a store missing the key a record needs reports
/// it as unreadable, naming no content.
pub async fn key_rotation(url: &str) {
    use clinic_adapters::crypto::EnvelopeCipher;
    let old = EnvelopeCipher::generate_key("2025-11");
    let new = EnvelopeCipher::generate_key("2026-11");
    let open = |spec: String| async move {
        Arc::new(
            SqlStore::connect(url, Arc::new(EnvelopeCipher::from_config(&spec).unwrap()))
                .await
                .unwrap(),
        )
    };
    let before = open(old.clone()).await;
    let (practice, patient) = store_clinical_text(&before).await;
    let notes_before = before.notes(practice, patient).await.unwrap();
    assert_eq!(notes_before.len(), 1);
    before.close().await;

    let both = open(format!("{new},{old}")).await;
    assert_eq!(
        both.practice_ids().await.unwrap(),
        Vec::<PracticeId>::new(),
        "no practice record was saved"
    );
    assert_eq!(both.rotate_keys(practice, 1).await.unwrap(), 1, "in batches");
    assert_eq!(both.rotate_keys(practice, 100).await.unwrap(), 3);
    assert_eq!(
        both.rotate_keys(practice, 100).await.unwrap(),
        0,
        "nothing left under the old key"
    );
    both.close().await;

    let retired = open(new).await;
    assert_eq!(
        retired.notes(practice, patient).await.unwrap(),
        notes_before,
        "readable under the new key alone"
    );
    assert!(retired.plan(practice, patient).await.unwrap().is_some());
    assert_eq!(retired.patient_threads(practice, patient).await.unwrap().len(), 1);
    retired.close().await;

    let stranger = open(EnvelopeCipher::generate_key("other")).await;
    let err = stranger.notes(practice, patient).await.unwrap_err();
    assert_eq!(err.kind(), PortErrorKind::Invalid);
    assert!(!err.to_string().contains("zqxj"));
    stranger.close().await;
}

/// A database written by schema version 1 (the first release) is upgraded in place to the
/// current schema when opened: its records read back unchanged, sealed ones included, and
/// what version 2 added (the outbox) works.
pub async fn upgrade_from_version_1_keeps_everything(url: &str) {
    use clinic_adapters::sql::SqlStore;
    use clinic_core::notify::{Audience, Dispatch, Notification, Occasion, Via};
    use clinic_core::ports::{AppointmentRepository, Outbox, ResourceKey};
    let cipher = super::databases::cipher();
    let v1 = Arc::new(SqlStore::connect_at(url, cipher.clone(), 1).await.unwrap());
    let (practice, patient) = store_clinical_text(&v1).await;
    let notes = v1.notes(practice, patient).await.unwrap();
    let who: clinic_core::ids::PractitionerId = ids().new_id();
    let appt = super::conformance::appointment(practice, who, patient, "2027-02-01T00:00:00Z", 50);
    insert_as_version_1(url, &appt).await;
    let reminder = Notification::new(
        ids().new_id(),
        practice,
        Dispatch {
            occasion: Occasion::AppointmentReminder,
            audience: Audience::Patient(patient),
            via: Via::Email,
            about: appt.id.as_uuid(),
        },
        super::utc("2027-01-31T00:00:00Z"),
        super::utc("2027-01-01T00:00:00Z"),
    );
    assert!(
        v1.enqueue(std::slice::from_ref(&reminder)).await.is_err(),
        "version 1 has no outbox"
    );
    v1.close().await;

    let current = Arc::new(SqlStore::connect(url, cipher).await.unwrap());
    assert_eq!(
        current.notes(practice, patient).await.unwrap(),
        notes,
        "sealed notes still open"
    );
    assert_eq!(current.appointment(practice, appt.id).await.unwrap(), appt);
    // Version 3's report columns are filled from the bodies written before it.
    let day = clinic_core::time::TimeRange::new(super::utc("2027-02-01T00:00:00Z"), super::utc("2027-02-02T00:00:00Z"))
        .unwrap();
    assert_eq!(
        current.tallies(practice, appt.location_id, day).await.unwrap(),
        clinic_core::reports::Tally::of([&appt])
    );
    let window =
        clinic_core::time::TimeRange::new(super::utc("2027-02-01T00:00:00Z"), super::utc("2027-02-01T01:00:00Z"))
            .unwrap();
    let snap = current
        .snapshot(practice, &[ResourceKey::Practitioner(who)], window)
        .await
        .unwrap();
    assert_eq!(snap.appointments, vec![appt.clone()]);
    // So is version 4's service column, which counting the patient's sessions reads.
    assert_eq!(
        current.patient_sessions(practice, patient, window).await.unwrap(),
        vec![clinic_core::ports::PatientSession::of(&appt)]
    );
    assert_eq!(current.enqueue(std::slice::from_ref(&reminder)).await.unwrap(), 1);
    assert_eq!(
        current
            .notifications_about(practice, appt.id.as_uuid())
            .await
            .unwrap()
            .len(),
        1
    );
    current.close().await;
}

/// Writes an appointment and its practitioner's and patient's index rows as schema
/// version 1 stored them (the current code writes later versions' columns, which version
/// 1 lacks).
async fn insert_as_version_1(url: &str, a: &clinic_core::scheduling::Appointment) {
    use sqlx::Connection as _;
    let body = serde_json::to_vec(a).unwrap();
    // Each resource row with the range it holds: the practitioner's buffered, the patient's
    // the session.
    let rows = [
        (
            format!("practitioner:{}", a.practitioner_id.as_uuid().hyphenated()),
            a.blocked.start_micros(),
            a.blocked.end_micros(),
        ),
        (
            format!("patient:{}", a.patient_ids[0].as_uuid().hyphenated()),
            a.interval.start_micros(),
            a.interval.end_micros(),
        ),
    ];
    let (ss, se, bs, be) = (
        a.interval.start_micros(),
        a.interval.end_micros(),
        a.blocked.start_micros(),
        a.blocked.end_micros(),
    );
    let (appointment, index) = (
        "INSERT INTO appointments (practice_id, id, practitioner_id, room_id, holds_time,
            session_start, session_end, block_start, block_end, body)
         VALUES ($1, $2, $3, NULL, TRUE, $4, $5, $6, $7, $8)",
        "INSERT INTO appointment_resources (practice_id, resource, block_start, appointment_id, block_end,
            busy_start, busy_end, holds_time) VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE)",
    );
    // The resource rows on connection `$c`, the same statements on either driver.
    macro_rules! insert_rows {
        ($c:ident) => {
            for (resource, busy_start, busy_end) in &rows {
                sqlx::query(index)
                    .bind(a.practice_id.as_uuid())
                    .bind(resource)
                    .bind(bs)
                    .bind(a.id.as_uuid())
                    .bind(be)
                    .bind(busy_start)
                    .bind(busy_end)
                    .execute(&mut $c)
                    .await
                    .unwrap();
            }
        };
    }
    if url.starts_with("sqlite:") {
        #[cfg(feature = "sqlite")]
        {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(appointment)
                .bind(a.practice_id.as_uuid())
                .bind(a.id.as_uuid())
                .bind(a.practitioner_id.as_uuid())
                .bind(ss)
                .bind(se)
                .bind(bs)
                .bind(be)
                .bind(&body)
                .execute(&mut c)
                .await
                .unwrap();
            insert_rows!(c);
        }
        return;
    }
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(appointment)
        .bind(a.practice_id.as_uuid())
        .bind(a.id.as_uuid())
        .bind(a.practitioner_id.as_uuid())
        .bind(a.interval.start())
        .bind(a.interval.end())
        .bind(a.blocked.start())
        .bind(a.blocked.end())
        .bind(&body)
        .execute(&mut c)
        .await
        .unwrap();
    insert_rows!(c);
    let _ = (ss, se);
}

/// A booking commit whose notices fail inside the transaction (a notification id that is
/// already taken, which the database refuses) stores nothing: not the appointment, not
/// its other notices, not its inbox item.
pub async fn a_notice_failing_in_the_commit_rolls_it_all_back(s: Arc<SqlStore>) {
    use clinic_core::notify::{Audience, Dispatch, InboxItem, Notification, Occasion, Via};
    let f = super::practice_on(s.clone()).await;
    let first = f
        .service
        .book(f.practice, &f.request(0, "2026-11-25T00:00:00Z"))
        .await
        .unwrap();
    let now = super::utc("2026-11-23T00:00:00Z");
    let dispatch = |about: uuid::Uuid, via| Dispatch {
        occasion: Occasion::AppointmentConfirmation,
        audience: Audience::Patient(f.patients[0]),
        via,
        about,
    };
    let taken = Notification::new(
        ids().new_id(),
        f.practice,
        dispatch(first.id.as_uuid(), Via::Email),
        now,
        now,
    );
    assert_eq!(s.enqueue(std::slice::from_ref(&taken)).await.unwrap(), 1);

    let mut second = first.clone();
    second.id = ids().new_id();
    second.patient_ids = vec![f.patients[1]];
    second.interval = clinic_core::time::TimeRange::new(
        first.interval.start() + chrono::Duration::hours(2),
        first.interval.end() + chrono::Duration::hours(2),
    )
    .unwrap();
    second.blocked = clinic_core::time::TimeRange::new(
        first.blocked.start() + chrono::Duration::hours(2),
        first.blocked.end() + chrono::Duration::hours(2),
    )
    .unwrap();
    let fine = Notification::new(
        ids().new_id(),
        f.practice,
        dispatch(second.id.as_uuid(), Via::Sms),
        now,
        now,
    );
    // Another notice, but under the id already taken: the database refuses it.
    let clashing = Notification::new(
        taken.id,
        f.practice,
        dispatch(second.id.as_uuid(), Via::Email),
        now,
        now,
    );
    let item = InboxItem {
        id: ids().new_id(),
        practice_id: f.practice,
        audience: Audience::Patient(f.patients[1]),
        occasion: Occasion::AppointmentConfirmation,
        about: second.id.as_uuid(),
        occurrence: second.id.as_uuid(),
        at: now,
        read_at: None,
    };
    let notices = CommitNotices {
        outbox: vec![fine, clashing],
        inbox: vec![item],
    };
    let snap = s
        .snapshot(
            f.practice,
            &[ResourceKey::Practitioner(f.practitioner.id)],
            second.blocked,
        )
        .await
        .unwrap();
    assert!(
        s.commit_with_notices(f.practice, &snap.versions, std::slice::from_ref(&second), &notices)
            .await
            .is_err()
    );
    assert_eq!(
        s.appointment(f.practice, second.id).await.unwrap_err().kind(),
        PortErrorKind::NotFound,
        "the appointment was rolled back"
    );
    assert!(
        s.notifications_about(f.practice, second.id.as_uuid())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.inbox(f.practice, Audience::Patient(f.patients[1]), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The calendar's versions did not move either: the same snapshot still commits.
    s.commit_with_notices(
        f.practice,
        &snap.versions,
        std::slice::from_ref(&second),
        &CommitNotices::default(),
    )
    .await
    .unwrap();
}
