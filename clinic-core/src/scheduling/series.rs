//! Recurring series: weekly, fortnightly or every N weeks, for N occurrences or until a date.
//!
//! Occurrences keep the first one's wall-clock time in the location's zone (10:00 stays
//! 10:00 across daylight saving). Each is checked on its own against the calendar; two
//! occurrences of one series can never clash with each other, since they are at least a
//! week apart and an appointment with its buffers lasts at most 12 hours.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::calendar::Calendar;
use super::error::SchedulingError;
use super::rules::{Accepted, Proposal, RuleContext, check};
use crate::time::resolve_local;

/// The most occurrences one series may have (two years of weekly sessions).
pub const MAX_OCCURRENCES: u16 = 104;

/// When a series ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SeriesEnd {
    /// After this many occurrences (the first included).
    Count(u16),
    /// On or before this local date.
    Until(NaiveDate),
}

/// How to book when some occurrences are not free.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SeriesPolicy {
    /// Book every occurrence or none.
    AllOrNothing,
    /// Book the free occurrences and report the others.
    BookFree,
}

/// A recurrence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recurrence {
    /// Weeks between occurrences: 1 weekly, 2 fortnightly, up to 12.
    pub every_weeks: u8,
    /// When it ends.
    pub end: SeriesEnd,
}

/// One occurrence's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    /// 0-based position in the series.
    pub index: u16,
    /// Its wall-clock start at the location.
    pub local_start: NaiveDateTime,
    /// Accepted with its intervals, or the rule it broke.
    pub outcome: Result<Accepted, SchedulingError>,
}

/// The local starts of a series whose first occurrence starts at `first` (UTC) in `zone`.
///
/// # Errors
/// [`SchedulingError::InvalidSeries`] for `every_weeks` outside 1–12, a count of 0 or over
/// [`MAX_OCCURRENCES`], or an end date before the first occurrence.
pub fn local_starts(
    first: DateTime<Utc>,
    zone: chrono_tz::Tz,
    rec: Recurrence,
) -> Result<Vec<NaiveDateTime>, SchedulingError> {
    if !(1..=12).contains(&rec.every_weeks) {
        return Err(SchedulingError::InvalidSeries("every_weeks must be between 1 and 12"));
    }
    let local_first = first.with_timezone(&zone).naive_local();
    let step = Duration::weeks(i64::from(rec.every_weeks));
    let starts: Vec<NaiveDateTime> = match rec.end {
        SeriesEnd::Count(n) => {
            if n == 0 || n > MAX_OCCURRENCES {
                return Err(SchedulingError::InvalidSeries("count must be between 1 and 104"));
            }
            (0..i32::from(n)).map(|k| local_first + step * k).collect()
        }
        SeriesEnd::Until(until) => {
            if until < local_first.date() {
                return Err(SchedulingError::InvalidSeries(
                    "until must not be before the first occurrence",
                ));
            }
            let v: Vec<_> = (0..i32::from(MAX_OCCURRENCES) + 1)
                .map(|k| local_first + step * k)
                .take_while(|t| t.date() <= until)
                .collect();
            if v.len() > usize::from(MAX_OCCURRENCES) {
                return Err(SchedulingError::InvalidSeries("a series has at most 104 occurrences"));
            }
            v
        }
    };
    Ok(starts)
}

/// Where an occurrence of a series goes when the series is moved from one of its
/// occurrences on ("this and following"): the occurrence moved from local start `from` to
/// `to`, and every later one keeps its place in the series, moved by the same number of
/// calendar days, at `to`'s wall-clock time. The wall clock is kept, not the elapsed time,
/// so a series moved across a daylight-saving change stays at the time the patient chose
/// (as [`local_starts`] keeps it when booking).
#[must_use]
pub fn moved_local_start(from: NaiveDateTime, to: NaiveDateTime, occurrence: NaiveDateTime) -> NaiveDateTime {
    (occurrence.date() + (to.date() - from.date())).and_time(to.time())
}

/// Checks every occurrence of a series whose first occurrence is `first.start`.
///
/// # Errors
/// [`SchedulingError::InvalidSeries`] as in [`local_starts`].
pub fn plan(
    ctx: &RuleContext<'_>,
    first: &Proposal<'_>,
    rec: Recurrence,
    calendar: &Calendar,
) -> Result<Vec<Occurrence>, SchedulingError> {
    let zone = first.location.zone;
    let starts = local_starts(first.start, zone, rec)?;
    Ok(starts
        .into_iter()
        .zip(0u16..)
        .map(|(local_start, index)| {
            let outcome = match resolve_local(zone, local_start) {
                None => Err(SchedulingError::NonexistentLocalTime { local: local_start }),
                Some(start) => check(ctx, &Proposal { start, ..*first }, calendar, None),
            };
            Occurrence {
                index,
                local_start,
                outcome,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekly_keeps_wall_clock_across_dst() {
        // First at 10:00 AEST on Monday 28 Sep 2026; DST starts 4 Oct.
        let first: DateTime<Utc> = "2026-09-28T00:00:00Z".parse().unwrap();
        let s = local_starts(
            first,
            chrono_tz::Australia::Sydney,
            Recurrence {
                every_weeks: 1,
                end: SeriesEnd::Count(3),
            },
        )
        .unwrap();
        assert!(s.iter().all(|t| t.format("%H:%M").to_string() == "10:00"));
        assert_eq!(s[2].date(), "2026-10-12".parse::<NaiveDate>().unwrap());
    }

    #[test]
    fn a_moved_series_keeps_its_days_apart_and_the_new_wall_clock_time() {
        let t = |s: &str| s.parse::<NaiveDateTime>().unwrap();
        // Monday 10:00 moved to Tuesday 11:30: later Mondays become Tuesdays at 11:30,
        // across the October DST change in Sydney and across a leap day.
        let (from, to) = (t("2026-09-28T10:00:00"), t("2026-09-29T11:30:00"));
        assert_eq!(
            moved_local_start(from, to, t("2026-10-05T10:00:00")),
            t("2026-10-06T11:30:00")
        );
        assert_eq!(
            moved_local_start(from, to, t("2028-02-28T10:00:00")),
            t("2028-02-29T11:30:00")
        );
        // Moved earlier, over a month's end.
        let (from, to) = (t("2026-12-01T09:00:00"), t("2026-11-30T08:00:00"));
        assert_eq!(
            moved_local_start(from, to, t("2026-12-08T09:00:00")),
            t("2026-12-07T08:00:00")
        );
        // The occurrence moved itself lands where it was asked to.
        assert_eq!(moved_local_start(from, to, from), to);
    }

    #[test]
    fn until_is_inclusive_and_bounds_checked() {
        let first: DateTime<Utc> = "2026-01-05T00:00:00Z".parse().unwrap();
        let rec = |until: &str| Recurrence {
            every_weeks: 2,
            end: SeriesEnd::Until(until.parse().unwrap()),
        };
        assert_eq!(local_starts(first, chrono_tz::UTC, rec("2026-02-02")).unwrap().len(), 3);
        assert_eq!(local_starts(first, chrono_tz::UTC, rec("2026-02-01")).unwrap().len(), 2);
        assert!(local_starts(first, chrono_tz::UTC, rec("2026-01-04")).is_err());
        assert!(
            local_starts(
                first,
                chrono_tz::UTC,
                Recurrence {
                    every_weeks: 1,
                    end: SeriesEnd::Until("2030-01-01".parse().unwrap())
                }
            )
            .is_err()
        );
        assert!(
            local_starts(
                first,
                chrono_tz::UTC,
                Recurrence {
                    every_weeks: 0,
                    end: SeriesEnd::Count(2)
                }
            )
            .is_err()
        );
        assert!(
            local_starts(
                first,
                chrono_tz::UTC,
                Recurrence {
                    every_weeks: 1,
                    end: SeriesEnd::Count(104)
                }
            )
            .is_ok()
        );
        assert!(
            local_starts(
                first,
                chrono_tz::UTC,
                Recurrence {
                    every_weeks: 1,
                    end: SeriesEnd::Count(105)
                }
            )
            .is_err()
        );
    }
}
