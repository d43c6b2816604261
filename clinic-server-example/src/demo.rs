//! A demo practice for a fresh server, so a frontend developer sees real data at
//! once. Every person in it is fictional.

use chrono::{Datelike, NaiveDate, Weekday};
use clinic_core::FieldError;
use clinic_core::ids::{PatientId, PracticeId};
use clinic_core::money::Money;
use clinic_core::people::{
    AhpraNumber, ConsultMode, Patient, PatientSpec, Practitioner, PractitionerKind, PractitionerProfile, ProviderNumber,
};
use clinic_core::ports::{IdGenerator, IdGeneratorExt, PortError};
use clinic_core::practice::{AuState, BookingPolicy, Location, Practice, Room, Service, ServiceSpec};
use clinic_core::scheduling::WeeklyTemplate;

use crate::state::AppState;

/// Why seeding failed (a bug in the seed data or a storage failure).
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Seed data failed validation.
    #[error("demo data is invalid: {0}")]
    Invalid(#[from] FieldError),
    /// Storage failed.
    #[error("storage failed while seeding: {0}")]
    Port(#[from] PortError),
}

/// What was created, for the start-up log.
#[derive(Debug)]
pub struct Seeded {
    /// The practice.
    pub practice: PracticeId,
    /// The demo patients' ids (fictional people).
    pub patients: Vec<PatientId>,
}

fn service(
    ids: &dyn IdGenerator,
    practice: PracticeId,
    name: &str,
    minutes: u32,
    cents: i64,
    item: Option<&str>,
    max: u16,
) -> Result<Service, FieldError> {
    Service::new(
        ids.new_id(),
        practice,
        ServiceSpec {
            name: name.into(),
            duration_minutes: minutes,
            price: Money::from_cents(cents),
            buffer_before_minutes: 0,
            buffer_after_minutes: 10,
            telehealth_allowed: true,
            default_mbs_item: item.map(str::to_owned),
            max_patients: max,
        },
    )
}

/// Creates the demo practice in `state`'s store and returns its id.
///
/// # Errors
/// [`SeedError`] if storage fails.
pub async fn seed(state: &AppState, practice_id: PracticeId, today: NaiveDate) -> Result<Seeded, SeedError> {
    let ids = clinic_adapters::system::UuidV7Ids;
    let store = &state.store;
    store
        .save_practice(&{
            let mut p = Practice::new(practice_id, "Harbour Psychology", BookingPolicy::default())?;
            // A number in the range the ACMA sets aside for fiction (02 5550 xxxx).
            p.contact = Some("02 5550 1234".into());
            p
        })
        .await?;
    let sydney = Location::new(
        ids.new_id(),
        practice_id,
        "Sydney CBD",
        "Level 4, 1 George St, Sydney NSW 2000",
        chrono_tz::Australia::Sydney,
        AuState::NSW,
    )?;
    let adelaide = Location::new(
        ids.new_id(),
        practice_id,
        "Adelaide",
        "22 King William St, Adelaide SA 5000",
        chrono_tz::Australia::Adelaide,
        AuState::SA,
    )?;
    for l in [&sydney, &adelaide] {
        store.save_location(l).await?;
        for n in 1..=2 {
            store
                .save_room(&Room::new(ids.new_id(), practice_id, l.id, &format!("Room {n}"))?)
                .await?;
        }
    }
    for s in [
        service(
            &ids,
            practice_id,
            "Individual therapy (50 min)",
            50,
            22000,
            Some("80110"),
            1,
        )?,
        service(
            &ids,
            practice_id,
            "Brief consultation (30 min)",
            30,
            12000,
            Some("80100"),
            1,
        )?,
        service(&ids, practice_id, "Couples session (90 min)", 90, 30000, None, 2)?,
    ] {
        store.save_service(&s).await?;
    }
    let both: std::collections::BTreeSet<ConsultMode> =
        [ConsultMode::InPerson, ConsultMode::Telehealth].into_iter().collect();
    let people = [
        (
            PractitionerKind::ClinicalPsychologist,
            "Dr Priya Raman",
            "PSY0001111111",
            &sydney,
            ["trauma", "anxiety"],
            "Tamil",
        ),
        (
            PractitionerKind::RegisteredPsychologist,
            "Tom Okafor",
            "PSY0002222222",
            &sydney,
            ["depression", "young people"],
            "English",
        ),
        (
            PractitionerKind::RegisteredPsychologist,
            "Mei Chen",
            "PSY0003333333",
            &adelaide,
            ["anxiety", "couples"],
            "Mandarin",
        ),
    ];
    for (i, (kind, name, ahpra, loc, specs, lang)) in people.into_iter().enumerate() {
        let profile = PractitionerProfile {
            specialisations: specs.iter().map(|s| (*s).to_owned()).collect(),
            languages: ["English".to_owned(), lang.to_owned()].into_iter().collect(),
            modes: both.clone(),
            bio: String::new(),
        };
        let provider = if i == 0 {
            vec![(loc.id, ProviderNumber::parse("2429581T")?)]
        } else {
            vec![]
        };
        let p = Practitioner::new(
            ids.new_id(),
            practice_id,
            kind,
            name,
            Some(AhpraNumber::parse(ahpra)?),
            provider,
            profile,
        )?;
        store.save_practitioner(&p).await?;
        // Current registration (psychologists renew by 30 November each year) and a year
        // of insurance, so the compliance sweep leaves the demo's bookings alone.
        let renewal = NaiveDate::from_ymd_opt(today.year() + 1, 11, 30).unwrap_or(today);
        let credentials = clinic_core::credentials::Credentials {
            practitioner_id: Some(p.id),
            registrations: vec![clinic_core::credentials::Registration {
                number: AhpraNumber::parse(ahpra)?,
                kind: clinic_core::credentials::RegistrationType::General,
                endorsements: vec![],
                conditions: vec![],
                expires_on: renewal,
            }],
            insurances: vec![clinic_core::credentials::Insurance {
                insurer: "Example Mutual".into(),
                policy_number: format!("DEMO-{i:04}"),
                cover: Money::from_cents(2_000_000_000),
                expires_on: today + chrono::Duration::days(365),
                certificate: None,
            }],
        };
        store.save_credentials(practice_id, p.id, &credentials).await?;
        for day in [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri] {
            let t = WeeklyTemplate::new(
                ids.new_id(),
                practice_id,
                p.id,
                loc.id,
                day,
                "09:00:00"
                    .parse()
                    .map_err(|_| FieldError::new("start", "bad demo time"))?,
                "17:00:00"
                    .parse()
                    .map_err(|_| FieldError::new("end", "bad demo time"))?,
                NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
                None,
            )?;
            store.save_template(&t).await?;
        }
    }
    let mut patients = Vec::new();
    for (given, family, born) in [
        ("Alex", "Taylor", 1988),
        ("Jordan", "Singh", 1995),
        ("Casey", "Nguyen", 1979),
        ("Riley", "Brown", 2001),
        ("Morgan", "Smith", 1990),
    ] {
        let spec = PatientSpec::new(given, family, NaiveDate::from_ymd_opt(born, 6, 15).unwrap_or(today));
        let mut p = Patient::register(ids.new_id(), practice_id, spec, today)?;
        // example.com is reserved for examples (RFC 2606): nothing sent there reaches anyone.
        p.email = Some(clinic_core::people::Email::parse(&format!(
            "{}.{}@example.com",
            given.to_lowercase(),
            family.to_lowercase()
        ))?);
        store.save_patient(&p).await?;
        patients.push(p.id);
    }
    Ok(Seeded {
        practice: practice_id,
        patients,
    })
}
