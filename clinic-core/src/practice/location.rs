//! Locations (each in its own zone and state) and rooms.

use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::non_blank;
use crate::error::FieldError;
use crate::ids::{LocationId, PracticeId, RoomId};

/// An Australian state or territory. Public holidays and record-retention law depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum AuState {
    /// New South Wales.
    NSW,
    /// Victoria.
    VIC,
    /// Queensland.
    QLD,
    /// Western Australia.
    WA,
    /// South Australia.
    SA,
    /// Tasmania.
    TAS,
    /// Australian Capital Territory.
    ACT,
    /// Northern Territory.
    NT,
}

impl AuState {
    /// Every state and territory.
    pub const ALL: [AuState; 8] = [
        AuState::NSW,
        AuState::VIC,
        AuState::QLD,
        AuState::WA,
        AuState::SA,
        AuState::TAS,
        AuState::ACT,
        AuState::NT,
    ];

    /// The abbreviation, e.g. `"NSW"`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            AuState::NSW => "NSW",
            AuState::VIC => "VIC",
            AuState::QLD => "QLD",
            AuState::WA => "WA",
            AuState::SA => "SA",
            AuState::TAS => "TAS",
            AuState::ACT => "ACT",
            AuState::NT => "NT",
        }
    }
}

impl fmt::Display for AuState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for AuState {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuState::ALL
            .into_iter()
            .find(|st| st.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| FieldError::new("state", "is not an Australian state or territory"))
    }
}

/// A place where a practice sees patients. Availability, public holidays and the local
/// times shown to patients all follow the location's zone and state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Location {
    /// Id.
    pub id: LocationId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// Display name, e.g. "Parramatta".
    pub name: String,
    /// Street address shown on invoices and confirmations.
    pub address: String,
    /// IANA zone, e.g. `Australia/Sydney`.
    #[serde(with = "tz_serde")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "Australia/Sydney"))]
    pub zone: Tz,
    /// State or territory whose holidays and laws apply.
    pub state: AuState,
}

impl Location {
    /// A validated location.
    ///
    /// # Errors
    /// [`FieldError`] on `name` or `address` when blank or too long.
    pub fn new(
        id: LocationId,
        practice_id: PracticeId,
        name: &str,
        address: &str,
        zone: Tz,
        state: AuState,
    ) -> Result<Self, FieldError> {
        Ok(Self {
            id,
            practice_id,
            name: non_blank("name", name, 120)?,
            address: non_blank("address", address, 300)?,
            zone,
            state,
        })
    }
}

/// A consulting room. A room holds one appointment at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Room {
    /// Id.
    pub id: RoomId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The location the room is at.
    pub location_id: LocationId,
    /// Display name, e.g. "Room 2".
    pub name: String,
}

impl Room {
    /// A validated room.
    ///
    /// # Errors
    /// [`FieldError`] on `name` when blank.
    pub fn new(id: RoomId, practice_id: PracticeId, location_id: LocationId, name: &str) -> Result<Self, FieldError> {
        Ok(Self {
            id,
            practice_id,
            location_id,
            name: non_blank("name", name, 80)?,
        })
    }
}

/// Serde for `chrono_tz::Tz` as its IANA name (chrono-tz's own serde feature is not used,
/// to keep the core's dependency set to the agreed list).
pub mod tz_serde {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the IANA name.
    ///
    /// # Errors
    /// Only the serializer's own.
    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    /// Reads an IANA name.
    ///
    /// # Errors
    /// A custom error when the name is not an IANA zone.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        crate::time::parse_zone("zone", &name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_parses_any_case() {
        assert_eq!("vic".parse::<AuState>().unwrap(), AuState::VIC);
        assert_eq!("XYZ".parse::<AuState>().unwrap_err().field(), "state");
    }
}
