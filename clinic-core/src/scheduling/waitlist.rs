//! The waitlist: patients waiting for an earlier or a particular time, ranked for a
//! freed slot.

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::appointment::Appointment;
use crate::ids::{LocationId, PatientId, PracticeId, PractitionerId, ServiceId, WaitlistEntryId};

/// How soon the patient needs to be seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Whenever a suitable time opens.
    Routine,
    /// Within weeks.
    Soon,
    /// As soon as possible.
    Urgent,
}

/// A patient waiting for a slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaitlistEntry {
    /// Id.
    pub id: WaitlistEntryId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// Who is waiting.
    pub patient_id: PatientId,
    /// A particular practitioner, or any.
    pub practitioner_id: Option<PractitionerId>,
    /// A particular service, or any.
    pub service_id: Option<ServiceId>,
    /// A particular location, or any.
    pub location_id: Option<LocationId>,
    /// Days of the week that suit (empty: any day).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub days: Vec<Weekday>,
    /// Earliest local start that suits.
    pub earliest: Option<NaiveTime>,
    /// Latest local start that suits.
    pub latest: Option<NaiveTime>,
    /// Urgency.
    pub urgency: Urgency,
    /// When the patient joined the list.
    pub created_at: DateTime<Utc>,
    /// False once offered a slot and booked, or withdrawn.
    pub active: bool,
}

impl WaitlistEntry {
    /// Whether the freed appointment's time suits this entry. `zone` is the location's.
    #[must_use]
    pub fn fits(&self, freed: &Appointment, zone: Tz) -> bool {
        let local = freed.interval.start().with_timezone(&zone);
        let weekday_ok = self.days.is_empty() || self.days.contains(&local.weekday());
        let t = local.time();
        self.active
            && !freed.patient_ids.contains(&self.patient_id)
            && self.practitioner_id.is_none_or(|p| p == freed.practitioner_id)
            && self.service_id.is_none_or(|s| s == freed.service_id)
            && self.location_id.is_none_or(|l| l == freed.location_id)
            && weekday_ok
            && self.earliest.is_none_or(|e| t >= e)
            && self.latest.is_none_or(|l| t <= l)
    }
}

/// The entries that fit a freed appointment's slot, best first: most urgent, then longest
/// waiting, then by id so the order is total.
#[must_use]
pub fn rank_for_freed_slot<'a>(entries: &'a [WaitlistEntry], freed: &Appointment, zone: Tz) -> Vec<&'a WaitlistEntry> {
    let mut fit: Vec<&WaitlistEntry> = entries.iter().filter(|e| e.fits(freed, zone)).collect();
    fit.sort_by(|a, b| {
        b.urgency
            .cmp(&a.urgency)
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    });
    fit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduling::appointment::tests::appt;
    use uuid::Uuid;

    fn entry(n: u128, urgency: Urgency, created: &str) -> WaitlistEntry {
        WaitlistEntry {
            id: WaitlistEntryId::from_uuid(Uuid::from_u128(n)),
            practice_id: PracticeId::from_uuid(Uuid::nil()),
            patient_id: PatientId::from_uuid(Uuid::from_u128(1000 + n)),
            practitioner_id: None,
            service_id: None,
            location_id: None,
            days: Vec::new(),
            earliest: None,
            latest: None,
            urgency,
            created_at: created.parse().unwrap(),
            active: true,
        }
    }

    #[test]
    fn ranks_by_urgency_then_waiting_time() {
        // Tuesday 1 Dec 2026, 10:00 in Sydney (23:00Z the day before).
        let freed = appt("2026-11-30T23:00:00Z", 50);
        let tz = chrono_tz::Australia::Sydney;
        let entries = vec![
            entry(1, Urgency::Routine, "2026-01-01T00:00:00Z"),
            entry(2, Urgency::Urgent, "2026-06-01T00:00:00Z"),
            entry(3, Urgency::Urgent, "2026-03-01T00:00:00Z"),
        ];
        let ids: Vec<_> = rank_for_freed_slot(&entries, &freed, tz)
            .iter()
            .map(|e| e.id.as_uuid().as_u128())
            .collect();
        assert_eq!(ids, [3, 2, 1]);
    }

    #[test]
    fn preferences_filter_in_local_time() {
        let freed = appt("2026-11-30T23:00:00Z", 50); // Tue 10:00 Sydney, Mon 23:00 UTC
        let tz = chrono_tz::Australia::Sydney;
        let mut e = entry(1, Urgency::Routine, "2026-01-01T00:00:00Z");
        e.days.push(Weekday::Tue);
        e.earliest = Some("10:00:00".parse().unwrap());
        assert!(e.fits(&freed, tz));
        e.earliest = Some("10:01:00".parse().unwrap());
        assert!(!e.fits(&freed, tz));
        e.earliest = None;
        e.days = vec![Weekday::Mon];
        assert!(!e.fits(&freed, tz), "Monday in UTC is Tuesday at the clinic");
        e.days.clear();
        e.patient_id = freed.patient_ids[0];
        assert!(
            !e.fits(&freed, tz),
            "the patient who cancelled is not offered their own slot"
        );
        e.patient_id = PatientId::from_uuid(Uuid::from_u128(5));
        e.active = false;
        assert!(!e.fits(&freed, tz));
    }
}
