//! The storage conformance suite against the in-memory adapter, directly and through `dyn`.

mod common;

use std::sync::Arc;

use clinic_adapters::memory::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_conforms() {
    common::conformance::run_all(|| async { Arc::new(MemoryStore::new()) }).await;
}
