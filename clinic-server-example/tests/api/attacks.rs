//! One test per finding of the outside review of access and accounts: each makes the
//! attack as it was made, and each failed on the code before the fix (the findings and
//! their before and after are in `docs/EVIDENCE.md`, 2026-12-08).

use clinic_core::people::Role;
use serde_json::json;

use super::*;

/// Books `patient` with Tom Okafor in Sydney at `start` as the administrator (the front
/// desk's power), which makes Tom their treating psychologist; Tom's id.
async fn treated_by_tom(app: &TestApp, patient: PatientId, start: &str) -> String {
    let (service, tom, sydney) = directory(app).await;
    let r = book(app, (&service, &tom, &sydney), patient, start).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    tom
}

/// Finding 1: the APP 12 export was a manager's way round the notes' access rules: with
/// no request open it returned every note in full, process notes and drafts included.
#[tokio::test]
async fn a_manager_s_export_answers_a_request_and_holds_no_process_note_or_draft() {
    let app = spawn_app().await;
    let patient = app.patients[0];
    let tom = treated_by_tom(&app, patient, "2026-11-30T10:00:00+11:00").await;
    // The patient's psychologist keeps a process note and an unsigned draft.
    let clinician = token_for(&app, Role::Psychologist, Some(&tom), None);
    let admin = app.token.lock().unwrap().clone();
    app.use_token(Some(&clinician));
    let draft = app
        .post(
            "/api/v1/notes",
            &json!({"patient_id": patient, "soap": {"subjective": "half-written", "objective": "", "assessment": "", "plan": ""}}),
        )
        .await;
    assert_eq!(draft.status, 201, "{:?}", draft.body);
    let process = app
        .post(
            "/api/v1/notes",
            &json!({"patient_id": patient, "kind": "process", "soap": {"subjective": "my countertransference", "objective": "", "assessment": "", "plan": ""}}),
        )
        .await;
    assert_eq!(process.status, 201, "{:?}", process.body);
    let manager = token_for(&app, Role::PracticeManager, None, None);
    app.use_token(Some(&manager));
    let path = format!("/api/v1/patients/{patient}/export");
    problem(&app.get(&path).await, 409, "no_access_request");
    app.use_token(admin.as_deref());
    problem(&app.get(&path).await, 409, "no_access_request");
    // The patient asks; the manager answers once.
    app.use_token(Some(&token_for(&app, Role::Patient, None, Some(patient))));
    let asked = app
        .post(&format!("/api/v1/patients/{patient}/access-requests"), &json!({}))
        .await;
    assert_eq!(asked.status, 201, "{:?}", asked.body);
    app.use_token(Some(&manager));
    let export = app.get(&path).await;
    assert_eq!(export.status, 200, "{:?}", export.body);
    let text = export.body.to_string();
    assert!(!text.contains("countertransference"), "no process note");
    assert!(!text.contains("half-written"), "no draft");
    assert_eq!(export.body["notes"], json!([]), "nothing was signed");
    assert!(text.contains("Alex"), "the record itself is there");
    problem(&app.get(&path).await, 409, "no_access_request");
}

/// Finding 2: an invitation could name a practitioner who already had an account, in
/// roles that did not fit the record: a manager could become any clinician.
#[tokio::test]
async fn an_invitation_never_takes_over_a_clinician_nor_gives_roles_that_do_not_fit() {
    let app = spawn_app().await;
    let tom = practitioner_named(&app, "Tom Okafor").await;
    let mei = practitioner_named(&app, "Mei Chen").await;
    let first = app
        .post(
            "/api/v1/staff/invitations",
            &json!({"email": "tom@harbour.example", "roles": ["psychologist"], "practitioner_id": tom}),
        )
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let takeover = app
        .post(
            "/api/v1/staff/invitations",
            &json!({"email": "me@attacker.example", "roles": ["psychologist"], "practitioner_id": tom}),
        )
        .await;
    problem(&takeover, 409, "practitioner_has_account");
    let mismatch = app
        .post(
            "/api/v1/staff/invitations",
            &json!({"email": "x@attacker.example", "roles": ["doctor", "technician", "practice_manager"], "practitioner_id": mei}),
        )
        .await;
    problem(&mismatch, 422, "invalid_field");
    assert_eq!(mismatch.body["field"], "roles");
    // Nothing was created for either attempt.
    let staff = app.get("/api/v1/staff").await;
    assert_eq!(staff.status, 200, "{:?}", staff.body);
    let emails: Vec<&str> = staff
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["email"].as_str().unwrap())
        .collect();
    assert!(emails.contains(&"tom@harbour.example"));
    assert!(!emails.iter().any(|e| e.ends_with("attacker.example")), "{emails:?}");
}

/// Finding 3: a psychologist booked another clinician's patient into their own calendar
/// and from then on read that patient's records, even after cancelling the booking.
#[tokio::test]
async fn a_clinician_cannot_open_a_stranger_s_record_by_booking_them() {
    let app = spawn_app().await;
    let (service, _, sydney) = directory(&app).await;
    let mei = practitioner_named(&app, "Mei Chen").await;
    let patient = app.patients[1];
    let admin = app.token.lock().unwrap().clone();
    let mei_token = token_for(&app, Role::Psychologist, Some(&mei), None);
    app.use_token(Some(&mei_token));
    let invoices = format!("/api/v1/patients/{patient}/invoices");
    problem(&app.get(&invoices).await, 404, "not_found");
    let attempt = app
        .post(
            "/api/v1/appointments",
            &json!({"practitioner_id": mei, "service_id": service, "location_id": sydney,
                    "patient_ids": [patient], "start": "2026-12-02T10:00:00+11:00"}),
        )
        .await;
    problem(&attempt, 403, "not_treating");
    problem(&app.get(&invoices).await, 404, "not_found");
    // The refusal is in the audit trail as a denial.
    let denied = app
        .state
        .store
        .events(app.state.practice, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .any(|e| {
            e.entry.action == "appointment.book"
                && e.entry.outcome == clinic_core::audit::Outcome::Denied
                && e.entry.patient_id == Some(patient)
        });
    assert!(denied, "the refused booking is audited as denied");
    // The front desk assigns the patient to her by booking her first free time; she
    // treats them while it stands.
    app.use_token(Some(&token_for(&app, Role::Technician, None, None)));
    let slots = app
        .get(&format!(
            "/api/v1/slots?service_id={service}&from=2026-11-30&to=2026-12-11&practitioner_id={mei}&zone=Australia/Adelaide"
        ))
        .await;
    assert_eq!(slots.status, 200, "{:?}", slots.body);
    let slot = &slots.body[0];
    let booked = app
        .post(
            "/api/v1/appointments",
            &json!({"practitioner_id": mei, "service_id": service, "location_id": slot["location_id"],
                    "patient_ids": [patient], "start": slot["start"]}),
        )
        .await;
    assert_eq!(booked.status, 201, "{:?}", booked.body);
    let id = booked.body["id"].as_str().unwrap().to_owned();
    app.use_token(Some(&mei_token));
    assert_eq!(app.get(&invoices).await.status, 200);
    // Cancelling the only booking that made the relationship ends it.
    app.use_token(admin.as_deref());
    let cancel = app
        .post(
            &format!("/api/v1/appointments/{id}/cancel"),
            &json!({"by": "clinic", "reason": "booked in error"}),
        )
        .await;
    assert_eq!(cancel.status, 200, "{:?}", cancel.body);
    app.use_token(Some(&mei_token));
    problem(&app.get(&invoices).await, 404, "not_found");
}

/// Finding 4: deletion ran with no request, inside the retention period (a session
/// invoiced a week before did not count), and a correction named the de-identified
/// record again.
#[tokio::test]
async fn deletion_needs_the_patient_s_request_and_keeps_what_the_law_keeps() {
    let app = spawn_app().await;
    // Alex was invoiced for a session seven days ago; nothing was completed or signed.
    let alex = app.patients[0];
    let mut line = common::therapy_line();
    line.service_date = "2026-11-16".parse().unwrap();
    let invoice = app
        .state
        .billing
        .create_invoice(
            app.state.practice,
            alex,
            clinic_core::billing::Payer::Patient,
            vec![line],
        )
        .await
        .unwrap();
    app.state
        .billing
        .issue(app.state.practice, invoice.id, chrono_tz::Australia::Sydney)
        .await
        .unwrap();
    let deletion = format!("/api/v1/patients/{alex}/deletion");
    problem(&app.post(&deletion, &json!({})).await, 409, "no_deletion_request");
    assert_eq!(
        app.state
            .store
            .patient(app.state.practice, alex)
            .await
            .unwrap()
            .legal_name
            .given,
        "Alex",
        "nothing erased"
    );
    let asked = app
        .post(&format!("/api/v1/patients/{alex}/deletion-requests"), &json!({}))
        .await;
    assert_eq!(asked.status, 201, "{:?}", asked.body);
    let refused = app.post(&deletion, &json!({})).await;
    assert_eq!(refused.status, 200, "{:?}", refused.body);
    assert_eq!(
        refused.body["outcome"]["outcome"], "refused_until",
        "{:?}",
        refused.body
    );
    assert_eq!(
        refused.body["outcome"]["until"], "2033-11-16",
        "seven years from the invoiced session"
    );
    assert_eq!(refused.body["deidentified"], false);
    // A patient never seen is carried out, says what it kept, and stays de-identified.
    let token = register_patient(&app, "gone@example.com").await;
    let me = app.get("/api/v1/auth/me").await.body["patient_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = app
        .post(&format!("/api/v1/patients/{me}/deletion-requests"), &json!({}))
        .await;
    assert_eq!(own.status, 201, "{:?}", own.body);
    let _ = token;
    app.use_token(Some(&token_for(&app, Role::PracticeManager, None, None)));
    let done = app.post(&format!("/api/v1/patients/{me}/deletion"), &json!({})).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["deidentified"], true);
    assert!(!done.body["kept"].as_array().unwrap().is_empty());
    let renamed = app
        .post(
            &format!("/api/v1/patients/{me}/corrections"),
            &json!({"corrected": {"given_name": "Zoë", "family_name": "Nguyen", "date_of_birth": "1994-03-02"}}),
        )
        .await;
    problem(&renamed, 409, "record_deidentified");
}

/// Finding 5: a stranger registered the guardian email the practice held for a minor,
/// the manager linked "the parent" by it, and the stranger read the child's record. No
/// address was ever verified.
#[tokio::test]
async fn a_stranger_with_the_parent_s_address_is_never_linked_to_the_child() {
    let app = spawn_app().await;
    let child = minor(&app, "Mia", "2014-02-01").await;
    app.use_token(None);
    let reg = app
        .post(
            "/api/v1/auth/register",
            &json!({"email": "parent@example.com", "password": "the stranger's passphrase", "given_name": "Not",
                    "family_name": "Parent", "date_of_birth": "1980-01-01"}),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    let stranger = reg.body["access_token"].as_str().unwrap().to_owned();
    app.use_token(Some(&token_for(&app, Role::PracticeManager, None, None)));
    let link = app
        .post(
            &format!("/api/v1/patients/{child}/guardians"),
            &json!({"email": "parent@example.com"}),
        )
        .await;
    problem(&link, 422, "email_unverified");
    app.use_token(Some(&stranger));
    problem(&app.get(&format!("/api/v1/patients/{child}")).await, 404, "not_found");
}

/// Finding 6: one id repeated 1,500 times in `practitioner_id` took 12 s of the request
/// threads; duplicates and trailing commas also made new cache keys.
#[tokio::test]
async fn a_slot_search_names_each_practitioner_once_and_at_most_a_hundred() {
    let app = spawn_app().await;
    let (service, tom, _) = directory(&app).await;
    let window = format!("/api/v1/slots?service_id={service}&from=2026-11-30&to=2026-12-04");
    let one = app.get(&format!("{window}&practitioner_id={tom}")).await;
    assert_eq!(one.status, 200, "{:?}", one.body);
    let repeated = vec![tom.as_str(); 150].join(",");
    let same = app.get(&format!("{window}&practitioner_id={repeated},,")).await;
    assert_eq!(same.status, 200);
    assert_eq!(same.body, one.body, "the same question, the same answer");
    let many: Vec<String> = (0..101).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let r = app.get(&format!("{window}&practitioner_id={}", many.join(","))).await;
    problem(&r, 422, "invalid_field");
    assert_eq!(r.body["field"], "practitioner_id");
}

/// Finding 6, its sibling: a patient's slot search for another patient showed that
/// patient's appointments by the gaps.
#[tokio::test]
async fn a_slot_search_for_another_patient_is_not_found() {
    let app = spawn_app().await;
    let (service, tom, _) = directory(&app).await;
    app.use_token(Some(&token_for(&app, Role::Patient, None, Some(app.patients[1]))));
    let window = format!("/api/v1/slots?service_id={service}&from=2026-11-30&to=2026-12-04&practitioner_id={tom}");
    problem(
        &app.get(&format!("{window}&patient_id={}", app.patients[0])).await,
        404,
        "not_found",
    );
    assert_eq!(
        app.get(&format!("{window}&patient_id={}", app.patients[1]))
            .await
            .status,
        200
    );
}

/// Finding 7: a patient put another patient's attachment digest into their own thread and
/// downloaded the other's file.
#[tokio::test]
async fn an_attachment_is_attached_only_by_whoever_uploaded_it() {
    let app = spawn_app().await;
    let (alex, jordan) = (app.patients[0], app.patients[1]);
    let jordans = treated_by_tom(&app, jordan, "2026-11-30T10:00:00+11:00").await;
    app.use_token(Some(&token_for(&app, Role::Patient, None, Some(alex))));
    let (status, body) = app
        .send_bytes(
            "POST",
            "/api/v1/messages/attachments",
            "text/plain",
            b"Alex's own letter",
        )
        .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let reference: Value = serde_json::from_slice(&body).unwrap();
    app.use_token(Some(&token_for(&app, Role::Patient, None, Some(jordan))));
    let stolen = app
        .post(
            "/api/v1/messages/threads",
            &json!({"patient_id": jordan, "practitioner_ids": [jordans], "subject": "Hello",
                    "body": "see attached", "attachments": [reference]}),
        )
        .await;
    problem(&stolen, 422, "attachment_not_uploaded");
    // The filing is audited.
    let filed = app
        .state
        .store
        .events(app.state.practice, 0, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.entry.action == "attachment.upload")
        .count();
    assert_eq!(filed, 1);
}

/// Finding 11: uploads had no bound per account.
#[tokio::test]
async fn an_account_uploads_at_most_twenty_files_a_day() {
    let app = spawn_app().await;
    app.use_token(Some(&token_for(&app, Role::Patient, None, Some(app.patients[0]))));
    for i in 0..20 {
        let (status, _) = app
            .send_bytes(
                "POST",
                "/api/v1/messages/attachments",
                "text/plain",
                format!("note {i}").as_bytes(),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (status, body) = app
        .send_bytes("POST", "/api/v1/messages/attachments", "text/plain", b"one more")
        .await;
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("upload_quota"));
}

/// Finding 9: no route disabled an account or removed a role, and refresh tokens renewed
/// for 30 days on each use: a departed clinician kept access indefinitely. There was no
/// password reset.
#[tokio::test]
async fn an_offboarded_member_of_staff_loses_every_session_at_once() {
    let app = spawn_app().await;
    let admin = app.token.lock().unwrap().clone();
    let made = app
        .post(
            "/api/v1/staff/invitations",
            &json!({"email": "desk@harbour.example", "roles": ["technician"]}),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let user = made.body["user_id"].as_str().unwrap().to_owned();
    let mail = app.email.sent().pop().unwrap();
    let token = mail
        .text
        .split("#token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    app.use_token(None);
    let accepted = app
        .post(
            "/api/v1/auth/accept-invitation",
            &json!({"email": "desk@harbour.example", "token": token, "password": "the desk's passphrase"}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    let access = accepted.body["access_token"].as_str().unwrap().to_owned();
    let refresh = accepted.body["refresh_token"].as_str().unwrap().to_owned();
    app.use_token(Some(&access));
    assert_eq!(app.get("/api/v1/directory").await.status, 200);
    // Only an administrator offboards.
    problem(
        &app.post(&format!("/api/v1/staff/{user}/disable"), &json!({})).await,
        403,
        "forbidden",
    );
    app.use_token(admin.as_deref());
    let disabled = app.post(&format!("/api/v1/staff/{user}/disable"), &json!({})).await;
    assert_eq!(disabled.status, 200, "{:?}", disabled.body);
    assert_eq!(disabled.body["disabled"], true);
    app.use_token(Some(&access));
    problem(&app.get("/api/v1/directory").await, 401, "session_revoked");
    app.use_token(None);
    problem(
        &app.post("/api/v1/auth/refresh", &json!({"refresh_token": refresh}))
            .await,
        401,
        "session_revoked",
    );
    problem(
        &app.post(
            "/api/v1/auth/login",
            &login_body("desk@harbour.example", "the desk's passphrase"),
        )
        .await,
        401,
        "invalid_credentials",
    );
    // The last administrator cannot be disabled or lose the role.
    app.use_token(admin.as_deref());
    let me = app.get("/api/v1/auth/me").await.body["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    problem(
        &app.post(&format!("/api/v1/staff/{me}/disable"), &json!({})).await,
        409,
        "last_administrator",
    );
    problem(
        &app.call(
            "PUT",
            &format!("/api/v1/staff/{me}/roles"),
            Some(&json!({"roles": ["practice_manager"]}).to_string()),
        )
        .await,
        409,
        "last_administrator",
    );
    // Enabled again, the account signs in afresh; a role change ends that session too.
    assert_eq!(
        app.post(&format!("/api/v1/staff/{user}/enable"), &json!({}))
            .await
            .status,
        200
    );
    app.use_token(None);
    let again = app
        .post(
            "/api/v1/auth/login",
            &login_body("desk@harbour.example", "the desk's passphrase"),
        )
        .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    let access = again.body["access_token"].as_str().unwrap().to_owned();
    // Tokens carry whole seconds: a revocation ends tokens issued in its second too.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.use_token(admin.as_deref());
    let roles = app
        .call(
            "PUT",
            &format!("/api/v1/staff/{user}/roles"),
            Some(&json!({"roles": ["practice_manager"]}).to_string()),
        )
        .await;
    assert_eq!(roles.status, 200, "{:?}", roles.body);
    app.use_token(Some(&access));
    problem(&app.get("/api/v1/directory").await, 401, "session_revoked");
    // Every change is in the audit trail.
    let actions: Vec<String> = app
        .state
        .store
        .events(app.state.practice, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry.action)
        .filter(|a| a.starts_with("account."))
        .collect();
    assert_eq!(actions, ["account.disable", "account.enable", "account.roles"]);
}

/// Finding 9, its other half: there was no way back from a forgotten password, and none
/// that ended a thief's sessions.
#[tokio::test]
async fn a_password_is_reset_by_a_one_time_emailed_link_that_ends_every_session() {
    let app = spawn_app().await;
    app.use_token(None);
    let signed_in = app
        .post("/api/v1/auth/login", &login_body(ADMIN_EMAIL, ADMIN_PASSWORD))
        .await;
    let refresh = signed_in.body["refresh_token"].as_str().unwrap().to_owned();
    // The same answer for an address with no account.
    let unknown = app
        .post("/api/v1/auth/password-reset", &json!({"email": "nobody@example.com"}))
        .await;
    assert_eq!(unknown.status, 202);
    let asked = app
        .post("/api/v1/auth/password-reset", &json!({"email": ADMIN_EMAIL}))
        .await;
    assert_eq!(asked.status, 202);
    let token = emailed_token(&app, ADMIN_EMAIL, "reset-password").await;
    let confirm = |token: &str, password: &str| json!({"email": ADMIN_EMAIL, "token": token, "password": password});
    problem(
        &app.post(
            "/api/v1/auth/password-reset/confirm",
            &confirm("not-the-token", "a brand new passphrase"),
        )
        .await,
        403,
        "link_invalid",
    );
    // Tokens carry whole seconds: a revocation ends tokens issued in its second too.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let done = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            &confirm(&token, "a brand new passphrase"),
        )
        .await;
    assert_eq!(done.status, 204, "{:?}", done.body);
    problem(
        &app.post(
            "/api/v1/auth/password-reset/confirm",
            &confirm(&token, "yet another passphrase"),
        )
        .await,
        403,
        "link_invalid",
    );
    problem(
        &app.post("/api/v1/auth/refresh", &json!({"refresh_token": refresh}))
            .await,
        401,
        "session_revoked",
    );
    problem(
        &app.post("/api/v1/auth/login", &login_body(ADMIN_EMAIL, ADMIN_PASSWORD))
            .await,
        401,
        "invalid_credentials",
    );
    let fresh = app
        .post("/api/v1/auth/login", &login_body(ADMIN_EMAIL, "a brand new passphrase"))
        .await;
    assert_eq!(fresh.status, 200, "{:?}", fresh.body);
}

/// Finding 10: a new self-registered account booked 20 weekly sessions in one request;
/// registration was not throttled and needed no verified email.
#[tokio::test]
async fn a_new_account_books_nothing_unproven_and_no_long_series() {
    let app = spawn_app().await;
    let (service, tom, sydney) = directory(&app).await;
    app.use_token(None);
    let reg = app
        .post(
            "/api/v1/auth/register",
            &json!({"email": "new@example.com", "password": "a long enough passphrase", "given_name": "Sam",
                    "family_name": "Lee", "date_of_birth": "1990-01-01"}),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    app.use_token(reg.body["access_token"].as_str());
    let me = app.get("/api/v1/auth/me").await.body["patient_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let series = |count: u16| {
        json!({"practitioner_id": tom, "service_id": service, "location_id": sydney, "patient_ids": [me],
               "start": "2026-12-01T10:00:00+11:00", "recurrence": {"every_weeks": 1, "end": {"count": count}}})
    };
    problem(
        &app.post("/api/v1/appointments", &series(20)).await,
        403,
        "email_unverified",
    );
    verify_email(&app, "new@example.com").await;
    problem(
        &app.post("/api/v1/appointments", &series(20)).await,
        422,
        "series_too_long",
    );
    let twelve = app.post("/api/v1/appointments", &series(12)).await;
    assert_ne!(twelve.body["code"], "series_too_long", "{:?}", twelve.body);
    assert_ne!(twelve.body["code"], "too_many_open_appointments", "{:?}", twelve.body);
    // Five registrations an hour from one address; the sixth waits.
    app.use_token(None);
    let mut last = 0;
    for i in 0..5 {
        last = app
            .post(
                "/api/v1/auth/register",
                &json!({"email": format!("bulk{i}@example.com"), "password": "a long enough passphrase",
                        "given_name": "Bulk", "family_name": "Account", "date_of_birth": "1990-01-01"}),
            )
            .await
            .status;
    }
    assert_eq!(last, 429, "the sixth from this address (the first was new@)");
}

/// Low findings: a 16 KB client request id was stored in the audit log and echoed, and
/// names took right-to-left override characters.
#[tokio::test]
async fn a_client_request_id_is_kept_only_when_plain_and_names_refuse_bidi_overrides() {
    let app = spawn_app().await;
    let huge = "A".repeat(16 * 1024);
    let r = app
        .raw(
            "GET",
            "/api/v1/directory",
            &format!(
                "X-Request-Id: {huge}\r\nAuthorization: Bearer {}\r\n",
                app.token.lock().unwrap().clone().unwrap()
            ),
        )
        .await;
    let id = r.header("x-request-id").unwrap();
    assert!(id.len() <= 64 && id != huge, "replaced: {id}");
    assert_eq!(uuid::Uuid::parse_str(id).map(|_| ()), Ok(()), "a generated id");
    let kept = app.raw("GET", "/health", "X-Request-Id: trace-1234.abc:5\r\n").await;
    assert_eq!(kept.header("x-request-id"), Some("trace-1234.abc:5"));
    app.use_token(None);
    let reg = app
        .post(
            "/api/v1/auth/register",
            &json!({"email": "rlo@example.com", "password": "a long enough passphrase", "given_name": "Ann\u{202E}nhoJ",
                    "family_name": "Lee", "date_of_birth": "1990-01-01"}),
        )
        .await;
    problem(&reg, 422, "invalid_field");
    assert_eq!(reg.body["field"], "given_name");
    // The same for an emergency contact (the third outside pass got one in).
    let p = app.patients[0];
    app.use_token(Some(&token_for(&app, Role::Patient, None, Some(p))));
    let contact = app
        .call(
            "PUT",
            &format!("/api/v1/patients/{p}/emergency-contact"),
            Some(&json!({"name": "E\u{202E}x", "relationship": "mother", "phone": "0412345678"}).to_string()),
        )
        .await;
    problem(&contact, 422, "invalid_field");
    assert_eq!(contact.body["field"], "name");
}

/// Finding (item 1 of the issue): an administrator's sign-in, a patient search, an
/// appointment listing and a booking left no audit event at all.
#[tokio::test]
async fn sign_in_search_listing_and_booking_each_leave_an_audit_event() {
    let app = spawn_app().await;
    let (service, tom, sydney) = directory(&app).await;
    let before = app
        .state
        .store
        .events(app.state.practice, 0, 10_000)
        .await
        .unwrap()
        .len();
    app.use_token(None);
    let wrong = app
        .post("/api/v1/auth/login", &login_body(ADMIN_EMAIL, "not the password"))
        .await;
    problem(&wrong, 401, "invalid_credentials");
    let login = app
        .post("/api/v1/auth/login", &login_body(ADMIN_EMAIL, ADMIN_PASSWORD))
        .await;
    app.use_token(login.body["access_token"].as_str());
    assert_eq!(app.get("/api/v1/patients?q=tay").await.status, 200);
    assert_eq!(
        app.get("/api/v1/appointments?from=2026-11-23T00:00:00Z&to=2026-12-23T00:00:00Z")
            .await
            .status,
        200
    );
    let booked = book(
        &app,
        (&service, &tom, &sydney),
        app.patients[2],
        "2026-12-01T10:00:00+11:00",
    )
    .await;
    assert_eq!(booked.status, 201, "{:?}", booked.body);
    let events: Vec<(String, clinic_core::audit::Outcome, Option<String>)> = app
        .state
        .store
        .events(app.state.practice, before as u64, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.entry.action, e.entry.outcome, e.entry.reason))
        .collect();
    let actions: Vec<&str> = events.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "auth.sign_in",
            "auth.sign_in",
            "patient.search",
            "appointment.list",
            "appointment.book"
        ],
        "{events:?}"
    );
    assert_eq!(events[0].1, clinic_core::audit::Outcome::Denied, "the wrong password");
    assert_eq!(events[1].1, clinic_core::audit::Outcome::Allowed);
    // The search is recorded by its size, never by the name searched for.
    assert!(
        events
            .iter()
            .all(|(_, _, r)| !r.as_deref().unwrap_or("").contains("tay"))
    );
}

/// Item 2 of the issue: care is a record. The front desk assigns a patient to a clinician
/// (who then treats them without any booking) and ends it (and the access with it).
#[tokio::test]
async fn an_assignment_gives_care_and_ending_it_takes_it_away() {
    let app = spawn_app().await;
    let mei = practitioner_named(&app, "Mei Chen").await;
    let patient = app.patients[3];
    let invoices = format!("/api/v1/patients/{patient}/invoices");
    let mei_token = token_for(&app, Role::Psychologist, Some(&mei), None);
    app.use_token(Some(&mei_token));
    problem(&app.get(&invoices).await, 404, "not_found");
    // A clinician does not assign themselves.
    let team = format!("/api/v1/patients/{patient}/care-team");
    problem(
        &app.post(&team, &json!({"practitioner_id": mei})).await,
        404,
        "not_found",
    );
    app.use_token(Some(&token_for(&app, Role::Technician, None, None)));
    let assigned = app.post(&team, &json!({"practitioner_id": mei})).await;
    assert_eq!(assigned.status, 201, "{:?}", assigned.body);
    assert_eq!(assigned.body["basis"], "assigned");
    let record = assigned.body["id"].as_str().unwrap().to_owned();
    app.use_token(Some(&mei_token));
    assert_eq!(app.get(&invoices).await.status, 200, "in her care now");
    let listed = app.get(&team).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    app.use_token(Some(&token_for(&app, Role::PracticeManager, None, None)));
    let ended = app.post(&format!("{team}/{record}/end"), &json!({})).await;
    assert_eq!(ended.status, 200, "{:?}", ended.body);
    assert!(ended.body["until"].is_string());
    app.use_token(Some(&mei_token));
    problem(&app.get(&invoices).await, 404, "not_found");
}

/// Item 2 of the issue: break-glass over HTTP. A reason, four hours, reads flagged with the
/// reason, no writes, and the opening on the managers' dashboard.
#[tokio::test]
async fn break_glass_opens_a_record_to_read_for_four_hours_flagged_for_review() {
    let app = spawn_app().await;
    let patient = app.patients[4];
    let tom = treated_by_tom(&app, patient, "2026-11-30T10:00:00+11:00").await;
    // Tom writes and signs a note; Mei, who does not treat the patient, cannot read it.
    app.use_token(Some(&token_for(&app, Role::Psychologist, Some(&tom), None)));
    let note = app
        .post(
            "/api/v1/notes",
            &json!({"patient_id": patient, "soap": {"subjective": "s", "objective": "o", "assessment": "a", "plan": "safety plan agreed"}}),
        )
        .await;
    assert_eq!(note.status, 201, "{:?}", note.body);
    let note_id = note.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.post(&format!("/api/v1/notes/{note_id}/sign"), &json!({}))
            .await
            .status,
        200
    );
    let mei = practitioner_named(&app, "Mei Chen").await;
    app.use_token(Some(&token_for(&app, Role::Psychologist, Some(&mei), None)));
    let read = format!("/api/v1/notes/{note_id}");
    problem(&app.get(&read).await, 404, "not_found");
    let glass = format!("/api/v1/patients/{patient}/break-glass");
    problem(
        &app.post(&glass, &json!({"reason": "urgent"})).await,
        422,
        "invalid_field",
    );
    let opened = app
        .post(&glass, &json!({"reason": "patient at reception in crisis; Tom away"}))
        .await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    assert_eq!(opened.body["basis"], "break_glass");
    let r = app.get(&read).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["soap"]["plan"], "safety plan agreed");
    // Reading is all it allows.
    let write = app
        .post(
            "/api/v1/notes",
            &json!({"patient_id": patient, "soap": {"subjective": "", "objective": "", "assessment": "", "plan": "x"}}),
        )
        .await;
    assert!(write.status == 403 || write.status == 404, "{:?}", write.body);
    // Every read under it is flagged with the reason.
    let flagged = app
        .state
        .store
        .events(app.state.practice, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.outcome == clinic_core::audit::Outcome::Flagged)
        .map(|e| (e.entry.action, e.entry.reason))
        .collect::<Vec<_>>();
    let why = Some("patient at reception in crisis; Tom away".to_owned());
    assert!(
        flagged.contains(&("care.break_glass".to_owned(), why.clone())),
        "{flagged:?}"
    );
    assert!(flagged.contains(&("note.read".to_owned(), why)), "{flagged:?}");
    // The managers see it to review.
    app.use_token(Some(&token_for(&app, Role::PracticeManager, None, None)));
    let dash = app.get("/api/v1/dashboard").await;
    assert_eq!(dash.status, 200, "{:?}", dash.body);
    assert_eq!(dash.body["break_glass"].as_array().unwrap().len(), 1, "{:?}", dash.body);
    // Four hours on, it is over.
    app.clock.set("2026-11-23T04:00:00Z".parse().unwrap());
    app.use_token(Some(&token_for(&app, Role::Psychologist, Some(&mei), None)));
    problem(&app.get(&read).await, 404, "not_found");
    // A patient or the front desk cannot break the glass.
    app.use_token(Some(&token_for(&app, Role::Technician, None, None)));
    problem(
        &app.post(&glass, &json!({"reason": "just curious about this one"}))
            .await,
        403,
        "forbidden",
    );
}

/// From the outside review: after a deletion, the correction history still held the
/// patient's earlier names and contacts, and the patient's own sign-in still worked and
/// could write the details back.
#[tokio::test]
async fn a_deleted_patient_leaves_no_correction_history_and_no_sign_in() {
    let app = spawn_app().await;
    register_patient(&app, "leaving@example.com").await;
    let me = app.get("/api/v1/auth/me").await.body["patient_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let asked = app
        .post(&format!("/api/v1/patients/{me}/deletion-requests"), &json!({}))
        .await;
    assert_eq!(asked.status, 201, "{:?}", asked.body);
    let patient_token = app.token.lock().unwrap().clone();
    app.use_token(Some(&token_for(&app, Role::PracticeManager, None, None)));
    let corrected = app
        .post(
            &format!("/api/v1/patients/{me}/corrections"),
            &json!({"corrected": {"given_name": "Kiddo", "family_name": "Young", "date_of_birth": "2000-05-05"}}),
        )
        .await;
    assert_eq!(corrected.status, 200, "{:?}", corrected.body);
    let done = app.post(&format!("/api/v1/patients/{me}/deletion"), &json!({})).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["accounts_deleted"], 1);
    let history = app.get(&format!("/api/v1/patients/{me}/corrections")).await;
    assert_eq!(history.status, 200);
    assert_eq!(history.body, json!([]), "no earlier version survives");
    assert!(!history.body.to_string().contains("Kiddo"));
    app.use_token(patient_token.as_deref());
    problem(&app.get("/api/v1/auth/me").await, 401, "session_revoked");
    app.use_token(None);
    problem(
        &app.post(
            "/api/v1/auth/login",
            &login_body("leaving@example.com", "a long enough passphrase"),
        )
        .await,
        401,
        "invalid_credentials",
    );
}

/// From the outside review: with only an access token, the second-factor routes answered
/// `password_wrong` 28 times and then let the right password through.
#[tokio::test]
async fn guessing_the_password_on_the_second_factor_routes_locks_the_account() {
    let app = spawn_app().await;
    for _ in 0..5 {
        problem(
            &app.post(
                "/api/v1/auth/2fa/enrol",
                &json!({"password": "a guess at the password"}),
            )
            .await,
            403,
            "password_wrong",
        );
    }
    problem(
        &app.post("/api/v1/auth/2fa/enrol", &json!({"password": ADMIN_PASSWORD}))
            .await,
        403,
        "account_locked",
    );
}

/// From the outside review: a used refresh token presented again revoked its family, but
/// the access tokens issued from it kept working; and an account that had only ever
/// registered (never signed in through /login) could be locked out by a stranger.
#[tokio::test]
async fn a_reused_refresh_token_ends_its_access_tokens_and_registering_counts_as_signing_in() {
    let app = spawn_app().await;
    app.use_token(None);
    let login = app
        .post("/api/v1/auth/login", &login_body(ADMIN_EMAIL, ADMIN_PASSWORD))
        .await;
    let refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
    let renewed = app
        .post("/api/v1/auth/refresh", &json!({"refresh_token": refresh}))
        .await;
    assert_eq!(renewed.status, 200);
    let access = renewed.body["access_token"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    problem(
        &app.post("/api/v1/auth/refresh", &json!({"refresh_token": refresh}))
            .await,
        401,
        "refresh_token_reused",
    );
    app.use_token(Some(&access));
    problem(&app.get("/api/v1/directory").await, 401, "session_revoked");
    // Registered from 127.0.0.1 and never signed in since: a stranger elsewhere locks the
    // account for strangers, not for its owner at home.
    register_patient(&app, "home@example.com").await;
    app.use_token(None);
    for _ in 0..6 {
        let r = app
            .post_from(
                [127, 0, 0, 9],
                "/api/v1/auth/login",
                &login_body("home@example.com", "a wrong passphrase!"),
            )
            .await;
        problem(&r, 401, "invalid_credentials");
    }
    let home = app
        .post(
            "/api/v1/auth/login",
            &login_body("home@example.com", "a long enough passphrase"),
        )
        .await;
    assert_eq!(home.status, 200, "{:?}", home.body);
}

/// From the outside review: 40 reset requests sent 40 emails to one address.
#[tokio::test]
async fn password_reset_links_go_out_at_most_once_in_five_minutes() {
    let app = spawn_app().await;
    app.use_token(None);
    for _ in 0..5 {
        let r = app
            .post("/api/v1/auth/password-reset", &json!({"email": ADMIN_EMAIL}))
            .await;
        assert_eq!(r.status, 202);
    }
    emailed_token(&app, ADMIN_EMAIL, "reset-password").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let sent = app
        .email
        .sent()
        .iter()
        .filter(|m| m.text.contains("/reset-password#token="))
        .count();
    assert_eq!(sent, 1);
}

/// Second outside review: two administrators disabling each other at the same moment left
/// the practice with none; an administrator's token alone took their own second factor
/// off through the staff route; a manager granted the technician role (and read every test
/// result through the account they made).
#[tokio::test]
async fn offboarding_keeps_an_administrator_and_grants_nothing_beyond_one_s_own() {
    let app = spawn_app().await;
    let admin_token = app.token.lock().unwrap().clone().unwrap();
    let me = app.get("/api/v1/auth/me").await.body["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A second administrator, invited and accepted.
    let made = app
        .post(
            "/api/v1/staff/invitations",
            &json!({"email": "second@harbour.example", "roles": ["admin"]}),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let second = made.body["user_id"].as_str().unwrap().to_owned();
    let token = emailed_token(&app, "second@harbour.example", "accept-invitation").await;
    app.use_token(None);
    let accepted = app
        .post(
            "/api/v1/auth/accept-invitation",
            &json!({"email": "second@harbour.example", "token": token, "password": "the second admin's passphrase"}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    let second_token = accepted.body["access_token"].as_str().unwrap().to_owned();
    // Each disables the other at once: one wins, the other is refused.
    let (first_path, second_path) = (
        format!("/api/v1/staff/{second}/disable"),
        format!("/api/v1/staff/{me}/disable"),
    );
    let one = app.call_as(&admin_token, "POST", &first_path);
    let other = app.call_as(&second_token, "POST", &second_path);
    let (a, b) = tokio::join!(one, other);
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert!(
        statuses == [200, 401] || statuses == [200, 409],
        "one disable wins and the other is refused: {statuses:?}"
    );
    let staff = app.call_as(&admin_token, "GET", "/api/v1/staff").await;
    let enabled_admins = staff
        .body
        .as_array()
        .map(|v| {
            v.iter()
                .filter(|s| s["roles"].as_array().unwrap().contains(&json!("admin")) && s["disabled"] == false)
                .count()
        })
        .unwrap_or(1);
    assert!(enabled_admins >= 1 || staff.status == 401, "{:?}", staff.body);
    // Whichever administrator is left cannot strip their own second factor by the staff
    // route: that takes the password and a code.
    let left = if a.status == 200 {
        (&admin_token, &me)
    } else {
        (&second_token, &second)
    };
    let own = app
        .call_as(left.0, "POST", &format!("/api/v1/staff/{}/two-factor/reset", left.1))
        .await;
    problem(&own, 403, "own_two_factor");
    // A manager grants only a manager's role.
    app.use_token(Some(&token_for(&app, Role::PracticeManager, None, None)));
    for roles in [
        json!(["practice_manager", "technician"]),
        json!(["technician"]),
        json!(["psychologist"]),
    ] {
        let r = app
            .post(
                "/api/v1/staff/invitations",
                &json!({"email": "evil@x.example", "roles": roles}),
            )
            .await;
        assert_eq!(r.status, 403, "{roles}: {:?}", r.body);
    }
    let fine = app
        .post(
            "/api/v1/staff/invitations",
            &json!({"email": "deputy@harbour.example", "roles": ["practice_manager"]}),
        )
        .await;
    assert_eq!(fine.status, 201, "{:?}", fine.body);
}

/// Second outside review: a de-identified record took a declined correction's statement,
/// a new invoice with a named payer, a waitlist entry and new requests, each naming it
/// again.
#[tokio::test]
async fn nothing_new_is_recorded_against_a_de_identified_record() {
    let app = spawn_app().await;
    let p = app.patients[4];
    assert_eq!(
        app.post(&format!("/api/v1/patients/{p}/deletion-requests"), &json!({}))
            .await
            .status,
        201
    );
    let done = app.post(&format!("/api/v1/patients/{p}/deletion"), &json!({})).await;
    assert_eq!(done.body["deidentified"], true, "{:?}", done.body);
    let (service, tom, sydney) = directory(&app).await;
    for (path, body) in [
        (
            format!("/api/v1/patients/{p}/corrections/decline"),
            json!({"reason": "no", "statement": "I am Dora of 7 Secret Lane"}),
        ),
        (format!("/api/v1/patients/{p}/access-requests"), json!({})),
        (format!("/api/v1/patients/{p}/deletion-requests"), json!({})),
        (
            "/api/v1/waitlist".to_owned(),
            json!({"patient_id": p, "service_id": service, "practitioner_id": tom, "location_id": sydney}),
        ),
        (
            "/api/v1/appointments".to_owned(),
            json!({"practitioner_id": tom, "service_id": service, "location_id": sydney,
                   "patient_ids": [p], "start": "2026-12-01T10:00:00+11:00"}),
        ),
    ] {
        problem(&app.post(&path, &body).await, 409, "record_deidentified");
    }
    let corrections = app.get(&format!("/api/v1/patients/{p}/corrections")).await;
    assert!(!corrections.body.to_string().contains("Secret Lane"));
}
