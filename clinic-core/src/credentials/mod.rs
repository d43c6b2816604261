//! Practitioner credentials: AHPRA registration and professional indemnity insurance, their
//! status on a date, and the compliance sweep.
//!
//! Rules (rule sheet §5, Psychology Board of Australia renewal FAQ [Y3][Y4]; PII standard
//! [Y5]):
//! - Registration expires at the end of its expiry date (general and non-practising: 30
//!   November). In the late period that follows (one month: to 31 December) the
//!   practitioner may still practise: warn, do not suspend. After it the registration lapses
//!   and the practitioner is suspended.
//! - Insurance has no late period: cover that expired yesterday suspends today.
//! - A clinical-psychology MBS item needs the clinical psychology endorsement.

mod status;
mod sweep;

pub use status::{CredentialStatus, RenewalRules, status_on};
pub use sweep::{SweepAction, SweepInput, WarningKey, sweep};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::PractitionerId;
use crate::money::Money;
use crate::people::AhpraNumber;

/// AHPRA registration types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RegistrationType {
    /// General registration.
    General,
    /// Provisional registration: supervised practice only.
    Provisional,
    /// Non-practising: may not practise.
    NonPractising,
}

/// An area of practice endorsement (Psychology Board; nine areas).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Endorsement {
    /// Clinical psychology: needed for the clinical psychologist MBS items.
    ClinicalPsychology,
    /// Any other area (clinical neuropsychology, counselling, forensic …).
    Other(String),
}

/// One registration record; a renewal is a new record, so the list is the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Registration {
    /// AHPRA number.
    pub number: AhpraNumber,
    /// Type.
    pub kind: RegistrationType,
    /// Endorsements.
    pub endorsements: Vec<Endorsement>,
    /// Conditions on practice (as published on the register).
    pub conditions: Vec<String>,
    /// Last day of the registration period.
    pub expires_on: NaiveDate,
}

/// One insurance policy record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Insurance {
    /// Insurer.
    pub insurer: String,
    /// Policy number.
    pub policy_number: String,
    /// Cover per claim.
    pub cover: Money,
    /// Last day of cover.
    pub expires_on: NaiveDate,
    /// The certificate of currency, in the document store (uploaded by the practitioner
    /// or the practice).
    pub certificate: Option<crate::ports::DocumentRef>,
}

/// A practitioner's credentials with their history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credentials {
    /// The practitioner (when known).
    pub practitioner_id: Option<PractitionerId>,
    /// Registrations, any order.
    pub registrations: Vec<Registration>,
    /// Insurance policies, any order.
    pub insurances: Vec<Insurance>,
}

impl Credentials {
    /// The registration in force: the one expiring last.
    #[must_use]
    pub fn registration(&self) -> Option<&Registration> {
        self.registrations.iter().max_by_key(|r| r.expires_on)
    }

    /// The policy in force: the one expiring last.
    #[must_use]
    pub fn insurance(&self) -> Option<&Insurance> {
        self.insurances.iter().max_by_key(|i| i.expires_on)
    }

    /// Whether the registration in force on `date` carries the clinical psychology
    /// endorsement (required for items 80000–80025 and 91166–91182).
    #[must_use]
    pub fn clinically_endorsed_on(&self, date: NaiveDate, rules: &RenewalRules) -> bool {
        self.registration().is_some_and(|r| {
            r.endorsements.contains(&Endorsement::ClinicalPsychology)
                && status_on(r.expires_on, date, rules.warning_days, rules.registration_late_months).may_practise()
        })
    }
}

#[cfg(test)]
mod tests;
