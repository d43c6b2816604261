//! Realistic calendars for the benchmarks: a Sydney practice with many practitioners
//! working weekly templates with leave, and thousands of existing appointments.
#![allow(clippy::missing_panics_doc, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc, Weekday};
use clinic_core::ids::*;
use clinic_core::money::Money;
use clinic_core::people::{AhpraNumber, ConsultMode, Practitioner, PractitionerKind, PractitionerProfile};
use clinic_core::practice::{AuState, BookingPolicy, Location, Room, Service, ServiceSpec};
use clinic_core::scheduling::*;
use uuid::Uuid;

/// A practice with `practitioners` practitioners and `appointments` booked ones over
/// `days` days from Monday 5 Jan 2026.
pub struct Practice {
    /// Now: the Sunday before the first day.
    pub now: DateTime<Utc>,
    /// Policy.
    pub policy: BookingPolicy,
    /// Holidays (the shipped table).
    pub holidays: HolidayCalendar,
    /// Location.
    pub location: Location,
    /// Locations by id.
    pub locations: HashMap<LocationId, Location>,
    /// Room.
    pub room: Room,
    /// Service (50 minutes, 10-minute notes buffer).
    pub service: Service,
    /// Practitioners.
    pub practitioners: Vec<Practitioner>,
    /// Their availability.
    pub availability: Vec<Availability>,
    /// Existing appointments.
    pub appointments: Vec<Appointment>,
    /// First day.
    pub first_day: NaiveDate,
    /// Days covered.
    pub days: i64,
}

fn id<T: From<Uuid>>(n: u128) -> T {
    T::from(Uuid::from_u128(n))
}

/// Builds the practice. Appointments go round-robin over practitioners and weekdays,
/// hourly from 09:00, skipping public holidays, never overlapping.
#[must_use]
pub fn practice(practitioners: usize, appointments: usize, days: i64) -> Practice {
    let practice: PracticeId = id(1);
    let location = Location::new(
        id(2),
        practice,
        "Sydney CBD",
        "1 George St",
        chrono_tz::Australia::Sydney,
        AuState::NSW,
    )
    .unwrap();
    let room = Room::new(id(3), practice, location.id, "Room 1").unwrap();
    let service = Service::new(
        id(4),
        practice,
        ServiceSpec {
            name: "Individual".into(),
            duration_minutes: 50,
            price: Money::from_cents(22000),
            buffer_before_minutes: 0,
            buffer_after_minutes: 10,
            telehealth_allowed: true,
            default_mbs_item: None,
            max_patients: 1,
        },
    )
    .unwrap();
    let first_day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let holidays = HolidayCalendar::australia();
    let mut prs = Vec::new();
    let mut avs = Vec::new();
    for p in 0..practitioners {
        let n = 1000 + p as u128;
        let mut profile = PractitionerProfile::default();
        profile.modes.insert(ConsultMode::InPerson);
        let pr = Practitioner::new(
            id(n),
            practice,
            PractitionerKind::RegisteredPsychologist,
            &format!("P{p}"),
            Some(AhpraNumber::parse("PSY0001234567").unwrap()),
            vec![],
            profile,
        )
        .unwrap();
        let templates = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                WeeklyTemplate::new(
                    id(n * 100 + i as u128),
                    practice,
                    pr.id,
                    location.id,
                    d,
                    "09:00:00".parse().unwrap(),
                    "17:00:00".parse().unwrap(),
                    "2025-01-01".parse().unwrap(),
                    None,
                )
                .unwrap()
            })
            .collect();
        // A week of leave and an afternoon off for each practitioner, spread through the range.
        let leave_start: NaiveDateTime = (first_day + Duration::days(7 * (p as i64 % 12)))
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let afternoon: NaiveDateTime = (first_day + Duration::days(3 + p as i64 % 60))
            .and_hms_opt(13, 0, 0)
            .unwrap();
        let exceptions = vec![
            AvailabilityException::new(
                id(n * 100 + 10),
                practice,
                pr.id,
                None,
                ExceptionKind::Unavailable {
                    from: leave_start,
                    to: leave_start + Duration::days(5),
                },
            )
            .unwrap(),
            AvailabilityException::new(
                id(n * 100 + 11),
                practice,
                pr.id,
                None,
                ExceptionKind::Unavailable {
                    from: afternoon,
                    to: afternoon + Duration::hours(4),
                },
            )
            .unwrap(),
        ];
        prs.push(pr);
        avs.push(Availability { templates, exceptions });
    }
    let workdays: Vec<NaiveDate> = (0..days)
        .map(|d| first_day + Duration::days(d))
        .filter(|d| chrono::Datelike::weekday(d).num_days_from_monday() < 5 && !holidays.is_holiday(AuState::NSW, *d))
        .collect();
    let mut appts = Vec::with_capacity(appointments);
    let per_day = 8;
    'outer: for hour in 0..per_day {
        for day in &workdays {
            for pr in &prs {
                if appts.len() == appointments {
                    break 'outer;
                }
                let local = day.and_hms_opt(9 + hour, 0, 0).unwrap();
                let start = clinic_core::time::resolve_local(location.zone, local).unwrap();
                let acc = intervals_for(&service, start).unwrap();
                appts.push(Appointment {
                    id: id(10_000_000 + appts.len() as u128),
                    practice_id: practice,
                    practitioner_id: pr.id,
                    patient_ids: vec![id(5_000_000 + (appts.len() % 5000) as u128)],
                    service_id: service.id,
                    location_id: location.id,
                    room_id: None,
                    mode: DeliveryMode::InPerson,
                    interval: acc.interval,
                    blocked: acc.blocked,
                    status: AppointmentStatus::Booked,
                    series_id: None,
                    history: vec![],
                    created_at: start - Duration::days(30),
                });
            }
        }
    }
    let locations = HashMap::from([(location.id, location.clone())]);
    Practice {
        now: "2026-01-04T00:00:00Z".parse().unwrap(),
        policy: BookingPolicy {
            horizon_days: 365,
            ..BookingPolicy::default()
        },
        holidays,
        location,
        locations,
        room,
        service,
        practitioners: prs,
        availability: avs,
        appointments: appts,
        first_day,
        days,
    }
}
