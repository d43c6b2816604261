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

/// Saves a note, a plan and a measure whose text is [`SECRET`], and reads them back.
pub async fn store_clinical_text(s: &Arc<SqlStore>) -> PracticeId {
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
    practice
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
