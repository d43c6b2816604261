//! Guardians acting for a minor: a parent's own account reading and booking for their
//! child.
//!
//! A guardian's authority over a child's record lasts while the child is a minor and has
//! not been assessed as able to decide for themselves:
//! - the age of majority is 18 in every Australian jurisdiction (for example the Age of
//!   Majority Act 1977 (Vic) s 3 and the Minors (Property and Contracts) Act 1970 (NSW)
//!   s 9); from the 18th birthday (reached at the start of the day, 29 February birthdays
//!   on 1 March in common years, as [`age_on`] counts) the patient alone manages their
//!   record;
//! - a minor a clinician assessed as having capacity (a "mature minor", the OAIC's APP
//!   Guidelines chapter B, B.57–B.58: capacity of a person under 18 is decided case by
//!   case) manages their own record too, and a guardian's access ends with that assessment.
//!
//! Authority is checked when it is granted and again whenever a guardian's access is
//! issued, so a birthday or an assessment ends it without anyone unlinking the account.

use chrono::NaiveDate;

use super::{Patient, age_on};
use crate::ids::PatientId;

/// The age at which a patient manages their own record (see the module documentation).
pub const AGE_OF_MAJORITY: u32 = 18;

/// Why a guardian may not act for a patient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GuardianshipError {
    /// The patient is 18 or over.
    #[error("the patient is 18 or over and manages their own record")]
    Adult,
    /// The patient was assessed as a mature minor.
    #[error("the patient was assessed as able to decide for themselves and manages their own record")]
    MatureMinor,
    /// The account is the patient's own.
    #[error("an account cannot be the guardian of its own patient record")]
    OwnRecord,
}

impl GuardianshipError {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Adult => "guardian_patient_adult",
            Self::MatureMinor => "guardian_patient_mature_minor",
            Self::OwnRecord => "guardian_own_record",
        }
    }
}

/// Whether a guardian may act for `child` on `today` (the practice's calendar date).
///
/// # Errors
/// [`GuardianshipError::Adult`] from the 18th birthday, [`GuardianshipError::MatureMinor`]
/// for an assessed mature minor.
pub fn guardian_may_act(child: &Patient, today: NaiveDate) -> Result<(), GuardianshipError> {
    if age_on(child.date_of_birth, today) >= AGE_OF_MAJORITY {
        return Err(GuardianshipError::Adult);
    }
    if child.mature_minor {
        return Err(GuardianshipError::MatureMinor);
    }
    Ok(())
}

/// Whether the account that is patient `own` (if any) may become a guardian of `child` on
/// `today`: [`guardian_may_act`], and never of its own record.
///
/// # Errors
/// As [`guardian_may_act`], or [`GuardianshipError::OwnRecord`].
pub fn may_become_guardian(own: Option<PatientId>, child: &Patient, today: NaiveDate) -> Result<(), GuardianshipError> {
    if own == Some(child.id) {
        return Err(GuardianshipError::OwnRecord);
    }
    guardian_may_act(child, today)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::PracticeId;
    use crate::people::{ContactPerson, PatientSpec, Phone};
    use uuid::Uuid;

    fn child(born: &str, mature: bool) -> Patient {
        let mut spec = PatientSpec::new("Mia", "Nguyen", day(born));
        spec.guardian = Some(ContactPerson {
            name: "An Nguyen".into(),
            relationship: "mother".into(),
            phone: Phone::parse("0412345678").unwrap(),
            email: None,
        });
        spec.mature_minor = mature;
        Patient::register(
            PatientId::from_uuid(Uuid::from_u128(1)),
            PracticeId::from_uuid(Uuid::nil()),
            spec,
            day("2026-01-01"),
        )
        .unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn authority_ends_on_the_eighteenth_birthday() {
        let c = child("2010-06-15", false);
        assert_eq!(guardian_may_act(&c, day("2028-06-14")), Ok(()));
        assert_eq!(guardian_may_act(&c, day("2028-06-15")), Err(GuardianshipError::Adult));
    }

    #[test]
    fn a_leap_day_child_comes_of_age_on_the_first_of_march() {
        let c = child("2008-02-29", false);
        assert_eq!(guardian_may_act(&c, day("2026-02-28")), Ok(()));
        assert_eq!(guardian_may_act(&c, day("2026-03-01")), Err(GuardianshipError::Adult));
    }

    #[test]
    fn a_mature_minor_manages_their_own_record() {
        let c = child("2011-01-01", true);
        assert_eq!(
            guardian_may_act(&c, day("2026-12-01")),
            Err(GuardianshipError::MatureMinor)
        );
    }

    #[test]
    fn nobody_guards_their_own_record() {
        let c = child("2015-01-01", false);
        assert_eq!(
            may_become_guardian(Some(c.id), &c, day("2026-12-01")),
            Err(GuardianshipError::OwnRecord)
        );
        assert_eq!(
            may_become_guardian(Some(PatientId::from_uuid(Uuid::from_u128(2))), &c, day("2026-12-01")),
            Ok(())
        );
        assert_eq!(may_become_guardian(None, &c, day("2026-12-01")), Ok(()));
    }

    proptest::proptest! {
        /// Authority lapses exactly once, on the 18th birthday, and never returns.
        #[test]
        fn authority_lapses_once_on_the_eighteenth_birthday(born in 0u32..8000, later in 0i64..9000) {
            let dob = day("2000-01-01") + chrono::Duration::days(i64::from(born));
            let c = child(&dob.to_string(), false);
            let first = (0..7000)
                .map(|d| dob + chrono::Duration::days(d))
                .find(|d| guardian_may_act(&c, *d).is_err())
                .unwrap();
            proptest::prop_assert_eq!(age_on(dob, first), AGE_OF_MAJORITY);
            proptest::prop_assert_eq!(age_on(dob, first.pred_opt().unwrap()), AGE_OF_MAJORITY - 1);
            proptest::prop_assert!(guardian_may_act(&c, first + chrono::Duration::days(later)).is_err());
        }
    }
}
