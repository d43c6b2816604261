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
    AuditService, BookingService, Channels, CompliancePorts, ComplianceReport, ComplianceService, DispatchReport,
    NotificationService, ServiceError,
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
    /// What the notice worker sent (empty without notices configured).
    pub notices: DispatchReport,
}

/// The jobs of one practice.
#[derive(Clone)]
pub struct Jobs {
    practice: PracticeId,
    compliance: ComplianceService,
    audit: AuditService,
    audit_key: Arc<Vec<u8>>,
    notices: Option<(NotificationService, Channels)>,
    store: Arc<dyn Storage>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
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
            notices: None,
            store: store.clone(),
            metrics: None,
        }
    }

    /// The same jobs, counting their rounds and failures in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn count(&self, failed: bool) {
        if let Some(m) = &self.metrics {
            m.job_round(failed);
        }
    }

    /// The same jobs, also sending due notices through `channels`.
    #[must_use]
    pub fn with_notices(mut self, notices: NotificationService, channels: Channels) -> Self {
        self.notices = Some((notices, channels));
        self
    }

    /// Queues the patients' notices of appointments the sweep cancelled (a suspended
    /// practitioner's). Queuing is idempotent, so a rerun sweep sends nothing twice.
    async fn queue_cancellations(&self, report: &ComplianceReport) -> Result<(), ServiceError> {
        let Some((notices, _)) = &self.notices else {
            return Ok(());
        };
        for action in &report.actions {
            if let clinic_core::credentials::SweepAction::CancelAppointment { appointment_id, .. } = action {
                let appt = self
                    .store
                    .appointment(self.practice, *appointment_id)
                    .await
                    .map_err(|e| ServiceError::from_port_kind(e, "appointment"))?;
                notices.appointment_cancelled(self.practice, &appt).await?;
            }
        }
        Ok(())
    }

    /// Sends due notices until none are left (in batches of 100).
    ///
    /// # Errors
    /// A storage failure of the outbox.
    pub async fn dispatch(&self) -> Result<DispatchReport, ServiceError> {
        let mut total = DispatchReport::default();
        let Some((notices, channels)) = &self.notices else {
            return Ok(total);
        };
        loop {
            let r = notices.dispatch(self.practice, channels, 100).await?;
            let handled = r.sent + r.retrying + r.parked + r.skipped + r.lost;
            total.sent += r.sent;
            total.retrying += r.retrying;
            total.parked += r.parked;
            total.skipped += r.skipped;
            total.lost += r.lost;
            if handled < 100 {
                return Ok(total);
            }
        }
    }

    /// Runs every job once.
    ///
    /// # Errors
    /// The first job's failure; the next round tries again.
    pub async fn run_once(&self) -> Result<Round, ServiceError> {
        let compliance = self.compliance.run(self.practice).await?;
        self.queue_cancellations(&compliance).await?;
        let checkpoint = self
            .audit
            .checkpoint_if_due(self.practice, &self.audit_key, CHECKPOINT_EVERY)
            .await?
            .map(|c| c.seq);
        let notices = self.dispatch().await?;
        Ok(Round {
            compliance,
            checkpoint,
            notices,
        })
    }

    /// Runs the jobs now and then every `interval` until `stop` turns true; a round in
    /// progress is finished first. Failures are logged (never with health data: only the
    /// error's code) and retried next round.
    #[must_use]
    pub fn spawn(self, interval: Duration, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Notices are due by the minute, so their worker runs more often than the sweep.
            let mut notice_ticks = tokio::time::interval(interval.min(DISPATCH_EVERY));
            notice_ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                // Which timer fired; the stop signal's guard is dropped before any work.
                let sweep = tokio::select! {
                    _ = ticks.tick() => true,
                    _ = notice_ticks.tick() => false,
                    _ = stop.wait_for(|s| *s) => break,
                };
                if sweep {
                    self.round().await;
                } else {
                    self.notices_round().await;
                }
            }
            tracing::info!("background jobs stopped");
        })
    }

    async fn round(&self) {
        let result = self.run_once().await;
        self.count(result.is_err());
        match result {
            Ok(round) => {
                tracing::info!(
                    practice = %self.practice,
                    actions = round.compliance.actions.len(),
                    overdue_access_requests = round.compliance.overdue_access_requests.len(),
                    checkpoint = ?round.checkpoint,
                    notices_sent = round.notices.sent,
                    "background jobs ran"
                );
            }
            Err(e) => {
                let code = e.code();
                tracing::warn!(practice = %self.practice, code, "background jobs failed; retrying next round");
            }
        }
    }

    async fn notices_round(&self) {
        let result = self.dispatch().await;
        self.count(result.is_err());
        match result {
            Ok(r) if r == DispatchReport::default() => {}
            Ok(r) => tracing::info!(
                practice = %self.practice,
                sent = r.sent,
                retrying = r.retrying,
                parked = r.parked,
                skipped = r.skipped,
                "notices sent"
            ),
            Err(e) => tracing::warn!(practice = %self.practice, code = e.code(), "notice worker failed; retrying"),
        }
    }
}

/// How often the notice worker looks for due notices: every 30 seconds.
pub const DISPATCH_EVERY: Duration = Duration::from_secs(30);

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
    async fn notices_of_bookings_and_sweep_cancellations_go_out_once() {
        use clinic_adapters::console::ConsoleEmail;
        use clinic_core::scheduling::{BookingRequest, DeliveryMode};
        let store: Arc<dyn Storage> = Arc::new(MemoryStore::new());
        let practice: PracticeId = UuidV7Ids.new_id();
        let clock = Arc::new(SettableClock::new("2026-11-23T00:00:00Z".parse().unwrap()));
        let email = Arc::new(ConsoleEmail::new());
        let mut integrations = crate::providers::Integrations::console_only();
        integrations.email = email.clone();
        let state = AppState::with_clock(store.clone(), practice, clock.clone()).with_integrations(integrations);
        crate::demo::seed(&state, practice, "2026-11-23".parse().unwrap())
            .await
            .unwrap();
        let patient = store.patients(practice).await.unwrap().remove(0);
        let service = store.services(practice).await.unwrap().remove(0);
        let location = store.locations(practice).await.unwrap().remove(0);
        let practitioners: Vec<_> = store
            .practitioners(practice)
            .await
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect();
        let slot = state
            .booking
            .search_slots(
                practice,
                &clinic_core::service::SlotSearch {
                    service_id: service.id,
                    practitioner_ids: practitioners,
                    query: clinic_core::scheduling::SlotQuery {
                        from: "2026-11-30".parse().unwrap(),
                        to: "2026-12-04".parse().unwrap(),
                        viewer_zone: location.zone,
                        mode: DeliveryMode::InPerson,
                        location: None,
                        patient: Some(patient.id),
                    },
                },
            )
            .await
            .unwrap()
            .remove(0);
        let appt = state
            .booking
            .book(
                practice,
                &BookingRequest {
                    practitioner_id: slot.practitioner_id,
                    service_id: service.id,
                    location_id: slot.location_id,
                    patient_ids: vec![patient.id],
                    room_id: None,
                    mode: DeliveryMode::InPerson,
                    start: slot.start,
                    recurrence: None,
                    series_policy: None,
                },
            )
            .await
            .unwrap();
        // The booking queued its confirmation and reminder in its own commit.
        assert_eq!(
            store
                .notifications_about(practice, appt.id.as_uuid())
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            state.notices.appointment_booked(practice, &appt).await.unwrap(),
            0,
            "queued once"
        );
        let jobs = Jobs::new(practice, &store, state.booking.clone(), clock, vec![7; 32])
            .with_notices(state.notices.clone(), state.channels.clone());
        let first = jobs.run_once().await.unwrap().notices;
        let why = clinic_core::ports::Outbox::notifications_about(&*store, practice, appt.id.as_uuid())
            .await
            .unwrap();
        assert_eq!(first.sent, 1, "{first:?} {why:?}");
        assert_eq!(jobs.run_once().await.unwrap().notices.sent, 0);
        let sent = email.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].subject, "Your appointment at Harbour Psychology is booked");

        // The practitioner's registration lapsed long ago: the sweep suspends them, cancels
        // the appointment, and the patient is told, once.
        let mut creds = store.credentials(practice, appt.practitioner_id).await.unwrap();
        creds.registrations[0].expires_on = "2025-06-30".parse().unwrap();
        store
            .save_credentials(practice, appt.practitioner_id, &creds)
            .await
            .unwrap();
        let round = jobs.run_once().await.unwrap();
        assert!(round.compliance.actions.iter().any(|a| matches!(
            a,
            clinic_core::credentials::SweepAction::CancelAppointment { appointment_id, .. } if *appointment_id == appt.id
        )));
        assert_eq!(round.notices.sent, 1);
        assert_eq!(
            email.sent()[1].subject,
            "Your appointment at Harbour Psychology is cancelled"
        );
        assert_eq!(jobs.run_once().await.unwrap().notices.sent, 0, "told once");
        assert_eq!(sent[0].to, patient.email.unwrap());
        assert!(sent[0].text.contains("02 5550 1234"), "{}", sent[0].text);
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
