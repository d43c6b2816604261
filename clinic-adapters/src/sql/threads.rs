//! The secure-messaging port over [`SqlStore`]. Threads (owned by their patient) and
//! messages (owned by their thread) are sealed records; a clinician's membership of a
//! thread and each reader's mark are plain records of ids and times, so listing a
//! clinician's threads opens only theirs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clinic_core::ids::{PatientId, PracticeId, PractitionerId, ThreadId, UserId};
use clinic_core::messaging::{Message, ReadMark, Thread, UploadRecord};
use clinic_core::ports::{MessageRepository, PortError};
use uuid::Uuid;

use super::ports::upsert_record;
use super::{Kind, SqlStore, fail, uuid_key, write_tx};

fn oldest_first(mut v: Vec<Thread>) -> Vec<Thread> {
    v.sort_by_key(|t| (t.started_at, t.id));
    v
}

#[async_trait]
impl MessageRepository for SqlStore {
    async fn save_thread(&self, thread: &Thread) -> Result<(), PortError> {
        let practice = thread.practice_id;
        let key = uuid_key(thread.id.as_uuid());
        let mut rows = vec![(
            Kind::Thread,
            key.clone(),
            thread.patient_id.as_uuid(),
            self.encode(practice, Kind::Thread, &key, thread)?,
        )];
        for p in &thread.practitioner_ids {
            let member = format!("{}:{key}", uuid_key(p.as_uuid()));
            let body = self.encode(practice, Kind::ThreadMember, &member, &thread.id)?;
            rows.push((Kind::ThreadMember, member, p.as_uuid(), body));
        }
        // The thread and its memberships land together or not at all.
        write_tx!(self, practice, |c| {
            for (kind, key, owner, body) in &rows {
                upsert_record!(c, practice, kind, key, owner, body);
            }
        });
        Ok(())
    }

    async fn thread(&self, practice: PracticeId, id: ThreadId) -> Result<Thread, PortError> {
        self.must_get(practice, Kind::Thread, &uuid_key(id.as_uuid()), "thread")
            .await
    }

    async fn patient_threads(&self, practice: PracticeId, patient: PatientId) -> Result<Vec<Thread>, PortError> {
        Ok(oldest_first(
            self.list(practice, Kind::Thread, Some(patient.as_uuid())).await?,
        ))
    }

    async fn practitioner_threads(
        &self,
        practice: PracticeId,
        practitioner: PractitionerId,
    ) -> Result<Vec<Thread>, PortError> {
        let ids: Vec<ThreadId> = self
            .list(practice, Kind::ThreadMember, Some(practitioner.as_uuid()))
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(t) = self.get(practice, Kind::Thread, &uuid_key(id.as_uuid())).await? {
                out.push(t);
            }
        }
        Ok(oldest_first(out))
    }

    async fn all_threads(&self, practice: PracticeId) -> Result<Vec<Thread>, PortError> {
        Ok(oldest_first(self.list(practice, Kind::Thread, None).await?))
    }

    async fn add_message(&self, message: &Message) -> Result<(), PortError> {
        let key = uuid_key(message.id.as_uuid());
        self.put(
            message.practice_id,
            Kind::Message,
            &key,
            Some(message.thread_id.as_uuid()),
            message,
        )
        .await
    }

    async fn messages(&self, practice: PracticeId, thread: ThreadId) -> Result<Vec<Message>, PortError> {
        let mut v: Vec<Message> = self.list(practice, Kind::Message, Some(thread.as_uuid())).await?;
        v.sort_by_key(|m| (m.sent_at, m.id));
        Ok(v)
    }

    async fn mark_read(&self, practice: PracticeId, thread: ThreadId, mark: ReadMark) -> Result<(), PortError> {
        let key = format!("{}:{}", uuid_key(thread.as_uuid()), mark.user_id);
        let current: Option<ReadMark> = self.get(practice, Kind::ReadMark, &key).await?;
        if current.is_some_and(|c| c.up_to >= mark.up_to) {
            return Ok(());
        }
        let owner: Uuid = thread.as_uuid();
        self.put(practice, Kind::ReadMark, &key, Some(owner), &mark).await
    }

    async fn read_marks(&self, practice: PracticeId, thread: ThreadId) -> Result<Vec<ReadMark>, PortError> {
        self.list(practice, Kind::ReadMark, Some(thread.as_uuid())).await
    }

    async fn record_upload(&self, practice: PracticeId, upload: &UploadRecord) -> Result<(), PortError> {
        let key = uuid_key(Uuid::now_v7());
        self.put(practice, Kind::Upload, &key, Some(upload.user_id.as_uuid()), upload)
            .await
    }

    async fn uploads(
        &self,
        practice: PracticeId,
        user: UserId,
        since: DateTime<Utc>,
    ) -> Result<Vec<UploadRecord>, PortError> {
        let mut v: Vec<UploadRecord> = self.list(practice, Kind::Upload, Some(user.as_uuid())).await?;
        v.retain(|u| u.at >= since);
        v.sort_by_key(|u| u.at);
        Ok(v)
    }
}
