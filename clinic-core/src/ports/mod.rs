//! The ports: traits that adapters implement and the core's services call.
//!
//! Every port is an object-safe `#[async_trait]` trait, `Send + Sync + 'static`, used as
//! `Arc<dyn Port>`, and returns [`PortError`].

mod accounts;
mod billing;
mod cipher;
mod clinical;
mod documents;
mod error;
mod inventory;
mod messaging;
mod outbox;
mod payments;
mod storage;
mod threads;
mod video;

pub use accounts::Accounts;
pub use billing::{ClaimGateway, ClaimHistory, ClaimRepository, InvoiceRepository, ReferralRepository};
pub use cipher::{FieldCipher, SealContext};
pub use clinical::{
    AuditLog, CareRelationships, ClinicalRecords, ComplianceLog, CredentialRepository, IntakeRecords, NoteRepository,
    PrivacyRecords, TelehealthRecords,
};
pub use documents::{
    DEFAULT_MAX_DOCUMENT_BYTES, Document, DocumentRef, DocumentRenderer, DocumentStore, DocumentType, Upload,
    UploadError,
};
pub use error::{PortError, PortErrorKind};
pub use inventory::{InventoryRepository, Ledger};
pub use messaging::{
    ApprovedTemplate, Attachment, CallbackError, Channel, DeliveryStatus, DeliveryUpdate, EmailMessage, EmailSender,
    MessageSender, SentMessage, TextMessage,
};
pub use outbox::{Inbox, Outbox, QueueDepth};
pub use payments::{
    IntentRequest, IntentStatus, PaymentEvent, PaymentGateway, PaymentIntent, ProviderRefund, RefundRequest,
    WebhookError,
};
pub use storage::{
    AppointmentRepository, BookingContext, Busy, CalendarSnapshot, CommitNotices, ContextRequest, Guarded,
    PatientRepository, PatientSession, PracticeRepository, PractitionerRepository, ResourceKey, WaitlistRepository,
};
pub use threads::MessageRepository;
pub use video::{JoinPermit, RoomSpec, VideoProvider, VideoRoom, VideoToken, room_name};

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Every storage port in one bound: what a storage adapter implements and what an
/// application holds as `Arc<dyn Storage>`, handing each service the ports it needs (an
/// `Arc<dyn Storage>` coerces to an `Arc<dyn PatientRepository>` and the rest).
pub trait Storage:
    PracticeRepository
    + PatientRepository
    + PractitionerRepository
    + AppointmentRepository
    + WaitlistRepository
    + InvoiceRepository
    + ClaimRepository
    + ReferralRepository
    + NoteRepository
    + CareRelationships
    + AuditLog
    + CredentialRepository
    + ComplianceLog
    + PrivacyRecords
    + ClinicalRecords
    + IntakeRecords
    + TelehealthRecords
    + Outbox
    + Accounts
    + InventoryRepository
    + MessageRepository
    + Inbox
{
}

impl<T> Storage for T where
    T: PracticeRepository
        + PatientRepository
        + PractitionerRepository
        + AppointmentRepository
        + WaitlistRepository
        + InvoiceRepository
        + ClaimRepository
        + ReferralRepository
        + NoteRepository
        + CareRelationships
        + AuditLog
        + CredentialRepository
        + ComplianceLog
        + PrivacyRecords
        + ClinicalRecords
        + IntakeRecords
        + TelehealthRecords
        + Outbox
        + Accounts
        + InventoryRepository
        + MessageRepository
        + Inbox
{
}

/// The time. The core never reads the system clock; tests pin it.
///
/// # Contract
/// `now` returns a UTC instant; successive calls in one thread never go backwards.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// New identifiers. The core never generates randomness itself.
///
/// # Contract
/// Every call returns a UUID never returned before by this generator (v7 in the shipped
/// adapters, so ids sort by creation time).
pub trait IdGenerator: Send + Sync + 'static {
    /// A new UUID.
    fn new_uuid(&self) -> Uuid;
}

/// Conveniences over [`IdGenerator`].
pub trait IdGeneratorExt {
    /// A new typed id.
    fn new_id<T: From<Uuid>>(&self) -> T;
}

impl<G: IdGenerator + ?Sized> IdGeneratorExt for G {
    fn new_id<T: From<Uuid>>(&self) -> T {
        T::from(self.new_uuid())
    }
}
