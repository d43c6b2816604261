//! Secure messaging: threads between a patient and the clinicians who treat them, written
//! in by those clinicians, by the patient, and by the front desk on a clinician's behalf.
//!
//! Every attempt to start, read, list or write is decided by `access::decide` (the
//! "secure messages" row) and audited, never with the content. A patient learns that a
//! message waits by their usual channels; the notice says nothing of what it says.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::clinical::Actor;
use super::error::{Refusal, ServiceError};
use super::guard::{Target, decide_and_audit};
use super::notifications::NotificationService;
use crate::FieldError;
use crate::access::{Action, Area, RecordFacts, Relation, Request};
use crate::ids::{MessageId, PatientId, PractitionerId, ThreadId, UserId};
use crate::messaging::{self, Author, Message, ReadMark, Thread, UploadRecord, readers};
use crate::people::Role;
use crate::ports::{AuditLog, CareRelationships, Clock, DocumentRef, IdGenerator, IdGeneratorExt, MessageRepository};

/// The ports messaging needs.
#[derive(Clone)]
pub struct MessagingPorts {
    /// Threads and messages.
    pub messages: Arc<dyn MessageRepository>,
    /// Who treats whom.
    pub care: Arc<dyn CareRelationships>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Notices that a message waits.
    pub notices: NotificationService,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

/// A new thread and its first message.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewThread {
    /// The patient.
    pub patient_id: PatientId,
    /// The clinicians (one to five, each treating the patient).
    pub practitioner_ids: Vec<PractitionerId>,
    /// What it is about.
    pub subject: String,
    /// The first message.
    pub body: String,
    /// Documents it refers to.
    #[serde(default)]
    pub attachments: Vec<DocumentRef>,
    /// For the front desk: the clinician written for.
    #[serde(default)]
    pub on_behalf_of: Option<PractitionerId>,
}

/// A message to an existing thread.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// The text.
    pub body: String,
    /// Documents it refers to.
    #[serde(default)]
    pub attachments: Vec<DocumentRef>,
    /// For the front desk: the clinician written for.
    #[serde(default)]
    pub on_behalf_of: Option<PractitionerId>,
}

/// A thread in a list: no message text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThreadSummary {
    /// The thread.
    pub thread: Thread,
    /// Messages in it.
    pub messages: usize,
    /// Messages the reader did not write and has not read.
    pub unread: usize,
    /// When the latest was sent.
    pub last_message_at: DateTime<Utc>,
}

/// A message with who has read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageView {
    /// The message.
    #[serde(flatten)]
    pub message: Message,
    /// Read receipts: the users who have read it (its author aside).
    pub read_by: Vec<UserId>,
}

/// A thread opened: its messages, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThreadView {
    /// The thread.
    pub thread: Thread,
    /// Its messages.
    pub messages: Vec<MessageView>,
}

/// The secure-messaging use cases.
#[derive(Clone)]
pub struct MessagingService {
    ports: MessagingPorts,
}

impl MessagingService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: MessagingPorts) -> Self {
        Self { ports }
    }

    /// Who `actor` writes as in a thread of `patient` with `clinicians`, and whether that
    /// is their own (the matrix's "own"): the patient themselves; a clinician in the
    /// thread who treats the patient; the front desk for a clinician of the thread.
    async fn author(
        &self,
        actor: &Actor,
        patient: PatientId,
        clinicians: &[PractitionerId],
        on_behalf_of: Option<PractitionerId>,
    ) -> Result<(Author, Relation), ServiceError> {
        let author = |practitioner_id, on_behalf| Author {
            user_id: actor.user_id,
            role: actor.role,
            practitioner_id,
            on_behalf,
        };
        let own = |b: bool| if b { Relation::Own } else { Relation::Other };
        Ok(match actor.role {
            Role::Patient => (author(None, false), own(actor.acts_for(patient))),
            Role::Psychologist | Role::Doctor => {
                let me = actor.practitioner_id;
                let mine = match me {
                    Some(me) if clinicians.contains(&me) => {
                        super::care::treats_now(&*self.ports.care, &*self.ports.clock, actor.practice_id, me, patient)
                            .await?
                    }
                    _ => false,
                };
                (author(me, false), own(mine))
            }
            Role::Technician => {
                let Some(for_whom) = on_behalf_of else {
                    return Err(
                        FieldError::new("on_behalf_of", "the front desk writes for a clinician of the thread").into(),
                    );
                };
                if !clinicians.contains(&for_whom) {
                    return Err(FieldError::new("on_behalf_of", "is not a clinician of the thread").into());
                }
                (author(Some(for_whom), true), Relation::Other)
            }
            Role::PracticeManager | Role::Admin => (author(None, false), Relation::Other),
        })
    }

    async fn gate(
        &self,
        actor: &Actor,
        action: Action,
        relation: Relation,
        thread: ThreadId,
        patient: PatientId,
        code: &str,
    ) -> Result<(), ServiceError> {
        let request = Request {
            role: actor.role,
            action,
            area: Area::Messages,
            relation,
            facts: RecordFacts::default(),
            break_glass: false,
        };
        decide_and_audit(
            self.ports.audit.as_ref(),
            self.ports.clock.as_ref(),
            actor,
            &request,
            Target {
                kind: "message_thread",
                id: thread.as_uuid(),
                patient,
                code,
                reason: None,
            },
        )
        .await?;
        Ok(())
    }

    async fn reader_relation(&self, actor: &Actor, thread: &Thread) -> Result<Relation, ServiceError> {
        if actor.role == Role::Technician {
            return Ok(Relation::Other);
        }
        Ok(self
            .author(actor, thread.patient_id, &thread.practitioner_ids, None)
            .await?
            .1)
    }

    /// Starts a thread with its first message. A patient may only write to clinicians who
    /// treat them, a clinician only in a thread they are in, the front desk only for a
    /// clinician of the thread; every clinician named must treat the patient.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited); [`ServiceError::Invalid`] for a bad field or a
    /// clinician who does not treat the patient.
    pub async fn start(&self, actor: &Actor, new: &NewThread) -> Result<ThreadView, ServiceError> {
        let clinicians = messaging::clinicians(&new.practitioner_ids)?;
        let (author, relation) = self
            .author(actor, new.patient_id, &clinicians, new.on_behalf_of)
            .await?;
        let id: ThreadId = self.ports.ids.new_id();
        self.gate(
            actor,
            Action::Write,
            relation,
            id,
            new.patient_id,
            "message_thread.create",
        )
        .await?;
        for p in &clinicians {
            if !super::care::treats_now(
                &*self.ports.care,
                &*self.ports.clock,
                actor.practice_id,
                *p,
                new.patient_id,
            )
            .await?
            {
                return Err(
                    FieldError::new("practitioner_ids", "may only name clinicians who treat the patient").into(),
                );
            }
        }
        let subject = messaging::subject(&new.subject)?;
        let body = messaging::message_body(&new.body)?;
        messaging::attachments(&new.attachments)?;
        self.own_uploads(actor, &new.attachments).await?;
        let now = self.ports.clock.now();
        let thread = Thread {
            id,
            practice_id: actor.practice_id,
            patient_id: new.patient_id,
            practitioner_ids: clinicians,
            subject,
            started_at: now,
        };
        self.ports.messages.save_thread(&thread).await?;
        let message = self
            .append(actor, &thread, author, body, new.attachments.clone())
            .await?;
        Ok(ThreadView {
            thread,
            messages: vec![MessageView {
                message,
                read_by: Vec::new(),
            }],
        })
    }

    /// Writes in a thread.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a thread not in the practice; [`ServiceError::Forbidden`]
    /// (audited); [`ServiceError::Invalid`] for a bad field.
    pub async fn post(&self, actor: &Actor, thread: ThreadId, new: &NewMessage) -> Result<MessageView, ServiceError> {
        let thread = self.thread_of(actor, thread).await?;
        let (author, relation) = self
            .author(actor, thread.patient_id, &thread.practitioner_ids, new.on_behalf_of)
            .await?;
        self.gate(
            actor,
            Action::Write,
            relation,
            thread.id,
            thread.patient_id,
            "message.write",
        )
        .await?;
        let body = messaging::message_body(&new.body)?;
        messaging::attachments(&new.attachments)?;
        self.own_uploads(actor, &new.attachments).await?;
        let message = self
            .append(actor, &thread, author, body, new.attachments.clone())
            .await?;
        Ok(MessageView {
            message,
            read_by: Vec::new(),
        })
    }

    /// Refuses attachments the actor did not upload in the last [`messaging::UPLOAD_TTL`]:
    /// files are content-addressed, so knowing another patient's digest must not be enough
    /// to attach (and then read) their file.
    async fn own_uploads(&self, actor: &Actor, attachments: &[DocumentRef]) -> Result<(), ServiceError> {
        if attachments.is_empty() {
            return Ok(());
        }
        let since = self.ports.clock.now() - messaging::UPLOAD_TTL;
        let mine = self
            .ports
            .messages
            .uploads(actor.practice_id, actor.user_id, since)
            .await?;
        if attachments
            .iter()
            .all(|a| mine.iter().any(|u| u.document.digest == a.digest))
        {
            Ok(())
        } else {
            Err(Refusal::NotYourUpload.into())
        }
    }

    /// Whether `actor` may upload a file of `size` bytes for their messages today: anyone
    /// who may write messages, within the daily quota.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; [`Refusal::UploadQuota`].
    pub async fn may_upload(&self, actor: &Actor, size: u64) -> Result<(), ServiceError> {
        let allowed = crate::access::decide(&Request {
            role: actor.role,
            action: Action::Write,
            area: Area::Messages,
            relation: Relation::Own,
            facts: RecordFacts::default(),
            break_glass: false,
        }) != crate::access::Decision::Deny;
        if !allowed {
            return Err(ServiceError::Forbidden);
        }
        let since = self.ports.clock.now() - messaging::UPLOAD_TTL;
        let recent = self
            .ports
            .messages
            .uploads(actor.practice_id, actor.user_id, since)
            .await?;
        if messaging::upload_fits(&recent, size) {
            Ok(())
        } else {
            Err(Refusal::UploadQuota.into())
        }
    }

    /// Records a file `actor` uploaded for their messages, and audits the filing (the
    /// digest and size only; no patient is named until the file is attached).
    ///
    /// # Errors
    /// Port errors.
    pub async fn record_upload(&self, actor: &Actor, document: &DocumentRef) -> Result<(), ServiceError> {
        let at = self.ports.clock.now();
        self.ports
            .messages
            .record_upload(
                actor.practice_id,
                &UploadRecord {
                    user_id: actor.user_id,
                    document: document.clone(),
                    at,
                },
            )
            .await?;
        self.ports
            .audit
            .append(crate::audit::AuditEntry {
                practice_id: actor.practice_id,
                at,
                actor: Some(actor.user_id),
                action: "attachment.upload".into(),
                resource_kind: "document".into(),
                resource_id: uuid::Uuid::nil(),
                patient_id: actor.patient_id,
                outcome: crate::audit::Outcome::Allowed,
                request_id: actor.request_id.clone(),
                reason: None,
            })
            .await?;
        Ok(())
    }

    async fn append(
        &self,
        actor: &Actor,
        thread: &Thread,
        author: Author,
        body: String,
        attachments: Vec<DocumentRef>,
    ) -> Result<Message, ServiceError> {
        let id: MessageId = self.ports.ids.new_id();
        let message = Message {
            id,
            practice_id: actor.practice_id,
            thread_id: thread.id,
            author,
            body,
            attachments,
            sent_at: self.ports.clock.now(),
        };
        self.ports.messages.add_message(&message).await?;
        // The writer has read what they wrote and everything before it.
        self.ports
            .messages
            .mark_read(
                actor.practice_id,
                thread.id,
                ReadMark {
                    user_id: actor.user_id,
                    up_to: message.sent_at,
                },
            )
            .await?;
        if actor.role == Role::Patient {
            self.ports
                .notices
                .message_for_clinicians(actor.practice_id, &thread.practitioner_ids, thread.id, id)
                .await?;
        } else {
            self.ports
                .notices
                .message_waiting(actor.practice_id, thread.patient_id, thread.id, id)
                .await?;
        }
        Ok(message)
    }

    async fn thread_of(&self, actor: &Actor, id: ThreadId) -> Result<Thread, ServiceError> {
        self.ports
            .messages
            .thread(actor.practice_id, id)
            .await
            .map_err(ServiceError::from_port("thread"))
    }

    /// Opens a thread: its messages with their read receipts. Opening marks everything in
    /// it read by the reader.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Forbidden`] (audited).
    pub async fn read(&self, actor: &Actor, id: ThreadId) -> Result<ThreadView, ServiceError> {
        let thread = self.thread_of(actor, id).await?;
        let relation = self.reader_relation(actor, &thread).await?;
        self.gate(
            actor,
            Action::Read,
            relation,
            thread.id,
            thread.patient_id,
            "message_thread.read",
        )
        .await?;
        let messages = self.ports.messages.messages(actor.practice_id, id).await?;
        if let Some(last) = messages.last() {
            self.ports
                .messages
                .mark_read(
                    actor.practice_id,
                    id,
                    ReadMark {
                        user_id: actor.user_id,
                        up_to: last.sent_at,
                    },
                )
                .await?;
        }
        let marks = self.ports.messages.read_marks(actor.practice_id, id).await?;
        let messages = messages
            .into_iter()
            .map(|m| {
                let mut read_by = readers(&marks, m.sent_at);
                read_by.retain(|u| *u != m.author.user_id);
                MessageView { message: m, read_by }
            })
            .collect();
        Ok(ThreadView { thread, messages })
    }

    /// The threads the actor may read, most recent activity first, with unread counts: a
    /// patient's own, a clinician's, every thread for the front desk. Each listed thread is
    /// audited as a read of its subject.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for a role with no messages.
    pub async fn threads(&self, actor: &Actor) -> Result<Vec<ThreadSummary>, ServiceError> {
        let practice = actor.practice_id;
        let threads = match (actor.role, actor.patient_id, actor.practitioner_id) {
            (Role::Patient, me, _) if me.is_some() || !actor.guardian_of.is_empty() => {
                // Their own threads and those of every minor they are guardian of.
                let mut all = Vec::new();
                for patient in me.iter().chain(&actor.guardian_of) {
                    all.extend(self.ports.messages.patient_threads(practice, *patient).await?);
                }
                all
            }
            (Role::Psychologist | Role::Doctor, _, Some(me)) => {
                self.ports.messages.practitioner_threads(practice, me).await?
            }
            (Role::Technician, _, _) => self.ports.messages.all_threads(practice).await?,
            _ => return Err(ServiceError::Forbidden),
        };
        let mut out = Vec::with_capacity(threads.len());
        for thread in threads {
            let relation = self.reader_relation(actor, &thread).await?;
            match self
                .gate(
                    actor,
                    Action::Read,
                    relation,
                    thread.id,
                    thread.patient_id,
                    "message_thread.list",
                )
                .await
            {
                Ok(()) => {}
                // A clinician who no longer treats the patient, say: left out, the refusal
                // audited.
                Err(ServiceError::Forbidden) => continue,
                Err(e) => return Err(e),
            }
            let messages = self.ports.messages.messages(practice, thread.id).await?;
            let marks = self.ports.messages.read_marks(practice, thread.id).await?;
            let mine = marks.iter().find(|m| m.user_id == actor.user_id).map(|m| m.up_to);
            let unread = messages
                .iter()
                .filter(|m| m.author.user_id != actor.user_id && mine.is_none_or(|up_to| m.sent_at > up_to))
                .count();
            out.push(ThreadSummary {
                last_message_at: messages.last().map_or(thread.started_at, |m| m.sent_at),
                messages: messages.len(),
                unread,
                thread,
            });
        }
        out.sort_by_key(|t| std::cmp::Reverse(t.last_message_at));
        Ok(out)
    }
}
