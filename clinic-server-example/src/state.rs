//! The state every handler shares, built once at start-up.

use std::sync::Arc;

use clinic_adapters::manual_claims::ManualClaims;
use clinic_adapters::system::{SystemClock, UuidV7Ids};
use clinic_core::ids::PracticeId;
use clinic_core::notify::TemplateSet;
use clinic_core::ports::{Clock, Storage};
use clinic_core::scheduling::Appointment;
use clinic_core::service::{
    BillingPorts, BillingRules, BillingService, BookingService, Channels, NotificationPorts, NotificationService,
    SchedulingPorts,
};

/// Shared state: a handle on [`Shared`], the use cases and the ports they sit on.
///
/// Every request and middleware takes a copy of the state, so the copy is one reference
/// count: the services, channels and templates behind it are built once. Fields read
/// through it as through `&Shared`; changing one (only while the server is assembled)
/// changes this handle's own copy.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl std::ops::DerefMut for AppState {
    /// This handle's state, copied first if another handle shares it.
    fn deref_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }
}

/// The use cases and the ports they sit on, behind [`AppState`].
#[derive(Clone)]
pub struct Shared {
    /// Scheduling use cases.
    pub booking: BookingService,
    /// Invoicing and Medicare use cases.
    pub billing: BillingService,
    /// Claims waiting to be lodged by hand.
    pub manual_claims: Arc<ManualClaims>,
    /// The storage (read models for the directory).
    pub store: Arc<dyn Storage>,
    /// Payments, email, messages, video, documents.
    pub integrations: crate::providers::Integrations,
    /// Appointment notices through the outbox.
    pub notices: NotificationService,
    /// The telehealth gate and video joining.
    pub telehealth: clinic_core::service::TelehealthService,
    /// Consents, access and deletion requests, exports.
    pub privacy: clinic_core::service::PrivacyService,
    /// Clinical notes.
    pub clinical: clinic_core::service::ClinicalService,
    /// Prescriptions, test results, treatment plans, outcome measures.
    pub records: clinic_core::service::RecordsService,
    /// The intake form and patients' answers.
    pub intake: clinic_core::service::IntakeService,
    /// Inventory of supplies.
    pub inventory: clinic_core::service::InventoryService,
    /// Secure messaging.
    pub messaging: clinic_core::service::MessagingService,
    /// Care teams: assignments and break-glass openings.
    pub care: clinic_core::service::CareService,
    /// Practice reports.
    pub reports: clinic_core::service::ReportsService,
    /// Where notices go out (from `integrations`).
    pub channels: Channels,
    /// The keys access tokens are signed with.
    pub tokens: Arc<crate::auth::TokenKeys>,
    /// Failed sign-ins per client address.
    pub throttle: Arc<crate::auth::IpThrottle>,
    /// The one-time token that creates the first administrator, while there is none.
    pub bootstrap: Arc<std::sync::Mutex<Option<String>>>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The key audit-chain checkpoints are signed and verified with.
    pub audit_key: Arc<Vec<u8>>,
    /// Browser origins allowed to call the API (CORS); none means same-origin only.
    pub cors_origins: Vec<axum::http::HeaderValue>,
    /// Request, job and queue counters (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Recent slot-search answers (see [`crate::slot_cache`]).
    pub slot_cache: Arc<crate::slot_cache::SlotCache>,
    /// The bearer token a scraper sends to `GET /metrics`.
    pub metrics_token: Option<String>,
    /// Whether a loopback caller reads `GET /metrics` without the token (configured
    /// explicitly; off by default).
    pub metrics_loopback: bool,
    /// Reads the database pools' use (set when the store is SQL).
    pub pool_usage: Option<Arc<dyn Fn() -> crate::metrics::PoolUsage + Send + Sync>>,
    /// The practice this server serves. (Multi-practice routing arrives with auth: the
    /// practice will come from the signed-in user's token.)
    pub practice: PracticeId,
}

impl AppState {
    /// What an export's ids stand for: the practice's name, practitioners, locations (with
    /// zones) and services, for the document the patient reads.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn export_names(&self) -> Result<clinic_adapters::export::Names, clinic_core::service::ServiceError> {
        let store = &self.store;
        let locations = store.locations(self.practice).await?;
        Ok(clinic_adapters::export::Names {
            practice: store.practice(self.practice).await?.name,
            practitioners: store
                .practitioners(self.practice)
                .await?
                .into_iter()
                .map(|p| (p.id, p.display_name))
                .collect(),
            zone: locations.first().map(|l| l.zone),
            locations: locations.into_iter().map(|l| (l.id, (l.name, l.zone))).collect(),
            services: store
                .services(self.practice)
                .await?
                .into_iter()
                .map(|s| (s.id, s.name))
                .collect(),
        })
    }

    /// Whether `practitioner` treats `patient` now: booked with them or assigned to them
    /// (a break-glass opening is not treating).
    ///
    /// # Errors
    /// A storage failure.
    pub async fn treats(
        &self,
        practitioner: clinic_core::ids::PractitionerId,
        patient: clinic_core::ids::PatientId,
    ) -> Result<bool, clinic_core::service::ServiceError> {
        clinic_core::service::treats_now(&*self.store, &*self.clock, self.practice, practitioner, patient).await
    }

    /// State over `store` with the system clock, for `practice`.
    #[must_use]
    pub fn new(store: Arc<dyn Storage>, practice: PracticeId) -> Self {
        Self::with_clock(store, practice, Arc::new(SystemClock))
    }

    /// State over `store` with a given clock (tests pin it).
    #[must_use]
    pub fn with_clock(store: Arc<dyn Storage>, practice: PracticeId, clock: Arc<dyn Clock>) -> Self {
        let ports = SchedulingPorts {
            practices: store.clone(),
            patients: store.clone(),
            practitioners: store.clone(),
            appointments: store.clone(),
            waitlist: store.clone(),
            clock: clock.clone(),
            ids: Arc::new(UuidV7Ids),
        };
        let manual_claims = Arc::new(ManualClaims::new());
        let billing_ports = BillingPorts {
            practices: store.clone(),
            patients: store.clone(),
            practitioners: store.clone(),
            appointments: store.clone(),
            invoices: store.clone(),
            claims: store.clone(),
            referrals: store.clone(),
            gateway: manual_claims.clone(),
            credentials: store.clone(),
            clock: clock.clone(),
            ids: Arc::new(UuidV7Ids),
        };
        let app_clock = clock.clone();
        let notices = NotificationService::new(NotificationPorts {
            practices: store.clone(),
            patients: store.clone(),
            practitioners: store.clone(),
            appointments: store.clone(),
            outbox: store.clone(),
            inbox: store.clone(),
            clock,
            ids: Arc::new(UuidV7Ids),
        });
        let telehealth = clinic_core::service::TelehealthService::new(clinic_core::service::TelehealthPorts {
            practices: store.clone(),
            appointments: store.clone(),
            patients: store.clone(),
            practitioners: store.clone(),
            privacy: store.clone(),
            prep: store.clone(),
            clock: app_clock.clone(),
        });
        let privacy = clinic_core::service::PrivacyService::new(clinic_core::service::PrivacyPorts {
            patients: store.clone(),
            appointments: store.clone(),
            invoices: store.clone(),
            claims: store.clone(),
            referrals: store.clone(),
            notes: store.clone(),
            audit: store.clone(),
            records: store.clone(),
            clock: app_clock.clone(),
        });
        let clinical = clinic_core::service::ClinicalService::new(clinic_core::service::ClinicalPorts {
            notes: store.clone(),
            care: store.clone(),
            audit: store.clone(),
            clock: app_clock.clone(),
            ids: Arc::new(UuidV7Ids),
        });
        let records = clinic_core::service::RecordsService::new(clinic_core::service::RecordsPorts {
            records: store.clone(),
            practitioners: store.clone(),
            care: store.clone(),
            audit: store.clone(),
            clock: app_clock.clone(),
            ids: Arc::new(UuidV7Ids),
        });
        let intake = clinic_core::service::IntakeService::new(store.clone(), store.clone(), app_clock.clone());
        let inventory = clinic_core::service::InventoryService::new(clinic_core::service::InventoryPorts {
            inventory: store.clone(),
            practices: store.clone(),
            appointments: store.clone(),
            clock: app_clock.clone(),
            ids: Arc::new(UuidV7Ids),
        });
        let messaging = clinic_core::service::MessagingService::new(clinic_core::service::MessagingPorts {
            messages: store.clone(),
            care: store.clone(),
            audit: store.clone(),
            notices: notices.clone(),
            clock: app_clock.clone(),
            ids: Arc::new(UuidV7Ids),
        });
        let reports = clinic_core::service::ReportsService::new(clinic_core::service::ReportsPorts {
            practices: store.clone(),
            practitioners: store.clone(),
            appointments: store.clone(),
            invoices: store.clone(),
            claims: store.clone(),
            patients: store.clone(),
            credentials: store.clone(),
            clock: app_clock.clone(),
        });
        let care = clinic_core::service::CareService::new(clinic_core::service::CarePorts {
            care: store.clone(),
            patients: store.clone(),
            practitioners: store.clone(),
            audit: store.clone(),
            clock: app_clock.clone(),
            ids: Arc::new(UuidV7Ids),
        });
        let integrations = crate::providers::Integrations::console_only();
        Self(Arc::new(Shared {
            booking: BookingService::new(ports).with_notices(notices.clone()).with_access(
                clinic_core::service::AccessPorts {
                    care: store.clone(),
                    audit: store.clone(),
                    clock: app_clock.clone(),
                },
            ),
            billing: BillingService::new(billing_ports, BillingRules::default()),
            manual_claims,
            store,
            channels: channels_of(&integrations),
            integrations,
            notices,
            telehealth,
            privacy,
            clinical,
            records,
            intake,
            inventory,
            messaging,
            care,
            reports,
            tokens: Arc::new(crate::auth::TokenKeys::new(
                uuid::Uuid::new_v4().as_bytes().repeat(2).as_slice(),
            )),
            throttle: Arc::new(crate::auth::IpThrottle::default()),
            bootstrap: Arc::new(std::sync::Mutex::new(None)),
            clock: app_clock,
            cors_origins: Vec::new(),
            metrics: Arc::default(),
            slot_cache: Arc::default(),
            metrics_token: None,
            metrics_loopback: false,
            pool_usage: None,
            audit_key: Arc::new(uuid::Uuid::new_v4().as_bytes().repeat(2)),
            practice,
        }))
    }

    /// The same state signing access tokens with `secret` (at least 32 bytes).
    #[must_use]
    pub fn with_token_secret(mut self, secret: &[u8]) -> Self {
        self.tokens = Arc::new(crate::auth::TokenKeys::new(secret));
        self
    }

    /// The same state with `integrations` instead of the console adapters.
    #[must_use]
    pub fn with_integrations(mut self, integrations: crate::providers::Integrations) -> Self {
        self.channels = channels_of(&integrations);
        self.integrations = integrations;
        self
    }

    /// Queues the notices of a new booking. A failure is logged, not returned: the booking
    /// stands, and the patient still sees it in the app.
    pub async fn booked(&self, appointment: &Appointment) {
        if let Err(e) = self.notices.appointment_booked(self.practice, appointment).await {
            tracing::warn!(code = e.code(), appointment = %appointment.id, "booking notices not queued");
        }
    }

    /// Queues the notices of a moved appointment: its new time confirmed, its reminder
    /// planned afresh (logged, not returned, on failure).
    pub async fn rescheduled(&self, appointment: &Appointment) {
        if let Err(e) = self.notices.appointment_rescheduled(self.practice, appointment).await {
            tracing::warn!(code = e.code(), appointment = %appointment.id, "reschedule notices not queued");
        }
    }

    /// Queues the notices of a cancellation (logged, not returned, on failure).
    pub async fn cancelled(&self, appointment: &Appointment) {
        if let Err(e) = self.notices.appointment_cancelled(self.practice, appointment).await {
            tracing::warn!(code = e.code(), appointment = %appointment.id, "cancellation notices not queued");
        }
    }
}

/// The notice channels of a set of integrations: its email and messages, the built-in
/// wording, and the join page under the public address.
fn channels_of(i: &crate::providers::Integrations) -> Channels {
    Channels {
        email: i.email.clone(),
        messages: i.messages.clone(),
        whatsapp_templates: i.whatsapp_templates.clone(),
        templates: TemplateSet::default(),
        join_base: i.public_url.as_ref().map(|u| format!("{u}/join")),
        inbox_link: i.public_url.as_ref().map(|u| format!("{u}/messages")),
    }
}
