//! FHIR R4 export: the AU Base identifiers, the status mapping, and every resource
//! validated against the FHIR R4 JSON schema (the subset in `tests/fhir/`, cut from
//! hl7.org/fhir/R4/fhir.schema.json) by Python's `jsonschema`, as an outside validator.
//! Without Python and `jsonschema` the schema check says why it is skipped; with
//! `CI=true` it must run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use chrono::NaiveDate;
use clinic_adapters::fhir;
use clinic_core::ids::*;
use clinic_core::people::*;
use clinic_core::practice::{AuState, Location};
use clinic_core::scheduling::{Appointment, AppointmentStatus, Cancellation, CancelledBy, DeliveryMode, Slot};
use clinic_core::time::TimeRange;
use serde_json::{Value, json};
use uuid::Uuid;

fn id<T: From<Uuid>>(n: u128) -> T {
    T::from(Uuid::from_u128(n))
}

fn sydney() -> Location {
    Location::new(
        id(2),
        id(1),
        "Sydney CBD",
        "1 George St, Sydney NSW 2000",
        chrono_tz::Australia::Sydney,
        AuState::NSW,
    )
    .unwrap()
}

fn patient() -> Patient {
    let mut spec = PatientSpec::new("Zoë", "Nguyen", NaiveDate::from_ymd_opt(2012, 2, 29).unwrap());
    spec.preferred_name = Some("Zo".into());
    spec.email = Some(Email::parse("zoe@example.com").unwrap());
    spec.medicare = Some(MedicareCard::parse("2123 45670 1", 3).unwrap());
    spec.guardian = Some(ContactPerson {
        name: "Lan Nguyen".into(),
        relationship: "mother".into(),
        phone: Phone::parse("0412 345 678").unwrap(),
        email: Some(Email::parse("lan@example.com").unwrap()),
    });
    Patient::register(id(10), id(1), spec, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()).unwrap()
}

fn practitioner() -> Practitioner {
    Practitioner::new(
        id(20),
        id(1),
        PractitionerKind::ClinicalPsychologist,
        "Dr Sam Lee",
        Some(AhpraNumber::parse("PSY0001234567").unwrap()),
        vec![(id(2), ProviderNumber::parse("2429581T").unwrap())],
        PractitionerProfile::default(),
    )
    .unwrap()
}

fn appointment(status: AppointmentStatus) -> Appointment {
    let interval =
        TimeRange::starting_at("2026-12-07T23:00:00Z".parse().unwrap(), chrono::Duration::minutes(50)).unwrap();
    Appointment {
        id: id(30),
        practice_id: id(1),
        practitioner_id: id(20),
        patient_ids: vec![id(10)],
        service_id: id(40),
        location_id: id(2),
        room_id: None,
        mode: DeliveryMode::Video,
        interval,
        blocked: interval,
        status,
        series_id: None,
        history: vec![],
        created_at: "2026-12-01T00:00:00Z".parse().unwrap(),
    }
}

fn resources() -> Vec<Value> {
    let loc = sydney();
    let pr = practitioner();
    let schedule = fhir::schedule(&pr, &loc);
    let schedule_id = schedule["id"].as_str().unwrap().to_owned();
    let slot = Slot {
        practitioner_id: pr.id,
        location_id: loc.id,
        start: "2026-12-08T22:00:00Z".parse().unwrap(),
        end: "2026-12-08T22:50:00Z".parse().unwrap(),
        local_start: "2026-12-09T09:00:00+11:00".parse().unwrap(),
    };
    let cancelled = AppointmentStatus::Cancelled(Cancellation {
        by: CancelledBy::Clinic,
        reason: "practitioner unwell".into(),
        at: "2026-12-06T00:00:00Z".parse().unwrap(),
        late: false,
    });
    let resources = vec![
        fhir::patient(&patient()),
        fhir::practitioner(&pr),
        fhir::appointment(
            &appointment(AppointmentStatus::Confirmed),
            "Individual therapy (50 min)",
        ),
        fhir::appointment(&appointment(cancelled), "Individual therapy (50 min)"),
        schedule,
        fhir::slot(&slot, &schedule_id),
    ];
    let mut all = resources.clone();
    all.push(fhir::bundle("https://clinic.example/fhir", resources));
    all
}

#[test]
fn identifiers_follow_au_base() {
    let p = fhir::patient(&patient());
    assert_eq!(
        p["identifier"][0]["system"],
        "http://ns.electronichealth.net.au/id/medicare-number"
    );
    assert_eq!(
        p["identifier"][0]["value"], "21234567013",
        "the 10-digit number and the IRN"
    );
    assert_eq!(p["identifier"][0]["type"]["coding"][0]["code"], "MC");
    assert_eq!(p["birthDate"], "2012-02-29");
    assert_eq!(p["name"][1], json!({"use": "usual", "given": ["Zo"]}));
    assert_eq!(p["contact"][0]["telecom"][1]["value"], "lan@example.com");
    let pr = fhir::practitioner(&practitioner());
    assert_eq!(
        pr["identifier"][0]["system"],
        "http://hl7.org.au/id/ahpra-registration-number"
    );
    assert_eq!(pr["identifier"][0]["value"], "PSY0001234567");
    assert_eq!(pr["identifier"][0]["type"]["coding"][0]["code"], "AHPRA");
    assert_eq!(
        pr["identifier"][1]["system"],
        "http://ns.electronichealth.net.au/id/medicare-provider-number"
    );
    assert_eq!(pr["identifier"][1]["value"], "2429581T");
}

#[test]
fn appointments_carry_their_status_and_nothing_clinical() {
    let a = fhir::appointment(&appointment(AppointmentStatus::NoShow), "Individual therapy");
    assert_eq!(a["status"], "noshow");
    assert_eq!(a["start"], "2026-12-07T23:00:00Z");
    assert_eq!(a["minutesDuration"], 50);
    assert_eq!(
        a["participant"][1]["actor"]["reference"],
        format!("Patient/{}", id::<PatientId>(10))
    );
    let cancelled = resources()[3].to_string();
    assert!(!cancelled.contains("unwell"), "the reason stays in the practice");
    for (status, fhir_status) in [
        (AppointmentStatus::Requested, "proposed"),
        (AppointmentStatus::Booked, "booked"),
        (AppointmentStatus::Arrived, "arrived"),
        (AppointmentStatus::Completed, "fulfilled"),
    ] {
        assert_eq!(fhir::appointment(&appointment(status), "x")["status"], fhir_status);
    }
}

#[test]
fn a_schedule_and_its_slots_have_stable_ids() {
    let loc = sydney();
    let pr = practitioner();
    assert_eq!(fhir::schedule_id(pr.id, &loc), fhir::schedule_id(pr.id, &loc));
    let other = Location::new(
        id(3),
        id(1),
        "Parramatta",
        "1 Church St",
        chrono_tz::Australia::Sydney,
        AuState::NSW,
    )
    .unwrap();
    assert_ne!(fhir::schedule_id(pr.id, &loc), fhir::schedule_id(pr.id, &other));
    let all = resources();
    let bundle = all.last().unwrap();
    assert_eq!(bundle["total"], 6);
    assert!(
        bundle["entry"][5]["fullUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://clinic.example/fhir/Slot/")
    );
    // FHIR ids are at most 64 characters of [A-Za-z0-9.-].
    for r in &all {
        let id = r["id"].as_str().unwrap_or("bundle");
        assert!(
            id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
            "{id}"
        );
    }
}

const VALIDATE: &str = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
docs = json.load(open(sys.argv[2]))
validator = jsonschema.Draft6Validator(schema)
bad = 0
for i, doc in enumerate(docs):
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors[:3]:
        print(f"document {i} ({doc.get('resourceType')}): {list(e.path)}: {e.message[:200]}")
    bad += 1 if errors else 0
print(f"invalid={bad}")
"#;

/// The number of documents the R4 schema rejects, or why the validator cannot run.
fn invalid_count(docs: &[Value]) -> Result<usize, String> {
    let dir = std::env::temp_dir().join(format!("clinic-fhir-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("docs.json");
    std::fs::write(&file, serde_json::to_vec(docs).unwrap()).unwrap();
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fhir/fhir-r4-subset.schema.json");
    let out = Command::new("python3")
        .args(["-c", VALIDATE, schema])
        .arg(&file)
        .output()
        .map_err(|e| format!("python3 is not available ({e})"))?;
    std::fs::remove_dir_all(&dir).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the validator did not run (pip install jsonschema): {}",
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default()
        ));
    }
    print!("{stdout}");
    let n = stdout
        .lines()
        .find_map(|l| l.strip_prefix("invalid="))
        .ok_or("the validator printed no count")?;
    Ok(n.parse().unwrap())
}

#[test]
fn every_resource_is_valid_fhir_r4_and_a_broken_one_is_not() {
    let mut broken = fhir::appointment(&appointment(AppointmentStatus::Booked), "x");
    broken["status"] = json!("maybe");
    let mut unknown = fhir::patient(&patient());
    unknown["medicare"] = json!("2123456701");
    let docs = resources();
    match invalid_count(&docs) {
        Ok(n) => {
            assert_eq!(n, 0, "every exported resource is valid R4");
            assert_eq!(
                invalid_count(&[broken, unknown]).unwrap(),
                2,
                "the validator rejects what R4 does"
            );
        }
        Err(why) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("SKIPPED: FHIR schema validation: {why}");
        }
        Err(why) => panic!("FHIR schema validation must run in CI: {why}"),
    }
}
