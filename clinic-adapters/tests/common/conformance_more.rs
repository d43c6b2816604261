//! The conformance suite, part two: invariants under concurrency, exact round trips of
//! every kind of value, and every remaining repository method.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Duration, Weekday};
use clinic_core::ids::*;
use clinic_core::ports::*;
use clinic_core::practice::*;
use clinic_core::scheduling::*;
use clinic_core::time::TimeRange;
use tokio::sync::Barrier;

use super::conformance::{Storage, appointment, claim_for, draft};
use super::{ids, utc};

/// 32 tasks read the same free slot and commit it, each for its own patient: exactly one
/// commit wins, the rest are conflicts, and one appointment is stored.
pub async fn booking_race_has_one_winner<S: Storage + 'static>(s: Arc<S>) {
    let practice: PracticeId = ids().new_id();
    let who: PractitionerId = ids().new_id();
    let barrier = Arc::new(Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (s, barrier) = (s.clone(), barrier.clone());
            tokio::spawn(async move {
                let a = appointment(practice, who, ids().new_id(), "2026-12-07T23:00:00Z", 50);
                let keys = ResourceKey::of(&a);
                let snap = s.snapshot(practice, &keys, a.blocked).await.unwrap();
                assert!(snap.appointments.is_empty());
                barrier.wait().await;
                s.commit(practice, &snap.versions, &[a]).await.map_err(|e| e.kind())
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Ok(()) | Err(PortErrorKind::Conflict))),
        "{outcomes:?}"
    );
    let window = TimeRange::new(utc("2026-12-07T00:00:00Z"), utc("2026-12-08T12:00:00Z")).unwrap();
    let snap = s
        .snapshot(practice, &[ResourceKey::Practitioner(who)], window)
        .await
        .unwrap();
    assert_eq!(snap.appointments.len(), 1);
}

/// 16 tasks read a patient's claim history at the same version and each commits a claim
/// for the last session of the cap: one wins.
pub async fn last_capped_session_is_claimed_once<S: Storage + 'static>(s: Arc<S>) {
    let practice: PracticeId = ids().new_id();
    let patient: PatientId = ids().new_id();
    for n in 0..9 {
        let v = s.history(practice, patient).await.unwrap().version;
        s.commit_claim(practice, v, &claim_for(practice, patient, n))
            .await
            .unwrap();
    }
    let barrier = Arc::new(Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (s, barrier) = (s.clone(), barrier.clone());
            tokio::spawn(async move {
                let h = s.history(practice, patient).await.unwrap();
                assert_eq!(h.claims.len(), 9);
                barrier.wait().await;
                s.commit_claim(practice, h.version, &claim_for(practice, patient, 100 + i))
                    .await
                    .map_err(|e| e.kind())
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(kind) => assert_eq!(kind, PortErrorKind::Conflict),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(s.history(practice, patient).await.unwrap().claims.len(), 10);
}

/// 100 invoices issued at once are numbered 1..=100, no gap, no repeat.
pub async fn concurrent_invoices_are_numbered_without_gaps<S: Storage + 'static>(s: Arc<S>) {
    let practice: PracticeId = ids().new_id();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let inv = draft(practice, 1000 + i);
                s.save_draft(&inv).await.unwrap();
                s.issue(practice, inv.id, 1, "2026-11-24".parse().unwrap())
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

/// Names in any script, zones, instants to the microsecond, money to the cent and dates
/// come back exactly as saved.
pub async fn values_round_trip_exactly<S: Storage>(s: Arc<S>) {
    use clinic_core::people::{Patient, PatientSpec};
    let practice: PracticeId = ids().new_id();
    let spec = PatientSpec::new("Zoë-李 Nguyễn", "Ó Súilleabháin-Łukasz", "2000-02-29".parse().unwrap());
    let patient = Patient::register(ids().new_id(), practice, spec, "2026-11-23".parse().unwrap()).unwrap();
    s.save_patient(&patient).await.unwrap();
    assert_eq!(s.patient(practice, patient.id).await.unwrap(), patient);
    assert_eq!(s.patients(practice).await.unwrap(), vec![patient.clone()]);

    let howe = Location::new(
        ids().new_id(),
        practice,
        "Island",
        "1 Lagoon Rd",
        chrono_tz::Australia::Lord_Howe,
        AuState::NSW,
    )
    .unwrap();
    s.save_location(&howe).await.unwrap();
    assert_eq!(s.locations(practice).await.unwrap(), vec![howe.clone()]);
    let room = Room::new(ids().new_id(), practice, howe.id, "Room ✓").unwrap();
    s.save_room(&room).await.unwrap();
    assert_eq!(s.rooms(practice).await.unwrap(), vec![room]);

    let mut a = appointment(practice, ids().new_id(), patient.id, "2026-12-01T00:00:00.123456Z", 50);
    a.room_id = None;
    s.commit(practice, &[], std::slice::from_ref(&a)).await.unwrap();
    let read = s.appointment(practice, a.id).await.unwrap();
    assert_eq!(read, a);
    assert_eq!(read.interval.start().timestamp_subsec_micros(), 123_456);

    let inv = draft(practice, 12_345);
    s.save_draft(&inv).await.unwrap();
    let stored = s.invoice(practice, inv.id).await.unwrap();
    assert_eq!(stored.lines, inv.lines);
    assert_eq!(stored.total(), inv.total());
    assert_eq!(s.invoices_for(practice, inv.patient_id).await.unwrap(), vec![stored]);
}

/// Availability, the waitlist, appointments by patient and care relationships.
pub async fn scheduling_records_round_trip<S: Storage>(s: Arc<S>) {
    let practice: PracticeId = ids().new_id();
    let who: PractitionerId = ids().new_id();
    let location: LocationId = ids().new_id();
    let t = WeeklyTemplate::new(
        ids().new_id(),
        practice,
        who,
        location,
        Weekday::Wed,
        "09:00:00".parse().unwrap(),
        "12:30:00".parse().unwrap(),
        "2026-01-01".parse().unwrap(),
        None,
    )
    .unwrap();
    s.save_template(&t).await.unwrap();
    let e = AvailabilityException::new(
        ids().new_id(),
        practice,
        who,
        None,
        ExceptionKind::Unavailable {
            from: "2026-12-24T00:00:00".parse().unwrap(),
            to: "2027-01-05T00:00:00".parse().unwrap(),
        },
    )
    .unwrap();
    s.save_exception(&e).await.unwrap();
    let got = s.availability(practice, who).await.unwrap();
    assert_eq!((got.templates.clone(), got.exceptions.clone()), (vec![t], vec![e]));
    let nobody: PractitionerId = ids().new_id();
    assert_eq!(
        s.availabilities(practice, &[nobody, who]).await.unwrap(),
        vec![Availability::default(), got],
        "in the order asked"
    );
    assert!(
        s.availability(practice, ids().new_id())
            .await
            .unwrap()
            .templates
            .is_empty()
    );

    let patient: PatientId = ids().new_id();
    let entry = WaitlistEntry {
        id: ids().new_id(),
        practice_id: practice,
        patient_id: patient,
        practitioner_id: Some(who),
        service_id: None,
        location_id: Some(location),
        days: vec![Weekday::Mon, Weekday::Thu],
        earliest: Some("08:30:00".parse().unwrap()),
        latest: None,
        urgency: Urgency::Soon,
        created_at: utc("2026-11-20T00:00:00.000001Z"),
        active: true,
    };
    s.save_waitlist_entry(&entry).await.unwrap();
    assert_eq!(s.waitlist(practice).await.unwrap(), vec![entry]);

    let room: RoomId = ids().new_id();
    let mut later = appointment(practice, who, patient, "2026-12-09T00:00:00Z", 50);
    later.room_id = Some(room);
    let mut earlier = appointment(practice, who, patient, "2026-12-02T00:00:00Z", 50);
    earlier
        .cancel(CancelledBy::Patient, "", utc("2026-11-01T00:00:00Z"), Duration::zero())
        .unwrap();
    s.commit(practice, &[], &[later.clone(), earlier.clone()])
        .await
        .unwrap();
    assert_eq!(
        s.patient_appointments(practice, patient).await.unwrap(),
        vec![earlier, later.clone()],
        "every status, by start"
    );
    // Busy time: the practitioner for the buffered interval, the room and the patient for
    // the session; the cancelled appointment holds nothing.
    let keys = [
        ResourceKey::Practitioner(who),
        ResourceKey::Room(room),
        ResourceKey::Patient(patient),
    ];
    let window = TimeRange::new(utc("2026-12-01T00:00:00Z"), utc("2026-12-31T00:00:00Z")).unwrap();
    let mut busy = s.busy(practice, &keys, window).await.unwrap();
    busy.sort_by_key(|b| b.key);
    let mut expected = vec![
        Busy {
            key: keys[0],
            range: later.blocked,
            appointment: later.id,
        },
        Busy {
            key: keys[1],
            range: later.interval,
            appointment: later.id,
        },
        Busy {
            key: keys[2],
            range: later.interval,
            appointment: later.id,
        },
    ];
    expected.sort_by_key(|b| b.key);
    assert_eq!(busy, expected);
    // The same over two years: on SQLite a read this wide runs on the pool rather than in
    // place, with the same answer.
    let wide = TimeRange::new(utc("2026-01-01T00:00:00Z"), utc("2028-01-01T00:00:00Z")).unwrap();
    let mut busy = s.busy(practice, &keys, wide).await.unwrap();
    busy.sort_by_key(|b| b.key);
    assert_eq!(busy, expected);
    // Only what overlaps the window: the buffer 00:50–01:00 alone is the practitioner's.
    let buffer = TimeRange::new(utc("2026-12-09T00:55:00Z"), utc("2026-12-09T02:00:00Z")).unwrap();
    let busy = s.busy(practice, &keys, buffer).await.unwrap();
    assert_eq!(busy.iter().map(|b| b.key).collect::<Vec<_>>(), vec![keys[0]]);
    assert!(
        s.busy(ids().new_id(), &keys, window).await.unwrap().is_empty(),
        "tenant boundary"
    );
    assert!(s.treats(practice, who, patient).await.unwrap());
    assert!(!s.treats(practice, ids().new_id(), patient).await.unwrap());
    assert!(!s.treats(ids().new_id(), who, patient).await.unwrap());
    // A cancelled booking is no care relationship: a clinician whose only appointment with
    // the patient was cancelled does not treat them.
    let stranger = ids().new_id();
    let mut cancelled = appointment(practice, stranger, patient, "2026-12-03T00:00:00Z", 50);
    s.commit(practice, &[], std::slice::from_ref(&cancelled)).await.unwrap();
    assert!(s.treats(practice, stranger, patient).await.unwrap(), "booked: treats");
    cancelled
        .cancel(CancelledBy::Clinic, "", utc("2026-11-02T00:00:00Z"), Duration::zero())
        .unwrap();
    s.commit(practice, &[], std::slice::from_ref(&cancelled)).await.unwrap();
    assert!(
        !s.treats(practice, stranger, patient).await.unwrap(),
        "cancelled: no longer"
    );
}

/// Credentials, compliance warnings, consents, access requests, intake, telehealth prep,
/// clinical records and audit checkpoints.
pub async fn practice_records_round_trip<S: Storage>(s: Arc<S>) {
    use clinic_core::audit::Checkpoint;
    use clinic_core::clinical::*;
    use clinic_core::credentials::{Credentials, WarningKey};
    use clinic_core::privacy::{AccessRequest, Consent, ConsentKind, ConsentMethod};
    use clinic_core::telehealth::SessionPrep;
    let practice: PracticeId = ids().new_id();
    let patient: PatientId = ids().new_id();
    let who: PractitionerId = ids().new_id();

    assert_eq!(s.credentials(practice, who).await.unwrap(), Credentials::default());
    let creds = Credentials {
        practitioner_id: Some(who),
        ..Credentials::default()
    };
    s.save_credentials(practice, who, &creds).await.unwrap();
    assert_eq!(s.credentials(practice, who).await.unwrap(), creds);

    let warning = WarningKey {
        practitioner_id: who,
        credential: "registration",
        expires_on: "2026-11-30".parse().unwrap(),
        stage: "expiring",
    };
    s.record_warning(practice, &warning).await.unwrap();
    s.record_warning(practice, &warning).await.unwrap();
    assert_eq!(s.sent_warnings(practice).await.unwrap(), vec![warning], "recorded once");

    let consent = |granted, at: &str| Consent {
        patient_id: patient,
        kind: ConsentKind::Telehealth,
        granted,
        at: utc(at),
        method: ConsentMethod::Online,
    };
    let (yes, no) = (
        consent(true, "2026-11-01T00:00:00Z"),
        consent(false, "2026-11-02T00:00:00Z"),
    );
    s.record_consent(practice, &yes).await.unwrap();
    s.record_consent(practice, &no).await.unwrap();
    assert_eq!(
        s.consents(practice, patient).await.unwrap(),
        vec![yes, no],
        "in the order given"
    );

    let received = "2026-11-02".parse().unwrap();
    let mut request = AccessRequest::new(AuState::NSW, received);
    s.save_access_request(practice, patient, &request).await.unwrap();
    request.provided = Some(("2026-11-10".parse().unwrap(), "emailed PDF".to_owned()));
    s.save_access_request(practice, patient, &request).await.unwrap();
    assert_eq!(
        s.access_requests(practice).await.unwrap(),
        vec![(patient, request)],
        "replaced, not added"
    );

    let form = IntakeForm::psychology_v1();
    s.save_form(practice, &form).await.unwrap();
    assert_eq!(s.form(practice, form.version).await.unwrap(), Some(form.clone()));
    assert_eq!(s.latest_form(practice).await.unwrap(), Some(form.clone()));
    assert_eq!(s.form(practice, form.version + 1).await.unwrap(), None);
    let submission = IntakeSubmission {
        form_version: form.version,
        answers: BTreeMap::from([("reason".to_owned(), Answer::Text("low mood since June".into()))]),
        submitted_at: utc("2026-11-03T00:00:00Z"),
        amendments: vec![],
    };
    s.save_submission(practice, patient, &submission).await.unwrap();
    assert_eq!(s.submission(practice, patient).await.unwrap(), Some(submission));
    assert_eq!(s.submission(ids().new_id(), patient).await.unwrap(), None);

    let appointment_id: AppointmentId = ids().new_id();
    let prep = SessionPrep {
        emergency_plan: true,
        location: Some("home, 3 Pitt St".into()),
        technical_acknowledged: true,
    };
    s.save_prep(practice, appointment_id, patient, &prep).await.unwrap();
    s.save_prep(practice, appointment_id, patient, &prep).await.unwrap();
    assert_eq!(s.prep(practice, appointment_id).await.unwrap(), vec![(patient, prep)]);

    let scores = score(Instrument::Phq9, &[1, 2, 1, 0, 3, 1, 0, 2, 0]).unwrap();
    let measure = MeasureRecord {
        id: ids().new_id(),
        practice_id: practice,
        patient_id: patient,
        instrument: Instrument::Phq9,
        answers: vec![1, 2, 1, 0, 3, 1, 0, 2, 0],
        scores,
        completed_at: utc("2026-11-03T01:02:03.000004Z"),
    };
    s.save_measure(&measure).await.unwrap();
    assert_eq!(s.measures(practice, patient).await.unwrap(), vec![measure]);

    let plan = TreatmentPlan {
        practice_id: practice,
        patient_id: patient,
        author: who,
        goals: vec![TreatmentGoal {
            description: "return to work three days a week".into(),
            achieved: false,
        }],
        review_on: "2027-02-01".parse().unwrap(),
    };
    assert_eq!(s.plan(practice, patient).await.unwrap(), None);
    s.save_plan(&plan).await.unwrap();
    assert_eq!(s.plan(practice, patient).await.unwrap(), Some(plan));

    let checkpoint = Checkpoint {
        seq: 41,
        hash: [7; 32],
        mac: [9; 32],
    };
    s.save_checkpoint(practice, &checkpoint).await.unwrap();
    assert_eq!(s.checkpoints(practice).await.unwrap(), vec![checkpoint]);
    assert!(s.checkpoints(ids().new_id()).await.unwrap().is_empty());
}

/// Destroying a patient's notes removes theirs only.
pub async fn destroying_notes_is_per_patient<S: Storage>(s: Arc<S>) {
    use clinic_core::clinical::{NoteKind, ProgressNote, Soap};
    let practice: PracticeId = ids().new_id();
    let (gone, kept): (PatientId, PatientId) = (ids().new_id(), ids().new_id());
    let note = |patient| {
        ProgressNote::draft(
            ids().new_id(),
            practice,
            patient,
            ids().new_id(),
            NoteKind::Progress,
            Soap {
                subjective: "s".into(),
                objective: "o".into(),
                assessment: "a".into(),
                plan: "p".into(),
            },
        )
    };
    for n in [note(gone), note(gone), note(kept)] {
        s.save_note(&n).await.unwrap();
    }
    assert_eq!(s.destroy_notes(practice, gone).await.unwrap(), 2);
    assert!(s.notes(practice, gone).await.unwrap().is_empty());
    assert_eq!(s.notes(practice, kept).await.unwrap().len(), 1);
    assert_eq!(s.destroy_notes(practice, gone).await.unwrap(), 0);
}

/// A long appointment in one practice never hides a shorter one of another from a
/// snapshot: each practice's scan bound is its own.
pub async fn snapshots_find_long_appointments_in_every_practice<S: Storage>(s: Arc<S>) {
    let (a, b): (PracticeId, PracticeId) = (ids().new_id(), ids().new_id());
    let long = appointment(a, ids().new_id(), ids().new_id(), "2026-12-01T00:00:00Z", 240);
    s.commit(a, &[], &[long]).await.unwrap();
    let who: PractitionerId = ids().new_id();
    let two_hours = appointment(b, who, ids().new_id(), "2026-12-01T00:00:00Z", 120);
    s.commit(b, &[], std::slice::from_ref(&two_hours)).await.unwrap();
    // A window that starts 90 minutes into B's appointment still overlaps it.
    let window = TimeRange::new(utc("2026-12-01T01:30:00Z"), utc("2026-12-01T03:00:00Z")).unwrap();
    let snap = s.snapshot(b, &[ResourceKey::Practitioner(who)], window).await.unwrap();
    assert_eq!(snap.appointments, vec![two_hours.clone()]);
    let busy = s.busy(b, &[ResourceKey::Practitioner(who)], window).await.unwrap();
    assert_eq!(busy.len(), 1);
}

/// Issued invoices page newest first by number, drafts and other practices left out.
pub async fn issued_invoices_page_by_number<S: Storage>(s: Arc<S>) {
    let practice: PracticeId = ids().new_id();
    let other: PracticeId = ids().new_id();
    for _ in 0..5 {
        let inv = draft(practice, 10_000);
        s.save_draft(&inv).await.unwrap();
        s.issue(practice, inv.id, 1, "2026-11-24".parse().unwrap())
            .await
            .unwrap();
    }
    s.save_draft(&draft(practice, 500)).await.unwrap();
    let elsewhere = draft(other, 700);
    s.save_draft(&elsewhere).await.unwrap();
    s.issue(other, elsewhere.id, 1, "2026-11-24".parse().unwrap())
        .await
        .unwrap();
    let numbers = |v: Vec<clinic_core::billing::Invoice>| v.into_iter().map(|i| i.number.unwrap()).collect::<Vec<_>>();
    assert_eq!(numbers(s.issued_invoices(practice, None, 2).await.unwrap()), vec![5, 4]);
    assert_eq!(
        numbers(s.issued_invoices(practice, Some(4), 2).await.unwrap()),
        vec![3, 2]
    );
    assert_eq!(
        numbers(s.issued_invoices(practice, Some(2), 10).await.unwrap()),
        vec![1]
    );
    assert!(s.issued_invoices(practice, Some(1), 10).await.unwrap().is_empty());
    assert_eq!(numbers(s.issued_invoices(other, None, 10).await.unwrap()), vec![1]);
}

/// Tallies count a location's appointments starting in the window (start included, end
/// excluded) by practitioner, status and lateness, whatever the status, and nothing of
/// another location or practice; a rescheduled or cancelled appointment is counted as it
/// stands now.
pub async fn tallies_sum_a_location_s_appointments<S: Storage>(s: Arc<S>) {
    use clinic_core::reports::Tally;
    let practice: PracticeId = ids().new_id();
    let (sam, alex): (PractitionerId, PractitionerId) = (ids().new_id(), ids().new_id());
    let here: LocationId = ids().new_id();
    let at = |who, start: &str, minutes| {
        let mut a = appointment(practice, who, ids().new_id(), start, minutes);
        a.location_id = here;
        a
    };
    let window = TimeRange::new(utc("2026-11-29T13:00:00Z"), utc("2026-11-30T13:00:00Z")).unwrap();
    let mut first = at(sam, "2026-11-29T13:00:00Z", 50);
    first.status = AppointmentStatus::Completed;
    let mut late = at(sam, "2026-11-29T22:00:00Z", 50);
    let mut no_show = at(alex, "2026-11-30T01:00:00Z", 90);
    no_show.status = AppointmentStatus::NoShow;
    let booked = at(sam, "2026-11-30T03:00:00Z", 30);
    let after = at(sam, "2026-11-30T13:00:00Z", 50);
    let mut elsewhere = appointment(practice, sam, ids().new_id(), "2026-11-30T05:00:00Z", 50);
    elsewhere.location_id = ids().new_id();
    let mut other_practice = appointment(ids().new_id(), sam, ids().new_id(), "2026-11-30T05:00:00Z", 50);
    other_practice.location_id = here;
    let all = [
        first.clone(),
        late.clone(),
        no_show.clone(),
        booked.clone(),
        after,
        elsewhere,
    ];
    s.commit(practice, &[], &all).await.unwrap();
    s.commit(other_practice.practice_id, &[], &[other_practice])
        .await
        .unwrap();
    // Cancelled late afterwards: the stored columns follow the change.
    late.status = AppointmentStatus::Cancelled(Cancellation {
        by: CancelledBy::Patient,
        reason: "unwell".into(),
        at: utc("2026-11-29T20:00:00Z"),
        late: true,
    });
    s.commit(practice, &[], std::slice::from_ref(&late)).await.unwrap();
    let got = s.tallies(practice, here, window).await.unwrap();
    let want = Tally::of([&first, &late, &no_show, &booked]);
    assert_eq!(got, want);
    assert_eq!(want.len(), 4);
    assert!(
        got.iter()
            .any(|t| t.late_cancellation && t.status == StatusKind::Cancelled)
    );
    assert_eq!(
        got.iter()
            .filter(|t| t.practitioner_id == alex)
            .map(|t| t.minutes)
            .sum::<u64>(),
        90
    );
    assert!(s.tallies(ids().new_id(), here, window).await.unwrap().is_empty());
}

/// A patient's sessions are those of their appointments that hold time and start in the
/// window (its start included, its end not, whatever the buffers), each once, with the
/// service, location and status as they stand now; nothing of another patient or practice.
pub async fn patient_sessions_are_what_holds_time_in_the_window<S: Storage>(s: Arc<S>) {
    let practice: PracticeId = ids().new_id();
    let (sam, alex): (PractitionerId, PractitionerId) = (ids().new_id(), ids().new_id());
    let (pat, other): (PatientId, PatientId) = (ids().new_id(), ids().new_id());
    let window = TimeRange::new(utc("2026-12-01T00:00:00Z"), utc("2026-12-08T00:00:00Z")).unwrap();
    // Starts on the window's first instant, its buffer before it.
    let mut first = appointment(practice, sam, pat, "2026-12-01T00:00:00Z", 50);
    first.blocked = first.interval.widened(Duration::minutes(15), Duration::minutes(10));
    let mut confirmed = appointment(practice, sam, pat, "2026-12-03T01:00:00Z", 50);
    confirmed.status = AppointmentStatus::Confirmed;
    let mut group = appointment(practice, alex, pat, "2026-12-04T01:00:00Z", 90);
    group.patient_ids.push(other);
    let ends_before = appointment(practice, alex, pat, "2026-11-30T23:00:00Z", 50);
    let at_the_end = appointment(practice, sam, pat, "2026-12-08T00:00:00Z", 50);
    let mut cancelled = appointment(practice, sam, pat, "2026-12-05T01:00:00Z", 50);
    cancelled.status = AppointmentStatus::Cancelled(Cancellation {
        by: CancelledBy::Patient,
        reason: "unwell".into(),
        at: utc("2026-11-20T00:00:00Z"),
        late: false,
    });
    let someone_else = appointment(practice, alex, other, "2026-12-06T01:00:00Z", 50);
    let elsewhere = appointment(ids().new_id(), sam, pat, "2026-12-06T03:00:00Z", 50);
    let mut moved = appointment(practice, sam, pat, "2026-12-02T01:00:00Z", 50);
    s.commit(
        practice,
        &[],
        &[
            first.clone(),
            confirmed.clone(),
            group.clone(),
            ends_before,
            at_the_end,
            cancelled,
            someone_else.clone(),
            moved.clone(),
        ],
    )
    .await
    .unwrap();
    s.commit(elsewhere.practice_id, &[], &[elsewhere]).await.unwrap();
    // Moved out of the window to another service and location: the stored columns follow.
    moved.interval = TimeRange::starting_at(utc("2026-12-09T01:00:00Z"), Duration::minutes(50)).unwrap();
    moved.blocked = moved.interval.widened(Duration::zero(), Duration::minutes(10));
    moved.service_id = ids().new_id();
    moved.location_id = ids().new_id();
    s.commit(practice, &[], std::slice::from_ref(&moved)).await.unwrap();
    let got = s.patient_sessions(practice, pat, window).await.unwrap();
    assert_eq!(
        got,
        vec![
            PatientSession::of(&first),
            PatientSession::of(&confirmed),
            PatientSession::of(&group)
        ]
    );
    assert_eq!(got[1].status, StatusKind::Confirmed);
    assert_eq!(got[2].service, group.service_id);
    assert_eq!(got[2].location, group.location_id);
    let later = TimeRange::new(utc("2026-12-08T00:00:00Z"), utc("2026-12-31T00:00:00Z")).unwrap();
    let got = s.patient_sessions(practice, pat, later).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1], PatientSession::of(&moved));
    assert_eq!(
        s.patient_sessions(practice, other, window).await.unwrap(),
        vec![PatientSession::of(&group), PatientSession::of(&someone_else)]
    );
    assert!(
        s.patient_sessions(ids().new_id(), pat, window)
            .await
            .unwrap()
            .is_empty()
    );
}
