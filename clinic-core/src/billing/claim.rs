//! Medicare claims and their lifecycle: draft → lodged → paid, or rejected with a reason.
//!
//! A draft claim reserves its place under the patient's annual cap (so two concurrent
//! claims for the last capped session cannot both be made); a rejected claim releases it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ClaimId, InvoiceId, PatientId, PracticeId, PractitionerId, ReferralId};
use crate::medicare::{CapKind, PastService};
use crate::money::Money;

/// Where a claim is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Prepared, not yet lodged.
    Draft,
    /// Lodged with Medicare (or handed to the practice to lodge).
    Lodged {
        /// When.
        at: DateTime<Utc>,
        /// The gateway's reference.
        reference: String,
    },
    /// Paid.
    Paid {
        /// When.
        at: DateTime<Utc>,
        /// Benefit paid.
        amount: Money,
    },
    /// Rejected.
    Rejected {
        /// When.
        at: DateTime<Utc>,
        /// Medicare's reason.
        reason: String,
    },
}

impl ClaimStatus {
    /// A short name, for errors.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Lodged { .. } => "lodged",
            Self::Paid { .. } => "paid",
            Self::Rejected { .. } => "rejected",
        }
    }
}

/// A status change the lifecycle does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a {from} claim cannot become {to}")]
pub struct ClaimTransitionError {
    /// Current state.
    pub from: &'static str,
    /// Requested state.
    pub to: &'static str,
}

impl ClaimTransitionError {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        "illegal_claim_transition"
    }
}

/// A Medicare claim for one invoice line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claim {
    /// Id.
    pub id: ClaimId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The invoice.
    pub invoice_id: InvoiceId,
    /// The line on it.
    pub line: u16,
    /// The patient.
    pub patient_id: PatientId,
    /// The practitioner.
    pub practitioner_id: PractitionerId,
    /// The referral claimed under.
    pub referral_id: Option<ReferralId>,
    /// MBS item.
    pub item: String,
    /// Service date (clinic-local).
    pub service_date: NaiveDate,
    /// Cap counted against.
    pub cap: CapKind,
    /// Fee charged.
    pub fee_charged: Money,
    /// Benefit claimed.
    pub benefit: Money,
    /// Bulk billed.
    pub bulk_billed: bool,
    /// Status.
    pub status: ClaimStatus,
}

impl Claim {
    /// Draft → lodged.
    ///
    /// # Errors
    /// [`ClaimTransitionError`] from any other state.
    pub fn lodge(&mut self, at: DateTime<Utc>, reference: String) -> Result<(), ClaimTransitionError> {
        match self.status {
            ClaimStatus::Draft => {
                self.status = ClaimStatus::Lodged { at, reference };
                Ok(())
            }
            ref s => Err(ClaimTransitionError {
                from: s.name(),
                to: "lodged",
            }),
        }
    }

    /// Lodged → paid.
    ///
    /// # Errors
    /// [`ClaimTransitionError`] from any other state.
    pub fn paid(&mut self, at: DateTime<Utc>, amount: Money) -> Result<(), ClaimTransitionError> {
        match self.status {
            ClaimStatus::Lodged { .. } => {
                self.status = ClaimStatus::Paid { at, amount };
                Ok(())
            }
            ref s => Err(ClaimTransitionError {
                from: s.name(),
                to: "paid",
            }),
        }
    }

    /// Lodged → rejected.
    ///
    /// # Errors
    /// [`ClaimTransitionError`] from any other state.
    pub fn reject(&mut self, at: DateTime<Utc>, reason: String) -> Result<(), ClaimTransitionError> {
        match self.status {
            ClaimStatus::Lodged { .. } => {
                self.status = ClaimStatus::Rejected { at, reason };
                Ok(())
            }
            ref s => Err(ClaimTransitionError {
                from: s.name(),
                to: "rejected",
            }),
        }
    }

    /// Whether the claim uses a place under the cap: drafts, lodged and paid claims do;
    /// rejected ones do not.
    #[must_use]
    pub fn counts(&self) -> bool {
        !matches!(self.status, ClaimStatus::Rejected { .. })
    }

    /// As a history entry for the eligibility decision.
    #[must_use]
    pub fn as_past_service(&self) -> PastService {
        PastService {
            date: self.service_date,
            cap: self.cap,
            referral_id: self.referral_id,
            claimed: self.counts(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn claim() -> Claim {
        Claim {
            id: ClaimId::from_uuid(Uuid::nil()),
            practice_id: PracticeId::from_uuid(Uuid::nil()),
            invoice_id: InvoiceId::from_uuid(Uuid::nil()),
            line: 0,
            patient_id: PatientId::from_uuid(Uuid::nil()),
            practitioner_id: PractitionerId::from_uuid(Uuid::nil()),
            referral_id: None,
            item: "80110".into(),
            service_date: "2026-11-24".parse().unwrap(),
            cap: CapKind::Individual,
            fee_charged: Money::from_cents(22000),
            benefit: Money::from_cents(10155),
            bulk_billed: false,
            status: ClaimStatus::Draft,
        }
    }

    #[test]
    fn lifecycle() {
        let now: DateTime<Utc> = "2026-11-24T00:00:00Z".parse().unwrap();
        let mut c = claim();
        assert!(c.counts());
        assert_eq!(
            c.paid(now, c.benefit).unwrap_err(),
            ClaimTransitionError {
                from: "draft",
                to: "paid"
            }
        );
        c.lodge(now, "MANUAL-1".into()).unwrap();
        let mut rejected = c.clone();
        c.paid(now, c.benefit).unwrap();
        assert!(c.counts());
        assert!(c.reject(now, "x".into()).is_err());
        rejected.reject(now, "item not payable".into()).unwrap();
        assert!(!rejected.counts());
        assert!(!rejected.as_past_service().claimed);
    }
}
