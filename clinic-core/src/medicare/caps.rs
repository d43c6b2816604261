//! Annual caps and referral-course rules, as versioned data.

use serde::{Deserialize, Serialize};

use super::catalogue::CapKind;
use super::table::{TableError, rows};
use crate::versioned::{Effective, VersionError, Versioned};
use chrono::NaiveDate;

const SHIPPED_CAPS: &str = include_str!("caps.txt");

/// The Better Access limits in force on a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapRule {
    /// Individual sessions per patient per calendar year.
    pub individual: u16,
    /// Group sessions per patient per calendar year.
    pub group: u16,
    /// Services one referral course covers before the referrer reviews.
    pub per_referral_course: u16,
    /// Whether a GP's referral must come from the patient's MyMedicare practice or usual
    /// medical practitioner (from 1 November 2025).
    pub gp_referral_needs_mymedicare: bool,
}

impl CapRule {
    /// The annual cap of `kind`.
    #[must_use]
    pub const fn cap(&self, kind: CapKind) -> u16 {
        match kind {
            CapKind::Individual => self.individual,
            CapKind::Group => self.group,
        }
    }
}

/// The cap rules by effective date.
#[derive(Clone, Debug, Default)]
pub struct CapTable {
    rules: Versioned<CapRule>,
}

impl CapTable {
    /// The table shipped with the crate (2018 onwards, with the 2020–2022 additional 10).
    ///
    /// # Panics
    /// Never at run time: covered by the unit test `shipped_caps_parse`.
    #[must_use]
    pub fn shipped() -> Self {
        #[allow(clippy::expect_used)]
        Self::parse(SHIPPED_CAPS).expect("the shipped caps table is checked by a unit test")
    }

    /// Parses a table in the shipped format (see `caps.txt`).
    ///
    /// # Errors
    /// [`TableError`] naming the line and field: bad dates, a cap of 0, overlapping ranges.
    pub fn parse(text: &str) -> Result<Self, TableError> {
        let mut rules = Versioned::new();
        for row in rows(text, 6)? {
            let from = row.date(0, "effective_from")?;
            let to = row.optional_date(1, "effective_to")?;
            let individual: u16 = row.number(2, "individual")?;
            let group: u16 = row.number(3, "group")?;
            let per_referral_course: u16 = row.number(4, "per_referral_course")?;
            for (field, v) in [
                ("individual", individual),
                ("group", group),
                ("per_referral_course", per_referral_course),
            ] {
                if v == 0 || v > 100 {
                    return Err(row.err(field, "must be between 1 and 100"));
                }
            }
            let gp_referral_needs_mymedicare = row.flag(5, "gp_referral_needs_mymedicare")?;
            let rule = CapRule {
                individual,
                group,
                per_referral_course,
                gp_referral_needs_mymedicare,
            };
            rules.insert(Effective { from, to, value: rule }).map_err(|e| match e {
                VersionError::Inverted => row.err("effective_to", "is before effective_from"),
                VersionError::Overlap { other_from } => row.err(
                    "effective_from",
                    format!("overlaps the rule in force from {other_from}"),
                ),
            })?;
        }
        Ok(Self { rules })
    }

    /// The rule in force on `date`.
    #[must_use]
    pub fn as_at(&self, date: NaiveDate) -> Option<&CapRule> {
        self.rules.as_at(date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn shipped_caps_parse() {
        CapTable::parse(SHIPPED_CAPS).unwrap();
    }

    #[test]
    fn temporary_twenty_and_todays_ten_replay() {
        let t = CapTable::shipped();
        assert_eq!(t.as_at(d("2020-10-08")).unwrap().individual, 10);
        assert_eq!(t.as_at(d("2020-10-09")).unwrap().individual, 20);
        assert_eq!(t.as_at(d("2022-12-31")).unwrap().individual, 20);
        assert_eq!(t.as_at(d("2023-01-01")).unwrap().individual, 10);
        assert_eq!(t.as_at(d("2026-11-23")).unwrap().group, 10);
        assert!(!t.as_at(d("2025-10-31")).unwrap().gp_referral_needs_mymedicare);
        assert!(t.as_at(d("2025-11-01")).unwrap().gp_referral_needs_mymedicare);
        assert!(t.as_at(d("2017-12-31")).is_none());
    }

    #[test]
    fn bad_rows_name_line_and_field() {
        let e = CapTable::parse("2023-01-01 | - | 0 | 10 | 6 | no").unwrap_err();
        assert_eq!((e.line, e.field), (1, "individual"));
        let e = CapTable::parse("2023-01-01 | - | 10 | 10 | 6 | maybe").unwrap_err();
        assert_eq!(e.field, "gp_referral_needs_mymedicare");
        let e = CapTable::parse("2023-01-01 | - | 10 | 10 | 6 | no\n2024-01-01 | - | 10 | 10 | 6 | no").unwrap_err();
        assert_eq!((e.line, e.field), (2, "effective_from"));
    }
}
