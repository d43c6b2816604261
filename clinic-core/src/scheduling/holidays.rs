//! Public holidays per state, as data.
//!
//! The shipped table (`holidays.txt`, embedded at compile time) covers 2025–2027 for every
//! state and territory. Holidays are gazetted by each state and substitute days change by
//! proclamation, so the table is data a practice can replace at run time with
//! [`HolidayCalendar::parse`]; it is never a constant in code.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::practice::AuState;

const SHIPPED: &str = include_str!("holidays.txt");

/// A malformed holiday table: the line and what was wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("holiday table line {line}: {problem}")]
pub struct HolidayTableError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub problem: String,
}

impl HolidayTableError {
    /// Stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        "holiday_table_invalid"
    }
}

/// A public holiday.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Holiday {
    /// Its date.
    pub date: NaiveDate,
    /// Its name, e.g. "Labour Day".
    pub name: String,
}

/// Public holidays by state and date.
#[derive(Clone, Debug, Default)]
pub struct HolidayCalendar {
    by_state_date: HashMap<(AuState, NaiveDate), String>,
}

impl HolidayCalendar {
    /// The table shipped with the crate (2025–2027, every state and territory).
    ///
    /// # Panics
    /// Never at run time for the shipped table: its parse is covered by the unit test
    /// `shipped_table_parses`, so a malformed edit fails the build's tests.
    #[must_use]
    pub fn australia() -> Self {
        #[allow(clippy::expect_used)]
        Self::parse(SHIPPED).expect("the shipped holiday table is checked by a unit test")
    }

    /// Parses a table in the shipped format: `DATE  SCOPE  NAME` a line, where SCOPE is
    /// `ALL` or comma-separated state codes; blank lines and `#` comments are skipped.
    ///
    /// # Errors
    /// [`HolidayTableError`] naming the first bad line: a bad date, an unknown state, a
    /// missing name, or a state given the same date twice.
    pub fn parse(text: &str) -> Result<Self, HolidayTableError> {
        let mut by_state_date = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |problem: &str| HolidayTableError {
                line,
                problem: problem.to_owned(),
            };
            let t = raw.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let mut fields = t.split(['\t', ' ']).filter(|f| !f.is_empty());
            let date: NaiveDate = fields
                .next()
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| err("the first field must be a date YYYY-MM-DD"))?;
            let scope = fields
                .next()
                .ok_or_else(|| err("missing the scope (ALL or state codes)"))?;
            let name = fields.collect::<Vec<_>>().join(" ");
            if name.is_empty() {
                return Err(err("missing the holiday's name"));
            }
            let states: Vec<AuState> = if scope.eq_ignore_ascii_case("ALL") {
                AuState::ALL.to_vec()
            } else {
                scope
                    .split(',')
                    .map(|s| s.parse::<AuState>().map_err(|_| err(&format!("unknown state '{s}'"))))
                    .collect::<Result<_, _>>()?
            };
            for st in states {
                if by_state_date.insert((st, date), name.clone()).is_some() {
                    return Err(err(&format!("{st} already has a holiday on {date}")));
                }
            }
        }
        Ok(Self { by_state_date })
    }

    /// The holiday in `state` on `date`, if any.
    #[must_use]
    pub fn holiday(&self, state: AuState, date: NaiveDate) -> Option<Holiday> {
        self.by_state_date.get(&(state, date)).map(|name| Holiday {
            date,
            name: name.clone(),
        })
    }

    /// True when `date` is a public holiday in `state`.
    #[must_use]
    pub fn is_holiday(&self, state: AuState, date: NaiveDate) -> bool {
        self.by_state_date.contains_key(&(state, date))
    }

    /// Adds or replaces one holiday (a practice's own closure day, say).
    pub fn insert(&mut self, state: AuState, date: NaiveDate, name: &str) {
        self.by_state_date.insert((state, date), name.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn shipped_table_parses() {
        let cal = HolidayCalendar::parse(SHIPPED).unwrap();
        assert!(cal.by_state_date.len() > 200);
    }

    #[test]
    fn national_and_state_days() {
        let cal = HolidayCalendar::australia();
        for st in AuState::ALL {
            for y in [2025, 2026, 2027] {
                assert!(
                    cal.is_holiday(st, NaiveDate::from_ymd_opt(y, 12, 25).unwrap()),
                    "{st} {y}"
                );
                assert!(
                    cal.is_holiday(st, NaiveDate::from_ymd_opt(y, 1, 1).unwrap()),
                    "{st} {y}"
                );
            }
        }
        assert_eq!(
            cal.holiday(AuState::VIC, d("2026-11-03")).unwrap().name,
            "Melbourne Cup Day"
        );
        assert!(!cal.is_holiday(AuState::NSW, d("2026-11-03")));
        // Labour Day differs by state.
        assert!(cal.is_holiday(AuState::WA, d("2026-03-02")));
        assert!(cal.is_holiday(AuState::QLD, d("2026-05-04")));
        assert!(cal.is_holiday(AuState::NSW, d("2026-10-05")));
        assert!(!cal.is_holiday(AuState::NSW, d("2026-10-06")));
    }

    #[test]
    fn every_state_has_every_year() {
        let cal = HolidayCalendar::australia();
        for st in AuState::ALL {
            for y in 2025..=2027 {
                let n = cal
                    .by_state_date
                    .keys()
                    .filter(|(s, dt)| *s == st && dt.format("%Y").to_string() == y.to_string())
                    .count();
                assert!(n >= 8, "{st} {y} has only {n}");
            }
        }
    }

    #[test]
    fn errors_name_the_line() {
        let e = HolidayCalendar::parse("# c\n2026-02-30  ALL  Nope").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            HolidayCalendar::parse("2026-01-01  XX  Day")
                .unwrap_err()
                .problem
                .contains("unknown state")
        );
        assert!(HolidayCalendar::parse("2026-01-01  NSW").is_err());
        assert!(
            HolidayCalendar::parse("2026-01-01  NSW  A\n2026-01-01  ALL  B")
                .unwrap_err()
                .line
                == 2
        );
    }
}
