//! What the server's test binaries share: a PostgreSQL database of their own.

#![allow(clippy::unwrap_used, dead_code)]

/// A database made for one test on the PostgreSQL server at `DATABASE_URL`, named
/// `clinic_{purpose}_{uuid}`: the admin URL, the URL without its database, and the name.
/// `None`, saying why, without `DATABASE_URL`; under `CI=true` a missing database fails.
pub async fn postgres_database(purpose: &str) -> Option<(String, String, String)> {
    use sqlx::{Connection as _, Executor as _};
    let admin = match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => url,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("CI=true but DATABASE_URL is not set"),
        _ => {
            eprintln!("SKIPPED: the PostgreSQL {purpose} tests need DATABASE_URL=postgres://…");
            return None;
        }
    };
    let name = format!("clinic_{purpose}_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    conn.execute(&*format!("CREATE DATABASE {name}")).await.unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
    Some((admin, base, name))
}

/// Drops a database [`postgres_database`] made, whoever is still connected.
pub async fn drop_database(admin: &str, name: &str) {
    use sqlx::{Connection as _, Executor as _};
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    conn.execute(&*format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
}

/// One 50-minute individual therapy session at $220 on 23 November 2026: GST-free, by a
/// registered provider, billed to the patient.
pub fn therapy_line() -> clinic_core::billing::LineInput {
    clinic_core::billing::LineInput {
        description: "Individual therapy, 50 minutes".into(),
        service_date: "2026-11-23".parse().unwrap(),
        quantity: 1,
        unit_price: clinic_core::money::Money::from_cents(22_000),
        supply: clinic_core::billing::SupplyKind::PsychologicalService,
        registered_provider: true,
        clinically_necessary: true,
        appointment_id: None,
        medicare: None,
    }
}
