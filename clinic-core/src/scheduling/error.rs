//! Scheduling errors: every conflict rule is its own variant.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::appointment::StatusKind;
use crate::ids::{AppointmentId, PatientId};

/// Why a booking, reschedule or status change was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchedulingError {
    /// The practitioner already has an appointment (buffers included) overlapping this one.
    #[error("the practitioner is already booked at that time (appointment {existing})")]
    PractitionerBusy {
        /// The clashing appointment.
        existing: AppointmentId,
    },
    /// The room is already in use.
    #[error("the room is already booked at that time (appointment {existing})")]
    RoomBusy {
        /// The clashing appointment.
        existing: AppointmentId,
    },
    /// A patient already has an appointment at that time.
    #[error("patient {patient} already has an appointment at that time (appointment {existing})")]
    PatientBusy {
        /// The patient.
        patient: PatientId,
        /// The clashing appointment.
        existing: AppointmentId,
    },
    /// The time is not inside the practitioner's availability at that location.
    #[error("the practitioner is not available at that time")]
    OutsideAvailability,
    /// The day is a public holiday in the location's state.
    #[error("{date} is a public holiday ({name})")]
    OnPublicHoliday {
        /// The local date.
        date: NaiveDate,
        /// The holiday.
        name: String,
    },
    /// The start is in the past.
    #[error("the start time is in the past")]
    InThePast,
    /// The start is sooner than the practice's minimum notice allows.
    #[error("bookings need more notice: the earliest start is {earliest}")]
    InsideMinimumNotice {
        /// The earliest allowed start.
        earliest: DateTime<Utc>,
    },
    /// The start is further ahead than the practice's booking horizon.
    #[error("the start is past the booking horizon: the latest start is {latest}")]
    PastBookingHorizon {
        /// The latest allowed start.
        latest: DateTime<Utc>,
    },
    /// The practitioner may not practise (e.g. registration lapsed, insurance expired).
    #[error("the practitioner cannot be booked ({reason_code})")]
    PractitionerNotPermitted {
        /// Why, as a stable code.
        reason_code: String,
    },
    /// Telehealth was asked for a service or practitioner that does not offer it.
    #[error("this service is not offered by telehealth")]
    TelehealthNotOffered,
    /// An appointment needs between one and the service's maximum number of patients.
    #[error("an appointment of this service takes between 1 and {max} patients")]
    PatientCount {
        /// The service's maximum.
        max: u16,
    },
    /// The same patient was named twice.
    #[error("a patient is named twice")]
    DuplicatePatient,
    /// The room is at another location.
    #[error("the room is not at the appointment's location")]
    RoomElsewhere,
    /// The interval's length is not the service's.
    #[error("the appointment must last {expected_minutes} minutes for this service")]
    WrongDuration {
        /// The service's length.
        expected_minutes: u32,
    },
    /// The local start time does not exist (it falls in a daylight-saving gap).
    #[error("{local} does not exist in the location's time zone (daylight saving)")]
    NonexistentLocalTime {
        /// The local time asked for.
        local: NaiveDateTime,
    },
    /// A status change that the appointment's state machine does not allow.
    #[error("an appointment that is {from:?} cannot become {to:?}")]
    IllegalTransition {
        /// Current state.
        from: StatusKind,
        /// Requested state.
        to: StatusKind,
    },
    /// A no-show can only be recorded once the appointment has started.
    #[error("a no-show can only be recorded after the appointment's start")]
    NoShowBeforeStart,
    /// A recurring series definition is out of range.
    #[error("invalid series: {0}")]
    InvalidSeries(&'static str),
}

impl SchedulingError {
    /// The stable machine code, used in problem+json responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::PractitionerBusy { .. } => "practitioner_busy",
            Self::RoomBusy { .. } => "room_busy",
            Self::PatientBusy { .. } => "patient_busy",
            Self::OutsideAvailability => "outside_availability",
            Self::OnPublicHoliday { .. } => "public_holiday",
            Self::InThePast => "in_the_past",
            Self::InsideMinimumNotice { .. } => "inside_minimum_notice",
            Self::PastBookingHorizon { .. } => "past_booking_horizon",
            Self::PractitionerNotPermitted { .. } => "practitioner_not_permitted",
            Self::TelehealthNotOffered => "telehealth_not_offered",
            Self::PatientCount { .. } => "patient_count",
            Self::DuplicatePatient => "duplicate_patient",
            Self::RoomElsewhere => "room_elsewhere",
            Self::WrongDuration { .. } => "wrong_duration",
            Self::NonexistentLocalTime { .. } => "nonexistent_local_time",
            Self::IllegalTransition { .. } => "illegal_transition",
            Self::NoShowBeforeStart => "no_show_before_start",
            Self::InvalidSeries(_) => "invalid_series",
        }
    }

    /// True for the conflicts that another booking caused (HTTP 409), as opposed to a
    /// request that can never succeed as asked (HTTP 422).
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::PractitionerBusy { .. } | Self::RoomBusy { .. } | Self::PatientBusy { .. }
        )
    }
}
