//! The adversarial matrix, generated from the route table: every `GET` route about one
//! patient that the served OpenAPI document lists is either in [`PATIENT_READS`], with the
//! roles-matrix cell it answers to, or in [`ELSEWHERE`] with the test that covers it. A
//! new route fails here until someone says which. Each route in the table is then asked
//! by every role, about a patient of their own (the patient themselves, or one their
//! clinician treats) and about another patient, and by a token of another practice; the
//! answer must be what `access::decide` says.

use clinic_core::access::{self, Action, Area, RecordFacts, Relation};
use clinic_core::people::Role;

use super::*;

/// `GET /api/v1/patients/{id}…` routes and the cell of the roles matrix each answers to.
const PATIENT_READS: &[(&str, Action, Area)] = &[
    ("/api/v1/patients/{id}", Action::Read, Area::Profile),
    ("/api/v1/patients/{id}/consents", Action::Read, Area::Profile),
    ("/api/v1/patients/{id}/intake", Action::Read, Area::Profile),
    ("/api/v1/patients/{id}/corrections", Action::Read, Area::PrivacyRequests),
    ("/api/v1/patients/{id}/export", Action::Process, Area::PrivacyRequests),
    ("/api/v1/patients/{id}/guardians", Action::Read, Area::StaffAccounts),
    ("/api/v1/patients/{id}/invoices", Action::Read, Area::Billing),
    ("/api/v1/patients/{id}/medicare-usage", Action::Read, Area::Billing),
    ("/api/v1/patients/{id}/referrals", Action::Read, Area::Billing),
    ("/api/v1/patients/{id}/measures", Action::Read, Area::OutcomeMeasures),
    ("/api/v1/patients/{id}/prescriptions", Action::Read, Area::Prescriptions),
];

/// Patient routes answered by tests of their own, and why they are not in the table.
const ELSEWHERE: &[(&str, &str)] = &[
    (
        "/api/v1/patients/{id}/care-team",
        "care records, not a cell of the matrix: attacks::an_assignment_gives_care_and_ending_it_takes_it_away",
    ),
    (
        "/api/v1/patients/{id}/test-results",
        "a list filtered by each result's facts (reviewed): prescriptions_results_plans_and_measures_follow_the_matrix",
    ),
    (
        "/api/v1/patients/{id}/plan",
        "the plan's sharing decides a patient's read: prescriptions_results_plans_and_measures_follow_the_matrix",
    ),
    (
        "/api/v1/patients/{id}/referrals/{referral}/letter",
        "a document behind a referral: referrals_are_recorded_by_the_desk_and_medicare_usage_counts_what_is_booked",
    ),
];

#[tokio::test]
async fn every_patient_route_answers_every_role_and_relation_as_the_matrix_says() {
    let app = spawn_app().await;
    // Every patient GET route of the document is in one list or the other.
    let doc: Value = serde_json::from_str(include_str!("../../openapi.json")).unwrap();
    let listed: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, ops)| path.starts_with("/api/v1/patients/{id}") && ops.get("get").is_some())
        .map(|(path, _)| path.as_str())
        .collect();
    for path in &listed {
        assert!(
            PATIENT_READS.iter().any(|(p, _, _)| p == path) || ELSEWHERE.iter().any(|(p, _)| p == path),
            "{path} is served but neither in PATIENT_READS nor in ELSEWHERE: say which matrix cell it answers to"
        );
    }
    for (path, _, _) in PATIENT_READS {
        assert!(listed.contains(path), "{path} is in the table but not served");
    }

    // Two patients: the first booked with Tom, the second with Mei.
    let (service, tom, _) = directory(&app).await;
    let mei = practitioner_named(&app, "Mei Chen").await;
    let pairs = [(app.patients[0], tom.clone()), (app.patients[1], mei)];
    for (patient, practitioner) in &pairs {
        let slots = app
            .get(&format!(
                "/api/v1/slots?service_id={service}&practitioner_id={practitioner}&from=2026-11-24&to=2026-11-30&zone=Australia/Sydney"
            ))
            .await;
        let slot = &slots.body[0];
        let booked = book(
            &app,
            (&service, practitioner, slot["location_id"].as_str().unwrap()),
            patient,
            slot["start"].as_str().unwrap(),
        )
        .await;
        assert_eq!(booked.status, 201, "{:?}", booked.body);
        // An intake on file, so that its route has something to answer with.
        app.state
            .store
            .save_submission(
                app.state.practice,
                *patient,
                &clinic_core::clinical::IntakeSubmission {
                    form_version: 1,
                    answers: std::collections::BTreeMap::new(),
                    submitted_at: "2026-11-20T00:00:00Z".parse().unwrap(),
                    amendments: Vec::new(),
                },
            )
            .await
            .unwrap();
    }
    let mut wrong = Vec::new();
    let mut asked = 0;
    for role in [
        Role::Patient,
        Role::Psychologist,
        Role::Doctor,
        Role::Technician,
        Role::PracticeManager,
        Role::Admin,
    ] {
        // The first patient is the principal's own: they are that patient, or their
        // clinician (Tom) treats them. The second is another's.
        let clinician = matches!(role, Role::Psychologist | Role::Doctor).then_some(tom.as_str());
        let token = token_for(&app, role, clinician, (role == Role::Patient).then_some(pairs[0].0));
        app.use_token(Some(&token));
        for (relation, patient) in [(Relation::Own, pairs[0].0), (Relation::Other, pairs[1].0)] {
            for (template, action, area) in PATIENT_READS {
                let path = template.replace("{id}", &patient.to_string());
                let decide = |relation| {
                    access::decide(&access::Request {
                        role,
                        action: *action,
                        area: *area,
                        relation,
                        facts: RecordFacts::default(),
                        break_glass: false,
                    })
                };
                let allowed = decide(relation) == access::Decision::Allow;
                let hidden = relation == Relation::Other && decide(Relation::Own) == access::Decision::Allow;
                open_access_request(&app, &path).await;
                let r = app.get(&path).await;
                asked += 1;
                let ok = if allowed {
                    r.status == 200
                } else if hidden {
                    r.status == 404
                } else {
                    r.status == 403 || r.status == 404
                };
                if !ok {
                    wrong.push(format!(
                        "{role:?} {relation:?} GET {template}: {} {}",
                        r.status, r.body["code"]
                    ));
                }
            }
        }
    }
    // A token of another practice, signed with this server's key, reads nothing.
    let foreign = clinic_core::people::User {
        id: UuidV7Ids.new_id(),
        practice_id: UuidV7Ids.new_id(),
        email: clinic_core::people::Email::parse("admin@elsewhere.example").unwrap(),
        roles: vec![Role::Admin],
        practitioner_id: None,
        patient_id: None,
        guardian_of: Vec::new(),
    };
    app.use_token(Some(&app.state.tokens.issue(&foreign, chrono::Utc::now()).unwrap()));
    for (template, _, _) in PATIENT_READS {
        let path = template.replace("{id}", &pairs[0].0.to_string());
        let r = app.get(&path).await;
        asked += 1;
        if r.status != 401 {
            wrong.push(format!("another practice GET {template}: {}", r.status));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {asked} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(asked, PATIENT_READS.len() * (6 * 2 + 1));
}
