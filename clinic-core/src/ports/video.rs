//! Video rooms for telehealth sessions.
//!
//! A participant token can only be issued against a [`JoinPermit`], and only
//! [`crate::service::TelehealthService::join`] makes permits: after the telehealth gate
//! passed for that appointment and that participant. An adapter cannot hand out a token
//! for a session the gate did not open.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::PortError;
use crate::ids::{AppointmentId, PracticeId};

/// The room one appointment meets in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomSpec {
    /// A name unique to the appointment (`appt-<id>`), so creating the room twice finds
    /// the same room.
    pub unique_name: String,
    /// Everyone who may be in it: the service's patients plus the practitioner.
    pub max_participants: u16,
}

impl RoomSpec {
    /// The room for `appointment` of a service seeing at most `max_patients` patients.
    #[must_use]
    pub fn for_appointment(appointment: AppointmentId, max_patients: u16) -> Self {
        Self {
            unique_name: room_name(appointment),
            max_participants: max_patients.max(1).saturating_add(1),
        }
    }
}

/// The room name of an appointment.
#[must_use]
pub fn room_name(appointment: AppointmentId) -> String {
    format!("appt-{appointment}")
}

/// A room as the provider holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoRoom {
    /// The provider's id.
    pub provider_id: String,
    /// The unique name.
    pub unique_name: String,
    /// The provider's status word (`in-progress`, `completed`, …).
    pub status: String,
}

/// Permission for one participant to join one appointment's room until a time. Made only
/// by the telehealth service after the gate passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinPermit {
    practice: PracticeId,
    appointment: AppointmentId,
    room: String,
    identity: String,
    expires_at: DateTime<Utc>,
}

impl JoinPermit {
    pub(crate) fn new(
        practice: PracticeId,
        appointment: AppointmentId,
        identity: String,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            practice,
            appointment,
            room: room_name(appointment),
            identity,
            expires_at,
        }
    }

    /// The practice.
    #[must_use]
    pub fn practice(&self) -> PracticeId {
        self.practice
    }

    /// The appointment.
    #[must_use]
    pub fn appointment(&self) -> AppointmentId {
        self.appointment
    }

    /// The room the token may join, and no other.
    #[must_use]
    pub fn room(&self) -> &str {
        &self.room
    }

    /// Who joins (`patient-<id>` or `practitioner-<id>`: ids, never names).
    #[must_use]
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// When the token stops admitting.
    #[must_use]
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
}

/// A participant token for the video client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoToken {
    /// The token the client connects with (a secret: handed to that participant only).
    pub token: String,
    /// The room.
    pub room: String,
    /// The identity.
    pub identity: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

/// A video provider.
///
/// # Contract
/// - `create_room` is idempotent by unique name: a room that already exists (and is not
///   completed) is returned, not duplicated.
/// - `issue_token` grants the permit's room only, to the permit's identity only, expiring
///   when the permit does; it does no I/O.
/// - `end_room` completes the room; ending a room that is already over succeeds.
#[async_trait]
pub trait VideoProvider: Send + Sync + 'static {
    /// Creates (or finds) the room.
    async fn create_room(&self, spec: &RoomSpec) -> Result<VideoRoom, PortError>;

    /// Issues a participant token for a permit.
    ///
    /// # Errors
    /// [`PortError`] when the token cannot be signed (bad configuration).
    fn issue_token(&self, permit: &JoinPermit, now: DateTime<Utc>) -> Result<VideoToken, PortError>;

    /// Ends the room by its unique name.
    async fn end_room(&self, unique_name: &str) -> Result<(), PortError>;
}
