//! # clinic-adapters
//!
//! Implementations of `clinic-core`'s ports, one cargo feature each:
//!
//! | feature | ports | backing |
//! | --- | --- | --- |
//! | (always) | `Clock`, `IdGenerator` | the system clock, UUID v7; a settable clock for tests and demos |
//! | (always) | — | data-access exports rendered as JSON and CSV |
//! | (always) | — | FHIR R4 JSON of patients, practitioners, appointments, schedules and slots |
//! | `memory` (default) | every storage port | in-process maps behind one lock: the reference for the conformance suite |
//! | `manual-claims` (default) | `ClaimGateway` | records claims as forms a practice lodges by hand |
//! | `pdf` (default) | `DocumentRenderer` | A4 PDF with embedded subset DejaVu Sans and selectable Unicode text |
//! | `crypto` | `FieldCipher` | AES-256-GCM envelope encryption with key ids and rotation |
//! | `sqlite` | every storage port | sqlx over bundled SQLite: the embedded default |
//! | `postgres` | every storage port | sqlx over PostgreSQL, with row-level security and exclusion constraints |
//! | `stripe` | `PaymentGateway` | Stripe PaymentIntents, refunds and signed webhooks |
//! | `sendgrid` | `EmailSender` | SendGrid v3 mail send |
//! | `smtp` | `EmailSender` | SMTP via lettre, STARTTLS required by default |
//! | `twilio` | `VideoProvider`, `MessageSender` | Twilio Video rooms and access tokens; SMS and WhatsApp; signed callbacks |
//! | `fs`, `s3` | `DocumentStore` | sealed, content-addressed files on disk or in an S3-compatible bucket |
//! | `console` | email, messages, video, payments | keeps what it would send in memory: development only |
//!
//! The HTTP adapters share one client (`http`): rustls, timeouts, and bounded retries with
//! backoff and jitter for 429, 5xx and connection failures, never for other 4xx.
#![deny(missing_docs)]

#[cfg(feature = "crypto")]
pub mod crypto;
pub mod export;
pub mod fhir;
pub mod system;

#[cfg(feature = "console")]
pub mod console;
#[cfg(any(feature = "fs", feature = "s3"))]
pub mod documents;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "manual-claims")]
pub mod manual_claims;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "pdf")]
pub mod pdf;
#[cfg(any(feature = "http", feature = "smtp"))]
pub mod retry;
#[cfg(feature = "sendgrid")]
pub mod sendgrid;
#[cfg(feature = "smtp")]
pub mod smtp;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod sql;
#[cfg(feature = "stripe")]
pub mod stripe;
#[cfg(feature = "twilio")]
pub mod twilio;
