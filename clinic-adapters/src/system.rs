//! The clock and id ports, from the operating system.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use clinic_core::ports::{Clock, IdGenerator};
use uuid::Uuid;

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// UUID v7 ids: random, and ordered by creation time (RFC 9562), so they index well.
#[derive(Clone, Copy, Debug, Default)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_uuid(&self) -> Uuid {
        Uuid::now_v7()
    }
}

/// A clock that reads what it was set to: for tests, demos and replays.
#[derive(Debug)]
pub struct SettableClock {
    now: Mutex<DateTime<Utc>>,
}

impl SettableClock {
    /// A clock reading `now`.
    #[must_use]
    pub fn new(now: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(now) }
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = now;
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        let mut g = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *g += by;
    }
}

impl Clock for SettableClock {
    fn now(&self) -> DateTime<Utc> {
        // A poisoned lock still holds a valid instant: nothing can leave it half-written.
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_ids_are_unique_and_ordered() {
        let ids: Vec<Uuid> = (0..1000).map(|_| UuidV7Ids.new_uuid()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        assert!(ids.iter().all(|u| u.get_version_num() == 7));
    }

    #[test]
    fn settable_clock_moves() {
        let t: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let c = SettableClock::new(t);
        c.advance(Duration::minutes(5));
        assert_eq!(c.now(), t + Duration::minutes(5));
        c.set(t);
        assert_eq!(c.now(), t);
    }
}
