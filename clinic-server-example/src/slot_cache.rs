//! A short-lived cache of slot-search answers.
//!
//! A slot list is advice, not a promise: booking checks every rule again against the
//! calendar as it is, so a list a moment old can at worst offer a time that has just been
//! taken (the booking then answers 409 and the client searches again). Many patients browse
//! the same practitioner's weeks at once, so the same answer is asked for again and again.
//!
//! An answer is reused only while all of these hold:
//! - it was computed within [`TTL`] (which bounds what another server replica or the
//!   background jobs may have changed unseen, and how far the clock has moved past the
//!   minimum-notice boundary),
//! - no request through this server has changed anything since (every successful `POST`,
//!   `PUT`, `PATCH` or `DELETE` starts a new generation: [`note_writes`]),
//! - the query is the same in every parameter (practice, service, dates, zone,
//!   practitioners, location, patient, mode).
//!
//! Requests that miss the same question at once compute it once: the first computes while
//! the rest wait for it and then read its answer ([`SlotCache::get_or_compute`]). Without
//! this, every request arriving while an expired answer was recomputed computed it too,
//! which slowed the computation and let more requests in: on PostgreSQL at a steady
//! 2,000 searches a second the p99 reached a second.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// How long an answer is reused at most.
pub const TTL: Duration = Duration::from_secs(2);

/// The most answers kept; past it the cache starts again empty (answers are cheap to
/// recompute, and a bound keeps memory flat whatever clients ask).
pub const CAPACITY: usize = 256;

/// The most bytes of answers kept at once (the server's memory budget is 60 MB).
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// An answer larger than this (a whole practice over months) is not kept: it is asked
/// for rarely and would crowd out the many small ones.
pub const MAX_BODY: usize = 512 * 1024;

/// A kept answer: the JSON body and, when the search has more pages, the next page's
/// cursor.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The JSON array of slots.
    pub body: Bytes,
    /// The cursor of the next page, if any.
    pub next: Option<std::sync::Arc<str>>,
}

impl From<Bytes> for Answer {
    fn from(body: Bytes) -> Self {
        Self { body, next: None }
    }
}

struct Entry {
    at: Instant,
    generation: u64,
    body: Answer,
}

/// Slot-search answers by query.
#[derive(Default)]
pub struct SlotCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
    /// A lock per question being computed, held while it is.
    computing: Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for SlotCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlotCache")
    }
}

impl SlotCache {
    /// The answer to `key`, if still fresh at `now`.
    #[must_use]
    pub fn get(&self, key: &str, now: Instant) -> Option<Answer> {
        let generation = self.generation.load(Ordering::Acquire);
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(key)
            .filter(|e| e.generation == generation && now.saturating_duration_since(e.at) < TTL)
            .map(|e| e.body.clone())
    }

    /// Keeps `body` as the answer to `key`, computed at `at` under `generation` (read with
    /// [`generation`](Self::generation) before computing, so a write during the
    /// computation makes it stale at once).
    pub fn put(&self, key: String, generation: u64, at: Instant, body: impl Into<Answer>) {
        let body = body.into();
        if body.body.len() > MAX_BODY {
            return;
        }
        let current = self.generation();
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Stale answers are never served again: drop them rather than hold their memory.
        entries.retain(|_, e| e.generation == current && at.saturating_duration_since(e.at) < TTL);
        let held: usize = entries.values().map(|e| e.body.body.len()).sum();
        if entries.len() >= CAPACITY || held + body.body.len() > MAX_BYTES {
            entries.clear();
        }
        entries.insert(key, Entry { at, generation, body });
    }

    /// The answer to `key` (asked at `asked`): the one kept if still fresh, else the one
    /// `compute` gives, kept for the next asker. Requests missing the same key at once take
    /// turns: the first computes, the others then find its answer. A failed computation
    /// keeps nothing, and the next in turn computes again.
    ///
    /// # Errors
    /// What `compute` returns.
    pub async fn get_or_compute<E>(
        &self,
        key: String,
        asked: Instant,
        compute: impl std::future::Future<Output = Result<Answer, E>>,
    ) -> Result<Answer, E> {
        if let Some(answer) = self.get(&key, asked) {
            return Ok(answer);
        }
        let lock = self.lock_for(&key);
        let _turn = lock.lock().await;
        if let Some(answer) = self.get(&key, Instant::now()) {
            return Ok(answer);
        }
        let generation = self.generation();
        let answer = compute.await?;
        self.put(key, generation, asked, answer.clone());
        Ok(answer)
    }

    /// The lock computing `key` holds. Locks no request holds are dropped once there are
    /// as many as the cache keeps answers, so their number stays bounded.
    fn lock_for(&self, key: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.computing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if locks.len() >= CAPACITY && !locks.contains_key(key) {
            locks.retain(|_, l| std::sync::Arc::strong_count(l) > 1);
        }
        locks.entry(key.to_owned()).or_default().clone()
    }

    /// The current generation.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Something changed: every answer kept so far is stale.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// Middleware: a successful request that may change data (any method but `GET`, `HEAD`
/// and `OPTIONS`) makes every kept answer stale.
pub async fn note_writes(State(cache): State<std::sync::Arc<SlotCache>>, req: Request, next: Next) -> Response {
    use axum::http::Method;
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let response = next.run(req).await;
    if writes && response.status().is_success() {
        cache.invalidate();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_last_until_the_ttl_or_the_next_write() {
        let cache = SlotCache::default();
        let t0 = Instant::now();
        cache.put("q".into(), cache.generation(), t0, Bytes::from_static(b"[]"));
        assert_eq!(
            cache
                .get("q", t0 + TTL - Duration::from_millis(1))
                .map(|a| a.body)
                .as_deref(),
            Some(&b"[]"[..])
        );
        assert!(cache.get("q", t0 + TTL).is_none(), "expired at the TTL");
        assert!(cache.get("other", t0).is_none());
        cache.invalidate();
        assert!(cache.get("q", t0).is_none(), "a write makes it stale");
    }

    #[test]
    fn an_answer_computed_across_a_write_is_never_served() {
        let cache = SlotCache::default();
        let before = cache.generation();
        cache.invalidate(); // a booking lands while the answer is computed
        cache.put("q".into(), before, Instant::now(), Bytes::from_static(b"[]"));
        assert!(cache.get("q", Instant::now()).is_none());
    }

    #[test]
    fn large_answers_are_not_kept_and_stale_ones_are_dropped() {
        let cache = SlotCache::default();
        let t0 = Instant::now();
        cache.put(
            "big".into(),
            cache.generation(),
            t0,
            Bytes::from(vec![b' '; MAX_BODY + 1]),
        );
        assert!(cache.get("big", t0).is_none());
        cache.put("old".into(), cache.generation(), t0, Bytes::from(vec![b' '; MAX_BODY]));
        cache.put("new".into(), cache.generation(), t0 + TTL, Bytes::from_static(b"[]"));
        let entries = cache.entries.lock().unwrap();
        assert!(!entries.contains_key("old"), "expired answers give their memory back");
        assert!(entries.contains_key("new"));
    }

    #[test]
    fn the_bytes_held_are_bounded() {
        let cache = SlotCache::default();
        let now = Instant::now();
        for i in 0..(MAX_BYTES / MAX_BODY + 2) {
            cache.put(
                format!("q{i}"),
                cache.generation(),
                now,
                Bytes::from(vec![b' '; MAX_BODY]),
            );
        }
        let held: usize = cache.entries.lock().unwrap().values().map(|e| e.body.body.len()).sum();
        assert!(held <= MAX_BYTES);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_question_missed_at_once_is_computed_once() {
        let cache = std::sync::Arc::new(SlotCache::default());
        let computed = std::sync::Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, computed) = (cache.clone(), computed.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_compute("q".into(), Instant::now(), async {
                            computed.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Ok::<_, ()>(Answer::from(Bytes::from_static(b"[1]")))
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().body, Bytes::from_static(b"[1]"));
        }
        assert_eq!(computed.load(Ordering::SeqCst), 1);
        // A failure keeps nothing: the next asker computes.
        let failed = cache
            .get_or_compute("r".into(), Instant::now(), async { Err::<Answer, _>("down") })
            .await;
        assert_eq!(failed.unwrap_err(), "down");
        let again = cache
            .get_or_compute("r".into(), Instant::now(), async {
                Ok::<_, ()>(Answer::from(Bytes::from_static(b"[]")))
            })
            .await
            .unwrap();
        assert_eq!(again.body, Bytes::from_static(b"[]"));
        // A write in between: computed again.
        cache.invalidate();
        let after = cache
            .get_or_compute("q".into(), Instant::now(), async {
                Ok::<_, ()>(Answer::from(Bytes::from_static(b"[2]")))
            })
            .await
            .unwrap();
        assert_eq!(after.body, Bytes::from_static(b"[2]"));
    }

    #[test]
    fn locks_are_bounded() {
        let cache = SlotCache::default();
        for i in 0..(3 * CAPACITY) {
            drop(cache.lock_for(&format!("q{i}")));
        }
        assert!(cache.computing.lock().unwrap().len() <= CAPACITY);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = SlotCache::default();
        let now = Instant::now();
        for i in 0..=CAPACITY {
            cache.put(format!("q{i}"), cache.generation(), now, Bytes::new());
        }
        assert!(cache.entries.lock().unwrap().len() <= CAPACITY);
        assert!(cache.get(&format!("q{CAPACITY}"), now).is_some(), "the newest is kept");
    }
}
