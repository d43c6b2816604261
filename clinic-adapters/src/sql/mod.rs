//! Storage on SQL databases through sqlx: SQLite (the embedded default, feature `sqlite`)
//! and PostgreSQL (feature `postgres`), one implementation of every storage port.
//!
//! # Layout
//! Aggregates are stored as serialized documents beside the columns that queries filter,
//! order and guard on (see `migrations/`). Every table is keyed by `practice_id` first and
//! every statement filters by it; on PostgreSQL row-level security enforces the same
//! boundary a second time. Health data (progress notes, treatment plans, prescriptions, test
//! results, measures, intake answers, corrections) is sealed by a [`FieldCipher`] before it
//! is written, bound to its practice and record, so a dump of the database holds no clinical
//! text.
//!
//! # Atomicity
//! Every port method is one transaction. Guarded writes are compare-and-swap updates on a
//! `versions` row: on PostgreSQL the row lock orders concurrent writers (taken in key order,
//! so two commits never deadlock), on SQLite every write transaction is `BEGIN IMMEDIATE`
//! and the two writer connections (sqlx's, and the booking writer of `sqlite_writer` that
//! runs calendar snapshots and appointment commits) are kept apart by an in-process gate,
//! so only one ever writes. PostgreSQL also refuses double bookings itself, through
//! exclusion constraints on the practitioner's buffered time and the room's session time.
//! Constraint violations and lost races surface as [`PortErrorKind::Conflict`]; a lost
//! connection as [`PortErrorKind::Unavailable`], with the transaction rolled back.

mod accounts;
mod appointments;
mod inbox;
mod inventory;
mod migrate;
mod outbox;
mod ports;
#[cfg(feature = "sqlite")]
mod sqlite_read;
#[cfg(feature = "sqlite")]
mod sqlite_writer;
mod threads;

use std::sync::Arc;
use std::time::Duration;

use clinic_core::ids::PracticeId;
use clinic_core::ports::{FieldCipher, PortError, PortErrorKind, SealContext};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Why a store could not be opened. Messages name the problem, never a password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite:` nor `postgres:`/`postgresql:`, or names a backend this
    /// build was compiled without.
    #[error("unsupported database URL (expected sqlite:… or postgres://… with that feature enabled)")]
    UnsupportedUrl,
    /// The database could not be reached or opened.
    #[error("cannot open the database")]
    Connect(#[source] sqlx::Error),
    /// The database was written by a newer release.
    #[error(
        "the database schema is version {found}, newer than this build supports ({supported}); \
         upgrade clinic-rs before using this database"
    )]
    SchemaTooNew {
        /// The version found.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// SQLite's booking writer could not be opened.
    #[cfg(feature = "sqlite")]
    #[error("cannot open the database for writing")]
    Writer(#[source] rusqlite::Error),
    /// A migration failed; it was rolled back.
    #[error("migration {version} failed and was rolled back")]
    Migration {
        /// The migration's version.
        version: i64,
        /// The database's error.
        #[source]
        source: sqlx::Error,
    },
}

impl StoreError {
    fn connect(e: sqlx::Error) -> Self {
        Self::Connect(e)
    }

    /// The stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedUrl => "database_url_unsupported",
            Self::Connect(_) => "database_unavailable",
            #[cfg(feature = "sqlite")]
            Self::Writer(_) => "database_unavailable",
            Self::SchemaTooNew { .. } => "schema_too_new",
            Self::Migration { .. } => "migration_failed",
        }
    }
}

pub(crate) enum Db {
    #[cfg(feature = "sqlite")]
    Sqlite {
        /// One connection: SQLite has one writer, and queueing in-process is cheaper than
        /// retrying on `SQLITE_BUSY`.
        writer: sqlx::SqlitePool,
        /// Readers run beside the writer (WAL).
        reader: sqlx::SqlitePool,
        /// Connections for the short reads of a booking and a slot search, run in place
        /// (see [`sqlite_read`]).
        inline: Box<sqlite_read::Readers>,
        /// The second writer connection, which runs a booking's whole commit in one
        /// hand-off to its thread, or in place when it is idle (see [`sqlite_writer`]).
        booking: sqlite_writer::Writer,
        /// Keeps the two writers apart: held shared around each request to `booking`
        /// (whose thread runs them one at a time), exclusively around each sqlx write
        /// transaction, so neither writer ever waits on the other's lock.
        gate: tokio::sync::RwLock<()>,
    },
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

/// Every storage port over SQLite or PostgreSQL.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use clinic_adapters::crypto::EnvelopeCipher;
/// use clinic_adapters::sql::SqlStore;
/// use clinic_core::ports::PracticeRepository;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("clinic-doc-{}", uuid::Uuid::now_v7()));
/// let cipher = Arc::new(EnvelopeCipher::from_config(&EnvelopeCipher::generate_key("k1")).unwrap());
/// let url = format!("sqlite://{}", dir.join("clinic.db").display());
/// std::fs::create_dir_all(&dir).unwrap();
/// let store = SqlStore::connect(&url, cipher).await.unwrap();
/// let id = clinic_core::ids::PracticeId::from_uuid(uuid::Uuid::now_v7());
/// assert!(store.practice(id).await.is_err());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # });
/// ```
pub struct SqlStore {
    db: Db,
    cipher: Arc<dyn FieldCipher>,
    /// Per practice, the longest blocked interval (µs) this process has seen stored: a
    /// commit of nothing longer need not write the practice's maximum again. (Stored
    /// maxima only grow, so a value seen stays a lower bound of the stored one.)
    known_longest: std::sync::Mutex<std::collections::HashMap<PracticeId, i64>>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.db {
            #[cfg(feature = "sqlite")]
            Db::Sqlite { .. } => "sqlite",
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => "postgres",
        };
        f.debug_struct("SqlStore")
            .field("backend", &backend)
            .finish_non_exhaustive()
    }
}

/// How long a PostgreSQL connection may sit idle in the pool before it is checked as it
/// is taken out: past this, the server may have restarted or a network dropped it, and a
/// failed check opens a new connection instead of failing the request.
#[cfg(feature = "postgres")]
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Pool settings.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    /// Most connections (PostgreSQL) or readers (SQLite).
    pub max_connections: u32,
    /// How long a caller waits for a connection before `unavailable`.
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl SqlStore {
    /// Opens the database at `url` (`sqlite://path`, `sqlite::memory:` is refused as it
    /// cannot be shared by a pool; `postgres://…`), applies pending migrations and returns
    /// the store. Health data is sealed with `cipher`.
    ///
    /// # Errors
    /// [`StoreError`]: an unsupported URL, an unreachable database, a schema newer than this
    /// build, or a failed migration (rolled back).
    pub async fn connect(url: &str, cipher: Arc<dyn FieldCipher>) -> Result<Self, StoreError> {
        Self::connect_with(url, cipher, PoolOptions::default()).await
    }

    /// [`connect`](Self::connect) with pool settings.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(
        url: &str,
        cipher: Arc<dyn FieldCipher>,
        options: PoolOptions,
    ) -> Result<Self, StoreError> {
        let db = if url.starts_with("sqlite:") {
            Self::open_sqlite(url, options, i64::MAX).await?
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Self::open_postgres(url, options, i64::MAX).await?
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        Ok(Self {
            db,
            cipher,
            known_longest: std::sync::Mutex::default(),
        })
    }

    /// Opens the database migrated no further than `version`: a store as an earlier
    /// release saw it, for tests that upgrade a database holding data.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_at(url: &str, cipher: Arc<dyn FieldCipher>, version: i64) -> Result<Self, StoreError> {
        let options = PoolOptions::default();
        let db = if url.starts_with("sqlite:") {
            Self::open_sqlite(url, options, version).await?
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Self::open_postgres(url, options, version).await?
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        Ok(Self {
            db,
            cipher,
            known_longest: std::sync::Mutex::default(),
        })
    }

    /// Applies migrations up to `version` only and returns how many ran: for tests of
    /// upgrades from an earlier release's schema, and the `migrate` command.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn migrate_to(url: &str, version: i64) -> Result<usize, StoreError> {
        if url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            {
                let mut conn = sqlite_connect(url).await?;
                return migrate::run_migrations!(&mut conn, migrate::SQLITE, version);
            }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            #[cfg(feature = "postgres")]
            {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(url).await.map_err(StoreError::connect)?;
                return migrate::run_migrations!(&mut conn, migrate::POSTGRES, version);
            }
        }
        Err(StoreError::UnsupportedUrl)
    }

    #[cfg(feature = "sqlite")]
    async fn open_sqlite(url: &str, options: PoolOptions, upto: i64) -> Result<Db, StoreError> {
        use sqlx::sqlite::SqlitePoolOptions;
        owner_only(sqlite_options(url)?.get_filename());
        {
            let mut conn = sqlite_connect(url).await?;
            migrate::run_migrations!(&mut conn, migrate::SQLITE, upto)?;
            // Samples left by an `ANALYZE` run by hand would have every statement planned
            // again on each run (see `sqlite_writer::statistics_sql`).
            sqlx::query("DROP TABLE IF EXISTS sqlite_stat4")
                .execute(&mut conn)
                .await
                .map_err(StoreError::connect)?;
        }
        let connect = sqlite_options(url)?;
        // A SQLite connection is a file opened in this process: nothing can drop it while it
        // is idle, so sqlx's check as a connection leaves the pool (a round trip to the
        // connection's thread before every transaction) is skipped. sqlx still checks each
        // one as it goes back.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await
            .map_err(StoreError::connect)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone().read_only(true))
            .await
            .map_err(StoreError::connect)?;
        let booking =
            sqlite_writer::Writer::open(connect.get_filename(), SQLITE_BUSY_TIMEOUT).map_err(StoreError::Writer)?;
        let inline = Box::new(sqlite_read::Readers::new(connect.get_filename(), SQLITE_BUSY_TIMEOUT));
        Ok(Db::Sqlite {
            writer,
            reader,
            inline,
            booking,
            gate: tokio::sync::RwLock::new(()),
        })
    }

    #[cfg(not(feature = "sqlite"))]
    async fn open_sqlite(_: &str, _: PoolOptions, _: i64) -> Result<Db, StoreError> {
        Err(StoreError::UnsupportedUrl)
    }

    #[cfg(feature = "postgres")]
    async fn open_postgres(url: &str, options: PoolOptions, upto: i64) -> Result<Db, StoreError> {
        use sqlx::Connection as _;
        use sqlx::postgres::PgPoolOptions;
        {
            let mut conn = sqlx::PgConnection::connect(url).await.map_err(StoreError::connect)?;
            migrate::run_migrations!(&mut conn, migrate::POSTGRES, upto)?;
            conn.close().await.map_err(StoreError::connect)?;
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            // Every connection works as the application role, to which row-level security
            // and the audit table's append-only grants apply.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("SET ROLE clinic_app").execute(conn).await?;
                    Ok(())
                })
            })
            // sqlx checks every connection as it goes back to the pool. Checking it again
            // as it comes out costs each transaction a round trip before its first
            // statement, so only a connection idle for a while (time enough for the
            // database to have restarted or a network to have dropped it) is checked.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_CHECK {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await
            .map_err(StoreError::connect)?;
        Ok(Db::Postgres(pool))
    }

    #[cfg(not(feature = "postgres"))]
    async fn open_postgres(_: &str, _: PoolOptions, _: i64) -> Result<Db, StoreError> {
        Err(StoreError::UnsupportedUrl)
    }

    /// Writes a consistent copy of a SQLite database to `path` while the store keeps
    /// serving (`VACUUM INTO` reads one snapshot; writers carry on). The copy is a complete
    /// database: open it with [`connect`](Self::connect) and the same keys.
    ///
    /// # Errors
    /// `Invalid` on PostgreSQL (back it up with `pg_dump` or a base backup) or when `path`
    /// exists; `Unavailable` when the copy cannot be written.
    pub async fn backup(&self, path: &std::path::Path) -> Result<(), PortError> {
        if path.exists() {
            return Err(PortError::new(PortErrorKind::Invalid, "the backup file already exists"));
        }
        match &self.db {
            #[cfg(feature = "sqlite")]
            Db::Sqlite { reader, .. } => {
                // The copy holds the whole health database: it is created empty, readable by
                // its owner only, before SQLite fills it (VACUUM INTO accepts an empty file;
                // made by SQLite it would take the process's umask, usually 0644).
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                options.open(path).map_err(|e| {
                    PortError::new(PortErrorKind::Invalid, "the backup file cannot be created").with_source(e)
                })?;
                sqlx::query("VACUUM INTO $1")
                    .bind(path.to_string_lossy().into_owned())
                    .execute(reader)
                    .await
                    .map_err(fail)?;
                Ok(())
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => Err(PortError::new(
                PortErrorKind::Invalid,
                "PostgreSQL is backed up with pg_dump or a base backup, not by the server",
            )),
        }
    }

    /// Gathers the SQLite query planner's statistics over every table now. The store
    /// refreshes them on its own where they have gone stale (hourly, and on close); this
    /// is for a database just loaded in bulk, such as an import. Only each index's summary
    /// is kept, never samples of its values (see `sqlite_writer::statistics_sql`).
    ///
    /// # Errors
    /// `Invalid` on PostgreSQL, whose autovacuum gathers statistics (and whose tables the
    /// application role does not own); `Unavailable` when the database cannot be written.
    pub async fn analyze(&self) -> Result<(), PortError> {
        match &self.db {
            #[cfg(feature = "sqlite")]
            Db::Sqlite { booking, gate, .. } => {
                let _shared = gate.read().await;
                let sql = sqlite_writer::statistics_sql("ANALYZE");
                booking
                    .run(move |c| c.execute_batch(&sql).map(Some).map_err(sqlite_writer::fail))
                    .await?;
                Ok(())
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => Err(PortError::new(
                PortErrorKind::Invalid,
                "PostgreSQL's statistics are gathered by autovacuum, or by ANALYZE as the schema owner",
            )),
        }
    }

    fn longest_seen(&self, practice: PracticeId) -> i64 {
        // The map is only ever read or extended whole, so a poisoned lock's data is sound.
        let map = self
            .known_longest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&practice).copied().unwrap_or(0)
    }

    fn saw_longest(&self, practice: PracticeId, longest: i64) {
        let mut map = self
            .known_longest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seen = map.entry(practice).or_insert(0);
        *seen = (*seen).max(longest);
    }

    /// The connection pools' use for monitoring: `(open, idle, max)` over every pool (on
    /// SQLite, the writer and the readers together).
    #[must_use]
    pub fn pool_usage(&self) -> (u32, u32, u32) {
        fn one<D: sqlx::Database>(p: &sqlx::Pool<D>) -> (u32, u32, u32) {
            let idle = u32::try_from(p.num_idle()).unwrap_or(u32::MAX);
            (p.size(), idle, p.options().get_max_connections())
        }
        match &self.db {
            #[cfg(feature = "sqlite")]
            Db::Sqlite { writer, reader, .. } => {
                let (w, r) = (one(writer), one(reader));
                (w.0 + r.0, w.1 + r.1, w.2 + r.2)
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(pool) => one(pool),
        }
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        match &self.db {
            #[cfg(feature = "sqlite")]
            Db::Sqlite {
                writer,
                reader,
                inline,
                booking,
                gate,
            } => {
                inline.close();
                // Waits for the booking writer's requests under way, then ends its thread.
                {
                    let _alone = gate.write().await;
                    booking.close().await;
                }
                // SQLite's advice: refresh the planner's statistics where they are stale
                // before closing. Best effort: a failure here loses nothing.
                let refresh = format!(
                    "BEGIN IMMEDIATE; {} COMMIT;",
                    sqlite_writer::statistics_sql("PRAGMA optimize")
                );
                let _ = sqlx::raw_sql(&refresh).execute(writer).await;
                writer.close().await;
                reader.close().await;
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(pool) => pool.close().await,
        }
    }

    fn encode<T: Serialize>(&self, practice: PracticeId, kind: Kind, key: &str, value: &T) -> Result<Body, PortError> {
        let json = serde_json::to_vec(value).map_err(|e| {
            PortError::new(PortErrorKind::Unexpected, "a record could not be serialized").with_source(e)
        })?;
        if kind.sealed() {
            let record = format!("{}/{key}", kind.as_str());
            let bytes = self.cipher.seal(
                SealContext {
                    practice,
                    record: &record,
                },
                &json,
            )?;
            Ok(Body {
                bytes,
                sealed_with: Some(self.cipher.current_key_id().to_owned()),
            })
        } else {
            Ok(Body {
                bytes: json,
                sealed_with: None,
            })
        }
    }

    fn decode<T: DeserializeOwned>(
        &self,
        practice: PracticeId,
        kind: Kind,
        key: &str,
        sealed: bool,
        bytes: &[u8],
    ) -> Result<T, PortError> {
        let opened;
        let json = if sealed {
            let record = format!("{}/{key}", kind.as_str());
            opened = self.cipher.open(
                SealContext {
                    practice,
                    record: &record,
                },
                bytes,
            )?;
            &opened[..]
        } else {
            bytes
        };
        serde_json::from_slice(json).map_err(|e| corrupt(kind.as_str(), e))
    }
}

/// How long a SQLite connection waits on another process's lock before `unavailable`.
#[cfg(feature = "sqlite")]
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(feature = "sqlite")]
fn sqlite_options(url: &str) -> Result<sqlx::sqlite::SqliteConnectOptions, StoreError> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(StoreError::UnsupportedUrl);
    }
    Ok(<SqliteConnectOptions as std::str::FromStr>::from_str(url)
        .map_err(StoreError::connect)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // WAL with NORMAL is durable against application crashes; a power loss may drop
        // the last transactions but never corrupts the database.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        // Checkpoints run on the booking writer's checkpointer, off every request's path:
        // one taken on commit syncs the disk twice while the request waits.
        .pragma("wal_autocheckpoint", "0")
        .foreign_keys(true))
}

/// Makes the database file readable and writable by its owner only (0600), creating it
/// empty with that mode when it is new, and narrows its log and shared-memory files if
/// they exist: SQLite gives those the database file's mode when it makes them. The
/// database is health information; the process's umask (usually 0644) would let every
/// user of the machine read it. Where the mode cannot be set (a file of another user),
/// the database still opens and the failure is logged.
#[cfg(feature = "sqlite")]
fn owner_only(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        if !path.exists() {
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path);
        }
        let mut files = vec![path.to_path_buf()];
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            files.push(name.into());
        }
        for file in files.iter().filter(|f| f.exists()) {
            if let Err(e) = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)) {
                tracing::warn!(error = %e, "the database file's mode could not be set to 0600");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(feature = "sqlite")]
async fn sqlite_connect(url: &str) -> Result<sqlx::SqliteConnection, StoreError> {
    use sqlx::ConnectOptions as _;
    sqlite_options(url)?.connect().await.map_err(StoreError::connect)
}

/// A body ready to store.
pub(crate) struct Body {
    bytes: Vec<u8>,
    sealed_with: Option<String>,
}

/// The kinds of record kept in the `records` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Practice,
    Location,
    Room,
    Service,
    Patient,
    Practitioner,
    Template,
    Exception,
    Waitlist,
    Referral,
    Note,
    Credentials,
    Warning,
    Consent,
    AccessRequest,
    DeletionRequest,
    Correction,
    Prescription,
    TestResult,
    Measure,
    Plan,
    IntakeForm,
    IntakeSubmission,
    SessionPrep,
    PastService,
    Checkpoint,
    Item,
    Movement,
    Thread,
    ThreadMember,
    Message,
    ReadMark,
    InboxItem,
    Upload,
    Care,
}

impl Kind {
    /// Whether every record of this kind in a practice (or of one owner, for the kinds
    /// kept by owner) is few enough to read in place on SQLite ([`sqlite_read`]): a
    /// practice's locations, rooms, services and practitioners; a practitioner's
    /// templates and exceptions; a patient's referrals and sessions claimed elsewhere.
    #[cfg(feature = "sqlite")]
    pub(crate) const fn few(self) -> bool {
        matches!(
            self,
            Self::Location
                | Self::Room
                | Self::Service
                | Self::Practitioner
                | Self::Template
                | Self::Exception
                | Self::Referral
                | Self::PastService
        )
    }

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Practice => "practice",
            Self::Location => "location",
            Self::Room => "room",
            Self::Service => "service",
            Self::Patient => "patient",
            Self::Practitioner => "practitioner",
            Self::Template => "template",
            Self::Exception => "exception",
            Self::Waitlist => "waitlist",
            Self::Referral => "referral",
            Self::Note => "note",
            Self::Credentials => "credentials",
            Self::Warning => "warning",
            Self::Consent => "consent",
            Self::AccessRequest => "access_request",
            Self::DeletionRequest => "deletion_request",
            Self::Correction => "correction",
            Self::Prescription => "prescription",
            Self::TestResult => "test_result",
            Self::Measure => "measure",
            Self::Plan => "plan",
            Self::IntakeForm => "intake_form",
            Self::IntakeSubmission => "intake_submission",
            Self::SessionPrep => "session_prep",
            Self::PastService => "past_service",
            Self::Checkpoint => "checkpoint",
            Self::Item => "item",
            Self::Movement => "movement",
            Self::Thread => "thread",
            Self::ThreadMember => "thread_member",
            Self::Message => "message",
            Self::ReadMark => "read_mark",
            Self::InboxItem => "inbox_item",
            Self::Upload => "upload",
            Self::Care => "care",
        }
    }

    /// Health information: stored sealed.
    pub(crate) const fn sealed(self) -> bool {
        matches!(
            self,
            Self::Note
                | Self::Correction
                | Self::Prescription
                | Self::TestResult
                | Self::Measure
                | Self::Plan
                | Self::IntakeSubmission
                | Self::Thread
                | Self::Message
                | Self::Care
        )
    }
}

/// Maps a driver error to the port's kinds. The message is fixed text; the driver's error
/// (which may quote constraint names and key values, never bodies) rides as the source.
pub(crate) fn fail(e: sqlx::Error) -> PortError {
    let kind = match &e {
        sqlx::Error::RowNotFound => PortErrorKind::NotFound,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => PortErrorKind::Unavailable,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // unique, exclusion, serialization failure, deadlock (PostgreSQL);
            // constraint unique / primary key (SQLite extended codes).
            Some("23505" | "23P01" | "40001" | "40P01" | "2067" | "1555") => PortErrorKind::Conflict,
            // SQLite busy / locked; PostgreSQL admin shutdown, crash shutdown, cannot connect now.
            Some("5" | "6" | "517" | "57P01" | "57P02" | "57P03") => PortErrorKind::Unavailable,
            _ if db.code().is_some_and(|c| c.starts_with("08")) => PortErrorKind::Unavailable,
            _ => PortErrorKind::Unexpected,
        },
        _ => PortErrorKind::Unexpected,
    };
    let message = match kind {
        PortErrorKind::Conflict => "the write conflicts with stored data",
        PortErrorKind::Unavailable => "the database is unavailable",
        PortErrorKind::NotFound => "not found",
        _ => "the database failed",
    };
    PortError::new(kind, message).with_source(e)
}

fn corrupt(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> PortError {
    PortError::new(PortErrorKind::Unexpected, format!("a stored {what} could not be read")).with_source(e)
}

/// Integers stored as `BIGINT` (versions, revisions, sequence numbers) are never negative.
fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> Result<i64, PortError> {
    i64::try_from(v).map_err(|_| PortError::new(PortErrorKind::Invalid, "a counter is out of range"))
}

/// A table as a query through one of its indexes names it (see [`SqlStore::through`]).
#[derive(Clone, Copy)]
pub(crate) struct Through {
    /// PostgreSQL's text: the table alone, as PostgreSQL keeps statistics of its own.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    table: &'static str,
    /// SQLite's text: the table and the index, `INDEXED BY`.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    sqlite: &'static str,
}

/// A practice's records of one kind by their owner (a patient's notes, a practitioner's
/// templates, a user's account).
pub(crate) const RECORDS_BY_OWNER: Through = Through {
    table: "records",
    sqlite: "records INDEXED BY records_owner",
};

/// A patient's invoices.
pub(crate) const INVOICES_BY_PATIENT: Through = Through {
    table: "invoices",
    sqlite: "invoices INDEXED BY invoices_patient",
};

/// The notifications about one record.
pub(crate) const OUTBOX_BY_ABOUT: Through = Through {
    table: "outbox",
    sqlite: "outbox INDEXED BY outbox_about",
};

/// The notification a provider's delivery report names.
pub(crate) const OUTBOX_BY_PROVIDER: Through = Through {
    table: "outbox",
    sqlite: "outbox INDEXED BY outbox_provider",
};

impl SqlStore {
    /// A table as a query through one of its secondary indexes names it. SQLite's planner,
    /// on a database without statistics (`ANALYZE` has not run since it grew), guesses the
    /// rows of one practice to be a handful, and for a table keyed by `(practice_id, …)`
    /// walks all of them rather than look the few it wants up in the index and fetch each:
    /// finding one patient's notes read every note in the practice, and a booking every
    /// template and exception. The index is therefore named on SQLite.
    pub(crate) fn through(&self, t: Through) -> &'static str {
        match &self.db {
            #[cfg(feature = "sqlite")]
            Db::Sqlite { .. } => t.sqlite,
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => t.table,
        }
    }

    /// `records` read by owner: [`SqlStore::through`] [`RECORDS_BY_OWNER`].
    pub(crate) fn records_by_owner(&self) -> &'static str {
        self.through(RECORDS_BY_OWNER)
    }

    /// On SQLite, the connections for short reads run in place ([`sqlite_read`]).
    #[cfg(feature = "sqlite")]
    pub(crate) fn inline(&self) -> Option<&sqlite_read::Readers> {
        match &self.db {
            Db::Sqlite { inline, .. } => Some(inline),
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => None,
        }
    }
}

fn uuid_key(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// The statement that opens a PostgreSQL transaction scoped to one practice: row-level
/// security reads `app.practice_id`, local to the transaction so a pooled connection never
/// carries it into the next use. The id is a typed UUID, formatted as hex and dashes only.
#[cfg(feature = "postgres")]
fn pg_begin(practice: PracticeId) -> String {
    format!(
        "BEGIN; SELECT set_config('app.practice_id', '{}', true)",
        practice.as_uuid().hyphenated()
    )
}

/// Runs `$body` with `$c` bound to a read connection of `$store`, scoped to `$practice`.
/// The body is the same text for both drivers and is type-checked once per driver.
macro_rules! read_tx {
    ($store:expr, $practice:expr, |$c:ident| $body:expr) => {
        match &$store.db {
            #[cfg(feature = "sqlite")]
            $crate::sql::Db::Sqlite { reader, .. } => {
                let _ = $practice;
                let mut $c = reader.acquire().await.map_err($crate::sql::fail)?;
                $body
            }
            #[cfg(feature = "postgres")]
            $crate::sql::Db::Postgres(pool) => {
                let mut $c = pool
                    .begin_with($crate::sql::pg_begin($practice))
                    .await
                    .map_err($crate::sql::fail)?;
                let out = $body;
                $crate::sql::pg_end_read($c);
                out
            }
        }
    };
}

/// Ends a PostgreSQL read transaction. It wrote nothing, so it ends by rollback, which sqlx
/// queues on the connection and sends with the check it makes as the connection goes back
/// to the pool: the caller does not wait a round trip for it, as it would for `COMMIT`.
/// The practice set for row-level security is local to the transaction and ends with it.
#[cfg(feature = "postgres")]
pub(crate) fn pg_end_read(tx: sqlx::Transaction<'_, sqlx::Postgres>) {
    drop(tx);
}

/// Which database a transaction runs on, for the few statements written differently for
/// each (inside a transaction body shared by both drivers).
pub(crate) trait Backend {
    /// PostgreSQL, not SQLite.
    const POSTGRES: bool;
}

#[cfg(feature = "sqlite")]
impl Backend for sqlx::Sqlite {
    const POSTGRES: bool = false;
}

#[cfg(feature = "postgres")]
impl Backend for sqlx::Postgres {
    const POSTGRES: bool = true;
}

/// Whether `tx` is a PostgreSQL transaction.
pub(crate) const fn is_postgres<DB: sqlx::Database + Backend>(_: &sqlx::Transaction<'_, DB>) -> bool {
    DB::POSTGRES
}

/// Runs `$body` in a write transaction scoped to `$practice`, committed if the body
/// finishes and rolled back if it returns early with an error. `$ts` converts an instant
/// to the driver's column type (microseconds on SQLite, `timestamptz` on PostgreSQL).
macro_rules! write_tx {
    ($store:expr, $practice:expr, |$c:ident $(, $ts:ident)?| $body:expr) => {
        match &$store.db {
            #[cfg(feature = "sqlite")]
            $crate::sql::Db::Sqlite { writer, gate, .. } => {
                let _ = $practice;
                $(let $ts = |t: chrono::DateTime<chrono::Utc>| t.timestamp_micros();)?
                let _alone = gate.write().await;
                let mut $c = writer.begin_with("BEGIN IMMEDIATE").await.map_err($crate::sql::fail)?;
                let out = $body;
                $c.commit().await.map_err($crate::sql::fail)?;
                out
            }
            #[cfg(feature = "postgres")]
            $crate::sql::Db::Postgres(pool) => {
                $(let $ts = |t: chrono::DateTime<chrono::Utc>| t;)?
                let mut $c = pool
                    .begin_with($crate::sql::pg_begin($practice))
                    .await
                    .map_err($crate::sql::fail)?;
                let out = $body;
                $c.commit().await.map_err($crate::sql::fail)?;
                out
            }
        }
    };
}
pub(crate) use {read_tx, write_tx};
