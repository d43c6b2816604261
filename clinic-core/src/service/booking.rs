//! Booking, rescheduling, cancelling, status changes and slot search.
//!
//! Each write follows the concurrency design: read a [`CalendarSnapshot`] of the resources
//! involved, decide with the pure rules, commit guarded by the versions read. A lost race
//! re-reads and decides again, up to [`MAX_ATTEMPTS`] times, so two concurrent bookings of
//! one slot can never both succeed: the loser sees the winner's appointment and gets
//! [`SchedulingError::PractitionerBusy`].

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use super::clinical::Actor;
use super::error::{ServiceError, settle};
use crate::ids::{AppointmentId, LocationId, PatientId, PracticeId, PractitionerId, SeriesId, ServiceId};
use crate::people::Practitioner;
use crate::ports::{
    AppointmentRepository, CalendarSnapshot, Clock, IdGenerator, IdGeneratorExt, PatientRepository, PracticeRepository,
    PractitionerRepository, ResourceKey, WaitlistRepository,
};
use crate::practice::{Location, Practice, Room, Service};
use crate::scheduling::series::{self, Occurrence};
use crate::scheduling::slots::{self, Candidate, Slot, SlotCursor, SlotPage, SlotQuery};
use crate::scheduling::{
    Accepted, Appointment, AppointmentStatus, Availability, BookingRequest, Calendar, CancelledBy, DeliveryMode,
    HolidayCalendar, Proposal, Recurrence, RuleContext, SchedulingError, SeriesPolicy, WaitlistEntry, check,
    rank_for_freed_slot,
};
use crate::time::TimeRange;

/// How many times a write re-reads and re-decides after losing a race.
pub const MAX_ATTEMPTS: usize = 16;

/// The ports the scheduling use cases need.
#[derive(Clone)]
pub struct SchedulingPorts {
    /// Practices, locations, rooms, services.
    pub practices: Arc<dyn PracticeRepository>,
    /// Patients.
    pub patients: Arc<dyn PatientRepository>,
    /// Practitioners and availability.
    pub practitioners: Arc<dyn PractitionerRepository>,
    /// Appointments.
    pub appointments: Arc<dyn AppointmentRepository>,
    /// Waitlist.
    pub waitlist: Arc<dyn WaitlistRepository>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

/// The scheduling use cases.
#[derive(Clone)]
pub struct BookingService {
    ports: SchedulingPorts,
    holidays: Arc<HolidayCalendar>,
    /// When set, [`BookingService::book`] stores a booking's notices in its own commit.
    notices: Option<super::notifications::NotificationService>,
    /// What [`BookingService::book_as`] decides and audits with.
    access: Option<super::care::AccessPorts>,
}

/// A cancelled appointment and the waitlist entries that fit its slot, best first.
#[derive(Clone, Debug)]
pub struct CancelOutcome {
    /// The appointment as cancelled.
    pub appointment: Appointment,
    /// Waitlist entries to offer the slot to.
    pub waitlist: Vec<WaitlistEntry>,
}

/// What happened to one occurrence of a series.
#[derive(Clone, Debug)]
pub struct OccurrenceReport {
    /// 0-based position.
    pub index: u16,
    /// Its local start at the location.
    pub local_start: chrono::NaiveDateTime,
    /// The booked appointment, or why it was not booked.
    pub outcome: Result<AppointmentId, SchedulingError>,
}

/// The result of booking a series.
#[derive(Clone, Debug)]
pub struct SeriesOutcome {
    /// The series id (present when anything was booked).
    pub series_id: Option<SeriesId>,
    /// The appointments booked.
    pub booked: Vec<Appointment>,
    /// Every occurrence, booked or not.
    pub report: Vec<OccurrenceReport>,
}

/// The result of moving a series from one occurrence on.
#[derive(Clone, Debug)]
pub struct SeriesMove {
    /// The appointments as moved, soonest first (empty when any occurrence could not move,
    /// and then nothing moved).
    pub moved: Vec<Appointment>,
    /// Every occurrence that was to move, with its new local start and outcome.
    pub report: Vec<OccurrenceReport>,
}

/// A slot search request.
#[derive(Clone, Debug)]
pub struct SlotSearch {
    /// The service.
    pub service_id: ServiceId,
    /// The practitioners to search; empty for every practitioner of the practice.
    pub practitioner_ids: Vec<PractitionerId>,
    /// Dates, zone, mode, location, patient.
    pub query: SlotQuery,
}

/// Everything one proposal needs, loaded.
struct Loaded {
    practice: Practice,
    practitioner: Practitioner,
    availability: Availability,
    service: Service,
    location: Location,
    room: Option<Room>,
    /// The patients' records (their reminder preferences, for the notices).
    patients: Vec<crate::people::Patient>,
}

impl Loaded {
    fn proposal<'a>(&'a self, patients: &'a [PatientId], mode: DeliveryMode, start: DateTime<Utc>) -> Proposal<'a> {
        Proposal {
            practitioner: &self.practitioner,
            availability: &self.availability,
            service: &self.service,
            location: &self.location,
            room: self.room.as_ref(),
            patients,
            mode,
            start,
        }
    }
}

fn keys_for(practitioner: PractitionerId, room: Option<&Room>, patients: &[PatientId]) -> Vec<ResourceKey> {
    let mut keys = vec![ResourceKey::Practitioner(practitioner)];
    keys.extend(room.map(|r| ResourceKey::Room(r.id)));
    keys.extend(patients.iter().map(|p| ResourceKey::Patient(*p)));
    keys
}

impl BookingService {
    /// A service over `ports` with the shipped Australian holiday table.
    #[must_use]
    pub fn new(ports: SchedulingPorts) -> Self {
        Self::with_holidays(ports, HolidayCalendar::australia())
    }

    /// A service with a practice-supplied holiday table.
    #[must_use]
    pub fn with_holidays(ports: SchedulingPorts, holidays: HolidayCalendar) -> Self {
        Self {
            ports,
            holidays: Arc::new(holidays),
            notices: None,
            access: None,
        }
    }

    /// The same service, whose `*_as` use cases decide who may write to the calendar
    /// ([`access::decide`](crate::access::decide) and the care relationship) and audit
    /// every decision. Without it those use cases refuse everyone: access is never
    /// skipped by omission.
    #[must_use]
    pub fn with_access(mut self, access: super::care::AccessPorts) -> Self {
        self.access = Some(access);
        self
    }

    async fn may_write(
        &self,
        actor: &Actor,
        patients: &[PatientId],
        practitioner: PractitionerId,
        code: &str,
    ) -> Result<(), ServiceError> {
        match &self.access {
            Some(a) => a.calendar_write(actor, patients, practitioner, code).await,
            None => Err(ServiceError::Forbidden),
        }
    }

    /// [`book`](Self::book) on behalf of `actor`: decided by the roles matrix and, for a
    /// clinician, by whether they already treat every patient (a clinician cannot open a
    /// stranger's record by booking them); the decision is audited, then the booking
    /// made in the actor's practice.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; [`Refusal::NotTreating`](super::Refusal::NotTreating);
    /// as [`book`](Self::book).
    pub async fn book_as(&self, actor: &Actor, req: &BookingRequest) -> Result<Appointment, ServiceError> {
        self.may_write(actor, &req.patient_ids, req.practitioner_id, "appointment.book")
            .await?;
        self.within_patient_limits(actor, req, 1).await?;
        self.book(actor.practice_id, req).await
    }

    /// A patient booking for themselves holds at most the practice's
    /// `patient_open_max` future appointments, and books series of at most
    /// `patient_series_max`: a new account cannot fill a clinician's diary. Staff are
    /// not limited.
    async fn within_patient_limits(
        &self,
        actor: &Actor,
        req: &BookingRequest,
        adding: usize,
    ) -> Result<(), ServiceError> {
        if actor.role != crate::people::Role::Patient {
            return Ok(());
        }
        let practice = self.ports.practices.practice(actor.practice_id).await?;
        if adding > usize::from(practice.policy.patient_series_max).max(1) {
            return Err(super::Refusal::SeriesTooLong.into());
        }
        let now = self.ports.clock.now();
        for p in &req.patient_ids {
            let open = self
                .ports
                .appointments
                .patient_appointments(actor.practice_id, *p)
                .await?
                .iter()
                .filter(|a| a.holds_time() && a.interval.start() > now)
                .count();
            if open + adding > usize::from(practice.policy.patient_open_max) {
                return Err(super::Refusal::TooManyOpenAppointments.into());
            }
        }
        Ok(())
    }

    /// [`book_series`](Self::book_series) on behalf of `actor`, decided and audited as
    /// [`book_as`](Self::book_as).
    ///
    /// # Errors
    /// As [`book_as`](Self::book_as) and [`book_series`](Self::book_series).
    pub async fn book_series_as(
        &self,
        actor: &Actor,
        req: &BookingRequest,
        rec: Recurrence,
        policy: SeriesPolicy,
    ) -> Result<SeriesOutcome, ServiceError> {
        self.may_write(actor, &req.patient_ids, req.practitioner_id, "appointment.book_series")
            .await?;
        let zone = self
            .ports
            .practices
            .locations(actor.practice_id)
            .await?
            .iter()
            .find(|l| l.id == req.location_id)
            .map_or(chrono_tz::UTC, |l| l.zone);
        let occurrences = series::local_starts(req.start, zone, rec)?.len();
        self.within_patient_limits(actor, req, occurrences).await?;
        self.book_series(actor.practice_id, req, rec, policy).await
    }

    /// The same service, whose [`book`](Self::book) also queues the booking's
    /// confirmation, reminders and inbox item (those of
    /// [`NotificationService::appointment_booked`](super::notifications::NotificationService::appointment_booked))
    /// in the booking's own commit: a booking is never stored without its notices, nor
    /// its notices without it, whatever crashes when. The caller then does not queue them
    /// again (queuing twice would store nothing more, as notices are keyed).
    #[must_use]
    pub fn with_notices(mut self, notices: super::notifications::NotificationService) -> Self {
        self.notices = Some(notices);
        self
    }

    /// Whether [`book`](Self::book) queues the booking's notices itself.
    #[must_use]
    pub const fn queues_notices(&self) -> bool {
        self.notices.is_some()
    }

    /// The holiday table in use.
    #[must_use]
    pub fn holidays(&self) -> &HolidayCalendar {
        &self.holidays
    }

    async fn load(
        &self,
        practice_id: PracticeId,
        practitioner_id: PractitionerId,
        service_id: ServiceId,
        location_id: LocationId,
        room_id: Option<crate::ids::RoomId>,
    ) -> Result<Loaded, ServiceError> {
        self.load_with(practice_id, practitioner_id, service_id, location_id, room_id, &[])
            .await
    }

    /// [`load`](Self::load), also checking that every patient exists: one read of the
    /// store ([`AppointmentRepository::booking_context`]).
    async fn load_with(
        &self,
        practice_id: PracticeId,
        practitioner_id: PractitionerId,
        service_id: ServiceId,
        location_id: LocationId,
        room_id: Option<crate::ids::RoomId>,
        patients: &[PatientId],
    ) -> Result<Loaded, ServiceError> {
        let ctx = self
            .ports
            .appointments
            .booking_context(
                practice_id,
                crate::ports::ContextRequest {
                    practitioner: practitioner_id,
                    service: service_id,
                    location: location_id,
                    room: room_id,
                    patients,
                },
            )
            .await?;
        let missing = |entity| ServiceError::NotFound { entity };
        let practice = ctx.practice.ok_or(missing("practice"))?;
        let practitioner = ctx.practitioner.ok_or(missing("practitioner"))?;
        let service = ctx.service.ok_or(missing("service"))?;
        let location = ctx.location.ok_or(missing("location"))?;
        let room = match room_id {
            None => None,
            Some(_) => Some(ctx.room.ok_or(missing("room"))?),
        };
        if patients.iter().any(|p| !ctx.patients.iter().any(|x| x.id == *p)) {
            return Err(missing("patient"));
        }
        if ctx.patients.iter().any(|p| p.deidentified) {
            return Err(super::Refusal::Deidentified.into());
        }
        Ok(Loaded {
            practice,
            practitioner,
            availability: ctx.availability,
            service,
            location,
            room,
            patients: ctx.patients,
        })
    }

    fn rule_context<'a>(&'a self, practice: &'a Practice, now: DateTime<Utc>) -> RuleContext<'a> {
        RuleContext {
            now,
            policy: &practice.policy,
            holidays: &self.holidays,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn new_appointment(
        &self,
        practice: PracticeId,
        req: &BookingRequest,
        acc: Accepted,
        series_id: Option<SeriesId>,
        now: DateTime<Utc>,
    ) -> Appointment {
        Appointment {
            id: self.ports.ids.new_id(),
            practice_id: practice,
            practitioner_id: req.practitioner_id,
            patient_ids: req.patient_ids.clone(),
            service_id: req.service_id,
            location_id: req.location_id,
            room_id: req.room_id,
            mode: req.mode,
            interval: acc.interval,
            blocked: acc.blocked,
            status: AppointmentStatus::Booked,
            series_id,
            history: Vec::new(),
            created_at: now,
        }
    }

    /// Commits one appointment guarded by `versions`: `None` when the race was lost.
    async fn commit_one(
        &self,
        practice: PracticeId,
        versions: &[crate::ports::Guarded],
        appt: Appointment,
    ) -> Result<Option<Appointment>, ServiceError> {
        let result = self
            .ports
            .appointments
            .commit(practice, versions, std::slice::from_ref(&appt))
            .await;
        settle(result, appt)
    }

    /// Books one appointment (for a series, see [`BookingService::book_series`]).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for an unknown practitioner, service, location, room or
    /// patient; [`ServiceError::Scheduling`] for the first booking rule that fails;
    /// [`ServiceError::Contention`] when the calendar changed on every attempt.
    pub async fn book(&self, practice: PracticeId, req: &BookingRequest) -> Result<Appointment, ServiceError> {
        let loaded = self
            .load_with(
                practice,
                req.practitioner_id,
                req.service_id,
                req.location_id,
                req.room_id,
                &req.patient_ids,
            )
            .await?;
        let keys = keys_for(req.practitioner_id, loaded.room.as_ref(), &req.patient_ids);
        for _ in 0..MAX_ATTEMPTS {
            let now = self.ports.clock.now();
            let ctx = self.rule_context(&loaded.practice, now);
            let proposal = loaded.proposal(&req.patient_ids, req.mode, req.start);
            let window = crate::scheduling::intervals_for(&loaded.service, req.start)?.blocked;
            let snap = self.ports.appointments.snapshot(practice, &keys, window).await?;
            let acc = check(&ctx, &proposal, &Calendar::new(&snap.appointments), None)?;
            let appt = self.new_appointment(practice, req, acc, None, now);
            let notices = self
                .notices
                .as_ref()
                .map(|n| n.booking_notices(practice, &appt, &loaded.patients))
                .unwrap_or_default();
            let result = self
                .ports
                .appointments
                .commit_with_notices(practice, &snap.versions, std::slice::from_ref(&appt), &notices)
                .await;
            if let Some(done) = settle(result, appt)? {
                return Ok(done);
            }
        }
        Err(ServiceError::Contention)
    }

    /// Books a recurring series: every occurrence is checked; with
    /// [`SeriesPolicy::AllOrNothing`] nothing is booked unless all are free, with
    /// [`SeriesPolicy::BookFree`] the free ones are. The report lists every occurrence.
    ///
    /// # Errors
    /// As [`BookingService::book`], plus [`SchedulingError::InvalidSeries`].
    pub async fn book_series(
        &self,
        practice: PracticeId,
        req: &BookingRequest,
        rec: Recurrence,
        policy: SeriesPolicy,
    ) -> Result<SeriesOutcome, ServiceError> {
        let loaded = self
            .load_with(
                practice,
                req.practitioner_id,
                req.service_id,
                req.location_id,
                req.room_id,
                &req.patient_ids,
            )
            .await?;
        let keys = keys_for(req.practitioner_id, loaded.room.as_ref(), &req.patient_ids);
        let starts = series::local_starts(req.start, loaded.location.zone, rec)?;
        let (Some(first), Some(last)) = (starts.first(), starts.last()) else {
            return Err(SchedulingError::InvalidSeries("no occurrences").into());
        };
        // A window covering every occurrence, with a day's margin for zone offsets.
        let window = TimeRange::new(first.and_utc() - Duration::days(1), last.and_utc() + Duration::days(2))?;
        for _ in 0..MAX_ATTEMPTS {
            let now = self.ports.clock.now();
            let ctx = self.rule_context(&loaded.practice, now);
            let snap = self.ports.appointments.snapshot(practice, &keys, window).await?;
            let calendar = Calendar::new(&snap.appointments);
            let first = loaded.proposal(&req.patient_ids, req.mode, req.start);
            let plan: Vec<Occurrence> = series::plan(&ctx, &first, rec, &calendar)?;
            let all_free = plan.iter().all(|o| o.outcome.is_ok());
            if !all_free && policy == SeriesPolicy::AllOrNothing {
                return Ok(SeriesOutcome {
                    series_id: None,
                    booked: Vec::new(),
                    report: plan
                        .into_iter()
                        .map(|o| OccurrenceReport {
                            index: o.index,
                            local_start: o.local_start,
                            outcome: o.outcome.and(Err(SchedulingError::InvalidSeries(
                                "not booked: another occurrence is not free",
                            ))),
                        })
                        .collect(),
                });
            }
            let series_id: SeriesId = self.ports.ids.new_id();
            let mut booked = Vec::new();
            let mut report = Vec::with_capacity(plan.len());
            for o in plan {
                let outcome = match o.outcome {
                    Ok(acc) => {
                        let a = self.new_appointment(practice, req, acc, Some(series_id), now);
                        let id = a.id;
                        booked.push(a);
                        Ok(id)
                    }
                    Err(e) => Err(e),
                };
                report.push(OccurrenceReport {
                    index: o.index,
                    local_start: o.local_start,
                    outcome,
                });
            }
            if booked.is_empty() {
                return Ok(SeriesOutcome {
                    series_id: None,
                    booked,
                    report,
                });
            }
            if let Some(done) = settle(
                self.ports.appointments.commit(practice, &snap.versions, &booked).await,
                SeriesOutcome {
                    series_id: Some(series_id),
                    booked,
                    report,
                },
            )? {
                return Ok(done);
            }
        }
        Err(ServiceError::Contention)
    }

    /// Reads an appointment, applies `change` and commits it guarded by the versions of
    /// its resources, retrying on a lost race.
    async fn update<F>(
        &self,
        practice: PracticeId,
        id: AppointmentId,
        mut change: F,
    ) -> Result<Appointment, ServiceError>
    where
        F: FnMut(&mut Appointment, &Practice, DateTime<Utc>, &CalendarSnapshot) -> Result<(), ServiceError> + Send,
    {
        let practice_rec = self
            .ports
            .practices
            .practice(practice)
            .await
            .map_err(ServiceError::from_port("practice"))?;
        for _ in 0..MAX_ATTEMPTS {
            let mut appt = self
                .ports
                .appointments
                .appointment(practice, id)
                .await
                .map_err(ServiceError::from_port("appointment"))?;
            let snap = self
                .ports
                .appointments
                .snapshot(practice, &ResourceKey::of(&appt), appt.blocked)
                .await?;
            let now = self.ports.clock.now();
            change(&mut appt, &practice_rec, now, &snap)?;
            if let Some(done) = self.commit_one(practice, &snap.versions, appt).await? {
                return Ok(done);
            }
        }
        Err(ServiceError::Contention)
    }

    /// Cancels an appointment, flags it late per the practice's notice period, and ranks
    /// the waitlist for the freed slot.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`SchedulingError::IllegalTransition`] once arrived,
    /// completed, cancelled or no-show.
    pub async fn cancel(
        &self,
        practice: PracticeId,
        id: AppointmentId,
        by: CancelledBy,
        reason: &str,
    ) -> Result<CancelOutcome, ServiceError> {
        let appointment = self
            .update(practice, id, |a, p, now, _| {
                Ok(a.cancel(by, reason, now, p.policy.cancellation_notice())?)
            })
            .await?;
        let zone = self
            .ports
            .practices
            .locations(practice)
            .await?
            .into_iter()
            .find(|l| l.id == appointment.location_id)
            .map_or(chrono_tz::UTC, |l| l.zone);
        let entries = self.ports.waitlist.waitlist(practice).await?;
        let waitlist = rank_for_freed_slot(&entries, &appointment, zone)
            .into_iter()
            .cloned()
            .collect();
        Ok(CancelOutcome { appointment, waitlist })
    }

    /// Cancels an appointment and, when it belongs to a series, every later occurrence of
    /// the series that can still be cancelled ("this and following"): earlier occurrences
    /// and those already attended, completed or missed stay as they are. Each occurrence is
    /// cancelled as [`cancel`](Self::cancel) would, with its own waitlist offers.
    ///
    /// # Errors
    /// As [`BookingService::cancel`] for the appointment named; later occurrences that
    /// changed meanwhile so they can no longer be cancelled are left out, not errors.
    pub async fn cancel_following(
        &self,
        practice: PracticeId,
        id: AppointmentId,
        by: CancelledBy,
        reason: &str,
    ) -> Result<Vec<CancelOutcome>, ServiceError> {
        let first = self
            .ports
            .appointments
            .appointment(practice, id)
            .await
            .map_err(ServiceError::from_port("appointment"))?;
        let mut out = vec![self.cancel(practice, id, by, reason).await?];
        let later = self.later_in_series(practice, &first).await?;
        for next in later.iter().map(|a| a.id) {
            match self.cancel(practice, next, by, reason).await {
                Ok(o) => out.push(o),
                Err(ServiceError::Scheduling(SchedulingError::IllegalTransition { .. })) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// What deciding about an existing appointment reads: as [`load`](Self::load) for its
    /// practitioner, service, location and room.
    async fn load_for(&self, appt: &Appointment) -> Result<Loaded, ServiceError> {
        self.load(
            appt.practice_id,
            appt.practitioner_id,
            appt.service_id,
            appt.location_id,
            appt.room_id,
        )
        .await
    }

    /// The occurrences of `first`'s series after it that can still change (not attended,
    /// completed, missed or cancelled), soonest first; none outside a series.
    async fn later_in_series(
        &self,
        practice: PracticeId,
        first: &Appointment,
    ) -> Result<Vec<Appointment>, ServiceError> {
        let (Some(series), Some(patient)) = (first.series_id, first.patient_ids.first()) else {
            return Ok(Vec::new());
        };
        let mut later: Vec<Appointment> = self
            .ports
            .appointments
            .patient_appointments(practice, *patient)
            .await?
            .into_iter()
            .filter(|a| {
                a.series_id == Some(series)
                    && a.id != first.id
                    && a.interval.start() > first.interval.start()
                    && a.status_kind().can_reschedule()
            })
            .collect();
        later.sort_by_key(|a| a.interval.start());
        Ok(later)
    }

    /// Moves an appointment to a new start, checking every rule as for a new booking
    /// (ignoring the appointment itself), keeping the old interval in its history.
    ///
    /// # Errors
    /// As [`BookingService::book`], plus [`SchedulingError::IllegalTransition`] when the
    /// appointment can no longer be moved.
    pub async fn reschedule(
        &self,
        practice: PracticeId,
        id: AppointmentId,
        new_start: DateTime<Utc>,
    ) -> Result<Appointment, ServiceError> {
        let current = self
            .ports
            .appointments
            .appointment(practice, id)
            .await
            .map_err(ServiceError::from_port("appointment"))?;
        let loaded = self.load_for(&current).await?;
        let new_blocked = crate::scheduling::intervals_for(&loaded.service, new_start)?.blocked;
        for _ in 0..MAX_ATTEMPTS {
            let mut appt = self
                .ports
                .appointments
                .appointment(practice, id)
                .await
                .map_err(ServiceError::from_port("appointment"))?;
            let keys = ResourceKey::of(&appt);
            // Read both the old and new neighbourhoods so the guard covers both.
            let window = TimeRange::new(
                appt.blocked.start().min(new_blocked.start()),
                appt.blocked.end().max(new_blocked.end()),
            )?;
            let snap = self.ports.appointments.snapshot(practice, &keys, window).await?;
            let now = self.ports.clock.now();
            let ctx = self.rule_context(&loaded.practice, now);
            let proposal = loaded.proposal(&appt.patient_ids, appt.mode, new_start);
            let acc = check(&ctx, &proposal, &Calendar::new(&snap.appointments), Some(id))?;
            appt.reschedule(acc.interval, acc.blocked, now)?;
            if let Some(done) = self.commit_one(practice, &snap.versions, appt).await? {
                return Ok(done);
            }
        }
        Err(ServiceError::Contention)
    }

    /// Moves an appointment to `new_start` and, when it belongs to a series, every later
    /// occurrence that can still be moved ("this and following"), each by the same number
    /// of days at the new wall-clock time in the location's zone
    /// ([`series::moved_local_start`]). Earlier occurrences and those already attended,
    /// completed, missed or cancelled stay where they are.
    ///
    /// All or nothing: every moved occurrence is checked by the booking rules against the
    /// calendar without the occurrences being moved (so they never clash with their own
    /// old times) and with those already placed; if one cannot move, none does and the
    /// report says why for each. One guarded commit stores them all.
    ///
    /// # Errors
    /// As [`BookingService::reschedule`] for the appointment named (which must still be
    /// movable); [`ServiceError::Contention`] when the calendar kept changing.
    pub async fn reschedule_following(
        &self,
        practice: PracticeId,
        id: AppointmentId,
        new_start: DateTime<Utc>,
    ) -> Result<SeriesMove, ServiceError> {
        let first = self
            .ports
            .appointments
            .appointment(practice, id)
            .await
            .map_err(ServiceError::from_port("appointment"))?;
        let loaded = self.load_for(&first).await?;
        if !first.status_kind().can_reschedule() {
            // As a single move reports it (`Appointment::reschedule`).
            return Err(SchedulingError::IllegalTransition {
                from: first.status_kind(),
                to: crate::scheduling::StatusKind::Booked,
            }
            .into());
        }
        let zone = loaded.location.zone;
        let from_local = first.interval.start().with_timezone(&zone).naive_local();
        let to_local = new_start.with_timezone(&zone).naive_local();
        let mut moving = self.later_in_series(practice, &first).await?;
        moving.insert(0, first.clone());
        moving.sort_by_key(|a| a.interval.start());
        let ids: Vec<AppointmentId> = moving.iter().map(|a| a.id).collect();
        // Where each goes (None: the wall-clock time does not exist that day).
        let targets: Vec<(NaiveDateTime, Option<DateTime<Utc>>)> = moving
            .iter()
            .map(|a| {
                let local = if a.id == id {
                    to_local
                } else {
                    series::moved_local_start(
                        from_local,
                        to_local,
                        a.interval.start().with_timezone(&zone).naive_local(),
                    )
                };
                (
                    local,
                    if a.id == id {
                        Some(new_start)
                    } else {
                        crate::time::resolve_local(zone, local)
                    },
                )
            })
            .collect();
        let mut lo = moving.iter().map(|a| a.blocked.start()).min().unwrap_or(new_start);
        let mut hi = moving.iter().map(|a| a.blocked.end()).max().unwrap_or(new_start);
        for t in targets.iter().filter_map(|(_, t)| *t) {
            let blocked = crate::scheduling::intervals_for(&loaded.service, t)?.blocked;
            lo = lo.min(blocked.start());
            hi = hi.max(blocked.end());
        }
        let window = TimeRange::new(lo, hi)?;
        let keys = ResourceKey::of(&first);
        for _ in 0..MAX_ATTEMPTS {
            let snap = self.ports.appointments.snapshot(practice, &keys, window).await?;
            let now = self.ports.clock.now();
            let ctx = self.rule_context(&loaded.practice, now);
            let mut others: Vec<Appointment> = snap
                .appointments
                .iter()
                .filter(|a| !ids.contains(&a.id))
                .cloned()
                .collect();
            let mut moved = Vec::with_capacity(ids.len());
            let mut report = Vec::with_capacity(ids.len());
            for (index, (appt_id, (local_start, target))) in (0u16..).zip(ids.iter().zip(&targets)) {
                let outcome = match (snap.appointments.iter().find(|a| a.id == *appt_id), target) {
                    (None, _) => Err(SchedulingError::InvalidSeries(
                        "the occurrence changed meanwhile; try again",
                    )),
                    (Some(_), None) => Err(SchedulingError::NonexistentLocalTime { local: *local_start }),
                    (Some(current), Some(start)) => {
                        let proposal = loaded.proposal(&current.patient_ids, current.mode, *start);
                        match check(&ctx, &proposal, &Calendar::new(&others), None) {
                            Ok(acc) => {
                                let mut a = current.clone();
                                match a.reschedule(acc.interval, acc.blocked, now) {
                                    Ok(()) => {
                                        others.push(a.clone());
                                        moved.push(a);
                                        Ok(*appt_id)
                                    }
                                    Err(e) => Err(e),
                                }
                            }
                            Err(e) => Err(e),
                        }
                    }
                };
                report.push(OccurrenceReport {
                    index,
                    local_start: *local_start,
                    outcome,
                });
            }
            if moved.len() < ids.len() {
                // All or nothing: say why for the ones that could not move.
                return Ok(SeriesMove {
                    moved: Vec::new(),
                    report,
                });
            }
            if let Some(done) = settle(
                self.ports.appointments.commit(practice, &snap.versions, &moved).await,
                SeriesMove { moved, report },
            )? {
                return Ok(done);
            }
        }
        Err(ServiceError::Contention)
    }

    /// Requested → booked.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] or [`SchedulingError::IllegalTransition`].
    pub async fn accept(&self, practice: PracticeId, id: AppointmentId) -> Result<Appointment, ServiceError> {
        self.update(practice, id, |a, _, _, _| Ok(a.accept()?)).await
    }

    /// Booked → confirmed.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] or [`SchedulingError::IllegalTransition`].
    pub async fn confirm(&self, practice: PracticeId, id: AppointmentId) -> Result<Appointment, ServiceError> {
        self.update(practice, id, |a, _, _, _| Ok(a.confirm()?)).await
    }

    /// Booked or confirmed → arrived.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] or [`SchedulingError::IllegalTransition`].
    pub async fn arrive(&self, practice: PracticeId, id: AppointmentId) -> Result<Appointment, ServiceError> {
        self.update(practice, id, |a, _, _, _| Ok(a.arrive()?)).await
    }

    /// Arrived → completed.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] or [`SchedulingError::IllegalTransition`].
    pub async fn complete(&self, practice: PracticeId, id: AppointmentId) -> Result<Appointment, ServiceError> {
        self.update(practice, id, |a, _, _, _| Ok(a.complete()?)).await
    }

    /// Booked or confirmed → no-show, after the start.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], [`SchedulingError::NoShowBeforeStart`] or
    /// [`SchedulingError::IllegalTransition`].
    pub async fn mark_no_show(&self, practice: PracticeId, id: AppointmentId) -> Result<Appointment, ServiceError> {
        self.update(practice, id, |a, _, now, _| Ok(a.mark_no_show(now)?)).await
    }

    /// Bookable starts for a service.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for an unknown service or practitioner;
    /// [`ServiceError::Invalid`] for a bad date range.
    pub async fn search_slots(&self, practice: PracticeId, search: &SlotSearch) -> Result<Vec<Slot>, ServiceError> {
        Ok(self.search_slot_page(practice, search, None, None).await?.slots)
    }

    /// One page of [`search_slots`](Self::search_slots): at most `limit` slots after
    /// `after`, and where the next page starts (see [`slots::search_page`]). The memory
    /// it needs is bounded by `limit`, not by how wide the search is.
    ///
    /// # Errors
    /// As [`search_slots`](Self::search_slots), and [`ServiceError::Invalid`] for a
    /// limit over [`slots::MAX_PAGE`].
    pub async fn search_slot_page(
        &self,
        practice: PracticeId,
        search: &SlotSearch,
        after: Option<SlotCursor>,
        limit: Option<std::num::NonZeroUsize>,
    ) -> Result<SlotPage, ServiceError> {
        let p = &self.ports;
        let range = slots::search_range(search.query.from, search.query.to, search.query.viewer_zone)?;
        // The reads that need nothing from each other go together: on a database each is
        // a round trip of its own.
        let ((practice_rec, services), (all, locations)) = super::both::both(
            super::both::both(p.practices.practice(practice), p.practices.services(practice)),
            super::both::both(p.practitioners.practitioners(practice), p.practices.locations(practice)),
        )
        .await;
        let practice_rec = practice_rec.map_err(ServiceError::from_port("practice"))?;
        let service = services?
            .into_iter()
            .find(|s| s.id == search.service_id)
            .ok_or(ServiceError::NotFound { entity: "service" })?;
        let all = all?;
        let locations: HashMap<LocationId, Location> = locations?.into_iter().map(|l| (l.id, l)).collect();
        let chosen: Vec<Practitioner> = if search.practitioner_ids.is_empty() {
            all
        } else {
            let by_id: HashMap<PractitionerId, Practitioner> = all.into_iter().map(|x| (x.id, x)).collect();
            search
                .practitioner_ids
                .iter()
                .map(|id| {
                    by_id
                        .get(id)
                        .cloned()
                        .ok_or(ServiceError::NotFound { entity: "practitioner" })
                })
                .collect::<Result<_, _>>()?
        };
        let ids: Vec<PractitionerId> = chosen.iter().map(|x| x.id).collect();
        let mut keys: Vec<ResourceKey> = chosen.iter().map(|x| ResourceKey::Practitioner(x.id)).collect();
        keys.extend(search.query.patient.map(ResourceKey::Patient));
        // Widen by a day: local dates at the locations may extend past the viewer's range.
        // A later page needs nothing before its cursor (less the longest buffer).
        let from = range.start().max(after.map_or(range.start(), |a| a.start()));
        let window = TimeRange::new(from - Duration::days(1), range.end() + Duration::days(1))?;
        let (availabilities, busy) = super::both::both(
            p.practitioners.availabilities(practice, &ids),
            p.appointments.busy(practice, &keys, window),
        )
        .await;
        let availabilities = availabilities?;
        let calendar = Calendar::from_busy(&busy?);
        let candidates: Vec<Candidate<'_>> = chosen
            .iter()
            .zip(&availabilities)
            .map(|(practitioner, availability)| Candidate {
                practitioner,
                availability,
            })
            .collect();
        let ctx = self.rule_context(&practice_rec, p.clock.now());
        Ok(slots::search_page(
            &ctx,
            &service,
            &candidates,
            &locations,
            &calendar,
            &search.query,
            after,
            limit,
        )?)
    }

    /// The local date today at `location` — for callers that validate dates of birth and
    /// the like against the practice's own calendar.
    #[must_use]
    pub fn today_at(&self, location: &Location) -> NaiveDate {
        crate::time::local_date(location.zone, self.ports.clock.now())
    }
}
