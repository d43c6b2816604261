//! Patients.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::contact::{Email, Phone};
use super::identifiers::{MedicareCard, ProviderNumber};
use crate::error::FieldError;
use crate::ids::{PatientId, PracticeId};
use crate::practice::non_blank;

/// A person's name as the patient gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonName {
    /// Given name(s).
    pub given: String,
    /// Family name.
    pub family: String,
}

impl PersonName {
    /// A validated name: both parts non-blank, at most 100 characters each.
    ///
    /// # Errors
    /// [`FieldError`] on `given_name` or `family_name`.
    pub fn new(given: &str, family: &str) -> Result<Self, FieldError> {
        Ok(Self {
            given: non_blank("given_name", given, 100)?,
            family: non_blank("family_name", family, 100)?,
        })
    }
}

/// A private health fund membership.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthFund {
    /// Fund name, e.g. "Medibank".
    pub fund: String,
    /// Member number as printed on the card.
    pub member_number: String,
}

/// A Department of Veterans' Affairs file number (e.g. `NX123456`): a state letter
/// (N, V, Q, W, S, T), then up to three letters for the war code and digits, 8 or 9
/// characters in all.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct DvaNumber(String);

impl DvaNumber {
    /// Parses a DVA file number.
    ///
    /// # Errors
    /// [`FieldError`] on `dva_number` when the format does not match.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let t: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let b = t.as_bytes();
        let ok = (8..=9).contains(&b.len())
            && matches!(b[0], b'N' | b'V' | b'Q' | b'W' | b'S' | b'T')
            && b.iter().all(u8::is_ascii_alphanumeric)
            && b[b.len() - 2].is_ascii_digit();
        if ok {
            Ok(Self(t))
        } else {
            Err(FieldError::new(
                "dva_number",
                "must be a DVA file number such as NX123456",
            ))
        }
    }

    /// The number.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DvaNumber {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        DvaNumber::parse(&s)
    }
}

impl From<DvaNumber> for String {
    fn from(d: DvaNumber) -> String {
        d.0
    }
}

/// The patient's usual GP, who typically refers under a Mental Health Treatment Plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsualGp {
    /// The GP's name.
    pub name: String,
    /// The GP's practice.
    pub practice_name: String,
    /// Provider number, when known.
    pub provider_number: Option<ProviderNumber>,
}

/// Someone to call: a guardian or an emergency contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactPerson {
    /// Full name.
    pub name: String,
    /// Relationship to the patient, e.g. "mother".
    pub relationship: String,
    /// Phone.
    pub phone: Phone,
    /// Email, optional.
    pub email: Option<Email>,
}

impl ContactPerson {
    /// The contact with its name and relationship trimmed, each checked as every other
    /// name is (not blank, no control or bidirectional formatting characters).
    ///
    /// # Errors
    /// A [`FieldError`] on `name` or `relationship`.
    pub fn checked(self) -> Result<Self, FieldError> {
        Ok(Self {
            name: non_blank("name", &self.name, 200)?,
            relationship: non_blank("relationship", &self.relationship, 100)?,
            ..self
        })
    }
}

/// How and when a patient wants appointment reminders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReminderPreferences {
    /// By email.
    pub email: bool,
    /// By SMS.
    pub sms: bool,
    /// By WhatsApp.
    pub whatsapp: bool,
    /// How many hours before the appointment (1 to 168).
    pub hours_before: u16,
}

impl Default for ReminderPreferences {
    fn default() -> Self {
        Self {
            email: true,
            sms: false,
            whatsapp: false,
            hours_before: 24,
        }
    }
}

/// A patient of a practice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Patient {
    /// Id.
    pub id: PatientId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// Legal name (Medicare claims use it).
    pub legal_name: PersonName,
    /// The name the patient wants to be called, if different.
    pub preferred_name: Option<String>,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// Email.
    pub email: Option<Email>,
    /// Phone.
    pub phone: Option<Phone>,
    /// Postal address.
    pub address: Option<String>,
    /// Medicare card and IRN.
    pub medicare: Option<MedicareCard>,
    /// Private health fund.
    pub health_fund: Option<HealthFund>,
    /// DVA card.
    pub dva_number: Option<DvaNumber>,
    /// Usual GP.
    pub usual_gp: Option<UsualGp>,
    /// Guardian, required for a minor unless assessed as a mature minor.
    pub guardian: Option<ContactPerson>,
    /// True when a clinician assessed a minor as able to consent for themselves.
    pub mature_minor: bool,
    /// Emergency contact.
    pub emergency_contact: Option<ContactPerson>,
    /// Reminder preferences.
    pub reminders: ReminderPreferences,
    /// The record was de-identified at the patient's request: nothing new is recorded
    /// against it (no booking, invoice, request or statement), since each would name it
    /// again or attach new information to a record the patient asked to be rid of.
    #[serde(default)]
    pub deidentified: bool,
}

/// Everything needed to register a patient, before validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatientSpec {
    /// Given name(s).
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Preferred name.
    #[serde(default)]
    pub preferred_name: Option<String>,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// Email.
    #[serde(default)]
    pub email: Option<Email>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<Phone>,
    /// Postal address.
    #[serde(default)]
    pub address: Option<String>,
    /// Medicare card.
    #[serde(default)]
    pub medicare: Option<MedicareCard>,
    /// Private health fund.
    #[serde(default)]
    pub health_fund: Option<HealthFund>,
    /// DVA number.
    #[serde(default)]
    pub dva_number: Option<DvaNumber>,
    /// Usual GP.
    #[serde(default)]
    pub usual_gp: Option<UsualGp>,
    /// Guardian.
    #[serde(default)]
    pub guardian: Option<ContactPerson>,
    /// Mature-minor assessment.
    #[serde(default)]
    pub mature_minor: bool,
    /// Emergency contact.
    #[serde(default)]
    pub emergency_contact: Option<ContactPerson>,
    /// Reminder preferences.
    #[serde(default)]
    pub reminders: ReminderPreferences,
}

impl PatientSpec {
    /// The three fields every registration needs; everything else empty, default
    /// reminders (email, 24 hours ahead). Validation happens in [`Patient::register`].
    #[must_use]
    pub fn new(given_name: &str, family_name: &str, date_of_birth: NaiveDate) -> Self {
        Self {
            given_name: given_name.to_owned(),
            family_name: family_name.to_owned(),
            preferred_name: None,
            date_of_birth,
            email: None,
            phone: None,
            address: None,
            medicare: None,
            health_fund: None,
            dva_number: None,
            usual_gp: None,
            guardian: None,
            mature_minor: false,
            emergency_contact: None,
            reminders: ReminderPreferences::default(),
        }
    }
}

/// Age in whole years on `on` (a birthday on 29 February is reached on 1 March in common
/// years, as under Australian law a person attains an age at the start of the anniversary
/// day; with no 29 February the anniversary is taken as 1 March).
#[must_use]
pub fn age_on(date_of_birth: NaiveDate, on: NaiveDate) -> u32 {
    if on < date_of_birth {
        return 0;
    }
    let mut years = on.year() - date_of_birth.year();
    let birthday_this_year = NaiveDate::from_ymd_opt(on.year(), date_of_birth.month(), date_of_birth.day())
        .or_else(|| NaiveDate::from_ymd_opt(on.year(), 3, 1));
    if birthday_this_year.is_some_and(|b| on < b) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

impl Patient {
    /// The patient as a [`PatientSpec`]: what [`Patient::register`] would turn back into
    /// this record. Edits start from it, so a change to one field is validated with all the
    /// others (a minor's guardian, say) exactly as at registration.
    #[must_use]
    pub fn spec(&self) -> PatientSpec {
        PatientSpec {
            given_name: self.legal_name.given.clone(),
            family_name: self.legal_name.family.clone(),
            preferred_name: self.preferred_name.clone(),
            date_of_birth: self.date_of_birth,
            email: self.email.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
            medicare: self.medicare.clone(),
            health_fund: self.health_fund.clone(),
            dva_number: self.dva_number.clone(),
            usual_gp: self.usual_gp.clone(),
            guardian: self.guardian.clone(),
            mature_minor: self.mature_minor,
            emergency_contact: self.emergency_contact.clone(),
            reminders: self.reminders,
        }
    }

    /// Registers a patient, validating every field against `today` (the practice's local
    /// date).
    ///
    /// # Errors
    /// [`FieldError`] naming the field: blank names, a date of birth in the future or more
    /// than 130 years ago, a minor without a guardian (unless `mature_minor`), reminder
    /// hours outside 1–168.
    pub fn register(
        id: PatientId,
        practice_id: PracticeId,
        spec: PatientSpec,
        today: NaiveDate,
    ) -> Result<Self, FieldError> {
        let legal_name = PersonName::new(&spec.given_name, &spec.family_name)?;
        if spec.date_of_birth > today {
            return Err(FieldError::new("date_of_birth", "must not be in the future"));
        }
        if age_on(spec.date_of_birth, today) > 130 {
            return Err(FieldError::new("date_of_birth", "is more than 130 years ago"));
        }
        if age_on(spec.date_of_birth, today) < 18 && spec.guardian.is_none() && !spec.mature_minor {
            return Err(FieldError::new(
                "guardian",
                "is required for a patient under 18 unless assessed as a mature minor",
            ));
        }
        if !(1..=168).contains(&spec.reminders.hours_before) {
            return Err(FieldError::new("reminders.hours_before", "must be between 1 and 168"));
        }
        let preferred_name = spec
            .preferred_name
            .as_deref()
            .map(|n| non_blank("preferred_name", n, 100))
            .transpose()?;
        let address = spec
            .address
            .as_deref()
            .map(|a| non_blank("address", a, 300))
            .transpose()?;
        for (field, c) in [
            ("guardian", &spec.guardian),
            ("emergency_contact", &spec.emergency_contact),
        ] {
            if let Some(c) = c {
                non_blank(field, &c.name, 200)?;
                non_blank(field, &c.relationship, 100)?;
            }
        }
        Ok(Self {
            id,
            practice_id,
            legal_name,
            preferred_name,
            date_of_birth: spec.date_of_birth,
            email: spec.email,
            phone: spec.phone,
            address,
            medicare: spec.medicare,
            health_fund: spec.health_fund,
            dva_number: spec.dva_number,
            usual_gp: spec.usual_gp,
            guardian: spec.guardian,
            mature_minor: spec.mature_minor,
            emergency_contact: spec.emergency_contact,
            reminders: spec.reminders,
            deidentified: false,
        })
    }

    /// The name to greet the patient by.
    #[must_use]
    pub fn display_name(&self) -> &str {
        self.preferred_name.as_deref().unwrap_or(&self.legal_name.given)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn spec(dob: &str) -> PatientSpec {
        PatientSpec::new("Alex", "Nguyen", date(dob))
    }

    fn register(s: PatientSpec, today: &str) -> Result<Patient, FieldError> {
        Patient::register(
            PatientId::from_uuid(Uuid::nil()),
            PracticeId::from_uuid(Uuid::nil()),
            s,
            date(today),
        )
    }

    #[test]
    fn a_patient_s_spec_registers_back_to_the_same_patient() {
        let mut s = spec("2010-02-28");
        s.preferred_name = Some("Al".into());
        s.guardian = Some(ContactPerson {
            name: "Sam Nguyen".into(),
            relationship: "parent".into(),
            phone: Phone::parse("0412 345 678").unwrap(),
            email: None,
        });
        let p = register(s, "2026-11-24").unwrap();
        assert_eq!(register(p.spec(), "2026-11-24").unwrap(), p);
    }

    #[test]
    fn date_of_birth_today_is_fine_tomorrow_is_not() {
        let mut s = spec("2026-11-23");
        s.mature_minor = true;
        assert!(register(s.clone(), "2026-11-23").is_ok());
        s.date_of_birth = date("2026-11-24");
        assert_eq!(register(s, "2026-11-23").unwrap_err().field(), "date_of_birth");
    }

    #[test]
    fn minor_needs_guardian_adult_does_not() {
        // The day before the 18th birthday: still a minor.
        assert_eq!(
            register(spec("2008-11-24"), "2026-11-23").unwrap_err().field(),
            "guardian"
        );
        // The 18th birthday itself: an adult.
        assert!(register(spec("2008-11-23"), "2026-11-23").is_ok());
    }

    #[test]
    fn leap_day_birthday_ages_on_first_of_march() {
        let dob = date("2008-02-29");
        assert_eq!(age_on(dob, date("2026-02-28")), 17);
        assert_eq!(age_on(dob, date("2026-03-01")), 18);
        assert_eq!(age_on(dob, date("2028-02-29")), 20);
        assert_eq!(age_on(dob, date("2028-02-28")), 19);
    }

    #[test]
    fn dva_numbers() {
        assert!(DvaNumber::parse("NX123456").is_ok());
        assert!(DvaNumber::parse("vx123456a").is_ok());
        assert!(DvaNumber::parse("AX123456").is_err());
        assert!(DvaNumber::parse("N12").is_err());
    }

    #[test]
    fn reminder_window_bounds() {
        let mut s = spec("1990-01-01");
        s.reminders.hours_before = 0;
        assert_eq!(
            register(s.clone(), "2026-11-23").unwrap_err().field(),
            "reminders.hours_before"
        );
        s.reminders.hours_before = 168;
        assert!(register(s, "2026-11-23").is_ok());
    }
}
