//! The maintenance commands, run as a clinic's operator would: the real binary against a
//! database in a temporary directory.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clinic-server-example"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env(
            "CLINIC_DATABASE_URL",
            format!("sqlite://{}", dir.join("clinic.db").display()),
        )
        .env("CLINIC_KEY_FILE", dir.join("keys").display().to_string())
        .env("RUST_LOG", "error");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn migrate_backup_sweep_and_rotate_from_the_command_line() {
    let dir = Dir(std::env::temp_dir().join(format!("clinic-cli-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let d = dir.0.as_path();

    let first = run(d, &["migrate"], &[]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).contains("4 migration(s) applied"), "{}", text(&first));
    let again = run(d, &["migrate"], &[]);
    assert!(text(&again).contains("0 migration(s) applied"), "{}", text(&again));

    let sweep = run(d, &["sweep"], &[]);
    assert!(sweep.status.success(), "{}", text(&sweep));

    let copy = d.join("copy.db");
    let backup = run(d, &["backup", copy.to_str().unwrap()], &[]);
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(copy.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "the copy of the health database is its owner's alone, not {mode:o}"
        );
    }
    let twice = run(d, &["backup", copy.to_str().unwrap()], &[]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(text(&twice).contains("already exists"), "{}", text(&twice));

    let keys = clinic_adapters::crypto::EnvelopeCipher::generate_key("k2");
    let rotate = run(
        d,
        &["rotate-keys"],
        &[
            ("CLINIC_ENCRYPTION_KEYS", keys),
            ("CLINIC_AUDIT_KEY", "2a".repeat(32)),
            ("CLINIC_JWT_SECRET", "3b".repeat(32)),
        ],
    );
    assert!(rotate.status.success(), "{}", text(&rotate));
    assert!(text(&rotate).contains("0 record(s) re-wrapped"), "{}", text(&rotate));
}

#[test]
fn bad_configuration_and_commands_stop_with_a_clear_message() {
    let dir = Dir(std::env::temp_dir().join(format!("clinic-cli-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let d = dir.0.as_path();
    let bad_url = run(d, &["migrate"], &[("CLINIC_DATABASE_URL", "mysql://db/clinic".into())]);
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(text(&bad_url).contains("CLINIC_DATABASE_URL"), "{}", text(&bad_url));
    let secret = format!("k1:{}", "ab".repeat(31));
    let bad_key = run(d, &["serve"], &[("CLINIC_ENCRYPTION_KEYS", secret)]);
    assert_eq!(bad_key.status.code(), Some(2));
    assert!(text(&bad_key).contains("CLINIC_ENCRYPTION_KEYS"));
    assert!(!text(&bad_key).contains("abab"), "never prints a key");
    let unknown = run(d, &["drop-tables"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown).contains("drop-tables"), "{}", text(&unknown));
}

/// `verify-audit` passes an intact chain and fails, naming the event, once a row is edited
/// behind the application's back (here with SQLite's append-only triggers dropped first).
#[tokio::test]
async fn verify_audit_catches_an_edited_event() {
    use clinic_core::audit::{AuditEntry, Outcome};
    use clinic_core::ports::{AuditLog, PracticeRepository};
    use sqlx::{ConnectOptions as _, Connection as _, Executor as _};
    let dir = Dir(std::env::temp_dir().join(format!("clinic-cli-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let d = dir.0.as_path();
    let url = format!("sqlite://{}", d.join("clinic.db").display());
    // The development key files the binary will use.
    assert!(run(d, &["migrate"], &[]).status.success());
    let store = clinic_adapters::sql::SqlStore::connect(
        &url,
        std::sync::Arc::new(
            clinic_adapters::crypto::EnvelopeCipher::from_config(
                &clinic_adapters::crypto::EnvelopeCipher::generate_key("t"),
            )
            .unwrap(),
        ),
    )
    .await
    .unwrap();
    let practice = clinic_core::ids::PracticeId::from_uuid(uuid::Uuid::now_v7());
    store
        .save_practice(&clinic_core::practice::Practice::new(practice, "Audit Test", Default::default()).unwrap())
        .await
        .unwrap();
    for i in 0..3u128 {
        store
            .append(AuditEntry {
                practice_id: practice,
                at: "2026-11-24T00:00:00Z".parse().unwrap(),
                actor: None,
                action: "note.read".into(),
                resource_kind: "progress_note".into(),
                resource_id: uuid::Uuid::from_u128(i),
                patient_id: None,
                outcome: Outcome::Allowed,
                request_id: None,
                reason: None,
            })
            .await
            .unwrap();
    }
    store.close().await;
    let intact = run(d, &["verify-audit"], &[]);
    assert!(intact.status.success(), "{}", text(&intact));
    assert!(text(&intact).contains("3 audit event(s) verified"), "{}", text(&intact));

    let mut conn = url
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .unwrap()
        .connect()
        .await
        .unwrap();
    conn.execute("DROP TRIGGER audit_events_no_update").await.unwrap();
    conn.execute("UPDATE audit_events SET body = replace(body, 'note.read', 'note.rEad') WHERE seq = 1")
        .await
        .unwrap();
    conn.close().await.unwrap();
    let edited = run(d, &["verify-audit"], &[]);
    assert_eq!(edited.status.code(), Some(1), "{}", text(&edited));
    assert!(
        text(&edited).contains("TAMPERED: event 1 was altered"),
        "{}",
        text(&edited)
    );
}

/// A configuration file names the database; a bad one stops start-up naming the problem.
#[test]
fn a_configuration_file_is_read_and_checked() {
    let dir = Dir(std::env::temp_dir().join(format!("clinic-cli-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let d = dir.0.as_path();
    let file = d.join("clinic.toml");
    std::fs::write(
        &file,
        format!("database_url = \"sqlite://{}\"\n", d.join("from-file.db").display()),
    )
    .unwrap();
    // `run` sets CLINIC_DATABASE_URL, which would win over the file: clear it here.
    let out = Command::new(env!("CARGO_BIN_EXE_clinic-server-example"))
        .args(["migrate", "--config", file.to_str().unwrap()])
        .current_dir(d)
        .env_clear()
        .env("CLINIC_KEY_FILE", d.join("keys").display().to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(d.join("from-file.db").exists());
    std::fs::write(&file, "colour = \"blue\"\n").unwrap();
    let bad = run(d, &["migrate", "--config", file.to_str().unwrap()], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("unknown setting \"colour\""), "{}", text(&bad));
}

#[tokio::test]
async fn create_admin_takes_the_password_from_the_environment_only() {
    use clinic_core::ports::{Accounts, PracticeRepository};
    let dir = Dir(std::env::temp_dir().join(format!("clinic-cli-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let d = dir.0.as_path();
    let none = run(
        d,
        &["create-admin", "--email", "owner@harbour.example"],
        &[("CLINIC_ADMIN_PASSWORD", "a long passphrase".to_owned())],
    );
    assert_eq!(none.status.code(), Some(1), "{}", text(&none));
    assert!(text(&none).contains("no practice yet"), "{}", text(&none));
    let url = format!("sqlite://{}", d.join("clinic.db").display());
    let cipher = std::sync::Arc::new(
        clinic_adapters::crypto::EnvelopeCipher::from_config(&clinic_adapters::crypto::EnvelopeCipher::generate_key(
            "t",
        ))
        .unwrap(),
    );
    let store = clinic_adapters::sql::SqlStore::connect(&url, cipher).await.unwrap();
    let practice = clinic_core::ids::PracticeId::from_uuid(uuid::Uuid::now_v7());
    store
        .save_practice(&clinic_core::practice::Practice::new(practice, "Admin Test", Default::default()).unwrap())
        .await
        .unwrap();
    let missing = run(d, &["create-admin", "--email", "owner@harbour.example"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing).contains("CLINIC_ADMIN_PASSWORD"), "{}", text(&missing));
    let weak = run(
        d,
        &["create-admin", "--email", "owner@harbour.example"],
        &[("CLINIC_ADMIN_PASSWORD", "short".to_owned())],
    );
    assert_eq!(weak.status.code(), Some(2));
    assert!(text(&weak).contains("password"), "{}", text(&weak));
    assert!(
        !text(&weak).contains("short"),
        "the password is never echoed: {}",
        text(&weak)
    );
    let ok = run(
        d,
        &["create-admin", "--email", "owner@harbour.example"],
        &[("CLINIC_ADMIN_PASSWORD", "a long passphrase".to_owned())],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    let again = run(
        d,
        &["create-admin", "--email", "OWNER@harbour.example"],
        &[("CLINIC_ADMIN_PASSWORD", "a long passphrase".to_owned())],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).contains("email_taken"), "{}", text(&again));
    // Accounts are sealed: read them with the development key the binary used.
    let spec = std::fs::read_to_string(d.join("keys")).unwrap();
    let keyed = clinic_adapters::sql::SqlStore::connect(
        &url,
        std::sync::Arc::new(clinic_adapters::crypto::EnvelopeCipher::from_config(spec.trim()).unwrap()),
    )
    .await
    .unwrap();
    let account = keyed
        .account_by_email(
            practice,
            &clinic_core::people::Email::parse("owner@harbour.example").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(account.user.roles, vec![clinic_core::people::Role::Admin]);
    assert!(account.password_hash.starts_with("$argon2id$"));
    keyed.close().await;
    store.close().await;
}

#[tokio::test]
async fn export_patient_writes_a_private_file_and_audits_it() {
    use clinic_core::ports::{AuditLog, PatientRepository, PracticeRepository, PrivacyRecords};
    let dir = Dir(std::env::temp_dir().join(format!("clinic-cli-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let d = dir.0.as_path();
    // A sweep over the empty database creates the development key file.
    assert!(run(d, &["sweep"], &[]).status.success());
    let url = format!("sqlite://{}", d.join("clinic.db").display());
    let spec = std::fs::read_to_string(d.join("keys")).unwrap();
    let store = clinic_adapters::sql::SqlStore::connect(
        &url,
        std::sync::Arc::new(clinic_adapters::crypto::EnvelopeCipher::from_config(spec.trim()).unwrap()),
    )
    .await
    .unwrap();
    let practice = clinic_core::ids::PracticeId::from_uuid(uuid::Uuid::now_v7());
    store
        .save_practice(&clinic_core::practice::Practice::new(practice, "Export Test", Default::default()).unwrap())
        .await
        .unwrap();
    let patient = clinic_core::people::Patient::register(
        uuid::Uuid::now_v7().into(),
        practice,
        clinic_core::people::PatientSpec::new("Zoë", "Nguyen", "1994-03-02".parse().unwrap()),
        "2026-11-24".parse().unwrap(),
    )
    .unwrap();
    store.save_patient(&patient).await.unwrap();
    let pw = [("CLINIC_ADMIN_PASSWORD", "a long passphrase".to_owned())];
    assert!(
        run(d, &["create-admin", "--email", "owner@harbour.example"], &pw)
            .status
            .success()
    );
    let out = d.join("export.json");
    let id = patient.id.to_string();
    let args = |format: &'static str, out: &std::path::Path| -> Vec<String> {
        vec![
            "export-patient".into(),
            "--patient".into(),
            id.clone(),
            "--by".into(),
            "owner@harbour.example".into(),
            "--format".into(),
            format.into(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    let a = args("json", &out);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    // An export answers the patient's request: without one open it is refused, audited.
    let refused = run(d, &a, &[]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("no_access_request"), "{}", text(&refused));
    assert!(!out.exists());
    let request =
        |on: &str| clinic_core::privacy::AccessRequest::new(clinic_core::practice::AuState::VIC, on.parse().unwrap());
    store
        .save_access_request(practice, patient.id, &request("2026-11-24"))
        .await
        .unwrap();
    let ok = run(d, &a, &[]);
    assert!(ok.status.success(), "{}", text(&ok));
    let json = std::fs::read_to_string(&out).unwrap();
    assert!(json.contains("Zoë") && json.contains("Nguyen"), "{json}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = run(d, &a, &[]);
    assert_eq!(again.status.code(), Some(1), "never overwrites: {}", text(&again));
    let pdf_out = d.join("export.pdf");
    let p = args("pdf", &pdf_out);
    let p: Vec<&str> = p.iter().map(String::as_str).collect();
    assert_eq!(
        run(d, &p, &[]).status.code(),
        Some(1),
        "the first export answered the request"
    );
    store
        .save_access_request(practice, patient.id, &request("2026-11-25"))
        .await
        .unwrap();
    assert!(run(d, &p, &[]).status.success());
    assert!(std::fs::read(&pdf_out).unwrap().starts_with(b"%PDF-"));
    let bad = args("xml", &d.join("x"));
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    assert_eq!(run(d, &bad, &[]).status.code(), Some(2));
    let events = store.events(practice, 0, 100).await.unwrap();
    assert_eq!(
        events.iter().filter(|e| e.entry.action.contains("export")).count(),
        4,
        "both exports and both refusals audited"
    );
    store.close().await;
}
