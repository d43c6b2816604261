//! Rule edges and invariants of the scheduling engine.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;
use uuid::Uuid;

use super::availability::tests::template;
use super::slots::{self, Candidate, SlotQuery};
use super::*;
use crate::ids::*;
use crate::money::Money;
use crate::people::{AhpraNumber, ConsultMode, Practitioner, PractitionerKind, PractitionerProfile, Suspension};
use crate::practice::{AuState, BookingPolicy, Location, Minutes, Room, Service, ServiceSpec};
use crate::time::resolve_local;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn uid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

struct World {
    policy: BookingPolicy,
    holidays: HolidayCalendar,
    practitioner: Practitioner,
    availability: Availability,
    service: Service,
    location: Location,
    room: Room,
    now: DateTime<Utc>,
}

fn practitioner(n: u128) -> Practitioner {
    let mut profile = PractitionerProfile::default();
    profile.modes.insert(ConsultMode::InPerson);
    profile.modes.insert(ConsultMode::Telehealth);
    Practitioner::new(
        PractitionerId::from_uuid(uid(n)),
        PracticeId::from_uuid(Uuid::nil()),
        PractitionerKind::RegisteredPsychologist,
        "Sam Lee",
        Some(AhpraNumber::parse("PSY0001234567").unwrap()),
        vec![],
        profile,
    )
    .unwrap()
}

fn service(minutes: u32, before: u32, after: u32) -> Service {
    Service::new(
        ServiceId::from_uuid(uid(50)),
        PracticeId::from_uuid(Uuid::nil()),
        ServiceSpec {
            name: "Individual".into(),
            duration_minutes: minutes,
            price: Money::from_cents(20000),
            buffer_before_minutes: before,
            buffer_after_minutes: after,
            telehealth_allowed: true,
            default_mbs_item: None,
            max_patients: 2,
        },
    )
    .unwrap()
}

fn availability_for(
    loc: &Location,
    practitioner: PractitionerId,
    days: &[Weekday],
    start: &str,
    end: &str,
) -> Availability {
    Availability {
        templates: days
            .iter()
            .map(|d| {
                let mut t = template(loc, *d, start, end);
                t.practitioner_id = practitioner;
                t
            })
            .collect(),
        exceptions: vec![],
    }
}

/// Sydney, Mon–Fri 09:00–17:00, a 50-minute service with a 10-minute notes buffer; now is
/// Monday 23 Nov 2026 09:00 Sydney.
fn world() -> World {
    let location = super::availability::tests::location(chrono_tz::Australia::Sydney, AuState::NSW);
    let practitioner = practitioner(1);
    let weekdays = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];
    World {
        policy: BookingPolicy::default(),
        holidays: HolidayCalendar::australia(),
        availability: availability_for(&location, practitioner.id, &weekdays, "09:00:00", "17:00:00"),
        practitioner,
        service: service(50, 0, 10),
        room: Room::new(RoomId::from_uuid(uid(60)), location.practice_id, location.id, "Room 1").unwrap(),
        location,
        now: utc("2026-11-22T22:00:00Z"),
    }
}

const P1: [PatientId; 1] = [PatientId::from_uuid(Uuid::from_u128(900))];
const P2: [PatientId; 1] = [PatientId::from_uuid(Uuid::from_u128(901))];

impl World {
    fn ctx(&self) -> RuleContext<'_> {
        RuleContext {
            now: self.now,
            policy: &self.policy,
            holidays: &self.holidays,
        }
    }

    fn proposal<'a>(&'a self, start: &str, patients: &'a [PatientId]) -> Proposal<'a> {
        Proposal {
            practitioner: &self.practitioner,
            availability: &self.availability,
            service: &self.service,
            location: &self.location,
            room: Some(&self.room),
            patients,
            mode: DeliveryMode::InPerson,
            start: utc(start),
        }
    }

    fn check(&self, start: &str, calendar: &Calendar) -> Result<Accepted, SchedulingError> {
        check(&self.ctx(), &self.proposal(start, &P1), calendar, None)
    }

    fn appointment(&self, n: u128, p: &Proposal<'_>) -> Appointment {
        let acc = intervals_for(p.service, p.start).unwrap();
        Appointment {
            id: AppointmentId::from_uuid(uid(n)),
            practice_id: self.location.practice_id,
            practitioner_id: p.practitioner.id,
            patient_ids: p.patients.to_vec(),
            service_id: p.service.id,
            location_id: p.location.id,
            room_id: p.room.map(|r| r.id),
            mode: p.mode,
            interval: acc.interval,
            blocked: acc.blocked,
            status: AppointmentStatus::Booked,
            series_id: None,
            history: vec![],
            created_at: self.now,
        }
    }
}

// Tuesday 24 Nov 2026 in Sydney (AEDT, UTC+11): 09:00 local is 22:00Z on the 23rd.

#[test]
fn books_inside_hours_and_not_past_their_end() {
    let w = world();
    let cal = Calendar::default();
    assert!(w.check("2026-11-23T22:00:00Z", &cal).is_ok(), "09:00 start");
    assert!(
        w.check("2026-11-24T05:10:00Z", &cal).is_ok(),
        "16:10 + 50 min ends at 17:00"
    );
    assert_eq!(
        w.check("2026-11-24T05:15:00Z", &cal),
        Err(SchedulingError::OutsideAvailability),
        "ends 17:05"
    );
    assert_eq!(
        w.check("2026-11-23T21:59:00Z", &cal),
        Err(SchedulingError::OutsideAvailability),
        "08:59"
    );
}

#[test]
fn minimum_notice_edge() {
    let w = world(); // two hours' notice
    let cal = Calendar::default();
    let mut w2 = w;
    w2.now = utc("2026-11-23T20:00:00Z");
    assert!(
        w2.check("2026-11-23T22:00:00Z", &cal).is_ok(),
        "exactly two hours ahead"
    );
    w2.now = utc("2026-11-23T20:00:01Z");
    assert!(matches!(
        w2.check("2026-11-23T22:00:00Z", &cal),
        Err(SchedulingError::InsideMinimumNotice { .. })
    ));
    w2.now = utc("2026-11-23T22:00:01Z");
    assert_eq!(w2.check("2026-11-23T22:00:00Z", &cal), Err(SchedulingError::InThePast));
}

#[test]
fn horizon_edge() {
    let mut w = world();
    w.policy.horizon_days = 1;
    w.now = utc("2026-11-22T22:00:00Z");
    let cal = Calendar::default();
    assert!(w.check("2026-11-23T22:00:00Z", &cal).is_ok(), "exactly one day ahead");
    w.now = utc("2026-11-22T21:59:59Z");
    assert!(matches!(
        w.check("2026-11-23T22:00:00Z", &cal),
        Err(SchedulingError::PastBookingHorizon { .. })
    ));
}

#[test]
fn public_holiday_is_named() {
    let mut w = world();
    w.now = utc("2026-12-20T00:00:00Z");
    // Monday 28 Dec 2026 is the additional Boxing Day holiday in NSW.
    let got = w.check("2026-12-27T22:00:00Z", &Calendar::default());
    assert!(
        matches!(got, Err(SchedulingError::OnPublicHoliday { ref name, .. }) if name.contains("Boxing Day")),
        "{got:?}"
    );
    // Tuesday 29 Dec is an ordinary day.
    assert!(w.check("2026-12-28T22:00:00Z", &Calendar::default()).is_ok());
}

#[test]
fn practitioner_overlap_counts_buffers() {
    let w = world();
    let first = w.appointment(1, &w.proposal("2026-11-23T22:00:00Z", &P2)); // 09:00–09:50, notes to 10:00
    let cal = Calendar::new([&first]);
    assert_eq!(
        w.check("2026-11-23T22:50:00Z", &cal),
        Err(SchedulingError::PractitionerBusy { existing: first.id }),
        "09:50 falls in the notes buffer"
    );
    assert!(w.check("2026-11-23T23:00:00Z", &cal).is_ok(), "10:00 is free");
    // A cancelled appointment frees its time.
    let mut cancelled = first.clone();
    cancelled
        .cancel(CancelledBy::Clinic, "", w.now, Duration::zero())
        .unwrap();
    assert!(w.check("2026-11-23T22:00:00Z", &Calendar::new([&cancelled])).is_ok());
}

#[test]
fn room_and_patient_overlaps() {
    let w = world();
    let other = practitioner(2);
    let other_av = availability_for(&w.location, other.id, &[Weekday::Tue], "09:00:00", "17:00:00");
    let p = Proposal {
        practitioner: &other,
        availability: &other_av,
        ..w.proposal("2026-11-23T22:00:00Z", &P2)
    };
    let in_room = w.appointment(1, &p);
    let cal = Calendar::new([&in_room]);
    assert_eq!(
        w.check("2026-11-23T22:30:00Z", &cal),
        Err(SchedulingError::RoomBusy { existing: in_room.id })
    );
    let p = Proposal {
        room: None,
        ..w.proposal("2026-11-23T22:30:00Z", &P1)
    };
    let no_room = check(&w.ctx(), &p, &cal, None);
    assert!(no_room.is_ok());
    // The same patient with another practitioner at the same time.
    let p = Proposal {
        practitioner: &other,
        availability: &other_av,
        room: None,
        ..w.proposal("2026-11-23T22:00:00Z", &P1)
    };
    let theirs = w.appointment(2, &p);
    let got = check(
        &w.ctx(),
        &Proposal {
            room: None,
            ..w.proposal("2026-11-23T22:10:00Z", &P1)
        },
        &Calendar::new([&theirs]),
        None,
    );
    assert_eq!(
        got,
        Err(SchedulingError::PatientBusy {
            patient: P1[0],
            existing: theirs.id
        })
    );
}

#[test]
fn suspension_day_before_and_day_of() {
    let mut w = world();
    w.practitioner.suspension = Some(Suspension {
        reason_code: "insurance_expired".into(),
        from: "2026-11-25".parse().unwrap(),
    });
    let cal = Calendar::default();
    assert!(
        w.check("2026-11-23T22:00:00Z", &cal).is_ok(),
        "Tuesday 24th: the day before"
    );
    assert_eq!(
        w.check("2026-11-24T22:00:00Z", &cal),
        Err(SchedulingError::PractitionerNotPermitted {
            reason_code: "insurance_expired".into()
        }),
        "Wednesday 25th"
    );
}

#[test]
fn static_rules() {
    let mut w = world();
    let cal = Calendar::default();
    let none: [PatientId; 0] = [];
    assert_eq!(
        check(&w.ctx(), &w.proposal("2026-11-23T22:00:00Z", &none), &cal, None),
        Err(SchedulingError::PatientCount { max: 2 })
    );
    let three = [P1[0], P2[0], PatientId::from_uuid(uid(902))];
    assert!(matches!(
        check(&w.ctx(), &w.proposal("2026-11-23T22:00:00Z", &three), &cal, None),
        Err(SchedulingError::PatientCount { .. })
    ));
    let dup = [P1[0], P1[0]];
    assert_eq!(
        check(&w.ctx(), &w.proposal("2026-11-23T22:00:00Z", &dup), &cal, None),
        Err(SchedulingError::DuplicatePatient)
    );
    let couple = [P1[0], P2[0]];
    assert!(check(&w.ctx(), &w.proposal("2026-11-23T22:00:00Z", &couple), &cal, None).is_ok());
    let video = Proposal {
        mode: DeliveryMode::Video,
        room: None,
        ..w.proposal("2026-11-23T22:00:00Z", &P1)
    };
    assert!(check(&w.ctx(), &video, &cal, None).is_ok());
    w.service.telehealth_allowed = false;
    let video = Proposal {
        mode: DeliveryMode::Video,
        room: None,
        ..w.proposal("2026-11-23T22:00:00Z", &P1)
    };
    assert_eq!(
        check(&w.ctx(), &video, &cal, None),
        Err(SchedulingError::TelehealthNotOffered)
    );
    let elsewhere = Room::new(
        RoomId::from_uuid(uid(61)),
        w.location.practice_id,
        LocationId::from_uuid(uid(8)),
        "R",
    )
    .unwrap();
    let p = Proposal {
        room: Some(&elsewhere),
        ..w.proposal("2026-11-23T22:00:00Z", &P1)
    };
    assert_eq!(check(&w.ctx(), &p, &cal, None), Err(SchedulingError::RoomElsewhere));
}

#[test]
fn reschedule_ignores_itself() {
    let w = world();
    let a = w.appointment(1, &w.proposal("2026-11-23T22:00:00Z", &P1));
    let cal = Calendar::new([&a]);
    let p = w.proposal("2026-11-23T22:30:00Z", &P1);
    assert!(check(&w.ctx(), &p, &cal, None).is_err());
    assert!(check(&w.ctx(), &p, &cal, Some(a.id)).is_ok());
}

#[test]
fn series_all_or_nothing_report_names_the_clash() {
    let w = world();
    // Weekly on Tuesdays at 09:00 for 4 weeks; the third is taken.
    let taken = w.appointment(
        1,
        &Proposal {
            room: None,
            ..w.proposal("2026-12-07T22:00:00Z", &P2)
        },
    );
    let cal = Calendar::new([&taken]);
    let plan = series::plan(
        &w.ctx(),
        &w.proposal("2026-11-23T22:00:00Z", &P1),
        Recurrence {
            every_weeks: 1,
            end: SeriesEnd::Count(4),
        },
        &cal,
    )
    .unwrap();
    let bad: Vec<u16> = plan.iter().filter(|o| o.outcome.is_err()).map(|o| o.index).collect();
    assert_eq!(bad, [2]);
    assert_eq!(
        plan[2].outcome,
        Err(SchedulingError::PractitionerBusy { existing: taken.id })
    );
}

// ---- slot search and daylight saving

fn one_day_world(zone: Tz, state: AuState, weekday: Weekday, start: &str, end: &str, minutes: u32, grid: u32) -> World {
    let mut w = world();
    w.location = super::availability::tests::location(zone, state);
    w.availability = availability_for(&w.location, w.practitioner.id, &[weekday], start, end);
    w.service = service(minutes, 0, 0);
    w.policy.slot_grid = Minutes::new_const(grid);
    w.policy.min_notice = Minutes::new_const(0);
    w.holidays = HolidayCalendar::default();
    w.now = utc("2026-01-01T00:00:00Z");
    w.policy.horizon_days = 700;
    w
}

fn search_day(w: &World, date: &str) -> Vec<Slot> {
    let d: NaiveDate = date.parse().unwrap();
    let locations = HashMap::from([(w.location.id, w.location.clone())]);
    let candidates = [Candidate {
        practitioner: &w.practitioner,
        availability: &w.availability,
    }];
    let q = SlotQuery {
        from: d,
        to: d,
        viewer_zone: w.location.zone,
        mode: DeliveryMode::InPerson,
        location: None,
        patient: None,
    };
    slots::search(&w.ctx(), &w.service, &candidates, &locations, &Calendar::default(), &q).unwrap()
}

fn local_hm(w: &World, s: &Slot) -> String {
    s.start.with_timezone(&w.location.zone).format("%H:%M").to_string()
}

#[test]
fn spring_forward_skips_the_missing_hour() {
    // Sydney, Sunday 4 Oct 2026: 02:00 AEST jumps to 03:00 AEDT.
    let w = one_day_world(
        chrono_tz::Australia::Sydney,
        AuState::NSW,
        Weekday::Sun,
        "01:00:00",
        "04:00:00",
        30,
        30,
    );
    let got: Vec<String> = search_day(&w, "2026-10-04").iter().map(|s| local_hm(&w, s)).collect();
    assert_eq!(got, ["01:00", "01:30", "03:00", "03:30"]);
}

#[test]
fn fall_back_offers_the_repeated_hour_once() {
    // Sydney, Sunday 5 Apr 2026: 03:00 AEDT falls back to 02:00 AEST.
    let w = one_day_world(
        chrono_tz::Australia::Sydney,
        AuState::NSW,
        Weekday::Sun,
        "01:00:00",
        "04:00:00",
        30,
        30,
    );
    let slots = search_day(&w, "2026-04-05");
    let got: Vec<String> = slots.iter().map(|s| local_hm(&w, s)).collect();
    assert_eq!(got, ["01:00", "01:30", "02:00", "02:30", "03:00", "03:30"]);
    // 02:30 is its first occurrence (daylight time, UTC+11).
    assert_eq!(slots[3].start, utc("2026-04-04T15:30:00Z"));
}

#[test]
fn lord_howe_half_hour_shift() {
    // Lord Howe, Sunday 4 Oct 2026: 02:00 jumps to 02:30.
    let w = one_day_world(
        chrono_tz::Australia::Lord_Howe,
        AuState::NSW,
        Weekday::Sun,
        "01:00:00",
        "03:30:00",
        15,
        15,
    );
    let got: Vec<String> = search_day(&w, "2026-10-04").iter().map(|s| local_hm(&w, s)).collect();
    assert!(!got.iter().any(|t| t == "02:00" || t == "02:15"), "{got:?}");
    assert!(got.contains(&"01:45".to_owned()) && got.contains(&"02:30".to_owned()));
}

#[test]
fn brisbane_has_no_transition() {
    let w = one_day_world(
        chrono_tz::Australia::Brisbane,
        AuState::QLD,
        Weekday::Sun,
        "01:00:00",
        "04:00:00",
        30,
        30,
    );
    assert_eq!(search_day(&w, "2026-10-04").len(), 6);
}

#[test]
fn search_range_is_bounded() {
    let d: NaiveDate = "2026-01-01".parse().unwrap();
    assert!(slots::search_range(d, d - Duration::days(1), chrono_tz::UTC).is_err());
    assert!(slots::search_range(d, d + Duration::days(365), chrono_tz::UTC).is_ok());
    assert!(slots::search_range(d, d + Duration::days(366), chrono_tz::UTC).is_err());
}

#[test]
fn leap_day_is_an_ordinary_bookable_day() {
    // 29 Feb 2028 is a Tuesday.
    let mut w = one_day_world(
        chrono_tz::Australia::Adelaide,
        AuState::SA,
        Weekday::Tue,
        "09:00:00",
        "10:00:00",
        60,
        60,
    );
    w.now = utc("2028-01-01T00:00:00Z");
    let slots = search_day(&w, "2028-02-29");
    assert_eq!(slots.len(), 1);
    assert_eq!(local_hm(&w, &slots[0]), "09:00");
}

// ---- properties

const ZONES: [(Tz, AuState); 4] = [
    (chrono_tz::Australia::Sydney, AuState::NSW),
    (chrono_tz::Australia::Adelaide, AuState::SA),
    (chrono_tz::Australia::Brisbane, AuState::QLD),
    (chrono_tz::Australia::Lord_Howe, AuState::NSW),
];

/// A realistic practice around a daylight-saving change: templates on random weekdays
/// (some across 01:00–04:00), a leave period, and existing appointments.
#[derive(Debug, Clone)]
struct Scenario {
    zone: usize,
    templates: Vec<(u8, u32, u32)>,
    leave: Option<(i64, i64)>,
    booked: Vec<(i64, u32)>,
    minutes: u32,
    before: u32,
    after: u32,
    grid: u32,
    first_day: i64,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        0usize..4,
        proptest::collection::vec((0u8..7, 0u32..20 * 4, 1u32..10 * 4), 1..6),
        proptest::option::of((0i64..14 * 96, 1i64..3 * 96)),
        proptest::collection::vec((0i64..14 * 96, 0u32..3), 0..30),
        prop_oneof![Just(30u32), Just(45), Just(50), Just(60), Just(90)],
        prop_oneof![Just(0u32), Just(5), Just(15)],
        prop_oneof![Just(0u32), Just(10)],
        prop_oneof![Just(5u32), Just(15), Just(30)],
        // Windows around April (end of DST) and October (start) 2026.
        prop_oneof![Just(89i64), Just(270)],
    )
        .prop_map(
            |(zone, templates, leave, booked, minutes, before, after, grid, first_day)| Scenario {
                zone,
                templates,
                leave,
                booked,
                minutes,
                before,
                after,
                grid,
                first_day,
            },
        )
}

fn build(s: &Scenario) -> (World, Vec<Appointment>, NaiveDate, NaiveDate) {
    let (zone, state) = ZONES[s.zone];
    let mut w = world();
    w.location = super::availability::tests::location(zone, state);
    w.service = service(s.minutes, s.before, s.after);
    w.policy.slot_grid = Minutes::new_const(s.grid);
    w.policy.min_notice = Minutes::new_const(0);
    w.policy.horizon_days = 700;
    w.holidays = HolidayCalendar::australia();
    w.now = utc("2026-01-01T00:00:00Z");
    let weekdays = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    w.availability.templates = s
        .templates
        .iter()
        .filter_map(|(d, start_q, len_q)| {
            let start = NaiveTime::MIN + Duration::minutes(i64::from(*start_q) * 15);
            let end_min = (start_q + len_q).min(24 * 4 - 1);
            let end = NaiveTime::MIN + Duration::minutes(i64::from(end_min) * 15);
            (end > start).then(|| {
                let mut t = template(&w.location, weekdays[usize::from(*d)], "00:00:00", "01:00:00");
                t.start = start;
                t.end = end;
                t.practitioner_id = w.practitioner.id;
                t
            })
        })
        .collect();
    let from = NaiveDate::from_yo_opt(2026, u32::try_from(s.first_day).unwrap()).unwrap();
    let base = from.and_time(NaiveTime::MIN);
    if let Some((off, len)) = s.leave {
        w.availability.exceptions.push(
            AvailabilityException::new(
                ExceptionId::from_uuid(uid(1)),
                w.location.practice_id,
                w.practitioner.id,
                None,
                ExceptionKind::Unavailable {
                    from: base + Duration::minutes(off * 15),
                    to: base + Duration::minutes((off + len) * 15),
                },
            )
            .unwrap(),
        );
    }
    let mut existing = Vec::new();
    for (i, (q, who)) in s.booked.iter().enumerate() {
        let Some(start) = resolve_local(zone, base + Duration::minutes(q * 15)) else {
            continue;
        };
        let patients = [PatientId::from_uuid(uid(2000 + u128::from(*who)))];
        let p = Proposal {
            room: None,
            start,
            ..w.proposal("2026-01-01T00:00:00Z", &patients)
        };
        existing.push(w.appointment(10_000 + i as u128, &p));
    }
    (w, existing, from, from + Duration::days(13))
}

fn overlaps_exist(appts: &[Appointment]) -> bool {
    let live: Vec<&Appointment> = appts.iter().filter(|a| a.holds_time()).collect();
    for (i, a) in live.iter().enumerate() {
        for b in &live[i + 1..] {
            if a.practitioner_id == b.practitioner_id && a.blocked.overlaps(&b.blocked) {
                return true;
            }
            if a.room_id.is_some() && a.room_id == b.room_id && a.interval.overlaps(&b.interval) {
                return true;
            }
            if a.patient_ids.iter().any(|p| b.patient_ids.contains(p)) && a.interval.overlaps(&b.interval) {
                return true;
            }
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every slot search returns books without conflict, lies inside availability, and
    /// starts at a local time that exists, once.
    #[test]
    fn every_slot_books_and_exists(s in scenario()) {
        let (w, existing, from, to) = build(&s);
        // Only appointments the rules accept are "existing" (as in a real calendar).
        let mut calendar = Calendar::default();
        for a in &existing {
            let p = Proposal { room: None, start: a.interval.start(), ..w.proposal("2026-01-01T00:00:00Z", &a.patient_ids) };
            if check(&w.ctx(), &p, &calendar, None).is_ok() {
                calendar.add(a);
            }
        }
        let locations = HashMap::from([(w.location.id, w.location.clone())]);
        let candidates = [Candidate { practitioner: &w.practitioner, availability: &w.availability }];
        let q = SlotQuery { from, to, viewer_zone: w.location.zone, mode: DeliveryMode::InPerson, location: None, patient: None };
        let found = slots::search(&w.ctx(), &w.service, &candidates, &locations, &calendar, &q).unwrap();
        let tz = w.location.zone;
        let mut seen_local = BTreeSet::new();
        for slot in &found {
            let p = Proposal { room: None, start: slot.start, ..w.proposal("2026-01-01T00:00:00Z", &P1) };
            prop_assert_eq!(check(&w.ctx(), &p, &calendar, None).map(|a| a.interval.end()), Ok(slot.end));
            let local = slot.start.with_timezone(&tz).naive_local();
            prop_assert_eq!(resolve_local(tz, local), Some(slot.start), "local start must exist and be its first occurrence");
            prop_assert!(seen_local.insert(local), "local time offered twice");
        }
        prop_assert!(found.windows(2).all(|p| p[0].start <= p[1].start));
    }

    /// After any sequence of book / cancel / reschedule / series operations accepted by the
    /// rules, no practitioner, room or patient has overlapping appointments.
    #[test]
    fn no_overlap_after_random_operations(
        s in scenario(),
        ops in proptest::collection::vec((0u8..4, 0i64..14 * 96, 0u32..4, any::<bool>(), 0usize..64), 1..60),
    ) {
        let (w, _, from, _) = build(&s);
        let base = from.and_time(NaiveTime::MIN);
        let tz = w.location.zone;
        let mut all: Vec<Appointment> = Vec::new();
        let mut calendar = Calendar::default();
        let mut next = 1u128;
        for (op, q, who, use_room, pick) in ops {
            let patients = [PatientId::from_uuid(uid(3000 + u128::from(who)))];
            let Some(start) = resolve_local(tz, base + Duration::minutes(q * 15)) else { continue };
            let room = if use_room { Some(&w.room) } else { None };
            let p = Proposal { room, start, ..w.proposal("2026-01-01T00:00:00Z", &patients) };
            match op {
                0
                    if check(&w.ctx(), &p, &calendar, None).is_ok() => {
                        let a = w.appointment(next, &p);
                        next += 1;
                        calendar.add(&a);
                        all.push(a);
                    }
                1 if !all.is_empty() => {
                    let i = pick % all.len();
                    let before = all[i].clone();
                    if all[i].cancel(CancelledBy::Patient, "", w.now, Duration::hours(24)).is_ok() {
                        calendar.remove(&before);
                    }
                }
                2 if !all.is_empty() => {
                    let i = pick % all.len();
                    let a = all[i].clone();
                    let p = Proposal { room: a.room_id.map(|_| &w.room), patients: &a.patient_ids, ..p };
                    if let Ok(acc) = check(&w.ctx(), &p, &calendar, Some(a.id)) {
                        let mut moved = a.clone();
                        if moved.reschedule(acc.interval, acc.blocked, w.now).is_ok() {
                            calendar.remove(&a);
                            calendar.add(&moved);
                            all[i] = moved;
                        }
                    }
                }
                3 => {
                    let rec = Recurrence { every_weeks: 1 + (who % 2) as u8, end: SeriesEnd::Count(4) };
                    let plan = series::plan(&w.ctx(), &p, rec, &calendar).unwrap();
                    for o in plan {
                        if let Ok(acc) = o.outcome {
                            let mut a = w.appointment(next, &Proposal { start: acc.interval.start(), ..p });
                            a.series_id = Some(SeriesId::from_uuid(uid(1)));
                            next += 1;
                            calendar.add(&a);
                            all.push(a);
                        }
                    }
                }
                _ => {}
            }
        }
        prop_assert!(!overlaps_exist(&all));
    }
}

/// A calendar built from busy stretches (what storage returns for a slot search) decides
/// every clash as one built from the appointments themselves.
#[test]
fn a_calendar_of_busy_stretches_decides_like_one_of_appointments() {
    use crate::ports::{Busy, ResourceKey};
    let w = world();
    let other = practitioner(2);
    let other_av = availability_for(&w.location, other.id, &[Weekday::Tue], "09:00:00", "17:00:00");
    let theirs = w.appointment(
        2,
        &Proposal {
            practitioner: &other,
            availability: &other_av,
            ..w.proposal("2026-11-23T22:00:00Z", &P1)
        },
    );
    let mine = w.appointment(3, &w.proposal("2026-11-24T01:00:00Z", &P2));
    let mut cancelled = w.appointment(4, &w.proposal("2026-11-24T03:00:00Z", &P2));
    cancelled
        .cancel(CancelledBy::Clinic, "", w.now, Duration::zero())
        .unwrap();
    let all = [&theirs, &mine, &cancelled];
    let keys: Vec<ResourceKey> = all.iter().flat_map(|a| ResourceKey::of(a)).collect();
    let busy: Vec<Busy> = all.iter().flat_map(|a| Busy::of(a, &keys)).collect();
    assert!(Busy::of(&cancelled, &keys).is_empty(), "cancelled time is free");
    let (from_appointments, from_busy) = (Calendar::new(all), Calendar::from_busy(&busy));
    for minutes in (0..360).step_by(10) {
        let at = (utc("2026-11-23T21:00:00Z") + Duration::minutes(minutes)).to_rfc3339();
        for patients in [&P1, &P2] {
            let p = w.proposal(&at, patients);
            assert_eq!(
                check(&w.ctx(), &p, &from_appointments, None),
                check(&w.ctx(), &p, &from_busy, None),
                "{at}"
            );
        }
    }
}

/// The search of `s` for its practitioner and a second one with the same hours, in one
/// page or in pages of `limit`.
fn two_practitioner_pages(s: &Scenario, limit: Option<usize>) -> Vec<Vec<Slot>> {
    let (w, existing, from, to) = build(s);
    let mut calendar = Calendar::default();
    for a in &existing {
        calendar.add(a);
    }
    let other = practitioner(77);
    let locations = HashMap::from([(w.location.id, w.location.clone())]);
    let candidates = [
        Candidate {
            practitioner: &w.practitioner,
            availability: &w.availability,
        },
        Candidate {
            practitioner: &other,
            availability: &w.availability,
        },
    ];
    let q = SlotQuery {
        from,
        to,
        viewer_zone: w.location.zone,
        mode: DeliveryMode::InPerson,
        location: None,
        patient: None,
    };
    let limit = limit.and_then(std::num::NonZeroUsize::new);
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = slots::search_page(
            &w.ctx(),
            &w.service,
            &candidates,
            &locations,
            &calendar,
            &q,
            after,
            limit,
        )
        .unwrap();
        pages.push(page.slots);
        match page.next {
            Some(next) => after = Some(next.to_string().parse().unwrap()),
            None => return pages,
        }
    }
}

#[test]
fn a_page_stops_at_its_limit_and_names_the_next() {
    let s = Scenario {
        zone: 0,
        templates: vec![(0, 9 * 4, 8 * 4), (2, 9 * 4, 8 * 4)],
        leave: None,
        booked: vec![],
        minutes: 50,
        before: 0,
        after: 10,
        grid: 15,
        first_day: 89,
    };
    let whole = two_practitioner_pages(&s, None);
    assert_eq!(whole.len(), 1, "no limit: one page");
    let n = whole[0].len();
    assert!(n > 10, "the scenario offers slots: {n}");
    // A limit of exactly the count is one page; one less is two, the second of one slot.
    assert_eq!(two_practitioner_pages(&s, Some(n)).len(), 1);
    let split = two_practitioner_pages(&s, Some(n - 1));
    assert_eq!(split.iter().map(Vec::len).collect::<Vec<_>>(), vec![n - 1, 1]);
    assert_eq!(split.concat(), whole[0]);
    // Two practitioners share each start: a page may end between them.
    let pairs = two_practitioner_pages(&s, Some(1));
    assert_eq!(pairs.len(), n);
    assert_eq!(pairs[0][0].start, pairs[1][0].start);
}

#[test]
fn a_cursor_reads_back_and_nonsense_is_refused() {
    let s = Scenario {
        zone: 1,
        templates: vec![(1, 10 * 4, 4)],
        leave: None,
        booked: vec![],
        minutes: 60,
        before: 0,
        after: 0,
        grid: 30,
        first_day: 89,
    };
    let page = &two_practitioner_pages(&s, Some(1))[0];
    let cursor = page[0].cursor();
    assert_eq!(cursor.to_string().parse::<slots::SlotCursor>(), Ok(cursor));
    for bad in [
        "",
        "1.2",
        "x.00000000-0000-0000-0000-000000000001.00000000-0000-0000-0000-000000000001",
        "99999999999999999999.00000000-0000-0000-0000-000000000001.00000000-0000-0000-0000-000000000001",
        "1.not-a-uuid.00000000-0000-0000-0000-000000000001",
    ] {
        let e = bad.parse::<slots::SlotCursor>().unwrap_err();
        assert_eq!(e.field(), "after", "{bad}");
    }
}

#[test]
fn a_page_over_the_most_is_refused() {
    let w = world();
    let q = SlotQuery {
        from: "2026-03-02".parse().unwrap(),
        to: "2026-03-02".parse().unwrap(),
        viewer_zone: w.location.zone,
        mode: DeliveryMode::InPerson,
        location: None,
        patient: None,
    };
    let e = slots::search_page(
        &w.ctx(),
        &w.service,
        &[],
        &HashMap::new(),
        &Calendar::default(),
        &q,
        None,
        std::num::NonZeroUsize::new(slots::MAX_PAGE + 1),
    )
    .unwrap_err();
    assert_eq!(e.field(), "limit");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Walking the pages of any size from cursor to cursor yields exactly the whole
    /// search, in order, each slot once, and no page is over its limit.
    #[test]
    fn pages_walked_to_the_end_are_the_whole_search(s in scenario(), limit in 1usize..40) {
        let whole = two_practitioner_pages(&s, None).concat();
        let pages = two_practitioner_pages(&s, Some(limit));
        prop_assert!(pages.iter().all(|p| p.len() <= limit));
        prop_assert!(pages[..pages.len() - 1].iter().all(|p| p.len() == limit), "only the last page is short");
        prop_assert_eq!(pages.concat(), whole);
    }
}
