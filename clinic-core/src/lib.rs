//! # clinic-core
//!
//! The domain of a clinic — first an Australian psychology practice, then any outpatient
//! clinic — as rules over data, behind trait ports. This crate does no I/O: no clock
//! reads, no randomness, no network, no files. Time comes from the [`ports::Clock`] port,
//! identifiers from [`ports::IdGenerator`], storage from the repository ports; the
//! `clinic-adapters` crate implements them.
//!
//! | module | what it owns |
//! | --- | --- |
//! | [`ids`], [`money`], [`time`] | typed ids, AUD money with explicit rounding, UTC intervals and local-time resolution |
//! | [`access`] | who may do what: the roles matrix as one pure function |
//! | [`audit`] | audit events in a hash chain with signed checkpoints |
//! | [`auth`] | sign-in rules: lockout, rotating refresh-token families, the password policy |
//! | [`billing`] | invoices, GST per line, payments, refunds, credit notes, Medicare claims |
//! | [`inventory`] | medical supplies: stock derived from movements, never negative; low stock and expiry |
//! | [`clinical`] | SOAP progress notes (sign, lock, addenda), process notes, treatment plans, outcome measures |
//! | [`credentials`] | AHPRA registration and insurance: status on a date, the compliance sweep |
//! | [`medicare`] | MBS items and caps as versioned data, referrals, the eligibility decision |
//! | [`versioned`] | rule tables with effective dates and an as-at lookup |
//! | [`privacy`] | consents, retention by state, deletion and access requests |
//! | [`reports`] | utilisation, attendance, revenue, outstanding invoices, Medicare cap usage and expiring credentials |
//! | [`practice`] | practices (the tenant), locations, rooms, services |
//! | [`people`] | patients, practitioners, users and roles, validated identifiers |
//! | [`scheduling`] | availability, holidays, appointments, conflict rules, series, waitlist, slot search |
//! | [`telehealth`] | the gate a video or phone session passes before it starts |
//! | [`messaging`] | secure threads between a patient and the clinicians who treat them |
//! | [`notify`] | what the practice tells people: templates as data, no clinical content |
//! | [`ports`] | the traits adapters implement |
//! | [`service`] | use cases written against the ports |
#![deny(missing_docs)]

pub mod access;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod clinical;
pub mod credentials;
pub mod error;
pub mod ids;
pub mod inventory;
pub mod medicare;
pub mod messaging;
pub mod money;
pub mod notify;
pub mod people;
pub mod ports;
pub mod practice;
pub mod privacy;
pub mod reports;
pub mod scheduling;
pub mod service;
pub mod telehealth;
pub mod time;
pub mod versioned;

pub use error::FieldError;
pub use money::{Money, Rounding};
pub use time::TimeRange;
