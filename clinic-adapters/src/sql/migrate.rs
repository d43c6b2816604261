//! Forward-only schema migrations, embedded in the binary.
//!
//! Each backend has its own numbered scripts under `migrations/`. A `schema_migrations`
//! table records what was applied; pending scripts run in order, each in its own
//! transaction. A database whose schema is newer than this build knows is refused rather
//! than written by code that does not understand it. (`schema_migrations` is the one table
//! without a `practice_id`: it describes the database, not a practice.)

/// One migration: its version and script.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

#[cfg(feature = "sqlite")]
pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "outbox",
        sql: include_str!("../../migrations/sqlite/0002_outbox.sql"),
    },
    Migration {
        version: 3,
        name: "report_columns",
        sql: include_str!("../../migrations/sqlite/0003_report_columns.sql"),
    },
    Migration {
        version: 4,
        name: "service_column",
        sql: include_str!("../../migrations/sqlite/0004_service_column.sql"),
    },
];

#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "outbox",
        sql: include_str!("../../migrations/postgres/0002_outbox.sql"),
    },
    Migration {
        version: 3,
        name: "report_columns",
        sql: include_str!("../../migrations/postgres/0003_report_columns.sql"),
    },
    Migration {
        version: 4,
        name: "service_column",
        sql: include_str!("../../migrations/postgres/0004_service_column.sql"),
    },
];

/// The newest schema version of a list of migrations.
pub(crate) fn latest(migrations: &[Migration]) -> i64 {
    migrations.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Runs the pending migrations of `$list` on connection `$conn` (sqlite or postgres),
/// refusing a newer schema. A macro because the code is the same text for both drivers.
macro_rules! run_migrations {
    ($conn:expr, $list:expr, $upto:expr) => {{
        use sqlx::Connection as _;
        let conn = $conn;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )",
        )
        .execute(&mut *conn)
        .await
        .map_err(StoreError::connect)?;
        let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&mut *conn)
            .await
            .map_err(StoreError::connect)?;
        let current = current.unwrap_or(0);
        let supported = $crate::sql::migrate::latest($list);
        if current > supported {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported,
            });
        }
        let mut applied = 0;
        for m in $list.iter().filter(|m| m.version > current && m.version <= $upto) {
            let mut tx = conn.begin().await.map_err(StoreError::connect)?;
            sqlx::raw_sql(m.sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::Migration {
                    version: m.version,
                    source: e,
                })?;
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(m.version)
                .bind(m.name)
                .bind(chrono::Utc::now().to_rfc3339())
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::Migration {
                    version: m.version,
                    source: e,
                })?;
            tx.commit().await.map_err(|e| StoreError::Migration {
                version: m.version,
                source: e,
            })?;
            applied += 1;
        }
        Ok::<usize, StoreError>(applied)
    }};
}
pub(crate) use run_migrations;
