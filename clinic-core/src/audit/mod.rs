//! The audit trail: every read and write of clinical data is an event (who, what, which
//! record, which patient, the outcome, when, the request id: never the clinical content),
//! chained by hash so that any edit, reorder, insertion or deletion shows.
//!
//! Each event's hash is SHA-256 over the previous event's hash and the event's canonical
//! bytes. Checkpoints sign (HMAC-SHA-256 with a key kept away from the data) the sequence
//! number and hash of an event; a verifier holding a checkpoint also detects the deletion
//! of the newest events, which a bare chain cannot.

mod sha256;

pub use sha256::{Sha256, ct_eq, hex, hmac_sha256};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{PatientId, PracticeId, UserId};

/// The result of the action audited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Allowed and done.
    Allowed,
    /// Allowed as break-glass, for review.
    Flagged,
    /// Denied.
    Denied,
}

/// An event before it is sealed into the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// The practice.
    pub practice_id: PracticeId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`None` for the system: a job, a sweep).
    pub actor: Option<UserId>,
    /// What, as a stable code (`note.read`, `note.sign`, `export.create` …).
    pub action: String,
    /// The kind of record (`progress_note`, `prescription` …).
    pub resource_kind: String,
    /// The record's id.
    pub resource_id: Uuid,
    /// The patient the record is about.
    pub patient_id: Option<PatientId>,
    /// The outcome.
    pub outcome: Outcome,
    /// The request it came from.
    pub request_id: Option<String>,
    /// The reason stated for a break-glass access (a justification for the review, never
    /// record content).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A sealed event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// Position in the chain, from 0.
    pub seq: u64,
    /// The event.
    pub entry: AuditEntry,
    /// The previous event's hash (zeros for the first).
    pub prev_hash: [u8; 32],
    /// This event's hash.
    pub hash: [u8; 32],
}

/// A signed statement that the chain had event `seq` with hash `hash`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Checkpoint {
    /// The event's position.
    pub seq: u64,
    /// Its hash.
    pub hash: [u8; 32],
    /// HMAC-SHA-256 over the practice, position and hash.
    pub mac: [u8; 32],
}

/// How a chain failed verification. The first failure is reported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// An event is missing, duplicated or out of order.
    #[error("event {found} is where event {expected} should be")]
    Sequence {
        /// The position expected.
        expected: u64,
        /// The position found.
        found: u64,
    },
    /// An event does not point at its predecessor.
    #[error("event {seq} does not follow the event before it")]
    BrokenLink {
        /// Where.
        seq: u64,
    },
    /// An event's content does not match its hash: it was edited.
    #[error("event {seq} was altered")]
    Altered {
        /// Where.
        seq: u64,
    },
    /// A checkpoint's signature is wrong.
    #[error("the checkpoint at {seq} is not authentic")]
    ForgedCheckpoint {
        /// Where.
        seq: u64,
    },
    /// The chain ends before a checkpoint: newest events were deleted.
    #[error("the chain ends at {len} events but a checkpoint vouches for event {seq}")]
    Truncated {
        /// The checkpoint's position.
        seq: u64,
        /// Events present.
        len: u64,
    },
    /// The event at a checkpoint is not the one it vouched for.
    #[error("event {seq} differs from its checkpoint")]
    CheckpointMismatch {
        /// Where.
        seq: u64,
    },
}

impl AuditError {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Sequence { .. } => "audit_sequence",
            Self::BrokenLink { .. } => "audit_broken_link",
            Self::Altered { .. } => "audit_altered",
            Self::ForgedCheckpoint { .. } => "audit_forged_checkpoint",
            Self::Truncated { .. } => "audit_truncated",
            Self::CheckpointMismatch { .. } => "audit_checkpoint_mismatch",
        }
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    // Lengths over 65535 bytes are clamped in the prefix but the bytes are all hashed;
    // codes and request ids are short, and the hash still covers every byte.
    buf.extend_from_slice(&u16::try_from(s.len()).unwrap_or(u16::MAX).to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn put_opt(buf: &mut Vec<u8>, id: Option<Uuid>) {
    match id {
        Some(u) => {
            buf.push(1);
            buf.extend_from_slice(u.as_bytes());
        }
        None => buf.push(0),
    }
}

/// The hash of an event at `seq` after `prev`: SHA-256 over one contiguous canonical
/// encoding (fixed-width fields, length-prefixed strings).
#[must_use]
pub fn event_hash(seq: u64, prev: &[u8; 32], e: &AuditEntry) -> [u8; 32] {
    let mut buf = Vec::with_capacity(192);
    buf.extend_from_slice(prev);
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(e.practice_id.as_uuid().as_bytes());
    buf.extend_from_slice(&e.at.timestamp_micros().to_be_bytes());
    put_opt(&mut buf, e.actor.map(|a| a.as_uuid()));
    put_str(&mut buf, &e.action);
    put_str(&mut buf, &e.resource_kind);
    buf.extend_from_slice(e.resource_id.as_bytes());
    put_opt(&mut buf, e.patient_id.map(|p| p.as_uuid()));
    buf.push(match e.outcome {
        Outcome::Allowed => 0,
        Outcome::Flagged => 1,
        Outcome::Denied => 2,
    });
    for field in [&e.request_id, &e.reason] {
        match field {
            Some(r) => {
                buf.push(1);
                put_str(&mut buf, r);
            }
            None => buf.push(0),
        }
    }
    Sha256::digest(&buf)
}

/// Seals `entry` as the event after `prev` (or the first event).
#[must_use]
pub fn seal(prev: Option<&AuditEvent>, entry: AuditEntry) -> AuditEvent {
    let (seq, prev_hash) = prev.map_or((0, [0u8; 32]), |p| (p.seq + 1, p.hash));
    let hash = event_hash(seq, &prev_hash, &entry);
    AuditEvent {
        seq,
        entry,
        prev_hash,
        hash,
    }
}

fn checkpoint_mac(key: &[u8], practice: PracticeId, seq: u64, hash: &[u8; 32]) -> [u8; 32] {
    let mut msg = Vec::with_capacity(80);
    msg.extend_from_slice(b"clinic-rs audit checkpoint v1");
    msg.extend_from_slice(practice.as_uuid().as_bytes());
    msg.extend_from_slice(&seq.to_be_bytes());
    msg.extend_from_slice(hash);
    hmac_sha256(key, &msg)
}

/// Signs a checkpoint for `event` with `key`.
#[must_use]
pub fn checkpoint(event: &AuditEvent, key: &[u8]) -> Checkpoint {
    Checkpoint {
        seq: event.seq,
        hash: event.hash,
        mac: checkpoint_mac(key, event.entry.practice_id, event.seq, &event.hash),
    }
}

/// Checks events `range` of `events`: position, link to the predecessor, content hash.
fn verify_span(practice: PracticeId, events: &[AuditEvent], range: std::ops::Range<usize>) -> Result<(), AuditError> {
    for i in range {
        let e = &events[i];
        let expected = i as u64;
        if e.seq != expected {
            return Err(AuditError::Sequence { expected, found: e.seq });
        }
        let prev = if i == 0 { [0u8; 32] } else { events[i - 1].hash };
        if !ct_eq(&e.prev_hash, &prev) {
            return Err(AuditError::BrokenLink { seq: e.seq });
        }
        if e.entry.practice_id != practice || !ct_eq(&event_hash(e.seq, &e.prev_hash, &e.entry), &e.hash) {
            return Err(AuditError::Altered { seq: e.seq });
        }
    }
    Ok(())
}

/// Verifies a practice's whole chain against the checkpoints the verifier holds.
///
/// Each event is checked against its own stored hash and its predecessor's, so long
/// chains are checked in parallel spans (CPU only); the failure reported is always the
/// first in chain order, as a sequential check would find it.
///
/// # Errors
/// The first [`AuditError`] found.
pub fn verify(
    practice: PracticeId,
    events: &[AuditEvent],
    checkpoints: &[Checkpoint],
    key: &[u8],
) -> Result<u64, AuditError> {
    const PARALLEL_FROM: usize = 50_000;
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(8);
    if events.len() < PARALLEL_FROM || threads == 1 {
        verify_span(practice, events, 0..events.len())?;
    } else {
        let per = events.len().div_ceil(threads);
        let results: Vec<Result<(), AuditError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let range = (t * per)..((t + 1) * per).min(events.len());
                    scope.spawn(move || verify_span(practice, events, range))
                })
                .collect();
            // A span's thread only computes; if one panicked, report it as that span's
            // first event being unverifiable rather than unwinding through the caller.
            handles
                .into_iter()
                .enumerate()
                .map(|(t, h)| h.join().unwrap_or(Err(AuditError::Altered { seq: (t * per) as u64 })))
                .collect()
        });
        // Spans are in chain order: the first failing span holds the first failure.
        results.into_iter().collect::<Result<Vec<()>, AuditError>>()?;
    }
    let len = events.len() as u64;
    for c in checkpoints {
        if !ct_eq(&checkpoint_mac(key, practice, c.seq, &c.hash), &c.mac) {
            return Err(AuditError::ForgedCheckpoint { seq: c.seq });
        }
        let Some(e) = usize::try_from(c.seq).ok().and_then(|i| events.get(i)) else {
            return Err(AuditError::Truncated { seq: c.seq, len });
        };
        if !ct_eq(&e.hash, &c.hash) {
            return Err(AuditError::CheckpointMismatch { seq: c.seq });
        }
    }
    Ok(len)
}

#[cfg(test)]
mod tests;
