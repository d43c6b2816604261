//! The secure-messaging port: threads, their messages and read marks.

use async_trait::async_trait;

use super::PortError;
use chrono::{DateTime, Utc};

use crate::ids::{PatientId, PracticeId, PractitionerId, ThreadId, UserId};
use crate::messaging::{Message, ReadMark, Thread, UploadRecord};

/// Secure-messaging threads. Implementations store subjects and bodies encrypted at rest
/// (`FieldCipher`); read marks and memberships hold ids and times only.
///
/// # Contract
/// - `save_thread` inserts or replaces by id; the `*_threads` lists hold each thread once,
///   oldest first, and never another practice's.
/// - `add_message` appends; `messages` lists a thread's messages oldest first (by time
///   sent, then id).
/// - `mark_read` keeps, per thread and reader, the latest mark given (a mark never moves
///   back); `read_marks` returns one per reader.
/// - `record_upload` appends; `uploads` lists one user's uploads at or after `since`,
///   oldest first, never another user's or practice's.
#[async_trait]
pub trait MessageRepository: Send + Sync + 'static {
    /// Inserts or replaces a thread.
    async fn save_thread(&self, thread: &Thread) -> Result<(), PortError>;
    /// A thread.
    async fn thread(&self, practice: PracticeId, id: ThreadId) -> Result<Thread, PortError>;
    /// A patient's threads.
    async fn patient_threads(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Thread>, PortError>;
    /// The threads a clinician is in.
    async fn practitioner_threads(
        &self,
        practice: PracticeId,
        practitioner: PractitionerId,
    ) -> Result<Vec<Thread>, PortError>;
    /// Every thread of the practice.
    async fn all_threads(&self, practice: PracticeId) -> Result<Vec<Thread>, PortError>;
    /// Appends a message to its thread.
    async fn add_message(&self, message: &Message) -> Result<(), PortError>;
    /// A thread's messages, oldest first.
    async fn messages(&self, practice: PracticeId, thread: ThreadId) -> Result<Vec<Message>, PortError>;
    /// Moves a reader's mark forward (never back).
    async fn mark_read(&self, practice: PracticeId, thread: ThreadId, mark: ReadMark) -> Result<(), PortError>;
    /// Every reader's mark on a thread.
    async fn read_marks(&self, practice: PracticeId, thread: ThreadId) -> Result<Vec<ReadMark>, PortError>;
    /// Records a file a user uploaded for their messages.
    async fn record_upload(&self, practice: PracticeId, upload: &UploadRecord) -> Result<(), PortError>;
    /// A user's uploads since `since`, oldest first.
    async fn uploads(
        &self,
        practice: PracticeId,
        user: UserId,
        since: DateTime<Utc>,
    ) -> Result<Vec<UploadRecord>, PortError>;
}
