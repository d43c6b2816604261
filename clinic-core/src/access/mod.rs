//! Who may do what: one pure function over role × action × area × relationship.
//!
//! The matrix is `shared/domain/roles.md`. "Own" means the record is about the actor (a
//! patient), about a patient the actor treats (a clinician with a current or past
//! appointment, referral or care relationship), the actor's own calendar or credentials,
//! or, for process notes, a note the actor wrote. Everything is within one practice.
//! Break-glass: a psychologist or doctor may read a clinical record outside this table with
//! a stated reason; it is allowed, flagged and reviewed. Process notes never open that way.

use serde::{Deserialize, Serialize};

use crate::people::Role;

mod care;

pub use care::{BREAK_GLASS_TTL, Care, CareBasis, CareRelationship, MAX_REASON_CHARS, break_glass_reason, care_at};

/// What is being touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// A patient's profile, intake, consents and preferences.
    Profile,
    /// Appointments (book, cancel, reschedule).
    Appointments,
    /// Availability, leave and rooms.
    Availability,
    /// Slot search and the practitioner directory.
    Directory,
    /// Progress notes and treatment plans.
    ProgressNotes,
    /// Psychotherapy process notes.
    ProcessNotes,
    /// Prescriptions.
    Prescriptions,
    /// Test results.
    TestResults,
    /// Outcome measures (K10, PHQ-9 …).
    OutcomeMeasures,
    /// Invoices, payments and claims.
    Billing,
    /// Inventory.
    Inventory,
    /// Secure messages.
    Messages,
    /// AHPRA registration and insurance.
    Credentials,
    /// Privacy requests (access, deletion, correction).
    PrivacyRequests,
    /// Staff accounts and roles.
    StaffAccounts,
    /// The audit log.
    AuditLog,
    /// Reports and analytics.
    Reports,
}

/// What is being done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read.
    Read,
    /// Create or change.
    Write,
    /// Sign, lock or add an addendum to a note.
    Sign,
    /// Mark a test result reviewed.
    Review,
    /// Pay an invoice.
    Pay,
    /// Create a privacy request.
    Request,
    /// Process a privacy request.
    Process,
    /// Invite a staff member.
    Invite,
    /// Run the compliance sweep.
    RunSweep,
    /// Verify the audit chain.
    Verify,
}

/// The actor's relationship to the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Own (see the module docs).
    Own,
    /// Anyone else's, within the practice.
    Other,
}

/// Facts about the record that some rules need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordFacts {
    /// A progress note marked as shared with the patient.
    pub shared_with_patient: bool,
    /// A test result a clinician has reviewed.
    pub reviewed: bool,
}

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Allowed as break-glass: flag it for review.
    AllowFlagged,
    /// Denied.
    Deny,
}

/// A request to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The role acted in.
    pub role: Role,
    /// The action.
    pub action: Action,
    /// The area.
    pub area: Area,
    /// The relationship.
    pub relation: Relation,
    /// Record facts.
    pub facts: RecordFacts,
    /// A break-glass reason was given.
    pub break_glass: bool,
}

// One arm per row of shared/domain/roles.md, kept apart so each can be read against the
// table even where two rows grant the same.
#[allow(clippy::match_same_arms)]
fn table(r: &Request) -> bool {
    use Action as A;
    use Area as Ar;
    use Role as R;
    let own = r.relation == Relation::Own;
    let clinician = matches!(r.role, R::Psychologist | R::Doctor);
    match (r.area, r.role) {
        (Ar::Directory, _) => r.action == A::Read,
        (Ar::Profile, R::Patient) => own && matches!(r.action, A::Read | A::Write),
        (Ar::Profile, R::PracticeManager | R::Admin) => r.action == A::Read,
        (Ar::Appointments, R::Patient | R::Psychologist | R::Doctor) => own && matches!(r.action, A::Read | A::Write),
        (Ar::Appointments, R::Technician | R::PracticeManager | R::Admin) => matches!(r.action, A::Read | A::Write),
        (Ar::Availability, R::Psychologist | R::Doctor) => own && matches!(r.action, A::Read | A::Write),
        (Ar::Availability, R::Technician) => r.action == A::Read,
        (Ar::Availability, R::PracticeManager | R::Admin) => matches!(r.action, A::Read | A::Write),
        (Ar::ProgressNotes, R::Patient) => own && r.action == A::Read && r.facts.shared_with_patient,
        (Ar::ProgressNotes, _) if clinician => own && matches!(r.action, A::Read | A::Write | A::Sign),
        (Ar::ProcessNotes, _) if clinician => own && matches!(r.action, A::Read | A::Write | A::Sign),
        (Ar::Prescriptions, R::Patient) => own && r.action == A::Read,
        (Ar::Prescriptions, R::Psychologist) => own && r.action == A::Read,
        (Ar::Prescriptions, R::Doctor) => own && matches!(r.action, A::Read | A::Write),
        (Ar::Prescriptions, R::Technician) => r.action == A::Read,
        (Ar::TestResults, R::Patient) => own && r.action == A::Read && r.facts.reviewed,
        (Ar::TestResults, R::Psychologist) => own && r.action == A::Read,
        (Ar::TestResults, R::Doctor) => own && matches!(r.action, A::Read | A::Review),
        (Ar::TestResults, R::Technician) => matches!(r.action, A::Read | A::Write),
        (Ar::OutcomeMeasures, R::Patient) => own && matches!(r.action, A::Read | A::Write),
        (Ar::OutcomeMeasures, _) if clinician => own && matches!(r.action, A::Read | A::Write),
        (Ar::Billing, R::Patient) => own && matches!(r.action, A::Read | A::Pay),
        (Ar::Billing, _) if clinician => own && r.action == A::Read,
        (Ar::Billing, R::Technician | R::PracticeManager) => matches!(r.action, A::Read | A::Write),
        (Ar::Billing, R::Admin) => r.action == A::Read,
        (Ar::Inventory, R::Doctor | R::Admin) => r.action == A::Read,
        (Ar::Inventory, R::Technician | R::PracticeManager) => matches!(r.action, A::Read | A::Write),
        (Ar::Messages, R::Patient | R::Psychologist | R::Doctor) => own && matches!(r.action, A::Read | A::Write),
        (Ar::Messages, R::Technician) => matches!(r.action, A::Read | A::Write),
        (Ar::Credentials, _) if clinician => own && matches!(r.action, A::Read | A::Write),
        (Ar::Credentials, R::PracticeManager) => matches!(r.action, A::Read | A::Write | A::RunSweep),
        (Ar::Credentials, R::Admin) => matches!(r.action, A::Read | A::Write),
        (Ar::PrivacyRequests, R::Patient) => own && matches!(r.action, A::Request | A::Read),
        (Ar::PrivacyRequests, R::PracticeManager | R::Admin) => matches!(r.action, A::Read | A::Process),
        (Ar::StaffAccounts, R::PracticeManager) => matches!(r.action, A::Read | A::Invite),
        (Ar::StaffAccounts, R::Admin) => matches!(r.action, A::Read | A::Write | A::Invite),
        (Ar::AuditLog, R::Admin) => matches!(r.action, A::Read | A::Verify),
        (Ar::Reports, _) if clinician => own && r.action == A::Read,
        (Ar::Reports, R::PracticeManager | R::Admin) => r.action == A::Read,
        _ => false,
    }
}

/// Decides a request.
#[must_use]
pub fn decide(r: &Request) -> Decision {
    if table(r) {
        return Decision::Allow;
    }
    let clinical = matches!(
        r.area,
        Area::ProgressNotes | Area::Prescriptions | Area::TestResults | Area::OutcomeMeasures
    );
    if r.break_glass && clinical && r.action == Action::Read && matches!(r.role, Role::Psychologist | Role::Doctor) {
        return Decision::AllowFlagged;
    }
    Decision::Deny
}

#[cfg(test)]
mod tests;
