//! The reference REST server of clinic-rs, assembled from `clinic-adapters`.
//!
//! `axum` router → thin handlers (parse, call one `clinic-core` service, map the result) →
//! ports → adapters. Errors leave as `application/problem+json` with a stable `code`.
//! It runs on any storage adapter (`Arc<dyn Storage>`: SQLite by default, PostgreSQL, or
//! the in-memory store in tests), with background jobs beside it; auth and the full API
//! are built on this skeleton.
#![deny(missing_docs)]

pub mod accounts;
pub mod auth;
pub mod charts;
pub mod config;
pub mod demo;
pub mod error;
pub mod heavy;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod providers;
pub mod routes;
pub mod slot_cache;
pub mod state;
pub mod totp;

pub use config::Config;
pub use state::AppState;

use tokio::net::TcpListener;

/// Binds `config.listen` and serves until `shutdown` resolves, finishing in-flight
/// requests first.
///
/// # Errors
/// The bind or accept error.
pub async fn serve(
    config: &Config,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(config.listen).await?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    // Connection info gives the sign-in throttle each client's address.
    axum::serve(
        listener,
        routes::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
