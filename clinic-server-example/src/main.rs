//! `clinic-server-example`: runs the reference server and its maintenance commands.
//!
//! With no command it serves: 127.0.0.1:8080 (`CLINIC_LISTEN`) over the database at
//! `CLINIC_DATABASE_URL` (default: SQLite `clinic.db` in the working directory), applying
//! pending migrations first. A database without a practice gets an empty one, or with
//! `--demo` a fictional demo practice.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use clinic_adapters::crypto::EnvelopeCipher;
use clinic_adapters::sql::SqlStore;
use clinic_adapters::system::{SystemClock, UuidV7Ids};
use clinic_core::ports::{IdGeneratorExt, Storage};
use clinic_core::service::AuditService;
use clinic_server_example::config::{KeySource, redacted_url};
use clinic_server_example::jobs::Jobs;
use clinic_server_example::providers::Integrations;
use clinic_server_example::{AppState, Config, demo, serve};
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

/// The clinic-rs reference server. Configuration comes from `CLINIC_*` environment
/// variables (see the README).
#[derive(Debug, Parser)]
#[command(name = "clinic-server-example", version)]
struct Cli {
    /// A TOML configuration file (or `CLINIC_CONFIG`); environment variables override it.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// On a new database, seed a fictional demo practice (two locations, practitioners,
    /// patients, appointments) instead of an empty one. Never for a clinic's real data.
    #[arg(long, global = true)]
    demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand, PartialEq, Eq)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending schema migrations and exit.
    Migrate,
    /// Re-wrap every sealed record under the current key (the first of
    /// CLINIC_ENCRYPTION_KEYS); older keys can then be removed.
    RotateKeys,
    /// Run the background jobs (compliance sweep, audit checkpoint) once for every
    /// practice and print what they did.
    Sweep,
    /// Verify every practice's audit chain against its signed checkpoints; exits 1 on the
    /// first sign of tampering.
    VerifyAudit,
    /// Write a consistent copy of the SQLite database while the server keeps running.
    Backup {
        /// Where to write the copy; it must not exist yet.
        path: PathBuf,
    },
    /// Write everything held about a patient (an APP 12 access request) to a file readable
    /// by its owner only; the export is audited under the staff account named by --by.
    ExportPatient {
        /// The patient's id.
        #[arg(long)]
        patient: String,
        /// The staff member answering the request (an administrator or practice manager's
        /// sign-in email).
        #[arg(long)]
        by: String,
        /// json, csv or pdf.
        #[arg(long, default_value = "json")]
        format: String,
        /// Where to write it; it must not exist yet.
        #[arg(long)]
        out: PathBuf,
    },
    /// Create an administrator account; the password is read from CLINIC_ADMIN_PASSWORD
    /// (never from the command line, where other users of the machine could see it).
    CreateAdmin {
        /// The administrator's sign-in email.
        #[arg(long)]
        email: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Colour only on a terminal: log files and collectors get plain text.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let file = cli
        .config
        .or_else(|| std::env::var_os("CLINIC_CONFIG").map(PathBuf::from));
    let config = match Config::load(file.as_deref(), |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => run(&config, cli.demo).await,
        Command::Migrate => migrate(&config).await,
        Command::RotateKeys => rotate_keys(&config).await,
        Command::Sweep => sweep(&config).await,
        Command::VerifyAudit => verify_audit(&config).await,
        Command::Backup { path } => backup(&config, &path).await,
        Command::CreateAdmin { email } => create_admin(&config, &email).await,
        Command::ExportPatient {
            patient,
            by,
            format,
            out,
        } => export_patient(&config, &patient, &by, &format, &out).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(e)) => {
            eprintln!("configuration error: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command stopped: bad configuration (exit 2) or anything else (exit 1).
enum Failure {
    Config(String),
    Other(String),
}

async fn open(config: &Config) -> Result<Arc<SqlStore>, Failure> {
    open_with_cipher(config).await.map(|(store, _)| store)
}

async fn open_with_cipher(config: &Config) -> Result<(Arc<SqlStore>, Arc<EnvelopeCipher>), Failure> {
    let cipher = Arc::new(config.cipher().map_err(|e| Failure::Config(e.to_string()))?);
    if let KeySource::DevFile(path) = &config.keys {
        tracing::warn!(
            key_file = %path.display(),
            "CLINIC_ENCRYPTION_KEYS is not set: health data is sealed with a development key file; \
             production must supply keys from a secret manager"
        );
    }
    let store = SqlStore::connect(&config.database_url, cipher.clone())
        .await
        .map_err(|e| Failure::Other(format!("cannot open the database: {e} ({})", e.code())))?;
    Ok((Arc::new(store), cipher))
}

async fn practices(store: &SqlStore) -> Result<Vec<clinic_core::ids::PracticeId>, Failure> {
    store
        .practice_ids()
        .await
        .map_err(|e| Failure::Other(format!("cannot read the database: {e}")))
}

async fn run(config: &Config, demo: bool) -> Result<(), Failure> {
    let (store, cipher) = open_with_cipher(config).await?;
    let integrations = Integrations::build(&config.providers, cipher).map_err(|e| Failure::Config(e.to_string()))?;
    integrations.warn_about_console();
    let existing = practices(&store).await?.first().copied();
    let practice = existing.unwrap_or_else(|| UuidV7Ids.new_id());
    let jwt = config.jwt_secret().map_err(|e| Failure::Config(e.to_string()))?;
    let mut state = AppState::new(store.clone(), practice)
        .with_integrations(integrations)
        .with_token_secret(&jwt);
    state.cors_origins = config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
    state.metrics_token = config.metrics_token.as_ref().map(|t| t.0.clone());
    state.metrics_loopback = config.metrics_loopback;
    let pools = store.clone();
    state.pool_usage = Some(Arc::new(move || {
        let (open, idle, max) = pools.pool_usage();
        clinic_server_example::metrics::PoolUsage { open, idle, max }
    }));
    state.audit_key = Arc::new(config.audit_key().map_err(|e| Failure::Config(e.to_string()))?);
    if existing.is_none() {
        let today = chrono::Utc::now()
            .with_timezone(&chrono_tz::Australia::Sydney)
            .date_naive();
        let seeded = demo::first_start(&state, practice, today, demo)
            .await
            .map_err(|e| Failure::Other(format!("could not create the practice: {e}")))?;
        if let Some(seeded) = seeded {
            let ids: Vec<String> = seeded.patients.iter().map(ToString::to_string).collect();
            tracing::warn!(practice = %seeded.practice, demo_patient_ids = %ids.join(","),
                "new database: seeded a fictional demo practice (--demo)");
        } else {
            tracing::info!(practice = %practice,
                "new database: created an empty practice; name it and add locations, rooms, services and staff through the API (or start with --demo for example data)");
        }
    } else {
        if demo {
            tracing::warn!("--demo ignored: the database already holds a practice");
        }
        tracing::info!(practice = %practice, database = %redacted_url(&config.database_url), "serving the stored practice");
    }
    first_admin(&state).await?;
    let store_ports: Arc<dyn Storage> = store.clone();
    let jobs = Jobs::new(
        practice,
        &store_ports,
        state.booking.clone(),
        Arc::new(SystemClock),
        config.audit_key().map_err(|e| Failure::Config(e.to_string()))?,
    )
    .with_notices(state.notices.clone(), state.channels.clone())
    .with_metrics(state.metrics.clone());
    let (stop, stopped) = watch::channel(false);
    let jobs = jobs.spawn(config.job_interval, stopped);
    let shutdown = async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    let served = serve(config, state, shutdown).await;
    // In-flight requests are done; let a running round of jobs finish too.
    let _ = jobs.await;
    served.map_err(|e| Failure::Other(format!("server error: {e}")))
}

async fn migrate(config: &Config) -> Result<(), Failure> {
    let n = SqlStore::migrate_to(&config.database_url, i64::MAX)
        .await
        .map_err(|e| Failure::Other(format!("migration failed: {e} ({})", e.code())))?;
    println!("{n} migration(s) applied; the schema is current");
    Ok(())
}

async fn rotate_keys(config: &Config) -> Result<(), Failure> {
    let store = open(config).await?;
    let mut total = 0;
    for practice in practices(&store).await? {
        loop {
            match store.rotate_keys(practice, 500).await {
                Ok(0) => break,
                Ok(n) => {
                    total += n;
                    println!("practice {practice}: {total} record(s) re-wrapped so far");
                }
                Err(e) => return Err(Failure::Other(format!("rotation stopped: {e}"))),
            }
        }
    }
    println!("{total} record(s) re-wrapped; every sealed record is under the current key");
    Ok(())
}

/// With no administrator yet: creates one from CLINIC_ADMIN_EMAIL and
/// CLINIC_ADMIN_PASSWORD when both are set, otherwise prints a one-time token that creates
/// one through `POST /api/v1/auth/bootstrap`.
async fn first_admin(state: &AppState) -> Result<(), Failure> {
    let fail = |e: clinic_server_example::error::ApiError| Failure::Other(format!("first administrator: {}", e.code()));
    if clinic_server_example::accounts::has_admin(state).await.map_err(fail)? {
        return Ok(());
    }
    match (
        std::env::var("CLINIC_ADMIN_EMAIL"),
        std::env::var("CLINIC_ADMIN_PASSWORD"),
    ) {
        (Ok(email), Ok(password)) => {
            let email = clinic_core::people::Email::parse(email.trim())
                .map_err(|e| Failure::Config(format!("CLINIC_ADMIN_EMAIL: {}", e.problem())))?;
            clinic_server_example::accounts::create_admin(state, email, password)
                .await
                .map_err(|e| Failure::Config(format!("CLINIC_ADMIN_PASSWORD: {}", e.code())))?;
            tracing::info!("the first administrator was created from CLINIC_ADMIN_EMAIL");
        }
        _ => {
            let token = clinic_server_example::accounts::one_time_token();
            *state
                .bootstrap
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(token.clone());
            // Printed once, to the operator's terminal, for the one request that uses it.
            eprintln!(
                "\nNo administrator yet. Create one within this run with:\n  curl -X POST http://<listen>/api/v1/auth/bootstrap -H 'content-type: application/json' \\\n    -d '{{\"token\": \"{token}\", \"email\": \"you@example.com\", \"password\": \"<12+ characters>\"}}'\n"
            );
        }
    }
    Ok(())
}

async fn create_admin(config: &Config, email: &str) -> Result<(), Failure> {
    let email = clinic_core::people::Email::parse(email.trim())
        .map_err(|e| Failure::Config(format!("--email: {}", e.problem())))?;
    let password = std::env::var("CLINIC_ADMIN_PASSWORD")
        .map_err(|_| Failure::Config("CLINIC_ADMIN_PASSWORD: must hold the new administrator's password".into()))?;
    let store = open(config).await?;
    let Some(practice) = practices(&store).await?.first().copied() else {
        return Err(Failure::Other(
            "the database holds no practice yet: run the server once first".into(),
        ));
    };
    let state = AppState::new(store, practice);
    clinic_server_example::accounts::create_admin(&state, email, password)
        .await
        .map_err(|e| match e.status().as_u16() {
            409 | 422 => Failure::Config(format!("{}: {}", e.code(), e.detail())),
            _ => Failure::Other(format!("could not create the administrator: {}", e.code())),
        })?;
    println!("administrator created for practice {practice}");
    Ok(())
}

async fn export_patient(
    config: &Config,
    patient: &str,
    by: &str,
    format: &str,
    out: &std::path::Path,
) -> Result<(), Failure> {
    use clinic_core::ports::DocumentRenderer as _;
    let patient: clinic_core::ids::PatientId = patient
        .parse()
        .map_err(|e: clinic_core::FieldError| Failure::Config(format!("--patient: {}", e.problem())))?;
    let by =
        clinic_core::people::Email::parse(by.trim()).map_err(|e| Failure::Config(format!("--by: {}", e.problem())))?;
    if !["json", "csv", "pdf"].contains(&format) {
        return Err(Failure::Config("--format: must be json, csv or pdf".into()));
    }
    // Checked first so that no export is gathered (and audited) that cannot be written.
    if out.exists() {
        return Err(Failure::Other(format!(
            "{} already exists; choose a new file",
            out.display()
        )));
    }
    let store = open(config).await?;
    let Some(practice) = practices(&store).await?.first().copied() else {
        return Err(Failure::Other("the database holds no practice yet".into()));
    };
    let account = clinic_core::ports::Accounts::account_by_email(&*store, practice, &by)
        .await
        .map_err(|_| Failure::Config("--by: no account with that email".into()))?;
    let role = [
        clinic_core::people::Role::PracticeManager,
        clinic_core::people::Role::Admin,
    ]
    .into_iter()
    .find(|r| account.user.has_role(*r))
    .ok_or_else(|| Failure::Config("--by: exports are answered by a practice manager or administrator".into()))?;
    let actor = clinic_core::service::Actor {
        practice_id: practice,
        user_id: account.user.id,
        role,
        practitioner_id: None,
        patient_id: None,
        guardian_of: Vec::new(),
        request_id: Some(format!("cli-export-{}", uuid::Uuid::new_v4())),
    };
    let zone = clinic_core::ports::PracticeRepository::locations(&*store, practice)
        .await
        .map_err(|e| Failure::Other(format!("the database did not answer: {}", e.kind().code())))?
        .first()
        .map_or(chrono_tz::Australia::Sydney, |l| l.zone);
    let today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let privacy = AppState::new(store.clone(), practice).privacy.clone();
    let export = privacy
        .export(&actor, patient, today, &format!("export ({format}, command line)"))
        .await
        .map_err(|e| Failure::Other(format!("the export stopped: {} ({})", e, e.code())))?;
    let bytes = match format {
        "json" => clinic_adapters::export::to_json(&export).map(String::into_bytes),
        "csv" => clinic_adapters::export::to_csv(&export).map(String::into_bytes),
        _ => {
            let names = AppState::new(store.clone(), practice)
                .export_names()
                .await
                .map_err(|e| Failure::Other(format!("the export stopped: {e} ({})", e.code())))?;
            let doc = clinic_adapters::export::readable(&export, &names);
            return write_export(
                out,
                &clinic_adapters::pdf::PdfRenderer
                    .render_pdf(&doc)
                    .await
                    .map_err(|e| Failure::Other(e.to_string()))?,
            );
        }
    }
    .map_err(|e| Failure::Other(e.to_string()))?;
    write_export(out, &bytes)
}

/// Writes an export to a new file only its owner can read: it is health information.
fn write_export(out: &std::path::Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(out)
        .map_err(|e| Failure::Other(format!("cannot create {}: {e}", out.display())))?;
    file.write_all(bytes)
        .map_err(|e| Failure::Other(format!("cannot write {}: {e}", out.display())))?;
    println!(
        "export written to {} ({} bytes); the request is audited",
        out.display(),
        bytes.len()
    );
    Ok(())
}

async fn sweep(config: &Config) -> Result<(), Failure> {
    let (store, cipher) = open_with_cipher(config).await?;
    let audit_key = config.audit_key().map_err(|e| Failure::Config(e.to_string()))?;
    let integrations = Integrations::build(&config.providers, cipher).map_err(|e| Failure::Config(e.to_string()))?;
    integrations.warn_about_console();
    let ports: Arc<dyn Storage> = store.clone();
    for practice in practices(&store).await? {
        let state = AppState::new(store.clone(), practice).with_integrations(integrations.clone());
        let jobs = Jobs::new(
            practice,
            &ports,
            state.booking.clone(),
            Arc::new(SystemClock),
            audit_key.clone(),
        )
        .with_notices(state.notices.clone(), state.channels.clone());
        let round = jobs
            .run_once()
            .await
            .map_err(|e| Failure::Other(format!("the jobs of practice {practice} stopped: {e}")))?;
        let json = serde_json::to_string_pretty(&round.compliance).map_err(|e| Failure::Other(e.to_string()))?;
        println!("practice {practice}:\n{json}");
        if let Some(seq) = round.checkpoint {
            println!("audit checkpoint signed at event {seq}");
        }
        let n = &round.notices;
        println!(
            "notices: {} sent, {} to retry, {} parked, {} skipped",
            n.sent, n.retrying, n.parked, n.skipped
        );
    }
    Ok(())
}

async fn verify_audit(config: &Config) -> Result<(), Failure> {
    let store = open(config).await?;
    let key = config.audit_key().map_err(|e| Failure::Config(e.to_string()))?;
    let audit = AuditService::new(store.clone());
    let mut tampered = Vec::new();
    for practice in practices(&store).await? {
        match audit.verify(practice, &key, &[]).await {
            Ok(Ok(n)) => println!("practice {practice}: {n} audit event(s) verified"),
            Ok(Err(e)) => {
                println!("practice {practice}: TAMPERED: {e}");
                tampered.push(practice);
            }
            Err(e) => {
                return Err(Failure::Other(format!(
                    "cannot read the audit chain of {practice}: {e}"
                )));
            }
        }
    }
    if tampered.is_empty() {
        Ok(())
    } else {
        Err(Failure::Other(format!(
            "{} audit chain(s) failed verification",
            tampered.len()
        )))
    }
}

async fn backup(config: &Config, path: &std::path::Path) -> Result<(), Failure> {
    let store = open(config).await?;
    store
        .backup(path)
        .await
        .map_err(|e| Failure::Other(format!("backup failed: {e}")))?;
    println!("backup written to {}", path.display());
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_bad_ones_are_refused() {
        assert_eq!(Cli::try_parse_from(["x"]).unwrap().command, None);
        assert_eq!(
            Cli::try_parse_from(["x", "migrate"]).unwrap().command,
            Some(Command::Migrate)
        );
        assert_eq!(
            Cli::try_parse_from(["x", "rotate-keys"]).unwrap().command,
            Some(Command::RotateKeys)
        );
        assert_eq!(
            Cli::try_parse_from(["x", "backup", "/tmp/copy.db"]).unwrap().command,
            Some(Command::Backup {
                path: "/tmp/copy.db".into()
            })
        );
        assert!(Cli::try_parse_from(["x", "backup"]).is_err(), "backup needs a path");
        assert_eq!(
            Cli::try_parse_from(["x", "verify-audit"]).unwrap().command,
            Some(Command::VerifyAudit)
        );
        assert!(Cli::try_parse_from(["x", "drop-tables"]).is_err());
        let with_file = Cli::try_parse_from(["x", "migrate", "--config", "/etc/clinic.toml"]).unwrap();
        assert_eq!(with_file.config, Some(PathBuf::from("/etc/clinic.toml")));
    }
}
