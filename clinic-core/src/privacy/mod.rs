//! Privacy: consents as versioned records, record retention by state, deletion and access
//! requests.

mod consent;
mod retention;

pub use consent::{Consent, ConsentKind, ConsentLedger, ConsentMethod, PolicyStatus};
pub use retention::{
    AccessRequest, DeletionOutcome, RetentionBasis, RetentionRule, access_due_on, anniversary, evaluate_deletion,
    retention_rule, retention_until,
};
