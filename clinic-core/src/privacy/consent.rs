//! Consents as an append-only ledger: granting and withdrawing are both new records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::PatientId;

/// What is consented to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConsentKind {
    /// The practice's privacy policy (APP 1), by version.
    PrivacyPolicy {
        /// The policy version accepted.
        version: u32,
    },
    /// Sessions by video or phone.
    Telehealth,
    /// Recording a session: a separate, explicit opt-in.
    SessionRecording,
    /// Sharing data with a named processor (payments, email, SMS/WhatsApp, video).
    DataSharing {
        /// The processor, e.g. `stripe`, `sendgrid`, `twilio`.
        processor: String,
    },
    /// Messages on a channel (email, sms, whatsapp).
    Communications {
        /// The channel.
        channel: String,
    },
}

impl ConsentKind {
    /// Two kinds are the same subject when they differ only in policy version.
    fn same_subject(&self, other: &ConsentKind) -> bool {
        match (self, other) {
            (ConsentKind::PrivacyPolicy { .. }, ConsentKind::PrivacyPolicy { .. }) => true,
            _ => self == other,
        }
    }
}

/// How consent was given or withdrawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsentMethod {
    /// In the patient portal.
    Online,
    /// On a signed form.
    Paper,
    /// Verbally, recorded by staff.
    Verbal,
}

/// One record: granted or withdrawn, when and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Consent {
    /// Whose.
    pub patient_id: PatientId,
    /// What.
    pub kind: ConsentKind,
    /// Granted (true) or withdrawn (false).
    pub granted: bool,
    /// When.
    pub at: DateTime<Utc>,
    /// How.
    pub method: ConsentMethod,
}

/// Where a patient stands with the privacy policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PolicyStatus {
    /// Accepted the current version.
    Accepted,
    /// Accepted an older version: must accept again.
    NeedsReacceptance,
    /// Never accepted, or withdrew.
    NotAccepted,
}

/// A patient's consent records, in the order made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentLedger {
    records: Vec<Consent>,
}

impl ConsentLedger {
    /// A ledger of existing records (sorted by time; ties keep their order).
    #[must_use]
    pub fn new(mut records: Vec<Consent>) -> Self {
        records.sort_by_key(|r| r.at);
        Self { records }
    }

    /// Appends a record. Nothing is ever removed.
    pub fn record(&mut self, consent: Consent) {
        let at = self.records.partition_point(|r| r.at <= consent.at);
        self.records.insert(at, consent);
    }

    /// The latest record about the subject of `kind`.
    #[must_use]
    pub fn latest(&self, kind: &ConsentKind) -> Option<&Consent> {
        self.records.iter().rev().find(|r| r.kind.same_subject(kind))
    }

    /// Whether consent of `kind` is currently given.
    #[must_use]
    pub fn is_current(&self, kind: &ConsentKind) -> bool {
        self.latest(kind).is_some_and(|r| r.granted)
    }

    /// Acceptance of privacy policy version `current`.
    #[must_use]
    pub fn policy_status(&self, current: u32) -> PolicyStatus {
        match self.latest(&ConsentKind::PrivacyPolicy { version: current }) {
            Some(Consent {
                granted: true,
                kind: ConsentKind::PrivacyPolicy { version },
                ..
            }) if *version >= current => PolicyStatus::Accepted,
            Some(Consent { granted: true, .. }) => PolicyStatus::NeedsReacceptance,
            _ => PolicyStatus::NotAccepted,
        }
    }

    /// Every record, oldest first.
    #[must_use]
    pub fn records(&self) -> &[Consent] {
        &self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn rec(kind: ConsentKind, granted: bool, at: &str) -> Consent {
        Consent {
            patient_id: PatientId::from_uuid(Uuid::nil()),
            kind,
            granted,
            at: at.parse().unwrap(),
            method: ConsentMethod::Online,
        }
    }

    #[test]
    fn withdrawal_is_a_new_record() {
        let mut l = ConsentLedger::default();
        l.record(rec(ConsentKind::Telehealth, true, "2026-01-01T00:00:00Z"));
        assert!(l.is_current(&ConsentKind::Telehealth));
        l.record(rec(ConsentKind::Telehealth, false, "2026-02-01T00:00:00Z"));
        assert!(!l.is_current(&ConsentKind::Telehealth));
        assert_eq!(l.records().len(), 2, "nothing deleted");
        assert!(
            !l.is_current(&ConsentKind::SessionRecording),
            "recording needs its own opt-in"
        );
    }

    #[test]
    fn new_policy_version_needs_reacceptance() {
        let mut l = ConsentLedger::default();
        assert_eq!(l.policy_status(1), PolicyStatus::NotAccepted);
        l.record(rec(
            ConsentKind::PrivacyPolicy { version: 1 },
            true,
            "2026-01-01T00:00:00Z",
        ));
        assert_eq!(l.policy_status(1), PolicyStatus::Accepted);
        assert_eq!(l.policy_status(2), PolicyStatus::NeedsReacceptance);
        l.record(rec(
            ConsentKind::PrivacyPolicy { version: 2 },
            true,
            "2026-03-01T00:00:00Z",
        ));
        assert_eq!(l.policy_status(2), PolicyStatus::Accepted);
    }

    #[test]
    fn per_processor_sharing() {
        let mut l = ConsentLedger::default();
        l.record(rec(
            ConsentKind::DataSharing {
                processor: "stripe".into(),
            },
            true,
            "2026-01-01T00:00:00Z",
        ));
        assert!(l.is_current(&ConsentKind::DataSharing {
            processor: "stripe".into()
        }));
        assert!(!l.is_current(&ConsentKind::DataSharing {
            processor: "twilio".into()
        }));
    }
}
