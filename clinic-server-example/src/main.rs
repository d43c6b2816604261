//! `clinic-server-example`: runs the reference server.
//!
//! With no configuration it listens on 127.0.0.1:8080 (`CLINIC_LISTEN` overrides) with the
//! in-memory store, seeded with a fictional demo practice.

use std::process::ExitCode;
use std::sync::Arc;

use clinic_adapters::memory::MemoryStore;
use clinic_adapters::system::UuidV7Ids;
use clinic_core::ports::IdGeneratorExt;
use clinic_server_example::{AppState, Config, demo, serve};
use tracing_subscriber::EnvFilter;

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
    let store = Arc::new(MemoryStore::new());
    let practice = UuidV7Ids.new_id();
    let state = AppState::new(store, practice);
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Australia::Sydney)
        .date_naive();
    match demo::seed(&state, practice, today).await {
        Ok(seeded) => {
            tracing::warn!("in-memory store with a fictional demo practice: data is lost when the server stops");
            let ids: Vec<String> = seeded.patients.iter().map(ToString::to_string).collect();
            tracing::info!(practice = %seeded.practice, demo_patient_ids = %ids.join(","), "demo practice seeded");
        }
        Err(e) => {
            eprintln!("could not seed the demo practice: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = serve(&config, state, shutdown_signal()).await {
        eprintln!("server error: {e}");
        return ExitCode::FAILURE;
    }
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
