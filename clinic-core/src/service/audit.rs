//! Audit chain checkpoints and verification.

use std::sync::Arc;

use super::error::ServiceError;
use crate::audit::{AuditError, Checkpoint, checkpoint, verify};
use crate::ids::PracticeId;
use crate::ports::AuditLog;

/// Reads the chain in pages of this many events.
const PAGE: usize = 10_000;

/// Signs checkpoints and verifies the chain. The key is the deployment's, supplied by
/// configuration and never stored beside the data.
#[derive(Clone)]
pub struct AuditService {
    log: Arc<dyn AuditLog>,
}

impl AuditService {
    /// A service over the audit log.
    #[must_use]
    pub fn new(log: Arc<dyn AuditLog>) -> Self {
        Self { log }
    }

    async fn all_events(&self, practice: PracticeId) -> Result<Vec<crate::audit::AuditEvent>, ServiceError> {
        let mut events = Vec::new();
        loop {
            let page = self.log.events(practice, events.len() as u64, PAGE).await?;
            let done = page.len() < PAGE;
            events.extend(page);
            if done {
                return Ok(events);
            }
        }
    }

    /// Signs and stores a checkpoint of the chain's newest event (a periodic job calls
    /// this). `None` when the chain is empty.
    ///
    /// # Errors
    /// Port errors.
    pub async fn checkpoint(&self, practice: PracticeId, key: &[u8]) -> Result<Option<Checkpoint>, ServiceError> {
        let events = self.all_events(practice).await?;
        let Some(head) = events.last() else { return Ok(None) };
        let cp = checkpoint(head, key);
        self.log.save_checkpoint(practice, &cp).await?;
        Ok(Some(cp))
    }

    /// Signs a checkpoint when `every` events or more were appended since the last one (or
    /// there is none yet): the periodic checkpoint, called by a job or after appends.
    ///
    /// # Errors
    /// Port errors.
    pub async fn checkpoint_if_due(
        &self,
        practice: PracticeId,
        key: &[u8],
        every: u64,
    ) -> Result<Option<Checkpoint>, ServiceError> {
        let last = self.log.checkpoints(practice).await?.into_iter().map(|c| c.seq).max();
        let next_seq = last.map_or(0, |s| s + every.max(1));
        // Only the page at the due position is read: is there an event there yet?
        if self.log.events(practice, next_seq, 1).await?.is_empty() {
            return Ok(None);
        }
        self.checkpoint(practice, key).await
    }

    /// Verifies the whole chain against every stored checkpoint, plus any the caller kept
    /// elsewhere (so deleting stored checkpoints with the newest events is caught too).
    /// Returns the number of events verified.
    ///
    /// # Errors
    /// Port errors; `Ok(Err(..))` carries the first tampering found.
    pub async fn verify(
        &self,
        practice: PracticeId,
        key: &[u8],
        kept: &[Checkpoint],
    ) -> Result<Result<u64, AuditError>, ServiceError> {
        let events = self.all_events(practice).await?;
        let mut cps = self.log.checkpoints(practice).await?;
        cps.extend(kept.iter().cloned());
        Ok(verify(practice, &events, &cps, key))
    }
}
