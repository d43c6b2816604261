//! Clinical ports: notes, care relationships and the audit log.

use async_trait::async_trait;

use super::PortError;
use crate::access::CareRelationship;
use crate::audit::{AuditEntry, AuditEvent, Checkpoint};
use crate::clinical::{
    IntakeForm, IntakeSubmission, MeasureRecord, Prescription, ProgressNote, TestResult, TreatmentPlan,
};
use crate::credentials::{Credentials, WarningKey};
use crate::ids::{AppointmentId, NoteId, PatientId, PracticeId, PractitionerId, TestResultId};
use crate::privacy::{AccessRequest, Consent, CorrectionOutcome, DeletionRequest};
use crate::telehealth::SessionPrep;

/// Clinical notes. Implementations store note content encrypted at rest (`FieldCipher`).
///
/// # Contract
/// `save_note` inserts or replaces by id; `notes` lists a patient's notes, oldest first.
#[async_trait]
pub trait NoteRepository: Send + Sync + 'static {
    /// A note.
    async fn note(&self, practice: PracticeId, id: NoteId) -> Result<ProgressNote, PortError>;
    /// Inserts or replaces a note.
    async fn save_note(&self, note: &ProgressNote) -> Result<(), PortError>;
    /// A patient's notes.
    async fn notes(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<ProgressNote>, PortError>;
    /// Destroys every note of a patient once their retention period has passed; returns
    /// how many were destroyed.
    async fn destroy_notes(&self, practice: PracticeId, patient: PatientId) -> Result<usize, PortError>;
}

/// Who treats whom.
///
/// # Contract
/// - `treats` is true when the practitioner has, or had, an appointment with the patient
///   in the practice that was not cancelled (booked, confirmed, attended, completed or
///   missed). A cancelled appointment is no care relationship: cancelling the only
///   booking that made one ends the clinician's access.
/// - `save_care` inserts or replaces a care record by id; `care_records` lists one
///   patient's (or, with `None`, the practice's) records, oldest first, never another
///   practice's. Whether a record is in force is the caller's question
///   ([`crate::access::care_at`]).
#[async_trait]
pub trait CareRelationships: Send + Sync + 'static {
    /// Whether an appointment makes `practitioner` treat `patient`.
    async fn treats(
        &self,
        practice: PracticeId,
        practitioner: PractitionerId,
        patient: PatientId,
    ) -> Result<bool, PortError>;
    /// Inserts or replaces a care record (an assignment, a break-glass opening).
    async fn save_care(&self, record: &CareRelationship) -> Result<(), PortError>;
    /// The care records of one patient, or of the practice.
    async fn care_records(
        &self,
        practice: PracticeId,
        patient: Option<PatientId>,
    ) -> Result<Vec<CareRelationship>, PortError>;
}

/// The append-only audit log.
///
/// # Contract
/// `append` seals the entry onto the end of the practice's chain atomically (no two
/// events share a position, none is skipped) and returns the sealed event. Nothing is ever
/// updated or deleted. `events` returns the practice's events from position `from`, in order.
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Appends an event.
    async fn append(&self, entry: AuditEntry) -> Result<AuditEvent, PortError>;
    /// Events from `from`, at most `limit`.
    async fn events(&self, practice: PracticeId, from: u64, limit: usize) -> Result<Vec<AuditEvent>, PortError>;
    /// Stores a signed checkpoint (append-only too).
    async fn save_checkpoint(&self, practice: PracticeId, checkpoint: &Checkpoint) -> Result<(), PortError>;
    /// Every checkpoint stored, oldest first.
    async fn checkpoints(&self, practice: PracticeId) -> Result<Vec<Checkpoint>, PortError>;
}

/// Practitioners' credentials (registration and insurance, with history).
///
/// # Contract
/// `credentials` of a practitioner with none recorded is an empty [`Credentials`], not an
/// error.
#[async_trait]
pub trait CredentialRepository: Send + Sync + 'static {
    /// A practitioner's credentials.
    async fn credentials(&self, practice: PracticeId, practitioner: PractitionerId) -> Result<Credentials, PortError>;
    /// Replaces a practitioner's credentials.
    async fn save_credentials(
        &self,
        practice: PracticeId,
        practitioner: PractitionerId,
        credentials: &Credentials,
    ) -> Result<(), PortError>;
}

/// What the compliance sweep has already done that is not visible in other data: the
/// warnings sent.
///
/// # Contract
/// `record_warning` is idempotent; `sent_warnings` returns every key recorded.
#[async_trait]
pub trait ComplianceLog: Send + Sync + 'static {
    /// Warnings already sent.
    async fn sent_warnings(&self, practice: PracticeId) -> Result<Vec<WarningKey>, PortError>;
    /// Records a warning as sent.
    async fn record_warning(&self, practice: PracticeId, key: &WarningKey) -> Result<(), PortError>;
}

/// Consents and privacy requests.
///
/// # Contract
/// Consents are append-only: `record_consent` adds, nothing removes. `access_requests`
/// returns a practice's requests with their patients, oldest first; `save_access_request`
/// inserts or replaces by (patient, received date).
#[async_trait]
pub trait PrivacyRecords: Send + Sync + 'static {
    /// Appends a consent record.
    async fn record_consent(&self, practice: PracticeId, consent: &Consent) -> Result<(), PortError>;
    /// A patient's consent records, oldest first.
    async fn consents(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Consent>, PortError>;
    /// Inserts or replaces an access request.
    async fn save_access_request(
        &self,
        practice: PracticeId,
        patient: PatientId,
        request: &AccessRequest,
    ) -> Result<(), PortError>;
    /// Every access request of the practice.
    async fn access_requests(&self, practice: PracticeId) -> Result<Vec<(PatientId, AccessRequest)>, PortError>;
    /// Appends the outcome of a correction request (applied with the previous record, or
    /// declined with the patient's statement).
    async fn record_correction(
        &self,
        practice: PracticeId,
        patient: PatientId,
        outcome: &CorrectionOutcome,
    ) -> Result<(), PortError>;
    /// A patient's correction history, oldest first.
    async fn corrections(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<CorrectionOutcome>, PortError>;
    /// Inserts or replaces a deletion request (one per patient and date received).
    async fn save_deletion_request(
        &self,
        practice: PracticeId,
        patient: PatientId,
        request: &DeletionRequest,
    ) -> Result<(), PortError>;
    /// A patient's deletion requests, oldest first.
    async fn deletion_requests(
        &self,
        practice: PracticeId,
        patient: PatientId,
    ) -> Result<Vec<DeletionRequest>, PortError>;
    /// Destroys, in one atomic step, the health information held about the patient beyond
    /// the patient record itself: progress and process notes, the intake submission,
    /// outcome measures, the treatment plan, prescriptions, test results, the correction
    /// history (it holds earlier versions of the record), and every message thread about
    /// the patient with its messages, memberships and read marks.
    /// Returns how many records were destroyed, each note, submission, measure, plan,
    /// prescription, result, correction, thread and message counting one. Invoices, claims, consents, requests and the
    /// audit trail are kept (they are the practice's legal records, with no clinical
    /// content).
    async fn destroy_health_records(&self, practice: PracticeId, patient: PatientId) -> Result<usize, PortError>;
}

/// Prescriptions, test results and outcome measures. Implementations store them
/// encrypted at rest.
///
/// # Contract
/// `save_*` insert or replace by id; lists are a patient's records, oldest first.
#[async_trait]
pub trait ClinicalRecords: Send + Sync + 'static {
    /// Inserts or replaces a prescription.
    async fn save_prescription(&self, p: &Prescription) -> Result<(), PortError>;
    /// A patient's prescriptions.
    async fn prescriptions(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Prescription>, PortError>;
    /// Inserts or replaces a test result.
    async fn save_test_result(&self, r: &TestResult) -> Result<(), PortError>;
    /// A test result.
    async fn test_result(&self, practice: PracticeId, id: TestResultId) -> Result<TestResult, PortError>;
    /// A patient's test results.
    async fn test_results(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<TestResult>, PortError>;
    /// Stores a completed measure.
    async fn save_measure(&self, m: &MeasureRecord) -> Result<(), PortError>;
    /// A patient's measures, oldest first.
    async fn measures(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<MeasureRecord>, PortError>;
    /// Replaces a patient's treatment plan (one current plan per patient).
    async fn save_plan(&self, plan: &TreatmentPlan) -> Result<(), PortError>;
    /// A patient's current treatment plan.
    async fn plan(&self, practice: PracticeId, patient: PatientId) -> Result<Option<TreatmentPlan>, PortError>;
}

/// Intake forms (every version kept) and patients' submissions.
///
/// # Contract
/// `form` returns the named version; `latest_form` the highest version stored, if any.
#[async_trait]
pub trait IntakeRecords: Send + Sync + 'static {
    /// Stores a form version (replacing the same version).
    async fn save_form(&self, practice: PracticeId, form: &IntakeForm) -> Result<(), PortError>;
    /// A form version.
    async fn form(&self, practice: PracticeId, version: u32) -> Result<Option<IntakeForm>, PortError>;
    /// The newest form version.
    async fn latest_form(&self, practice: PracticeId) -> Result<Option<IntakeForm>, PortError>;
    /// Stores a patient's submission (insert or replace).
    async fn save_submission(
        &self,
        practice: PracticeId,
        patient: PatientId,
        submission: &IntakeSubmission,
    ) -> Result<(), PortError>;
    /// A patient's submission, if any.
    async fn submission(&self, practice: PracticeId, patient: PatientId)
    -> Result<Option<IntakeSubmission>, PortError>;
}

/// Preparation recorded for telehealth sessions.
///
/// # Contract
/// `save_prep` inserts or replaces one patient's preparation for one appointment; `prep`
/// returns what was recorded for the appointment, per patient.
#[async_trait]
pub trait TelehealthRecords: Send + Sync + 'static {
    /// Records a patient's preparation for an appointment.
    async fn save_prep(
        &self,
        practice: PracticeId,
        appointment: AppointmentId,
        patient: PatientId,
        prep: &SessionPrep,
    ) -> Result<(), PortError>;
    /// The preparation recorded for an appointment.
    async fn prep(
        &self,
        practice: PracticeId,
        appointment: AppointmentId,
    ) -> Result<Vec<(PatientId, SessionPrep)>, PortError>;
}
