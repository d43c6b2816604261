//! Secure messaging between a patient and the clinicians who treat them.
//!
//! A thread joins one patient and one or more of their clinicians; staff at the front
//! desk (technicians) may write in it on a clinician's behalf, and say so. The roles
//! matrix (`shared/domain/roles.md`, "secure messages") allows nobody else: practice
//! managers and administrators do not read clinical correspondence. A patient may only
//! start a thread with clinicians who treat them (`CareRelationships::treats`).
//!
//! Subjects and bodies are health information: storage keeps them sealed, notifications
//! never carry them (an email or SMS says only that a message is waiting), errors never
//! quote them, and every read is audited.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::{MessageId, PatientId, PracticeId, PractitionerId, ThreadId, UserId};
use crate::people::Role;
use crate::ports::DocumentRef;

/// The longest message body, in characters.
pub const MAX_BODY_CHARS: usize = 10_000;
/// The most clinicians in one thread.
pub const MAX_CLINICIANS: usize = 5;
/// The most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 5;

/// How long an uploaded file waits to be attached to a message: a day. After it, the
/// upload is no longer the uploader's to attach.
pub const UPLOAD_TTL: chrono::Duration = chrono::Duration::days(1);
/// The most files one account uploads in a day.
pub const MAX_UPLOADS_PER_DAY: usize = 20;
/// The most bytes one account uploads in a day: 50 MiB (ten files at the 5 MiB limit).
pub const MAX_UPLOAD_BYTES_PER_DAY: u64 = 50 * 1024 * 1024;

/// A file an account uploaded for its messages: what it may attach, and what counts
/// against its daily quota.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadRecord {
    /// Who uploaded it.
    pub user_id: UserId,
    /// The file.
    pub document: DocumentRef,
    /// When.
    pub at: DateTime<Utc>,
}

/// Whether an account that uploaded `recent` (its uploads of the last [`UPLOAD_TTL`]) may
/// upload `size` more bytes.
#[must_use]
pub fn upload_fits(recent: &[UploadRecord], size: u64) -> bool {
    let used: u64 = recent.iter().map(|u| u.document.size).sum();
    recent.len() < MAX_UPLOADS_PER_DAY && used.saturating_add(size) <= MAX_UPLOAD_BYTES_PER_DAY
}

/// How far one reader has read a thread: every message sent at or before `up_to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadMark {
    /// The reader.
    pub user_id: UserId,
    /// Read up to this instant.
    pub up_to: DateTime<Utc>,
}

/// A conversation between a patient and their clinicians.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Thread {
    /// Id.
    pub id: ThreadId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The patient.
    pub patient_id: PatientId,
    /// The clinicians in it (one to five, each treating the patient when added).
    pub practitioner_ids: Vec<PractitionerId>,
    /// What it is about, as its starter put it.
    pub subject: String,
    /// When it was started.
    pub started_at: DateTime<Utc>,
}

/// Who has read a message sent at `at`, by the thread's read marks.
#[must_use]
pub fn readers(marks: &[ReadMark], at: DateTime<Utc>) -> Vec<UserId> {
    marks.iter().filter(|m| m.up_to >= at).map(|m| m.user_id).collect()
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Author {
    /// The user.
    pub user_id: UserId,
    /// The role they wrote in.
    pub role: Role,
    /// The clinician they wrote as or for (none for the patient).
    pub practitioner_id: Option<PractitionerId>,
    /// Written by staff on the clinician's behalf.
    pub on_behalf: bool,
}

/// One message in a thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// Id.
    pub id: MessageId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The thread.
    pub thread_id: ThreadId,
    /// Who wrote it.
    pub author: Author,
    /// The text.
    pub body: String,
    /// Documents it refers to (stored in the document store, sealed).
    pub attachments: Vec<DocumentRef>,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

/// A message body: trimmed, 1 to [`MAX_BODY_CHARS`] characters, no control characters but
/// line breaks and tabs.
///
/// # Errors
/// [`FieldError`] on `body` (never quoting it).
pub fn message_body(text: &str) -> Result<String, FieldError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(FieldError::new("body", "must not be blank"));
    }
    if t.chars().count() > MAX_BODY_CHARS {
        return Err(FieldError::new(
            "body",
            format!("must be at most {MAX_BODY_CHARS} characters"),
        ));
    }
    if t.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(FieldError::new("body", "must not contain control characters"));
    }
    Ok(t.to_owned())
}

/// A thread's subject: 1 to 200 characters on one line.
///
/// # Errors
/// [`FieldError`] on `subject`.
pub fn subject(text: &str) -> Result<String, FieldError> {
    crate::practice::non_blank("subject", text, 200)
}

/// Attachments: at most [`MAX_ATTACHMENTS`], each a well-formed reference.
///
/// # Errors
/// [`FieldError`] on `attachments`.
pub fn attachments(refs: &[DocumentRef]) -> Result<(), FieldError> {
    if refs.len() > MAX_ATTACHMENTS {
        return Err(FieldError::new(
            "attachments",
            format!("at most {MAX_ATTACHMENTS} per message"),
        ));
    }
    if !refs.iter().all(DocumentRef::is_well_formed) {
        return Err(FieldError::new(
            "attachments",
            "each digest must be 64 lowercase hex digits",
        ));
    }
    Ok(())
}

/// The clinicians of a new thread: one to [`MAX_CLINICIANS`], without repeats.
///
/// # Errors
/// [`FieldError`] on `practitioner_ids`.
pub fn clinicians(ids: &[PractitionerId]) -> Result<Vec<PractitionerId>, FieldError> {
    let mut v = ids.to_vec();
    v.sort();
    v.dedup();
    if v.is_empty() || v.len() > MAX_CLINICIANS || v.len() != ids.len() {
        return Err(FieldError::new(
            "practitioner_ids",
            format!("must name 1 to {MAX_CLINICIANS} different clinicians"),
        ));
    }
    Ok(ids.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn bodies_are_trimmed_bounded_and_never_quoted_in_errors() {
        assert_eq!(message_body("  See you Tuesday.\n").unwrap(), "See you Tuesday.");
        assert!(message_body(" \n ").is_err());
        let long = "x".repeat(MAX_BODY_CHARS);
        assert!(message_body(&long).is_ok());
        let e = message_body(&format!("{long}y")).unwrap_err();
        assert!(!e.to_string().contains('x'));
        assert!(message_body("line one\nline two\tend").is_ok());
        let e = message_body("secret\u{0007}").unwrap_err();
        assert!(!e.to_string().contains("secret"));
    }

    #[test]
    fn a_thread_names_one_to_five_different_clinicians() {
        let p = |n| PractitionerId::from_uuid(Uuid::from_u128(n));
        assert!(clinicians(&[]).is_err());
        assert!(clinicians(&[p(1), p(1)]).is_err());
        assert!(clinicians(&[p(1), p(2), p(3), p(4), p(5)]).is_ok());
        assert!(clinicians(&[p(1), p(2), p(3), p(4), p(5), p(6)]).is_err());
    }

    #[test]
    fn a_read_mark_covers_what_was_sent_up_to_it_and_nothing_after() {
        let (a, b) = (
            UserId::from_uuid(Uuid::from_u128(7)),
            UserId::from_uuid(Uuid::from_u128(8)),
        );
        let marks = [
            ReadMark {
                user_id: a,
                up_to: at("2026-12-01T01:00:00Z"),
            },
            ReadMark {
                user_id: b,
                up_to: at("2026-12-01T00:30:00Z"),
            },
        ];
        assert_eq!(readers(&marks, at("2026-12-01T00:30:00Z")), [a, b]);
        assert_eq!(readers(&marks, at("2026-12-01T01:00:00Z")), [a]);
        assert!(readers(&marks, at("2026-12-01T01:00:00.000001Z")).is_empty());
    }

    #[test]
    fn attachments_are_bounded_references() {
        let ok = DocumentRef {
            digest: "a".repeat(64),
            kind: crate::ports::DocumentType::Pdf,
            size: 10,
        };
        assert!(attachments(std::slice::from_ref(&ok)).is_ok());
        let bad = DocumentRef {
            digest: "../../etc/passwd".into(),
            ..ok.clone()
        };
        assert!(attachments(&[bad]).is_err());
        assert!(attachments(&vec![ok; MAX_ATTACHMENTS + 1]).is_err());
    }
}
