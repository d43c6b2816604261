//! The booking rules: may this appointment be booked at this time?
//!
//! Pure: the caller supplies the clock reading, the practice's policy, the holidays and a
//! [`Calendar`] of the appointments around the time asked for.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::appointment::DeliveryMode;
use super::availability::Availability;
use super::calendar::Calendar;
use super::error::SchedulingError;
use super::holidays::HolidayCalendar;
use crate::ids::{AppointmentId, PatientId};
use crate::people::{ConsultMode, Practitioner};
use crate::practice::{BookingPolicy, Location, Room, Service};
use crate::time::{TimeRange, local_date};

/// The practice-wide inputs of every rule: now, the policy and the holidays.
#[derive(Clone, Copy, Debug)]
pub struct RuleContext<'a> {
    /// The clock reading the decision is made at.
    pub now: DateTime<Utc>,
    /// The practice's booking policy.
    pub policy: &'a BookingPolicy,
    /// Public holidays.
    pub holidays: &'a HolidayCalendar,
}

/// One proposed appointment.
#[derive(Clone, Copy, Debug)]
pub struct Proposal<'a> {
    /// The practitioner.
    pub practitioner: &'a Practitioner,
    /// Their availability.
    pub availability: &'a Availability,
    /// The service.
    pub service: &'a Service,
    /// The location (its zone and state apply, also to telehealth).
    pub location: &'a Location,
    /// The room, if one is to be used.
    pub room: Option<&'a Room>,
    /// The patients.
    pub patients: &'a [PatientId],
    /// Delivery mode.
    pub mode: DeliveryMode,
    /// The session's start.
    pub start: DateTime<Utc>,
}

/// A proposal that passed every rule, with the intervals it will hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The session.
    pub interval: TimeRange,
    /// The practitioner's time, buffers included.
    pub blocked: TimeRange,
}

/// The session and buffered intervals of `service` starting at `start`.
///
/// # Errors
/// Never for a validated [`Service`] (its duration is at least one minute); the
/// `Result` carries [`SchedulingError::WrongDuration`] for a zero-length one.
pub fn intervals_for(service: &Service, start: DateTime<Utc>) -> Result<Accepted, SchedulingError> {
    let interval =
        TimeRange::starting_at(start, service.duration.duration()).map_err(|_| SchedulingError::WrongDuration {
            expected_minutes: service.duration.get(),
        })?;
    let blocked = interval.widened(service.buffer_before.duration(), service.buffer_after.duration());
    Ok(Accepted { interval, blocked })
}

/// Checks every booking rule, in this order, and returns the first that fails:
/// patient count and duplicates, telehealth offered, room at the location, in the past,
/// minimum notice, booking horizon, practitioner permitted to practise, public holiday /
/// availability, then practitioner, room and patient overlaps against `calendar`
/// (ignoring `except`, the appointment being rescheduled).
///
/// # Errors
/// The [`SchedulingError`] variant of the first rule that fails, carrying the clashing
/// appointment for overlaps.
pub fn check(
    ctx: &RuleContext<'_>,
    p: &Proposal<'_>,
    calendar: &Calendar,
    except: Option<AppointmentId>,
) -> Result<Accepted, SchedulingError> {
    check_static(ctx, p)?;
    let accepted = intervals_for(p.service, p.start)?;
    check_time(ctx, p, &accepted)?;
    check_clashes(p, &accepted, calendar, except)?;
    Ok(accepted)
}

/// The rules that do not depend on time or other appointments.
pub(crate) fn check_static(_ctx: &RuleContext<'_>, p: &Proposal<'_>) -> Result<(), SchedulingError> {
    if p.patients.is_empty() || p.patients.len() > usize::from(p.service.max_patients) {
        return Err(SchedulingError::PatientCount {
            max: p.service.max_patients,
        });
    }
    let mut seen = HashSet::with_capacity(p.patients.len());
    if !p.patients.iter().all(|id| seen.insert(*id)) {
        return Err(SchedulingError::DuplicatePatient);
    }
    if p.mode.is_telehealth()
        && (!p.service.telehealth_allowed || !p.practitioner.profile.modes.contains(&ConsultMode::Telehealth))
    {
        return Err(SchedulingError::TelehealthNotOffered);
    }
    if let Some(room) = p.room
        && room.location_id != p.location.id
    {
        return Err(SchedulingError::RoomElsewhere);
    }
    Ok(())
}

/// The rules about when: past, notice, horizon, permitted, holiday, availability.
pub(crate) fn check_time(ctx: &RuleContext<'_>, p: &Proposal<'_>, a: &Accepted) -> Result<(), SchedulingError> {
    let start = a.interval.start();
    if start < ctx.now {
        return Err(SchedulingError::InThePast);
    }
    let earliest = ctx.now + ctx.policy.min_notice();
    if start < earliest {
        return Err(SchedulingError::InsideMinimumNotice { earliest });
    }
    let latest = ctx.now + ctx.policy.horizon();
    if start > latest {
        return Err(SchedulingError::PastBookingHorizon { latest });
    }
    let date = local_date(p.location.zone, start);
    if let Some(s) = &p.practitioner.suspension
        && s.from <= date
    {
        return Err(SchedulingError::PractitionerNotPermitted {
            reason_code: s.reason_code.clone(),
        });
    }
    let windows = p.availability.windows(p.location, date, ctx.holidays);
    if !windows.iter().any(|w| w.contains(&a.interval)) {
        return Err(match ctx.holidays.holiday(p.location.state, date) {
            Some(h) => SchedulingError::OnPublicHoliday { date, name: h.name },
            None => SchedulingError::OutsideAvailability,
        });
    }
    Ok(())
}

/// The overlap rules.
pub(crate) fn check_clashes(
    p: &Proposal<'_>,
    a: &Accepted,
    calendar: &Calendar,
    except: Option<AppointmentId>,
) -> Result<(), SchedulingError> {
    if let Some(existing) = calendar.practitioner_clash(p.practitioner.id, &a.blocked, except) {
        return Err(SchedulingError::PractitionerBusy { existing });
    }
    if let Some(existing) = p.room.and_then(|r| calendar.room_clash(r.id, &a.interval, except)) {
        return Err(SchedulingError::RoomBusy { existing });
    }
    for patient in p.patients {
        if let Some(existing) = calendar.patient_clash(*patient, &a.interval, except) {
            return Err(SchedulingError::PatientBusy {
                patient: *patient,
                existing,
            });
        }
    }
    Ok(())
}
