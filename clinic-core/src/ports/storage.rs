//! Storage ports, one per aggregate, and the guarded commit that keeps booking
//! invariants true under concurrency.
//!
//! Every method takes the [`PracticeId`] it works in; an implementation never returns a
//! record of another practice (for a record of another practice, "not found").

use async_trait::async_trait;

use super::PortError;
use crate::ids::{AppointmentId, LocationId, PatientId, PracticeId, PractitionerId, RoomId, ServiceId};
use crate::people::{Patient, Practitioner};
use crate::practice::{Location, Practice, Room, Service};
use crate::scheduling::{Appointment, Availability, AvailabilityException, StatusKind, WaitlistEntry, WeeklyTemplate};
use crate::time::TimeRange;

/// Practices, their locations, rooms and services.
///
/// # Contract
/// `save_*` inserts or replaces by id. A missing practice is [`PortErrorKind::NotFound`](super::PortErrorKind::NotFound);
/// list methods return an empty list for a practice with none.
#[async_trait]
pub trait PracticeRepository: Send + Sync + 'static {
    /// A practice.
    async fn practice(&self, id: PracticeId) -> Result<Practice, PortError>;
    /// Inserts or replaces a practice.
    async fn save_practice(&self, practice: &Practice) -> Result<(), PortError>;
    /// A practice's locations.
    async fn locations(&self, practice: PracticeId) -> Result<Vec<Location>, PortError>;
    /// Inserts or replaces a location.
    async fn save_location(&self, location: &Location) -> Result<(), PortError>;
    /// A practice's rooms.
    async fn rooms(&self, practice: PracticeId) -> Result<Vec<Room>, PortError>;
    /// Inserts or replaces a room.
    async fn save_room(&self, room: &Room) -> Result<(), PortError>;
    /// A practice's services.
    async fn services(&self, practice: PracticeId) -> Result<Vec<Service>, PortError>;
    /// Inserts or replaces a service.
    async fn save_service(&self, service: &Service) -> Result<(), PortError>;
}

/// Patients.
///
/// # Contract
/// `save_patient` inserts or replaces by id; `patient` of another practice is not found.
#[async_trait]
pub trait PatientRepository: Send + Sync + 'static {
    /// A patient.
    async fn patient(&self, practice: PracticeId, id: PatientId) -> Result<Patient, PortError>;
    /// Inserts or replaces a patient.
    async fn save_patient(&self, patient: &Patient) -> Result<(), PortError>;
    /// A practice's patients, by family then given name.
    async fn patients(&self, practice: PracticeId) -> Result<Vec<Patient>, PortError>;
}

/// Practitioners and their availability.
///
/// # Contract
/// `availability` of a practitioner with none is empty, not an error.
#[async_trait]
pub trait PractitionerRepository: Send + Sync + 'static {
    /// A practitioner.
    async fn practitioner(&self, practice: PracticeId, id: PractitionerId) -> Result<Practitioner, PortError>;
    /// A practice's practitioners.
    async fn practitioners(&self, practice: PracticeId) -> Result<Vec<Practitioner>, PortError>;
    /// Inserts or replaces a practitioner.
    async fn save_practitioner(&self, practitioner: &Practitioner) -> Result<(), PortError>;
    /// A practitioner's templates and exceptions.
    async fn availability(&self, practice: PracticeId, id: PractitionerId) -> Result<Availability, PortError>;
    /// Inserts or replaces a weekly template.
    async fn save_template(&self, template: &WeeklyTemplate) -> Result<(), PortError>;
    /// Inserts or replaces an exception.
    async fn save_exception(&self, exception: &AvailabilityException) -> Result<(), PortError>;
    /// The availability of each of `ids`, in the same order. The default asks one by one;
    /// storage adapters read them together.
    async fn availabilities(
        &self,
        practice: PracticeId,
        ids: &[PractitionerId],
    ) -> Result<Vec<Availability>, PortError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.availability(practice, *id).await?);
        }
        Ok(out)
    }
}

/// A calendar resource whose appointments must not overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKey {
    /// A practitioner (buffered intervals).
    Practitioner(PractitionerId),
    /// A room.
    Room(RoomId),
    /// A patient.
    Patient(PatientId),
}

impl ResourceKey {
    /// Every resource an appointment occupies.
    #[must_use]
    pub fn of(a: &Appointment) -> Vec<ResourceKey> {
        let mut v = Vec::with_capacity(2 + a.patient_ids.len());
        v.push(ResourceKey::Practitioner(a.practitioner_id));
        v.extend(a.room_id.map(ResourceKey::Room));
        v.extend(a.patient_ids.iter().map(|p| ResourceKey::Patient(*p)));
        v
    }
}

/// One stretch of busy time of one resource: what a slot search needs of an appointment.
///
/// A practitioner is busy for the appointment's buffered (`blocked`) interval, a room and
/// each patient for the session itself — the same ranges [`Calendar`](crate::scheduling::Calendar)
/// checks clashes against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Busy {
    /// The resource.
    pub key: ResourceKey,
    /// When it is busy.
    pub range: TimeRange,
    /// The appointment that holds it.
    pub appointment: AppointmentId,
}

/// One of a patient's sessions as the Medicare cap and referral course count a booking
/// ahead (rule sheet §1): which service (so which MBS item and cap), where (so the
/// clinic's date and year) and when. What [`AppointmentRepository::patient_sessions`]
/// returns, read from beside the appointment so a year of them costs no decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PatientSession {
    /// The appointment.
    pub appointment: AppointmentId,
    /// Its service.
    pub service: ServiceId,
    /// Its location.
    pub location: LocationId,
    /// When its session starts.
    pub start: chrono::DateTime<chrono::Utc>,
    /// Its status (never cancelled: a cancelled appointment holds no session).
    pub status: StatusKind,
}

impl PatientSession {
    /// The session of `a`.
    #[must_use]
    pub fn of(a: &Appointment) -> Self {
        Self {
            appointment: a.id,
            service: a.service_id,
            location: a.location_id,
            start: a.interval.start(),
            status: a.status_kind(),
        }
    }
}

impl Busy {
    /// The busy ranges `a` holds, for the keys in `keys` (none if it is cancelled).
    #[must_use]
    pub fn of(a: &Appointment, keys: &[ResourceKey]) -> Vec<Busy> {
        if !a.holds_time() {
            return Vec::new();
        }
        ResourceKey::of(a)
            .into_iter()
            .filter(|k| keys.contains(k))
            .map(|key| Busy {
                key,
                range: match key {
                    ResourceKey::Practitioner(_) => a.blocked,
                    ResourceKey::Room(_) | ResourceKey::Patient(_) => a.interval,
                },
                appointment: a.id,
            })
            .collect()
    }
}

/// A resource's calendar version as read: the guard of a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Guarded {
    /// The resource.
    pub key: ResourceKey,
    /// Its version when read (0 if never written).
    pub version: u64,
}

/// What a booking decision reads: the appointments around the time asked for and the
/// versions of the resources it looked at.
#[derive(Clone, Debug, Default)]
pub struct CalendarSnapshot {
    /// Appointments that hold time (not cancelled) of any of the keys, whose blocked
    /// interval overlaps the window.
    pub appointments: Vec<Appointment>,
    /// The version of every key asked about.
    pub versions: Vec<Guarded>,
}

/// What a booking asks [`AppointmentRepository::booking_context`] for.
#[derive(Clone, Copy, Debug)]
pub struct ContextRequest<'a> {
    /// The practitioner.
    pub practitioner: PractitionerId,
    /// The service.
    pub service: crate::ids::ServiceId,
    /// The location.
    pub location: LocationId,
    /// The room, if one is asked for.
    pub room: Option<RoomId>,
    /// The patients to book.
    pub patients: &'a [PatientId],
}

/// Everything a booking decision reads besides the calendar. A record that does not exist
/// in the practice is `None` (the service names it in its not-found error).
#[derive(Clone, Debug, Default)]
pub struct BookingContext {
    /// The practice (its booking policy).
    pub practice: Option<Practice>,
    /// The practitioner.
    pub practitioner: Option<Practitioner>,
    /// The practitioner's templates and exceptions (empty for an unknown practitioner).
    pub availability: Availability,
    /// The service.
    pub service: Option<Service>,
    /// The location.
    pub location: Option<Location>,
    /// The room, when one was asked for and exists.
    pub room: Option<Room>,
    /// Those of the patients asked about that exist, in the order asked (a booking's
    /// notices need their reminder preferences).
    pub patients: Vec<Patient>,
}

/// What a commit also stores, in the same transaction: the notices of the change (the
/// outbox's notifications and the patients' inbox items). They are stored if and only if
/// the change is, so a crash can neither lose a booking's confirmation and reminder nor
/// send them for a booking that was never made. Each is stored at most once by its key,
/// as [`Outbox::enqueue`](super::Outbox::enqueue) and [`Inbox::deliver`](super::Inbox::deliver) do.
#[derive(Clone, Debug, Default)]
pub struct CommitNotices {
    /// Notifications for the outbox.
    pub outbox: Vec<crate::notify::Notification>,
    /// Items for in-app inboxes.
    pub inbox: Vec<crate::notify::InboxItem>,
}

/// Appointments, and the guarded commit.
///
/// # Contract
/// - `booking_context` returns exactly what the separate reads of the practice,
///   practitioner, availability, services, locations, rooms and patients would (a store
///   may read it in one statement: a booking is dominated by round trips).
/// - `snapshot` returns, for one consistent moment, every appointment of the practice that
///   holds time (is not cancelled), occupies one of `keys` and whose `blocked` interval
///   overlaps `window`, each once, plus the current version of every key.
/// - `commit` is atomic: if every guard's version is still current, it inserts or replaces
///   every appointment in `changes` and increments the version of every resource that any
///   of them occupies, before or after the change, and of every guarded key; otherwise it
///   changes nothing and returns [`PortErrorKind::Conflict`](super::PortErrorKind::Conflict). Changes for another practice
///   are [`PortErrorKind::Invalid`](super::PortErrorKind::Invalid).
/// - `commit_with_notices` is `commit` that, in the same transaction, stores the
///   [`CommitNotices`] (all of `practice`): all of it is stored or none of it.
/// - Two commits whose guards share a key are never both accepted on the same version:
///   this is what stops two concurrent bookings of one slot.
#[async_trait]
pub trait AppointmentRepository: Send + Sync + 'static {
    /// An appointment.
    async fn appointment(&self, practice: PracticeId, id: AppointmentId) -> Result<Appointment, PortError>;
    /// The appointments and versions a decision needs.
    async fn snapshot(
        &self,
        practice: PracticeId,
        keys: &[ResourceKey],
        window: TimeRange,
    ) -> Result<CalendarSnapshot, PortError>;
    /// Everything a booking decision reads besides the calendar (see [`BookingContext`]).
    async fn booking_context(&self, practice: PracticeId, ask: ContextRequest<'_>)
    -> Result<BookingContext, PortError>;
    /// Applies `changes` if `guards` still hold.
    async fn commit(&self, practice: PracticeId, guards: &[Guarded], changes: &[Appointment]) -> Result<(), PortError> {
        self.commit_with_notices(practice, guards, changes, &CommitNotices::default())
            .await
    }
    /// Applies `changes` if `guards` still hold, and stores `notices` with them.
    async fn commit_with_notices(
        &self,
        practice: PracticeId,
        guards: &[Guarded],
        changes: &[Appointment],
        notices: &CommitNotices,
    ) -> Result<(), PortError>;
    /// The busy time of `keys` overlapping `window`: the slim read a slot search needs.
    /// Every stretch whose range overlaps the window is returned once per key; versions are
    /// not, as a search decides nothing. The default reads a [`snapshot`](Self::snapshot);
    /// storage adapters answer from an index without loading appointments.
    async fn busy(
        &self,
        practice: PracticeId,
        keys: &[ResourceKey],
        window: TimeRange,
    ) -> Result<Vec<Busy>, PortError> {
        let snap = self.snapshot(practice, keys, window).await?;
        Ok(snap
            .appointments
            .iter()
            .flat_map(|a| Busy::of(a, keys))
            .filter(|b| b.range.overlaps(&window))
            .collect())
    }
    /// The sessions of `patient` that hold time (every status but cancelled) and start in
    /// `window` (its start included, its end not), by start then id: what counting the
    /// patient's bookings against a year's Medicare cap reads. The default reads a
    /// [`snapshot`](Self::snapshot); storage adapters answer from an index and columns
    /// without loading appointments.
    async fn patient_sessions(
        &self,
        practice: PracticeId,
        patient: PatientId,
        window: TimeRange,
    ) -> Result<Vec<PatientSession>, PortError> {
        // Every session starting in the window has its blocked interval overlap it.
        let snap = self
            .snapshot(practice, &[ResourceKey::Patient(patient)], window)
            .await?;
        let mut v: Vec<PatientSession> = snap
            .appointments
            .iter()
            .filter(|a| {
                a.holds_time() && a.patient_ids.contains(&patient) && window.contains_instant(a.interval.start())
            })
            .map(PatientSession::of)
            .collect();
        v.sort_by_key(|s| (s.start, s.appointment));
        Ok(v)
    }
    /// Every appointment of a patient, any status (cancelled included), by start.
    async fn patient_appointments(
        &self,
        practice: PracticeId,
        patient: PatientId,
    ) -> Result<Vec<Appointment>, PortError>;
    /// The appointments at `location` whose session starts in `window` (any status),
    /// counted by practitioner, status and late cancellation with their minutes summed, as
    /// [`Tally::of`](crate::reports::Tally::of) counts them: what reports read, summed where
    /// the data is, so a report over a year never loads the appointments themselves.
    async fn tallies(
        &self,
        practice: PracticeId,
        location: LocationId,
        window: TimeRange,
    ) -> Result<Vec<crate::reports::Tally>, PortError>;
}

/// The waitlist.
///
/// # Contract
/// `waitlist` returns the practice's entries, active and not, in no particular order.
#[async_trait]
pub trait WaitlistRepository: Send + Sync + 'static {
    /// Every entry of a practice.
    async fn waitlist(&self, practice: PracticeId) -> Result<Vec<WaitlistEntry>, PortError>;
    /// Inserts or replaces an entry.
    async fn save_waitlist_entry(&self, entry: &WaitlistEntry) -> Result<(), PortError>;
}
