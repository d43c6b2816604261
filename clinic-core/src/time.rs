//! Instants, half-open intervals and wall-clock time in a location's IANA zone.
//!
//! Instants are UTC (`DateTime<Utc>`). Rules that speak of the clock on the wall ("Mondays
//! 09:00 to 17:00", "a public holiday") use `NaiveDate`/`NaiveTime` plus the location's
//! `chrono_tz::Tz`, and are turned into instants here, where daylight-saving gaps and
//! repeated hours are resolved in one place.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// A half-open interval of instants `[start, end)`, with `start < end` guaranteed.
///
/// Instants are kept to the whole microsecond (finer digits are truncated), the precision
/// PostgreSQL's `timestamptz` stores, so an interval reads back exactly as it was written
/// and comparisons can run on integer microseconds.
///
/// Two ranges that merely touch (one ends when the next starts) do not overlap, so
/// back-to-back appointments are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeRange {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TimeRange {
    /// A range from `start` (inclusive) to `end` (exclusive).
    ///
    /// # Errors
    /// [`FieldError`] on `interval` when `end` is not after `start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, FieldError> {
        let (start, end) = (truncate_to_micros(start), truncate_to_micros(end));
        if start < end {
            Ok(Self { start, end })
        } else {
            Err(FieldError::new("interval", "end must be after start"))
        }
    }

    /// A range of `length` from `start`.
    ///
    /// # Errors
    /// [`FieldError`] when `length` is not positive.
    pub fn starting_at(start: DateTime<Utc>, length: Duration) -> Result<Self, FieldError> {
        Self::new(start, start + length)
    }

    /// The first instant in the range.
    #[must_use]
    pub const fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The first instant after the range.
    #[must_use]
    pub const fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// The start as microseconds since the Unix epoch.
    #[must_use]
    pub fn start_micros(&self) -> i64 {
        self.start.timestamp_micros()
    }

    /// The end as microseconds since the Unix epoch.
    #[must_use]
    pub fn end_micros(&self) -> i64 {
        self.end.timestamp_micros()
    }

    /// `end - start`.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }

    /// True when the two ranges share at least one instant.
    #[must_use]
    pub fn overlaps(&self, other: &TimeRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// True when `other` lies entirely inside this range.
    #[must_use]
    pub fn contains(&self, other: &TimeRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// True when `instant` is inside the range.
    #[must_use]
    pub fn contains_instant(&self, instant: DateTime<Utc>) -> bool {
        self.start <= instant && instant < self.end
    }

    /// The range widened by `before` at the start and `after` at the end (buffers).
    /// Negative widths are treated as zero.
    #[must_use]
    pub fn widened(&self, before: Duration, after: Duration) -> TimeRange {
        let before = before.max(Duration::zero());
        let after = after.max(Duration::zero());
        TimeRange {
            start: self.start - before,
            end: self.end + after,
        }
    }

    /// The range moved by `by`.
    #[must_use]
    pub fn shifted(&self, by: Duration) -> TimeRange {
        TimeRange {
            start: self.start + by,
            end: self.end + by,
        }
    }
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            start: DateTime<Utc>,
            end: DateTime<Utc>,
        }
        let raw = Raw::deserialize(d)?;
        TimeRange::new(raw.start, raw.end).map_err(serde::de::Error::custom)
    }
}

/// `t` without its sub-microsecond digits.
fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let extra = i64::from(t.timestamp_subsec_nanos() % 1000);
    t - Duration::nanoseconds(extra)
}

/// Resolves a local wall-clock date-time in `tz` to the instant a clinic means by it.
///
/// - A time that exists once maps to that instant.
/// - A time in the repeated hour when daylight saving ends maps to its **first**
///   occurrence (daylight time), so a wall-clock slot appears once, not twice.
/// - A time skipped when daylight saving starts (e.g. 02:30 on the first Sunday of
///   October in Sydney) does not exist: `None`.
#[must_use]
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, second) => Some(first.min(second).with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// Resolves a local boundary (the start or end of a window of hours) to an instant, moving a
/// boundary that falls in a daylight-saving gap forward to the first instant after the gap.
///
/// Used for availability windows: "09:00–17:00" never starts in a gap in Australian zones,
/// but a template at 02:00 on a transition day must still give a well-formed window.
#[must_use]
pub fn resolve_local_boundary(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    if let Some(t) = resolve_local(tz, local) {
        return t;
    }
    // Gaps are at most an hour in every zone we serve (Lord Howe's is 30 minutes); step
    // minute by minute to the first local time that exists. The loop is bounded.
    let mut probe = local;
    for _ in 0..=24 * 60 {
        probe += Duration::minutes(1);
        if let Some(t) = resolve_local(tz, probe) {
            return t;
        }
    }
    // No zone has a gap longer than a day; fall back to reading the time as UTC.
    Utc.from_utc_datetime(&local)
}

/// The local calendar date of `instant` in `tz`.
#[must_use]
pub fn local_date(tz: Tz, instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

/// Parses an IANA zone name such as `Australia/Sydney`.
///
/// # Errors
/// [`FieldError`] on `field` when the name is not in the IANA database.
pub fn parse_zone(field: &'static str, name: &str) -> Result<Tz, FieldError> {
    name.parse::<Tz>()
        .map_err(|_| FieldError::new(field, "is not an IANA time zone name"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn local(date: &str, time: &str) -> NaiveDateTime {
        NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .unwrap()
            .and_time(NaiveTime::parse_from_str(time, "%H:%M").unwrap())
    }

    #[test]
    fn range_rejects_empty_and_inverted() {
        let t = utc("2026-01-01T00:00:00Z");
        assert!(TimeRange::new(t, t).is_err());
        assert!(TimeRange::new(t, t - Duration::minutes(1)).is_err());
    }

    #[test]
    fn instants_are_kept_to_the_microsecond() {
        let r = TimeRange::new(utc("2026-01-01T00:00:00.123456789Z"), utc("2026-01-01T00:00:01Z")).unwrap();
        assert_eq!(r.start(), utc("2026-01-01T00:00:00.123456Z"));
        assert_eq!(r.start_micros() % 1_000_000, 123_456);
        // A range shorter than a microsecond is empty once truncated.
        assert!(TimeRange::new(utc("2026-01-01T00:00:00.0000001Z"), utc("2026-01-01T00:00:00.0000009Z")).is_err());
    }

    #[test]
    fn touching_ranges_do_not_overlap() {
        let a = TimeRange::new(utc("2026-01-01T00:00:00Z"), utc("2026-01-01T01:00:00Z")).unwrap();
        let b = TimeRange::new(utc("2026-01-01T01:00:00Z"), utc("2026-01-01T02:00:00Z")).unwrap();
        assert!(!a.overlaps(&b));
        assert!(a.widened(Duration::zero(), Duration::seconds(1)).overlaps(&b));
    }

    #[test]
    fn sydney_spring_forward_gap_does_not_exist() {
        // 2026-10-04: clocks go from 02:00 AEST to 03:00 AEDT.
        assert_eq!(
            resolve_local(chrono_tz::Australia::Sydney, local("2026-10-04", "02:30")),
            None
        );
        assert_eq!(
            resolve_local_boundary(chrono_tz::Australia::Sydney, local("2026-10-04", "02:30")),
            utc("2026-10-03T16:00:00Z")
        );
    }

    #[test]
    fn sydney_repeated_hour_resolves_to_first_occurrence() {
        // 2026-04-05: 03:00 AEDT becomes 02:00 AEST; 02:30 happens twice.
        let t = resolve_local(chrono_tz::Australia::Sydney, local("2026-04-05", "02:30")).unwrap();
        assert_eq!(t, utc("2026-04-04T15:30:00Z"));
    }

    #[test]
    fn lord_howe_half_hour_shift() {
        // Lord Howe moves 30 minutes at 02:00 on the first Sunday of October.
        let tz = chrono_tz::Australia::Lord_Howe;
        assert_eq!(resolve_local(tz, local("2026-10-04", "02:15")), None);
        assert!(resolve_local(tz, local("2026-10-04", "02:30")).is_some());
    }

    #[test]
    fn unknown_zone_is_a_field_error() {
        assert_eq!(parse_zone("zone", "Mars/Olympus").unwrap_err().field(), "zone");
        assert_eq!(
            parse_zone("zone", "Australia/Adelaide").unwrap(),
            chrono_tz::Australia::Adelaide
        );
    }
}
