//! The storage ports over [`SqlStore`].

use async_trait::async_trait;
use chrono::NaiveDate;
use clinic_core::access::CareRelationship;
use clinic_core::audit::{AuditEntry, AuditEvent, Checkpoint, seal};
use clinic_core::billing::{Claim, Invoice};
use clinic_core::clinical::{
    IntakeForm, IntakeSubmission, MeasureRecord, Prescription, ProgressNote, TestResult, TreatmentPlan,
};
use clinic_core::credentials::{Credentials, WarningKey};
use clinic_core::ids::{
    AppointmentId, ClaimId, InvoiceId, NoteId, PatientId, PracticeId, PractitionerId, ReferralId, TestResultId,
};
use clinic_core::medicare::{PastService, Referral};
use clinic_core::people::{Patient, Practitioner};
use clinic_core::ports::{
    AuditLog, CareRelationships, ClaimHistory, ClaimRepository, ClinicalRecords, ComplianceLog, CredentialRepository,
    IntakeRecords, InvoiceRepository, NoteRepository, PatientRepository, PortError, PortErrorKind, PracticeRepository,
    PractitionerRepository, PrivacyRecords, ReferralRepository, ResourceKey, TelehealthRecords, WaitlistRepository,
};
use clinic_core::practice::{Location, Practice, Room, Service};
use clinic_core::privacy::{AccessRequest, Consent, CorrectionOutcome, DeletionRequest};
use clinic_core::scheduling::{Availability, AvailabilityException, WaitlistEntry, WeeklyTemplate};
use clinic_core::telehealth::SessionPrep;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use uuid::Uuid;

use super::{Kind, SqlStore, fail, read_tx, to_i64, to_u64, uuid_key, write_tx};

/// Inserts or replaces one row of `records` inside an open transaction `$c`.
macro_rules! upsert_record {
    ($c:expr, $practice:expr, $kind:expr, $key:expr, $owner:expr, $body:expr) => {
        sqlx::query(
            "INSERT INTO records (practice_id, kind, key, owner_id, sealed_with, body) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (practice_id, kind, key) DO UPDATE
             SET owner_id = excluded.owner_id, sealed_with = excluded.sealed_with, body = excluded.body",
        )
        .bind($practice.as_uuid())
        .bind($kind.as_str())
        .bind($key)
        .bind($owner)
        .bind(&$body.sealed_with)
        .bind(&$body.bytes)
        .execute(&mut *$c)
        .await
        .map_err(fail)?
    };
}
pub(super) use upsert_record;

/// The name of a resource's calendar version and index rows.
pub(super) fn resource_name(key: ResourceKey) -> String {
    match key {
        ResourceKey::Practitioner(id) => format!("practitioner:{}", id.as_uuid().hyphenated()),
        ResourceKey::Room(id) => format!("room:{}", id.as_uuid().hyphenated()),
        ResourceKey::Patient(id) => format!("patient:{}", id.as_uuid().hyphenated()),
    }
}

pub(super) fn calendar_version(key: ResourceKey) -> String {
    format!("cal:{}", resource_name(key))
}

fn claims_version(patient: PatientId) -> String {
    format!("claims:{}", patient.as_uuid().hyphenated())
}

const INVOICE_NUMBER: &str = "invoice_number";
const AUDIT_LENGTH: &str = "audit_length";
/// The longest blocked interval ever stored, in microseconds: bounds a snapshot's scan.
pub(super) const LONGEST_BLOCK: &str = "longest_block_us";

pub(super) fn other_practice(what: &str) -> PortError {
    PortError::new(PortErrorKind::Invalid, format!("{what} belongs to another practice"))
}

/// `WarningKey` as stored: its `&'static str` fields become owned strings and are mapped
/// back to the core's constants when read.
#[derive(Serialize, Deserialize)]
struct StoredWarning {
    practitioner_id: PractitionerId,
    credential: String,
    expires_on: NaiveDate,
    stage: String,
}

impl StoredWarning {
    fn of(k: &WarningKey) -> Self {
        Self {
            practitioner_id: k.practitioner_id,
            credential: k.credential.to_owned(),
            expires_on: k.expires_on,
            stage: k.stage.to_owned(),
        }
    }

    fn into_key(self) -> Result<WarningKey, PortError> {
        let bad = || {
            PortError::new(
                PortErrorKind::Unexpected,
                "a stored warning has an unknown credential or stage",
            )
        };
        let credential = ["registration", "insurance"]
            .into_iter()
            .find(|c| *c == self.credential)
            .ok_or_else(bad)?;
        let stage = ["expiring", "late_period"]
            .into_iter()
            .find(|s| *s == self.stage)
            .ok_or_else(bad)?;
        Ok(WarningKey {
            practitioner_id: self.practitioner_id,
            credential,
            expires_on: self.expires_on,
            stage,
        })
    }
}

/// A row of `records`.
struct Stored {
    key: String,
    sealed: bool,
    body: Vec<u8>,
}

impl SqlStore {
    /// Inserts or replaces a record.
    pub(super) async fn put<T: Serialize + Sync>(
        &self,
        practice: PracticeId,
        kind: Kind,
        key: &str,
        owner: Option<Uuid>,
        value: &T,
    ) -> Result<(), PortError> {
        let body = self.encode(practice, kind, key, value)?;
        write_tx!(self, practice, |c| {
            upsert_record!(c, practice, kind, key, owner, &body);
        });
        Ok(())
    }

    /// Inserts a record unless one with its key exists.
    async fn put_once<T: Serialize + Sync>(
        &self,
        practice: PracticeId,
        kind: Kind,
        key: &str,
        value: &T,
    ) -> Result<(), PortError> {
        let body = self.encode(practice, kind, key, value)?;
        write_tx!(self, practice, |c| {
            sqlx::query(
                "INSERT INTO records (practice_id, kind, key, owner_id, sealed_with, body) VALUES ($1, $2, $3, NULL, $4, $5)
                 ON CONFLICT (practice_id, kind, key) DO NOTHING",
            )
            .bind(practice.as_uuid())
            .bind(kind.as_str())
            .bind(key)
            .bind(&body.sealed_with)
            .bind(&body.bytes)
            .execute(&mut *c)
            .await
            .map_err(fail)?;
        });
        Ok(())
    }

    /// A record by key.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        practice: PracticeId,
        kind: Kind,
        key: &str,
    ) -> Result<Option<T>, PortError> {
        let row = read_tx!(self, practice, |c| {
            sqlx::query(
                "SELECT sealed_with IS NOT NULL, body FROM records WHERE practice_id = $1 AND kind = $2 AND key = $3",
            )
            .bind(practice.as_uuid())
            .bind(kind.as_str())
            .bind(key)
            .fetch_optional(&mut *c)
            .await
            .map_err(fail)?
            .map(|r| {
                Ok::<_, PortError>((
                    r.try_get::<bool, _>(0).map_err(fail)?,
                    r.try_get::<Vec<u8>, _>(1).map_err(fail)?,
                ))
            })
            .transpose()?
        });
        row.map(|(sealed, body)| self.decode(practice, kind, key, sealed, &body))
            .transpose()
    }

    pub(super) async fn must_get<T: DeserializeOwned>(
        &self,
        practice: PracticeId,
        kind: Kind,
        key: &str,
        what: &str,
    ) -> Result<T, PortError> {
        self.get(practice, kind, key)
            .await?
            .ok_or_else(|| PortError::not_found(what))
    }

    /// One owner's records of a kind, by key: `key`, whether sealed, `body`. Parameters:
    /// the practice, the kind, the owner's id.
    fn owned_records_sql(&self) -> String {
        format!(
            "SELECT key, sealed_with IS NOT NULL, body FROM {}
             WHERE practice_id = $1 AND kind = $2 AND owner_id = $3 ORDER BY key",
            self.records_by_owner()
        )
    }

    /// Every record of a kind (of one owner if given), by key.
    pub(super) async fn list<T: DeserializeOwned>(
        &self,
        practice: PracticeId,
        kind: Kind,
        owner: Option<Uuid>,
    ) -> Result<Vec<T>, PortError> {
        let by_owner;
        let query = if owner.is_some() {
            by_owner = self.owned_records_sql();
            by_owner.as_str()
        } else {
            "SELECT key, sealed_with IS NOT NULL, body FROM records
             WHERE practice_id = $1 AND kind = $2 ORDER BY key"
        };
        #[cfg(feature = "sqlite")]
        if let Some(readers) = self.inline().filter(|_| kind.few()) {
            use super::sqlite_writer::{Args, fail as failed, query as each_row};
            let mut args = Args::default().bind(practice.as_uuid()).bind(kind.as_str());
            if let Some(owner) = owner {
                args = args.bind(owner);
            }
            let mut out = Vec::new();
            readers.read(|c| {
                each_row(c, query, &args, |r| {
                    let (key, sealed, body): (String, bool, Vec<u8>) = (
                        r.get(0).map_err(failed)?,
                        r.get(1).map_err(failed)?,
                        r.get(2).map_err(failed)?,
                    );
                    out.push(self.decode(practice, kind, &key, sealed, &body)?);
                    Ok(())
                })
            })?;
            return Ok(out);
        }
        let rows: Vec<Stored> = read_tx!(self, practice, |c| {
            let mut q = sqlx::query(query).bind(practice.as_uuid()).bind(kind.as_str());
            if let Some(owner) = owner {
                q = q.bind(owner);
            }
            let rows = q.fetch_all(&mut *c).await.map_err(fail)?;
            rows.iter()
                .map(|r| {
                    Ok(Stored {
                        key: r.try_get(0).map_err(fail)?,
                        sealed: r.try_get(1).map_err(fail)?,
                        body: r.try_get(2).map_err(fail)?,
                    })
                })
                .collect::<Result<_, PortError>>()?
        });
        rows.iter()
            .map(|s| self.decode(practice, kind, &s.key, s.sealed, &s.body))
            .collect()
    }

    /// The practices' ids, for maintenance that walks every practice (key rotation).
    ///
    /// # Errors
    /// A database failure.
    pub async fn practice_ids(&self) -> Result<Vec<PracticeId>, PortError> {
        let ids: Vec<Uuid> = match &self.db {
            #[cfg(feature = "sqlite")]
            super::Db::Sqlite { reader, .. } => {
                sqlx::query_scalar("SELECT practice_id FROM records WHERE kind = 'practice' ORDER BY practice_id")
                    .fetch_all(reader)
                    .await
                    .map_err(fail)?
            }
            #[cfg(feature = "postgres")]
            super::Db::Postgres(pool) => sqlx::query_scalar("SELECT practice_ids()")
                .fetch_all(pool)
                .await
                .map_err(fail)?,
        };
        Ok(ids.into_iter().map(PracticeId::from_uuid).collect())
    }

    /// Re-wraps up to `batch` of a practice's sealed records that are not under the current
    /// key-encryption key, without decrypting their bodies; returns how many moved. Call
    /// until it returns 0, then the old key can be retired.
    ///
    /// # Errors
    /// A database failure, or a record sealed under a key that is not configured.
    pub async fn rotate_keys(&self, practice: PracticeId, batch: u32) -> Result<usize, PortError> {
        let current = self.cipher.current_key_id().to_owned();
        let moved = write_tx!(self, practice, |c| {
            let rows = sqlx::query(
                "SELECT kind, key, body FROM records
                 WHERE practice_id = $1 AND sealed_with IS NOT NULL AND sealed_with <> $2 LIMIT $3",
            )
            .bind(practice.as_uuid())
            .bind(&current)
            .bind(i64::from(batch))
            .fetch_all(&mut *c)
            .await
            .map_err(fail)?;
            let mut moved = 0;
            for r in &rows {
                let kind: String = r.try_get(0).map_err(fail)?;
                let key: String = r.try_get(1).map_err(fail)?;
                let body: Vec<u8> = r.try_get(2).map_err(fail)?;
                let Some(rewrapped) = self.cipher.rewrap(&body)? else {
                    continue;
                };
                sqlx::query(
                    "UPDATE records SET body = $4, sealed_with = $5 WHERE practice_id = $1 AND kind = $2 AND key = $3",
                )
                .bind(practice.as_uuid())
                .bind(&kind)
                .bind(&key)
                .bind(&rewrapped)
                .bind(&current)
                .execute(&mut *c)
                .await
                .map_err(fail)?;
                moved += 1;
            }
            moved
        });
        Ok(moved)
    }
}

/// The body of the row `$id` of an id-keyed table (`appointments`, `invoices`, `claims`),
/// read on connection `$c`.
macro_rules! body_by_id {
    ($c:expr, $table:literal, $practice:expr, $id:expr) => {
        sqlx::query_scalar::<_, Vec<u8>>(concat!(
            "SELECT body FROM ",
            $table,
            " WHERE practice_id = $1 AND id = $2"
        ))
        .bind($practice.as_uuid())
        .bind($id)
        .fetch_optional(&mut *$c)
        .await
        .map_err(fail)?
    };
}

/// Compare-and-swap of a version row: true if it was at `expected` (0 = absent) and is now
/// one higher.
macro_rules! cas {
    ($c:expr, $practice:expr, $name:expr, $expected:expr) => {{
        let expected: u64 = $expected;
        let done = if expected == 0 {
            sqlx::query(
                "INSERT INTO versions (practice_id, name, value) VALUES ($1, $2, 1)
                 ON CONFLICT (practice_id, name) DO NOTHING",
            )
            .bind($practice.as_uuid())
            .bind($name)
            .execute(&mut *$c)
            .await
            .map_err(fail)?
        } else {
            sqlx::query("UPDATE versions SET value = value + 1 WHERE practice_id = $1 AND name = $2 AND value = $3")
                .bind($practice.as_uuid())
                .bind($name)
                .bind(to_i64(expected)?)
                .execute(&mut *$c)
                .await
                .map_err(fail)?
        };
        done.rows_affected() == 1
    }};
}

/// Increments a version row (creating it at 1) and returns its new value.
macro_rules! bump {
    ($c:expr, $practice:expr, $name:expr) => {{
        let value: i64 = sqlx::query_scalar(
            "INSERT INTO versions (practice_id, name, value) VALUES ($1, $2, 1)
             ON CONFLICT (practice_id, name) DO UPDATE SET value = versions.value + 1
             RETURNING value",
        )
        .bind($practice.as_uuid())
        .bind($name)
        .fetch_one(&mut *$c)
        .await
        .map_err(fail)?;
        to_u64(value)
    }};
}

#[async_trait]
impl PracticeRepository for SqlStore {
    async fn practice(&self, id: PracticeId) -> Result<Practice, PortError> {
        self.must_get(id, Kind::Practice, &uuid_key(id.as_uuid()), "practice")
            .await
    }

    async fn save_practice(&self, practice: &Practice) -> Result<(), PortError> {
        self.put(
            practice.id,
            Kind::Practice,
            &uuid_key(practice.id.as_uuid()),
            None,
            practice,
        )
        .await
    }

    async fn locations(&self, practice: PracticeId) -> Result<Vec<Location>, PortError> {
        let mut v: Vec<Location> = self.list(practice, Kind::Location, None).await?;
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    async fn save_location(&self, location: &Location) -> Result<(), PortError> {
        let key = uuid_key(location.id.as_uuid());
        self.put(location.practice_id, Kind::Location, &key, None, location)
            .await
    }

    async fn rooms(&self, practice: PracticeId) -> Result<Vec<Room>, PortError> {
        let mut v: Vec<Room> = self.list(practice, Kind::Room, None).await?;
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    async fn save_room(&self, room: &Room) -> Result<(), PortError> {
        self.put(room.practice_id, Kind::Room, &uuid_key(room.id.as_uuid()), None, room)
            .await
    }

    async fn services(&self, practice: PracticeId) -> Result<Vec<Service>, PortError> {
        let mut v: Vec<Service> = self.list(practice, Kind::Service, None).await?;
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    async fn save_service(&self, service: &Service) -> Result<(), PortError> {
        let key = uuid_key(service.id.as_uuid());
        self.put(service.practice_id, Kind::Service, &key, None, service).await
    }
}

#[async_trait]
impl PatientRepository for SqlStore {
    async fn patient(&self, practice: PracticeId, id: PatientId) -> Result<Patient, PortError> {
        self.must_get(practice, Kind::Patient, &uuid_key(id.as_uuid()), "patient")
            .await
    }

    async fn save_patient(&self, patient: &Patient) -> Result<(), PortError> {
        let key = uuid_key(patient.id.as_uuid());
        self.put(patient.practice_id, Kind::Patient, &key, None, patient).await
    }

    async fn patients(&self, practice: PracticeId) -> Result<Vec<Patient>, PortError> {
        let mut v: Vec<Patient> = self.list(practice, Kind::Patient, None).await?;
        v.sort_by(|a, b| {
            (&a.legal_name.family, &a.legal_name.given, a.id).cmp(&(&b.legal_name.family, &b.legal_name.given, b.id))
        });
        Ok(v)
    }
}

#[async_trait]
impl PractitionerRepository for SqlStore {
    async fn practitioner(&self, practice: PracticeId, id: PractitionerId) -> Result<Practitioner, PortError> {
        self.must_get(practice, Kind::Practitioner, &uuid_key(id.as_uuid()), "practitioner")
            .await
    }

    async fn practitioners(&self, practice: PracticeId) -> Result<Vec<Practitioner>, PortError> {
        let mut v: Vec<Practitioner> = self.list(practice, Kind::Practitioner, None).await?;
        v.sort_by(|a, b| (&a.display_name, a.id).cmp(&(&b.display_name, b.id)));
        Ok(v)
    }

    async fn save_practitioner(&self, practitioner: &Practitioner) -> Result<(), PortError> {
        let key = uuid_key(practitioner.id.as_uuid());
        self.put(practitioner.practice_id, Kind::Practitioner, &key, None, practitioner)
            .await
    }

    async fn availability(&self, practice: PracticeId, id: PractitionerId) -> Result<Availability, PortError> {
        Ok(Availability {
            templates: self.list(practice, Kind::Template, Some(id.as_uuid())).await?,
            exceptions: self.list(practice, Kind::Exception, Some(id.as_uuid())).await?,
        })
    }

    async fn availabilities(
        &self,
        practice: PracticeId,
        ids: &[PractitionerId],
    ) -> Result<Vec<Availability>, PortError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One read for every practitioner asked about, templates and exceptions together.
        let sql = format!(
            "SELECT kind, key, owner_id, body FROM {}
             WHERE practice_id = $1 AND kind IN ('template', 'exception') AND owner_id IN ({}) ORDER BY key",
            self.records_by_owner(),
            (0..ids.len())
                .map(|i| format!("${}", i + 2))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows: Vec<(String, String, Uuid, Vec<u8>)> = read_tx!(self, practice, |c| {
            let mut q = sqlx::query_as(&sql).bind(practice.as_uuid());
            for id in ids {
                q = q.bind(id.as_uuid());
            }
            q.fetch_all(&mut *c).await.map_err(fail)?
        });
        let mut by_owner: std::collections::HashMap<Uuid, Availability> = std::collections::HashMap::new();
        for (kind, key, owner, body) in rows {
            let entry = by_owner.entry(owner).or_default();
            if kind == Kind::Template.as_str() {
                entry
                    .templates
                    .push(self.decode(practice, Kind::Template, &key, false, &body)?);
            } else {
                entry
                    .exceptions
                    .push(self.decode(practice, Kind::Exception, &key, false, &body)?);
            }
        }
        Ok(ids
            .iter()
            .map(|id| by_owner.get(&id.as_uuid()).cloned().unwrap_or_default())
            .collect())
    }

    async fn save_template(&self, template: &WeeklyTemplate) -> Result<(), PortError> {
        let key = uuid_key(template.id.as_uuid());
        let owner = Some(template.practitioner_id.as_uuid());
        self.put(template.practice_id, Kind::Template, &key, owner, template)
            .await
    }

    async fn save_exception(&self, exception: &AvailabilityException) -> Result<(), PortError> {
        let key = uuid_key(exception.id.as_uuid());
        let owner = Some(exception.practitioner_id.as_uuid());
        self.put(exception.practice_id, Kind::Exception, &key, owner, exception)
            .await
    }
}

#[async_trait]
impl WaitlistRepository for SqlStore {
    async fn waitlist(&self, practice: PracticeId) -> Result<Vec<WaitlistEntry>, PortError> {
        self.list(practice, Kind::Waitlist, None).await
    }

    async fn save_waitlist_entry(&self, entry: &WaitlistEntry) -> Result<(), PortError> {
        let key = uuid_key(entry.id.as_uuid());
        let owner = Some(entry.patient_id.as_uuid());
        self.put(entry.practice_id, Kind::Waitlist, &key, owner, entry).await
    }
}

fn encode_invoice(invoice: &Invoice) -> Result<Vec<u8>, PortError> {
    serde_json::to_vec(invoice)
        .map_err(|e| PortError::new(PortErrorKind::Unexpected, "an invoice could not be serialized").with_source(e))
}

fn decode_invoice(body: &[u8]) -> Result<Invoice, PortError> {
    serde_json::from_slice(body).map_err(|e| super::corrupt("invoice", e))
}

fn stale_invoice() -> PortError {
    PortError::conflict("the invoice changed or was issued since it was read")
}

#[async_trait]
impl InvoiceRepository for SqlStore {
    async fn invoice(&self, practice: PracticeId, id: InvoiceId) -> Result<Invoice, PortError> {
        let body = read_tx!(self, practice, |c| body_by_id!(c, "invoices", practice, id.as_uuid()));
        decode_invoice(&body.ok_or_else(|| PortError::not_found("invoice"))?)
    }

    async fn save_draft(&self, invoice: &Invoice) -> Result<(), PortError> {
        if invoice.number.is_some() {
            return Err(PortError::new(PortErrorKind::Invalid, "save_draft takes drafts only"));
        }
        let mut copy = invoice.clone();
        copy.revision = invoice.revision + 1;
        let body = encode_invoice(&copy)?;
        let practice = invoice.practice_id;
        let done = write_tx!(self, practice, |c| {
            // Inserts, or replaces a draft still at the revision the caller read.
            sqlx::query(
                "INSERT INTO invoices (practice_id, id, patient_id, number, revision, body)
                 VALUES ($1, $2, $3, NULL, $4, $5)
                 ON CONFLICT (practice_id, id) DO UPDATE SET
                    patient_id = excluded.patient_id, revision = excluded.revision, body = excluded.body
                 WHERE invoices.number IS NULL AND invoices.revision = $6",
            )
            .bind(practice.as_uuid())
            .bind(invoice.id.as_uuid())
            .bind(invoice.patient_id.as_uuid())
            .bind(to_i64(copy.revision)?)
            .bind(&body)
            .bind(to_i64(invoice.revision)?)
            .execute(&mut *c)
            .await
            .map_err(fail)?
            .rows_affected()
        });
        if done == 1 { Ok(()) } else { Err(stale_invoice()) }
    }

    async fn issue(
        &self,
        practice: PracticeId,
        id: InvoiceId,
        expected_revision: u64,
        issued_on: NaiveDate,
    ) -> Result<Invoice, PortError> {
        let issued = write_tx!(self, practice, |c| {
            let body = body_by_id!(c, "invoices", practice, id.as_uuid());
            let mut inv = decode_invoice(&body.ok_or_else(|| PortError::not_found("invoice"))?)?;
            if inv.number.is_some() || inv.revision != expected_revision {
                return Err(stale_invoice());
            }
            // The counter row's lock orders concurrent issues; a failure below rolls the
            // number back with everything else, so numbers have no gaps.
            let next = bump!(c, practice, INVOICE_NUMBER);
            inv.issue(next, issued_on)
                .map_err(|e| PortError::new(PortErrorKind::Invalid, e.to_string()))?;
            inv.revision += 1;
            let updated = sqlx::query(
                "UPDATE invoices SET number = $3, revision = $4, body = $5
                 WHERE practice_id = $1 AND id = $2 AND number IS NULL AND revision = $6",
            )
            .bind(practice.as_uuid())
            .bind(id.as_uuid())
            .bind(to_i64(next)?)
            .bind(to_i64(inv.revision)?)
            .bind(encode_invoice(&inv)?)
            .bind(to_i64(expected_revision)?)
            .execute(&mut *c)
            .await
            .map_err(fail)?;
            if updated.rows_affected() != 1 {
                return Err(stale_invoice());
            }
            inv
        });
        Ok(issued)
    }

    async fn update(&self, invoice: &Invoice) -> Result<(), PortError> {
        let practice = invoice.practice_id;
        let mut copy = invoice.clone();
        copy.revision += 1;
        let body = encode_invoice(&copy)?;
        write_tx!(self, practice, |c| {
            let stored = body_by_id!(c, "invoices", practice, invoice.id.as_uuid());
            let stored = decode_invoice(&stored.ok_or_else(|| PortError::not_found("invoice"))?)?;
            if stored.revision != invoice.revision {
                return Err(PortError::conflict("the invoice changed since it was read"));
            }
            if stored.number.is_none() || stored.number != invoice.number || stored.lines != invoice.lines {
                return Err(PortError::new(
                    PortErrorKind::Invalid,
                    "an issued invoice keeps its number and lines",
                ));
            }
            let updated = sqlx::query(
                "UPDATE invoices SET revision = $3, body = $4 WHERE practice_id = $1 AND id = $2 AND revision = $5",
            )
            .bind(practice.as_uuid())
            .bind(invoice.id.as_uuid())
            .bind(to_i64(copy.revision)?)
            .bind(&body)
            .bind(to_i64(invoice.revision)?)
            .execute(&mut *c)
            .await
            .map_err(fail)?;
            if updated.rows_affected() != 1 {
                return Err(PortError::conflict("the invoice changed since it was read"));
            }
        });
        Ok(())
    }

    async fn issued_invoices(
        &self,
        practice: PracticeId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Invoice>, PortError> {
        let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let bodies: Vec<Vec<u8>> = read_tx!(self, practice, |c| {
            sqlx::query_scalar(
                "SELECT body FROM invoices WHERE practice_id = $1 AND number IS NOT NULL AND number < $2 \
                 ORDER BY number DESC LIMIT $3",
            )
            .bind(practice.as_uuid())
            .bind(before)
            .bind(limit)
            .fetch_all(&mut *c)
            .await
            .map_err(fail)?
        });
        bodies.iter().map(|b| decode_invoice(b)).collect()
    }

    async fn invoices_for(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Invoice>, PortError> {
        let sql = format!(
            "SELECT body FROM {} WHERE practice_id = $1 AND patient_id = $2",
            self.through(super::INVOICES_BY_PATIENT)
        );
        let bodies: Vec<Vec<u8>> = read_tx!(self, practice, |c| {
            sqlx::query_scalar(&sql)
                .bind(practice.as_uuid())
                .bind(patient.as_uuid())
                .fetch_all(&mut *c)
                .await
                .map_err(fail)?
        });
        let mut v = bodies
            .iter()
            .map(|b| decode_invoice(b))
            .collect::<Result<Vec<_>, _>>()?;
        // Invoice ids are v7 UUIDs: ordering by id is ordering by creation.
        v.sort_by_key(|i| i.id);
        Ok(v)
    }
}

fn decode_claim(body: &[u8]) -> Result<Claim, PortError> {
    serde_json::from_slice(body).map_err(|e| super::corrupt("claim", e))
}

#[async_trait]
impl ClaimRepository for SqlStore {
    async fn claim(&self, practice: PracticeId, id: ClaimId) -> Result<Claim, PortError> {
        let body = read_tx!(self, practice, |c| body_by_id!(c, "claims", practice, id.as_uuid()));
        decode_claim(&body.ok_or_else(|| PortError::not_found("claim"))?)
    }

    async fn history(&self, practice: PracticeId, patient: PatientId) -> Result<ClaimHistory, PortError> {
        #[cfg(feature = "sqlite")]
        if let Some(readers) = self.inline() {
            // One read transaction: the version, claims and external sessions of one moment.
            use super::sqlite_writer::{Args, fail as failed, query};
            let name = claims_version(patient);
            let external = self.owned_records_sql();
            let (mut version, mut claims, mut past) = (0i64, Vec::new(), Vec::new());
            readers.read(|c| {
                let at = Args::default().bind(practice.as_uuid());
                query(
                    c,
                    "SELECT value FROM versions WHERE practice_id = $1 AND name = $2",
                    &at.clone().bind(name.as_str()),
                    |r| {
                        version = r.get(0).map_err(failed)?;
                        Ok(())
                    },
                )?;
                query(
                    c,
                    "SELECT body FROM claims WHERE practice_id = $1 AND patient_id = $2 ORDER BY service_date",
                    &at.clone().bind(patient.as_uuid()),
                    |r| {
                        claims.push(decode_claim(&r.get::<_, Vec<u8>>(0).map_err(failed)?)?);
                        Ok(())
                    },
                )?;
                query(
                    c,
                    &external,
                    &at.bind(Kind::PastService.as_str()).bind(patient.as_uuid()),
                    |r| {
                        let (key, sealed, body): (String, bool, Vec<u8>) = (
                            r.get(0).map_err(failed)?,
                            r.get(1).map_err(failed)?,
                            r.get(2).map_err(failed)?,
                        );
                        past.push(self.decode(practice, Kind::PastService, &key, sealed, &body)?);
                        Ok(())
                    },
                )
            })?;
            claims.sort_by_key(|c| (c.service_date, c.id));
            return Ok(ClaimHistory {
                claims,
                external: past,
                version: to_u64(version),
            });
        }
        // The version first, for the same reason as a calendar snapshot; the sessions
        // claimed elsewhere in the same transaction (one round trip fewer a Medicare
        // booking's warnings).
        let external_sql = self.owned_records_sql();
        let (version, bodies, external) = read_tx!(self, practice, |c| {
            let version: Option<i64> =
                sqlx::query_scalar("SELECT value FROM versions WHERE practice_id = $1 AND name = $2")
                    .bind(practice.as_uuid())
                    .bind(claims_version(patient))
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(fail)?;
            let bodies: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT body FROM claims WHERE practice_id = $1 AND patient_id = $2 ORDER BY service_date",
            )
            .bind(practice.as_uuid())
            .bind(patient.as_uuid())
            .fetch_all(&mut *c)
            .await
            .map_err(fail)?;
            let external: Vec<(String, bool, Vec<u8>)> = sqlx::query_as(&external_sql)
                .bind(practice.as_uuid())
                .bind(Kind::PastService.as_str())
                .bind(patient.as_uuid())
                .fetch_all(&mut *c)
                .await
                .map_err(fail)?;
            (version, bodies, external)
        });
        let mut claims = bodies.iter().map(|b| decode_claim(b)).collect::<Result<Vec<_>, _>>()?;
        claims.sort_by_key(|c| (c.service_date, c.id));
        Ok(ClaimHistory {
            claims,
            external: external
                .iter()
                .map(|(key, sealed, body)| self.decode(practice, Kind::PastService, key, *sealed, body))
                .collect::<Result<_, _>>()?,
            version: to_u64(version.unwrap_or(0)),
        })
    }

    async fn commit_claim(&self, practice: PracticeId, expected_version: u64, claim: &Claim) -> Result<(), PortError> {
        if claim.practice_id != practice {
            return Err(other_practice("the claim"));
        }
        let body = serde_json::to_vec(claim)
            .map_err(|e| PortError::new(PortErrorKind::Unexpected, "a claim could not be serialized").with_source(e))?;
        write_tx!(self, practice, |c| {
            if !cas!(c, practice, claims_version(claim.patient_id), expected_version) {
                return Err(PortError::conflict("the patient's claims changed since they were read"));
            }
            sqlx::query(
                "INSERT INTO claims (practice_id, id, patient_id, service_date, body) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (practice_id, id) DO UPDATE SET
                    patient_id = excluded.patient_id, service_date = excluded.service_date, body = excluded.body",
            )
            .bind(practice.as_uuid())
            .bind(claim.id.as_uuid())
            .bind(claim.patient_id.as_uuid())
            .bind(claim.service_date.to_string())
            .bind(&body)
            .execute(&mut *c)
            .await
            .map_err(fail)?;
        });
        Ok(())
    }

    async fn record_external(
        &self,
        practice: PracticeId,
        patient: PatientId,
        service: &PastService,
    ) -> Result<(), PortError> {
        let key = uuid_key(Uuid::now_v7());
        let body = self.encode(practice, Kind::PastService, &key, service)?;
        write_tx!(self, practice, |c| {
            sqlx::query(
                "INSERT INTO records (practice_id, kind, key, owner_id, sealed_with, body) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(practice.as_uuid())
            .bind(Kind::PastService.as_str())
            .bind(&key)
            .bind(patient.as_uuid())
            .bind(&body.sealed_with)
            .bind(&body.bytes)
            .execute(&mut *c)
            .await
            .map_err(fail)?;
            bump!(c, practice, claims_version(patient));
        });
        Ok(())
    }
}

#[async_trait]
impl ReferralRepository for SqlStore {
    async fn referral(&self, practice: PracticeId, id: ReferralId) -> Result<Referral, PortError> {
        self.must_get(practice, Kind::Referral, &uuid_key(id.as_uuid()), "referral")
            .await
    }

    async fn referrals(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Referral>, PortError> {
        let mut v: Vec<Referral> = self.list(practice, Kind::Referral, Some(patient.as_uuid())).await?;
        v.sort_by_key(|r| (r.written_on, r.id));
        Ok(v)
    }

    async fn save_referral(&self, referral: &Referral) -> Result<(), PortError> {
        let key = uuid_key(referral.id.as_uuid());
        let owner = Some(referral.patient_id.as_uuid());
        self.put(referral.practice_id, Kind::Referral, &key, owner, referral)
            .await
    }
}

#[async_trait]
impl NoteRepository for SqlStore {
    async fn note(&self, practice: PracticeId, id: NoteId) -> Result<ProgressNote, PortError> {
        self.must_get(practice, Kind::Note, &uuid_key(id.as_uuid()), "note")
            .await
    }

    async fn save_note(&self, note: &ProgressNote) -> Result<(), PortError> {
        let key = uuid_key(note.id.as_uuid());
        let owner = Some(note.patient_id.as_uuid());
        self.put(note.practice_id, Kind::Note, &key, owner, note).await
    }

    async fn notes(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<ProgressNote>, PortError> {
        // Keys are v7 UUIDs: key order is creation order.
        self.list(practice, Kind::Note, Some(patient.as_uuid())).await
    }

    async fn destroy_notes(&self, practice: PracticeId, patient: PatientId) -> Result<usize, PortError> {
        let sql = format!(
            "DELETE FROM {} WHERE practice_id = $1 AND kind = $2 AND owner_id = $3",
            self.records_by_owner()
        );
        let n = write_tx!(self, practice, |c| {
            sqlx::query(&sql)
                .bind(practice.as_uuid())
                .bind(Kind::Note.as_str())
                .bind(patient.as_uuid())
                .execute(&mut *c)
                .await
                .map_err(fail)?
                .rows_affected()
        });
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

#[async_trait]
impl CareRelationships for SqlStore {
    async fn treats(
        &self,
        practice: PracticeId,
        practitioner: PractitionerId,
        patient: PatientId,
    ) -> Result<bool, PortError> {
        let found: Option<i32> = read_tx!(self, practice, |c| {
            sqlx::query_scalar(
                "SELECT 1 FROM appointment_resources r
                 JOIN appointments a ON a.practice_id = r.practice_id AND a.id = r.appointment_id
                 WHERE r.practice_id = $1 AND r.resource = $2 AND a.practitioner_id = $3 AND a.holds_time LIMIT 1",
            )
            .bind(practice.as_uuid())
            .bind(resource_name(ResourceKey::Patient(patient)))
            .bind(practitioner.as_uuid())
            .fetch_optional(&mut *c)
            .await
            .map_err(fail)?
        });
        Ok(found.is_some())
    }

    async fn save_care(&self, record: &CareRelationship) -> Result<(), PortError> {
        let key = uuid_key(record.id);
        self.put(
            record.practice_id,
            Kind::Care,
            &key,
            Some(record.patient_id.as_uuid()),
            record,
        )
        .await
    }

    async fn care_records(
        &self,
        practice: PracticeId,
        patient: Option<PatientId>,
    ) -> Result<Vec<CareRelationship>, PortError> {
        let mut v: Vec<CareRelationship> = self.list(practice, Kind::Care, patient.map(|p| p.as_uuid())).await?;
        v.sort_by_key(|r| (r.from, r.id));
        Ok(v)
    }
}

fn decode_event(body: &[u8]) -> Result<AuditEvent, PortError> {
    serde_json::from_slice(body).map_err(|e| super::corrupt("audit event", e))
}

#[async_trait]
impl AuditLog for SqlStore {
    async fn append(&self, entry: AuditEntry) -> Result<AuditEvent, PortError> {
        let practice = entry.practice_id;
        let event = write_tx!(self, practice, |c| {
            // The length row's lock orders concurrent appends into one chain.
            let length = bump!(c, practice, AUDIT_LENGTH);
            let prev = if length >= 2 {
                let body: Vec<u8> =
                    sqlx::query_scalar("SELECT body FROM audit_events WHERE practice_id = $1 AND seq = $2")
                        .bind(practice.as_uuid())
                        .bind(to_i64(length - 2)?)
                        .fetch_one(&mut *c)
                        .await
                        .map_err(fail)?;
                Some(decode_event(&body)?)
            } else {
                None
            };
            let event = seal(prev.as_ref(), entry);
            let body = serde_json::to_vec(&event).map_err(|e| {
                PortError::new(PortErrorKind::Unexpected, "an audit event could not be serialized").with_source(e)
            })?;
            sqlx::query("INSERT INTO audit_events (practice_id, seq, body) VALUES ($1, $2, $3)")
                .bind(practice.as_uuid())
                .bind(to_i64(event.seq)?)
                .bind(&body)
                .execute(&mut *c)
                .await
                .map_err(fail)?;
            event
        });
        Ok(event)
    }

    async fn events(&self, practice: PracticeId, from: u64, limit: usize) -> Result<Vec<AuditEvent>, PortError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let bodies: Vec<Vec<u8>> = read_tx!(self, practice, |c| {
            sqlx::query_scalar(
                "SELECT body FROM audit_events WHERE practice_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
            )
            .bind(practice.as_uuid())
            .bind(from)
            .bind(limit)
            .fetch_all(&mut *c)
            .await
            .map_err(fail)?
        });
        bodies.iter().map(|b| decode_event(b)).collect()
    }

    async fn save_checkpoint(&self, practice: PracticeId, checkpoint: &Checkpoint) -> Result<(), PortError> {
        let key = format!("{:020}", checkpoint.seq);
        self.put(practice, Kind::Checkpoint, &key, None, checkpoint).await
    }

    async fn checkpoints(&self, practice: PracticeId) -> Result<Vec<Checkpoint>, PortError> {
        self.list(practice, Kind::Checkpoint, None).await
    }
}

#[async_trait]
impl CredentialRepository for SqlStore {
    async fn credentials(&self, practice: PracticeId, practitioner: PractitionerId) -> Result<Credentials, PortError> {
        Ok(self
            .get(practice, Kind::Credentials, &uuid_key(practitioner.as_uuid()))
            .await?
            .unwrap_or_default())
    }

    async fn save_credentials(
        &self,
        practice: PracticeId,
        practitioner: PractitionerId,
        credentials: &Credentials,
    ) -> Result<(), PortError> {
        let key = uuid_key(practitioner.as_uuid());
        let owner = Some(practitioner.as_uuid());
        self.put(practice, Kind::Credentials, &key, owner, credentials).await
    }
}

#[async_trait]
impl ComplianceLog for SqlStore {
    async fn sent_warnings(&self, practice: PracticeId) -> Result<Vec<WarningKey>, PortError> {
        let stored: Vec<StoredWarning> = self.list(practice, Kind::Warning, None).await?;
        stored.into_iter().map(StoredWarning::into_key).collect()
    }

    async fn record_warning(&self, practice: PracticeId, key: &WarningKey) -> Result<(), PortError> {
        let stored = StoredWarning::of(key);
        let id = format!(
            "{}/{}/{}/{}",
            key.practitioner_id.as_uuid().hyphenated(),
            key.credential,
            key.expires_on,
            key.stage
        );
        self.put_once(practice, Kind::Warning, &id, &stored).await
    }
}

#[async_trait]
impl PrivacyRecords for SqlStore {
    async fn record_consent(&self, practice: PracticeId, consent: &Consent) -> Result<(), PortError> {
        let key = uuid_key(Uuid::now_v7());
        let owner = Some(consent.patient_id.as_uuid());
        self.put(practice, Kind::Consent, &key, owner, consent).await
    }

    async fn consents(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Consent>, PortError> {
        self.list(practice, Kind::Consent, Some(patient.as_uuid())).await
    }

    async fn save_access_request(
        &self,
        practice: PracticeId,
        patient: PatientId,
        request: &AccessRequest,
    ) -> Result<(), PortError> {
        let key = format!("{}/{}", patient.as_uuid().hyphenated(), request.received_on);
        self.put(
            practice,
            Kind::AccessRequest,
            &key,
            Some(patient.as_uuid()),
            &(patient, request),
        )
        .await
    }

    async fn access_requests(&self, practice: PracticeId) -> Result<Vec<(PatientId, AccessRequest)>, PortError> {
        let mut v: Vec<(PatientId, AccessRequest)> = self.list(practice, Kind::AccessRequest, None).await?;
        v.sort_by_key(|(p, r)| (r.received_on, *p));
        Ok(v)
    }

    async fn record_correction(
        &self,
        practice: PracticeId,
        patient: PatientId,
        outcome: &CorrectionOutcome,
    ) -> Result<(), PortError> {
        let key = uuid_key(Uuid::now_v7());
        self.put(practice, Kind::Correction, &key, Some(patient.as_uuid()), outcome)
            .await
    }

    async fn corrections(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<CorrectionOutcome>, PortError> {
        self.list(practice, Kind::Correction, Some(patient.as_uuid())).await
    }

    async fn save_deletion_request(
        &self,
        practice: PracticeId,
        patient: PatientId,
        request: &DeletionRequest,
    ) -> Result<(), PortError> {
        let key = format!("{}/{}", patient.as_uuid().hyphenated(), request.received_on);
        self.put(practice, Kind::DeletionRequest, &key, Some(patient.as_uuid()), request)
            .await
    }

    async fn deletion_requests(
        &self,
        practice: PracticeId,
        patient: PatientId,
    ) -> Result<Vec<DeletionRequest>, PortError> {
        let mut v: Vec<DeletionRequest> = self
            .list(practice, Kind::DeletionRequest, Some(patient.as_uuid()))
            .await?;
        v.sort_by_key(|r| r.received_on);
        Ok(v)
    }

    async fn destroy_health_records(&self, practice: PracticeId, patient: PatientId) -> Result<usize, PortError> {
        use clinic_core::ports::MessageRepository as _;
        let threads: Vec<Uuid> = self
            .patient_threads(practice, patient)
            .await?
            .iter()
            .map(|t| t.id.as_uuid())
            .collect();
        let by_owner = format!(
            "DELETE FROM {} WHERE practice_id = $1 AND kind = $2 AND owner_id = $3",
            self.records_by_owner()
        );
        let owned_by_patient = [
            Kind::Note,
            Kind::IntakeSubmission,
            Kind::Measure,
            Kind::Plan,
            Kind::Prescription,
            Kind::TestResult,
            Kind::Thread,
            // The correction history keeps each previous version of the record: its names,
            // dates and contacts would identify the patient again.
            Kind::Correction,
        ];
        // Plans and intake submissions are keyed by the patient's id as well as owned by it.
        let n = write_tx!(self, practice, |c| {
            let mut n = 0u64;
            for kind in owned_by_patient {
                n += sqlx::query(&by_owner)
                    .bind(practice.as_uuid())
                    .bind(kind.as_str())
                    .bind(patient.as_uuid())
                    .execute(&mut *c)
                    .await
                    .map_err(fail)?
                    .rows_affected();
            }
            for thread in &threads {
                for kind in [Kind::Message, Kind::ReadMark] {
                    let gone = sqlx::query(&by_owner)
                        .bind(practice.as_uuid())
                        .bind(kind.as_str())
                        .bind(*thread)
                        .execute(&mut *c)
                        .await
                        .map_err(fail)?
                        .rows_affected();
                    // Read marks and memberships are bookkeeping, not records: not counted.
                    if kind == Kind::Message {
                        n += gone;
                    }
                }
                // A membership's key is `{practitioner}:{thread}`.
                sqlx::query("DELETE FROM records WHERE practice_id = $1 AND kind = $2 AND key LIKE $3")
                    .bind(practice.as_uuid())
                    .bind(Kind::ThreadMember.as_str())
                    .bind(format!("%:{}", uuid_key(*thread)))
                    .execute(&mut *c)
                    .await
                    .map_err(fail)?;
            }
            n
        });
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

#[async_trait]
impl ClinicalRecords for SqlStore {
    async fn save_prescription(&self, p: &Prescription) -> Result<(), PortError> {
        let key = uuid_key(p.id.as_uuid());
        self.put(p.practice_id, Kind::Prescription, &key, Some(p.patient_id.as_uuid()), p)
            .await
    }

    async fn prescriptions(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Prescription>, PortError> {
        let mut v: Vec<Prescription> = self.list(practice, Kind::Prescription, Some(patient.as_uuid())).await?;
        v.sort_by_key(|p| (p.written_on, p.id));
        Ok(v)
    }

    async fn save_test_result(&self, r: &TestResult) -> Result<(), PortError> {
        let key = uuid_key(r.id.as_uuid());
        self.put(r.practice_id, Kind::TestResult, &key, Some(r.patient_id.as_uuid()), r)
            .await
    }

    async fn test_result(&self, practice: PracticeId, id: TestResultId) -> Result<TestResult, PortError> {
        self.must_get(practice, Kind::TestResult, &uuid_key(id.as_uuid()), "test result")
            .await
    }

    async fn test_results(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<TestResult>, PortError> {
        self.list(practice, Kind::TestResult, Some(patient.as_uuid())).await
    }

    async fn save_measure(&self, m: &MeasureRecord) -> Result<(), PortError> {
        let key = uuid_key(m.id.as_uuid());
        self.put(m.practice_id, Kind::Measure, &key, Some(m.patient_id.as_uuid()), m)
            .await
    }

    async fn measures(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<MeasureRecord>, PortError> {
        let mut v: Vec<MeasureRecord> = self.list(practice, Kind::Measure, Some(patient.as_uuid())).await?;
        v.sort_by_key(|m| (m.completed_at, m.id));
        Ok(v)
    }

    async fn save_plan(&self, plan: &TreatmentPlan) -> Result<(), PortError> {
        let key = uuid_key(plan.patient_id.as_uuid());
        self.put(
            plan.practice_id,
            Kind::Plan,
            &key,
            Some(plan.patient_id.as_uuid()),
            plan,
        )
        .await
    }

    async fn plan(&self, practice: PracticeId, patient: PatientId) -> Result<Option<TreatmentPlan>, PortError> {
        self.get(practice, Kind::Plan, &uuid_key(patient.as_uuid())).await
    }
}

#[async_trait]
impl IntakeRecords for SqlStore {
    async fn save_form(&self, practice: PracticeId, form: &IntakeForm) -> Result<(), PortError> {
        let key = format!("{:010}", form.version);
        self.put(practice, Kind::IntakeForm, &key, None, form).await
    }

    async fn form(&self, practice: PracticeId, version: u32) -> Result<Option<IntakeForm>, PortError> {
        self.get(practice, Kind::IntakeForm, &format!("{version:010}")).await
    }

    async fn latest_form(&self, practice: PracticeId) -> Result<Option<IntakeForm>, PortError> {
        let forms: Vec<IntakeForm> = self.list(practice, Kind::IntakeForm, None).await?;
        Ok(forms.into_iter().last())
    }

    async fn save_submission(
        &self,
        practice: PracticeId,
        patient: PatientId,
        submission: &IntakeSubmission,
    ) -> Result<(), PortError> {
        let key = uuid_key(patient.as_uuid());
        self.put(
            practice,
            Kind::IntakeSubmission,
            &key,
            Some(patient.as_uuid()),
            submission,
        )
        .await
    }

    async fn submission(
        &self,
        practice: PracticeId,
        patient: PatientId,
    ) -> Result<Option<IntakeSubmission>, PortError> {
        self.get(practice, Kind::IntakeSubmission, &uuid_key(patient.as_uuid()))
            .await
    }
}

#[async_trait]
impl TelehealthRecords for SqlStore {
    async fn save_prep(
        &self,
        practice: PracticeId,
        appointment: AppointmentId,
        patient: PatientId,
        prep: &SessionPrep,
    ) -> Result<(), PortError> {
        let key = format!(
            "{}/{}",
            appointment.as_uuid().hyphenated(),
            patient.as_uuid().hyphenated()
        );
        self.put(
            practice,
            Kind::SessionPrep,
            &key,
            Some(appointment.as_uuid()),
            &(patient, prep),
        )
        .await
    }

    async fn prep(
        &self,
        practice: PracticeId,
        appointment: AppointmentId,
    ) -> Result<Vec<(PatientId, SessionPrep)>, PortError> {
        self.list(practice, Kind::SessionPrep, Some(appointment.as_uuid()))
            .await
    }
}

pub(super) use {body_by_id, bump};
