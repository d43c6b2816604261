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

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::appointment::DeliveryMode;
use super::availability::Availability;
use super::calendar::Calendar;
use super::rules::{Proposal, RuleContext, check_static};
use crate::error::FieldError;
use crate::ids::{LocationId, PatientId, PractitionerId};
use crate::people::Practitioner;
use crate::practice::{Location, Service};
use crate::time::{TimeRange, local_date, resolve_local, resolve_local_boundary};

/// The longest range one search may cover.
pub const MAX_SEARCH_DAYS: i64 = 366;

/// The most slots one page of a search may hold. A whole practice over months has tens of
/// thousands of starts; a bounded page keeps the memory of one search flat however wide
/// it is, and a client walks on with the page's [`SlotCursor`].
pub const MAX_PAGE: usize = 5_000;

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

impl Slot {
    /// The slot's place in the search order (start, then practitioner, then location).
    #[must_use]
    pub const fn cursor(&self) -> SlotCursor {
        SlotCursor {
            start: self.start,
            practitioner_id: self.practitioner_id,
            location_id: self.location_id,
        }
    }
}

/// A place in the order of a search's slots: a page asked for `after` a cursor holds only
/// the slots that sort after it. Written as `{start in unix microseconds}.{practitioner}.{location}`;
/// clients pass it back as they got it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotCursor {
    start: DateTime<Utc>,
    practitioner_id: PractitionerId,
    location_id: LocationId,
}

impl SlotCursor {
    /// The start of the slot the cursor names.
    #[must_use]
    pub const fn start(&self) -> DateTime<Utc> {
        self.start
    }
}

impl std::fmt::Display for SlotCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.start.timestamp_micros(),
            self.practitioner_id,
            self.location_id
        )
    }
}

impl std::str::FromStr for SlotCursor {
    type Err = FieldError;

    /// # Errors
    /// [`FieldError`] on `after` when the text is not a cursor this search wrote.
    fn from_str(s: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new("after", "is not a cursor from a previous page of slots");
        let mut parts = s.splitn(3, '.');
        let (Some(micros), Some(practitioner), Some(location)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let start = micros
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(bad)?;
        Ok(Self {
            start,
            practitioner_id: practitioner.parse().map_err(|_| bad())?,
            location_id: location.parse().map_err(|_| bad())?,
        })
    }
}

/// One page of a search: its slots in order, and where the next page starts when there is
/// one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotPage {
    /// The slots, sorted by start, then practitioner, then location.
    pub slots: Vec<Slot>,
    /// Pass as `after` for the next page; `None` when this page holds the last slot.
    pub next: Option<SlotCursor>,
}

/// Gathers the slots of one page while the search walks, holding at most twice the
/// page's size at once: it keeps the smallest `limit + 1` seen (the extra one tells
/// whether a next page exists) and refuses at once anything sorting after them.
struct Collector {
    items: Vec<Slot>,
    after: Option<SlotCursor>,
    limit: Option<usize>,
    /// Every slot kept sorts before this one; set once a compaction has dropped slots.
    ceiling: Option<SlotCursor>,
}

impl Collector {
    fn new(after: Option<SlotCursor>, limit: Option<usize>) -> Self {
        Self {
            items: Vec::new(),
            after,
            limit,
            ceiling: None,
        }
    }

    /// Whether a window starting at `start_micros` can still add anything.
    fn open_from(&self, start_micros: i64) -> bool {
        self.ceiling.is_none_or(|c| start_micros <= c.start.timestamp_micros())
    }

    fn push(&mut self, slot: Slot) {
        let key = slot.cursor();
        if self.after.is_some_and(|a| key <= a) || self.ceiling.is_some_and(|c| key >= c) {
            return;
        }
        self.items.push(slot);
        if let Some(limit) = self.limit
            && self.items.len() >= 2 * (limit + 1)
        {
            self.compact(limit + 1);
        }
    }

    fn compact(&mut self, keep: usize) {
        self.items.sort_unstable_by_key(Slot::cursor);
        self.items.dedup_by_key(|s| s.cursor());
        if self.items.len() > keep {
            self.items.truncate(keep);
            self.ceiling = self.items.last().map(Slot::cursor);
        }
    }

    fn finish(mut self) -> SlotPage {
        self.compact(usize::MAX);
        let next = match self.limit {
            Some(limit) if self.items.len() > limit => {
                self.items.truncate(limit);
                self.items.last().map(Slot::cursor)
            }
            _ => None,
        };
        SlotPage {
            slots: self.items,
            next,
        }
    }
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
/// practitioner, then location: every one of them (see [`search_page`] for a bounded
/// answer).
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
    Ok(search_page(ctx, service, candidates, locations, calendar, query, None, None)?.slots)
}

/// One page of [`search`]: the first `limit` slots (all of them when `None`) that sort
/// after `after`, in the same order, and the cursor of the next page. Walking the pages
/// with each page's `next` yields exactly the slots of the whole search, each once.
///
/// # Errors
/// [`FieldError`] for a bad date range, or on `limit` when it is over [`MAX_PAGE`].
#[allow(clippy::too_many_arguments)]
pub fn search_page(
    ctx: &RuleContext<'_>,
    service: &Service,
    candidates: &[Candidate<'_>],
    locations: &HashMap<LocationId, Location>,
    calendar: &Calendar,
    query: &SlotQuery,
    after: Option<SlotCursor>,
    limit: Option<std::num::NonZeroUsize>,
) -> Result<SlotPage, FieldError> {
    let range = search_range(query.from, query.to, query.viewer_zone)?;
    if limit.is_some_and(|l| l.get() > MAX_PAGE) {
        return Err(FieldError::new(
            "limit",
            format!("a page holds at most {MAX_PAGE} slots"),
        ));
    }
    // Nothing before the cursor's start can be on this page.
    let earliest = (ctx.now + ctx.policy.min_notice())
        .max(range.start())
        .max(after.map_or(range.start(), |a| a.start));
    let latest = ctx.now + ctx.policy.horizon();
    let grid = Duration::minutes(i64::from(ctx.policy.slot_grid.get().max(1)));
    let patients: Vec<PatientId> = query.patient.into_iter().collect();
    let mut out = Collector::new(after, limit.map(std::num::NonZeroUsize::get));
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
    Ok(out.finish())
}

/// The viewer's UTC offset through `window` when neither the location's nor the viewer's
/// offset changes inside it; `None` when one does.
fn steady_offsets(location: Tz, viewer: Tz, window: &TimeRange) -> Option<FixedOffset> {
    let first = window.start().naive_utc();
    let last = (window.end() - Duration::seconds(1)).naive_utc();
    let loc_a = location.offset_from_utc_datetime(&first).fix();
    let loc_b = location.offset_from_utc_datetime(&last).fix();
    let view_a = viewer.offset_from_utc_datetime(&first).fix();
    let view_b = viewer.offset_from_utc_datetime(&last).fix();
    (loc_a == loc_b && view_a == view_b).then_some(view_a)
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
    out: &mut Collector,
) {
    let tz = location.zone;
    let micros = |d: Duration| d.num_microseconds().unwrap_or(i64::MAX);
    let (earliest_us, latest_us) = (earliest.timestamp_micros(), latest.timestamp_micros());
    let (r_start, r_end) = (range.start_micros(), range.end_micros());
    let dur = micros(service.duration.duration());
    let before = micros(service.buffer_before.duration());
    let after = micros(service.buffer_after.duration());
    let grid_us = micros(grid);
    let busy = calendar.practitioner_index(c.practitioner.id);
    let first = local_date(tz, range.start().max(earliest));
    let last = local_date(tz, range.end() - Duration::seconds(1));
    let mut date = first;
    while date <= last {
        if !c.practitioner.is_suspended_on(date) {
            for window in c.availability.windows(location, date, ctx.holidays) {
                let (w_start, w_end) = (window.start_micros(), window.end_micros());
                if !out.open_from(w_start) {
                    continue;
                }
                // Integer microseconds on the hot path; DateTimes only for slots offered.
                let offer = |start: i64, viewer: Option<FixedOffset>, out: &mut Collector| {
                    let end = start + dur;
                    if start < earliest_us
                        || start > latest_us
                        || start < w_start
                        || end > w_end
                        || start < r_start
                        || start >= r_end
                    {
                        return;
                    }
                    if busy.is_some_and(|b| b.first_overlap_micros(start - before, end + after, None).is_some()) {
                        return;
                    }
                    let (Some(s), Some(e)) = (
                        DateTime::from_timestamp_micros(start),
                        DateTime::from_timestamp_micros(end),
                    ) else {
                        return;
                    };
                    if !patients.is_empty() {
                        let Ok(interval) = TimeRange::new(s, e) else { return };
                        if patients
                            .iter()
                            .any(|p| calendar.patient_clash(*p, &interval, None).is_some())
                        {
                            return;
                        }
                    }
                    let local_start = match viewer {
                        Some(off) => s.with_timezone(&off),
                        None => s.with_timezone(&query.viewer_zone).fixed_offset(),
                    };
                    out.push(Slot {
                        practitioner_id: c.practitioner.id,
                        location_id: location.id,
                        start: s,
                        end: e,
                        local_start,
                    });
                };
                match steady_offsets(tz, query.viewer_zone, &window) {
                    // No transition inside the window: the local grid is the instant grid,
                    // and every local time in it exists exactly once.
                    Some(viewer) => {
                        let mut start = w_start;
                        while start < w_end {
                            offer(start, Some(viewer), out);
                            start += grid_us;
                        }
                    }
                    // A daylight-saving change inside the window: resolve each local time.
                    None => {
                        let local_end = window.end().with_timezone(&tz).naive_local();
                        let mut t = window.start().with_timezone(&tz).naive_local();
                        while t < local_end {
                            if let Some(start) = resolve_local(tz, t) {
                                offer(start.timestamp_micros(), None, out);
                            }
                            t += grid;
                        }
                    }
                }
            }
        }
        let Some(next) = date.succ_opt() else { break };
        date = next;
    }
}
