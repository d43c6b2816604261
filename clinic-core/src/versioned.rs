//! Rule tables that change by date: each value has an effective range, and a lookup
//! "as at" a date picks the one in force.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A value in force from `from` to `to` (both inclusive; `to` open when `None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Effective<T> {
    /// First day in force.
    pub from: NaiveDate,
    /// Last day in force, if it has ended.
    pub to: Option<NaiveDate>,
    /// The value.
    pub value: T,
}

impl<T> Effective<T> {
    /// Whether in force on `date`.
    #[must_use]
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.from <= date && self.to.is_none_or(|to| date <= to)
    }

    fn overlaps(&self, other: &Effective<T>) -> bool {
        self.from <= other.to.unwrap_or(NaiveDate::MAX) && other.from <= self.to.unwrap_or(NaiveDate::MAX)
    }
}

/// Why a set of effective ranges is inconsistent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// A range ends before it starts.
    #[error("effective_to is before effective_from")]
    Inverted,
    /// Two ranges share a day.
    #[error("effective range overlaps another version in force from {other_from}")]
    Overlap {
        /// The start of the version it overlaps.
        other_from: NaiveDate,
    },
}

/// Versions of one rule, sorted by start, never overlapping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Versioned<T> {
    versions: Vec<Effective<T>>,
}

impl<T> Default for Versioned<T> {
    fn default() -> Self {
        Self { versions: Vec::new() }
    }
}

impl<T> Versioned<T> {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a version.
    ///
    /// # Errors
    /// [`VersionError`] when its range is inverted or overlaps a version already present;
    /// the table is unchanged.
    pub fn insert(&mut self, version: Effective<T>) -> Result<(), VersionError> {
        if version.to.is_some_and(|to| to < version.from) {
            return Err(VersionError::Inverted);
        }
        if let Some(other) = self.versions.iter().find(|v| v.overlaps(&version)) {
            return Err(VersionError::Overlap { other_from: other.from });
        }
        let at = self.versions.partition_point(|v| v.from < version.from);
        self.versions.insert(at, version);
        Ok(())
    }

    /// The value in force on `date`.
    #[must_use]
    pub fn as_at(&self, date: NaiveDate) -> Option<&T> {
        let i = self.versions.partition_point(|v| v.from <= date);
        i.checked_sub(1)
            .map(|i| &self.versions[i])
            .filter(|v| v.covers(date))
            .map(|v| &v.value)
    }

    /// Every version, oldest first.
    #[must_use]
    pub fn versions(&self) -> &[Effective<T>] {
        &self.versions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn as_at_picks_the_version_in_force_at_the_edges() {
        let mut v = Versioned::new();
        v.insert(Effective {
            from: d("2026-07-01"),
            to: None,
            value: 2,
        })
        .unwrap();
        v.insert(Effective {
            from: d("2025-07-01"),
            to: Some(d("2026-06-30")),
            value: 1,
        })
        .unwrap();
        assert_eq!(v.as_at(d("2025-06-30")), None);
        assert_eq!(v.as_at(d("2025-07-01")), Some(&1));
        assert_eq!(v.as_at(d("2026-06-30")), Some(&1));
        assert_eq!(v.as_at(d("2026-07-01")), Some(&2));
        assert_eq!(v.as_at(d("2099-01-01")), Some(&2));
    }

    #[test]
    fn gaps_have_no_value() {
        let mut v = Versioned::new();
        v.insert(Effective {
            from: d("2020-01-01"),
            to: Some(d("2020-12-31")),
            value: 1,
        })
        .unwrap();
        v.insert(Effective {
            from: d("2022-01-01"),
            to: None,
            value: 2,
        })
        .unwrap();
        assert_eq!(v.as_at(d("2021-06-01")), None);
    }

    #[test]
    fn overlaps_and_inversions_are_refused() {
        let mut v = Versioned::new();
        v.insert(Effective {
            from: d("2025-07-01"),
            to: Some(d("2026-06-30")),
            value: 1,
        })
        .unwrap();
        assert_eq!(
            v.insert(Effective {
                from: d("2026-06-30"),
                to: None,
                value: 2
            }),
            Err(VersionError::Overlap {
                other_from: d("2025-07-01")
            })
        );
        assert_eq!(
            v.insert(Effective {
                from: d("2027-01-01"),
                to: Some(d("2026-01-01")),
                value: 3
            }),
            Err(VersionError::Inverted)
        );
        assert_eq!(v.versions().len(), 1);
    }
}
