//! Application services: one use case each, written against the ports.

mod audit;
mod billing;
mod booking;
mod both;
mod care;
mod clinical;
mod compliance;
mod error;
mod guard;
mod intake;
mod inventory;
mod messaging;
mod notifications;
mod privacy;
mod records;
mod reports;
mod telehealth;

pub use audit::AuditService;
pub use billing::{
    BillingPorts, BillingRules, BillingService, BookingWarning, CapCount, CapUsage, ClaimRequest, CourseUsage,
    PaymentOutcome, RefundOutcome, RefundPayment,
};
pub use booking::{
    BookingService, CancelOutcome, MAX_ATTEMPTS, OccurrenceReport, SchedulingPorts, SeriesMove, SeriesOutcome,
    SlotSearch,
};
pub use care::{AccessPorts, CarePorts, CareService, care_now, treats_now};
pub use clinical::{Actor, ClinicalPorts, ClinicalService};
pub use compliance::{CompliancePorts, ComplianceReport, ComplianceService};
pub use error::{Refusal, ServiceError};
pub use intake::IntakeService;
pub use inventory::{InventoryPorts, InventoryService, ItemStock, LocationCount};
pub use messaging::{MessageView, MessagingPorts, MessagingService, NewMessage, NewThread, ThreadSummary, ThreadView};
pub use notifications::{Channels, DispatchReport, LEASE, NotificationPorts, NotificationService};
pub use privacy::{PatientExport, PrivacyPorts, PrivacyService};
pub use records::{RecordsPorts, RecordsService};
pub use reports::{ReportsPorts, ReportsService};
pub use telehealth::{JOIN_OPENS_BEFORE, JOIN_TOKEN_TTL, Joiner, TelehealthPorts, TelehealthService};
