//! Practitioners and the patient-facing directory.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::identifiers::{AhpraNumber, ProviderNumber};
use crate::error::FieldError;
use crate::ids::{LocationId, PracticeId, PractitionerId, UserId};
use crate::practice::non_blank;

/// The kind of practitioner. It decides which MBS items they may claim and which records
/// they may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PractitionerKind {
    /// A psychologist with general registration (Better Access focussed psychological
    /// strategies items, e.g. 80110).
    RegisteredPsychologist,
    /// A psychologist with the PsyBA clinical psychology endorsement (psychological therapy
    /// items, e.g. 80010).
    ClinicalPsychologist,
    /// A medical practitioner.
    Doctor,
    /// A technician (tests, supplies, front desk in general clinics); not AHPRA-registered.
    Technician,
}

impl PractitionerKind {
    /// Whether AHPRA registration is required to practise.
    #[must_use]
    pub const fn requires_registration(self) -> bool {
        !matches!(self, PractitionerKind::Technician)
    }
}

/// How a practitioner sees patients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsultMode {
    /// At a location.
    InPerson,
    /// By video or phone.
    Telehealth,
}

/// The patient-facing profile used by "find a psychologist".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PractitionerProfile {
    /// Areas of practice, e.g. "anxiety", "trauma".
    pub specialisations: BTreeSet<String>,
    /// Languages spoken, e.g. "English", "Vietnamese".
    pub languages: BTreeSet<String>,
    /// Modes offered.
    pub modes: BTreeSet<ConsultMode>,
    /// A short biography.
    pub bio: String,
}

/// Why a practitioner may not currently be booked. Set by the credentials compliance sweep
/// (an expired registration or insurance) or by a manager, cleared on reinstatement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suspension {
    /// A stable code such as `registration_lapsed` or `insurance_expired`.
    pub reason_code: String,
    /// The first local date the suspension applies.
    pub from: NaiveDate,
}

/// A practitioner of a practice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Practitioner {
    /// Id.
    pub id: PractitionerId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The staff account that signs in as this practitioner.
    pub user_id: Option<UserId>,
    /// Kind.
    pub kind: PractitionerKind,
    /// Name as shown to patients, e.g. "Dr Sam Lee".
    pub display_name: String,
    /// AHPRA registration number (required for every kind but technicians).
    pub ahpra_number: Option<AhpraNumber>,
    /// Medicare provider numbers, one per location the practitioner works at.
    pub provider_numbers: Vec<(LocationId, ProviderNumber)>,
    /// Directory profile.
    pub profile: PractitionerProfile,
    /// Present while the practitioner may not be booked.
    pub suspension: Option<Suspension>,
    /// The generation of the practitioner's calendar feed link: renewing the link moves it
    /// on, and every earlier link stops working (a phone lost, a calendar shared by
    /// mistake).
    #[serde(default)]
    pub calendar_feed: u32,
}

impl Practitioner {
    /// A validated practitioner.
    ///
    /// # Errors
    /// [`FieldError`] on `display_name` (blank), `ahpra_number` (missing for a registered
    /// kind, or of another profession: psychologists need `PSY`, doctors `MED`), or
    /// `provider_numbers` (two for one location).
    pub fn new(
        id: PractitionerId,
        practice_id: PracticeId,
        kind: PractitionerKind,
        display_name: &str,
        ahpra_number: Option<AhpraNumber>,
        provider_numbers: Vec<(LocationId, ProviderNumber)>,
        profile: PractitionerProfile,
    ) -> Result<Self, FieldError> {
        let display_name = non_blank("display_name", display_name, 120)?;
        match (&ahpra_number, kind) {
            (None, k) if k.requires_registration() => {
                return Err(FieldError::new(
                    "ahpra_number",
                    "is required for this kind of practitioner",
                ));
            }
            (Some(n), PractitionerKind::RegisteredPsychologist | PractitionerKind::ClinicalPsychologist)
                if n.profession() != "PSY" =>
            {
                return Err(FieldError::new(
                    "ahpra_number",
                    "must be a psychology registration (PSY...)",
                ));
            }
            (Some(n), PractitionerKind::Doctor) if n.profession() != "MED" => {
                return Err(FieldError::new(
                    "ahpra_number",
                    "must be a medical registration (MED...)",
                ));
            }
            _ => {}
        }
        let mut seen = BTreeSet::new();
        if !provider_numbers.iter().all(|(l, _)| seen.insert(*l)) {
            return Err(FieldError::new("provider_numbers", "has two numbers for one location"));
        }
        Ok(Self {
            id,
            practice_id,
            user_id: None,
            kind,
            display_name,
            ahpra_number,
            provider_numbers,
            profile,
            suspension: None,
            calendar_feed: 0,
        })
    }

    /// The provider number for `location`, if the practitioner has one there.
    #[must_use]
    pub fn provider_number_at(&self, location: LocationId) -> Option<&ProviderNumber> {
        self.provider_numbers
            .iter()
            .find(|(l, _)| *l == location)
            .map(|(_, n)| n)
    }

    /// True when the practitioner is suspended on `date`.
    #[must_use]
    pub fn is_suspended_on(&self, date: NaiveDate) -> bool {
        self.suspension.as_ref().is_some_and(|s| s.from <= date)
    }
}

/// A patient's directory search: every criterion given must match (case-insensitive).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DirectoryQuery {
    /// Kind.
    pub kind: Option<PractitionerKind>,
    /// Specialisation.
    pub specialisation: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Mode.
    pub mode: Option<ConsultMode>,
}

/// The practitioners that match `query`, suspended ones left out, sorted by name.
#[must_use]
pub fn search_directory<'a>(
    practitioners: &'a [Practitioner],
    query: &DirectoryQuery,
    today: NaiveDate,
) -> Vec<&'a Practitioner> {
    let has = |set: &BTreeSet<String>, want: &Option<String>| {
        want.as_ref()
            .is_none_or(|w| set.iter().any(|s| s.eq_ignore_ascii_case(w.trim())))
    };
    let mut found: Vec<&Practitioner> = practitioners
        .iter()
        .filter(|p| !p.is_suspended_on(today))
        .filter(|p| query.kind.is_none_or(|k| p.kind == k))
        .filter(|p| has(&p.profile.specialisations, &query.specialisation))
        .filter(|p| has(&p.profile.languages, &query.language))
        .filter(|p| query.mode.is_none_or(|m| p.profile.modes.contains(&m)))
        .collect();
    found.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn pr(kind: PractitionerKind, ahpra: Option<&str>) -> Result<Practitioner, FieldError> {
        Practitioner::new(
            PractitionerId::from_uuid(Uuid::nil()),
            PracticeId::from_uuid(Uuid::nil()),
            kind,
            "Sam Lee",
            ahpra.map(|a| AhpraNumber::parse(a).unwrap()),
            vec![],
            PractitionerProfile::default(),
        )
    }

    #[test]
    fn registration_rules_by_kind() {
        assert!(pr(PractitionerKind::ClinicalPsychologist, Some("PSY0001234567")).is_ok());
        assert_eq!(
            pr(PractitionerKind::RegisteredPsychologist, None).unwrap_err().field(),
            "ahpra_number"
        );
        assert!(pr(PractitionerKind::RegisteredPsychologist, Some("MED0001234567")).is_err());
        assert!(pr(PractitionerKind::Doctor, Some("MED0001234567")).is_ok());
        assert!(pr(PractitionerKind::Technician, None).is_ok());
    }

    #[test]
    fn suspension_applies_from_its_date() {
        let mut p = pr(PractitionerKind::Technician, None).unwrap();
        p.suspension = Some(Suspension {
            reason_code: "insurance_expired".into(),
            from: "2026-12-01".parse().unwrap(),
        });
        assert!(!p.is_suspended_on("2026-11-30".parse().unwrap()));
        assert!(p.is_suspended_on("2026-12-01".parse().unwrap()));
    }

    #[test]
    fn directory_filters_and_hides_suspended() {
        let mut a = pr(PractitionerKind::RegisteredPsychologist, Some("PSY0001234567")).unwrap();
        a.display_name = "B".into();
        a.profile.languages.insert("Vietnamese".into());
        a.profile.modes.insert(ConsultMode::Telehealth);
        let mut b = a.clone();
        b.display_name = "A".into();
        b.profile.languages.clear();
        let mut c = a.clone();
        c.suspension = Some(Suspension {
            reason_code: "x".into(),
            from: "2020-01-01".parse().unwrap(),
        });
        let all = [a, b, c];
        let today = "2026-11-23".parse().unwrap();
        let q = DirectoryQuery {
            language: Some("vietnamese".into()),
            ..Default::default()
        };
        assert_eq!(search_directory(&all, &q, today).len(), 1);
        let names: Vec<_> = search_directory(&all, &DirectoryQuery::default(), today)
            .iter()
            .map(|p| p.display_name.clone())
            .collect();
        assert_eq!(names, ["A", "B"]);
    }
}
