//! `clinic-server-example`: runs the reference server.
//!
//! `clinic-server-example [serve]` listens on 127.0.0.1:8080 (`CLINIC_LISTEN`) over the
//! database at `CLINIC_DATABASE_URL` (default: SQLite `clinic.db` in the working
//! directory), applying pending migrations first. A database without a practice is seeded
//! with a fictional demo practice. `clinic-server-example migrate` applies the migrations
//! and exits.

use std::process::ExitCode;
use std::sync::Arc;

use clinic_adapters::sql::SqlStore;
use clinic_adapters::system::UuidV7Ids;
use clinic_core::ports::IdGeneratorExt;
use clinic_server_example::config::KeySource;
use clinic_server_example::{AppState, Config, demo, serve};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: clinic-server-example [serve | migrate | rotate-keys]";

#[tokio::main]
async fn main() -> ExitCode {
    // Colour only on a terminal: log files and collectors get plain text.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let config = match Config::from_env(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let command = std::env::args().nth(1);
    match command.as_deref() {
        None | Some("serve") => run(config).await,
        Some("migrate") => match SqlStore::migrate_to(&config.database_url, i64::MAX).await {
            Ok(n) => {
                println!("{n} migration(s) applied; the schema is current");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("migration failed: {e} ({})", e.code());
                ExitCode::FAILURE
            }
        },
        Some("rotate-keys") => rotate_keys(&config).await,
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown command {other:?}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

async fn run(config: Config) -> ExitCode {
    let cipher = match config.cipher() {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let KeySource::DevFile(path) = &config.keys {
        tracing::warn!(
            key_file = %path.display(),
            "CLINIC_ENCRYPTION_KEYS is not set: health data is sealed with a development key file; \
             production must supply keys from a secret manager"
        );
    }
    let store = match SqlStore::connect(&config.database_url, cipher).await {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("cannot open the database: {e} ({})", e.code());
            return ExitCode::FAILURE;
        }
    };
    let existing = match store.practice_ids().await {
        Ok(ids) => ids.first().copied(),
        Err(e) => {
            eprintln!("cannot read the database: {e}");
            return ExitCode::FAILURE;
        }
    };
    let practice = existing.unwrap_or_else(|| UuidV7Ids.new_id());
    let state = AppState::new(store, practice);
    if existing.is_none() {
        let today = chrono::Utc::now()
            .with_timezone(&chrono_tz::Australia::Sydney)
            .date_naive();
        match demo::seed(&state, practice, today).await {
            Ok(seeded) => {
                let ids: Vec<String> = seeded.patients.iter().map(ToString::to_string).collect();
                tracing::warn!(practice = %seeded.practice, demo_patient_ids = %ids.join(","),
                    "new database: seeded a fictional demo practice");
            }
            Err(e) => {
                eprintln!("could not seed the demo practice: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        tracing::info!(practice = %practice, database = %clinic_server_example::config::redacted_url(&config.database_url), "serving the stored practice");
    }
    if let Err(e) = serve(&config, state, shutdown_signal()).await {
        eprintln!("server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Re-wraps every sealed record under the current key (the first of
/// `CLINIC_ENCRYPTION_KEYS`), practice by practice, in batches; the older keys can be
/// removed from the configuration afterwards.
async fn rotate_keys(config: &Config) -> ExitCode {
    let cipher = match config.cipher() {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let store = match SqlStore::connect(&config.database_url, cipher).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot open the database: {e} ({})", e.code());
            return ExitCode::FAILURE;
        }
    };
    let practices = match store.practice_ids().await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot read the database: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut total = 0;
    for practice in practices {
        loop {
            match store.rotate_keys(practice, 500).await {
                Ok(0) => break,
                Ok(n) => {
                    total += n;
                    println!("practice {practice}: {total} record(s) re-wrapped so far");
                }
                Err(e) => {
                    eprintln!("rotation stopped: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    println!("{total} record(s) re-wrapped; every sealed record is under the current key");
    ExitCode::SUCCESS
}

/// Resolves on ctrl-c or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
