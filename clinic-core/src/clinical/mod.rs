//! Clinical records: progress notes (SOAP), process notes, treatment plans, outcome
//! measures, prescriptions and test results, intake forms.
//!
//! Clinical text is health information: it never appears in an error, a log or an audit
//! event (which records who touched which record, not what it says).

mod intake;
mod measures;
mod notes;
mod orders;

pub use intake::{Amendment, Answer, AnswerKind, IntakeError, IntakeForm, IntakeSubmission, Question, Section};
pub use measures::{Instrument, MeasureError, MeasureRecord, Score, Severity, score};
pub use notes::{Addendum, NoteError, NoteKind, NoteState, ProgressNote, Soap, TreatmentGoal, TreatmentPlan};
pub use orders::{Prescription, PrescriptionSpec, ResultValue, TestResult};
