//! Arbitrary availability templates, exceptions and bookings fed to slot search, in zones
//! with and without daylight saving. Invariants: every slot passes the booking rules
//! against the same calendar, starts at a local time that exists and is offered once, and
//! the list is sorted.
#![no_main]

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, NaiveDate, NaiveTime, Weekday};
use clinic_core::ids::*;
use clinic_core::money::Money;
use clinic_core::people::{AhpraNumber, ConsultMode, Practitioner, PractitionerKind, PractitionerProfile};
use clinic_core::practice::{AuState, BookingPolicy, Location, Minutes, Service, ServiceSpec};
use clinic_core::scheduling::slots::{self, Candidate, SlotQuery};
use clinic_core::scheduling::*;
use clinic_core::time::resolve_local;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

#[derive(Arbitrary, Debug)]
struct Input {
    zone: u8,
    viewer: u8,
    templates: Vec<(u8, u8, u8, u8)>,
    leave: Vec<(u16, u16)>,
    extra: Vec<(u8, u8, u8)>,
    bookings: Vec<u16>,
    minutes: u8,
    before: u8,
    after: u8,
    grid: u8,
    start_day: u16,
    days: u8,
    suspended_from: Option<u8>,
}

const ZONES: [(chrono_tz::Tz, AuState); 6] = [
    (chrono_tz::Australia::Sydney, AuState::NSW),
    (chrono_tz::Australia::Adelaide, AuState::SA),
    (chrono_tz::Australia::Brisbane, AuState::QLD),
    (chrono_tz::Australia::Lord_Howe, AuState::NSW),
    (chrono_tz::Australia::Perth, AuState::WA),
    (chrono_tz::Australia::Hobart, AuState::TAS),
];
const DAYS: [Weekday; 7] = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

fn id<T: From<Uuid>>(n: u128) -> T {
    T::from(Uuid::from_u128(n))
}

fuzz_target!(|input: Input| {
    let (zone, state) = ZONES[usize::from(input.zone) % ZONES.len()];
    let viewer = ZONES[usize::from(input.viewer) % ZONES.len()].0;
    let practice: PracticeId = id(1);
    let Ok(location) = Location::new(id(2), practice, "L", "A", zone, state) else { return };
    let Ok(service) = Service::new(
        id(3),
        practice,
        ServiceSpec {
            name: "S".into(),
            duration_minutes: u32::from(input.minutes % 180) + 1,
            price: Money::ZERO,
            buffer_before_minutes: u32::from(input.before % 60),
            buffer_after_minutes: u32::from(input.after % 60),
            telehealth_allowed: true,
            default_mbs_item: None,
            max_patients: 1,
        },
    ) else {
        return;
    };
    let mut profile = PractitionerProfile::default();
    profile.modes.insert(ConsultMode::InPerson);
    let Ok(mut practitioner) = Practitioner::new(id(4), practice, PractitionerKind::RegisteredPsychologist, "P", AhpraNumber::parse("PSY0000000001").ok(), vec![], profile) else {
        return;
    };
    let first = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + Duration::days(i64::from(input.start_day % 1000));
    if let Some(s) = input.suspended_from {
        practitioner.suspension = Some(clinic_core::people::Suspension { reason_code: "x".into(), from: first + Duration::days(i64::from(s % 40)) });
    }
    let quarter = |q: u8| NaiveTime::MIN + Duration::minutes(i64::from(q % 96) * 15);
    let mut availability = Availability::default();
    for (i, (d, s, len, _)) in input.templates.iter().take(16).enumerate() {
        let start = quarter(*s);
        let end_q = (u16::from(*s % 96) + u16::from(*len % 40) + 1).min(95);
        let end = NaiveTime::MIN + Duration::minutes(i64::from(end_q) * 15);
        if let Ok(t) = WeeklyTemplate::new(id(100 + i as u128), practice, practitioner.id, location.id, DAYS[usize::from(*d) % 7], start, end, first - Duration::days(7), None) {
            availability.templates.push(t);
        }
    }
    let base = first.and_time(NaiveTime::MIN);
    for (i, (off, len)) in input.leave.iter().take(8).enumerate() {
        let from = base + Duration::minutes(i64::from(*off % 4000) * 15);
        let kind = ExceptionKind::Unavailable { from, to: from + Duration::minutes(i64::from(*len % 400 + 1) * 15) };
        if let Ok(e) = AvailabilityException::new(id(200 + i as u128), practice, practitioner.id, None, kind) {
            availability.exceptions.push(e);
        }
    }
    for (i, (day, s, len)) in input.extra.iter().take(8).enumerate() {
        let start = quarter(*s);
        let end_q = (u16::from(*s % 96) + u16::from(*len % 20) + 1).min(95);
        let kind = ExceptionKind::ExtraHours { date: first + Duration::days(i64::from(*day % 40)), start, end: NaiveTime::MIN + Duration::minutes(i64::from(end_q) * 15) };
        if let Ok(e) = AvailabilityException::new(id(300 + i as u128), practice, practitioner.id, Some(location.id), kind) {
            availability.exceptions.push(e);
        }
    }
    let policy = BookingPolicy {
        min_notice: Minutes::new_const(0),
        horizon_days: 2000,
        cancellation_notice: Minutes::new_const(0),
        slot_grid: Minutes::new_const(u32::from(input.grid % 60) + 1),
        ..BookingPolicy::default()
    };
    let holidays = HolidayCalendar::australia();
    let now = (first - Duration::days(1)).and_time(NaiveTime::MIN).and_utc();
    let ctx = RuleContext { now, policy: &policy, holidays: &holidays };
    let patient = [PatientId::from_uuid(Uuid::from_u128(9))];
    let mut calendar = Calendar::default();
    for (i, off) in input.bookings.iter().take(64).enumerate() {
        let Some(start) = resolve_local(zone, base + Duration::minutes(i64::from(*off % 4000) * 15)) else { continue };
        let other = [PatientId::from_uuid(Uuid::from_u128(1000 + i as u128))];
        let p = Proposal { practitioner: &practitioner, availability: &availability, service: &service, location: &location, room: None, patients: &other, mode: DeliveryMode::InPerson, start };
        if let Ok(acc) = check(&ctx, &p, &calendar, None) {
            calendar.add(&Appointment {
                id: id(5000 + i as u128),
                practice_id: practice,
                practitioner_id: practitioner.id,
                patient_ids: other.to_vec(),
                service_id: service.id,
                location_id: location.id,
                room_id: None,
                mode: DeliveryMode::InPerson,
                interval: acc.interval,
                blocked: acc.blocked,
                status: AppointmentStatus::Booked,
                series_id: None,
                history: vec![],
                created_at: now,
            });
        }
    }
    let locations = HashMap::from([(location.id, location.clone())]);
    let candidates = [Candidate { practitioner: &practitioner, availability: &availability }];
    let query = SlotQuery { from: first, to: first + Duration::days(i64::from(input.days % 40)), viewer_zone: viewer, mode: DeliveryMode::InPerson, location: None, patient: None };
    let found = slots::search(&ctx, &service, &candidates, &locations, &calendar, &query).expect("a valid range");
    let mut seen = BTreeSet::new();
    for slot in &found {
        let p = Proposal { practitioner: &practitioner, availability: &availability, service: &service, location: &location, room: None, patients: &patient, mode: DeliveryMode::InPerson, start: slot.start };
        assert_eq!(check(&ctx, &p, &calendar, None).map(|a| a.interval.end()), Ok(slot.end), "slot {slot:?} does not book");
        let local = slot.start.with_timezone(&zone).naive_local();
        assert_eq!(resolve_local(zone, local), Some(slot.start), "local start must exist, first occurrence");
        assert!(seen.insert(local), "local start offered twice");
        assert_eq!(slot.local_start, slot.start.with_timezone(&viewer).fixed_offset());
    }
    assert!(found.windows(2).all(|w| w[0].start <= w[1].start));
});
