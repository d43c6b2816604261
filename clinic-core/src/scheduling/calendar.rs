//! The busy-time index that conflict checks and slot search run against.
//!
//! Per practitioner, room and patient: the intervals their appointments hold, sorted by
//! start. An overlap query is a binary search plus a scan bounded by the longest interval
//! held, so a check against a calendar of thousands of appointments costs microseconds.

use std::collections::HashMap;

use super::appointment::Appointment;
use crate::ids::{AppointmentId, PatientId, PractitionerId, RoomId};
use crate::time::TimeRange;

/// Sorted busy intervals of one resource, as parallel arrays of microsecond instants so a
/// query compares integers.
#[derive(Clone, Debug, Default)]
pub struct BusyIndex {
    starts: Vec<i64>,
    ends: Vec<i64>,
    ids: Vec<AppointmentId>,
    longest: i64,
}

impl BusyIndex {
    /// An index of `entries` (any order).
    #[must_use]
    pub fn new(mut entries: Vec<(TimeRange, AppointmentId)>) -> Self {
        entries.sort_unstable_by_key(|(r, id)| (r.start(), *id));
        let mut idx = Self {
            starts: Vec::with_capacity(entries.len()),
            ends: Vec::with_capacity(entries.len()),
            ids: Vec::with_capacity(entries.len()),
            longest: 0,
        };
        for (r, id) in entries {
            idx.starts.push(r.start_micros());
            idx.ends.push(r.end_micros());
            idx.ids.push(id);
            idx.longest = idx.longest.max(r.end_micros() - r.start_micros());
        }
        idx
    }

    /// Adds an interval.
    pub fn insert(&mut self, range: TimeRange, id: AppointmentId) {
        let (s, e) = (range.start_micros(), range.end_micros());
        let (mut at, mut hi) = (0, self.starts.len());
        while at < hi {
            let mid = at + (hi - at) / 2;
            if (self.starts[mid], self.ids[mid]) < (s, id) {
                at = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.starts.insert(at, s);
        self.ends.insert(at, e);
        self.ids.insert(at, id);
        self.longest = self.longest.max(e - s);
    }

    /// Removes every interval of appointment `id`.
    pub fn remove(&mut self, id: AppointmentId) {
        while let Some(i) = self.ids.iter().position(|x| *x == id) {
            self.starts.remove(i);
            self.ends.remove(i);
            self.ids.remove(i);
        }
    }

    /// The first appointment (by start) whose interval overlaps `range`, ignoring `except`.
    #[must_use]
    pub fn first_overlap(&self, range: &TimeRange, except: Option<AppointmentId>) -> Option<AppointmentId> {
        self.first_overlap_micros(range.start_micros(), range.end_micros(), except)
    }

    /// As [`BusyIndex::first_overlap`], for `[start, end)` in microseconds since the epoch.
    #[must_use]
    pub fn first_overlap_micros(&self, start: i64, end: i64, except: Option<AppointmentId>) -> Option<AppointmentId> {
        // Every candidate starts before `end`; none that starts at or before
        // `start - longest` can reach past `start`.
        let hi = self.starts.partition_point(|s| *s < end);
        let lo = self.starts[..hi].partition_point(|s| *s <= start.saturating_sub(self.longest));
        (lo..hi)
            .find(|&i| self.ends[i] > start && Some(self.ids[i]) != except)
            .map(|i| self.ids[i])
    }

    /// Number of intervals.
    #[must_use]
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

/// Busy time of practitioners (buffers included), rooms and patients, built from the
/// appointments that hold time (everything but cancelled ones).
#[derive(Clone, Debug, Default)]
pub struct Calendar {
    practitioners: HashMap<PractitionerId, BusyIndex>,
    rooms: HashMap<RoomId, BusyIndex>,
    patients: HashMap<PatientId, BusyIndex>,
}

impl Calendar {
    /// A calendar of `appointments`; cancelled ones are left out.
    #[must_use]
    pub fn new<'a>(appointments: impl IntoIterator<Item = &'a Appointment>) -> Self {
        let mut pr: HashMap<PractitionerId, Vec<_>> = HashMap::new();
        let mut ro: HashMap<RoomId, Vec<_>> = HashMap::new();
        let mut pa: HashMap<PatientId, Vec<_>> = HashMap::new();
        for a in appointments.into_iter().filter(|a| a.holds_time()) {
            pr.entry(a.practitioner_id).or_default().push((a.blocked, a.id));
            if let Some(r) = a.room_id {
                ro.entry(r).or_default().push((a.interval, a.id));
            }
            for p in &a.patient_ids {
                pa.entry(*p).or_default().push((a.interval, a.id));
            }
        }
        Self {
            practitioners: pr.into_iter().map(|(k, v)| (k, BusyIndex::new(v))).collect(),
            rooms: ro.into_iter().map(|(k, v)| (k, BusyIndex::new(v))).collect(),
            patients: pa.into_iter().map(|(k, v)| (k, BusyIndex::new(v))).collect(),
        }
    }

    /// A calendar of busy stretches as read from storage by
    /// [`AppointmentRepository::busy`](crate::ports::AppointmentRepository::busy).
    #[must_use]
    pub fn from_busy(entries: &[crate::ports::Busy]) -> Self {
        use crate::ports::ResourceKey;
        let mut pr: HashMap<PractitionerId, Vec<_>> = HashMap::new();
        let mut ro: HashMap<RoomId, Vec<_>> = HashMap::new();
        let mut pa: HashMap<PatientId, Vec<_>> = HashMap::new();
        for b in entries {
            let entry = (b.range, b.appointment);
            match b.key {
                ResourceKey::Practitioner(k) => pr.entry(k).or_default().push(entry),
                ResourceKey::Room(k) => ro.entry(k).or_default().push(entry),
                ResourceKey::Patient(k) => pa.entry(k).or_default().push(entry),
            }
        }
        Self {
            practitioners: pr.into_iter().map(|(k, v)| (k, BusyIndex::new(v))).collect(),
            rooms: ro.into_iter().map(|(k, v)| (k, BusyIndex::new(v))).collect(),
            patients: pa.into_iter().map(|(k, v)| (k, BusyIndex::new(v))).collect(),
        }
    }

    /// Adds an appointment (if it holds time).
    pub fn add(&mut self, a: &Appointment) {
        if !a.holds_time() {
            return;
        }
        self.practitioners
            .entry(a.practitioner_id)
            .or_default()
            .insert(a.blocked, a.id);
        if let Some(r) = a.room_id {
            self.rooms.entry(r).or_default().insert(a.interval, a.id);
        }
        for p in &a.patient_ids {
            self.patients.entry(*p).or_default().insert(a.interval, a.id);
        }
    }

    /// Removes an appointment.
    pub fn remove(&mut self, a: &Appointment) {
        if let Some(i) = self.practitioners.get_mut(&a.practitioner_id) {
            i.remove(a.id);
        }
        if let Some(i) = a.room_id.and_then(|r| self.rooms.get_mut(&r)) {
            i.remove(a.id);
        }
        for p in &a.patient_ids {
            if let Some(i) = self.patients.get_mut(p) {
                i.remove(a.id);
            }
        }
    }

    /// The busy index of a practitioner, if they have any appointment.
    #[must_use]
    pub fn practitioner_index(&self, who: PractitionerId) -> Option<&BusyIndex> {
        self.practitioners.get(&who)
    }

    /// The practitioner's first appointment overlapping `blocked`.
    #[must_use]
    pub fn practitioner_clash(
        &self,
        who: PractitionerId,
        blocked: &TimeRange,
        except: Option<AppointmentId>,
    ) -> Option<AppointmentId> {
        self.practitioners
            .get(&who)
            .and_then(|i| i.first_overlap(blocked, except))
    }

    /// The room's first appointment overlapping `interval`.
    #[must_use]
    pub fn room_clash(
        &self,
        room: RoomId,
        interval: &TimeRange,
        except: Option<AppointmentId>,
    ) -> Option<AppointmentId> {
        self.rooms.get(&room).and_then(|i| i.first_overlap(interval, except))
    }

    /// The patient's first appointment overlapping `interval`.
    #[must_use]
    pub fn patient_clash(
        &self,
        patient: PatientId,
        interval: &TimeRange,
        except: Option<AppointmentId>,
    ) -> Option<AppointmentId> {
        self.patients
            .get(&patient)
            .and_then(|i| i.first_overlap(interval, except))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, Utc};
    use proptest::prelude::*;
    use uuid::Uuid;

    fn r(start_min: i64, len_min: i64) -> TimeRange {
        let base: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        TimeRange::starting_at(base + Duration::minutes(start_min), Duration::minutes(len_min)).unwrap()
    }

    fn id(n: u128) -> AppointmentId {
        AppointmentId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn finds_long_interval_that_started_long_before() {
        let idx = BusyIndex::new(vec![(r(0, 600), id(1)), (r(100, 10), id(2))]);
        assert_eq!(idx.first_overlap(&r(500, 10), None), Some(id(1)));
        assert_eq!(idx.first_overlap(&r(600, 10), None), None);
        assert_eq!(idx.first_overlap(&r(105, 1), Some(id(1))), Some(id(2)));
    }

    proptest! {
        /// The index agrees with a linear scan for any set of intervals and any query.
        #[test]
        fn index_matches_linear_scan(
            items in proptest::collection::vec((0i64..2000, 1i64..300), 0..60),
            q in (0i64..2300, 1i64..300),
        ) {
            let entries: Vec<_> = items.iter().enumerate().map(|(i, (s, l))| (r(*s, *l), id(i as u128))).collect();
            let idx = BusyIndex::new(entries.clone());
            let query = r(q.0, q.1);
            let expected = entries.iter().any(|(rg, _)| rg.overlaps(&query));
            let got = idx.first_overlap(&query, None);
            prop_assert_eq!(got.is_some(), expected);
            if let Some(g) = got {
                let (rg, _) = entries.iter().find(|(_, i)| *i == g).unwrap();
                prop_assert!(rg.overlaps(&query));
            }
        }
    }
}
