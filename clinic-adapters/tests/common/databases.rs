//! Fresh databases for the SQL adapters' tests: a temporary SQLite file, or a PostgreSQL
//! database created for one test and dropped after it.

use std::path::PathBuf;
use std::sync::Arc;

use clinic_adapters::crypto::EnvelopeCipher;
use clinic_adapters::sql::SqlStore;

pub fn cipher() -> Arc<EnvelopeCipher> {
    Arc::new(EnvelopeCipher::from_config(&EnvelopeCipher::generate_key("test-1")).unwrap())
}

/// A SQLite database in a new temporary directory, removed on drop.
pub struct TempSqlite {
    pub dir: PathBuf,
    pub url: String,
}

impl TempSqlite {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("clinic-test-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("clinic.db").display());
        Self { dir, url }
    }

    pub async fn store(&self) -> Arc<SqlStore> {
        Arc::new(SqlStore::connect(&self.url, cipher()).await.unwrap())
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server's URL, or `None` (with the reason printed) when the tests should skip.
/// With `CI=true` a missing `DATABASE_URL` fails instead: CI always has PostgreSQL.
pub fn postgres_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but DATABASE_URL does not name a PostgreSQL database")
        }
        _ => {
            eprintln!(
                "SKIPPED: PostgreSQL tests need DATABASE_URL=postgres://… (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            None
        }
    }
}

/// A database created for one test on the server at `DATABASE_URL`; `drop_now` removes it.
pub struct TempPostgres {
    admin: String,
    pub name: String,
    pub url: String,
}

impl TempPostgres {
    pub async fn new(admin: &str) -> Self {
        use sqlx::Connection as _;
        let name = format!("clinic_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
        let url = format!("{base}/{name}");
        Self {
            admin: admin.to_owned(),
            name,
            url,
        }
    }

    pub async fn store(&self) -> Arc<SqlStore> {
        Arc::new(SqlStore::connect(&self.url, cipher()).await.unwrap())
    }

    pub async fn drop_now(self) {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&self.admin).await.unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}
