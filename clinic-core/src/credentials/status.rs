//! A credential's status on a date.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// The renewal rules, as data a practice can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RenewalRules {
    /// Warn this many days before expiry (default 30).
    pub warning_days: u32,
    /// Months of late period after a registration's expiry (AHPRA: one month, so general
    /// registration expiring 30 November may be renewed late to 31 December).
    pub registration_late_months: u32,
}

impl Default for RenewalRules {
    fn default() -> Self {
        Self {
            warning_days: 30,
            registration_late_months: 1,
        }
    }
}

impl RenewalRules {
    /// The rules by effective date: the Psychology Board's one-month late period (general
    /// registration renews by 30 November, late to 31 December) in force since national
    /// registration began on 1 July 2010 (Health Practitioner Regulation National Law).
    /// A practice adds a version when the Board changes its renewal rules.
    #[must_use]
    pub fn history() -> crate::versioned::Versioned<RenewalRules> {
        let mut v = crate::versioned::Versioned::new();
        // One open-ended version cannot overlap or be inverted.
        let _ = v.insert(crate::versioned::Effective {
            from: NaiveDate::from_ymd_opt(2010, 7, 1).unwrap_or(NaiveDate::MIN),
            to: None,
            value: RenewalRules::default(),
        });
        v
    }
}

/// Where a credential stands on a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CredentialStatus {
    /// In force, not expiring soon.
    Current,
    /// In force, expiring within the warning window.
    Expiring {
        /// Last valid day.
        expires_on: NaiveDate,
    },
    /// Expired, but in the late period: the practitioner may still practise.
    LatePeriod {
        /// Last day of the late period.
        until: NaiveDate,
    },
    /// Expired (after any late period).
    Expired {
        /// First day without it.
        since: NaiveDate,
    },
}

impl CredentialStatus {
    /// Whether the practitioner may practise on it.
    #[must_use]
    pub const fn may_practise(self) -> bool {
        !matches!(self, CredentialStatus::Expired { .. })
    }
}

/// The status on `date` of a credential valid to the end of `expires_on`, with a warning
/// window of `warning_days` and a late period of `late_months` (0 for insurance).
#[must_use]
pub fn status_on(expires_on: NaiveDate, date: NaiveDate, warning_days: u32, late_months: u32) -> CredentialStatus {
    if date <= expires_on {
        let days_left = (expires_on - date).num_days();
        if days_left < i64::from(warning_days) {
            CredentialStatus::Expiring { expires_on }
        } else {
            CredentialStatus::Current
        }
    } else {
        // A late period of one month starting the day after expiry: 30 November → 31
        // December, 15 March → 15 April.
        let late_end = if late_months == 0 {
            expires_on
        } else {
            expires_on
                .succ_opt()
                .and_then(|d| d.checked_add_months(Months::new(late_months)))
                .and_then(|d| d.pred_opt())
                .unwrap_or(expires_on)
        };
        if date <= late_end {
            CredentialStatus::LatePeriod { until: late_end }
        } else {
            CredentialStatus::Expired {
                since: late_end.succ_opt().unwrap_or(late_end),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn registration_expiring_30_november() {
        let exp = d("2026-11-30");
        assert_eq!(status_on(exp, d("2026-10-31"), 30, 1), CredentialStatus::Current);
        assert_eq!(
            status_on(exp, d("2026-11-01"), 30, 1),
            CredentialStatus::Expiring { expires_on: exp },
            "29 days left"
        );
        assert_eq!(
            status_on(exp, d("2026-11-29"), 30, 1),
            CredentialStatus::Expiring { expires_on: exp },
            "the day before"
        );
        assert_eq!(
            status_on(exp, d("2026-11-30"), 30, 1),
            CredentialStatus::Expiring { expires_on: exp },
            "the day of: still valid"
        );
        assert_eq!(
            status_on(exp, d("2026-12-01"), 30, 1),
            CredentialStatus::LatePeriod { until: d("2026-12-31") }
        );
        assert!(
            status_on(exp, d("2026-12-31"), 30, 1).may_practise(),
            "last day of the late period"
        );
        assert_eq!(
            status_on(exp, d("2027-01-01"), 30, 1),
            CredentialStatus::Expired { since: d("2027-01-01") }
        );
    }

    #[test]
    fn renewal_rules_are_looked_up_by_date() {
        let h = RenewalRules::history();
        assert_eq!(h.as_at(d("2026-11-30")), Some(&RenewalRules::default()));
        assert_eq!(h.as_at(d("2010-06-30")), None, "before national registration");
    }

    #[test]
    fn insurance_has_no_late_period() {
        let exp = d("2026-06-30");
        assert!(status_on(exp, d("2026-06-30"), 30, 0).may_practise());
        assert_eq!(
            status_on(exp, d("2026-07-01"), 30, 0),
            CredentialStatus::Expired { since: d("2026-07-01") }
        );
    }

    #[test]
    fn leap_day_expiry() {
        let exp = d("2028-02-29");
        assert!(status_on(exp, d("2028-02-29"), 30, 0).may_practise());
        assert!(!status_on(exp, d("2028-03-01"), 30, 0).may_practise());
        // A month's late period after 29 February runs 1 to 31 March.
        assert_eq!(
            status_on(exp, d("2028-03-01"), 30, 1),
            CredentialStatus::LatePeriod { until: d("2028-03-31") }
        );
        assert_eq!(
            status_on(d("2027-03-15"), d("2027-04-15"), 30, 1),
            CredentialStatus::LatePeriod { until: d("2027-04-15") }
        );
    }
}
