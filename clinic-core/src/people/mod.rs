//! People: patients, practitioners, and the users and roles that sign in.

mod contact;
mod guardianship;
mod identifiers;
mod patient;
mod practitioner;

pub use contact::{Email, Phone};
pub use guardianship::{AGE_OF_MAJORITY, GuardianshipError, guardian_may_act, may_become_guardian};
pub use identifiers::{AhpraNumber, MedicareCard, ProviderNumber};
pub use patient::{
    ContactPerson, DvaNumber, HealthFund, Patient, PatientSpec, PersonName, ReminderPreferences, UsualGp, age_on,
};
pub use practitioner::{
    ConsultMode, DirectoryQuery, Practitioner, PractitionerKind, PractitionerProfile, Suspension, search_directory,
};

use serde::{Deserialize, Serialize};

use crate::ids::{PatientId, PracticeId, PractitionerId, UserId};

/// A role a user acts in (roles matrix: `shared/domain/roles.md`). The first four are a
/// psychology practice's; doctor and technician serve general clinics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A patient, acting for themselves.
    Patient,
    /// A psychologist (registered or clinical).
    Psychologist,
    /// A practice manager.
    PracticeManager,
    /// An administrator.
    Admin,
    /// A doctor.
    Doctor,
    /// A technician (front desk, billing, inventory, tests).
    Technician,
}

/// A user account of a practice: a patient or a member of staff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// Sign-in email.
    pub email: Email,
    /// Roles held.
    pub roles: Vec<Role>,
    /// The practitioner record this user acts as, for clinical roles.
    pub practitioner_id: Option<PractitionerId>,
    /// The patient record this user is, for the patient role.
    pub patient_id: Option<PatientId>,
    /// The minors this user is a guardian of (see [`guardian_may_act`]): they read and book
    /// for each as the patient would, while the guardianship is in force.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardian_of: Vec<PatientId>,
}

impl User {
    /// True when the user holds `role`.
    #[must_use]
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// True when the user is patient `patient` or is linked as their guardian (whether the
    /// guardianship is still in force is [`guardian_may_act`]'s to say).
    #[must_use]
    pub fn is_or_guards(&self, patient: PatientId) -> bool {
        self.patient_id == Some(patient) || self.guardian_of.contains(&patient)
    }
}
