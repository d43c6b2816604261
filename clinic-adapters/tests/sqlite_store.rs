//! The storage conformance suite, and SQLite's own behaviour, against the `sqlite` adapter.
#![cfg(all(feature = "sqlite", feature = "crypto"))]

mod common;

use clinic_core::ports::IdGeneratorExt as _;
use common::databases::TempSqlite;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_conforms() {
    let dbs: std::sync::Mutex<Vec<TempSqlite>> = std::sync::Mutex::new(Vec::new());
    common::conformance::run_all(|| async {
        let db = TempSqlite::new();
        let store = db.store().await;
        dbs.lock().unwrap().push(db);
        store
    })
    .await;
}

#[tokio::test]
async fn the_database_file_holds_no_clinical_text() {
    use common::sql_faults::{leaks, store_clinical_text};
    let db = TempSqlite::new();
    let store = db.store().await;
    store_clinical_text(&store).await;
    store.close().await;
    for entry in std::fs::read_dir(&db.dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.is_empty());
        assert!(!leaks(&bytes), "clinical text in clear on disk");
    }
}

/// The database, its log and its shared memory are the owner's alone (0600), whether the
/// file is new or was made readable by others before.
#[cfg(unix)]
#[tokio::test]
async fn the_database_files_are_readable_by_their_owner_only() {
    use clinic_core::ports::PatientRepository as _;
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let db = TempSqlite::new();
    let store = db.store().await;
    store.patients(common::ids().new_id()).await.unwrap();
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(&db.dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(files.len() >= 2, "{files:?}");
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    store.close().await;
    // Opened again after someone widened it, it is narrowed again.
    let main = files
        .iter()
        .find(|f| f.extension().is_some_and(|e| e == "db"))
        .unwrap_or(&files[0])
        .clone();
    std::fs::set_permissions(&main, std::fs::Permissions::from_mode(0o644)).unwrap();
    let again = db.store().await;
    assert_eq!(mode(&main), 0o600);
    again.close().await;
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_migrations_run_once() {
    use clinic_adapters::sql::SqlStore;
    let db = TempSqlite::new();
    assert_eq!(
        SqlStore::migrate_to(&db.url, 1).await.unwrap(),
        1,
        "from an empty database"
    );
    let store = db.store().await;
    let (practice, _) = common::sql_faults::store_clinical_text(&store).await;
    store.close().await;
    assert_eq!(
        SqlStore::migrate_to(&db.url, 1).await.unwrap(),
        0,
        "nothing left to apply"
    );
    let again = db.store().await;
    use clinic_core::ports::NoteRepository;
    assert!(
        again
            .notes(practice, clinic_core::ids::PatientId::from_uuid(uuid::Uuid::nil()))
            .await
            .unwrap()
            .is_empty()
    );
    again.close().await;
    {
        use sqlx::{ConnectOptions as _, Executor as _};
        let mut conn = db
            .url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .connect()
            .await
            .unwrap();
        conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')")
            .await
            .unwrap();
    }
    common::sql_faults::open_refuses_newer_schema(&db.url).await;
}

/// A write abandoned half-way (its task cancelled between statements) leaves nothing: the
/// transaction rolls back with the connection's return to the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_writes_leave_nothing_half_written() {
    use clinic_core::ports::{AppointmentRepository, ResourceKey};
    use clinic_core::time::TimeRange;
    let db = TempSqlite::new();
    let store = db.store().await;
    let practice: clinic_core::ids::PracticeId = common::ids().new_id();
    let who: clinic_core::ids::PractitionerId = common::ids().new_id();
    let mut committed = Vec::new();
    for i in 0..200i64 {
        let start = common::utc("2027-01-04T00:00:00Z") + chrono::Duration::hours(i);
        let a = common::conformance::appointment(practice, who, common::ids().new_id(), &start.to_rfc3339(), 50);
        let s = store.clone();
        let one = a.clone();
        // Cancel after a few microseconds: some commits finish, some never start, some
        // are cut off between statements.
        let r = tokio::time::timeout(
            std::time::Duration::from_micros(50 + (i.unsigned_abs() % 7) * 40),
            async move { s.commit(practice, &[], &[one]).await },
        )
        .await;
        if matches!(r, Ok(Ok(()))) {
            committed.push(a);
        }
    }
    let window = TimeRange::new(common::utc("2027-01-01T00:00:00Z"), common::utc("2027-02-01T00:00:00Z")).unwrap();
    let snap = store
        .snapshot(practice, &[ResourceKey::Practitioner(who)], window)
        .await
        .unwrap();
    // Every appointment stored is whole: indexed under its practitioner and its patient.
    for a in &snap.appointments {
        assert_eq!(store.appointment(practice, a.id).await.unwrap(), *a);
        let mine = store.patient_appointments(practice, a.patient_ids[0]).await.unwrap();
        assert_eq!(mine, vec![a.clone()]);
    }
    for a in &committed {
        assert!(snap.appointments.contains(a), "an acknowledged commit is kept");
    }
}

#[tokio::test]
async fn keys_rotate_without_reading_bodies() {
    let db = TempSqlite::new();
    common::sql_faults::key_rotation(&db.url).await;
}

/// A backup taken while writes go on is a complete database that opens with the same keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_are_consistent_copies_taken_while_serving() {
    use clinic_core::ports::{InvoiceRepository, NoteRepository, PortErrorKind};
    let db = TempSqlite::new();
    let cipher = common::databases::cipher();
    let store = std::sync::Arc::new(
        clinic_adapters::sql::SqlStore::connect(&db.url, cipher.clone())
            .await
            .unwrap(),
    );
    let (practice, patient) = common::sql_faults::store_clinical_text(&store).await;
    let writer = {
        let s = store.clone();
        tokio::spawn(async move {
            for i in 0..50 {
                let inv = common::conformance::draft(practice, 1000 + i);
                s.save_draft(&inv).await.unwrap();
                s.issue(practice, inv.id, 1, "2026-11-24".parse().unwrap())
                    .await
                    .unwrap();
            }
        })
    };
    let copy = db.dir.join("backup.db");
    store.backup(&copy).await.unwrap();
    writer.await.unwrap();
    assert_eq!(
        store.backup(&copy).await.unwrap_err().kind(),
        PortErrorKind::Invalid,
        "never overwrites"
    );
    let restored = clinic_adapters::sql::SqlStore::connect(&format!("sqlite://{}", copy.display()), cipher)
        .await
        .unwrap();
    assert_eq!(
        restored.notes(practice, patient).await.unwrap(),
        store.notes(practice, patient).await.unwrap()
    );
    restored.close().await;
    // Whatever invoices the copy caught are whole and numbered from 1 without a gap.
    use sqlx::{ConnectOptions as _, Connection as _};
    let mut conn = format!("sqlite://{}", copy.display())
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .unwrap()
        .connect()
        .await
        .unwrap();
    let numbers: Vec<i64> = sqlx::query_scalar("SELECT number FROM invoices WHERE number IS NOT NULL ORDER BY number")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(numbers, (1..=numbers.len() as i64).collect::<Vec<_>>());
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_upgrades_with_its_data() {
    let db = TempSqlite::new();
    common::sql_faults::upgrade_from_version_1_keeps_everything(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_failing_in_a_booking_commit_rolls_the_booking_back() {
    let db = TempSqlite::new();
    common::sql_faults::a_notice_failing_in_the_commit_rolls_it_all_back(db.store().await).await;
}

/// How many times SQLite planned `stmt` again over three runs, with a practice and a
/// window bound afresh on each, as the store's reads bind them.
#[allow(clippy::unwrap_used)]
fn replans(stmt: &mut rusqlite::Statement<'_>, practice: uuid::Uuid) -> i32 {
    use rusqlite::StatementStatus::RePrepare;
    stmt.reset_status(RePrepare);
    for hour in 0..3_i64 {
        let start = 1_800_000_000_000_000 + hour * 3_600_000_000;
        let mut rows = stmt
            .query(rusqlite::params![
                practice.as_bytes().to_vec(),
                start,
                start + 3_600_000_000
            ])
            .unwrap();
        while rows.next().unwrap().is_some() {}
    }
    stmt.get_status(RePrepare)
}

/// A calendar read of the kind a booking makes: by practice, then a range of starts.
const CALENDAR_READ: &str = "SELECT appointment_id FROM appointment_resources
    WHERE practice_id = ?1 AND block_start >= ?2 AND block_start < ?3";

/// A new practice with 40 appointments stored.
#[allow(clippy::unwrap_used)]
async fn stored_appointments(store: &clinic_adapters::sql::SqlStore) -> clinic_core::ids::PracticeId {
    use clinic_core::ports::AppointmentRepository;
    let ids = clinic_adapters::system::UuidV7Ids;
    let practice = ids.new_id();
    let who = ids.new_id();
    let booked: Vec<_> = (0..40)
        .map(|day| {
            let start = format!("2027-01-{:02}T{:02}:00:00Z", 1 + day % 28, day / 28);
            common::conformance::appointment(practice, who, ids.new_id(), &start, 50)
        })
        .collect();
    store.commit(practice, &[], &booked).await.unwrap();
    practice
}

/// The store's statistics keep each index's summary only, so a statement is planned
/// once, on a connection open before they were gathered as on a new one. `ANALYZE`'s
/// samples of each index's values (`sqlite_stat4`, which this SQLite keeps) have a
/// statement planned again each time the practice or the window is bound anew.
#[tokio::test]
async fn statistics_never_have_a_statement_planned_again_on_each_run() {
    let db = TempSqlite::new();
    let store = db.store().await;
    let practice = stored_appointments(&store).await;
    let path = db.dir.join("clinic.db");
    let reader = rusqlite::Connection::open(&path).unwrap();
    let mut stmt = reader.prepare(CALENDAR_READ).unwrap();
    assert_eq!(replans(&mut stmt, practice.as_uuid()), 0, "no statistics yet");

    store.analyze().await.unwrap();
    assert_eq!(
        replans(&mut stmt, practice.as_uuid()),
        1,
        "planned again once, as the statistics changed"
    );
    assert_eq!(replans(&mut stmt, practice.as_uuid()), 0, "then kept");
    let mut fresh = reader.prepare(CALENDAR_READ).unwrap();
    assert_eq!(replans(&mut fresh, practice.as_uuid()), 0);
    let count = |sql: &str| reader.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert!(
        count("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'appointment_resources'") > 0,
        "the summary was gathered"
    );
    assert_eq!(count("SELECT count(*) FROM sqlite_stat4"), 0, "no samples are kept");

    // What the samples would do: an ANALYZE run by hand keeps them, and a connection
    // opened after it loads them.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("ANALYZE")
        .unwrap();
    let after = rusqlite::Connection::open(&path).unwrap();
    let mut sampled = after.prepare(CALENDAR_READ).unwrap();
    assert_eq!(
        replans(&mut sampled, practice.as_uuid()),
        3,
        "planned again on every run"
    );
}

/// Samples left by an `ANALYZE` run by hand are dropped when the store opens.
#[tokio::test]
async fn samples_from_a_hand_run_analyze_are_dropped_on_open() {
    let db = TempSqlite::new();
    let store = db.store().await;
    let practice = stored_appointments(&store).await;
    store.close().await;
    let path = db.dir.join("clinic.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("ANALYZE")
        .unwrap();
    let _again = db.store().await;
    let reader = rusqlite::Connection::open(&path).unwrap();
    let mut stmt = reader.prepare(CALENDAR_READ).unwrap();
    assert_eq!(replans(&mut stmt, practice.as_uuid()), 0);
    let samples: i64 = reader
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat4'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(samples, 0, "the samples table is gone");
}
