//! The storage conformance suite, and PostgreSQL's own guarantees, against the `postgres`
//! adapter. Needs `DATABASE_URL`; each test works in a database of its own.
#![cfg(all(feature = "postgres", feature = "crypto"))]

mod common;

use common::databases::{TempPostgres, postgres_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_conforms() {
    let Some(admin) = postgres_url() else { return };
    let db = TempPostgres::new(&admin).await;
    common::conformance::run_all(|| db.store()).await;
    db.drop_now().await;
}
