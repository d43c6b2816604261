//! Load over HTTP: the reference server in-process on a real socket, driven by concurrent
//! HTTP clients with keep-alive, every request authenticated.
//!
//! 1. Booking: `clients` clients book for `secs` seconds, each its own practitioner-days
//!    (50 practitioners; no two clients ever want the same slot, so every refusal is a
//!    rule, not contention), through `POST /api/v1/appointments` with the full booking
//!    rules and the notices queued.
//! 2. Slot search: 16 clients search one practitioner's 90 days for `secs` seconds, each
//!    asking again as soon as it has its answer (the most the server answers).
//! 3. Slot search at 2,000 requests a second: the same 16 clients, each asking every 8 ms
//!    whether or not its previous answer has come; latency is counted from when a request
//!    was due, so a stalled server cannot hide its stall by delaying the next request.
//!
//! Then every practitioner's stored busy time is checked for overlaps.
//!
//! `cargo run --release -p clinic-benches --example http_load -- <database url> [clients] [secs] [mbs item]`
//! (`sqlite://load.db`, or `postgres://…`; the database should be new and empty). With an
//! MBS item (`80110`), the service booked is a Medicare service billed under it and every
//! patient has a referral on file, so each booking also answers its Medicare warnings
//! (the year's cap and the referral's course), as a psychology practice's bookings do.
//! With `RUST_LOG` set (`sqlx::query=debug`: each statement and its time), the server's
//! tracing goes to stderr.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, TimeZone};
use clinic_adapters::crypto::EnvelopeCipher;
use clinic_adapters::sql::{PoolOptions, SqlStore};
use clinic_adapters::system::SettableClock;
use clinic_core::ports::{
    AppointmentRepository, PatientRepository, PracticeRepository, PractitionerRepository, ReferralRepository,
    ResourceKey, Storage,
};
use clinic_core::time::TimeRange;
use clinic_server_example::{AppState, routes};

/// Each client books for its own patients in turn, as a receptionist does: a patient
/// gets a year's worth of bookings in a run rather than thousands.
const PATIENTS_PER_CLIENT: usize = 20;

/// The `per_mille`th of a thousand of sorted latencies (500: the median).
fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() - 1) * per_mille / 1000]
}

fn report(name: &str, started: Instant, mut latencies: Vec<Duration>, ok: usize, other: &[(u16, usize)]) {
    let secs = started.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "{name}: {} requests in {secs:.1} s = {:.0}/s; {ok} succeeded = {:.0}/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; others {other:?}",
        latencies.len(),
        latencies.len() as f64 / secs,
        ok as f64 / secs,
        percentile(&latencies, 500).as_secs_f64() * 1e3,
        percentile(&latencies, 990).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    // `RUST_LOG=sqlx::query=debug` logs every statement with its time, to stderr.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: http_load <database url> [clients] [secs]");
    let clients: usize = args.next().map_or(64, |s| s.parse().expect("a client count"));
    let secs: u64 = args.next().map_or(10, |s| s.parse().expect("seconds"));
    let item = args.next();

    let mut p = clinic_benches::practice(50, 0, 400);
    p.service.default_mbs_item.clone_from(&item);
    // Bookable for three years ahead, so a long run does not fill every practitioner's
    // calendar and go on to time the quick refusals past the horizon.
    p.policy.horizon_days = 3 * 366;
    let practice = p.location.practice_id;
    let cipher = Arc::new(EnvelopeCipher::from_config(&EnvelopeCipher::generate_key("load")).unwrap());
    let store = Arc::new(
        SqlStore::connect_with(
            &url,
            cipher,
            PoolOptions {
                max_connections: 32,
                ..PoolOptions::default()
            },
        )
        .await
        .unwrap(),
    );
    store
        .save_practice(&clinic_core::practice::Practice::new(practice, "Load Psychology", p.policy).unwrap())
        .await
        .unwrap();
    for l in p.locations.values() {
        store.save_location(l).await.unwrap();
    }
    store.save_service(&p.service).await.unwrap();
    for (who, availability) in p.practitioners.iter().zip(&p.availability) {
        store.save_practitioner(who).await.unwrap();
        for t in &availability.templates {
            store.save_template(t).await.unwrap();
        }
        for e in &availability.exceptions {
            store.save_exception(e).await.unwrap();
        }
    }
    let today = p.now.with_timezone(&p.location.zone).date_naive();
    let mut patients = Vec::new();
    for c in 0..clients * PATIENTS_PER_CLIENT {
        let patient = clinic_core::people::Patient::register(
            uuid::Uuid::now_v7().into(),
            practice,
            clinic_core::people::PatientSpec::new(
                &format!("Load{c}"),
                "Client",
                NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
            ),
            today,
        )
        .unwrap();
        store.save_patient(&patient).await.unwrap();
        if item.is_some() {
            let referral = clinic_core::medicare::Referral {
                id: uuid::Uuid::now_v7().into(),
                practice_id: practice,
                patient_id: patient.id,
                referrer_name: "Dr Load".into(),
                referrer_kind: clinic_core::medicare::ReferrerKind::GeneralPractitioner,
                referrer_provider_number: None,
                mymedicare_or_usual_gp: true,
                written_on: today,
                sessions_requested: Some(6),
                scope: clinic_core::medicare::ReferralScope::Individual,
                letter: None,
            }
            .validate()
            .unwrap();
            store.save_referral(&referral).await.unwrap();
        }
        patients.push(patient.id);
    }
    let storage: Arc<dyn Storage> = store.clone();
    let state = AppState::with_clock(storage, practice, Arc::new(SettableClock::new(p.now)));
    clinic_server_example::accounts::create_admin(
        &state,
        clinic_core::people::Email::parse("load@bench.example").unwrap(),
        "load test passphrase".into(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let router = routes::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .build()
        .unwrap();
    let login = http
        .post(format!("{base}/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(r#"{"email": "load@bench.example", "password": "load test passphrase"}"#)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&login.bytes().await.unwrap()).unwrap();
    let token = format!("Bearer {}", body["access_token"].as_str().unwrap());

    // Booking: client c books practitioner c % 50 on the weekdays given to its group, from
    // 100 days after the first day (past everyone's leave), hourly from 09:00 local.
    let groups = clients.div_ceil(50);
    let start_day = p.first_day + chrono::Duration::days(100);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            let practitioner = p.practitioners[c % 50].id;
            let (service, location, zone) = (p.service.id, p.location.id, p.location.zone);
            let mine = patients[c * PATIENTS_PER_CLIENT..(c + 1) * PATIENTS_PER_CLIENT].to_vec();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut statuses: std::collections::BTreeMap<u16, usize> = std::collections::BTreeMap::new();
                let mut day = start_day + chrono::Duration::days(i64::try_from(c / 50).unwrap());
                'days: while Instant::now() < deadline {
                    if day.weekday().number_from_monday() <= 5 {
                        for hour in 9..17 {
                            if Instant::now() >= deadline {
                                break 'days;
                            }
                            let local = day.and_hms_opt(hour, 0, 0).unwrap();
                            let start = zone
                                .from_local_datetime(&local)
                                .single()
                                .unwrap()
                                .with_timezone(&chrono::Utc);
                            let patient = mine[latencies.len() % PATIENTS_PER_CLIENT];
                            let body = serde_json::json!({
                                "practitioner_id": practitioner, "service_id": service, "location_id": location,
                                "patient_ids": [patient], "start": start,
                            })
                            .to_string();
                            let t = Instant::now();
                            let r = http
                                .post(format!("{base}/api/v1/appointments"))
                                .header("authorization", &token)
                                .header("content-type", "application/json")
                                .body(body)
                                .send()
                                .await
                                .unwrap();
                            let status = r.status().as_u16();
                            let _ = r.bytes().await;
                            latencies.push(t.elapsed());
                            *statuses.entry(status).or_default() += 1;
                        }
                    }
                    day += chrono::Duration::days(i64::try_from(groups).unwrap());
                }
                (latencies, statuses)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut statuses: std::collections::BTreeMap<u16, usize> = std::collections::BTreeMap::new();
    for t in tasks {
        let (l, s) = t.await.unwrap();
        latencies.extend(l);
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
    }
    let booked = statuses.get(&201).copied().unwrap_or(0);
    let others: Vec<(u16, usize)> = statuses
        .iter()
        .filter(|(k, _)| **k != 201)
        .map(|(k, v)| (*k, *v))
        .collect();
    report(
        &format!("booking, {clients} clients"),
        started,
        latencies,
        booked,
        &others,
    );

    // Slot search: one practitioner, 90 days, 16 clients.
    let from = start_day + chrono::Duration::days(200);
    let to = from + chrono::Duration::days(89);
    let search = format!(
        "{base}/api/v1/slots?service_id={}&practitioner_id={}&from={from}&to={to}&zone=Australia/Sydney&limit=5000",
        p.service.id, p.practitioners[0].id
    );
    let answer = http
        .get(&search)
        .header("authorization", &token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let slots = serde_json::from_slice::<Vec<serde_json::Value>>(&answer).unwrap().len();
    println!("slot search answer: {slots} slots, {} bytes", answer.len());
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (http, search, token) = (http.clone(), search.clone(), token.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut ok = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = http.get(&search).header("authorization", &token).send().await.unwrap();
                    let status = r.status();
                    let _ = r.bytes().await;
                    latencies.push(t.elapsed());
                    if status.is_success() {
                        ok += 1;
                    }
                }
                (latencies, ok)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut ok = 0;
    for t in tasks {
        let (l, o) = t.await.unwrap();
        latencies.extend(l);
        ok += o;
    }
    report("slot search, 90 days, 16 clients", started, latencies, ok, &[]);

    // The same search at a steady 2,000 requests a second: 16 clients, one request every
    // 8 ms each, each request on its own task so a slow answer does not delay the next.
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..16u64)
        .map(|c| {
            let (http, search, token) = (http.clone(), search.clone(), token.clone());
            tokio::spawn(async move {
                // Clients start spread over the period, as independent patients would.
                let mut tick = tokio::time::interval_at(
                    tokio::time::Instant::now() + Duration::from_micros(c * 500),
                    Duration::from_millis(8),
                );
                let mut inflight = Vec::new();
                loop {
                    let due = tick.tick().await.into_std();
                    if due >= deadline {
                        break;
                    }
                    let (http, search, token) = (http.clone(), search.clone(), token.clone());
                    inflight.push(tokio::spawn(async move {
                        let r = http.get(&search).header("authorization", &token).send().await.unwrap();
                        let ok = r.status().is_success();
                        let _ = r.bytes().await;
                        (due.elapsed(), ok)
                    }));
                }
                let mut out = Vec::with_capacity(inflight.len());
                for t in inflight {
                    out.push(t.await.unwrap());
                }
                out
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut ok = 0;
    for t in tasks {
        for (latency, succeeded) in t.await.unwrap() {
            latencies.push(latency);
            ok += usize::from(succeeded);
        }
    }
    report(
        "slot search, 90 days, 16 clients at 2,000/s",
        started,
        latencies,
        ok,
        &[],
    );

    // No practitioner is ever double-booked.
    let window = TimeRange::new(
        p.now,
        p.now + chrono::Duration::days(i64::from(p.policy.horizon_days) + 1),
    )
    .unwrap();
    let mut checked = 0;
    for who in &p.practitioners {
        let mut busy = store
            .busy(practice, &[ResourceKey::Practitioner(who.id)], window)
            .await
            .unwrap();
        busy.sort_by_key(|b| b.range.start());
        for pair in busy.windows(2) {
            assert!(
                pair[0].range.end() <= pair[1].range.start(),
                "double booking for {}: {:?} and {:?}",
                who.id,
                pair[0],
                pair[1]
            );
        }
        checked += busy.len();
    }
    println!("overlaps: none among {checked} stored appointments");
    let _ = store.practitioner(practice, p.practitioners[0].id).await.unwrap();
    let _ = store.patient(practice, patients[0]).await.unwrap();
    store.close().await;
}
