//! The storage conformance suite, and PostgreSQL's own guarantees, against the `postgres`
//! adapter. Needs `DATABASE_URL`; each test works in a database of its own.
#![cfg(all(feature = "postgres", feature = "crypto"))]

mod common;

use clinic_core::ports::IdGeneratorExt as _;
use common::databases::{TempPostgres, postgres_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_conforms() {
    let Some(admin) = postgres_url() else { return };
    let db = TempPostgres::new(&admin).await;
    common::conformance::run_all(|| db.store()).await;
    db.drop_now().await;
}

/// The database refuses a double booking by itself, even from a commit that skipped the
/// guard, and the refusal arrives as the core's conflict.
#[tokio::test]
async fn the_exclusion_constraint_refuses_double_bookings() {
    use clinic_core::ports::{AppointmentRepository, PortErrorKind};
    let Some(admin) = postgres_url() else { return };
    let db = TempPostgres::new(&admin).await;
    let s = db.store().await;
    let practice: clinic_core::ids::PracticeId = common::ids().new_id();
    let who: clinic_core::ids::PractitionerId = common::ids().new_id();
    let first = common::conformance::appointment(practice, who, common::ids().new_id(), "2026-12-01T00:00:00Z", 50);
    s.commit(practice, &[], std::slice::from_ref(&first)).await.unwrap();
    // Starts inside the first's buffer (00:50–01:00).
    let clash = common::conformance::appointment(practice, who, common::ids().new_id(), "2026-12-01T00:55:00Z", 50);
    let err = s.commit(practice, &[], &[clash]).await.unwrap_err();
    assert_eq!(err.kind(), PortErrorKind::Conflict);
    assert!(
        !err.to_string().contains("2026"),
        "no stored values in the message: {err}"
    );
    // Back to back with the buffer respected is fine.
    let next = common::conformance::appointment(practice, who, common::ids().new_id(), "2026-12-01T01:00:00Z", 50);
    s.commit(practice, &[], &[next]).await.unwrap();
    // Another practitioner at the same time is fine; the same room is not.
    let room: clinic_core::ids::RoomId = common::ids().new_id();
    let mut a = common::conformance::appointment(
        practice,
        common::ids().new_id(),
        common::ids().new_id(),
        "2026-12-02T00:00:00Z",
        50,
    );
    a.room_id = Some(room);
    s.commit(practice, &[], &[a]).await.unwrap();
    let mut b = common::conformance::appointment(
        practice,
        common::ids().new_id(),
        common::ids().new_id(),
        "2026-12-02T00:30:00Z",
        50,
    );
    b.room_id = Some(room);
    assert_eq!(
        s.commit(practice, &[], &[b]).await.unwrap_err().kind(),
        PortErrorKind::Conflict
    );
    s.close().await;
    db.drop_now().await;
}

/// Row-level security: the application role sees nothing of a practice it has not named,
/// and may not change or delete the audit chain.
#[tokio::test]
async fn row_level_security_and_an_append_only_audit_chain() {
    use sqlx::{Connection as _, Executor as _, Row as _};
    let Some(admin) = postgres_url() else { return };
    let db = TempPostgres::new(&admin).await;
    let s = db.store().await;
    let (practice, _) = common::sql_faults::store_clinical_text(&s).await;
    use clinic_core::ports::AuditLog;
    s.append(clinic_core::audit::AuditEntry {
        practice_id: practice,
        at: common::utc("2026-11-24T00:00:00Z"),
        actor: None,
        action: "note.read".into(),
        resource_kind: "progress_note".into(),
        resource_id: uuid::Uuid::nil(),
        patient_id: None,
        outcome: clinic_core::audit::Outcome::Allowed,
        request_id: None,
        reason: None,
    })
    .await
    .unwrap();
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let owner_sees: i64 = sqlx::query_scalar("SELECT count(*) FROM records")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(owner_sees >= 2);
    conn.execute("SET ROLE clinic_app").await.unwrap();
    let unscoped: i64 = sqlx::query_scalar("SELECT count(*) FROM records")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(unscoped, 0, "a query without the practice sees nothing");
    conn.execute(&*format!(
        "SELECT set_config('app.practice_id', '{}', false)",
        uuid::Uuid::now_v7()
    ))
    .await
    .unwrap();
    let other: i64 = sqlx::query_scalar("SELECT count(*) FROM records")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(other, 0, "another practice sees nothing");
    conn.execute(&*format!(
        "SELECT set_config('app.practice_id', '{}', false)",
        practice.as_uuid()
    ))
    .await
    .unwrap();
    let own: i64 = sqlx::query_scalar("SELECT count(*) FROM records")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(own, owner_sees);
    for forbidden in [
        "UPDATE audit_events SET seq = seq",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = conn.execute(forbidden).await.unwrap_err();
        let code = err
            .as_database_error()
            .and_then(sqlx::error::DatabaseError::code)
            .unwrap()
            .into_owned();
        assert_eq!(code, "42501", "{forbidden} must be refused");
    }
    let row = sqlx::query("SELECT count(*) FROM audit_events")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(row.get::<i64, _>(0), 1);
    // Writing a row for another practice is refused by the policy's check.
    let err = sqlx::query("INSERT INTO versions (practice_id, name, value) VALUES ($1, 'x', 1)")
        .bind(uuid::Uuid::now_v7())
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error()
            .and_then(sqlx::error::DatabaseError::code)
            .unwrap(),
        "42501"
    );
    conn.close().await.unwrap();
    s.close().await;
    db.drop_now().await;
}

/// A dump of the database holds no clinical text, and a newer schema is refused.
#[tokio::test]
async fn no_clinical_text_in_the_database_and_newer_schemas_are_refused() {
    use sqlx::{Connection as _, Executor as _};
    let Some(admin) = postgres_url() else { return };
    let db = TempPostgres::new(&admin).await;
    let s = db.store().await;
    common::sql_faults::store_clinical_text(&s).await;
    s.close().await;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    // What pg_dump would print of every table: each row as text.
    for table in [
        "records",
        "appointments",
        "invoices",
        "claims",
        "audit_events",
        "versions",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for r in rows {
            assert!(!common::sql_faults::leaks(r.as_bytes()), "clinical text in {table}");
        }
    }
    assert_eq!(clinic_adapters::sql::SqlStore::migrate_to(&db.url, 1).await.unwrap(), 0);
    conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')")
        .await
        .unwrap();
    conn.close().await.unwrap();
    common::sql_faults::open_refuses_newer_schema(&db.url).await;
    db.drop_now().await;
}

/// Connections killed by the server in the middle of commits: every commit either landed
/// whole or not at all, and the store carries on with new connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_connections_leave_nothing_half_written() {
    use clinic_core::ports::{AppointmentRepository, InvoiceRepository, PortErrorKind, ResourceKey};
    use clinic_core::time::TimeRange;
    use sqlx::Connection as _;
    let Some(admin) = postgres_url() else { return };
    let db = TempPostgres::new(&admin).await;
    let s = db.store().await;
    let practice: clinic_core::ids::PracticeId = common::ids().new_id();
    let who: clinic_core::ids::PractitionerId = common::ids().new_id();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let (url, stop) = (admin.clone(), stop.clone());
        let name = db.name.clone();
        tokio::spawn(async move {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            let mut killed = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                     WHERE datname = $1 AND pid <> pg_backend_pid() AND state <> 'idle'",
                )
                .bind(&name)
                .fetch_one(&mut conn)
                .await
                .unwrap();
                killed += n;
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
            killed
        })
    };
    let mut tasks = Vec::new();
    for i in 0..8i64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut failures = 0;
            for j in 0..40i64 {
                let start = common::utc("2027-01-04T00:00:00Z") + chrono::Duration::hours(i * 100 + j);
                let a =
                    common::conformance::appointment(practice, who, common::ids().new_id(), &start.to_rfc3339(), 50);
                let inv = common::conformance::draft(practice, 5000 + j);
                let booked = s.commit(practice, &[], std::slice::from_ref(&a)).await;
                let issued = async {
                    s.save_draft(&inv).await?;
                    s.issue(practice, inv.id, 1, "2027-01-04".parse().unwrap()).await
                }
                .await;
                match booked {
                    Ok(()) => acknowledged.push(a),
                    Err(e) => {
                        assert_eq!(e.kind(), PortErrorKind::Unavailable, "{e}");
                        failures += 1;
                    }
                }
                if let Err(e) = issued {
                    assert!(
                        matches!(e.kind(), PortErrorKind::Unavailable | PortErrorKind::Conflict),
                        "{e}"
                    );
                }
            }
            (acknowledged, failures)
        }));
    }
    let mut acknowledged = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (a, f) = t.await.unwrap();
        acknowledged.extend(a);
        failures += f;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let killed = killer.await.unwrap();
    eprintln!("killed {killed} busy connections; {failures} commits failed cleanly");
    // A connection whose kill was still on its way when it went back to the pool fails
    // its next use as unavailable, once; the pool then drops it and opens another.
    macro_rules! settled {
        ($read:expr) => {{
            let mut tries = 0;
            loop {
                match $read.await {
                    Err(e) if e.kind() == PortErrorKind::Unavailable && tries < 8 => tries += 1,
                    other => break other.unwrap(),
                }
            }
        }};
    }
    let window = TimeRange::new(common::utc("2027-01-01T00:00:00Z"), common::utc("2027-03-01T00:00:00Z")).unwrap();
    let snap = settled!(s.snapshot(practice, &[ResourceKey::Practitioner(who)], window));
    for a in &acknowledged {
        assert!(snap.appointments.contains(a), "an acknowledged commit is kept");
    }
    for a in &snap.appointments {
        assert_eq!(
            settled!(s.patient_appointments(practice, a.patient_ids[0])),
            vec![a.clone()],
            "whole"
        );
    }
    // Issued invoices are numbered 1..n with no gap, whatever was cut off.
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let numbers: Vec<i64> = sqlx::query_scalar("SELECT number FROM invoices WHERE number IS NOT NULL ORDER BY number")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(numbers, (1..=numbers.len() as i64).collect::<Vec<_>>());
    conn.close().await.unwrap();
    s.close().await;
    db.drop_now().await;
}

#[tokio::test]
async fn keys_rotate_without_reading_bodies() {
    let Some(admin) = postgres_url() else { return };
    let db = TempPostgres::new(&admin).await;
    common::sql_faults::key_rotation(&db.url).await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_upgrades_with_its_data() {
    let Some(admin) = postgres_url() else { return };
    let db = TempPostgres::new(&admin).await;
    common::sql_faults::upgrade_from_version_1_keeps_everything(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_failing_in_a_booking_commit_rolls_the_booking_back() {
    let Some(admin) = postgres_url() else { return };
    let db = TempPostgres::new(&admin).await;
    let store = db.store().await;
    common::sql_faults::a_notice_failing_in_the_commit_rolls_it_all_back(store.clone()).await;
    store.close().await;
    db.drop_now().await;
}

/// A read ends its transaction with it (by a rollback sent as the connection returns to the
/// pool): the connection goes back idle, never idle in a transaction that still holds the
/// practice's row-level-security setting, and the next read on it starts cleanly.
#[tokio::test]
async fn reads_leave_their_connection_idle_and_out_of_any_transaction() {
    use clinic_core::ports::{AppointmentRepository as _, PracticeRepository as _, ResourceKey};
    let Some(admin) = postgres_url() else { return };
    let db = TempPostgres::new(&admin).await;
    let one = clinic_adapters::sql::PoolOptions {
        max_connections: 1,
        ..clinic_adapters::sql::PoolOptions::default()
    };
    let s = clinic_adapters::sql::SqlStore::connect_with(&db.url, common::databases::cipher(), one)
        .await
        .unwrap();
    let (a, b) = (
        clinic_adapters::system::UuidV7Ids.new_id(),
        clinic_adapters::system::UuidV7Ids.new_id(),
    );
    let window =
        clinic_core::time::TimeRange::new(common::utc("2026-11-23T00:00:00Z"), common::utc("2026-11-30T00:00:00Z"))
            .unwrap();
    let who = ResourceKey::Practitioner(clinic_adapters::system::UuidV7Ids.new_id());
    // Alternating practices on the one connection: each read runs, none sees a leftover.
    for practice in [a, b, a, b] {
        assert!(s.practice(practice).await.is_err(), "no practice is stored");
        assert!(s.busy(practice, &[who], window).await.unwrap().is_empty());
        assert!(
            s.snapshot(practice, &[who], window)
                .await
                .unwrap()
                .appointments
                .is_empty()
        );
    }
    let mut conn = {
        use sqlx::Connection as _;
        sqlx::PgConnection::connect(&admin).await.unwrap()
    };
    let mut states = Vec::new();
    for _ in 0..100 {
        states = sqlx::query_scalar::<_, Option<String>>(
            "SELECT state FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
        )
        .bind(db.url.rsplit('/').next().unwrap())
        .fetch_all(&mut conn)
        .await
        .unwrap();
        if states.iter().all(|st| st.as_deref() == Some("idle")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(states, vec![Some("idle".to_owned())], "the store's one connection");
    s.close().await;
    db.drop_now().await;
}
