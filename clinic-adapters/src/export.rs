//! Renders a data-access export (APP 12) as JSON and as CSV.
//!
//! The CSV is one row per value: `section,path,value`, where `path` is the value's place
//! in the JSON document (`appointments[2].status.state`). Every value in the JSON appears
//! once in the CSV, so nothing held is left out of either form.

use serde::Serialize;
use serde_json::Value;

/// Why an export could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("the export could not be rendered")]
pub struct ExportError(#[source] serde_json::Error);

impl ExportError {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        "export_failed"
    }
}

/// Pretty JSON.
///
/// # Errors
/// [`ExportError`] if the data cannot be serialised.
pub fn to_json<T: Serialize>(export: &T) -> Result<String, ExportError> {
    serde_json::to_string_pretty(export).map_err(ExportError)
}

/// CSV with a header and one `section,path,value` row per value.
///
/// # Errors
/// [`ExportError`] if the data cannot be serialised.
pub fn to_csv<T: Serialize>(export: &T) -> Result<String, ExportError> {
    let value = serde_json::to_value(export).map_err(ExportError)?;
    let mut out = String::from("section,path,value\r\n");
    if let Value::Object(sections) = value {
        for (section, v) in sections {
            flatten(&section, &section, &v, &mut out);
        }
    }
    Ok(out)
}

fn flatten(section: &str, path: &str, v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                flatten(section, &format!("{path}.{k}"), child, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                flatten(section, &format!("{path}[{i}]"), child, out);
            }
        }
        Value::Null => row(section, path, "", out),
        Value::String(s) => row(section, path, s, out),
        other => row(section, path, &other.to_string(), out),
    }
}

/// The export as a [`Document`](clinic_core::ports::Document) for the PDF renderer: one
/// section per part of the export, one `path: value` line per value, so the PDF holds
/// everything the JSON and CSV hold.
///
/// # Errors
/// [`ExportError`] if the data cannot be serialised.
pub fn to_document<T: Serialize>(title: &str, export: &T) -> Result<clinic_core::ports::Document, ExportError> {
    let value = serde_json::to_value(export).map_err(ExportError)?;
    let mut sections = Vec::new();
    if let Value::Object(parts) = value {
        for (section, v) in parts {
            let mut rows = String::new();
            flatten(&section, &section, &v, &mut rows);
            // Reuse the CSV flattening, then present each row as `path: value`.
            let lines = csv_rows(&rows)
                .into_iter()
                .map(|(path, value)| format!("{path}: {value}"))
                .collect();
            sections.push((section, lines));
        }
    }
    Ok(clinic_core::ports::Document {
        title: title.to_owned(),
        sections,
    })
}

/// Reads back the `section,path,value` rows written by [`flatten`].
fn csv_rows(text: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                fields.push(std::mem::take(&mut field));
                if let [_, path, value] = fields.as_slice() {
                    rows.push((path.clone(), value.clone()));
                }
                fields.clear();
            }
            _ => field.push(c),
        }
    }
    rows
}

/// One RFC 4180 row of the export: the value is guarded against spreadsheet formulas.
fn row(section: &str, path: &str, value: &str, out: &mut String) {
    push_field(section, false, out);
    out.push(',');
    push_field(path, false, out);
    out.push(',');
    push_field(value, true, out);
    out.push_str("\r\n");
}

/// One field: quoted when it holds a comma, quote or line break; when `guard`, a text
/// starting with a formula character (`=`, `+`, `-`, `@`) is prefixed with `'` so a
/// spreadsheet shows it rather than runs it. Numbers are left as they are.
fn push_field(field: &str, guard: bool, out: &mut String) {
    let formula = guard && field.starts_with(['=', '+', '-', '@']) && field.parse::<f64>().is_err();
    let field = if formula { format!("'{field}") } else { field.to_owned() };
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&field);
    }
}

/// A table as RFC 4180 CSV: the header, then one line per row, CRLF line ends, every
/// text field guarded against spreadsheet formulas. For reports.
#[must_use]
pub fn table_csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut out = String::new();
    let mut line = |fields: &mut dyn Iterator<Item = &str>| {
        for (i, f) in fields.enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_field(f, true, &mut out);
        }
        out.push_str("\r\n");
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_table_quotes_what_needs_it_and_defuses_formulas_but_not_negative_numbers() {
        let csv = table_csv(
            &["practitioner", "balance"],
            [
                vec!["Lee, Sam".to_owned(), "-12.50".to_owned()],
                vec!["=HYPERLINK(\"x\")".to_owned(), "0.00".to_owned()],
            ],
        );
        assert_eq!(
            csv,
            "practitioner,balance\r\n\"Lee, Sam\",-12.50\r\n\"'=HYPERLINK(\"\"x\"\")\",0.00\r\n"
        );
    }

    #[test]
    fn every_value_becomes_a_row_quoted_when_needed() {
        let doc = json!({
            "patient": {"name": "O'Brien, \"Jo\"", "dob": "1990-01-01", "tags": ["a", "b"]},
            "notes": [{"text": "line one\nline two", "n": 3, "shared": true, "gp": null}],
            "formula": {"x": "=HYPERLINK(\"evil\")"},
        });
        let csv = to_csv(&doc).unwrap();
        assert!(csv.starts_with("section,path,value\r\n"));
        assert!(csv.contains("patient,patient.name,\"O'Brien, \"\"Jo\"\"\"\r\n"));
        assert!(csv.contains("patient,patient.tags[1],b\r\n"));
        assert!(csv.contains("notes,notes[0].text,\"line one\nline two\"\r\n"));
        assert!(csv.contains("notes,notes[0].n,3\r\n"));
        assert!(csv.contains("notes,notes[0].gp,\r\n"));
        assert!(csv.contains("formula,formula.x,\"'=HYPERLINK(\"\"evil\"\")\"\r\n"));
        assert_eq!(csv.matches("\r\n").count(), 1 + 9, "a header and one row per value");
        assert!(to_json(&doc).unwrap().contains("\"dob\": \"1990-01-01\""));
    }
}

/// What an export's ids stand for, so the document a patient reads names things: the
/// practice, its practitioners, locations (with their zones) and services.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// The practice's name.
    pub practice: String,
    /// Practitioners by id.
    pub practitioners: std::collections::HashMap<clinic_core::ids::PractitionerId, String>,
    /// Locations by id: name and IANA zone.
    pub locations: std::collections::HashMap<clinic_core::ids::LocationId, (String, chrono_tz::Tz)>,
    /// Services by id.
    pub services: std::collections::HashMap<clinic_core::ids::ServiceId, String>,
    /// The zone for instants not tied to a location (the practice's first location's).
    pub zone: Option<chrono_tz::Tz>,
}

/// The APP 12 export as a document the patient reads (APP 12.5: access "in a manner that
/// meets the needs of the individual"): sections in plain words, names instead of ids,
/// dates and times in the location's zone with its abbreviation, amounts in dollars, and
/// each note as its author wrote it. The JSON and CSV stay complete for machines; this is
/// the same record, for a person.
#[must_use]
pub fn readable(export: &clinic_core::service::PatientExport, names: &Names) -> clinic_core::ports::Document {
    use clinic_core::notify::{local_day, local_when};
    let zone = names.zone.unwrap_or(chrono_tz::Australia::Sydney);
    let who = |id: &clinic_core::ids::PractitionerId| {
        names
            .practitioners
            .get(id)
            .cloned()
            .unwrap_or_else(|| "a practitioner no longer listed".into())
    };
    let p = &export.patient;
    let mut about = vec![
        format!("Name: {} {}", p.legal_name.given, p.legal_name.family),
        format!("Date of birth: {}", local_day(p.date_of_birth)),
    ];
    let mut also = |label: &str, value: Option<String>| {
        if let Some(v) = value {
            about.push(format!("{label}: {v}"));
        }
    };
    also("Preferred name", p.preferred_name.clone());
    also("Email", p.email.as_ref().map(ToString::to_string));
    also("Phone", p.phone.as_ref().map(ToString::to_string));
    also("Address", p.address.clone());
    also(
        "Medicare card",
        p.medicare
            .as_ref()
            .map(|m| format!("{} (reference number {})", m.number(), m.irn())),
    );
    also(
        "Health fund",
        p.health_fund
            .as_ref()
            .map(|f| format!("{}, member {}", f.fund, f.member_number)),
    );
    also("DVA file number", p.dva_number.as_ref().map(|d| d.as_str().to_owned()));
    also(
        "Usual GP",
        p.usual_gp.as_ref().map(|g| format!("{}, {}", g.name, g.practice_name)),
    );
    also(
        "Guardian",
        p.guardian.as_ref().map(|c| format!("{} ({})", c.name, c.relationship)),
    );
    also(
        "Emergency contact",
        p.emergency_contact
            .as_ref()
            .map(|c| format!("{} ({})", c.name, c.relationship)),
    );
    let appointments = export
        .appointments
        .iter()
        .map(|a| {
            let (place, tz) = names
                .locations
                .get(&a.location_id)
                .map_or(("a location no longer listed", zone), |(n, z)| (n.as_str(), *z));
            let service = names
                .services
                .get(&a.service_id)
                .map_or("an appointment", String::as_str);
            let mode = match a.mode {
                clinic_core::scheduling::DeliveryMode::InPerson => format!("in person at {place}"),
                clinic_core::scheduling::DeliveryMode::Video => "by video".to_owned(),
                clinic_core::scheduling::DeliveryMode::Phone => "by phone".to_owned(),
            };
            let status = format!("{:?}", a.status_kind())
                .to_lowercase()
                .replace("noshow", "missed");
            format!(
                "{}: {service} with {}, {mode} ({status})",
                local_when(a.interval.start(), tz),
                who(&a.practitioner_id)
            )
        })
        .collect();
    let invoices = export
        .invoices
        .iter()
        .flat_map(|i| {
            let head = match (i.number, i.issued_on) {
                (Some(n), Some(on)) => format!("Invoice INV-{n:06}, issued {}", local_day(on)),
                _ => "Draft invoice (not issued)".to_owned(),
            };
            let lines = i.lines.iter().map(|l| {
                format!(
                    "  {} ({}): {} (GST {})",
                    l.description,
                    local_day(l.service_date),
                    l.total,
                    l.gst
                )
            });
            std::iter::once(format!(
                "{head}: total {}, paid {}, owing {}",
                i.total(),
                i.paid(),
                i.balance()
            ))
            .chain(lines)
            .collect::<Vec<_>>()
        })
        .collect();
    let claims = export
        .claims
        .iter()
        .map(|c| {
            format!(
                "Medicare item {} for {}: benefit {} ({})",
                c.item,
                local_day(c.service_date),
                c.benefit,
                match &c.status {
                    clinic_core::billing::ClaimStatus::Draft => "prepared".to_owned(),
                    other => format!("{other:?}")
                        .split([' ', '{'])
                        .next()
                        .unwrap_or_default()
                        .to_lowercase(),
                }
            )
        })
        .collect();
    let referrals = export
        .referrals
        .iter()
        .map(|r| format!("Referral by {} written {}", r.referrer_name, local_day(r.written_on)))
        .collect();
    let elsewhere = export
        .external_services
        .iter()
        .map(|s| format!("A session elsewhere on {}", local_day(s.date)))
        .collect();
    let notes = export
        .notes
        .iter()
        .flat_map(|n| {
            let when = match n.state {
                clinic_core::clinical::NoteState::Signed { at } => format!("signed {}", local_when(at, zone)),
                clinic_core::clinical::NoteState::Locked { locked_at, .. } => {
                    format!("signed and locked {}", local_when(locked_at, zone))
                }
                clinic_core::clinical::NoteState::Draft => "a draft".to_owned(),
            };
            let soap = [
                ("Subjective", &n.soap.subjective),
                ("Objective", &n.soap.objective),
                ("Assessment", &n.soap.assessment),
                ("Plan", &n.soap.plan),
            ];
            std::iter::once(format!("Note by {}, {when}", who(&n.author)))
                .chain(
                    soap.into_iter()
                        .filter(|(_, t)| !t.trim().is_empty())
                        .map(|(label, t)| format!("  {label}: {t}")),
                )
                .chain(n.addenda.iter().map(|a| {
                    format!(
                        "  Added by {} on {}: {}",
                        who(&a.author),
                        local_when(a.at, zone),
                        a.text
                    )
                }))
                .collect::<Vec<_>>()
        })
        .collect();
    let consents = export
        .consents
        .iter()
        .map(|c| {
            format!(
                "{}: {} ({:?})",
                local_when(c.at, zone),
                if c.granted { "given" } else { "withdrawn" },
                c.kind
            )
        })
        .collect();
    let corrections = export
        .corrections
        .iter()
        .map(|c| match c {
            clinic_core::privacy::CorrectionOutcome::Applied { .. } => {
                "A correction you asked for was made.".to_owned()
            }
            clinic_core::privacy::CorrectionOutcome::Declined { reason, statement } => format!(
                "A correction was declined: {reason}{}",
                statement
                    .as_ref()
                    .map(|s| format!(" (your statement: {s})"))
                    .unwrap_or_default()
            ),
        })
        .collect();
    let none = |v: Vec<String>| if v.is_empty() { vec!["None.".to_owned()] } else { v };
    clinic_core::ports::Document {
        title: format!("Your records at {}", names.practice),
        sections: vec![
            (
                "About this document".to_owned(),
                vec![
                    format!(
                        "Your record at {}, as at {}, in answer to your request (Australian Privacy Principle 12): your details, appointments, clinical notes, invoices, Medicare claims, referrals, consents and corrections. Your messages with your clinicians are in the app; ask the practice for your intake answers.",
                        names.practice,
                        local_when(export.generated_at, zone)
                    ),
                    "Times are local to where each appointment was held. Ask the practice if anything is unclear or wrong: you may ask for a correction (Australian Privacy Principle 13).".to_owned(),
                ],
            ),
            ("About you".to_owned(), about),
            ("Appointments".to_owned(), none(appointments)),
            ("Clinical notes".to_owned(), none(notes)),
            ("Invoices and payments".to_owned(), none(invoices)),
            ("Medicare claims".to_owned(), none(claims)),
            ("Referrals".to_owned(), none(referrals)),
            ("Sessions with other practices".to_owned(), none(elsewhere)),
            ("Consents".to_owned(), none(consents)),
            ("Corrections".to_owned(), none(corrections)),
        ],
    }
}
