//! The error every use case returns.

use crate::error::FieldError;
use crate::ports::{PortError, PortErrorKind};
use crate::scheduling::SchedulingError;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// A record the request names does not exist in this practice.
    #[error("{entity} not found")]
    NotFound {
        /// What was missing, e.g. `"practitioner"`.
        entity: &'static str,
    },
    /// A field of the request is invalid.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// Several fields of the request are invalid: every one, in the order checked.
    #[error("{}", crate::error::FieldErrors(.0.clone()))]
    Fields(Vec<FieldError>),
    /// A stock movement the stock does not allow.
    #[error(transparent)]
    Inventory(crate::inventory::InventoryError),
    /// A scheduling rule refused the request.
    #[error(transparent)]
    Scheduling(#[from] SchedulingError),
    /// An invoice operation was refused.
    #[error(transparent)]
    Billing(#[from] crate::billing::BillingError),
    /// The session is not claimable under Medicare (it can still be invoiced privately).
    #[error("the session is not claimable: {}", reasons.iter().map(crate::medicare::Ineligible::code).collect::<Vec<_>>().join(", "))]
    NotClaimable {
        /// Every reason.
        reasons: Vec<crate::medicare::Ineligible>,
    },
    /// A claim status change the lifecycle does not allow.
    #[error(transparent)]
    ClaimTransition(#[from] crate::billing::ClaimTransitionError),
    /// The actor may not do this (the attempt is audited).
    #[error("not permitted")]
    Forbidden,
    /// A note operation was refused.
    #[error(transparent)]
    Note(crate::clinical::NoteError),
    /// The calendar kept changing under us; the request may be retried.
    #[error("the calendar is busy; please try again")]
    Contention,
    /// The request is refused by the state of the records, not by a field or a role:
    /// something the law or the practice's process needs first is missing.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A port failed.
    #[error("storage failed: {0}")]
    Port(#[source] PortError),
}

/// What a use case needs first and did not find. Each names what to do instead; none
/// carries health data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// An APP 12 export is produced against the patient's access request (APP 12.1; the
    /// request starts the 30-day clock of APP 12.4), so one must be open.
    #[error("no access request is open for this patient: record the patient's request first")]
    NoAccessRequest,
    /// Records are destroyed only at the patient's request (APP 11.2 is the practice's
    /// own duty, handled by retention; a deletion on demand needs the demand on record).
    #[error("no deletion request is on record for this patient: record the patient's request first")]
    NoDeletionRequest,
    /// A de-identified record stays de-identified: a correction would name it again.
    #[error("this record was de-identified at the patient's request and cannot be corrected")]
    Deidentified,
    /// A clinician sees a patient only when the practice assigned them (a booking by the
    /// front desk or the patient, a referral, or a manager's assignment): booking a
    /// stranger into one's own calendar is not a way to open their record.
    #[error("you do not treat this patient: the front desk books new patients")]
    NotTreating,
    /// An attachment names a file the writer did not upload in the last day: a file is
    /// attached by whoever uploaded it, never by knowing its digest.
    #[error("an attachment is not a file you uploaded in the last day; upload it first")]
    NotYourUpload,
    /// A patient booking for themselves asked for a longer series than the practice
    /// allows them (`BookingPolicy::patient_series_max`); the front desk books longer ones.
    #[error("a series you book yourself is limited by the practice; ask the front desk for a longer one")]
    SeriesTooLong,
    /// A patient booking for themselves already holds as many future appointments as the
    /// practice allows (`BookingPolicy::patient_open_max`).
    #[error("you hold as many future appointments as the practice allows; ask the front desk")]
    TooManyOpenAppointments,
    /// The account uploaded its day's quota of files.
    #[error("you have uploaded as many files as a day allows; try again tomorrow")]
    UploadQuota,
}

impl Refusal {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoAccessRequest => "no_access_request",
            Self::NoDeletionRequest => "no_deletion_request",
            Self::Deidentified => "record_deidentified",
            Self::NotTreating => "not_treating",
            Self::NotYourUpload => "attachment_not_uploaded",
            Self::UploadQuota => "upload_quota",
            Self::SeriesTooLong => "series_too_long",
            Self::TooManyOpenAppointments => "too_many_open_appointments",
        }
    }
}

impl ServiceError {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::Invalid(e) => e.code(),
            Self::Fields(_) => "invalid_field",
            Self::Inventory(e) => e.code(),
            Self::Scheduling(e) => e.code(),
            Self::Billing(e) => e.code(),
            Self::NotClaimable { .. } => "not_claimable",
            Self::ClaimTransition(e) => e.code(),
            Self::Forbidden => "forbidden",
            Self::Note(e) => e.code(),
            Self::Contention => "contention",
            Self::Refused(r) => r.code(),
            Self::Port(e) => e.kind().code(),
        }
    }

    /// Maps a port error, turning not-found into [`ServiceError::NotFound`] about `entity`.
    #[must_use]
    pub fn from_port_kind(e: PortError, entity: &'static str) -> ServiceError {
        Self::from_port(entity)(e)
    }

    /// Maps a port's not-found to [`ServiceError::NotFound`] about `entity`.
    pub(crate) fn from_port(entity: &'static str) -> impl FnOnce(PortError) -> ServiceError {
        move |e| {
            if e.kind() == PortErrorKind::NotFound {
                ServiceError::NotFound { entity }
            } else {
                ServiceError::Port(e)
            }
        }
    }
}

impl From<crate::inventory::InventoryError> for ServiceError {
    fn from(e: crate::inventory::InventoryError) -> Self {
        match e {
            crate::inventory::InventoryError::Invalid(f) => ServiceError::Invalid(f),
            other => ServiceError::Inventory(other),
        }
    }
}

impl From<PortError> for ServiceError {
    fn from(e: PortError) -> Self {
        ServiceError::Port(e)
    }
}

/// What a guarded commit came to: `Some(value)` when it landed, `None` when it lost a race
/// (re-read and decide again), or the port's error.
pub(crate) fn settle<T>(result: Result<(), PortError>, value: T) -> Result<Option<T>, ServiceError> {
    match result {
        Ok(()) => Ok(Some(value)),
        Err(e) if e.kind() == PortErrorKind::Conflict => Ok(None),
        Err(e) => Err(e.into()),
    }
}
