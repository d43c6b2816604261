//! May this telehealth session start? The gate of [`crate::telehealth`] over stored data.

use std::sync::Arc;

use super::error::ServiceError;
use chrono::{DateTime, Duration, Utc};

use crate::ids::{AppointmentId, PatientId, PracticeId, PractitionerId};
use crate::ports::{
    AppointmentRepository, Clock, JoinPermit, PatientRepository, PracticeRepository, PractitionerRepository,
    PrivacyRecords, RoomSpec, TelehealthRecords, VideoProvider, VideoToken, room_name,
};
use crate::privacy::ConsentLedger;
use crate::scheduling::{Appointment, AppointmentStatus};
use crate::telehealth::{Missing, Participant, gate};
use crate::time::local_date;

/// The ports the gate reads.
#[derive(Clone)]
pub struct TelehealthPorts {
    /// Locations (the practice's zone).
    pub practices: Arc<dyn PracticeRepository>,
    /// Appointments.
    pub appointments: Arc<dyn AppointmentRepository>,
    /// Patients (emergency contacts).
    pub patients: Arc<dyn PatientRepository>,
    /// Practitioners (suspension).
    pub practitioners: Arc<dyn PractitionerRepository>,
    /// Consents.
    pub privacy: Arc<dyn PrivacyRecords>,
    /// Session preparation.
    pub prep: Arc<dyn TelehealthRecords>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

/// The telehealth gate over stored data.
#[derive(Clone)]
pub struct TelehealthService {
    ports: TelehealthPorts,
}

impl TelehealthService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: TelehealthPorts) -> Self {
        Self { ports }
    }

    /// Whether the video or phone appointment may start now (and be recorded, when
    /// `recording`): `Ok(Ok(()))`, or `Ok(Err(missing))` listing everything missing.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Invalid`] for an in-person appointment.
    pub async fn check(
        &self,
        practice: PracticeId,
        appointment: AppointmentId,
        recording: bool,
    ) -> Result<Result<(), Vec<Missing>>, ServiceError> {
        let p = &self.ports;
        let appt = p
            .appointments
            .appointment(practice, appointment)
            .await
            .map_err(ServiceError::from_port("appointment"))?;
        if !appt.mode.is_telehealth() {
            return Err(crate::FieldError::new("appointment", "is not a telehealth appointment").into());
        }
        let zone = p
            .practices
            .locations(practice)
            .await?
            .into_iter()
            .find(|l| l.id == appt.location_id)
            .map_or(chrono_tz::UTC, |l| l.zone);
        let today = local_date(zone, p.clock.now());
        let practitioner = p
            .practitioners
            .practitioner(practice, appt.practitioner_id)
            .await
            .map_err(ServiceError::from_port("practitioner"))?;
        let prep = p.prep.prep(practice, appointment).await?;
        let mut ledgers = Vec::with_capacity(appt.patient_ids.len());
        let mut contacts = Vec::with_capacity(appt.patient_ids.len());
        for patient in &appt.patient_ids {
            ledgers.push(ConsentLedger::new(p.privacy.consents(practice, *patient).await?));
            contacts.push(
                p.patients
                    .patient(practice, *patient)
                    .await
                    .map_err(ServiceError::from_port("patient"))?
                    .emergency_contact
                    .is_some(),
            );
        }
        let participants: Vec<Participant<'_>> = appt
            .patient_ids
            .iter()
            .zip(&ledgers)
            .zip(contacts)
            .map(|((patient, consents), emergency_contact)| {
                let mine = prep
                    .iter()
                    .find(|(id, _)| id == patient)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_default();
                Participant {
                    patient_id: *patient,
                    consents,
                    emergency_contact,
                    emergency_plan: mine.emergency_plan,
                    location_recorded: mine.location.as_deref().is_some_and(|l| !l.trim().is_empty()),
                    technical_acknowledged: mine.technical_acknowledged,
                }
            })
            .collect();
        Ok(gate(&participants, !practitioner.is_suspended_on(today), recording))
    }

    /// Lets one participant into a video appointment: checks that they are in it, that it is
    /// live and within its joining window, and that the telehealth gate passes; then makes
    /// (or finds) the room and issues a token for that room only. `Ok(Err(missing))` when
    /// the gate lists something missing: no room is made and no token issued.
    ///
    /// The window opens [`JOIN_OPENS_BEFORE`] before the start and closes at the end. The
    /// token lasts until the earlier of the end and [`JOIN_TOKEN_TTL`] from now; a
    /// participant who drops out and returns asks again, and is checked again.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the appointment does not exist or the joiner is not
    /// in it (so whether it exists does not leak); [`ServiceError::Invalid`] outside the
    /// window, for an appointment not booked or in person; a port error from the provider.
    pub async fn join(
        &self,
        practice: PracticeId,
        appointment: AppointmentId,
        joiner: Joiner,
        video: &dyn VideoProvider,
    ) -> Result<Result<VideoToken, Vec<Missing>>, ServiceError> {
        let p = &self.ports;
        let appt = p
            .appointments
            .appointment(practice, appointment)
            .await
            .map_err(ServiceError::from_port("appointment"))?;
        if !joiner.is_in(&appt) {
            return Err(ServiceError::NotFound { entity: "appointment" });
        }
        let now = p.clock.now();
        let expires_at = join_window(&appt, now)?;
        if let Err(missing) = self.check(practice, appointment, false).await? {
            return Ok(Err(missing));
        }
        let max_patients = p
            .practices
            .services(practice)
            .await?
            .into_iter()
            .find(|s| s.id == appt.service_id)
            .map_or(1, |s| s.max_patients);
        video
            .create_room(&RoomSpec::for_appointment(appointment, max_patients))
            .await
            .map_err(ServiceError::Port)?;
        let permit = JoinPermit::new(practice, appointment, joiner.identity(), expires_at);
        Ok(Ok(video.issue_token(&permit, now).map_err(ServiceError::Port)?))
    }

    /// Ends an appointment's video room (when the practitioner finishes the session).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for an unknown appointment; a port error from the provider.
    pub async fn end_session(
        &self,
        practice: PracticeId,
        appointment: AppointmentId,
        video: &dyn VideoProvider,
    ) -> Result<(), ServiceError> {
        self.ports
            .appointments
            .appointment(practice, appointment)
            .await
            .map_err(ServiceError::from_port("appointment"))?;
        video
            .end_room(&room_name(appointment))
            .await
            .map_err(ServiceError::Port)
    }
}

/// How long before its start a participant may join a video session: 15 minutes, so
/// patients can check their camera and microphone.
pub const JOIN_OPENS_BEFORE: Duration = Duration::minutes(15);

/// The longest a participant token lives: one hour.
pub const JOIN_TOKEN_TTL: Duration = Duration::hours(1);

/// Who joins a video session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Joiner {
    /// One of the appointment's patients.
    Patient(PatientId),
    /// The appointment's practitioner.
    Practitioner(PractitionerId),
}

impl Joiner {
    fn is_in(self, appt: &Appointment) -> bool {
        match self {
            Self::Patient(id) => appt.patient_ids.contains(&id),
            Self::Practitioner(id) => appt.practitioner_id == id,
        }
    }

    /// The identity the video provider sees: an id, never a name.
    fn identity(self) -> String {
        match self {
            Self::Patient(id) => format!("patient-{id}"),
            Self::Practitioner(id) => format!("practitioner-{id}"),
        }
    }
}

/// When a token issued `now` for `appt` expires, or why no token may be issued now.
fn join_window(appt: &Appointment, now: DateTime<Utc>) -> Result<DateTime<Utc>, ServiceError> {
    if !appt.mode.is_telehealth() {
        return Err(crate::FieldError::new("appointment", "is not a telehealth appointment").into());
    }
    if !matches!(
        appt.status,
        AppointmentStatus::Booked | AppointmentStatus::Confirmed | AppointmentStatus::Arrived
    ) {
        return Err(crate::FieldError::new("appointment", "is not booked, so it cannot be joined").into());
    }
    let opens = appt.interval.start() - JOIN_OPENS_BEFORE;
    let closes = appt.interval.end();
    if now < opens || now >= closes {
        return Err(crate::FieldError::new(
            "appointment",
            "can be joined from 15 minutes before its start until its end",
        )
        .into());
    }
    Ok(closes.min(now + JOIN_TOKEN_TTL))
}
