//! May this telehealth session start? The gate of [`crate::telehealth`] over stored data.

use std::sync::Arc;

use super::error::ServiceError;
use crate::ids::{AppointmentId, PracticeId};
use crate::ports::{
    AppointmentRepository, Clock, PatientRepository, PracticeRepository, PractitionerRepository, PrivacyRecords,
    TelehealthRecords,
};
use crate::privacy::ConsentLedger;
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
}
