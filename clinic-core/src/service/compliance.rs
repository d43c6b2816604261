//! The compliance sweep as a use case: read, decide with the pure sweep, apply.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Duration;

use super::booking::BookingService;
use super::error::ServiceError;
use crate::credentials::{RenewalRules, SweepAction, SweepInput, sweep};
use crate::ids::PatientId;
use crate::ids::{PracticeId, PractitionerId};
use crate::people::Suspension;
use crate::ports::{
    AppointmentRepository, Clock, ComplianceLog, CredentialRepository, PracticeRepository, PractitionerRepository,
    PrivacyRecords, ResourceKey,
};
use crate::privacy::AccessRequest;
use crate::scheduling::CancelledBy;
use crate::time::{TimeRange, local_date};

/// The ports the sweep needs.
#[derive(Clone)]
pub struct CompliancePorts {
    /// Practices and locations (the practice's zone).
    pub practices: Arc<dyn PracticeRepository>,
    /// Practitioners.
    pub practitioners: Arc<dyn PractitionerRepository>,
    /// Credentials.
    pub credentials: Arc<dyn CredentialRepository>,
    /// Appointments.
    pub appointments: Arc<dyn AppointmentRepository>,
    /// Warnings sent.
    pub log: Arc<dyn ComplianceLog>,
    /// Privacy requests (overdue access requests are flagged).
    pub privacy: Arc<dyn PrivacyRecords>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

/// What one run found and did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ComplianceReport {
    /// Credential actions taken (warnings to send, suspensions, cancellations with the
    /// patients to tell, reinstatements).
    pub actions: Vec<SweepAction>,
    /// Access requests unanswered past their due date.
    pub overdue_access_requests: Vec<(PatientId, AccessRequest)>,
}

/// Runs the compliance sweep.
#[derive(Clone)]
pub struct ComplianceService {
    ports: CompliancePorts,
    booking: BookingService,
    rules: crate::versioned::Versioned<RenewalRules>,
}

impl ComplianceService {
    /// A service; cancellations go through `booking` so they follow the booking rules.
    /// `rules` are the renewal rules by effective date ([`RenewalRules::history`]); the
    /// sweep uses the version in force on its date.
    #[must_use]
    pub fn new(
        ports: CompliancePorts,
        booking: BookingService,
        rules: crate::versioned::Versioned<RenewalRules>,
    ) -> Self {
        Self { ports, booking, rules }
    }

    /// Runs the sweep for `practice` today (in the practice's zone) and applies it:
    /// suspensions and reinstatements are saved, future appointments of suspended
    /// practitioners cancelled by the clinic, warnings recorded as sent. Returns the actions
    /// for the notification jobs (warnings to send, patients to tell), and flags access
    /// requests past their due date. Running it again on the same day takes no new action
    /// (overdue requests stay listed until answered).
    ///
    /// # Errors
    /// Port errors; a cancellation that fails stops the run (the next run resumes it).
    pub async fn run(&self, practice: PracticeId) -> Result<ComplianceReport, ServiceError> {
        let p = &self.ports;
        let now = p.clock.now();
        let zone = p
            .practices
            .locations(practice)
            .await?
            .first()
            .map_or(chrono_tz::UTC, |l| l.zone);
        let today = local_date(zone, now);
        let practitioners = p.practitioners.practitioners(practice).await?;
        let mut credentials = HashMap::new();
        for pr in &practitioners {
            credentials.insert(pr.id, p.credentials.credentials(practice, pr.id).await?);
        }
        let sent: HashSet<_> = p.log.sent_warnings(practice).await?.into_iter().collect();
        let rules = self.rules.as_at(today).copied().unwrap_or_default();
        // Only suspended practitioners' appointments can be cancelled, so only theirs are
        // read: a first pass without appointments finds who is (or stays) suspended.
        let dry = sweep(&SweepInput {
            today,
            rules: &rules,
            practitioners: &practitioners,
            credentials: &credentials,
            appointments: &[],
            sent: &sent,
        });
        let reinstated: HashSet<PractitionerId> = dry
            .iter()
            .filter_map(|a| match a {
                SweepAction::Reinstate { practitioner_id } => Some(*practitioner_id),
                _ => None,
            })
            .collect();
        let mut keys: Vec<ResourceKey> = dry
            .iter()
            .filter_map(|a| match a {
                SweepAction::Suspend { practitioner_id, .. } => Some(ResourceKey::Practitioner(*practitioner_id)),
                _ => None,
            })
            .collect();
        keys.extend(
            practitioners
                .iter()
                .filter(|x| x.suspension.is_some() && !reinstated.contains(&x.id))
                .map(|x| ResourceKey::Practitioner(x.id)),
        );
        let window = TimeRange::new(now, now + Duration::days(3660))?;
        let appointments: Vec<_> = if keys.is_empty() {
            Vec::new()
        } else {
            p.appointments
                .snapshot(practice, &keys, window)
                .await?
                .appointments
                .into_iter()
                .filter(|a| a.interval.start() >= now)
                .map(|a| {
                    let d = local_date(zone, a.interval.start());
                    (a, d)
                })
                .collect()
        };
        let actions = sweep(&SweepInput {
            today,
            rules: &rules,
            practitioners: &practitioners,
            credentials: &credentials,
            appointments: &appointments,
            sent: &sent,
        });
        for action in &actions {
            match action {
                SweepAction::Warn(key) => p.log.record_warning(practice, key).await?,
                SweepAction::Suspend {
                    practitioner_id,
                    reason_code,
                    from,
                } => {
                    let mut pr = p.practitioners.practitioner(practice, *practitioner_id).await?;
                    pr.suspension = Some(Suspension {
                        reason_code: (*reason_code).to_owned(),
                        from: *from,
                    });
                    p.practitioners.save_practitioner(&pr).await?;
                }
                SweepAction::Reinstate { practitioner_id } => {
                    let mut pr = p.practitioners.practitioner(practice, *practitioner_id).await?;
                    pr.suspension = None;
                    p.practitioners.save_practitioner(&pr).await?;
                }
                SweepAction::CancelAppointment { appointment_id, .. } => {
                    self.booking
                        .cancel(
                            practice,
                            *appointment_id,
                            CancelledBy::Clinic,
                            "practitioner unavailable",
                        )
                        .await?;
                }
            }
        }
        let overdue_access_requests = p
            .privacy
            .access_requests(practice)
            .await?
            .into_iter()
            .filter(|(_, r)| r.is_overdue(today))
            .collect();
        Ok(ComplianceReport {
            actions,
            overdue_access_requests,
        })
    }
}
