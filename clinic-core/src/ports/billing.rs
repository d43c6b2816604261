//! Billing ports: invoices, claims, referrals, and the Medicare claim gateway.

use async_trait::async_trait;
use chrono::NaiveDate;

use super::PortError;
use crate::billing::{Claim, Invoice};
use crate::ids::{ClaimId, InvoiceId, PatientId, PracticeId, ReferralId};
use crate::medicare::{PastService, Referral};

/// Invoices.
///
/// # Contract
/// - `save_draft` inserts a draft, or replaces a stored draft whose `revision` equals the
///   one given; the stored copy gets `revision + 1`. Replacing an issued invoice, or a
///   draft whose revision moved, is [`PortErrorKind::Conflict`](super::PortErrorKind::Conflict).
/// - `issue` atomically gives the draft (at `expected_revision`) the practice's next
///   invoice number (1, 2, 3 … per practice, never skipping or repeating a number, also
///   under concurrency), sets its issue date and stores it; a draft without lines is
///   [`PortErrorKind::Invalid`](super::PortErrorKind::Invalid).
/// - `update` replaces an issued invoice whose stored revision equals `invoice.revision`,
///   storing it with `revision + 1`; otherwise `Conflict` and nothing changes. The number
///   and lines of an issued invoice never change: an update that changes them is `Invalid`.
#[async_trait]
pub trait InvoiceRepository: Send + Sync + 'static {
    /// An invoice.
    async fn invoice(&self, practice: PracticeId, id: InvoiceId) -> Result<Invoice, PortError>;
    /// Inserts or replaces a draft.
    async fn save_draft(&self, invoice: &Invoice) -> Result<(), PortError>;
    /// Numbers and stores a draft as issued.
    async fn issue(
        &self,
        practice: PracticeId,
        id: InvoiceId,
        expected_revision: u64,
        issued_on: NaiveDate,
    ) -> Result<Invoice, PortError>;
    /// Replaces an issued invoice (payments, refunds, credit notes).
    async fn update(&self, invoice: &Invoice) -> Result<(), PortError>;
    /// A patient's invoices, drafts included, oldest first.
    async fn invoices_for(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Invoice>, PortError>;
    /// A page of the practice's issued invoices, newest number first: at most `limit`, each
    /// numbered below `before` when given (keyset paging, so a page is as cheap as the
    /// first however far back it is).
    async fn issued_invoices(
        &self,
        practice: PracticeId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Invoice>, PortError>;
}

/// A patient's claims and the services at other practices the clinic knows of, with the
/// version of that history.
#[derive(Clone, Debug, Default)]
pub struct ClaimHistory {
    /// Claims made here.
    pub claims: Vec<Claim>,
    /// Better Access services elsewhere (another practice, a GP's focussed strategies …).
    pub external: Vec<PastService>,
    /// Version, for the guarded commit.
    pub version: u64,
}

impl ClaimHistory {
    /// Everything that counts, as history for the eligibility decision.
    #[must_use]
    pub fn past_services(&self) -> Vec<PastService> {
        self.claims
            .iter()
            .map(Claim::as_past_service)
            .chain(self.external.iter().cloned())
            .collect()
    }
}

/// Claims.
///
/// # Contract
/// - `history` returns the patient's claims, external services and their version in one
///   consistent read.
/// - `commit_claim` inserts or replaces the claim if the patient's history version still
///   equals `expected_version`, and increments it; otherwise
///   [`PortErrorKind::Conflict`](super::PortErrorKind::Conflict) and nothing changes. So two claims decided on the same
///   history cannot both be stored: the Medicare cap guard.
/// - `record_external` adds a service elsewhere and increments the version.
#[async_trait]
pub trait ClaimRepository: Send + Sync + 'static {
    /// A claim.
    async fn claim(&self, practice: PracticeId, id: ClaimId) -> Result<Claim, PortError>;
    /// The patient's claim history.
    async fn history(&self, practice: PracticeId, patient: PatientId) -> Result<ClaimHistory, PortError>;
    /// Stores a claim guarded by the history version.
    async fn commit_claim(&self, practice: PracticeId, expected_version: u64, claim: &Claim) -> Result<(), PortError>;
    /// Records a service the patient had elsewhere.
    async fn record_external(
        &self,
        practice: PracticeId,
        patient: PatientId,
        service: &PastService,
    ) -> Result<(), PortError>;
}

/// Referrals.
///
/// # Contract
/// `referrals` lists a patient's referrals, oldest written first.
#[async_trait]
pub trait ReferralRepository: Send + Sync + 'static {
    /// A referral.
    async fn referral(&self, practice: PracticeId, id: ReferralId) -> Result<Referral, PortError>;
    /// A patient's referrals.
    async fn referrals(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Referral>, PortError>;
    /// Inserts or replaces a referral.
    async fn save_referral(&self, referral: &Referral) -> Result<(), PortError>;
}

/// Lodges Medicare claims. Real lodging (Medicare Online web services, Tyro Health, HICAPS)
/// needs certification; the `manual-claims` adapter records the claim for the practice to
/// lodge by hand.
///
/// # Contract
/// `lodge` hands the claim over and returns the reference it is known by; lodging the same
/// claim twice returns the same reference and lodges it once.
#[async_trait]
pub trait ClaimGateway: Send + Sync + 'static {
    /// Lodges a claim.
    async fn lodge(&self, claim: &Claim) -> Result<String, PortError>;
}
