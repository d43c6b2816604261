//! The outbox: every notice to send is first stored as a [`Notification`], then claimed,
//! sent and settled by a background job. Storing first means a crash between deciding to
//! send and sending loses nothing; a unique key per notice means deciding twice (two
//! replicas, a rerun sweep) queues it once; claiming with a lease means two workers never
//! send the same notice, and a worker that died mid-send is taken over when its lease
//! runs out.
//!
//! A notification names what it is about (an appointment, an invoice …) rather than
//! carrying its text: the text is rendered when it is sent, from current data, so a
//! reminder for an appointment cancelled since is skipped and the outbox holds no personal
//! details beyond ids.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Occasion;
use crate::ids::{NotificationId, PatientId, PracticeId, PractitionerId};
use crate::ports::DeliveryStatus;

/// Who a notice goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Audience {
    /// A patient (or, for a minor, their guardian's contact details).
    Patient(PatientId),
    /// A practitioner.
    Practitioner(PractitionerId),
}

/// The channel a notice goes by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Email.
    Email,
    /// SMS.
    Sms,
    /// WhatsApp.
    WhatsApp,
}

/// Where a notification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for its time (or its next attempt).
    Pending,
    /// A worker holds it until its lease ends.
    Claimed,
    /// Handed to the provider.
    Sent,
    /// The provider reports it delivered.
    Delivered,
    /// Read (WhatsApp).
    Read,
    /// The provider could not deliver it.
    Undelivered,
    /// Sending failed at the provider.
    Failed,
    /// Given up after [`MAX_ATTEMPTS`] attempts, or refused for good; kept with its error
    /// for staff.
    Parked,
    /// Nothing to send any more (the appointment was cancelled, no contact details).
    Skipped,
}

impl OutboxState {
    /// The stable word stored and shown.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Claimed => "claimed",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Undelivered => "undelivered",
            Self::Failed => "failed",
            Self::Parked => "parked",
            Self::Skipped => "skipped",
        }
    }
}

/// What a notification sends, to whom, how, and about which record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dispatch {
    /// The occasion (which template).
    pub occasion: Occasion,
    /// Who it goes to.
    pub audience: Audience,
    /// How.
    pub via: Via,
    /// The record it is about.
    pub about: Uuid,
}

impl Dispatch {
    /// The deduplication key: the occasion, what it is about, who and how.
    #[must_use]
    pub fn key(&self) -> String {
        let who = match self.audience {
            Audience::Patient(p) => format!("patient:{p}"),
            Audience::Practitioner(p) => format!("practitioner:{p}"),
        };
        let via = match self.via {
            Via::Email => "email",
            Via::Sms => "sms",
            Via::WhatsApp => "whatsapp",
        };
        format!("{}/{}/{who}/{via}", self.occasion.code(), self.about)
    }

    /// The key of a notice about an appointment that has been moved `moves` times: for an
    /// appointment never moved, [`key`](Self::key); after a move, the key and the number of
    /// moves, so each move's notices are told apart from those planned before it.
    #[must_use]
    pub fn key_after_moves(&self, moves: u32) -> String {
        if moves == 0 {
            self.key()
        } else {
            format!("{}#moved{moves}", self.key())
        }
    }
}

/// Attempts before a notification is parked: five, over about five and a half hours.
pub const MAX_ATTEMPTS: u32 = 5;

/// The wait after the `attempts`-th failed attempt: 1, 4, 16, 64 minutes, then 4 hours
/// 16 minutes — quick for a blip, patient for an outage.
#[must_use]
pub fn retry_delay(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(4);
    Duration::minutes(4i64.pow(exp))
}

/// A notice waiting to be sent, or sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    /// Id.
    pub id: NotificationId,
    /// The practice.
    pub practice_id: PracticeId,
    /// Unique per practice: the occasion, what it is about, who and how. Queuing a
    /// notification whose key exists does nothing.
    pub key: String,
    /// The occasion (which template).
    pub occasion: Occasion,
    /// Who it goes to.
    pub audience: Audience,
    /// How.
    pub via: Via,
    /// The record it is about: an appointment, invoice, credential holder or request id.
    pub about: Uuid,
    /// When it should go.
    pub due_at: DateTime<Utc>,
    /// Where it stands.
    pub state: OutboxState,
    /// Attempts so far.
    pub attempts: u32,
    /// When it may next be tried.
    pub next_attempt_at: DateTime<Utc>,
    /// While claimed, when the claim lapses.
    pub lease_until: Option<DateTime<Utc>>,
    /// The provider's message id, once sent.
    pub provider_id: Option<String>,
    /// The last error's code (never content).
    pub error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// For a notice about an appointment: how many times the appointment had been moved
    /// when the notice was planned. After a later move it is skipped (the move planned
    /// notices of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_moves: Option<u32>,
}

impl Notification {
    /// A pending notification of `what`, due at `due_at`.
    #[must_use]
    pub fn new(
        id: NotificationId,
        practice_id: PracticeId,
        what: Dispatch,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            practice_id,
            key: what.key(),
            occasion: what.occasion,
            audience: what.audience,
            via: what.via,
            about: what.about,
            due_at,
            state: OutboxState::Pending,
            attempts: 0,
            next_attempt_at: due_at,
            lease_until: None,
            provider_id: None,
            error: None,
            created_at: now,
            after_moves: None,
        }
    }

    /// A pending notification about an appointment moved `moves` times so far, due at
    /// `due_at`: keyed by [`Dispatch::key_after_moves`], so queuing it again does nothing,
    /// while each move of the appointment gets notices of its own.
    #[must_use]
    pub fn for_appointment(
        id: NotificationId,
        practice_id: PracticeId,
        what: Dispatch,
        moves: u32,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            key: what.key_after_moves(moves),
            after_moves: Some(moves),
            ..Self::new(id, practice_id, what, due_at, now)
        }
    }

    /// True when a worker may claim it at `now`: pending and due, or claimed by a worker
    /// whose lease has run out.
    #[must_use]
    pub fn claimable(&self, now: DateTime<Utc>) -> bool {
        match self.state {
            OutboxState::Pending => self.next_attempt_at <= now,
            OutboxState::Claimed => self.lease_until.is_none_or(|l| l <= now),
            _ => false,
        }
    }

    /// Claims it until `lease_until`, counting the attempt.
    pub fn claim(&mut self, lease_until: DateTime<Utc>) {
        self.state = OutboxState::Claimed;
        self.lease_until = Some(lease_until);
        self.attempts += 1;
    }

    /// The provider accepted it.
    pub fn sent(&mut self, provider_id: Option<String>) {
        self.state = OutboxState::Sent;
        self.provider_id = provider_id;
        self.lease_until = None;
        self.error = None;
    }

    /// The attempt failed with `code`. A retryable failure waits [`retry_delay`] and goes
    /// again, until [`MAX_ATTEMPTS`]; anything else, or the last attempt, parks it.
    pub fn failed(&mut self, code: &str, retryable: bool, now: DateTime<Utc>) {
        self.error = Some(code.to_owned());
        self.lease_until = None;
        if retryable && self.attempts < MAX_ATTEMPTS {
            self.state = OutboxState::Pending;
            self.next_attempt_at = now + retry_delay(self.attempts);
        } else {
            self.state = OutboxState::Parked;
        }
    }

    /// Nothing to send any more, for `reason`.
    pub fn skipped(&mut self, reason: &str) {
        self.state = OutboxState::Skipped;
        self.error = Some(reason.to_owned());
        self.lease_until = None;
    }

    /// A delivery report from the provider. Reports can arrive out of order; a final
    /// state is never replaced by an earlier one (`sent` after `delivered`).
    pub fn delivery(&mut self, status: DeliveryStatus, error_code: Option<String>) {
        let next = match status {
            DeliveryStatus::Queued | DeliveryStatus::Sent => OutboxState::Sent,
            DeliveryStatus::Delivered => OutboxState::Delivered,
            DeliveryStatus::Read => OutboxState::Read,
            DeliveryStatus::Undelivered => OutboxState::Undelivered,
            DeliveryStatus::Failed => OutboxState::Failed,
        };
        let rank = |s: OutboxState| match s {
            OutboxState::Sent => 1,
            OutboxState::Delivered | OutboxState::Undelivered | OutboxState::Failed => 2,
            OutboxState::Read => 3,
            _ => 0,
        };
        if rank(next) >= rank(self.state) {
            self.state = next;
            if error_code.is_some() {
                self.error = error_code;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn reminder() -> Notification {
        Notification::new(
            Uuid::nil().into(),
            Uuid::nil().into(),
            Dispatch {
                occasion: Occasion::AppointmentReminder,
                audience: Audience::Patient(Uuid::from_u128(7).into()),
                via: Via::Sms,
                about: Uuid::from_u128(9),
            },
            at("2026-11-23T22:00:00Z"),
            at("2026-11-20T00:00:00Z"),
        )
    }

    #[test]
    fn keys_name_the_occasion_record_person_and_channel() {
        let n = reminder();
        assert_eq!(
            n.key,
            "appointment_reminder/00000000-0000-0000-0000-000000000009/patient:00000000-0000-0000-0000-000000000007/sms"
        );
        let email = Dispatch {
            occasion: n.occasion,
            audience: n.audience,
            via: Via::Email,
            about: n.about,
        }
        .key();
        assert_ne!(email, n.key, "another channel is another notice");
    }

    #[test]
    fn each_move_of_an_appointment_keys_its_notices_apart() {
        let n = reminder();
        let what = Dispatch {
            occasion: n.occasion,
            audience: n.audience,
            via: n.via,
            about: n.about,
        };
        let planned = |moves| Notification::for_appointment(n.id, n.practice_id, what, moves, n.due_at, n.created_at);
        // Never moved: the key notices had before moves were counted.
        assert_eq!(planned(0).key, n.key);
        assert_eq!(planned(0).after_moves, Some(0));
        assert_eq!(planned(1).key, format!("{}#moved1", n.key));
        assert_ne!(planned(1).key, planned(2).key);
        // A notice stored before moves were counted reads back without the count.
        let mut stored = serde_json::to_value(&n).unwrap();
        assert!(stored.get("after_moves").is_none());
        stored.as_object_mut().unwrap().remove("after_moves");
        let read: Notification = serde_json::from_value(stored).unwrap();
        assert_eq!(read.after_moves, None);
        let counted: Notification = serde_json::from_value(serde_json::to_value(planned(3)).unwrap()).unwrap();
        assert_eq!(counted.after_moves, Some(3));
    }

    #[test]
    fn due_claimable_once_and_taken_over_after_the_lease() {
        let mut n = reminder();
        assert!(!n.claimable(at("2026-11-23T21:59:59Z")), "a second early");
        assert!(n.claimable(at("2026-11-23T22:00:00Z")), "exactly due");
        n.claim(at("2026-11-23T22:05:00Z"));
        assert_eq!((n.state, n.attempts), (OutboxState::Claimed, 1));
        assert!(!n.claimable(at("2026-11-23T22:04:59Z")), "held by its worker");
        assert!(n.claimable(at("2026-11-23T22:05:00Z")), "the lease ran out");
    }

    #[test]
    fn failures_back_off_then_park_on_the_fifth() {
        let mut n = reminder();
        let mut now = at("2026-11-23T22:00:00Z");
        let mut waits = Vec::new();
        for _ in 0..MAX_ATTEMPTS {
            assert!(n.claimable(now));
            n.claim(now + Duration::minutes(5));
            n.failed("unavailable", true, now);
            if n.state == OutboxState::Pending {
                waits.push((n.next_attempt_at - now).num_minutes());
                now = n.next_attempt_at;
            }
        }
        assert_eq!(waits, vec![1, 4, 16, 64], "then the fifth failure parks it");
        assert_eq!(n.state, OutboxState::Parked);
        assert_eq!(n.error.as_deref(), Some("unavailable"));
        let mut refused = reminder();
        refused.claim(now);
        refused.failed("invalid", false, now);
        assert_eq!(refused.state, OutboxState::Parked, "a refusal is not retried");
    }

    #[test]
    fn delivery_reports_never_move_backwards() {
        let mut n = reminder();
        n.claim(at("2026-11-23T22:05:00Z"));
        n.sent(Some("SM1".into()));
        n.delivery(DeliveryStatus::Delivered, None);
        n.delivery(DeliveryStatus::Sent, None);
        assert_eq!(
            n.state,
            OutboxState::Delivered,
            "a late 'sent' does not undo 'delivered'"
        );
        n.delivery(DeliveryStatus::Read, None);
        assert_eq!(n.state, OutboxState::Read);
        let mut u = reminder();
        u.sent(Some("SM2".into()));
        u.delivery(DeliveryStatus::Undelivered, Some("30003".into()));
        assert_eq!((u.state, u.error.as_deref()), (OutboxState::Undelivered, Some("30003")));
    }

    #[test]
    fn retry_delays() {
        assert_eq!(retry_delay(1), Duration::minutes(1));
        assert_eq!(retry_delay(2), Duration::minutes(4));
        assert_eq!(retry_delay(5), Duration::minutes(256));
        assert_eq!(retry_delay(50), Duration::minutes(256), "capped");
    }
}
