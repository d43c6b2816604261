//! Crash safety, with the real binary: the server is killed with SIGKILL under a booking
//! and invoicing load and started again on the same database, and its database is cut
//! off under load and given back.
//!
//! After the kill, every request the server acknowledged with a 2xx is there, nothing it
//! did not acknowledge is there in part (no invoice without its lines, no payment
//! without its invoice, no gap in the invoice numbers) and nothing stored overlaps. While
//! the database is away, requests fail with 503 and a `Retry-After`, and the server
//! serves again by itself once it is back: through a relay the test cuts, and with a
//! PostgreSQL server of the test's own stopped and started again under the load.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

mod common;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ADMIN_EMAIL: &str = "crash@harbour.example";
const ADMIN_PASSWORD: &str = "a long crash test passphrase";
/// The server's token key, so the test can act as a practice manager (the billing desk)
/// without an emailed invitation.
const JWT_SECRET: &str = "a crash test signing secret of at least 32 bytes";

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The reference server as a child process.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(dir: &Path, database_url: &str) -> Server {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_clinic-server-example"))
        .arg("--demo")
        .current_dir(dir)
        .env_clear()
        .env("CLINIC_DATABASE_URL", database_url)
        .env("CLINIC_KEY_FILE", dir.join("keys").display().to_string())
        .env("CLINIC_DOCUMENTS_DIR", dir.join("documents").display().to_string())
        .env("CLINIC_LISTEN", addr.to_string())
        .env("CLINIC_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("CLINIC_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CLINIC_JWT_SECRET", JWT_SECRET)
        // The jobs (reminders) run every few seconds, so a kill can land in one.
        .env("CLINIC_JOB_INTERVAL_SECS", "2")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, addr };
    for _ in 0..300 {
        if let Ok(r) = call(addr, "GET", "/health", None, None).await
            && r.0 == 200
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not start on {addr}");
}

/// One HTTP/1.1 request; `Err` when the connection fails (the server is gone).
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let Some((head, payload)) = text.split_once("\r\n\r\n") else {
        return Err(std::io::Error::other("the connection closed before a response"));
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let value = serde_json::from_str(payload).unwrap_or(Value::Null);
    Ok((status, value, head.to_ascii_lowercase()))
}

async fn sign_in(addr: SocketAddr) -> String {
    let r = call(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
    )
    .await
    .unwrap();
    assert_eq!(r.0, 200, "{:?}", r.1);
    r.1["access_token"].as_str().unwrap().to_owned()
}

/// A practice manager's access token for the practice `admin` belongs to.
fn manager_token(admin: &str) -> String {
    use base64::Engine as _;
    use clinic_core::ports::IdGeneratorExt as _;
    // The practice, from the administrator's own token.
    let payload = admin.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let user = clinic_core::people::User {
        id: clinic_adapters::system::UuidV7Ids.new_id(),
        practice_id: claims["practice"].as_str().unwrap().parse().unwrap(),
        email: clinic_core::people::Email::parse("billing@harbour.example").unwrap(),
        roles: vec![clinic_core::people::Role::PracticeManager],
        practitioner_id: None,
        patient_id: None,
        guardian_of: Vec::new(),
    };
    clinic_server_example::auth::TokenKeys::new(JWT_SECRET.as_bytes())
        .issue(&user, chrono::Utc::now())
        .unwrap()
}

/// What the load was told had happened.
#[derive(Default)]
struct Acknowledged {
    /// Appointment id → its start.
    bookings: HashMap<String, String>,
    /// Invoice id → (issued, payments acknowledged).
    invoices: HashMap<String, (bool, usize)>,
    /// Requests answered 2xx, and 503 (the database away or busy), so far.
    acknowledged: usize,
    unavailable: usize,
}

fn line() -> Value {
    serde_json::to_value(common::therapy_line()).unwrap()
}

type Record = Arc<std::sync::Mutex<Acknowledged>>;

/// Books every slot it is given (some are refused: two practitioners' slots can clash for
/// one patient) and drafts, issues and pays invoices, until the server goes away; what was
/// acknowledged goes into `acked` as it is answered.
async fn load(
    addr: SocketAddr,
    token: Arc<str>,
    billing: Arc<str>,
    bookings: Vec<Value>,
    patients: Vec<String>,
    acked: Record,
) {
    let mut tasks = Vec::new();
    for (i, chunk) in bookings.chunks(bookings.len().div_ceil(6).max(1)).enumerate() {
        let (chunk, token, acked) = (chunk.to_vec(), token.clone(), acked.clone());
        let patient = patients[i % patients.len()].clone();
        tasks.push(tokio::spawn(async move {
            for mut b in chunk {
                b["patient_ids"] = json!([patient]);
                match call(addr, "POST", "/api/v1/appointments", Some(&token), Some(&b)).await {
                    Ok((201, body, _)) => {
                        let start = body["interval"]["start"].as_str().unwrap().to_owned();
                        let mut acked = acked.lock().unwrap();
                        acked.bookings.insert(body["id"].as_str().unwrap().to_owned(), start);
                        acked.acknowledged += 1;
                    }
                    // Refused by a rule, or by contention under the load or the database
                    // being away (503, to retry): not acknowledged, so nothing may be
                    // stored for it.
                    Ok((status, body, _)) => {
                        assert!(matches!(status, 409 | 422 | 503), "a booking got {status}: {body:?}");
                        acked.lock().unwrap().unavailable += usize::from(status == 503);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    for i in 0..3 {
        let (token, acked) = (billing.clone(), acked.clone());
        let patient = patients[i % patients.len()].clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let draft = json!({"patient_id": patient, "lines": [line(), line()]});
                let Ok((status, inv, _)) = call(addr, "POST", "/api/v1/invoices", Some(&token), Some(&draft)).await
                else {
                    return;
                };
                if status == 503 {
                    acked.lock().unwrap().unavailable += 1;
                    continue; // busy under the load: not acknowledged
                }
                assert_eq!(status, 201, "{inv:?}");
                let id = inv["id"].as_str().unwrap().to_owned();
                acked.lock().unwrap().acknowledge(&id, false, 0);
                let path = format!("/api/v1/invoices/{id}/issue");
                let Ok((status, _, _)) = call(addr, "POST", &path, Some(&token), Some(&json!({}))).await else {
                    return;
                };
                if status == 503 {
                    acked.lock().unwrap().unavailable += 1;
                    continue;
                }
                assert_eq!(status, 200);
                acked.lock().unwrap().acknowledge(&id, true, 0);
                for n in 1..=2 {
                    let path = format!("/api/v1/invoices/{id}/payments");
                    let pay = json!({"amount": clinic_core::money::Money::from_cents(10_000), "method": clinic_core::billing::PaymentMethod::Cash});
                    let Ok((status, body, _)) = call(addr, "POST", &path, Some(&token), Some(&pay)).await else {
                        return;
                    };
                    if status == 503 {
                        acked.lock().unwrap().unavailable += 1;
                        break;
                    }
                    assert_eq!(status, 200, "{body:?}");
                    acked.lock().unwrap().acknowledge(&id, true, n);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

impl Acknowledged {
    fn acknowledge(&mut self, invoice: &str, issued: bool, paid: usize) {
        self.invoices.insert(invoice.to_owned(), (issued, paid));
        self.acknowledged += 1;
    }
}

/// Every bookable 50-minute start of every practitioner over the coming weeks, as booking
/// requests without a patient.
async fn booking_requests(addr: SocketAddr, token: &str) -> (Vec<Value>, Vec<String>) {
    let (_, d, _) = call(addr, "GET", "/api/v1/directory", Some(token), None).await.unwrap();
    let service = d["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["duration"] == 50)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let from = chrono::Utc::now().date_naive() + chrono::Duration::days(2);
    let to = from + chrono::Duration::days(27);
    let path = format!("/api/v1/slots?service_id={service}&from={from}&to={to}&limit=5000");
    let (status, slots, _) = call(addr, "GET", &path, Some(token), None).await.unwrap();
    assert_eq!(status, 200, "{slots:?}");
    // Each practitioner's starts an hour apart, so their own bookings never clash.
    let mut last: HashMap<String, chrono::DateTime<chrono::Utc>> = HashMap::new();
    let mut requests = Vec::new();
    for s in slots.as_array().unwrap() {
        let who = s["practitioner_id"].as_str().unwrap().to_owned();
        let start: chrono::DateTime<chrono::Utc> = s["start"].as_str().unwrap().parse().unwrap();
        if last.get(&who).is_some_and(|l| start - *l < chrono::Duration::hours(1)) {
            continue;
        }
        last.insert(who.clone(), start);
        requests.push(json!({
            "practitioner_id": who, "service_id": service, "location_id": s["location_id"],
            "start": s["start"],
        }));
    }
    let (_, p, _) = call(addr, "GET", "/api/v1/patients?page_size=200", Some(token), None)
        .await
        .unwrap();
    let patients = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect();
    (requests, patients)
}

/// All appointments stored over the load's weeks.
async fn stored_appointments(addr: SocketAddr, token: &str) -> Vec<Value> {
    let from = chrono::Utc::now();
    let to = from + chrono::Duration::days(40);
    let mut all = Vec::new();
    for page in 0.. {
        let path = format!(
            "/api/v1/appointments?from={}&to={}&page_size=200&page={page}",
            from.format("%Y-%m-%dT%H:%M:%SZ"),
            to.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let (status, body, _) = call(addr, "GET", &path, Some(token), None).await.unwrap();
        assert_eq!(status, 200, "{body:?}");
        let items = body["items"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        all.extend(items);
    }
    all
}

async fn stored_invoices(addr: SocketAddr, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut before = String::new();
    loop {
        let path = format!("/api/v1/invoices?limit=200{before}");
        let (status, body, _) = call(addr, "GET", &path, Some(token), None).await.unwrap();
        assert_eq!(status, 200, "{body:?}");
        all.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["next_before"].as_u64() {
            Some(n) => before = format!("&before={n}"),
            None => return all,
        }
    }
}

/// What each queued notification is about, read from the database itself.
async fn queued_about(database_url: &str) -> Vec<uuid::Uuid> {
    if database_url.starts_with("sqlite") {
        about_in::<sqlx::Sqlite>(database_url).await
    } else {
        about_in::<sqlx::Postgres>(database_url).await
    }
}

async fn about_in<DB: sqlx::Database>(database_url: &str) -> Vec<uuid::Uuid>
where
    for<'r> (uuid::Uuid,): sqlx::FromRow<'r, DB::Row>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let pool = sqlx::Pool::<DB>::connect(database_url).await.unwrap();
    let rows: Vec<(uuid::Uuid,)> = sqlx::query_as("SELECT about FROM outbox")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.into_iter().map(|r| r.0).collect()
}

fn micros(v: &Value) -> i64 {
    v.as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap()
        .timestamp_micros()
}

/// Kills the server mid-load, starts it again, and checks what the database holds.
/// Runs the load, then (with `cluster`) stops PostgreSQL under it until the load has been
/// answered 503 and starts it again until the load is acknowledged again, then kills the
/// server and checks the database.
async fn killed_under_load(dir: &Path, database_url: &str, cluster: Option<&OwnCluster>) {
    let server = start(dir, database_url).await;
    let addr = server.addr;
    let token: Arc<str> = sign_in(addr).await.into();
    let (requests, patients) = booking_requests(addr, &token).await;
    assert!(requests.len() > 100, "enough to book: {}", requests.len());
    let queued_before: HashSet<uuid::Uuid> = queued_about(database_url).await.into_iter().collect();
    let billing: Arc<str> = manager_token(&token).into();
    // The demo practice's own invoices, from before the load.
    let demo: HashSet<String> = stored_invoices(addr, &billing)
        .await
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let acked: Record = Arc::default();
    let load = tokio::spawn(load(
        addr,
        token.clone(),
        billing.clone(),
        requests,
        patients,
        acked.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    if let Some(cluster) = cluster {
        let before = acked.lock().unwrap().acknowledged;
        assert!(before > 0, "the load is acknowledged before the restart");
        cluster.pg_ctl(&["stop", "-m", "fast"]);
        let seen = wait_for(|| acked.lock().unwrap().unavailable > 0).await;
        assert!(seen, "no request was answered 503 while PostgreSQL was down");
        let (status, body, head) = call(addr, "GET", "/api/v1/directory", Some(&token), None)
            .await
            .unwrap();
        assert_eq!((status, body["code"].as_str()), (503, Some("unavailable")), "{body:?}");
        assert!(head.contains("retry-after: 1"), "{head}");
        cluster.pg_ctl(&["start"]);
        let during = acked.lock().unwrap().acknowledged;
        let resumed = wait_for(|| acked.lock().unwrap().acknowledged > during).await;
        assert!(resumed, "the server did not serve the load again by itself");
        eprintln!(
            "PostgreSQL restarted under load: {before} acknowledged before, {} requests answered 503 while it was down, acknowledged again after",
            acked.lock().unwrap().unavailable
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    server.child.wait().unwrap();
    load.await.unwrap();
    let acked = Arc::try_unwrap(acked).ok().unwrap().into_inner().unwrap();
    assert!(
        acked.bookings.len() > 5 && acked.invoices.len() > 2,
        "the kill came under load: {} bookings, {} invoices",
        acked.bookings.len(),
        acked.invoices.len()
    );
    eprintln!(
        "killed after {} bookings and {} invoices were acknowledged",
        acked.bookings.len(),
        acked.invoices.len()
    );
    drop(server);

    let again = start(dir, database_url).await;
    let addr = again.addr;
    let token = sign_in(addr).await;
    // Every acknowledged booking is stored as acknowledged.
    for (id, start) in &acked.bookings {
        let (status, body, _) = call(addr, "GET", &format!("/api/v1/appointments/{id}"), Some(&token), None)
            .await
            .unwrap();
        assert_eq!(status, 200, "acknowledged booking {id} is missing");
        assert_eq!(body["interval"]["start"].as_str(), Some(start.as_str()));
    }
    // Nothing stored overlaps for a practitioner (buffers included).
    let mut by_practitioner: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for a in stored_appointments(addr, &token).await {
        if ["booked", "confirmed", "arrived"].contains(&a["status"]["state"].as_str().unwrap_or("")) {
            by_practitioner
                .entry(a["practitioner_id"].as_str().unwrap().to_owned())
                .or_default()
                .push((micros(&a["blocked"]["start"]), micros(&a["blocked"]["end"])));
        }
    }
    for spans in by_practitioner.values_mut() {
        spans.sort_unstable();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "an overlap was stored");
    }
    // Every acknowledged invoice is whole; every stored one is too, numbered without gaps.
    for (id, (issued, paid)) in &acked.invoices {
        let (status, inv, _) = call(addr, "GET", &format!("/api/v1/invoices/{id}"), Some(&billing), None)
            .await
            .unwrap();
        assert_eq!(status, 200, "acknowledged invoice {id} is missing");
        assert_eq!(inv["lines"].as_array().unwrap().len(), 2, "{inv:?}");
        assert!(!issued || inv["number"].is_u64(), "acknowledged issue lost: {inv:?}");
        assert!(
            inv["payments"].as_array().unwrap().len() >= *paid,
            "acknowledged payment lost"
        );
    }
    let stored = stored_invoices(addr, &billing).await;
    let mut numbers: Vec<u64> = stored.iter().map(|i| i["number"].as_u64().unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=numbers.len() as u64).collect::<Vec<_>>(),
        "gap-free numbers"
    );
    let ids: HashSet<&str> = stored.iter().map(|i| i["id"].as_str().unwrap()).collect();
    for inv in stored.iter().filter(|i| !demo.contains(i["id"].as_str().unwrap())) {
        assert_eq!(
            inv["lines"].as_array().unwrap().len(),
            2,
            "an invoice without its lines"
        );
        assert!(inv["payments"].as_array().unwrap().len() <= 2);
    }
    for (id, (issued, _)) in &acked.invoices {
        assert!(!issued || ids.contains(id.as_str()), "an issued invoice is not listed");
    }
    // A booking's notices were stored with it: every acknowledged booking has its
    // confirmation queued, and every notice queued since is about a stored booking.
    let queued = queued_about(database_url).await;
    for id in acked.bookings.keys() {
        let id: uuid::Uuid = id.parse().unwrap();
        assert!(queued.contains(&id), "acknowledged booking {id} has no notices");
    }
    for about in queued.iter().filter(|a| !queued_before.contains(a)) {
        let (status, _, _) = call(
            addr,
            "GET",
            &format!("/api/v1/appointments/{about}"),
            Some(&token),
            None,
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "a notice about {about}, which was never stored");
    }
    // It serves new work at once.
    let (status, _, _) = call(addr, "GET", "/api/v1/directory", Some(&token), None)
        .await
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_under_load_on_sqlite_loses_nothing_acknowledged() {
    let dir = Dir(std::env::temp_dir().join(format!("clinic-crash-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let url = format!("sqlite://{}", dir.0.join("clinic.db").display());
    killed_under_load(&dir.0, &url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_under_load_on_postgres_loses_nothing_acknowledged() {
    let Some((admin, base, name)) = common::postgres_database("crash").await else {
        return;
    };
    let dir = Dir(std::env::temp_dir().join(format!("clinic-crash-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&dir.0).unwrap();
    killed_under_load(&dir.0, &format!("{base}/{name}"), None).await;
    common::drop_database(&admin, &name).await;
}

/// Polls `done` every 50 ms for up to 30 seconds.
async fn wait_for(done: impl Fn() -> bool) -> bool {
    for _ in 0..600 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A PostgreSQL server of the test's own: a new cluster (`initdb`) in a temporary
/// directory on a free port, so the test can stop and start it under load without
/// touching the shared server other tests use. Removed when dropped.
struct OwnCluster {
    data: PathBuf,
    port: u16,
    bin: PathBuf,
}

impl OwnCluster {
    /// The cluster, or why it cannot be made here (no PostgreSQL server binaries).
    fn create() -> Result<Self, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("no PostgreSQL server binaries in /usr/lib/postgresql: {e}"))?
            .filter_map(|v| Some(v.ok()?.path().join("bin")))
            .filter(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file())
            .max_by_key(|b| {
                b.parent()
                    .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                    .unwrap_or(0)
            })
            .ok_or("no initdb and pg_ctl under /usr/lib/postgresql/*/bin")?;
        let data = std::env::temp_dir().join(format!("clinic-pg-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        let cluster = Self {
            data,
            port: free_port(),
            bin,
        };
        // PostgreSQL refuses to run as root; as root, the cluster belongs to `postgres`.
        if Self::as_root() {
            let chown = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&cluster.data)
                .status()
                .map_err(|e| e.to_string())?;
            if !chown.success() {
                return Err("the data directory could not be given to the postgres user".into());
            }
        }
        let initdb = cluster
            .command("initdb")
            .args([
                "--auth=trust",
                "--username=postgres",
                "--no-sync",
                "--encoding=UTF8",
                "-D",
            ])
            .arg(&cluster.data)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        if !initdb.success() {
            return Err("initdb failed".into());
        }
        cluster.pg_ctl(&["start"]);
        Ok(cluster)
    }

    fn as_root() -> bool {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    }

    /// `program` from the cluster's binaries, run as `postgres` when this is root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if Self::as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    /// `pg_ctl <args> -w`, panicking if it fails: `start` listens on 127.0.0.1 at the
    /// cluster's port with its socket in the data directory.
    fn pg_ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.data.display()
        );
        let status = self
            .command("pg_ctl")
            .args(args)
            .args(["-w", "-t", "60", "-D"])
            .arg(&self.data)
            .args(["-o", &options, "-l"])
            .arg(self.data.join("server.log"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl {args:?} failed");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_answers_503_meanwhile_and_loses_nothing_acknowledged() {
    let cluster = match OwnCluster::create() {
        Ok(c) => c,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("CI=true but {why}"),
        Err(why) => {
            eprintln!("SKIPPED: the PostgreSQL restart test needs its own cluster: {why}");
            return;
        }
    };
    let dir = Dir(std::env::temp_dir().join(format!("clinic-restart-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&dir.0).unwrap();
    killed_under_load(&dir.0, &cluster.url(), Some(&cluster)).await;
}

/// A TCP relay to PostgreSQL that the test can cut (closing every connection and
/// refusing new ones) and restore, as a database restart looks to the server.
struct Relay {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
    upstream: SocketAddr,
}

impl Relay {
    fn new(upstream: SocketAddr) -> Self {
        Self {
            port: free_port(),
            task: None,
            upstream,
        }
    }

    async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        let upstream = self.upstream;
        self.task = Some(tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                links.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Drops the listener and every relayed connection (the `JoinSet` aborts them).
    async fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgres_is_away_requests_get_503_and_service_resumes_by_itself() {
    let Some((admin, base, name)) = common::postgres_database("crash").await else {
        return;
    };
    // The database's address, from the URL (`postgres://user@host:port/db`).
    let authority = base.rsplit('@').next().unwrap().trim_start_matches("postgres://");
    let upstream: SocketAddr = tokio::net::lookup_host(if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:5432")
    })
    .await
    .unwrap()
    .next()
    .unwrap();
    let mut relay = Relay::new(upstream);
    relay.up().await;
    let user = base
        .trim_start_matches("postgres://")
        .split_once('@')
        .map_or(String::new(), |(u, _)| format!("{u}@"));
    let through_relay = format!("postgres://{user}127.0.0.1:{}/{name}", relay.port);
    let dir = Dir(std::env::temp_dir().join(format!("clinic-outage-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let server = start(&dir.0, &through_relay).await;
    let addr = server.addr;
    let token = sign_in(addr).await;
    let (requests, patients) = booking_requests(addr, &token).await;
    let mut booking = requests[0].clone();
    booking["patient_ids"] = json!([patients[0]]);

    relay.down().await;
    for path in ["/api/v1/directory", "/api/v1/patients"] {
        let (status, body, head) = call(addr, "GET", path, Some(&token), None).await.unwrap();
        assert_eq!(status, 503, "{path}: {body:?}");
        assert_eq!(body["code"], "unavailable");
        assert!(head.contains("retry-after: 1"), "{head}");
        assert!(!body.to_string().contains("127.0.0.1"), "no connection detail: {body}");
    }
    let (status, _, _) = call(addr, "POST", "/api/v1/appointments", Some(&token), Some(&booking))
        .await
        .unwrap();
    assert_eq!(status, 503, "a booking while the database is away");

    relay.up().await;
    let mut served = false;
    for _ in 0..100 {
        if call(addr, "GET", "/api/v1/directory", Some(&token), None)
            .await
            .unwrap()
            .0
            == 200
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the server did not reconnect by itself");
    let (status, body, _) = call(addr, "POST", "/api/v1/appointments", Some(&token), Some(&booking))
        .await
        .unwrap();
    assert_eq!(
        status, 201,
        "the refused booking goes through once the database is back: {body:?}"
    );
    drop(server);
    relay.down().await;
    common::drop_database(&admin, &name).await;
}
