//! The conformance suite, part three: the notification outbox.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Duration;
use clinic_core::ids::*;
use clinic_core::notify::{Audience, Dispatch, Notification, Occasion, OutboxState, Via};
use clinic_core::ports::*;
use tokio::sync::Barrier;

use super::conformance::Storage;
use super::{ids, utc};

fn reminder(practice: PracticeId, about: uuid::Uuid, via: Via, due: &str) -> Notification {
    Notification::new(
        ids().new_id(),
        practice,
        Dispatch {
            occasion: Occasion::AppointmentReminder,
            audience: Audience::Patient(ids().new_id()),
            via,
            about,
        },
        utc(due),
        utc("2026-11-20T00:00:00Z"),
    )
}

/// A key is queued once; claims take due notifications oldest first, lease them, and
/// hand a lapsed lease to the next worker; settling is refused to a worker overtaken.
pub async fn outbox_queues_claims_and_settles<S: Storage>(s: Arc<S>) {
    let practice: PracticeId = ids().new_id();
    let other: PracticeId = ids().new_id();
    let about = uuid::Uuid::now_v7();
    let early = reminder(practice, about, Via::Email, "2026-11-23T21:00:00Z");
    let late = reminder(practice, about, Via::Sms, "2026-11-23T22:00:00Z");
    let future = reminder(practice, uuid::Uuid::now_v7(), Via::Email, "2026-11-25T00:00:00Z");
    assert_eq!(s.enqueue(std::slice::from_ref(&late)).await.unwrap(), 1);
    let mut twin = early.clone();
    twin.id = ids().new_id();
    assert_eq!(
        s.enqueue(&[early.clone(), future.clone(), twin]).await.unwrap(),
        2,
        "a batch stores what is new; the same key is queued once"
    );
    assert_eq!(s.enqueue(std::slice::from_ref(&early)).await.unwrap(), 0);
    assert_eq!(s.enqueue(&[]).await.unwrap(), 0);
    assert_eq!(
        s.enqueue(&[reminder(other, about, Via::Email, "2026-11-23T21:00:00Z")])
            .await
            .unwrap(),
        1
    );

    let now = utc("2026-11-23T23:00:00Z");
    let lease = now + Duration::minutes(5);
    let claimed = s.claim_due(practice, now, lease, 10).await.unwrap();
    let got: Vec<NotificationId> = claimed.iter().map(|n| n.id).collect();
    assert_eq!(
        got,
        vec![early.id, late.id],
        "due ones, oldest first; not the future one"
    );
    assert!(
        claimed
            .iter()
            .all(|n| n.state == OutboxState::Claimed && n.attempts == 1)
    );
    assert_eq!(claimed[0].lease_until, Some(lease));
    assert!(s.claim_due(practice, now, lease, 10).await.unwrap().is_empty(), "held");

    // The first is sent; the second's worker dies and its lease lapses.
    let mut sent = claimed[0].clone();
    sent.sent(Some("SM-early".into()));
    s.settle(&sent).await.unwrap();
    let retaken = s
        .claim_due(practice, lease, lease + Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(retaken.len(), 1);
    assert_eq!((retaken[0].id, retaken[0].attempts), (late.id, 2));
    let mut stale = claimed[1].clone();
    stale.sent(Some("SM-late".into()));
    assert_eq!(
        s.settle(&stale).await.unwrap_err().kind(),
        PortErrorKind::Conflict,
        "the overtaken worker cannot overwrite the new claim"
    );
    let mut retry = retaken[0].clone();
    retry.failed("unavailable", true, lease);
    s.settle(&retry).await.unwrap();
    assert_eq!(
        s.settle(&sent).await.unwrap_err().kind(),
        PortErrorKind::Conflict,
        "settled once"
    );

    // Delivery reports find the notification by provider id, in its practice only.
    assert!(
        s.record_delivery(practice, "SM-early", DeliveryStatus::Delivered, None)
            .await
            .unwrap()
    );
    assert!(
        !s.record_delivery(other, "SM-early", DeliveryStatus::Failed, None)
            .await
            .unwrap()
    );
    assert!(
        !s.record_delivery(practice, "SM-unknown", DeliveryStatus::Delivered, None)
            .await
            .unwrap()
    );
    let about_list = s.notifications_about(practice, about).await.unwrap();
    let states: BTreeSet<(Via, OutboxState)> = about_list.iter().map(|n| (n.via, n.state)).collect();
    assert_eq!(
        states,
        BTreeSet::from([(Via::Email, OutboxState::Delivered), (Via::Sms, OutboxState::Pending)])
    );
    let pending = about_list.iter().find(|n| n.via == Via::Sms).unwrap();
    assert_eq!(
        pending.next_attempt_at,
        lease + Duration::minutes(4),
        "retried after its backoff"
    );
    assert_eq!(pending.error.as_deref(), Some("unavailable"));
    assert_eq!(s.notifications_about(other, about).await.unwrap().len(), 1);
    // The queue: the retried one and the future one wait, none is held or given up on;
    // the other practice's one is not counted here.
    assert_eq!(
        s.queue_depth(practice).await.unwrap(),
        QueueDepth {
            pending: 2,
            claimed: 0,
            parked: 0
        }
    );
    let held = s
        .claim_due(practice, lease + Duration::minutes(4), lease + Duration::minutes(9), 10)
        .await
        .unwrap();
    let mut given_up = held[0].clone();
    given_up.failed("refused for good", false, lease + Duration::minutes(4));
    s.settle(&given_up).await.unwrap();
    assert_eq!(
        s.queue_depth(practice).await.unwrap(),
        QueueDepth {
            pending: 1,
            claimed: 0,
            parked: 1
        }
    );
    assert_eq!(s.queue_depth(other).await.unwrap().pending, 1);
    let mut ghost = early.clone();
    ghost.id = ids().new_id();
    assert_eq!(s.settle(&ghost).await.unwrap_err().kind(), PortErrorKind::NotFound);
}

/// Eight workers claim from forty due notifications at once: each is claimed exactly once.
pub async fn concurrent_claims_never_share_a_notification<S: Storage + 'static>(s: Arc<S>) {
    let practice: PracticeId = ids().new_id();
    for i in 0..40 {
        let n = reminder(
            practice,
            uuid::Uuid::now_v7(),
            Via::Email,
            &format!("2026-11-23T21:{i:02}:00Z"),
        );
        s.enqueue(&[n]).await.unwrap();
    }
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (s, barrier) = (s.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let now = utc("2026-11-23T23:00:00Z");
                let mut mine = Vec::new();
                loop {
                    let batch = s.claim_due(practice, now, now + Duration::minutes(5), 3).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|n| n.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: BTreeSet<NotificationId> = all.iter().copied().collect();
    assert_eq!((all.len(), distinct.len()), (40, 40), "every notification claimed once");
}

/// Inbox items are delivered once per key, listed newest first per reader and practice,
/// and marked read once, only by their reader.
pub async fn inbox_delivers_once_lists_newest_first_and_marks_read<S: Storage>(s: Arc<S>) {
    use clinic_core::notify::{Audience, InboxItem, Occasion};
    let practice: PracticeId = ids().new_id();
    let patient = Audience::Patient(ids().new_id());
    let clinician = Audience::Practitioner(ids().new_id());
    let item = |audience, occasion, occurrence: uuid::Uuid, at: &str| InboxItem {
        id: ids().new_id(),
        practice_id: practice,
        audience,
        occasion,
        about: occurrence,
        occurrence,
        at: utc(at),
        read_at: None,
    };
    let booked = uuid::Uuid::now_v7();
    let first = item(
        patient,
        Occasion::AppointmentConfirmation,
        booked,
        "2026-12-01T00:00:00Z",
    );
    let later = item(
        patient,
        Occasion::MessageWaiting,
        uuid::Uuid::now_v7(),
        "2026-12-01T01:00:00Z",
    );
    let theirs = item(
        clinician,
        Occasion::MessageWaiting,
        uuid::Uuid::now_v7(),
        "2026-12-01T02:00:00Z",
    );
    assert_eq!(
        s.deliver(&[first.clone(), later.clone(), theirs.clone()])
            .await
            .unwrap(),
        3
    );
    // The same occasion about the same record for the same reader again: nothing new.
    let again = item(
        patient,
        Occasion::AppointmentConfirmation,
        booked,
        "2026-12-01T03:00:00Z",
    );
    assert_eq!(s.deliver(&[again]).await.unwrap(), 0);
    assert_eq!(
        s.inbox(practice, patient, 10).await.unwrap(),
        [later.clone(), first.clone()]
    );
    assert_eq!(
        s.inbox(practice, patient, 1).await.unwrap(),
        std::slice::from_ref(&later)
    );
    assert!(s.inbox(ids().new_id(), patient, 10).await.unwrap().is_empty());
    // The patient cannot mark the clinician's item; their own is marked once.
    let at = utc("2026-12-01T04:00:00Z");
    assert_eq!(
        s.mark_read_items(practice, patient, &[theirs.id, first.id], at)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.mark_read_items(practice, patient, &[first.id], utc("2026-12-02T00:00:00Z"))
            .await
            .unwrap(),
        0
    );
    let now = s.inbox(practice, patient, 10).await.unwrap();
    assert_eq!(now[1].read_at, Some(at));
    assert_eq!(now[0].read_at, None);
    assert_eq!(s.inbox(practice, clinician, 10).await.unwrap()[0].read_at, None);
}
