//! In-memory storage: every storage port over maps behind one `RwLock`.
//!
//! Thread-safe and atomic by construction (a commit holds the write lock for its whole
//! check-and-apply), so it is the reference implementation of the ports' contracts, the
//! store of the tests and of the example server's default mode. Data lives as long as the
//! process.

use std::collections::{BTreeSet, HashMap};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use clinic_core::access::CareRelationship;
use clinic_core::audit::{AuditEntry, AuditEvent, Checkpoint, seal};
use clinic_core::auth::{Account, RefreshToken, RefreshUse};
use clinic_core::billing::{Claim, Invoice};
use clinic_core::clinical::{
    IntakeForm, IntakeSubmission, MeasureRecord, Prescription, ProgressNote, TestResult, TreatmentPlan,
};
use clinic_core::credentials::{Credentials, WarningKey};
use clinic_core::ids::{
    AppointmentId, ClaimId, ExceptionId, InboxItemId, InvoiceId, ItemId, LocationId, MeasureId, NoteId, PatientId,
    PracticeId, PractitionerId, PrescriptionId, ReferralId, RoomId, ServiceId, TemplateId, TestResultId, ThreadId,
    UserId, WaitlistEntryId,
};
use clinic_core::inventory::{Item, Movement};
use clinic_core::medicare::{PastService, Referral};
use clinic_core::messaging::{Message, ReadMark, Thread, UploadRecord};
use clinic_core::notify::{Audience, InboxItem, Notification, OutboxState};
use clinic_core::people::{Email, Patient, Practitioner};
use clinic_core::ports::{
    Accounts, AppointmentRepository, AuditLog, CalendarSnapshot, CareRelationships, ClaimHistory, ClaimRepository,
    ClinicalRecords, ComplianceLog, CredentialRepository, DeliveryStatus, Guarded, Inbox, IntakeRecords,
    InventoryRepository, InvoiceRepository, Ledger, MessageRepository, NoteRepository, Outbox, PatientRepository,
    PortError, PortErrorKind, PracticeRepository, PractitionerRepository, PrivacyRecords, ReferralRepository,
    ResourceKey, TelehealthRecords, WaitlistRepository,
};
use clinic_core::practice::{Location, Practice, Room, Service};
use clinic_core::privacy::{AccessRequest, Consent, CorrectionOutcome, DeletionRequest};
use clinic_core::scheduling::{Appointment, Availability, AvailabilityException, WaitlistEntry, WeeklyTemplate};
use clinic_core::telehealth::SessionPrep;
use clinic_core::time::TimeRange;
use uuid::Uuid;

type Key<T> = (PracticeId, T);

#[derive(Default)]
struct Inner {
    practices: HashMap<PracticeId, Practice>,
    locations: HashMap<Key<LocationId>, Location>,
    rooms: HashMap<Key<RoomId>, Room>,
    services: HashMap<Key<ServiceId>, Service>,
    patients: HashMap<Key<PatientId>, Patient>,
    practitioners: HashMap<Key<PractitionerId>, Practitioner>,
    templates: HashMap<Key<TemplateId>, WeeklyTemplate>,
    exceptions: HashMap<Key<ExceptionId>, AvailabilityException>,
    waitlist: HashMap<Key<WaitlistEntryId>, WaitlistEntry>,
    appointments: HashMap<Key<AppointmentId>, Appointment>,
    /// Appointments that hold time, per resource, ordered by blocked start.
    busy: HashMap<Key<ResourceKey>, BTreeSet<(DateTime<Utc>, AppointmentId)>>,
    /// The longest blocked interval ever stored: bounds the backwards scan of a snapshot.
    longest: Duration,
    versions: HashMap<Key<ResourceKey>, u64>,
    invoices: HashMap<Key<InvoiceId>, Invoice>,
    invoice_numbers: HashMap<PracticeId, u64>,
    claims: HashMap<Key<ClaimId>, Claim>,
    external: HashMap<Key<PatientId>, Vec<PastService>>,
    claim_versions: HashMap<Key<PatientId>, u64>,
    referrals: HashMap<Key<ReferralId>, Referral>,
    notes: HashMap<Key<NoteId>, ProgressNote>,
    credentials: HashMap<Key<PractitionerId>, Credentials>,
    warnings: HashMap<PracticeId, Vec<WarningKey>>,
    consents: HashMap<Key<PatientId>, Vec<Consent>>,
    prescriptions: HashMap<Key<PrescriptionId>, Prescription>,
    results: HashMap<Key<TestResultId>, TestResult>,
    measures: HashMap<Key<MeasureId>, MeasureRecord>,
    intake_forms: HashMap<PracticeId, Vec<IntakeForm>>,
    plans: HashMap<Key<PatientId>, TreatmentPlan>,
    intakes: HashMap<Key<PatientId>, IntakeSubmission>,
    prep: HashMap<Key<AppointmentId>, Vec<(PatientId, SessionPrep)>>,
    access_requests: HashMap<PracticeId, Vec<(PatientId, AccessRequest)>>,
    corrections: HashMap<Key<PatientId>, Vec<CorrectionOutcome>>,
    deletion_requests: HashMap<Key<PatientId>, Vec<DeletionRequest>>,
    audit: HashMap<PracticeId, Vec<AuditEvent>>,
    checkpoints: HashMap<PracticeId, Vec<Checkpoint>>,
    /// The outbox, per practice, in insertion order.
    outbox: HashMap<PracticeId, Vec<Notification>>,
    accounts: HashMap<Key<UserId>, Account>,
    refresh: HashMap<(PracticeId, String), RefreshToken>,
    revoked_families: std::collections::HashSet<(PracticeId, Uuid)>,
    items: HashMap<Key<ItemId>, Item>,
    /// Each item's movements in the order appended; the ledger's version is its length.
    ledgers: HashMap<Key<ItemId>, Vec<Movement>>,
    threads: HashMap<Key<ThreadId>, Thread>,
    /// Each thread's messages in the order added.
    messages: HashMap<Key<ThreadId>, Vec<Message>>,
    read_marks: HashMap<Key<ThreadId>, Vec<ReadMark>>,
    uploads: HashMap<Key<UserId>, Vec<UploadRecord>>,
    care: HashMap<Key<Uuid>, CareRelationship>,
    /// In-app inbox items, per practice, in delivery order.
    inbox: HashMap<PracticeId, Vec<InboxItem>>,
}

impl Inner {
    fn unindex(&mut self, a: &Appointment) {
        for k in ResourceKey::of(a) {
            if let Some(set) = self.busy.get_mut(&(a.practice_id, k)) {
                set.remove(&(a.blocked.start(), a.id));
            }
        }
    }

    fn index(&mut self, a: &Appointment) {
        if !a.holds_time() {
            return;
        }
        self.longest = self.longest.max(a.blocked.duration());
        for k in ResourceKey::of(a) {
            self.busy
                .entry((a.practice_id, k))
                .or_default()
                .insert((a.blocked.start(), a.id));
        }
    }

    fn bump(&mut self, practice: PracticeId, key: ResourceKey) {
        *self.versions.entry((practice, key)).or_insert(0) += 1;
    }

    /// Adds the notifications not already queued under their key; how many were added.
    fn enqueue(&mut self, notifications: &[Notification]) -> usize {
        let mut added = 0;
        for notification in notifications {
            let list = self.outbox.entry(notification.practice_id).or_default();
            if !list.iter().any(|n| n.key == notification.key) {
                list.push(notification.clone());
                added += 1;
            }
        }
        added
    }

    /// Adds the inbox items not already there under their key; how many were added.
    fn deliver(&mut self, items: &[InboxItem]) -> usize {
        let mut stored = 0;
        for item in items {
            let list = self.inbox.entry(item.practice_id).or_default();
            if !list.iter().any(|i| i.key() == item.key()) {
                list.push(item.clone());
                stored += 1;
            }
        }
        stored
    }
}

/// The in-memory store. Clone an `Arc<MemoryStore>` into every port slot.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use clinic_adapters::memory::MemoryStore;
/// use clinic_core::ids::PracticeId;
/// use clinic_core::ports::{PortErrorKind, PracticeRepository};
/// use clinic_core::practice::{BookingPolicy, Practice};
///
/// # tokio_test_block_on(async {
/// let store = Arc::new(MemoryStore::new());
/// let id = PracticeId::from_uuid(uuid::Uuid::from_u128(1));
/// store.save_practice(&Practice::new(id, "Harbour Psychology", BookingPolicy::default()).unwrap()).await.unwrap();
/// assert_eq!(store.practice(id).await.unwrap().name, "Harbour Psychology");
/// let other = PracticeId::from_uuid(uuid::Uuid::from_u128(2));
/// assert_eq!(store.practice(other).await.unwrap_err().kind(), PortErrorKind::NotFound);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while holding the lock can only happen between whole-map operations (no
    // method here panics mid-update), so a poisoned lock's data is still consistent.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn sorted<T: Clone, K: Ord>(items: impl Iterator<Item = T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut v: Vec<T> = items.collect();
    v.sort_by_key(|x| key(x));
    v
}

#[async_trait]
impl PracticeRepository for MemoryStore {
    async fn practice(&self, id: PracticeId) -> Result<Practice, PortError> {
        self.read()
            .practices
            .get(&id)
            .cloned()
            .ok_or_else(|| PortError::not_found("practice"))
    }

    async fn save_practice(&self, practice: &Practice) -> Result<(), PortError> {
        self.write().practices.insert(practice.id, practice.clone());
        Ok(())
    }

    async fn locations(&self, practice: PracticeId) -> Result<Vec<Location>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.locations
                .iter()
                .filter(|(k, _)| k.0 == practice)
                .map(|(_, v)| v.clone()),
            |l| l.name.clone(),
        ))
    }

    async fn save_location(&self, location: &Location) -> Result<(), PortError> {
        self.write()
            .locations
            .insert((location.practice_id, location.id), location.clone());
        Ok(())
    }

    async fn rooms(&self, practice: PracticeId) -> Result<Vec<Room>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.rooms.iter().filter(|(k, _)| k.0 == practice).map(|(_, v)| v.clone()),
            |r| r.name.clone(),
        ))
    }

    async fn save_room(&self, room: &Room) -> Result<(), PortError> {
        self.write().rooms.insert((room.practice_id, room.id), room.clone());
        Ok(())
    }

    async fn services(&self, practice: PracticeId) -> Result<Vec<Service>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.services
                .iter()
                .filter(|(k, _)| k.0 == practice)
                .map(|(_, v)| v.clone()),
            |s| s.name.clone(),
        ))
    }

    async fn save_service(&self, service: &Service) -> Result<(), PortError> {
        self.write()
            .services
            .insert((service.practice_id, service.id), service.clone());
        Ok(())
    }
}

#[async_trait]
impl PatientRepository for MemoryStore {
    async fn patient(&self, practice: PracticeId, id: PatientId) -> Result<Patient, PortError> {
        self.read()
            .patients
            .get(&(practice, id))
            .cloned()
            .ok_or_else(|| PortError::not_found("patient"))
    }

    async fn save_patient(&self, patient: &Patient) -> Result<(), PortError> {
        self.write()
            .patients
            .insert((patient.practice_id, patient.id), patient.clone());
        Ok(())
    }

    async fn patients(&self, practice: PracticeId) -> Result<Vec<Patient>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.patients
                .iter()
                .filter(|(k, _)| k.0 == practice)
                .map(|(_, v)| v.clone()),
            |p| (p.legal_name.family.clone(), p.legal_name.given.clone(), p.id),
        ))
    }
}

#[async_trait]
impl PractitionerRepository for MemoryStore {
    async fn practitioner(&self, practice: PracticeId, id: PractitionerId) -> Result<Practitioner, PortError> {
        self.read()
            .practitioners
            .get(&(practice, id))
            .cloned()
            .ok_or_else(|| PortError::not_found("practitioner"))
    }

    async fn practitioners(&self, practice: PracticeId) -> Result<Vec<Practitioner>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.practitioners
                .iter()
                .filter(|(k, _)| k.0 == practice)
                .map(|(_, v)| v.clone()),
            |p| (p.display_name.clone(), p.id),
        ))
    }

    async fn save_practitioner(&self, practitioner: &Practitioner) -> Result<(), PortError> {
        self.write()
            .practitioners
            .insert((practitioner.practice_id, practitioner.id), practitioner.clone());
        Ok(())
    }

    async fn availability(&self, practice: PracticeId, id: PractitionerId) -> Result<Availability, PortError> {
        let g = self.read();
        Ok(Availability {
            templates: sorted(
                g.templates
                    .iter()
                    .filter(|(k, t)| k.0 == practice && t.practitioner_id == id)
                    .map(|(_, v)| v.clone()),
                |t| t.id,
            ),
            exceptions: sorted(
                g.exceptions
                    .iter()
                    .filter(|(k, e)| k.0 == practice && e.practitioner_id == id)
                    .map(|(_, v)| v.clone()),
                |e| e.id,
            ),
        })
    }

    async fn save_template(&self, template: &WeeklyTemplate) -> Result<(), PortError> {
        self.write()
            .templates
            .insert((template.practice_id, template.id), template.clone());
        Ok(())
    }

    async fn save_exception(&self, exception: &AvailabilityException) -> Result<(), PortError> {
        self.write()
            .exceptions
            .insert((exception.practice_id, exception.id), exception.clone());
        Ok(())
    }
}

#[async_trait]
impl AppointmentRepository for MemoryStore {
    async fn booking_context(
        &self,
        practice: PracticeId,
        ask: clinic_core::ports::ContextRequest<'_>,
    ) -> Result<clinic_core::ports::BookingContext, PortError> {
        fn found<T>(r: Result<T, PortError>) -> Result<Option<T>, PortError> {
            match r {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.kind() == PortErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        }
        let practitioner = found(self.practitioner(practice, ask.practitioner).await)?;
        let availability = if practitioner.is_some() {
            self.availability(practice, ask.practitioner).await?
        } else {
            Availability::default()
        };
        let mut patients = Vec::new();
        for p in ask.patients {
            if let Some(patient) = found(self.patient(practice, *p).await)? {
                patients.push(patient);
            }
        }
        Ok(clinic_core::ports::BookingContext {
            practice: found(PracticeRepository::practice(self, practice).await)?,
            practitioner,
            availability,
            service: self.services(practice).await?.into_iter().find(|s| s.id == ask.service),
            location: self
                .locations(practice)
                .await?
                .into_iter()
                .find(|l| l.id == ask.location),
            room: match ask.room {
                Some(room) => self.rooms(practice).await?.into_iter().find(|r| r.id == room),
                None => None,
            },
            patients,
        })
    }

    async fn appointment(&self, practice: PracticeId, id: AppointmentId) -> Result<Appointment, PortError> {
        self.read()
            .appointments
            .get(&(practice, id))
            .cloned()
            .ok_or_else(|| PortError::not_found("appointment"))
    }

    async fn tallies(
        &self,
        practice: PracticeId,
        location: LocationId,
        window: TimeRange,
    ) -> Result<Vec<clinic_core::reports::Tally>, PortError> {
        let g = self.read();
        Ok(clinic_core::reports::Tally::of(g.appointments.iter().filter_map(
            |(k, a)| {
                (k.0 == practice && a.location_id == location && window.contains_instant(a.interval.start()))
                    .then_some(a)
            },
        )))
    }

    async fn patient_appointments(
        &self,
        practice: PracticeId,
        patient: PatientId,
    ) -> Result<Vec<Appointment>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.appointments
                .iter()
                .filter(|(k, a)| k.0 == practice && a.patient_ids.contains(&patient))
                .map(|(_, a)| a.clone()),
            |a| (a.interval.start(), a.id),
        ))
    }

    async fn snapshot(
        &self,
        practice: PracticeId,
        keys: &[ResourceKey],
        window: TimeRange,
    ) -> Result<CalendarSnapshot, PortError> {
        let g = self.read();
        let mut ids = BTreeSet::new();
        let floor = (window.start() - g.longest, AppointmentId::from_uuid(Uuid::nil()));
        let ceiling = (window.end(), AppointmentId::from_uuid(Uuid::nil()));
        for k in keys {
            if let Some(set) = g.busy.get(&(practice, *k)) {
                ids.extend(set.range(floor..ceiling).map(|(_, id)| *id));
            }
        }
        let appointments = ids
            .into_iter()
            .filter_map(|id| g.appointments.get(&(practice, id)))
            .filter(|a| a.blocked.overlaps(&window))
            .cloned()
            .collect();
        let versions = keys
            .iter()
            .map(|k| Guarded {
                key: *k,
                version: g.versions.get(&(practice, *k)).copied().unwrap_or(0),
            })
            .collect();
        Ok(CalendarSnapshot { appointments, versions })
    }

    async fn commit_with_notices(
        &self,
        practice: PracticeId,
        guards: &[Guarded],
        changes: &[Appointment],
        notices: &clinic_core::ports::CommitNotices,
    ) -> Result<(), PortError> {
        if changes.iter().any(|a| a.practice_id != practice) {
            return Err(PortError::new(
                PortErrorKind::Invalid,
                "an appointment belongs to another practice",
            ));
        }
        if notices.outbox.iter().any(|n| n.practice_id != practice)
            || notices.inbox.iter().any(|i| i.practice_id != practice)
        {
            return Err(PortError::new(
                PortErrorKind::Invalid,
                "a notice belongs to another practice",
            ));
        }
        // One write lock over the calendar, the outbox and the inboxes: all or nothing.
        let mut g = self.write();
        for guard in guards {
            if g.versions.get(&(practice, guard.key)).copied().unwrap_or(0) != guard.version {
                return Err(PortError::conflict("the calendar changed since it was read"));
            }
        }
        let mut touched: BTreeSet<ResourceKey> = guards.iter().map(|gd| gd.key).collect();
        for a in changes {
            if let Some(old) = g.appointments.get(&(practice, a.id)).cloned() {
                touched.extend(ResourceKey::of(&old));
                g.unindex(&old);
            }
            touched.extend(ResourceKey::of(a));
            g.index(a);
            g.appointments.insert((practice, a.id), a.clone());
        }
        for k in touched {
            g.bump(practice, k);
        }
        g.enqueue(&notices.outbox);
        g.deliver(&notices.inbox);
        Ok(())
    }
}

#[async_trait]
impl WaitlistRepository for MemoryStore {
    async fn waitlist(&self, practice: PracticeId) -> Result<Vec<WaitlistEntry>, PortError> {
        let g = self.read();
        Ok(g.waitlist
            .iter()
            .filter(|(k, _)| k.0 == practice)
            .map(|(_, v)| v.clone())
            .collect())
    }

    async fn save_waitlist_entry(&self, entry: &WaitlistEntry) -> Result<(), PortError> {
        self.write()
            .waitlist
            .insert((entry.practice_id, entry.id), entry.clone());
        Ok(())
    }
}

#[async_trait]
impl InvoiceRepository for MemoryStore {
    async fn invoice(&self, practice: PracticeId, id: InvoiceId) -> Result<Invoice, PortError> {
        self.read()
            .invoices
            .get(&(practice, id))
            .cloned()
            .ok_or_else(|| PortError::not_found("invoice"))
    }

    async fn save_draft(&self, invoice: &Invoice) -> Result<(), PortError> {
        if invoice.number.is_some() {
            return Err(PortError::new(PortErrorKind::Invalid, "save_draft takes drafts only"));
        }
        let mut g = self.write();
        let key = (invoice.practice_id, invoice.id);
        if let Some(stored) = g.invoices.get(&key)
            && (stored.number.is_some() || stored.revision != invoice.revision)
        {
            return Err(PortError::conflict(
                "the invoice changed or was issued since it was read",
            ));
        }
        let mut copy = invoice.clone();
        copy.revision = invoice.revision + 1;
        g.invoices.insert(key, copy);
        Ok(())
    }

    async fn issue(
        &self,
        practice: PracticeId,
        id: InvoiceId,
        expected_revision: u64,
        issued_on: NaiveDate,
    ) -> Result<Invoice, PortError> {
        let mut g = self.write();
        let mut inv = g
            .invoices
            .get(&(practice, id))
            .cloned()
            .ok_or_else(|| PortError::not_found("invoice"))?;
        if inv.number.is_some() || inv.revision != expected_revision {
            return Err(PortError::conflict(
                "the invoice changed or was issued since it was read",
            ));
        }
        let next = g.invoice_numbers.get(&practice).copied().unwrap_or(0) + 1;
        inv.issue(next, issued_on)
            .map_err(|e| PortError::new(PortErrorKind::Invalid, e.to_string()))?;
        inv.revision += 1;
        g.invoice_numbers.insert(practice, next);
        g.invoices.insert((practice, id), inv.clone());
        Ok(inv)
    }

    async fn invoices_for(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Invoice>, PortError> {
        let g = self.read();
        // Invoice ids are v7 UUIDs: ordering by id is ordering by creation.
        Ok(sorted(
            g.invoices
                .iter()
                .filter(|(k, i)| k.0 == practice && i.patient_id == patient)
                .map(|(_, i)| i.clone()),
            |i| i.id,
        ))
    }

    async fn issued_invoices(
        &self,
        practice: PracticeId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Invoice>, PortError> {
        let g = self.read();
        let mut v: Vec<Invoice> = g
            .invoices
            .iter()
            .filter(|(k, i)| k.0 == practice && i.number.is_some_and(|n| before.is_none_or(|b| n < b)))
            .map(|(_, i)| i.clone())
            .collect();
        v.sort_by_key(|i| std::cmp::Reverse(i.number));
        v.truncate(limit);
        Ok(v)
    }

    async fn update(&self, invoice: &Invoice) -> Result<(), PortError> {
        let mut g = self.write();
        let key = (invoice.practice_id, invoice.id);
        let stored = g.invoices.get(&key).ok_or_else(|| PortError::not_found("invoice"))?;
        if stored.revision != invoice.revision {
            return Err(PortError::conflict("the invoice changed since it was read"));
        }
        if stored.number.is_none() || stored.number != invoice.number || stored.lines != invoice.lines {
            return Err(PortError::new(
                PortErrorKind::Invalid,
                "an issued invoice keeps its number and lines",
            ));
        }
        let mut copy = invoice.clone();
        copy.revision += 1;
        g.invoices.insert(key, copy);
        Ok(())
    }
}

#[async_trait]
impl ClaimRepository for MemoryStore {
    async fn claim(&self, practice: PracticeId, id: ClaimId) -> Result<Claim, PortError> {
        self.read()
            .claims
            .get(&(practice, id))
            .cloned()
            .ok_or_else(|| PortError::not_found("claim"))
    }

    async fn history(&self, practice: PracticeId, patient: PatientId) -> Result<ClaimHistory, PortError> {
        let g = self.read();
        let mut claims: Vec<Claim> = g
            .claims
            .iter()
            .filter(|(k, c)| k.0 == practice && c.patient_id == patient)
            .map(|(_, c)| c.clone())
            .collect();
        claims.sort_by_key(|c| (c.service_date, c.id));
        Ok(ClaimHistory {
            claims,
            external: g.external.get(&(practice, patient)).cloned().unwrap_or_default(),
            version: g.claim_versions.get(&(practice, patient)).copied().unwrap_or(0),
        })
    }

    async fn commit_claim(&self, practice: PracticeId, expected_version: u64, claim: &Claim) -> Result<(), PortError> {
        if claim.practice_id != practice {
            return Err(PortError::new(
                PortErrorKind::Invalid,
                "the claim belongs to another practice",
            ));
        }
        let mut g = self.write();
        let key = (practice, claim.patient_id);
        let version = g.claim_versions.get(&key).copied().unwrap_or(0);
        if version != expected_version {
            return Err(PortError::conflict("the patient's claims changed since they were read"));
        }
        g.claims.insert((practice, claim.id), claim.clone());
        g.claim_versions.insert(key, version + 1);
        Ok(())
    }

    async fn record_external(
        &self,
        practice: PracticeId,
        patient: PatientId,
        service: &PastService,
    ) -> Result<(), PortError> {
        let mut g = self.write();
        g.external.entry((practice, patient)).or_default().push(service.clone());
        *g.claim_versions.entry((practice, patient)).or_insert(0) += 1;
        Ok(())
    }
}

#[async_trait]
impl ReferralRepository for MemoryStore {
    async fn referral(&self, practice: PracticeId, id: ReferralId) -> Result<Referral, PortError> {
        self.read()
            .referrals
            .get(&(practice, id))
            .cloned()
            .ok_or_else(|| PortError::not_found("referral"))
    }

    async fn referrals(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Referral>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.referrals
                .iter()
                .filter(|(k, r)| k.0 == practice && r.patient_id == patient)
                .map(|(_, r)| r.clone()),
            |r| (r.written_on, r.id),
        ))
    }

    async fn save_referral(&self, referral: &Referral) -> Result<(), PortError> {
        self.write()
            .referrals
            .insert((referral.practice_id, referral.id), referral.clone());
        Ok(())
    }
}

#[async_trait]
impl NoteRepository for MemoryStore {
    async fn note(&self, practice: PracticeId, id: NoteId) -> Result<ProgressNote, PortError> {
        self.read()
            .notes
            .get(&(practice, id))
            .cloned()
            .ok_or_else(|| PortError::not_found("note"))
    }

    async fn save_note(&self, note: &ProgressNote) -> Result<(), PortError> {
        self.write().notes.insert((note.practice_id, note.id), note.clone());
        Ok(())
    }

    async fn destroy_notes(&self, practice: PracticeId, patient: PatientId) -> Result<usize, PortError> {
        let mut g = self.write();
        let before = g.notes.len();
        g.notes.retain(|k, n| !(k.0 == practice && n.patient_id == patient));
        Ok(before - g.notes.len())
    }

    async fn notes(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<ProgressNote>, PortError> {
        let g = self.read();
        // Note ids are v7 UUIDs: ordering by id is ordering by creation.
        Ok(sorted(
            g.notes
                .iter()
                .filter(|(k, n)| k.0 == practice && n.patient_id == patient)
                .map(|(_, n)| n.clone()),
            |n| n.id,
        ))
    }
}

#[async_trait]
impl CareRelationships for MemoryStore {
    async fn treats(
        &self,
        practice: PracticeId,
        practitioner: PractitionerId,
        patient: PatientId,
    ) -> Result<bool, PortError> {
        let g = self.read();
        Ok(g.appointments.iter().any(|(k, a)| {
            k.0 == practice && a.practitioner_id == practitioner && a.patient_ids.contains(&patient) && a.holds_time()
        }))
    }

    async fn save_care(&self, record: &CareRelationship) -> Result<(), PortError> {
        self.write()
            .care
            .insert((record.practice_id, record.id), record.clone());
        Ok(())
    }

    async fn care_records(
        &self,
        practice: PracticeId,
        patient: Option<PatientId>,
    ) -> Result<Vec<CareRelationship>, PortError> {
        Ok(sorted(
            self.read()
                .care
                .iter()
                .filter(|(k, r)| k.0 == practice && patient.is_none_or(|p| r.patient_id == p))
                .map(|(_, r)| r.clone()),
            |r| (r.from, r.id),
        ))
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append(&self, entry: AuditEntry) -> Result<AuditEvent, PortError> {
        let mut g = self.write();
        let chain = g.audit.entry(entry.practice_id).or_default();
        let event = seal(chain.last(), entry);
        chain.push(event.clone());
        Ok(event)
    }

    async fn save_checkpoint(&self, practice: PracticeId, checkpoint: &Checkpoint) -> Result<(), PortError> {
        self.write()
            .checkpoints
            .entry(practice)
            .or_default()
            .push(checkpoint.clone());
        Ok(())
    }

    async fn checkpoints(&self, practice: PracticeId) -> Result<Vec<Checkpoint>, PortError> {
        Ok(self.read().checkpoints.get(&practice).cloned().unwrap_or_default())
    }

    async fn events(&self, practice: PracticeId, from: u64, limit: usize) -> Result<Vec<AuditEvent>, PortError> {
        let g = self.read();
        let chain = g.audit.get(&practice).map_or(&[][..], Vec::as_slice);
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(chain.len());
        Ok(chain[start..].iter().take(limit).cloned().collect())
    }
}

#[async_trait]
impl CredentialRepository for MemoryStore {
    async fn credentials(&self, practice: PracticeId, practitioner: PractitionerId) -> Result<Credentials, PortError> {
        Ok(self
            .read()
            .credentials
            .get(&(practice, practitioner))
            .cloned()
            .unwrap_or_default())
    }

    async fn save_credentials(
        &self,
        practice: PracticeId,
        practitioner: PractitionerId,
        credentials: &Credentials,
    ) -> Result<(), PortError> {
        self.write()
            .credentials
            .insert((practice, practitioner), credentials.clone());
        Ok(())
    }
}

#[async_trait]
impl ComplianceLog for MemoryStore {
    async fn sent_warnings(&self, practice: PracticeId) -> Result<Vec<WarningKey>, PortError> {
        Ok(self.read().warnings.get(&practice).cloned().unwrap_or_default())
    }

    async fn record_warning(&self, practice: PracticeId, key: &WarningKey) -> Result<(), PortError> {
        let mut g = self.write();
        let list = g.warnings.entry(practice).or_default();
        if !list.contains(key) {
            list.push(key.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl PrivacyRecords for MemoryStore {
    async fn record_consent(&self, practice: PracticeId, consent: &Consent) -> Result<(), PortError> {
        self.write()
            .consents
            .entry((practice, consent.patient_id))
            .or_default()
            .push(consent.clone());
        Ok(())
    }

    async fn consents(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Consent>, PortError> {
        Ok(self
            .read()
            .consents
            .get(&(practice, patient))
            .cloned()
            .unwrap_or_default())
    }

    async fn save_access_request(
        &self,
        practice: PracticeId,
        patient: PatientId,
        request: &AccessRequest,
    ) -> Result<(), PortError> {
        let mut g = self.write();
        let list = g.access_requests.entry(practice).or_default();
        match list
            .iter_mut()
            .find(|(p, r)| *p == patient && r.received_on == request.received_on)
        {
            Some(slot) => slot.1 = request.clone(),
            None => list.push((patient, request.clone())),
        }
        Ok(())
    }

    async fn record_correction(
        &self,
        practice: PracticeId,
        patient: PatientId,
        outcome: &CorrectionOutcome,
    ) -> Result<(), PortError> {
        self.write()
            .corrections
            .entry((practice, patient))
            .or_default()
            .push(outcome.clone());
        Ok(())
    }

    async fn corrections(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<CorrectionOutcome>, PortError> {
        Ok(self
            .read()
            .corrections
            .get(&(practice, patient))
            .cloned()
            .unwrap_or_default())
    }

    async fn access_requests(&self, practice: PracticeId) -> Result<Vec<(PatientId, AccessRequest)>, PortError> {
        let mut v = self.read().access_requests.get(&practice).cloned().unwrap_or_default();
        v.sort_by_key(|(p, r)| (r.received_on, *p));
        Ok(v)
    }

    async fn save_deletion_request(
        &self,
        practice: PracticeId,
        patient: PatientId,
        request: &DeletionRequest,
    ) -> Result<(), PortError> {
        let mut g = self.write();
        let list = g.deletion_requests.entry((practice, patient)).or_default();
        match list.iter_mut().find(|r| r.received_on == request.received_on) {
            Some(slot) => *slot = request.clone(),
            None => list.push(request.clone()),
        }
        list.sort_by_key(|r| r.received_on);
        Ok(())
    }

    async fn deletion_requests(
        &self,
        practice: PracticeId,
        patient: PatientId,
    ) -> Result<Vec<DeletionRequest>, PortError> {
        Ok(self
            .read()
            .deletion_requests
            .get(&(practice, patient))
            .cloned()
            .unwrap_or_default())
    }

    async fn destroy_health_records(&self, practice: PracticeId, patient: PatientId) -> Result<usize, PortError> {
        let mut g = self.write();
        let before = g.notes.len()
            + g.prescriptions.len()
            + g.results.len()
            + g.measures.len()
            + g.plans.len()
            + g.intakes.len();
        g.notes.retain(|k, n| !(k.0 == practice && n.patient_id == patient));
        g.prescriptions
            .retain(|k, p| !(k.0 == practice && p.patient_id == patient));
        g.results.retain(|k, r| !(k.0 == practice && r.patient_id == patient));
        g.measures.retain(|k, m| !(k.0 == practice && m.patient_id == patient));
        g.plans.remove(&(practice, patient));
        g.intakes.remove(&(practice, patient));
        let corrections = g.corrections.remove(&(practice, patient)).map_or(0, |c| c.len());
        let after = g.notes.len()
            + g.prescriptions.len()
            + g.results.len()
            + g.measures.len()
            + g.plans.len()
            + g.intakes.len();
        let threads: Vec<ThreadId> = g
            .threads
            .iter()
            .filter(|(k, t)| k.0 == practice && t.patient_id == patient)
            .map(|(k, _)| k.1)
            .collect();
        let mut destroyed = before - after + corrections;
        for t in threads {
            g.threads.remove(&(practice, t));
            destroyed += 1 + g.messages.remove(&(practice, t)).map_or(0, |m| m.len());
            g.read_marks.remove(&(practice, t));
        }
        Ok(destroyed)
    }
}

#[async_trait]
impl ClinicalRecords for MemoryStore {
    async fn save_prescription(&self, p: &Prescription) -> Result<(), PortError> {
        self.write().prescriptions.insert((p.practice_id, p.id), p.clone());
        Ok(())
    }

    async fn prescriptions(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Prescription>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.prescriptions
                .iter()
                .filter(|(k, p)| k.0 == practice && p.patient_id == patient)
                .map(|(_, p)| p.clone()),
            |p| (p.written_on, p.id),
        ))
    }

    async fn save_test_result(&self, r: &TestResult) -> Result<(), PortError> {
        self.write().results.insert((r.practice_id, r.id), r.clone());
        Ok(())
    }

    async fn test_result(&self, practice: PracticeId, id: TestResultId) -> Result<TestResult, PortError> {
        self.read()
            .results
            .get(&(practice, id))
            .cloned()
            .ok_or_else(|| PortError::not_found("test result"))
    }

    async fn test_results(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<TestResult>, PortError> {
        let g = self.read();
        // Ids are v7 UUIDs: ordering by id is ordering by creation.
        Ok(sorted(
            g.results
                .iter()
                .filter(|(k, r)| k.0 == practice && r.patient_id == patient)
                .map(|(_, r)| r.clone()),
            |r| r.id,
        ))
    }

    async fn save_measure(&self, m: &MeasureRecord) -> Result<(), PortError> {
        self.write().measures.insert((m.practice_id, m.id), m.clone());
        Ok(())
    }

    async fn save_plan(&self, plan: &TreatmentPlan) -> Result<(), PortError> {
        self.write()
            .plans
            .insert((plan.practice_id, plan.patient_id), plan.clone());
        Ok(())
    }

    async fn plan(&self, practice: PracticeId, patient: PatientId) -> Result<Option<TreatmentPlan>, PortError> {
        Ok(self.read().plans.get(&(practice, patient)).cloned())
    }

    async fn measures(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<MeasureRecord>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.measures
                .iter()
                .filter(|(k, m)| k.0 == practice && m.patient_id == patient)
                .map(|(_, m)| m.clone()),
            |m| (m.completed_at, m.id),
        ))
    }
}

#[async_trait]
impl IntakeRecords for MemoryStore {
    async fn save_form(&self, practice: PracticeId, form: &IntakeForm) -> Result<(), PortError> {
        let mut g = self.write();
        let forms = g.intake_forms.entry(practice).or_default();
        forms.retain(|f| f.version != form.version);
        forms.push(form.clone());
        forms.sort_by_key(|f| f.version);
        Ok(())
    }

    async fn form(&self, practice: PracticeId, version: u32) -> Result<Option<IntakeForm>, PortError> {
        Ok(self
            .read()
            .intake_forms
            .get(&practice)
            .and_then(|f| f.iter().find(|x| x.version == version).cloned()))
    }

    async fn latest_form(&self, practice: PracticeId) -> Result<Option<IntakeForm>, PortError> {
        Ok(self.read().intake_forms.get(&practice).and_then(|f| f.last().cloned()))
    }

    async fn save_submission(
        &self,
        practice: PracticeId,
        patient: PatientId,
        submission: &IntakeSubmission,
    ) -> Result<(), PortError> {
        self.write().intakes.insert((practice, patient), submission.clone());
        Ok(())
    }

    async fn submission(
        &self,
        practice: PracticeId,
        patient: PatientId,
    ) -> Result<Option<IntakeSubmission>, PortError> {
        Ok(self.read().intakes.get(&(practice, patient)).cloned())
    }
}

#[async_trait]
impl TelehealthRecords for MemoryStore {
    async fn save_prep(
        &self,
        practice: PracticeId,
        appointment: AppointmentId,
        patient: PatientId,
        prep: &SessionPrep,
    ) -> Result<(), PortError> {
        let mut g = self.write();
        let list = g.prep.entry((practice, appointment)).or_default();
        list.retain(|(p, _)| *p != patient);
        list.push((patient, prep.clone()));
        Ok(())
    }

    async fn prep(
        &self,
        practice: PracticeId,
        appointment: AppointmentId,
    ) -> Result<Vec<(PatientId, SessionPrep)>, PortError> {
        Ok(self
            .read()
            .prep
            .get(&(practice, appointment))
            .cloned()
            .unwrap_or_default())
    }
}

#[async_trait]
impl Outbox for MemoryStore {
    async fn enqueue(&self, notifications: &[Notification]) -> Result<usize, PortError> {
        Ok(self.write().enqueue(notifications))
    }

    async fn claim_due(
        &self,
        practice: PracticeId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Notification>, PortError> {
        let mut g = self.write();
        let Some(list) = g.outbox.get_mut(&practice) else {
            return Ok(Vec::new());
        };
        let mut due: Vec<usize> = (0..list.len()).filter(|i| list[*i].claimable(now)).collect();
        due.sort_by_key(|i| (list[*i].next_attempt_at, *i));
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(due
            .into_iter()
            .map(|i| {
                list[i].claim(lease_until);
                list[i].clone()
            })
            .collect())
    }

    async fn settle(&self, notification: &Notification) -> Result<(), PortError> {
        let mut g = self.write();
        let stored = g
            .outbox
            .get_mut(&notification.practice_id)
            .and_then(|l| l.iter_mut().find(|n| n.id == notification.id))
            .ok_or_else(|| PortError::not_found("notification"))?;
        if stored.state != OutboxState::Claimed || stored.attempts != notification.attempts {
            return Err(PortError::conflict("the notification was claimed again since"));
        }
        *stored = notification.clone();
        Ok(())
    }

    async fn record_delivery(
        &self,
        practice: PracticeId,
        provider_id: &str,
        status: DeliveryStatus,
        error_code: Option<String>,
    ) -> Result<bool, PortError> {
        let mut g = self.write();
        let found = g
            .outbox
            .get_mut(&practice)
            .and_then(|l| l.iter_mut().find(|n| n.provider_id.as_deref() == Some(provider_id)));
        Ok(found.map(|n| n.delivery(status, error_code)).is_some())
    }

    async fn notifications_about(&self, practice: PracticeId, about: Uuid) -> Result<Vec<Notification>, PortError> {
        Ok(self
            .read()
            .outbox
            .get(&practice)
            .map(|l| l.iter().filter(|n| n.about == about).cloned().collect())
            .unwrap_or_default())
    }

    async fn queue_depth(&self, practice: PracticeId) -> Result<clinic_core::ports::QueueDepth, PortError> {
        let mut depth = clinic_core::ports::QueueDepth::default();
        for n in self.read().outbox.get(&practice).into_iter().flatten() {
            match n.state {
                OutboxState::Pending => depth.pending += 1,
                OutboxState::Claimed => depth.claimed += 1,
                OutboxState::Parked => depth.parked += 1,
                _ => {}
            }
        }
        Ok(depth)
    }
}

fn same_email(a: &Email, b: &Email) -> bool {
    a.as_str().eq_ignore_ascii_case(b.as_str())
}

#[async_trait]
impl Accounts for MemoryStore {
    async fn create_account(&self, account: &Account) -> Result<(), PortError> {
        let mut g = self.write();
        let practice = account.user.practice_id;
        if g.accounts.iter().any(|((p, _), a)| {
            *p == practice && (same_email(&a.user.email, &account.user.email) || a.user.id == account.user.id)
        }) {
            return Err(PortError::conflict("an account with this email exists"));
        }
        g.accounts.insert((practice, account.user.id), account.clone());
        Ok(())
    }

    async fn account_by_email(&self, practice: PracticeId, email: &Email) -> Result<Account, PortError> {
        self.read()
            .accounts
            .iter()
            .find(|((p, _), a)| *p == practice && same_email(&a.user.email, email))
            .map(|(_, a)| a.clone())
            .ok_or_else(|| PortError::not_found("account"))
    }

    async fn account(&self, practice: PracticeId, user: UserId) -> Result<Account, PortError> {
        self.read()
            .accounts
            .get(&(practice, user))
            .cloned()
            .ok_or_else(|| PortError::not_found("account"))
    }

    async fn update_account(&self, account: &Account) -> Result<(), PortError> {
        let mut g = self.write();
        let stored = g
            .accounts
            .get_mut(&(account.user.practice_id, account.user.id))
            .ok_or_else(|| PortError::not_found("account"))?;
        if stored.revision != account.revision {
            return Err(PortError::conflict("the account changed since it was read"));
        }
        *stored = account.clone();
        stored.revision += 1;
        Ok(())
    }

    async fn accounts(&self, practice: PracticeId) -> Result<Vec<Account>, PortError> {
        let mut out: Vec<Account> = self
            .read()
            .accounts
            .iter()
            .filter(|((p, _), _)| *p == practice)
            .map(|(_, a)| a.clone())
            .collect();
        out.sort_by_key(|a| (a.created_at, a.user.id));
        Ok(out)
    }

    async fn delete_account(&self, practice: PracticeId, user: UserId) -> Result<(), PortError> {
        self.write().accounts.remove(&(practice, user));
        Ok(())
    }

    async fn save_refresh(&self, token: &RefreshToken) -> Result<(), PortError> {
        let mut g = self.write();
        let key = (token.practice_id, token.hash.clone());
        if g.refresh.contains_key(&key) {
            return Err(PortError::conflict("refresh token exists"));
        }
        g.refresh.insert(key, token.clone());
        Ok(())
    }

    async fn use_refresh(&self, practice: PracticeId, hash: &str, now: DateTime<Utc>) -> Result<RefreshUse, PortError> {
        let mut g = self.write();
        let Some(token) = g.refresh.get(&(practice, hash.to_owned())).cloned() else {
            return Ok(RefreshUse::Unknown);
        };
        if g.revoked_families.contains(&(practice, token.family)) {
            return Ok(RefreshUse::Revoked);
        }
        if token.used_at.is_some() {
            g.revoked_families.insert((practice, token.family));
            return Ok(RefreshUse::Reused {
                family: token.family,
                user_id: token.user_id,
            });
        }
        if token.expires_at <= now {
            return Ok(RefreshUse::Expired);
        }
        let mut used = token;
        used.used_at = Some(now);
        g.refresh.insert((practice, hash.to_owned()), used.clone());
        Ok(RefreshUse::Valid(used))
    }

    async fn revoke_family(&self, practice: PracticeId, family: Uuid) -> Result<(), PortError> {
        self.write().revoked_families.insert((practice, family));
        Ok(())
    }
}

#[async_trait]
impl InventoryRepository for MemoryStore {
    async fn item(&self, practice: PracticeId, id: ItemId) -> Result<Item, PortError> {
        self.read()
            .items
            .get(&(practice, id))
            .cloned()
            .ok_or_else(|| PortError::not_found("item"))
    }

    async fn items(&self, practice: PracticeId) -> Result<Vec<Item>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.items.iter().filter(|(k, _)| k.0 == practice).map(|(_, i)| i.clone()),
            |i| (i.name.clone(), i.id),
        ))
    }

    async fn save_item(&self, item: &Item) -> Result<(), PortError> {
        self.write().items.insert((item.practice_id, item.id), item.clone());
        Ok(())
    }

    async fn ledger(&self, practice: PracticeId, item: ItemId) -> Result<Ledger, PortError> {
        let movements = self.read().ledgers.get(&(practice, item)).cloned().unwrap_or_default();
        Ok(Ledger {
            version: movements.len() as u64,
            movements,
        })
    }

    async fn append_movement(
        &self,
        practice: PracticeId,
        expected_version: u64,
        movement: &Movement,
    ) -> Result<(), PortError> {
        if movement.practice_id != practice {
            return Err(PortError::new(
                PortErrorKind::Invalid,
                "the movement belongs to another practice",
            ));
        }
        let mut g = self.write();
        let ledger = g.ledgers.entry((practice, movement.item_id)).or_default();
        if ledger.len() as u64 != expected_version {
            return Err(PortError::conflict("the item's stock changed since it was read"));
        }
        ledger.push(movement.clone());
        Ok(())
    }

    async fn movements(&self, practice: PracticeId) -> Result<Vec<Movement>, PortError> {
        let g = self.read();
        let ledgers = sorted(g.ledgers.iter().filter(|(k, _)| k.0 == practice), |(k, _)| k.1);
        Ok(ledgers.into_iter().flat_map(|(_, v)| v.iter().cloned()).collect())
    }
}

#[async_trait]
impl MessageRepository for MemoryStore {
    async fn save_thread(&self, thread: &Thread) -> Result<(), PortError> {
        self.write()
            .threads
            .insert((thread.practice_id, thread.id), thread.clone());
        Ok(())
    }

    async fn thread(&self, practice: PracticeId, id: ThreadId) -> Result<Thread, PortError> {
        self.read()
            .threads
            .get(&(practice, id))
            .cloned()
            .ok_or_else(|| PortError::not_found("thread"))
    }

    async fn patient_threads(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Thread>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.threads
                .iter()
                .filter(|(k, t)| k.0 == practice && t.patient_id == patient)
                .map(|(_, t)| t.clone()),
            |t| (t.started_at, t.id),
        ))
    }

    async fn practitioner_threads(
        &self,
        practice: PracticeId,
        practitioner: PractitionerId,
    ) -> Result<Vec<Thread>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.threads
                .iter()
                .filter(|(k, t)| k.0 == practice && t.practitioner_ids.contains(&practitioner))
                .map(|(_, t)| t.clone()),
            |t| (t.started_at, t.id),
        ))
    }

    async fn all_threads(&self, practice: PracticeId) -> Result<Vec<Thread>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.threads
                .iter()
                .filter(|(k, _)| k.0 == practice)
                .map(|(_, t)| t.clone()),
            |t| (t.started_at, t.id),
        ))
    }

    async fn add_message(&self, message: &Message) -> Result<(), PortError> {
        self.write()
            .messages
            .entry((message.practice_id, message.thread_id))
            .or_default()
            .push(message.clone());
        Ok(())
    }

    async fn messages(&self, practice: PracticeId, thread: ThreadId) -> Result<Vec<Message>, PortError> {
        let g = self.read();
        Ok(sorted(
            g.messages.get(&(practice, thread)).into_iter().flatten().cloned(),
            |m| (m.sent_at, m.id),
        ))
    }

    async fn mark_read(&self, practice: PracticeId, thread: ThreadId, mark: ReadMark) -> Result<(), PortError> {
        let mut g = self.write();
        let marks = g.read_marks.entry((practice, thread)).or_default();
        match marks.iter_mut().find(|m| m.user_id == mark.user_id) {
            Some(m) => m.up_to = m.up_to.max(mark.up_to),
            None => marks.push(mark),
        }
        Ok(())
    }

    async fn read_marks(&self, practice: PracticeId, thread: ThreadId) -> Result<Vec<ReadMark>, PortError> {
        Ok(self
            .read()
            .read_marks
            .get(&(practice, thread))
            .cloned()
            .unwrap_or_default())
    }

    async fn record_upload(&self, practice: PracticeId, upload: &UploadRecord) -> Result<(), PortError> {
        self.write()
            .uploads
            .entry((practice, upload.user_id))
            .or_default()
            .push(upload.clone());
        Ok(())
    }

    async fn uploads(
        &self,
        practice: PracticeId,
        user: UserId,
        since: DateTime<Utc>,
    ) -> Result<Vec<UploadRecord>, PortError> {
        let mut v: Vec<UploadRecord> = self
            .read()
            .uploads
            .get(&(practice, user))
            .map(|l| l.iter().filter(|u| u.at >= since).cloned().collect())
            .unwrap_or_default();
        v.sort_by_key(|u| u.at);
        Ok(v)
    }
}

#[async_trait]
impl Inbox for MemoryStore {
    async fn deliver(&self, items: &[InboxItem]) -> Result<usize, PortError> {
        Ok(self.write().deliver(items))
    }

    async fn inbox(&self, practice: PracticeId, audience: Audience, limit: usize) -> Result<Vec<InboxItem>, PortError> {
        let g = self.read();
        let mut v: Vec<InboxItem> = g
            .inbox
            .get(&practice)
            .into_iter()
            .flatten()
            .filter(|i| i.audience == audience)
            .cloned()
            .collect();
        v.sort_by_key(|i| std::cmp::Reverse((i.at, i.id)));
        v.truncate(limit);
        Ok(v)
    }

    async fn mark_read_items(
        &self,
        practice: PracticeId,
        audience: Audience,
        ids: &[InboxItemId],
        at: DateTime<Utc>,
    ) -> Result<usize, PortError> {
        let mut g = self.write();
        let mut changed = 0;
        for i in g.inbox.entry(practice).or_default() {
            if i.audience == audience && ids.contains(&i.id) && i.read_at.is_none() {
                i.read_at = Some(at);
                changed += 1;
            }
        }
        Ok(changed)
    }
}
