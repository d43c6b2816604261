//! Referrals for Better Access sessions.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::{PatientId, PracticeId, ReferralId};
use crate::people::ProviderNumber;
use crate::practice::non_blank;

/// Who wrote the referral. Better Access accepts a GP or prescribed medical practitioner
/// (under a Mental Health Treatment Plan), a psychiatrist or a paediatrician (rule sheet §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReferrerKind {
    /// A general practitioner.
    GeneralPractitioner,
    /// A prescribed medical practitioner.
    PrescribedMedicalPractitioner,
    /// A psychiatrist.
    Psychiatrist,
    /// A paediatrician.
    Paediatrician,
}

impl ReferrerKind {
    /// GPs and PMPs, whose referrals the MyMedicare rule of 1 November 2025 covers.
    #[must_use]
    pub const fn is_gp(self) -> bool {
        matches!(self, Self::GeneralPractitioner | Self::PrescribedMedicalPractitioner)
    }
}

/// Whether the referral is for individual or group sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReferralScope {
    /// Individual sessions.
    Individual,
    /// Group sessions.
    Group,
}

/// A referral letter. It has no expiry: it is valid until its sessions are used, and
/// Medicare goes by the date written on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Referral {
    /// Id.
    pub id: ReferralId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The patient referred.
    pub patient_id: PatientId,
    /// The referrer's name.
    pub referrer_name: String,
    /// The referrer's kind.
    pub referrer_kind: ReferrerKind,
    /// The referrer's provider number, when given.
    pub referrer_provider_number: Option<ProviderNumber>,
    /// For a GP: the referrer is the patient's MyMedicare practice or usual medical
    /// practitioner (required for GP referrals written from 1 November 2025).
    pub mymedicare_or_usual_gp: bool,
    /// The date written on the letter.
    pub written_on: NaiveDate,
    /// Sessions the letter asks for; `None` when it does not say (the practice should ask
    /// the referrer; until then the course maximum applies, with a warning).
    pub sessions_requested: Option<u16>,
    /// Individual or group.
    pub scope: ReferralScope,
    /// The letter itself, as scanned or received (sealed in the document store).
    #[serde(default)]
    pub letter: Option<crate::ports::DocumentRef>,
}

impl Referral {
    /// Validates the free-text and numeric fields.
    ///
    /// # Errors
    /// [`FieldError`] on `referrer_name` (blank) or `sessions_requested` (0 or over 20).
    pub fn validate(self) -> Result<Self, FieldError> {
        non_blank("referrer_name", &self.referrer_name, 200)?;
        if self.sessions_requested.is_some_and(|n| n == 0 || n > 20) {
            return Err(FieldError::new("sessions_requested", "must be between 1 and 20"));
        }
        Ok(self)
    }
}
