//! The storage conformance suite, and SQLite's own behaviour, against the `sqlite` adapter.
#![cfg(all(feature = "sqlite", feature = "crypto"))]

mod common;

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
