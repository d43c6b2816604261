//! Compliance sweep edges and idempotence.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use proptest::prelude::*;
use uuid::Uuid;

use super::sweep::{INSURANCE_EXPIRED, REGISTRATION_LAPSED};
use super::*;
use crate::ids::{AppointmentId, PracticeId};
use crate::people::{Practitioner, PractitionerKind, PractitionerProfile, Suspension};
use crate::scheduling::appointment::tests::appt;
use crate::scheduling::{AppointmentStatus, CancelledBy};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn practitioner(n: u128, kind: PractitionerKind) -> Practitioner {
    let number = if kind == PractitionerKind::Doctor {
        "MED0001234567"
    } else {
        "PSY0001234567"
    };
    let ahpra = kind
        .requires_registration()
        .then(|| AhpraNumber::parse(number).unwrap());
    Practitioner::new(
        PractitionerId::from_uuid(Uuid::from_u128(n)),
        PracticeId::from_uuid(Uuid::nil()),
        kind,
        "P",
        ahpra,
        vec![],
        PractitionerProfile::default(),
    )
    .unwrap()
}

fn creds(reg: &str, ins: &str) -> Credentials {
    Credentials {
        practitioner_id: None,
        registrations: vec![Registration {
            number: AhpraNumber::parse("PSY0001234567").unwrap(),
            kind: RegistrationType::General,
            endorsements: vec![],
            conditions: vec![],
            expires_on: d(reg),
        }],
        insurances: vec![Insurance {
            insurer: "Insurer".into(),
            policy_number: "P1".into(),
            cover: Money::from_cents(200_000_000),
            expires_on: d(ins),
            certificate: None,
        }],
    }
}

struct State {
    practitioners: Vec<Practitioner>,
    credentials: HashMap<PractitionerId, Credentials>,
    appointments: Vec<(crate::scheduling::Appointment, NaiveDate)>,
    sent: HashSet<WarningKey>,
}

impl State {
    fn one(kind: PractitionerKind, c: Option<Credentials>) -> Self {
        let p = practitioner(1, kind);
        let mut credentials = HashMap::new();
        if let Some(c) = c {
            credentials.insert(p.id, c);
        }
        let mut appointments = Vec::new();
        for (i, day) in ["2026-12-31", "2027-01-01", "2027-01-05"].into_iter().enumerate() {
            let mut a = appt(&format!("{day}T00:00:00Z"), 50);
            a.id = AppointmentId::from_uuid(Uuid::from_u128(100 + i as u128));
            a.practitioner_id = p.id;
            appointments.push((a, d(day)));
        }
        Self {
            practitioners: vec![p],
            credentials,
            appointments,
            sent: HashSet::new(),
        }
    }

    fn run(&self, today: &str) -> Vec<SweepAction> {
        sweep(&SweepInput {
            today: d(today),
            rules: &RenewalRules::default(),
            practitioners: &self.practitioners,
            credentials: &self.credentials,
            appointments: &self.appointments,
            sent: &self.sent,
        })
    }

    /// What a real service does with the actions.
    fn apply(&mut self, actions: &[SweepAction], today: &str) {
        for a in actions {
            match a {
                SweepAction::Warn(k) => {
                    self.sent.insert(k.clone());
                }
                SweepAction::Suspend {
                    practitioner_id,
                    reason_code,
                    from,
                } => {
                    let p = self
                        .practitioners
                        .iter_mut()
                        .find(|p| p.id == *practitioner_id)
                        .unwrap();
                    p.suspension = Some(Suspension {
                        reason_code: (*reason_code).to_owned(),
                        from: *from,
                    });
                }
                SweepAction::Reinstate { practitioner_id } => {
                    self.practitioners
                        .iter_mut()
                        .find(|p| p.id == *practitioner_id)
                        .unwrap()
                        .suspension = None;
                }
                SweepAction::CancelAppointment { appointment_id, .. } => {
                    let (ap, _) = self
                        .appointments
                        .iter_mut()
                        .find(|(x, _)| x.id == *appointment_id)
                        .unwrap();
                    ap.cancel(
                        CancelledBy::Clinic,
                        "practitioner unavailable",
                        d(today).and_hms_opt(0, 0, 0).unwrap().and_utc(),
                        Duration::zero(),
                    )
                    .unwrap();
                }
            }
        }
    }
}

#[test]
fn expiring_warns_once() {
    let mut s = State::one(
        PractitionerKind::RegisteredPsychologist,
        Some(creds("2026-11-30", "2027-06-30")),
    );
    let first = s.run("2026-11-15");
    assert_eq!(first.len(), 1);
    assert!(matches!(&first[0], SweepAction::Warn(k) if k.credential == "registration" && k.stage == "expiring"));
    s.apply(&first, "2026-11-15");
    assert!(s.run("2026-11-15").is_empty(), "idempotent on the same day");
    assert!(s.run("2026-11-16").is_empty(), "and the next: the warning was sent");
}

#[test]
fn late_period_warns_but_does_not_suspend() {
    let s = State::one(
        PractitionerKind::RegisteredPsychologist,
        Some(creds("2026-11-30", "2027-06-30")),
    );
    let acts = s.run("2026-12-31");
    assert!(
        acts.iter()
            .all(|a| matches!(a, SweepAction::Warn(k) if k.stage == "late_period")),
        "{acts:?}"
    );
}

#[test]
fn lapse_suspends_cancels_future_sessions_and_is_idempotent() {
    let mut s = State::one(
        PractitionerKind::RegisteredPsychologist,
        Some(creds("2026-11-30", "2027-06-30")),
    );
    let acts = s.run("2027-01-01");
    assert!(acts.contains(&SweepAction::Suspend {
        practitioner_id: s.practitioners[0].id,
        reason_code: REGISTRATION_LAPSED,
        from: d("2027-01-01")
    }));
    let cancelled: Vec<_> = acts
        .iter()
        .filter_map(|a| match a {
            SweepAction::CancelAppointment {
                appointment_id, notify, ..
            } => Some((*appointment_id, notify.len())),
            _ => None,
        })
        .collect();
    assert_eq!(
        cancelled,
        vec![
            (AppointmentId::from_uuid(Uuid::from_u128(101)), 1),
            (AppointmentId::from_uuid(Uuid::from_u128(102)), 1)
        ],
        "from the suspension date on"
    );
    s.apply(&acts, "2027-01-01");
    assert!(s.run("2027-01-01").is_empty());
    // The renewal arrives: reinstated.
    s.credentials
        .get_mut(&s.practitioners[0].id)
        .unwrap()
        .registrations
        .push(Registration {
            number: AhpraNumber::parse("PSY0001234567").unwrap(),
            kind: RegistrationType::General,
            endorsements: vec![],
            conditions: vec![],
            expires_on: d("2027-11-30"),
        });
    assert_eq!(
        s.run("2027-01-02"),
        vec![SweepAction::Reinstate {
            practitioner_id: s.practitioners[0].id
        }]
    );
}

#[test]
fn insurance_expired_yesterday_suspends_today() {
    let s = State::one(
        PractitionerKind::ClinicalPsychologist,
        Some(creds("2027-11-30", "2026-12-31")),
    );
    assert!(
        !s.run("2026-12-31")
            .iter()
            .any(|a| matches!(a, SweepAction::Suspend { .. })),
        "the day of expiry: still covered"
    );
    assert!(s.run("2027-01-01").contains(&SweepAction::Suspend {
        practitioner_id: s.practitioners[0].id,
        reason_code: INSURANCE_EXPIRED,
        from: d("2027-01-01")
    }));
}

#[test]
fn missing_credentials_suspend_registered_kinds_not_technicians() {
    let s = State::one(PractitionerKind::Doctor, None);
    assert!(s.run("2026-11-23").iter().any(|a| matches!(
        a,
        SweepAction::Suspend {
            reason_code: "credentials_missing",
            ..
        }
    )));
    let t = State::one(PractitionerKind::Technician, None);
    assert!(t.run("2026-11-23").is_empty());
}

#[test]
fn a_managers_suspension_is_not_lifted_by_the_sweep() {
    let mut s = State::one(
        PractitionerKind::RegisteredPsychologist,
        Some(creds("2027-11-30", "2027-11-30")),
    );
    s.practitioners[0].suspension = Some(Suspension {
        reason_code: "under_investigation".into(),
        from: d("2026-12-01"),
    });
    let acts = s.run("2026-12-15");
    assert!(!acts.iter().any(|a| matches!(a, SweepAction::Reinstate { .. })));
    assert_eq!(
        acts.iter()
            .filter(|a| matches!(a, SweepAction::CancelAppointment { .. }))
            .count(),
        3,
        "its bookings are cancelled too"
    );
}

#[test]
fn clinical_endorsement() {
    let mut c = creds("2026-11-30", "2027-06-30");
    let rules = RenewalRules::default();
    assert!(!c.clinically_endorsed_on(d("2026-06-01"), &rules));
    c.registrations[0].endorsements.push(Endorsement::ClinicalPsychology);
    assert!(c.clinically_endorsed_on(d("2026-06-01"), &rules));
    assert!(
        c.clinically_endorsed_on(d("2026-12-31"), &rules),
        "late period: may still practise"
    );
    assert!(!c.clinically_endorsed_on(d("2027-01-01"), &rules));
}

proptest! {
    /// For any credentials, suspensions and date, applying one sweep's actions leaves
    /// nothing for a second sweep on the same day.
    #[test]
    fn sweep_is_idempotent(
        reg_offset in -90i64..90, ins_offset in -90i64..90, has_reg in any::<bool>(), has_ins in any::<bool>(),
        manual in any::<bool>(), sweep_reason in any::<bool>(), kind in 0usize..4, today_offset in 0i64..60,
    ) {
        let kinds = [PractitionerKind::RegisteredPsychologist, PractitionerKind::ClinicalPsychologist, PractitionerKind::Doctor, PractitionerKind::Technician];
        let base = d("2026-11-30");
        let mut c = creds("2026-11-30", "2026-11-30");
        c.registrations[0].expires_on = base + Duration::days(reg_offset);
        c.insurances[0].expires_on = base + Duration::days(ins_offset);
        if !has_reg { c.registrations.clear(); }
        if !has_ins { c.insurances.clear(); }
        let mut s = State::one(kinds[kind], Some(c));
        if manual {
            let code = if sweep_reason { REGISTRATION_LAPSED } else { "manual_hold" };
            s.practitioners[0].suspension = Some(Suspension { reason_code: code.into(), from: base });
        }
        let today = base + Duration::days(today_offset);
        let today = today.format("%Y-%m-%d").to_string();
        let first = s.run(&today);
        s.apply(&first, &today);
        prop_assert_eq!(s.run(&today), vec![]);
        let _ = AppointmentStatus::Booked;
    }
}
