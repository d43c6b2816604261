//! Slot search: the start times a service can be booked at.
//!
//! For each practitioner and each location they work at, walk the local dates of the
//! search range, take the availability windows, and offer starts on the practice's grid in
//! the location's wall-clock time (aligned to the window's start). A grid time that does not
//! exist (daylight saving starts) is skipped; one that occurs twice (daylight saving ends)
//! is offered once, at its first occurrence. Every slot offered passes [`rules::check`].
//!
//! [`rules::check`]: super::rules::check

use std::collections::HashMap;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::appointment::DeliveryMode;
use super::availability::Availability;
use super::calendar::Calendar;
use super::rules::{Proposal, RuleContext, check_static, intervals_for};
use crate::error::FieldError;
use crate::ids::{LocationId, PatientId, PractitionerId};
use crate::people::Practitioner;
use crate::practice::{Location, Service};
use crate::time::{TimeRange, local_date, resolve_local, resolve_local_boundary};

/// The longest range one search may cover.
pub const MAX_SEARCH_DAYS: i64 = 366;

/// What to search for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotQuery {
    /// First local date (in `viewer_zone`).
    pub from: NaiveDate,
    /// Last local date, inclusive.
    pub to: NaiveDate,
    /// The zone the viewer's dates are in, and that slots are shown in.
    pub viewer_zone: Tz,
    /// Delivery mode wanted.
    pub mode: DeliveryMode,
    /// Only this location, if given.
    pub location: Option<LocationId>,
    /// The patient searching, whose own appointments must not clash.
    pub patient: Option<PatientId>,
}

/// A bookable start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Practitioner.
    pub practitioner_id: PractitionerId,
    /// Location.
    pub location_id: LocationId,
    /// Session start (UTC).
    pub start: DateTime<Utc>,
    /// Session end (UTC).
    pub end: DateTime<Utc>,
    /// The start in the viewer's zone, with its offset.
    pub local_start: DateTime<FixedOffset>,
}

/// One practitioner to search, with their availability.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// The practitioner.
    pub practitioner: &'a Practitioner,
    /// Their availability.
    pub availability: &'a Availability,
}

/// The UTC range covered by local dates `from..=to` in `zone`.
///
/// # Errors
/// [`FieldError`] on `to` when before `from` or more than [`MAX_SEARCH_DAYS`] after it.
pub fn search_range(from: NaiveDate, to: NaiveDate, zone: Tz) -> Result<TimeRange, FieldError> {
    if to < from {
        return Err(FieldError::new("to", "must not be before from"));
    }
    if (to - from).num_days() >= MAX_SEARCH_DAYS {
        return Err(FieldError::new(
            "to",
            format!("a search covers at most {MAX_SEARCH_DAYS} days"),
        ));
    }
    let start = resolve_local_boundary(zone, from.and_time(chrono::NaiveTime::MIN));
    let end_date = to.succ_opt().ok_or_else(|| FieldError::new("to", "is out of range"))?;
    let end = resolve_local_boundary(zone, end_date.and_time(chrono::NaiveTime::MIN));
    TimeRange::new(start, end)
}

/// Searches bookable starts of `service` for `candidates`, sorted by start, then
/// practitioner, then location.
///
/// # Errors
/// [`FieldError`] for a bad date range.
pub fn search(
    ctx: &RuleContext<'_>,
    service: &Service,
    candidates: &[Candidate<'_>],
    locations: &HashMap<LocationId, Location>,
    calendar: &Calendar,
    query: &SlotQuery,
) -> Result<Vec<Slot>, FieldError> {
    let range = search_range(query.from, query.to, query.viewer_zone)?;
    let earliest = (ctx.now + ctx.policy.min_notice()).max(range.start());
    let latest = ctx.now + ctx.policy.horizon();
    let grid = Duration::minutes(i64::from(ctx.policy.slot_grid.get().max(1)));
    let patients: Vec<PatientId> = query.patient.into_iter().collect();
    let mut out = Vec::new();
    for c in candidates {
        for loc_id in c.availability.locations() {
            if query.location.is_some_and(|l| l != loc_id) {
                continue;
            }
            let Some(location) = locations.get(&loc_id) else {
                continue;
            };
            // The static rules (telehealth offered, patient count) are the same for every
            // start; check them once with a stand-in patient list.
            let stand_in = [PatientId::from_uuid(uuid::Uuid::nil())];
            let probe = Proposal {
                practitioner: c.practitioner,
                availability: c.availability,
                service,
                location,
                room: None,
                patients: if patients.is_empty() { &stand_in } else { &patients },
                mode: query.mode,
                start: range.start(),
            };
            if check_static(ctx, &probe).is_err() {
                continue;
            }
            search_location(
                ctx, service, c, location, calendar, query, range, earliest, latest, grid, &patients, &mut out,
            );
        }
    }
    out.sort_unstable_by_key(|s| (s.start, s.practitioner_id, s.location_id));
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn search_location(
    ctx: &RuleContext<'_>,
    service: &Service,
    c: &Candidate<'_>,
    location: &Location,
    calendar: &Calendar,
    query: &SlotQuery,
    range: TimeRange,
    earliest: DateTime<Utc>,
    latest: DateTime<Utc>,
    grid: Duration,
    patients: &[PatientId],
    out: &mut Vec<Slot>,
) {
    let tz = location.zone;
    let first = local_date(tz, range.start().max(earliest));
    let last = local_date(tz, range.end() - Duration::seconds(1));
    let mut date = first;
    while date <= last {
        if !c.practitioner.is_suspended_on(date) {
            for window in c.availability.windows(location, date, ctx.holidays) {
                let local_end = window.end().with_timezone(&tz).naive_local();
                let mut t = window.start().with_timezone(&tz).naive_local();
                while t < local_end {
                    if let Some(start) = resolve_local(tz, t)
                        && start >= earliest
                        && start <= latest
                        && start >= window.start()
                        && range.contains_instant(start)
                        && let Ok(acc) = intervals_for(service, start)
                        && window.contains(&acc.interval)
                        && calendar
                            .practitioner_clash(c.practitioner.id, &acc.blocked, None)
                            .is_none()
                        && patients
                            .iter()
                            .all(|p| calendar.patient_clash(*p, &acc.interval, None).is_none())
                    {
                        out.push(Slot {
                            practitioner_id: c.practitioner.id,
                            location_id: location.id,
                            start,
                            end: acc.interval.end(),
                            local_start: start.with_timezone(&query.viewer_zone).fixed_offset(),
                        });
                    }
                    t += grid;
                }
            }
        }
        let Some(next) = date.succ_opt() else { break };
        date = next;
    }
}
