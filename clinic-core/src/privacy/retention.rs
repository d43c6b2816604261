//! How long health records are kept, and what that means for a deletion request.
//!
//! Sources (rule sheet §3 and §4): NSW *Health Records and Information Privacy Act 2002*
//! s25 [H1]; Victoria *Health Records Act 2001* HPP 4 [H2][H3]; ACT *Health Records
//! (Privacy and Access) Act 1997* Principle 4 [H4]; other states have no statute found, so
//! the same default applies (UNCERTAIN). The APPs give no right to erasure; APP 11.2 asks
//! for destruction only once the information is no longer needed and no law requires it
//! [P3][P4]. NSW answers access requests within 45 days [H5]; elsewhere APP 12's
//! "reasonable period" is taken as 30 days (OAIC guidance) [P1].

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::people::age_on;
use crate::practice::AuState;

/// What the adult retention period runs from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RetentionBasis {
    /// The last service provided (NSW, Vic, default).
    LastService,
    /// The last entry in the record (ACT).
    LastEntry,
}

/// A state's retention rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetentionRule {
    /// Years kept after the basis date.
    pub years: u32,
    /// What they run from.
    pub basis: RetentionBasis,
    /// For information collected while the patient was under 18: kept at least until this
    /// age.
    pub minor_until_age: u32,
    /// The law it comes from.
    pub source: &'static str,
}

/// The rule for `state`.
#[must_use]
pub const fn retention_rule(state: AuState) -> RetentionRule {
    match state {
        AuState::NSW => RetentionRule {
            years: 7,
            basis: RetentionBasis::LastService,
            minor_until_age: 25,
            source: "Health Records and Information Privacy Act 2002 (NSW) s25",
        },
        AuState::VIC => RetentionRule {
            years: 7,
            basis: RetentionBasis::LastService,
            minor_until_age: 25,
            source: "Health Records Act 2001 (Vic) HPP 4",
        },
        AuState::ACT => RetentionRule {
            years: 7,
            basis: RetentionBasis::LastEntry,
            minor_until_age: 25,
            source: "Health Records (Privacy and Access) Act 1997 (ACT) Principle 4",
        },
        _ => RetentionRule {
            years: 7,
            basis: RetentionBasis::LastService,
            minor_until_age: 25,
            source: "no state statute: 7 years, or to age 25 for minors (practice default)",
        },
    }
}

/// `date` plus `years`, on the anniversary; 29 February falls on 1 March in common years.
#[must_use]
pub fn anniversary(date: NaiveDate, years: u32) -> NaiveDate {
    let year = date.year().saturating_add(i32::try_from(years).unwrap_or(i32::MAX));
    NaiveDate::from_ymd_opt(year, date.month(), date.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
        .unwrap_or(NaiveDate::MAX)
}

/// The first day the record may be destroyed: the later of `years` after the basis date
/// and (when any information was collected before the patient turned 18) the date they
/// turn `minor_until_age`. The record is kept through the day before.
#[must_use]
pub fn retention_until(
    state: AuState,
    date_of_birth: NaiveDate,
    first_service: NaiveDate,
    last_service: NaiveDate,
    last_entry: NaiveDate,
) -> (NaiveDate, RetentionRule) {
    let rule = retention_rule(state);
    let basis = match rule.basis {
        RetentionBasis::LastService => last_service,
        RetentionBasis::LastEntry => last_entry.max(last_service),
    };
    let mut until = anniversary(basis, rule.years);
    if age_on(date_of_birth, first_service) < 18 {
        until = until.max(anniversary(date_of_birth, rule.minor_until_age));
    }
    (until, rule)
}

/// The answer to a request to delete a patient's records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeletionOutcome {
    /// The law requires the records to be kept until `until`: access is restricted
    /// meanwhile, correction (APP 13) is offered, and they are destroyed on that date.
    RefusedUntil {
        /// First day they may be destroyed.
        until: NaiveDate,
        /// The rule.
        rule: RetentionRule,
    },
    /// The retention period has passed: identifying data is destroyed or de-identified and
    /// the destruction is logged (name, period, date) without the data.
    Approved {
        /// The rule that has run its course.
        rule: RetentionRule,
    },
}

/// Judges a deletion request received on `today` against the retention rule.
#[must_use]
pub fn evaluate_deletion(today: NaiveDate, retention: (NaiveDate, RetentionRule)) -> DeletionOutcome {
    let (until, rule) = retention;
    if today < until {
        DeletionOutcome::RefusedUntil { until, rule }
    } else {
        DeletionOutcome::Approved { rule }
    }
}

/// The date an access request received on `received_on` must be answered by.
#[must_use]
pub fn access_due_on(state: AuState, received_on: NaiveDate) -> NaiveDate {
    let days = if state == AuState::NSW { 45 } else { 30 };
    received_on + Duration::days(days)
}

/// A patient's request that the practice destroy or de-identify their records (APP 11.2
/// as the patient asks it): recorded when received, carried out or refused by a manager.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletionRequest {
    /// Received (the practice's local date).
    pub received_on: NaiveDate,
    /// When it was carried out, if it was.
    pub carried_out_on: Option<NaiveDate>,
}

/// A patient's request for access to their records (APP 12).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessRequest {
    /// Received.
    pub received_on: NaiveDate,
    /// Due.
    pub due_on: NaiveDate,
    /// When and how it was answered: `[date, how]` (described as two strings, since an
    /// OpenAPI 3.1 schema has no tuple of a date and a text other than `prefixItems`).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>, min_items = 2, max_items = 2))]
    pub provided: Option<(NaiveDate, String)>,
}

impl AccessRequest {
    /// A new request, with its due date by the practice's state.
    #[must_use]
    pub fn new(state: AuState, received_on: NaiveDate) -> Self {
        Self {
            received_on,
            due_on: access_due_on(state, received_on),
            provided: None,
        }
    }

    /// Unanswered after its due date.
    #[must_use]
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.provided.is_none() && today > self.due_on
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn adult_seven_year_anniversary() {
        let (until, rule) = retention_until(
            AuState::NSW,
            d("1980-05-05"),
            d("2020-01-10"),
            d("2026-11-23"),
            d("2026-11-23"),
        );
        assert_eq!(until, d("2033-11-23"));
        assert_eq!(
            evaluate_deletion(d("2033-11-22"), (until, rule)),
            DeletionOutcome::RefusedUntil { until, rule }
        );
        assert_eq!(
            evaluate_deletion(d("2033-11-23"), (until, rule)),
            DeletionOutcome::Approved { rule }
        );
    }

    #[test]
    fn first_seen_as_a_minor_kept_to_25() {
        // First seen at 17, last seen at 19: 7 years after is age 26, later than 25.
        let dob = d("2000-03-10");
        let (until, _) = retention_until(AuState::VIC, dob, d("2017-06-01"), d("2019-06-01"), d("2019-06-01"));
        assert_eq!(until, d("2026-06-01"));
        // Last seen at 14: age 25 is later than 7 years after.
        let (until, _) = retention_until(AuState::VIC, dob, d("2013-06-01"), d("2014-06-01"), d("2014-06-01"));
        assert_eq!(until, d("2025-03-10"), "the 25th birthday");
    }

    #[test]
    fn turning_18_between_services() {
        // First service the day before the 18th birthday: collected as a minor.
        let dob = d("2008-11-24");
        let (minor, _) = retention_until(AuState::NSW, dob, d("2026-11-23"), d("2026-11-30"), d("2026-11-30"));
        assert_eq!(
            minor,
            d("2033-11-30"),
            "7 years after the last service is later than 25 here"
        );
        let (minor, _) = retention_until(
            AuState::NSW,
            d("2010-01-01"),
            d("2026-11-23"),
            d("2026-11-23"),
            d("2026-11-23"),
        );
        assert_eq!(minor, d("2035-01-01"), "age 25");
        // First service on the 18th birthday: an adult's record.
        let (adult, _) = retention_until(
            AuState::NSW,
            d("2010-01-01"),
            d("2028-01-01"),
            d("2028-01-01"),
            d("2028-01-01"),
        );
        assert_eq!(adult, d("2035-01-01"));
    }

    #[test]
    fn act_counts_from_the_last_entry() {
        let (until, rule) = retention_until(
            AuState::ACT,
            d("1980-01-01"),
            d("2020-01-01"),
            d("2024-01-01"),
            d("2025-06-30"),
        );
        assert_eq!((until, rule.basis), (d("2032-06-30"), RetentionBasis::LastEntry));
    }

    #[test]
    fn leap_day_anniversary() {
        assert_eq!(anniversary(d("2024-02-29"), 7), d("2031-03-01"));
        assert_eq!(anniversary(d("2024-02-29"), 4), d("2028-02-29"));
        let (until, _) = retention_until(
            AuState::QLD,
            d("2004-02-29"),
            d("2020-01-01"),
            d("2021-01-01"),
            d("2021-01-01"),
        );
        assert_eq!(
            until,
            d("2029-03-01"),
            "25th birthday of a leap-day baby in a common year"
        );
    }

    #[test]
    fn access_requests_due_by_state() {
        assert_eq!(access_due_on(AuState::NSW, d("2026-11-23")), d("2027-01-07"));
        let r = AccessRequest::new(AuState::VIC, d("2026-11-23"));
        assert_eq!(r.due_on, d("2026-12-23"));
        assert!(!r.is_overdue(d("2026-12-23")));
        assert!(r.is_overdue(d("2026-12-24")));
    }

    proptest! {
        /// Adding a later service never moves the retention date earlier.
        #[test]
        fn retention_never_moves_earlier(dob_days in 0i64..30_000, first in 0i64..20_000, gaps in proptest::collection::vec(0i64..2_000, 1..10), st in 0usize..8) {
            let state = AuState::ALL[st];
            let dob = d("1930-01-01") + Duration::days(dob_days);
            let first = dob + Duration::days(first);
            let mut last = first;
            let mut prev = retention_until(state, dob, first, last, last).0;
            for g in gaps {
                last += Duration::days(g);
                let now = retention_until(state, dob, first, last, last).0;
                prop_assert!(now >= prev);
                prev = now;
            }
        }
    }
}
