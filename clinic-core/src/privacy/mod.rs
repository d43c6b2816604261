//! Privacy: consents as versioned records, record retention by state, deletion, access and
//! correction requests.

mod consent;
mod correction;
mod retention;

pub use consent::{Consent, ConsentKind, ConsentLedger, ConsentMethod, PolicyStatus};
pub use correction::{CorrectionOutcome, PatientRevision, apply_correction};
pub use retention::{
    AccessRequest, DeletionOutcome, DeletionRequest, RetentionBasis, RetentionRule, access_due_on, anniversary,
    evaluate_deletion, retention_rule, retention_until,
};
