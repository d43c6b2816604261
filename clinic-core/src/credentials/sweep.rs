//! The compliance sweep: a date and the data in, the actions to take out.
//!
//! Idempotent: actions already taken are visible in the input (a suspension on the
//! practitioner, cancelled appointments, the warnings already sent), so running the sweep
//! again on the same day after applying its actions yields nothing new.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Credentials;
use super::status::{CredentialStatus, RenewalRules, status_on};
use crate::ids::{AppointmentId, PatientId, PractitionerId};
use crate::people::Practitioner;
use crate::scheduling::{Appointment, StatusKind};

/// The suspension reason codes the sweep sets (and may lift).
pub const REGISTRATION_LAPSED: &str = "registration_lapsed";
/// See [`REGISTRATION_LAPSED`].
pub const INSURANCE_EXPIRED: &str = "insurance_expired";
/// See [`REGISTRATION_LAPSED`].
pub const NO_CREDENTIALS: &str = "credentials_missing";

/// Which warning, so it is sent once.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WarningKey {
    /// Whose.
    pub practitioner_id: PractitionerId,
    /// `registration` or `insurance`.
    pub credential: &'static str,
    /// The expiry it is about.
    pub expires_on: NaiveDate,
    /// `expiring` or `late_period`.
    pub stage: &'static str,
}

/// An action the sweep asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SweepAction {
    /// Tell the practitioner (and the practice manager) about an expiring credential or a
    /// registration in its late period.
    Warn(WarningKey),
    /// Suspend: the practitioner may not be booked or claim from `from`.
    Suspend {
        /// Whom.
        practitioner_id: PractitionerId,
        /// Why.
        reason_code: &'static str,
        /// From this local date.
        from: NaiveDate,
    },
    /// Cancel a future appointment of a suspended practitioner and notify its patients.
    CancelAppointment {
        /// The appointment.
        appointment_id: AppointmentId,
        /// Its practitioner.
        practitioner_id: PractitionerId,
        /// Patients to notify.
        notify: Vec<PatientId>,
    },
    /// Lift a sweep-imposed suspension: every credential is in force again.
    Reinstate {
        /// Whom.
        practitioner_id: PractitionerId,
    },
}

/// What the sweep reads.
#[derive(Clone, Copy, Debug)]
pub struct SweepInput<'a> {
    /// Today, at the practice.
    pub today: NaiveDate,
    /// Renewal rules.
    pub rules: &'a RenewalRules,
    /// The practitioners.
    pub practitioners: &'a [Practitioner],
    /// Their credentials.
    pub credentials: &'a HashMap<PractitionerId, Credentials>,
    /// Future appointments (any status), with the local date each starts on.
    pub appointments: &'a [(Appointment, NaiveDate)],
    /// Warnings already sent.
    pub sent: &'a HashSet<WarningKey>,
}

fn is_sweep_reason(code: &str) -> bool {
    [REGISTRATION_LAPSED, INSURANCE_EXPIRED, NO_CREDENTIALS].contains(&code)
}

/// Runs the sweep.
#[must_use]
pub fn sweep(input: &SweepInput<'_>) -> Vec<SweepAction> {
    let mut actions = Vec::new();
    let mut suspended: HashMap<PractitionerId, NaiveDate> = HashMap::new();
    for p in input.practitioners {
        let creds = input.credentials.get(&p.id);
        let reg = creds.and_then(Credentials::registration).map(|r| {
            (
                r.expires_on,
                status_on(
                    r.expires_on,
                    input.today,
                    input.rules.warning_days,
                    input.rules.registration_late_months,
                ),
            )
        });
        let ins = creds.and_then(Credentials::insurance).map(|i| {
            (
                i.expires_on,
                status_on(i.expires_on, input.today, input.rules.warning_days, 0),
            )
        });
        let needs = p.kind.requires_registration();
        let mut warn = |credential: &'static str, expires_on: NaiveDate, stage: &'static str| {
            let key = WarningKey {
                practitioner_id: p.id,
                credential,
                expires_on,
                stage,
            };
            if !input.sent.contains(&key) {
                actions.push(SweepAction::Warn(key));
            }
        };
        for (name, st) in [("registration", reg), ("insurance", ins)] {
            match st {
                Some((exp, CredentialStatus::Expiring { .. })) => warn(name, exp, "expiring"),
                Some((exp, CredentialStatus::LatePeriod { .. })) => warn(name, exp, "late_period"),
                _ => {}
            }
        }
        let reason = if !needs {
            None
        } else {
            match (reg, ins) {
                (None, _) | (_, None) => Some(NO_CREDENTIALS),
                (Some((_, r)), _) if !r.may_practise() => Some(REGISTRATION_LAPSED),
                (_, Some((_, i))) if !i.may_practise() => Some(INSURANCE_EXPIRED),
                _ => None,
            }
        };
        match (reason, &p.suspension) {
            (Some(code), None) => {
                actions.push(SweepAction::Suspend {
                    practitioner_id: p.id,
                    reason_code: code,
                    from: input.today,
                });
                suspended.insert(p.id, input.today);
            }
            (Some(_), Some(s)) => {
                suspended.insert(p.id, s.from);
            }
            (None, Some(s)) if is_sweep_reason(&s.reason_code) => {
                actions.push(SweepAction::Reinstate { practitioner_id: p.id });
            }
            (None, Some(s)) => {
                // A suspension the practice imposed itself stays until it lifts it.
                suspended.insert(p.id, s.from);
            }
            (None, None) => {}
        }
    }
    if !suspended.is_empty() {
        for (a, date) in input.appointments {
            if let Some(from) = suspended.get(&a.practitioner_id)
                && date >= from
                && matches!(
                    a.status_kind(),
                    StatusKind::Requested | StatusKind::Booked | StatusKind::Confirmed
                )
            {
                actions.push(SweepAction::CancelAppointment {
                    appointment_id: a.id,
                    practitioner_id: a.practitioner_id,
                    notify: a.patient_ids.clone(),
                });
            }
        }
    }
    actions
}
