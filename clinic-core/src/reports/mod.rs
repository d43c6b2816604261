//! Practice reports: what a manager reads to run the practice, as pure functions over
//! slim facts so they can be tested, fuzzed and benchmarked without storage.
//!
//! | report | definition |
//! | --- | --- |
//! | utilisation | per practitioner and location: minutes of sessions booked (every appointment but cancelled ones) against minutes of availability (weekly templates, holidays and exceptions, as slot search sees them) |
//! | attendance | per practitioner: appointments due in the period (all but requests), no-shows and late cancellations (cancelled with less notice than the practice's policy), each as a share of those due |
//! | revenue | per month of issue: Medicare rebates, the gap above the rebate on Medicare lines, private fees on other lines, GST collected, all as invoiced (drafts excluded) |
//! | outstanding | issued invoices with a balance, by age since issue: 0–30, 31–60, 61–90, 90+ days |
//! | Medicare caps | patients by individual sessions claimed in the calendar year against the cap in force (rule sheet §1) |
//! | credentials | AHPRA registrations and indemnity policies whose latest record expires within the horizon |
//!
//! Dates are local to the practice; a period is a run of whole local days, at most 366.

mod compute;

pub use compute::{
    AgeBucket, AttendanceRow, CapBand, CapReport, ExpiringCredential, MonthRevenue, Outstanding, OutstandingInvoice,
    Period, Tally, UtilisationRow, attendance, cap_report, expiring_credentials, outstanding, revenue_by_month,
    utilisation,
};

#[cfg(test)]
mod tests;
