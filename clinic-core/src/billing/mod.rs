//! Billing: invoices and their lines, GST per line, payments, refunds, credit notes, and
//! Medicare claims.

pub mod claim;
pub mod gst;
pub mod invoice;

pub use claim::{Claim, ClaimStatus, ClaimTransitionError};
pub use gst::{GstFreeBasis, GstRates, GstTreatment, SupplyKind, classify, gst_on};
pub use invoice::{
    BillingError, CreditNote, Invoice, InvoiceDocument, InvoiceLine, InvoiceStatus, LineInput, LineMedicare, Payer,
    Payment, PaymentMethod, Refund,
};

#[cfg(test)]
mod tests;
