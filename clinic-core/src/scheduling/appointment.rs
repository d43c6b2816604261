//! Appointments and their status machine.
//!
//! ```text
//! requested ──► booked ──► confirmed ──► arrived ──► completed
//!     │           │  │         │  │
//!     └───────────┴──┼─────────┴──┼──► cancelled (by patient or clinic; late flag)
//!                    └────────────┴──► no-show (only after the start)
//! ```
//! A booked appointment may also go straight to arrived. Completed, cancelled and no-show
//! are final. Rescheduling is allowed while requested, booked or confirmed; it keeps the
//! previous intervals in `history` and asks for confirmation again.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::error::SchedulingError;
use crate::ids::{AppointmentId, LocationId, PatientId, PracticeId, PractitionerId, RoomId, SeriesId, ServiceId};
use crate::time::TimeRange;

/// How the appointment is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// At the location.
    InPerson,
    /// By video (telehealth).
    Video,
    /// By phone (telehealth).
    Phone,
}

impl DeliveryMode {
    /// True for video and phone.
    #[must_use]
    pub const fn is_telehealth(self) -> bool {
        matches!(self, DeliveryMode::Video | DeliveryMode::Phone)
    }
}

/// Who cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CancelledBy {
    /// The patient (or their guardian).
    Patient,
    /// The clinic.
    Clinic,
}

/// A cancellation's particulars.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cancellation {
    /// Who cancelled.
    pub by: CancelledBy,
    /// Why, in administrative terms (never clinical detail).
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
    /// True when cancelled with less notice than the practice's policy.
    pub late: bool,
}

/// Where an appointment is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Asked for by a patient, awaiting the clinic.
    Requested,
    /// Booked.
    Booked,
    /// Confirmed by the patient.
    Confirmed,
    /// The patient has arrived (or joined the call).
    Arrived,
    /// The session took place.
    Completed,
    /// Cancelled.
    Cancelled(Cancellation),
    /// The patient did not attend.
    NoShow,
}

/// The status without its data, for errors and filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    /// See [`AppointmentStatus::Requested`].
    Requested,
    /// See [`AppointmentStatus::Booked`].
    Booked,
    /// See [`AppointmentStatus::Confirmed`].
    Confirmed,
    /// See [`AppointmentStatus::Arrived`].
    Arrived,
    /// See [`AppointmentStatus::Completed`].
    Completed,
    /// See [`AppointmentStatus::Cancelled`].
    Cancelled,
    /// See [`AppointmentStatus::NoShow`].
    NoShow,
}

impl AppointmentStatus {
    /// The kind of status.
    #[must_use]
    pub fn kind(&self) -> StatusKind {
        match self {
            Self::Requested => StatusKind::Requested,
            Self::Booked => StatusKind::Booked,
            Self::Confirmed => StatusKind::Confirmed,
            Self::Arrived => StatusKind::Arrived,
            Self::Completed => StatusKind::Completed,
            Self::Cancelled(_) => StatusKind::Cancelled,
            Self::NoShow => StatusKind::NoShow,
        }
    }
}

impl StatusKind {
    /// Every status.
    pub const ALL: [StatusKind; 7] = [
        StatusKind::Requested,
        StatusKind::Booked,
        StatusKind::Confirmed,
        StatusKind::Arrived,
        StatusKind::Completed,
        StatusKind::Cancelled,
        StatusKind::NoShow,
    ];

    /// The stable snake-case name (as serialized, and as stored beside an appointment).
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            StatusKind::Requested => "requested",
            StatusKind::Booked => "booked",
            StatusKind::Confirmed => "confirmed",
            StatusKind::Arrived => "arrived",
            StatusKind::Completed => "completed",
            StatusKind::Cancelled => "cancelled",
            StatusKind::NoShow => "no_show",
        }
    }

    /// The status named by `code`.
    #[must_use]
    pub fn from_code(code: &str) -> Option<StatusKind> {
        StatusKind::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Whether an appointment in this state holds its time: everything but a cancellation.
    /// (A no-show's time has passed; it still held the practitioner.)
    #[must_use]
    pub const fn holds_time(self) -> bool {
        !matches!(self, StatusKind::Cancelled)
    }

    /// Whether the state machine allows `self → to`.
    #[must_use]
    pub const fn can_become(self, to: StatusKind) -> bool {
        use StatusKind as S;
        matches!(
            (self, to),
            (S::Requested, S::Booked | S::Cancelled)
                | (S::Booked, S::Confirmed | S::Arrived | S::Cancelled | S::NoShow)
                | (S::Confirmed, S::Arrived | S::Cancelled | S::NoShow)
                | (S::Arrived, S::Completed)
        )
    }

    /// Whether the appointment may still be moved.
    #[must_use]
    pub const fn can_reschedule(self) -> bool {
        matches!(self, StatusKind::Requested | StatusKind::Booked | StatusKind::Confirmed)
    }
}

/// A past interval of a rescheduled appointment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reschedule {
    /// The interval it had.
    pub from: TimeRange,
    /// The interval it moved to.
    pub to: TimeRange,
    /// When it was moved.
    pub at: DateTime<Utc>,
}

/// An appointment: one practitioner, one or more patients (couples, families, groups), a
/// service, a location (whose zone and availability apply; also for telehealth), an
/// optional room, and an interval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Appointment {
    /// Id.
    pub id: AppointmentId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The practitioner.
    pub practitioner_id: PractitionerId,
    /// The patients (at least one).
    pub patient_ids: Vec<PatientId>,
    /// The service.
    pub service_id: ServiceId,
    /// The location.
    pub location_id: LocationId,
    /// The room, for in-person appointments that use one.
    pub room_id: Option<RoomId>,
    /// In person, video or phone.
    pub mode: DeliveryMode,
    /// The session itself.
    pub interval: TimeRange,
    /// The practitioner's time it takes: the session widened by the service's buffers.
    pub blocked: TimeRange,
    /// Status.
    pub status: AppointmentStatus,
    /// The recurring series it belongs to.
    pub series_id: Option<SeriesId>,
    /// Earlier intervals, oldest first.
    pub history: Vec<Reschedule>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl Appointment {
    /// The status kind.
    #[must_use]
    pub fn status_kind(&self) -> StatusKind {
        self.status.kind()
    }

    /// True unless cancelled: the appointment occupies its practitioner, room and patients.
    #[must_use]
    pub fn holds_time(&self) -> bool {
        self.status_kind().holds_time()
    }

    fn transition(&mut self, to: AppointmentStatus) -> Result<(), SchedulingError> {
        let from = self.status_kind();
        if !from.can_become(to.kind()) {
            return Err(SchedulingError::IllegalTransition { from, to: to.kind() });
        }
        self.status = to;
        Ok(())
    }

    /// Requested → booked (the clinic accepts a request).
    ///
    /// # Errors
    /// [`SchedulingError::IllegalTransition`] from any other state.
    pub fn accept(&mut self) -> Result<(), SchedulingError> {
        self.transition(AppointmentStatus::Booked)
    }

    /// Booked → confirmed.
    ///
    /// # Errors
    /// [`SchedulingError::IllegalTransition`] from any other state.
    pub fn confirm(&mut self) -> Result<(), SchedulingError> {
        self.transition(AppointmentStatus::Confirmed)
    }

    /// Booked or confirmed → arrived.
    ///
    /// # Errors
    /// [`SchedulingError::IllegalTransition`] from any other state.
    pub fn arrive(&mut self) -> Result<(), SchedulingError> {
        self.transition(AppointmentStatus::Arrived)
    }

    /// Arrived → completed.
    ///
    /// # Errors
    /// [`SchedulingError::IllegalTransition`] from any other state.
    pub fn complete(&mut self) -> Result<(), SchedulingError> {
        self.transition(AppointmentStatus::Completed)
    }

    /// Booked or confirmed → no-show, once the start has passed.
    ///
    /// # Errors
    /// [`SchedulingError::NoShowBeforeStart`] before the start;
    /// [`SchedulingError::IllegalTransition`] from any other state.
    pub fn mark_no_show(&mut self, now: DateTime<Utc>) -> Result<(), SchedulingError> {
        if !self.status_kind().can_become(StatusKind::NoShow) {
            return Err(SchedulingError::IllegalTransition {
                from: self.status_kind(),
                to: StatusKind::NoShow,
            });
        }
        if now < self.interval.start() {
            return Err(SchedulingError::NoShowBeforeStart);
        }
        self.transition(AppointmentStatus::NoShow)
    }

    /// Cancels. The cancellation is late when made less than `notice` before the start
    /// (a cancellation exactly `notice` before is on time).
    ///
    /// # Errors
    /// [`SchedulingError::IllegalTransition`] once arrived, completed, cancelled or no-show.
    pub fn cancel(
        &mut self,
        by: CancelledBy,
        reason: &str,
        now: DateTime<Utc>,
        notice: Duration,
    ) -> Result<(), SchedulingError> {
        let late = self.interval.start() - now < notice;
        self.transition(AppointmentStatus::Cancelled(Cancellation {
            by,
            reason: reason.trim().chars().take(500).collect(),
            at: now,
            late,
        }))
    }

    /// Moves the appointment to `to` (a session interval) with `blocked` (its buffered
    /// interval), recording the move. A confirmed appointment goes back to booked.
    ///
    /// The caller checks the new time against the conflict rules first.
    ///
    /// # Errors
    /// [`SchedulingError::IllegalTransition`] when the state does not allow a move.
    pub fn reschedule(&mut self, to: TimeRange, blocked: TimeRange, now: DateTime<Utc>) -> Result<(), SchedulingError> {
        let kind = self.status_kind();
        if !kind.can_reschedule() {
            return Err(SchedulingError::IllegalTransition {
                from: kind,
                to: StatusKind::Booked,
            });
        }
        self.history.push(Reschedule {
            from: self.interval,
            to,
            at: now,
        });
        self.interval = to;
        self.blocked = blocked;
        if kind == StatusKind::Confirmed {
            self.status = AppointmentStatus::Booked;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use uuid::Uuid;

    pub(crate) fn appt(start: &str, minutes: i64) -> Appointment {
        let start: DateTime<Utc> = start.parse().unwrap();
        let interval = TimeRange::starting_at(start, Duration::minutes(minutes)).unwrap();
        Appointment {
            id: AppointmentId::from_uuid(Uuid::from_u128(1)),
            practice_id: PracticeId::from_uuid(Uuid::nil()),
            practitioner_id: PractitionerId::from_uuid(Uuid::nil()),
            patient_ids: vec![PatientId::from_uuid(Uuid::nil())],
            service_id: ServiceId::from_uuid(Uuid::nil()),
            location_id: LocationId::from_uuid(Uuid::nil()),
            room_id: None,
            mode: DeliveryMode::InPerson,
            interval,
            blocked: interval,
            status: AppointmentStatus::Booked,
            series_id: None,
            history: vec![],
            created_at: start - Duration::days(7),
        }
    }

    #[test]
    fn happy_path() {
        let mut a = appt("2026-12-01T00:00:00Z", 50);
        a.confirm().unwrap();
        a.arrive().unwrap();
        a.complete().unwrap();
        assert_eq!(a.status_kind(), StatusKind::Completed);
    }

    #[test]
    fn illegal_transitions_are_typed() {
        let mut a = appt("2026-12-01T00:00:00Z", 50);
        assert_eq!(
            a.complete().unwrap_err(),
            SchedulingError::IllegalTransition {
                from: StatusKind::Booked,
                to: StatusKind::Completed
            }
        );
        a.cancel(
            CancelledBy::Patient,
            "travel",
            "2026-11-01T00:00:00Z".parse().unwrap(),
            Duration::hours(24),
        )
        .unwrap();
        assert!(a.confirm().is_err());
        assert!(
            a.cancel(
                CancelledBy::Clinic,
                "x",
                "2026-11-01T00:00:00Z".parse().unwrap(),
                Duration::hours(24)
            )
            .is_err()
        );
    }

    #[test]
    fn every_pair_of_states_matches_the_table() {
        use StatusKind as S;
        let all = [
            S::Requested,
            S::Booked,
            S::Confirmed,
            S::Arrived,
            S::Completed,
            S::Cancelled,
            S::NoShow,
        ];
        let allowed = [
            (S::Requested, S::Booked),
            (S::Requested, S::Cancelled),
            (S::Booked, S::Confirmed),
            (S::Booked, S::Arrived),
            (S::Booked, S::Cancelled),
            (S::Booked, S::NoShow),
            (S::Confirmed, S::Arrived),
            (S::Confirmed, S::Cancelled),
            (S::Confirmed, S::NoShow),
            (S::Arrived, S::Completed),
        ];
        for a in all {
            for b in all {
                assert_eq!(a.can_become(b), allowed.contains(&(a, b)), "{a:?} -> {b:?}");
            }
        }
    }

    #[test]
    fn status_codes_are_the_serialized_names() {
        for s in StatusKind::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.code()));
            assert_eq!(StatusKind::from_code(s.code()), Some(s));
        }
        assert_eq!(StatusKind::from_code("lost"), None);
    }

    #[test]
    fn late_cancellation_edge() {
        let notice = Duration::hours(24);
        let mut on_time = appt("2026-12-02T00:00:00Z", 50);
        on_time
            .cancel(
                CancelledBy::Patient,
                "",
                "2026-12-01T00:00:00Z".parse().unwrap(),
                notice,
            )
            .unwrap();
        let AppointmentStatus::Cancelled(c) = &on_time.status else {
            panic!()
        };
        assert!(!c.late, "exactly 24 hours' notice is on time");
        let mut late = appt("2026-12-02T00:00:00Z", 50);
        late.cancel(
            CancelledBy::Patient,
            "",
            "2026-12-01T00:00:01Z".parse().unwrap(),
            notice,
        )
        .unwrap();
        let AppointmentStatus::Cancelled(c) = &late.status else {
            panic!()
        };
        assert!(c.late, "one second less is late");
    }

    #[test]
    fn no_show_only_after_start() {
        let mut a = appt("2026-12-02T00:00:00Z", 50);
        assert_eq!(
            a.mark_no_show("2026-12-01T23:59:59Z".parse().unwrap()),
            Err(SchedulingError::NoShowBeforeStart)
        );
        a.mark_no_show("2026-12-02T00:00:00Z".parse().unwrap()).unwrap();
        assert!(a.holds_time());
    }

    #[test]
    fn reschedule_keeps_history_and_asks_for_confirmation_again() {
        let mut a = appt("2026-12-02T00:00:00Z", 50);
        a.confirm().unwrap();
        let old = a.interval;
        let to = old.shifted(Duration::days(1));
        a.reschedule(to, to, "2026-11-20T00:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(a.history.len(), 1);
        assert_eq!(a.history[0].from, old);
        assert_eq!(a.status_kind(), StatusKind::Booked);
        a.arrive().unwrap();
        assert!(a.reschedule(old, old, "2026-11-20T00:00:00Z".parse().unwrap()).is_err());
    }
}
