//! Fills a database with the benchmark practice: 50 practitioners with weekly templates,
//! the service, locations and `N` appointments (hourly, round-robin, never overlapping).
//!
//! `cargo run --release -p clinic-benches --example fill_store -- sqlite://big.db 1000000`
//!
//! Used by `benches/scripts/server_memory.sh` to show the server's memory does not grow with
//! what is stored.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use clinic_adapters::crypto::EnvelopeCipher;
use clinic_adapters::sql::SqlStore;
use clinic_core::ports::{AppointmentRepository, CredentialRepository, PracticeRepository, PractitionerRepository};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: fill_store <database url> <appointments>");
    let n: usize = args.next().map_or(1_000_000, |s| s.parse().expect("a count"));
    // Enough weekdays for `n` hourly appointments of 50 practitioners, 8 a day each.
    let days = i64::try_from(n / 400 * 7 / 5 + 120).unwrap();
    let p = clinic_benches::practice(50, n, days);
    let cipher = Arc::new(EnvelopeCipher::from_config(&EnvelopeCipher::generate_key("fill")).unwrap());
    let store = SqlStore::connect(&url, cipher).await.unwrap();
    let practice = p.location.practice_id;
    store
        .save_practice(&clinic_core::practice::Practice::new(practice, "Bench Psychology", p.policy).unwrap())
        .await
        .unwrap();
    for l in p.locations.values() {
        store.save_location(l).await.unwrap();
    }
    store.save_service(&p.service).await.unwrap();
    for (who, availability) in p.practitioners.iter().zip(&p.availability) {
        store.save_practitioner(who).await.unwrap();
        // Registered and insured for years ahead, as a working practice's staff are: the
        // server's compliance sweep then leaves their bookings alone.
        let credentials = clinic_core::credentials::Credentials {
            practitioner_id: Some(who.id),
            registrations: vec![clinic_core::credentials::Registration {
                number: who.ahpra_number.clone().unwrap(),
                kind: clinic_core::credentials::RegistrationType::General,
                endorsements: vec![],
                conditions: vec![],
                expires_on: "2099-11-30".parse().unwrap(),
            }],
            insurances: vec![clinic_core::credentials::Insurance {
                insurer: "Bench Mutual".into(),
                policy_number: format!("BENCH-{}", who.id),
                cover: clinic_core::money::Money::from_cents(2_000_000_000),
                expires_on: "2099-06-30".parse().unwrap(),
                certificate: None,
            }],
        };
        store.save_credentials(practice, who.id, &credentials).await.unwrap();
        for t in &availability.templates {
            store.save_template(t).await.unwrap();
        }
        for e in &availability.exceptions {
            store.save_exception(e).await.unwrap();
        }
    }
    let t = Instant::now();
    for (i, chunk) in p.appointments.chunks(1000).enumerate() {
        store.commit(practice, &[], chunk).await.unwrap();
        if i % 100 == 99 {
            println!("{} appointments stored ({:?})", (i + 1) * 1000, t.elapsed());
        }
    }
    println!(
        "{} appointments stored in {:?}; practice {practice}; practitioner {}; service {}; first day {}",
        p.appointments.len(),
        t.elapsed(),
        p.practitioners[0].id,
        p.service.id,
        p.first_day
    );
    store.close().await;
}
