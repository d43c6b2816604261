//! Clinical records: progress notes (SOAP), process notes, treatment plans, outcome
//! measures, prescriptions and test results.
//!
//! Clinical text is health information: it never appears in an error, a log or an audit
//! event (which records who touched which record, not what it says).

mod measures;
mod notes;
mod orders;

pub use measures::{Instrument, MeasureError, Score, Severity, score};
pub use notes::{Addendum, NoteError, NoteKind, NoteState, ProgressNote, Soap, TreatmentGoal, TreatmentPlan};
pub use orders::{Prescription, PrescriptionSpec, ResultValue, TestResult};
