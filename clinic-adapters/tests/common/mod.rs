//! A small practice used by the adapter and service tests, and the conformance suite.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod conformance;
pub mod conformance_accounts;
pub mod conformance_inventory;
pub mod conformance_more;
pub mod conformance_outbox;
#[cfg(all(feature = "crypto", any(feature = "sqlite", feature = "postgres")))]
pub mod databases;
#[cfg(all(feature = "crypto", any(feature = "sqlite", feature = "postgres")))]
pub mod sql_faults;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use clinic_adapters::system::{SettableClock, UuidV7Ids};
use clinic_core::ids::*;
use clinic_core::money::Money;
use clinic_core::people::*;
use clinic_core::ports::*;
use clinic_core::practice::*;
use clinic_core::scheduling::*;
use clinic_core::service::{
    BillingPorts, BillingRules, BillingService, BookingService, ClinicalPorts, ClinicalService, PrivacyPorts,
    PrivacyService, SchedulingPorts, TelehealthPorts, TelehealthService,
};

pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Everything a booking test needs.
pub struct Fixture {
    pub store: Arc<dyn Storage>,
    pub clock: Arc<SettableClock>,
    pub service: BookingService,
    pub practice: PracticeId,
    pub location: Location,
    pub room: Room,
    pub session: Service,
    pub practitioner: Practitioner,
    pub patients: Vec<PatientId>,
}

pub fn ids() -> UuidV7Ids {
    UuidV7Ids
}

/// A Sydney practice, one psychologist working Mon–Fri 09:00–17:00, a 50-minute service
/// with a 10-minute notes buffer, 40 patients; now is Monday 23 Nov 2026 09:00 Sydney.
pub async fn practice_on(store: Arc<dyn Storage>) -> Fixture {
    let ids = ids();
    let clock = Arc::new(SettableClock::new(utc("2026-11-22T22:00:00Z")));
    let practice = Practice::new(ids.new_id(), "Harbour Psychology", BookingPolicy::default()).unwrap();
    store.save_practice(&practice).await.unwrap();
    let location = Location::new(
        ids.new_id(),
        practice.id,
        "Sydney CBD",
        "1 George St, Sydney NSW 2000",
        chrono_tz::Australia::Sydney,
        AuState::NSW,
    )
    .unwrap();
    store.save_location(&location).await.unwrap();
    let room = Room::new(ids.new_id(), practice.id, location.id, "Room 1").unwrap();
    store.save_room(&room).await.unwrap();
    let session = Service::new(
        ids.new_id(),
        practice.id,
        ServiceSpec {
            name: "Individual therapy".into(),
            duration_minutes: 50,
            price: Money::from_cents(22000),
            buffer_before_minutes: 0,
            buffer_after_minutes: 10,
            telehealth_allowed: true,
            default_mbs_item: Some("80110".into()),
            max_patients: 2,
        },
    )
    .unwrap();
    store.save_service(&session).await.unwrap();
    let mut profile = PractitionerProfile::default();
    profile.modes.insert(ConsultMode::InPerson);
    profile.modes.insert(ConsultMode::Telehealth);
    let practitioner = Practitioner::new(
        ids.new_id(),
        practice.id,
        PractitionerKind::RegisteredPsychologist,
        "Sam Lee",
        Some(AhpraNumber::parse("PSY0001234567").unwrap()),
        vec![],
        profile,
    )
    .unwrap();
    store.save_practitioner(&practitioner).await.unwrap();
    for day in [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri] {
        let t = WeeklyTemplate::new(
            ids.new_id(),
            practice.id,
            practitioner.id,
            location.id,
            day,
            "09:00:00".parse().unwrap(),
            "17:00:00".parse().unwrap(),
            "2026-01-01".parse().unwrap(),
            None,
        )
        .unwrap();
        store.save_template(&t).await.unwrap();
    }
    let mut patients = Vec::new();
    for i in 0..40 {
        let spec = PatientSpec::new(
            &format!("Patient{i}"),
            "Test",
            NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
        );
        let p = Patient::register(
            ids.new_id(),
            practice.id,
            spec,
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        )
        .unwrap();
        store.save_patient(&p).await.unwrap();
        patients.push(p.id);
    }
    let ports = SchedulingPorts {
        practices: store.clone(),
        patients: store.clone(),
        practitioners: store.clone(),
        appointments: store.clone(),
        waitlist: store.clone(),
        clock: clock.clone(),
        ids: Arc::new(UuidV7Ids),
    };
    Fixture {
        service: BookingService::new(ports),
        store,
        clock,
        practice: practice.id,
        location,
        room,
        session,
        practitioner,
        patients,
    }
}

impl Fixture {
    /// The telehealth gate over this store.
    pub fn telehealth(&self) -> TelehealthService {
        TelehealthService::new(TelehealthPorts {
            practices: self.store.clone(),
            appointments: self.store.clone(),
            patients: self.store.clone(),
            practitioners: self.store.clone(),
            privacy: self.store.clone(),
            prep: self.store.clone(),
            clock: self.clock.clone(),
        })
    }

    /// Books a video session for `patient` at `start` and puts in place everything the
    /// telehealth gate asks for.
    pub async fn ready_video_session(&self, patient: usize, start: &str) -> Appointment {
        let p = self.patients[patient];
        let mut req = self.request(patient, start);
        req.mode = DeliveryMode::Video;
        let appt = self.service.book(self.practice, &req).await.unwrap();
        self.store
            .record_consent(
                self.practice,
                &clinic_core::privacy::Consent {
                    patient_id: p,
                    kind: clinic_core::privacy::ConsentKind::Telehealth,
                    granted: true,
                    at: self.clock.now() - chrono::Duration::days(1),
                    method: clinic_core::privacy::ConsentMethod::Online,
                },
            )
            .await
            .unwrap();
        let mut patient = self.store.patient(self.practice, p).await.unwrap();
        patient.emergency_contact = Some(ContactPerson {
            name: "Alex Nguyen".into(),
            relationship: "partner".into(),
            phone: Phone::parse("0412 345 678").unwrap(),
            email: None,
        });
        self.store.save_patient(&patient).await.unwrap();
        let prep = clinic_core::telehealth::SessionPrep {
            emergency_plan: true,
            location: Some("Home".into()),
            technical_acknowledged: true,
        };
        self.store.save_prep(self.practice, appt.id, p, &prep).await.unwrap();
        appt
    }

    /// The billing use cases over this store, lodging through `gateway`.
    pub fn billing(&self, gateway: Arc<dyn ClaimGateway>) -> BillingService {
        BillingService::new(
            BillingPorts {
                practices: self.store.clone(),
                patients: self.store.clone(),
                practitioners: self.store.clone(),
                appointments: self.store.clone(),
                invoices: self.store.clone(),
                claims: self.store.clone(),
                referrals: self.store.clone(),
                gateway,
                credentials: self.store.clone(),
                clock: self.clock.clone(),
                ids: Arc::new(UuidV7Ids),
            },
            BillingRules::default(),
        )
    }

    /// The clinical-notes use cases over this store.
    pub fn clinical(&self) -> ClinicalService {
        ClinicalService::new(ClinicalPorts {
            notes: self.store.clone(),
            care: self.store.clone(),
            audit: self.store.clone(),
            clock: self.clock.clone(),
            ids: Arc::new(UuidV7Ids),
        })
    }

    /// The privacy use cases over this store.
    pub fn privacy(&self) -> PrivacyService {
        PrivacyService::new(PrivacyPorts {
            patients: self.store.clone(),
            appointments: self.store.clone(),
            invoices: self.store.clone(),
            claims: self.store.clone(),
            referrals: self.store.clone(),
            notes: self.store.clone(),
            audit: self.store.clone(),
            records: self.store.clone(),
            clock: self.clock.clone(),
        })
    }

    /// A booking request for `patient` at `start` (UTC), in person, no room.
    pub fn request(&self, patient: usize, start: &str) -> BookingRequest {
        BookingRequest {
            practitioner_id: self.practitioner.id,
            service_id: self.session.id,
            location_id: self.location.id,
            patient_ids: vec![self.patients[patient]],
            room_id: None,
            mode: DeliveryMode::InPerson,
            start: utc(start),
            recurrence: None,
            series_policy: None,
        }
    }
}

/// Runs each named `async fn(store: Arc<dyn Storage>)` as a test on every storage adapter:
/// in memory, on SQLite in a temporary file, and on PostgreSQL in a database of its own
/// (when `DATABASE_URL` is set; see `databases::postgres_url`).
#[macro_export]
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(std::sync::Arc::new(clinic_adapters::memory::MemoryStore::new())).await;
                }
            )*
        }
        #[cfg(all(feature = "sqlite", feature = "crypto"))]
        mod sqlite_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::common::databases::TempSqlite::new();
                    super::$name(db.store().await).await;
                }
            )*
        }
        #[cfg(all(feature = "postgres", feature = "crypto"))]
        mod postgres_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(admin) = $crate::common::databases::postgres_url() else { return };
                    let db = $crate::common::databases::TempPostgres::new(&admin).await;
                    let store = db.store().await;
                    super::$name(store.clone()).await;
                    store.close().await;
                    db.drop_now().await;
                }
            )*
        }
    };
}
