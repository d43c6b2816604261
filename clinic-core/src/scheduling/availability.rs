//! Availability: weekly templates in local wall-clock time, exceptions, and the windows of
//! bookable time they give on a date.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

use super::holidays::HolidayCalendar;
use crate::error::FieldError;
use crate::ids::{ExceptionId, LocationId, PracticeId, PractitionerId, TemplateId};
use crate::practice::Location;
use crate::time::{TimeRange, resolve_local_boundary};

/// Weekly hours: "Mondays 09:00–17:00 at Parramatta, from 1 February until further notice".
/// Times are the location's wall clock, so 09:00 stays 09:00 across daylight saving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WeeklyTemplate {
    /// Id.
    pub id: TemplateId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// Whose hours.
    pub practitioner_id: PractitionerId,
    /// Where.
    pub location_id: LocationId,
    /// Day of the week.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "Mon"))]
    pub weekday: Weekday,
    /// Local start.
    pub start: NaiveTime,
    /// Local end (after start; hours do not cross midnight).
    pub end: NaiveTime,
    /// First date it applies.
    pub effective_from: NaiveDate,
    /// Last date it applies (inclusive), if it ends.
    pub effective_to: Option<NaiveDate>,
}

impl WeeklyTemplate {
    /// A validated template.
    ///
    /// # Errors
    /// [`FieldError`] on `end` when not after `start`, or `effective_to` when before
    /// `effective_from`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: TemplateId,
        practice_id: PracticeId,
        practitioner_id: PractitionerId,
        location_id: LocationId,
        weekday: Weekday,
        start: NaiveTime,
        end: NaiveTime,
        effective_from: NaiveDate,
        effective_to: Option<NaiveDate>,
    ) -> Result<Self, FieldError> {
        if end <= start {
            return Err(FieldError::new("end", "must be after start"));
        }
        if effective_to.is_some_and(|to| to < effective_from) {
            return Err(FieldError::new("effective_to", "must not be before effective_from"));
        }
        Ok(Self {
            id,
            practice_id,
            practitioner_id,
            location_id,
            weekday,
            start,
            end,
            effective_from,
            effective_to,
        })
    }

    /// Whether the template applies on `date`.
    #[must_use]
    pub fn applies_on(&self, date: NaiveDate) -> bool {
        date.weekday() == self.weekday && self.effective_from <= date && self.effective_to.is_none_or(|to| date <= to)
    }
}

/// A change to the weekly pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExceptionKind {
    /// Not available from `from` to `to` (local wall-clock times): leave, training, a sick day.
    Unavailable {
        /// Local start.
        from: NaiveDateTime,
        /// Local end.
        to: NaiveDateTime,
    },
    /// Extra hours on one date, also on a public holiday if the practitioner chooses.
    ExtraHours {
        /// Local date.
        date: NaiveDate,
        /// Local start.
        start: NaiveTime,
        /// Local end.
        end: NaiveTime,
    },
}

/// An exception to a practitioner's weekly hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AvailabilityException {
    /// Id.
    pub id: ExceptionId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// Whose.
    pub practitioner_id: PractitionerId,
    /// The location it applies to; `None` for every location (leave). Extra hours need one.
    pub location_id: Option<LocationId>,
    /// What changes.
    pub kind: ExceptionKind,
}

impl AvailabilityException {
    /// A validated exception.
    ///
    /// # Errors
    /// [`FieldError`] when the end is not after the start, or extra hours have no location.
    pub fn new(
        id: ExceptionId,
        practice_id: PracticeId,
        practitioner_id: PractitionerId,
        location_id: Option<LocationId>,
        kind: ExceptionKind,
    ) -> Result<Self, FieldError> {
        match &kind {
            ExceptionKind::Unavailable { from, to } if to <= from => {
                return Err(FieldError::new("to", "must be after from"));
            }
            ExceptionKind::ExtraHours { start, end, .. } if end <= start => {
                return Err(FieldError::new("end", "must be after start"));
            }
            ExceptionKind::ExtraHours { .. } if location_id.is_none() => {
                return Err(FieldError::new("location_id", "is required for extra hours"));
            }
            _ => {}
        }
        Ok(Self {
            id,
            practice_id,
            practitioner_id,
            location_id,
            kind,
        })
    }

    fn applies_at(&self, location: LocationId) -> bool {
        self.location_id.is_none_or(|l| l == location)
    }
}

/// A practitioner's templates and exceptions: everything needed to say when they work.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Availability {
    /// Weekly templates.
    pub templates: Vec<WeeklyTemplate>,
    /// Exceptions.
    pub exceptions: Vec<AvailabilityException>,
}

impl Availability {
    /// The locations this availability mentions.
    #[must_use]
    pub fn locations(&self) -> Vec<LocationId> {
        let mut v: Vec<LocationId> = self
            .templates
            .iter()
            .map(|t| t.location_id)
            .chain(self.exceptions.iter().filter_map(|e| match e.kind {
                ExceptionKind::ExtraHours { .. } => e.location_id,
                ExceptionKind::Unavailable { .. } => None,
            }))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The bookable windows at `location` on the local `date`, as sorted, disjoint UTC
    /// ranges.
    ///
    /// Rules, in order: on a public holiday of the location's state the weekly templates
    /// do not apply; extra hours on the date are added; unavailable periods are taken out.
    /// Boundaries that fall in a daylight-saving gap move to the first instant after it.
    #[must_use]
    pub fn windows(&self, location: &Location, date: NaiveDate, holidays: &HolidayCalendar) -> Vec<TimeRange> {
        let tz = location.zone;
        let mut out: Vec<TimeRange> = Vec::new();
        let to_range = |start: NaiveTime, end: NaiveTime| {
            TimeRange::new(
                resolve_local_boundary(tz, date.and_time(start)),
                resolve_local_boundary(tz, date.and_time(end)),
            )
            .ok()
        };
        if !holidays.is_holiday(location.state, date) {
            out.extend(
                self.templates
                    .iter()
                    .filter(|t| t.location_id == location.id && t.applies_on(date))
                    .filter_map(|t| to_range(t.start, t.end)),
            );
        }
        for e in self.exceptions.iter().filter(|e| e.applies_at(location.id)) {
            if let ExceptionKind::ExtraHours { date: d, start, end } = e.kind
                && d == date
                && let Some(r) = to_range(start, end)
            {
                out.push(r);
            }
        }
        if out.is_empty() {
            return out;
        }
        let mut merged = merge(out);
        // Local day bounds with a day's margin either side: a cheap wall-clock test that
        // spares resolving the zone for exceptions nowhere near this date.
        let near_from = date.pred_opt().unwrap_or(date).and_time(NaiveTime::MIN);
        let near_to = date
            .succ_opt()
            .and_then(|d| d.succ_opt())
            .unwrap_or(date)
            .and_time(NaiveTime::MIN);
        for e in self.exceptions.iter().filter(|e| e.applies_at(location.id)) {
            if let ExceptionKind::Unavailable { from, to } = e.kind
                && from < near_to
                && to > near_from
                && let Ok(r) = TimeRange::new(resolve_local_boundary(tz, from), resolve_local_boundary(tz, to))
            {
                merged = subtract(&merged, &r);
            }
        }
        merged
    }
}

/// Sorts and merges overlapping or touching ranges.
pub(crate) fn merge(mut ranges: Vec<TimeRange>) -> Vec<TimeRange> {
    ranges.sort_unstable();
    let mut out: Vec<TimeRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start() <= last.end() => {
                if r.end() > last.end() {
                    // start < end holds: last.start <= r.start < r.end.
                    if let Ok(m) = TimeRange::new(last.start(), r.end()) {
                        *last = m;
                    }
                }
            }
            _ => out.push(r),
        }
    }
    out
}

/// `ranges` with `cut` taken out.
fn subtract(ranges: &[TimeRange], cut: &TimeRange) -> Vec<TimeRange> {
    let mut out = Vec::with_capacity(ranges.len() + 1);
    for r in ranges {
        if !r.overlaps(cut) {
            out.push(*r);
            continue;
        }
        if let Ok(left) = TimeRange::new(r.start(), cut.start()) {
            out.push(left);
        }
        if let Ok(right) = TimeRange::new(cut.end(), r.end()) {
            out.push(right);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::practice::AuState;
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    pub(crate) fn location(zone: chrono_tz::Tz, state: AuState) -> Location {
        Location::new(
            LocationId::from_uuid(Uuid::from_u128(7)),
            PracticeId::from_uuid(Uuid::nil()),
            "Main",
            "1 George St",
            zone,
            state,
        )
        .unwrap()
    }

    pub(crate) fn template(loc: &Location, weekday: Weekday, start: &str, end: &str) -> WeeklyTemplate {
        WeeklyTemplate::new(
            TemplateId::from_uuid(Uuid::from_u128(u128::from(weekday.num_days_from_monday()) + 100)),
            loc.practice_id,
            PractitionerId::from_uuid(Uuid::nil()),
            loc.id,
            weekday,
            start.parse().unwrap(),
            end.parse().unwrap(),
            "2020-01-01".parse().unwrap(),
            None,
        )
        .unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn template_window_follows_local_time_across_dst() {
        let loc = location(chrono_tz::Australia::Sydney, AuState::NSW);
        let av = Availability {
            templates: vec![template(&loc, Weekday::Mon, "09:00:00", "17:00:00")],
            exceptions: vec![],
        };
        let cal = HolidayCalendar::default();
        // Before DST (AEST, +10) and after (AEDT, +11): 09:00 local both times.
        let w = av.windows(&loc, "2026-09-28".parse().unwrap(), &cal);
        assert_eq!(
            w,
            vec![TimeRange::new(utc("2026-09-27T23:00:00Z"), utc("2026-09-28T07:00:00Z")).unwrap()]
        );
        let w = av.windows(&loc, "2026-10-05".parse().unwrap(), &HolidayCalendar::default());
        assert_eq!(
            w,
            vec![TimeRange::new(utc("2026-10-04T22:00:00Z"), utc("2026-10-05T06:00:00Z")).unwrap()]
        );
    }

    #[test]
    fn public_holiday_removes_template_hours_but_keeps_extra_hours() {
        let loc = location(chrono_tz::Australia::Sydney, AuState::NSW);
        let mut av = Availability {
            templates: vec![template(&loc, Weekday::Mon, "09:00:00", "17:00:00")],
            exceptions: vec![],
        };
        let cal = HolidayCalendar::australia();
        let labour_day: NaiveDate = "2026-10-05".parse().unwrap();
        assert!(av.windows(&loc, labour_day, &cal).is_empty());
        // The same Monday is no holiday in Victoria.
        let vic = location(chrono_tz::Australia::Melbourne, AuState::VIC);
        let av_vic = Availability {
            templates: vec![template(&vic, Weekday::Mon, "09:00:00", "17:00:00")],
            exceptions: vec![],
        };
        assert_eq!(av_vic.windows(&vic, labour_day, &cal).len(), 1);
        av.exceptions.push(
            AvailabilityException::new(
                ExceptionId::from_uuid(Uuid::nil()),
                loc.practice_id,
                PractitionerId::from_uuid(Uuid::nil()),
                Some(loc.id),
                ExceptionKind::ExtraHours {
                    date: labour_day,
                    start: "10:00:00".parse().unwrap(),
                    end: "12:00:00".parse().unwrap(),
                },
            )
            .unwrap(),
        );
        assert_eq!(av.windows(&loc, labour_day, &cal).len(), 1);
    }

    #[test]
    fn leave_cuts_a_hole() {
        let loc = location(chrono_tz::Australia::Brisbane, AuState::QLD);
        let av = Availability {
            templates: vec![template(&loc, Weekday::Tue, "09:00:00", "17:00:00")],
            exceptions: vec![
                AvailabilityException::new(
                    ExceptionId::from_uuid(Uuid::nil()),
                    loc.practice_id,
                    PractitionerId::from_uuid(Uuid::nil()),
                    None,
                    ExceptionKind::Unavailable {
                        from: "2026-11-24T12:00:00".parse().unwrap(),
                        to: "2026-11-24T13:00:00".parse().unwrap(),
                    },
                )
                .unwrap(),
            ],
        };
        let w = av.windows(&loc, "2026-11-24".parse().unwrap(), &HolidayCalendar::default());
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].end(), utc("2026-11-24T02:00:00Z"));
        assert_eq!(w[1].start(), utc("2026-11-24T03:00:00Z"));
    }

    #[test]
    fn effective_dates_are_inclusive() {
        let loc = location(chrono_tz::Australia::Perth, AuState::WA);
        let mut t = template(&loc, Weekday::Wed, "09:00:00", "10:00:00");
        t.effective_from = "2026-11-04".parse().unwrap();
        t.effective_to = Some("2026-11-18".parse().unwrap());
        assert!(!t.applies_on("2026-10-28".parse().unwrap()));
        assert!(t.applies_on("2026-11-04".parse().unwrap()));
        assert!(t.applies_on("2026-11-18".parse().unwrap()));
        assert!(!t.applies_on("2026-11-25".parse().unwrap()));
    }

    #[test]
    fn bad_templates_and_exceptions_rejected() {
        let loc = location(chrono_tz::Australia::Perth, AuState::WA);
        let t = template(&loc, Weekday::Wed, "09:00:00", "10:00:00");
        assert!(
            WeeklyTemplate::new(
                t.id,
                t.practice_id,
                t.practitioner_id,
                t.location_id,
                t.weekday,
                t.end,
                t.start,
                t.effective_from,
                None
            )
            .is_err()
        );
        let e = AvailabilityException::new(
            ExceptionId::from_uuid(Uuid::nil()),
            loc.practice_id,
            PractitionerId::from_uuid(Uuid::nil()),
            None,
            ExceptionKind::ExtraHours {
                date: "2026-01-01".parse().unwrap(),
                start: "10:00:00".parse().unwrap(),
                end: "11:00:00".parse().unwrap(),
            },
        );
        assert_eq!(e.unwrap_err().field(), "location_id");
    }
}
