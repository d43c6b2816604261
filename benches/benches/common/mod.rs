//! What the storage-backed benchmarks share: a store loaded with a generated practice,
//! planner statistics, and a throw-away PostgreSQL database when `DATABASE_URL` names a
//! server.

#![allow(dead_code)]

use std::sync::Arc;

use clinic_adapters::crypto::EnvelopeCipher;
use clinic_adapters::sql::SqlStore;
use clinic_benches::Practice;
use clinic_core::ports::{AppointmentRepository, PracticeRepository, PractitionerRepository};
use tokio::runtime::Runtime;

pub fn cipher() -> Arc<EnvelopeCipher> {
    Arc::new(EnvelopeCipher::from_config(&EnvelopeCipher::generate_key("bench")).unwrap())
}

/// Stores the practice, its practitioners with their availability, and its appointments
/// in commits of 500.
pub async fn load(store: &SqlStore, p: &Practice) {
    store.save_location(&p.location).await.unwrap();
    for l in p.locations.values().filter(|l| l.id != p.location.id) {
        store.save_location(l).await.unwrap();
    }
    store.save_service(&p.service).await.unwrap();
    store
        .save_practice(&clinic_core::practice::Practice::new(p.location.practice_id, "Bench", p.policy).unwrap())
        .await
        .unwrap();
    for (who, availability) in p.practitioners.iter().zip(&p.availability) {
        store.save_practitioner(who).await.unwrap();
        for t in &availability.templates {
            store.save_template(t).await.unwrap();
        }
        for e in &availability.exceptions {
            store.save_exception(e).await.unwrap();
        }
    }
    for chunk in p.appointments.chunks(500) {
        store.commit(p.location.practice_id, &[], chunk).await.unwrap();
    }
}

/// Gathers planner statistics after the bulk load, as autovacuum (PostgreSQL) or the
/// store's periodic refresh (SQLite) would on a database in service.
pub async fn analyze(url: &str, store: &SqlStore) {
    use sqlx::{Connection as _, Executor as _};
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        conn.execute("ANALYZE").await.unwrap();
    } else {
        store.analyze().await.unwrap();
    }
}

/// Runs `bench` on a fresh SQLite store in a temporary directory, removed after.
pub fn on_sqlite(rt: &Runtime, bench: impl FnOnce(&str, &Arc<SqlStore>)) {
    let dir = std::env::temp_dir().join(format!("clinic-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let store = Arc::new(rt.block_on(SqlStore::connect(&url, cipher())).unwrap());
    bench(&url, &store);
    rt.block_on(store.close());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `bench` on a database created for it on the server `DATABASE_URL` names, dropped
/// after; without one, says it is skipped.
pub fn on_postgres(rt: &Runtime, what: &str, bench: impl FnOnce(&str, &Arc<SqlStore>)) {
    use sqlx::{Connection as _, Executor as _};
    let admin = match std::env::var("DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => admin,
        _ => {
            eprintln!("{what}/postgres skipped: set DATABASE_URL=postgres://… to run it");
            return;
        }
    };
    let name = format!("clinic_bench_{}", uuid::Uuid::now_v7().simple());
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
    rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        conn.execute(&*format!("CREATE DATABASE {name}")).await.unwrap();
    });
    let url = format!("{base}/{name}");
    let store = Arc::new(rt.block_on(SqlStore::connect(&url, cipher())).unwrap());
    bench(&url, &store);
    rt.block_on(async {
        store.close().await;
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        conn.execute(&*format!("DROP DATABASE {name} WITH (FORCE)"))
            .await
            .unwrap();
    });
}
