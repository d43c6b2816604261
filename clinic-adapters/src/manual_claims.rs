//! The manual claim gateway: lodging a Medicare claim electronically needs certification
//! (Medicare Online web services with a PRODA device, Tyro Health, HICAPS), so this gateway
//! records each claim as the form a practice lodges by hand, and gives it a reference.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use chrono::NaiveDate;
use clinic_core::billing::Claim;
use clinic_core::ids::{ClaimId, PatientId, PractitionerId, ReferralId};
use clinic_core::money::Money;
use clinic_core::ports::{ClaimGateway, PortError};

/// What the practice needs to lodge one claim by hand. Patient and practitioner are ids:
/// the practice's own records give the names, Medicare and provider numbers, so no health
/// data is copied here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManualClaimForm {
    /// The reference given.
    pub reference: String,
    /// The claim.
    pub claim_id: ClaimId,
    /// The patient.
    pub patient_id: PatientId,
    /// The practitioner.
    pub practitioner_id: PractitionerId,
    /// The referral.
    pub referral_id: Option<ReferralId>,
    /// MBS item.
    pub item: String,
    /// Date of service.
    pub service_date: NaiveDate,
    /// Fee charged.
    pub fee_charged: Money,
    /// Benefit claimed.
    pub benefit: Money,
    /// Bulk billed.
    pub bulk_billed: bool,
}

/// Records claims for lodging by hand.
#[derive(Debug, Default)]
pub struct ManualClaims {
    forms: Mutex<BTreeMap<ClaimId, ManualClaimForm>>,
}

impl ManualClaims {
    /// An empty queue.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every claim handed over, in claim-id order (ids are time-ordered).
    #[must_use]
    pub fn forms(&self) -> Vec<ManualClaimForm> {
        self.forms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

#[async_trait]
impl ClaimGateway for ManualClaims {
    async fn lodge(&self, claim: &Claim) -> Result<String, PortError> {
        let mut forms = self.forms.lock().unwrap_or_else(PoisonError::into_inner);
        let form = forms.entry(claim.id).or_insert_with(|| ManualClaimForm {
            reference: format!("MANUAL-{}", claim.id),
            claim_id: claim.id,
            patient_id: claim.patient_id,
            practitioner_id: claim.practitioner_id,
            referral_id: claim.referral_id,
            item: claim.item.clone(),
            service_date: claim.service_date,
            fee_charged: claim.fee_charged,
            benefit: claim.benefit,
            bulk_billed: claim.bulk_billed,
        });
        Ok(form.reference.clone())
    }
}
