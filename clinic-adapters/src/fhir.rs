//! FHIR R4 JSON for other systems: Patient, Practitioner, Appointment, Schedule and Slot
//! resources, and a searchset Bundle of them.
//!
//! Identifiers follow the AU Base implementation guide (HL7 Australia): the Medicare card
//! number (`http://ns.electronichealth.net.au/id/medicare-number`, type `MC`, the 11-digit
//! form with the individual reference number), the Ahpra registration number
//! (`http://hl7.org.au/id/ahpra-registration-number`, type `AHPRA`) and the Medicare
//! provider number (`http://ns.electronichealth.net.au/id/medicare-provider-number`, type
//! `UPIN`). Resource ids are the records' UUIDs. Nothing clinical is exported here: an
//! appointment names its service and status, never a reason or a note.

use chrono::{DateTime, SecondsFormat, Utc};
use clinic_core::ids::PractitionerId;
use clinic_core::people::{Patient, Practitioner, PractitionerKind};
use clinic_core::practice::Location;
use clinic_core::scheduling::{Appointment, DeliveryMode, Slot, StatusKind};
use serde_json::{Value, json};

/// HL7 v2 table 0203, identifier types.
const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";
/// AU Base's additions to table 0203 (for `AHPRA`).
const AU_V2_0203: &str = "http://terminology.hl7.org.au/CodeSystem/v2-0203";

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn identifier(type_system: &str, code: &str, system: &str, value: &str) -> Value {
    json!({
        "type": {"coding": [{"system": type_system, "code": code}]},
        "system": system,
        "value": value,
    })
}

/// A Patient: names (official, and the preferred one as `usual`), birth date, telecom,
/// address as text, the Medicare card, and the guardian as a contact.
#[must_use]
pub fn patient(p: &Patient) -> Value {
    let mut names = vec![json!({
        "use": "official",
        "family": p.legal_name.family,
        "given": [p.legal_name.given],
    })];
    if let Some(preferred) = &p.preferred_name {
        names.push(json!({"use": "usual", "given": [preferred]}));
    }
    let mut telecom = Vec::new();
    if let Some(e) = &p.email {
        telecom.push(json!({"system": "email", "value": e.as_str()}));
    }
    if let Some(ph) = &p.phone {
        telecom.push(json!({"system": "phone", "value": ph.as_str(), "use": "mobile"}));
    }
    let mut out = json!({
        "resourceType": "Patient",
        "id": p.id.to_string(),
        "active": true,
        "name": names,
        "birthDate": p.date_of_birth.to_string(),
    });
    if !telecom.is_empty() {
        out["telecom"] = Value::Array(telecom);
    }
    if let Some(card) = &p.medicare {
        out["identifier"] = json!([identifier(
            V2_0203,
            "MC",
            "http://ns.electronichealth.net.au/id/medicare-number",
            &format!("{}{}", card.number(), card.irn()),
        )]);
    }
    if let Some(address) = &p.address {
        out["address"] = json!([{"text": address}]);
    }
    if let Some(g) = &p.guardian {
        let mut contact = json!({
            "relationship": [{"text": g.relationship}],
            "name": {"text": g.name},
            "telecom": [{"system": "phone", "value": g.phone.as_str()}],
        });
        if let (Some(e), Some(t)) = (&g.email, contact["telecom"].as_array_mut()) {
            t.push(json!({"system": "email", "value": e.as_str()}));
        }
        out["contact"] = json!([contact]);
    }
    out
}

fn profession(kind: PractitionerKind) -> &'static str {
    match kind {
        PractitionerKind::RegisteredPsychologist => "Registered psychologist",
        PractitionerKind::ClinicalPsychologist => "Clinical psychologist",
        PractitionerKind::Doctor => "Medical practitioner",
        PractitionerKind::Technician => "Technician",
    }
}

/// A Practitioner: the name shown to patients, the Ahpra registration number, a Medicare
/// provider number per location, and the profession as a qualification.
#[must_use]
pub fn practitioner(p: &Practitioner) -> Value {
    let mut ids = Vec::new();
    if let Some(a) = &p.ahpra_number {
        ids.push(identifier(
            AU_V2_0203,
            "AHPRA",
            "http://hl7.org.au/id/ahpra-registration-number",
            a.as_str(),
        ));
    }
    for (_, number) in &p.provider_numbers {
        ids.push(identifier(
            V2_0203,
            "UPIN",
            "http://ns.electronichealth.net.au/id/medicare-provider-number",
            number.as_str(),
        ));
    }
    let mut out = json!({
        "resourceType": "Practitioner",
        "id": p.id.to_string(),
        "active": p.suspension.is_none(),
        "name": [{"text": p.display_name}],
        "qualification": [{"code": {"text": profession(p.kind)}}],
    });
    if !ids.is_empty() {
        out["identifier"] = Value::Array(ids);
    }
    out
}

/// FHIR's appointment status for ours.
fn appointment_status(s: StatusKind) -> &'static str {
    match s {
        StatusKind::Requested => "proposed",
        StatusKind::Booked | StatusKind::Confirmed => "booked",
        StatusKind::Arrived => "arrived",
        StatusKind::Completed => "fulfilled",
        StatusKind::Cancelled => "cancelled",
        StatusKind::NoShow => "noshow",
    }
}

/// An Appointment: status, start and end, the service as its type, the mode as its
/// service category, and the practitioner, each patient and the location as participants.
#[must_use]
pub fn appointment(a: &Appointment, service_name: &str) -> Value {
    let status = a.status.kind();
    let mut participants = vec![json!({
        "actor": {"reference": format!("Practitioner/{}", a.practitioner_id)},
        "required": "required",
        "status": "accepted",
    })];
    for p in &a.patient_ids {
        participants.push(json!({
            "actor": {"reference": format!("Patient/{p}")},
            "required": "required",
            "status": if status == StatusKind::Confirmed { "accepted" } else { "needs-action" },
        }));
    }
    participants.push(json!({
        "actor": {"reference": format!("Location/{}", a.location_id), "display": "location"},
        "status": "accepted",
    }));
    let mode = match a.mode {
        DeliveryMode::InPerson => "In person",
        DeliveryMode::Video => "Video",
        DeliveryMode::Phone => "Phone",
    };
    json!({
        "resourceType": "Appointment",
        "id": a.id.to_string(),
        "status": appointment_status(status),
        "serviceType": [{"text": service_name}],
        "serviceCategory": [{"text": mode}],
        "start": instant(a.interval.start()),
        "end": instant(a.interval.end()),
        "minutesDuration": a.interval.duration().num_minutes(),
        "created": a.created_at.date_naive().to_string(),
        "participant": participants,
    })
}

/// The Schedule of a practitioner at a location: its id is derived from both, so the
/// same pair always names the same schedule.
#[must_use]
pub fn schedule_id(practitioner: PractitionerId, location: &Location) -> String {
    let a = practitioner.as_uuid().as_u128();
    let b = location.id.as_uuid().as_u128();
    uuid::Uuid::from_u128(a ^ b.rotate_left(64)).to_string()
}

/// A Schedule: a practitioner's bookable time at a location, active unless suspended.
#[must_use]
pub fn schedule(p: &Practitioner, location: &Location) -> Value {
    json!({
        "resourceType": "Schedule",
        "id": schedule_id(p.id, location),
        "active": p.suspension.is_none(),
        "actor": [
            {"reference": format!("Practitioner/{}", p.id), "display": p.display_name},
            {"reference": format!("Location/{}", location.id), "display": location.name},
        ],
        "comment": format!("Times are kept in {}", location.zone.name()),
    })
}

/// A free Slot on a schedule; its id is the schedule's and its start (Unix seconds), so
/// the same free time always has the same id.
#[must_use]
pub fn slot(s: &Slot, schedule_id: &str) -> Value {
    json!({
        "resourceType": "Slot",
        "id": format!("{schedule_id}-{}", s.start.timestamp()),
        "schedule": {"reference": format!("Schedule/{schedule_id}")},
        "status": "free",
        "start": instant(s.start),
        "end": instant(s.end),
    })
}

/// A `searchset` Bundle of resources, each with its full URL under `base`.
#[must_use]
pub fn bundle(base: &str, resources: Vec<Value>) -> Value {
    let total = resources.len();
    let entry: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let url = format!(
                "{base}/{}/{}",
                r["resourceType"].as_str().unwrap_or_default(),
                r["id"].as_str().unwrap_or_default()
            );
            json!({"fullUrl": url, "resource": r, "search": {"mode": "match"}})
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "total": total, "entry": entry})
}
