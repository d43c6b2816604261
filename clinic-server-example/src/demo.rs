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
    /// A booking or invoice of the demo was refused.
    #[error("the demo's activity was refused: {0}")]
    Service(#[from] clinic_core::service::ServiceError),
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

/// What a new database starts with: the demo practice when `demo` is set (`--demo`), for
/// a frontend developer to see real data at once; otherwise one empty practice, which its
/// administrator names and furnishes (locations, rooms, services, staff) through the API,
/// so a clinic's real database never holds fictional people.
///
/// # Errors
/// [`SeedError`] if storage fails.
pub async fn first_start(
    state: &AppState,
    practice_id: PracticeId,
    today: NaiveDate,
    demo: bool,
) -> Result<Option<Seeded>, SeedError> {
    if demo {
        let seeded = seed(state, practice_id, today).await?;
        activity(state, &seeded, today).await?;
        return Ok(Some(seeded));
    }
    state
        .store
        .save_practice(&Practice::new(practice_id, "New practice", BookingPolicy::default())?)
        .await?;
    Ok(None)
}

/// The demo's activity: each patient booked with a Sydney psychologist at 10:00 or 14:00
/// on the coming weekdays, a draft progress note for the first, and an issued invoice for
/// a session last week, so calendars, dashboards, notes and billing show something at once.
async fn activity(state: &AppState, seeded: &Seeded, today: NaiveDate) -> Result<(), SeedError> {
    use clinic_core::billing::{LineInput, Payer, SupplyKind};
    let practice = seeded.practice;
    let store = &state.store;
    let locations = store.locations(practice).await?;
    let Some(sydney) = locations.iter().find(|l| l.zone == chrono_tz::Australia::Sydney) else {
        return Ok(());
    };
    let services = store.services(practice).await?;
    let Some(session) = services.iter().find(|s| s.duration.get() == 50 && s.max_patients == 1) else {
        return Ok(());
    };
    // The psychologists who work in Sydney.
    let mut practitioners = Vec::new();
    for p in store.practitioners(practice).await? {
        if store
            .availability(practice, p.id)
            .await?
            .locations()
            .contains(&sydney.id)
        {
            practitioners.push(p);
        }
    }
    let mut day = today + chrono::Duration::days(1);
    for (i, patient) in seeded.patients.iter().enumerate() {
        while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            day += chrono::Duration::days(1);
        }
        let Some(practitioner) = practitioners.get(i % practitioners.len().max(1)) else {
            break;
        };
        let hour = if i % 2 == 0 { 10 } else { 14 };
        let Some(start) = day
            .and_hms_opt(hour, 0, 0)
            .and_then(|t| clinic_core::time::resolve_local(sydney.zone, t))
        else {
            continue;
        };
        let request: clinic_core::scheduling::BookingRequest = serde_json::from_value(serde_json::json!({
            "practitioner_id": practitioner.id, "service_id": session.id, "location_id": sydney.id,
            "patient_ids": [patient], "start": start,
        }))
        .map_err(|e| FieldError::new("demo booking", e.to_string()))?;
        // A demo practitioner who does not work at that hour is simply skipped.
        let Ok(booked) = state.booking.book(practice, &request).await else {
            continue;
        };
        if i == 0 {
            // A draft note, written through the clinical service (so it is sealed and
            // audited like any other) by the treating psychologist.
            let author = clinic_core::service::Actor {
                practice_id: practice,
                user_id: clinic_adapters::system::UuidV7Ids.new_id(),
                role: clinic_core::people::Role::Psychologist,
                practitioner_id: Some(booked.practitioner_id),
                patient_id: None,
                guardian_of: Vec::new(),
                request_id: Some("demo-seed".into()),
            };
            let soap = clinic_core::clinical::Soap {
                subjective: "Fictional demo patient. Reports sleeping better since the last session.".into(),
                objective: "Engaged, on time.".into(),
                assessment: "Progressing towards the goals in the plan.".into(),
                plan: "Review the sleep diary at the next session.".into(),
            };
            state
                .clinical
                .create(&author, *patient, clinic_core::clinical::NoteKind::Progress, soap)
                .await?;
            // A question from the patient, waiting in the psychologist's inbox.
            let writer = clinic_core::service::Actor {
                role: clinic_core::people::Role::Patient,
                practitioner_id: None,
                patient_id: Some(*patient),
                user_id: clinic_adapters::system::UuidV7Ids.new_id(),
                ..author
            };
            let question = clinic_core::service::NewThread {
                patient_id: *patient,
                practitioner_ids: vec![booked.practitioner_id],
                subject: "Next week's session".into(),
                body: "Fictional demo message: could we move next week's session later in the day?".into(),
                attachments: vec![],
                on_behalf_of: None,
            };
            state.messaging.start(&writer, &question).await?;
        }
        if i % 2 == 1 {
            day += chrono::Duration::days(1);
        }
    }
    if let Some(patient) = seeded.patients.first() {
        let line = LineInput {
            description: "Individual therapy, 50 minutes".into(),
            service_date: today - chrono::Duration::days(7),
            quantity: 1,
            unit_price: Money::from_cents(22_000),
            supply: SupplyKind::PsychologicalService,
            registered_provider: true,
            clinically_necessary: true,
            appointment_id: None,
            medicare: None,
        };
        let draft = state
            .billing
            .create_invoice(practice, *patient, Payer::Patient, vec![line])
            .await?;
        state.billing.issue(practice, draft.id, sydney.zone).await?;
    }
    supplies(state, practice, sydney, today).await
}

/// Supplies kept at Sydney, one batch expiring within the month and one item at its
/// reorder level, so the inventory lists show something.
async fn supplies(
    state: &AppState,
    practice: PracticeId,
    sydney: &clinic_core::practice::Location,
    today: NaiveDate,
) -> Result<(), SeedError> {
    use clinic_core::inventory::{ItemSpec, MovementKind};
    let desk = clinic_core::service::Actor {
        practice_id: practice,
        user_id: clinic_adapters::system::UuidV7Ids.new_id(),
        role: clinic_core::people::Role::Technician,
        practitioner_id: None,
        patient_id: None,
        guardian_of: Vec::new(),
        request_id: Some("demo-seed".into()),
    };
    let stock = [
        ("Nitrile gloves, medium", "GLV-M", "box of 100", 4, 10, "GL2611", 400),
        ("Alcohol swabs", "SWAB-70", "box of 200", 2, 2, "AS2612", 20),
        ("Sterile dressing, 10 cm", "DRS-10", "each", 20, 60, "SD2701", 700),
    ];
    for (name, sku, unit, reorder_level, quantity, batch, expires_in) in stock {
        let spec = ItemSpec {
            name: name.into(),
            sku: sku.into(),
            unit: unit.into(),
            location_id: sydney.id,
            reorder_level,
            preferred_supplier: Some("Fictional Medical Supplies".into()),
        };
        let item = state.inventory.create_item(&desk, &spec).await?;
        let received = MovementKind::Received {
            location_id: sydney.id,
            quantity,
            batch: Some(batch.into()),
            expires_on: Some(today + chrono::Duration::days(expires_in)),
        };
        state.inventory.record(&desk, item.id, received).await?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use clinic_adapters::memory::MemoryStore;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default()
    }

    fn state() -> AppState {
        AppState::new(
            std::sync::Arc::new(MemoryStore::new()),
            clinic_adapters::system::UuidV7Ids.new_id(),
        )
    }

    #[tokio::test]
    async fn a_clinic_s_new_database_holds_one_empty_practice_and_no_fictional_people() {
        let state = state();
        let seeded = first_start(&state, state.practice, today(), false).await;
        assert!(matches!(seeded, Ok(None)), "{seeded:?}");
        let practice = state.store.practice(state.practice).await;
        assert_eq!(practice.map(|p| p.name).ok().as_deref(), Some("New practice"));
        assert_eq!(
            state.store.locations(state.practice).await.map(|l| l.len()).ok(),
            Some(0)
        );
        assert_eq!(
            state.store.patients(state.practice).await.map(|p| p.len()).ok(),
            Some(0)
        );
    }

    #[tokio::test]
    async fn demo_seeds_two_locations_and_five_fictional_patients() {
        let state = state();
        // The demo books ahead of the real today (the state's clock is the system's).
        let today = state
            .clock
            .now()
            .with_timezone(&chrono_tz::Australia::Sydney)
            .date_naive();
        let seeded = first_start(&state, state.practice, today, true).await;
        let patients = seeded.ok().flatten().map(|s| s.patients).unwrap_or_default();
        assert_eq!(patients.len(), 5);
        assert_eq!(
            state.store.locations(state.practice).await.map(|l| l.len()).ok(),
            Some(2)
        );
        // Every patient has an upcoming appointment, and the first an issued invoice.
        for patient in &patients {
            let booked = state.store.patient_appointments(state.practice, *patient).await;
            assert_eq!(booked.map(|a| a.len()).ok(), Some(1), "{patient}");
        }
        let notes = state.store.notes(state.practice, patients[0]).await;
        assert_eq!(notes.map(|n| n.len()).ok(), Some(1));
        // A message waits for the first patient's psychologist; supplies are in stock.
        let threads = state.store.patient_threads(state.practice, patients[0]).await;
        assert_eq!(threads.map(|t| t.len()).ok(), Some(1));
        let items = state.store.items(state.practice).await;
        assert_eq!(items.map(|i| i.len()).ok(), Some(3));
        let invoices = state.store.invoices_for(state.practice, patients[0]).await;
        assert_eq!(
            invoices.map(|i| i.iter().filter(|i| i.number.is_some()).count()).ok(),
            Some(1)
        );
    }
}
