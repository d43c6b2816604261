//! Background jobs: the compliance sweep (credential warnings, suspensions, overdue access
//! requests) and signed audit checkpoints, run for the practice on an interval until the
//! server shuts down.
//!
//! Both are idempotent, so a run repeated after a restart or on a second replica changes
//! nothing: the sweep records each warning once and acts on a credential state once, and a
//! checkpoint is signed only when enough events were appended since the last.

use std::sync::Arc;
use std::time::Duration;

use clinic_core::credentials::RenewalRules;
use clinic_core::ids::PracticeId;
use clinic_core::ports::{Clock, Storage};
use clinic_core::service::{
    AuditService, BookingService, CompliancePorts, ComplianceReport, ComplianceService, ServiceError,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Sign a checkpoint after this many new audit events.
pub const CHECKPOINT_EVERY: u64 = 1000;

/// What one round of jobs did.
#[derive(Debug)]
pub struct Round {
    /// The sweep's report.
    pub compliance: ComplianceReport,
    /// The position of the checkpoint signed this round, if one was due.
    pub checkpoint: Option<u64>,
}

/// The jobs of one practice.
#[derive(Clone)]
pub struct Jobs {
    practice: PracticeId,
    compliance: ComplianceService,
    audit: AuditService,
    audit_key: Arc<Vec<u8>>,
}

impl Jobs {
    /// Jobs for `practice` over `store`, cancelling through `booking`, signing checkpoints
    /// with `audit_key`.
    #[must_use]
    pub fn new(
        practice: PracticeId,
        store: &Arc<dyn Storage>,
        booking: BookingService,
        clock: Arc<dyn Clock>,
        audit_key: Vec<u8>,
    ) -> Self {
        let compliance = ComplianceService::new(
            CompliancePorts {
                practices: store.clone(),
                practitioners: store.clone(),
                credentials: store.clone(),
                appointments: store.clone(),
                log: store.clone(),
                privacy: store.clone(),
                clock,
            },
            booking,
            RenewalRules::history(),
        );
        Self {
            practice,
            compliance,
            audit: AuditService::new(store.clone()),
            audit_key: Arc::new(audit_key),
        }
    }

    /// Runs every job once.
    ///
    /// # Errors
    /// The first job's failure; the next round tries again.
    pub async fn run_once(&self) -> Result<Round, ServiceError> {
        let compliance = self.compliance.run(self.practice).await?;
        let checkpoint = self
            .audit
            .checkpoint_if_due(self.practice, &self.audit_key, CHECKPOINT_EVERY)
            .await?
            .map(|c| c.seq);
        Ok(Round { compliance, checkpoint })
    }

    /// Runs the jobs now and then every `interval` until `stop` turns true; a round in
    /// progress is finished first. Failures are logged (never with health data: only the
    /// error's code) and retried next round.
    #[must_use]
    pub fn spawn(self, interval: Duration, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                match self.run_once().await {
                    Ok(round) => {
                        tracing::info!(
                            practice = %self.practice,
                            actions = round.compliance.actions.len(),
                            overdue_access_requests = round.compliance.overdue_access_requests.len(),
                            checkpoint = ?round.checkpoint,
                            "background jobs ran"
                        );
                    }
                    Err(e) => {
                        let code = e.code();
                        tracing::warn!(practice = %self.practice, code, "background jobs failed; retrying next round");
                    }
                }
            }
            tracing::info!("background jobs stopped");
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppState;
    use clinic_adapters::memory::MemoryStore;
    use clinic_adapters::system::{SettableClock, UuidV7Ids};
    use clinic_core::audit::{AuditEntry, Outcome};
    use clinic_core::ports::IdGeneratorExt;

    async fn setup() -> (Jobs, Arc<dyn Storage>, PracticeId) {
        let store: Arc<dyn Storage> = Arc::new(MemoryStore::new());
        let practice: PracticeId = UuidV7Ids.new_id();
        let clock = Arc::new(SettableClock::new("2026-11-23T00:00:00Z".parse().unwrap()));
        let state = AppState::with_clock(store.clone(), practice, clock.clone());
        crate::demo::seed(&state, practice, "2026-11-23".parse().unwrap())
            .await
            .unwrap();
        let jobs = Jobs::new(practice, &store, state.booking.clone(), clock, vec![7; 32]);
        (jobs, store, practice)
    }

    #[tokio::test]
    async fn a_round_sweeps_and_signs_a_checkpoint_only_when_due() {
        let (jobs, store, practice) = setup().await;
        let first = jobs.run_once().await.unwrap();
        assert_eq!(first.checkpoint, None, "an empty chain has nothing to sign");
        store
            .append(AuditEntry {
                practice_id: practice,
                at: "2026-11-23T00:00:00Z".parse().unwrap(),
                actor: None,
                action: "note.read".into(),
                resource_kind: "progress_note".into(),
                resource_id: uuid::Uuid::nil(),
                patient_id: None,
                outcome: Outcome::Allowed,
                request_id: None,
                reason: None,
            })
            .await
            .unwrap();
        assert_eq!(jobs.run_once().await.unwrap().checkpoint, Some(0));
        assert_eq!(jobs.run_once().await.unwrap().checkpoint, None, "not due again yet");
        let verified = AuditService::new(store.clone())
            .verify(practice, &[7; 32], &[])
            .await
            .unwrap();
        assert_eq!(verified, Ok(1));
    }

    #[tokio::test]
    async fn the_loop_runs_until_told_to_stop() {
        let (jobs, store, practice) = setup().await;
        let (stop, stopped) = watch::channel(false);
        let handle = jobs.spawn(Duration::from_millis(5), stopped);
        tokio::time::sleep(Duration::from_millis(30)).await;
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .expect("stops promptly")
            .unwrap();
        // The demo practice's credentials are current: nothing was sent or suspended.
        assert!(store.sent_warnings(practice).await.unwrap().is_empty());
    }
}
