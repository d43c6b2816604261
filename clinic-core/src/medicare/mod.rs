//! Medicare Better Access: the MBS item catalogue and the caps as versioned data,
//! referrals, and the eligibility decision.
//!
//! The shipped tables (`mbs_items.txt`, `caps.txt`) carry the rule sheet's facts with their
//! sources; where the sheet marks a fact UNCERTAIN the table says so, and a practice
//! replaces the table at run time with [`Catalogue::parse`] / [`CapTable::parse`].

pub mod caps;
pub mod catalogue;
pub mod eligibility;
pub mod referral;
mod table;

pub use caps::{CapRule, CapTable};
pub use catalogue::{CapKind, Catalogue, ItemMode, MbsItem};
pub use eligibility::{Advice, Decision, Ineligible, PastService, Session, decide};
pub use referral::{Referral, ReferralScope, ReferrerKind};
pub use table::TableError;

#[cfg(test)]
mod tests;
