//! The outbox port: notices stored before they are sent (see [`crate::notify`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{DeliveryStatus, PortError};
use crate::ids::PracticeId;
use crate::notify::Notification;

/// Stores notifications and hands them to workers one at a time.
///
/// # Contract
/// - `enqueue` stores, in one transaction, each notification whose practice does not
///   already hold one with the same key, and returns how many it stored; concurrent
///   enqueues of one key store one.
/// - `claim_due` returns up to `limit` notifications [claimable](Notification::claimable) at
///   `now`, earliest `next_attempt_at` first, each [claimed](Notification::claim) until
///   `lease_until` and stored so; concurrent claimers never receive the same notification
///   (on PostgreSQL, `FOR UPDATE SKIP LOCKED`).
/// - `settle` stores a claimed notification as its worker left it, only if it is still
///   claimed with the same attempt count: a worker whose lease ran out and was overtaken
///   gets [`super::PortErrorKind::Conflict`] and changes nothing.
/// - `record_delivery` applies a provider's report to the notification sent with that
///   provider id ([`Notification::delivery`]) and says whether there was one.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Queues the notifications (all of one practice) whose keys are not queued yet;
    /// returns how many were queued.
    async fn enqueue(&self, notifications: &[Notification]) -> Result<usize, PortError>;

    /// Claims due notifications.
    async fn claim_due(
        &self,
        practice: PracticeId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Notification>, PortError>;

    /// Stores the outcome of an attempt.
    async fn settle(&self, notification: &Notification) -> Result<(), PortError>;

    /// Applies a delivery report; false when no notification has that provider id.
    async fn record_delivery(
        &self,
        practice: PracticeId,
        provider_id: &str,
        status: DeliveryStatus,
        error_code: Option<String>,
    ) -> Result<bool, PortError>;

    /// The notifications about a record, oldest first.
    async fn notifications_about(&self, practice: PracticeId, about: Uuid) -> Result<Vec<Notification>, PortError>;

    /// The queue's depth for monitoring: how many notifications are waiting (pending),
    /// held by a worker (claimed) and given up on (parked).
    async fn queue_depth(&self, practice: PracticeId) -> Result<QueueDepth, PortError>;
}

/// How many notifications of a practice are in each state a monitor watches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Waiting for their time or their next attempt.
    pub pending: u64,
    /// Held by a worker.
    pub claimed: u64,
    /// Given up after the last attempt, kept with their error for staff.
    pub parked: u64,
}

/// In-app inboxes.
///
/// # Contract
/// - `deliver` stores each item unless one with the same [`InboxItem::key`] exists, and
///   returns how many it stored; delivering twice delivers once.
/// - `inbox` returns one reader's items, newest first, at most `limit`; never another
///   practice's or another reader's.
/// - `mark_read` marks the named items of that reader read at `at` (those already read
///   keep their time; ids of others' items are ignored) and returns how many changed.
#[async_trait]
pub trait Inbox: Send + Sync + 'static {
    /// Delivers items, once each.
    async fn deliver(&self, items: &[crate::notify::InboxItem]) -> Result<usize, PortError>;
    /// A reader's items, newest first.
    async fn inbox(
        &self,
        practice: PracticeId,
        audience: crate::notify::Audience,
        limit: usize,
    ) -> Result<Vec<crate::notify::InboxItem>, PortError>;
    /// Marks a reader's items read.
    async fn mark_read_items(
        &self,
        practice: PracticeId,
        audience: crate::notify::Audience,
        ids: &[crate::ids::InboxItemId],
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, PortError>;
}
