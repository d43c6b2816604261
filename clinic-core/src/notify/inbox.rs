//! The in-app inbox: what a patient or a clinician sees on signing in — an appointment
//! booked or cancelled, a secure message waiting — as occasions about records, never their
//! content. Unlike the outbox, nothing is sent: an item waits until its reader marks it
//! read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Audience, Occasion};
use crate::ids::{InboxItemId, PracticeId};

/// One item in someone's inbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxItem {
    /// Id.
    pub id: InboxItemId,
    /// The practice.
    pub practice_id: PracticeId,
    /// Whose inbox.
    pub audience: Audience,
    /// What happened.
    pub occasion: Occasion,
    /// The record to open (an appointment, a message thread).
    pub about: Uuid,
    /// What makes it one item: the appointment for its notices, the message (not the
    /// thread) for a message waiting, so each new message is a new item.
    pub occurrence: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// When its reader marked it read.
    pub read_at: Option<DateTime<Utc>>,
}

impl InboxItem {
    /// The key that makes delivering the same item twice deliver it once: the occasion,
    /// the occurrence and the reader.
    #[must_use]
    pub fn key(&self) -> String {
        let who = match self.audience {
            Audience::Patient(p) => format!("patient:{p}"),
            Audience::Practitioner(p) => format!("practitioner:{p}"),
        };
        format!("{}/{}/{who}", self.occasion.code(), self.occurrence)
    }
}
