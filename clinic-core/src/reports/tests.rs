use chrono::{NaiveDate, NaiveTime, Weekday};
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::*;
use crate::billing::{GstRates, Invoice, LineInput, LineMedicare, Payer, Payment, PaymentMethod, SupplyKind};
use crate::credentials::{Credentials, Insurance, Registration, RegistrationType};
use crate::ids::*;
use crate::medicare::{CapKind, CapRule, PastService};
use crate::money::Money;
use crate::people::AhpraNumber;
use crate::practice::{AuState, Location};
use crate::scheduling::{Availability, HolidayCalendar, StatusKind, WeeklyTemplate};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn id<T: From<Uuid>>(n: u128) -> T {
    T::from(Uuid::from_u128(n))
}

fn sydney() -> Location {
    Location::new(
        id(1),
        id(2),
        "Sydney CBD",
        "1 George St, Sydney NSW 2000",
        chrono_tz::Australia::Sydney,
        AuState::NSW,
    )
    .unwrap()
}

fn tally(status: StatusKind, late: bool, appointments: u64, minutes: u64) -> Tally {
    Tally {
        practitioner_id: id(10),
        location_id: id(1),
        status,
        late_cancellation: late,
        appointments,
        minutes,
    }
}

#[test]
fn a_period_is_one_to_366_whole_days() {
    assert!(Period::new(d("2026-12-02"), d("2026-12-01")).is_err());
    assert!(
        Period::new(d("2028-01-01"), d("2028-12-31")).is_ok(),
        "a leap year fits"
    );
    assert!(Period::new(d("2027-01-01"), d("2028-01-01")).is_ok());
    assert_eq!(Period::new(d("2027-01-01"), d("2028-01-02")).unwrap_err().field(), "to");
    assert_eq!(Period::new(d("2026-12-01"), d("2026-12-01")).unwrap().days().count(), 1);
}

#[test]
fn utilisation_counts_held_time_by_local_date_against_availability() {
    let loc = sydney();
    // Mondays 09:00–17:00 (480 minutes).
    let template = WeeklyTemplate::new(
        id(20),
        id(2),
        id(10),
        loc.id,
        Weekday::Mon,
        NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
        d("2026-01-01"),
        None,
    )
    .unwrap();
    let availability = Availability {
        templates: vec![template],
        exceptions: vec![],
    };
    // Monday 30 November 2026 in Sydney: a completed session and a no-show held time, a
    // late cancellation did not.
    let period = Period::new(d("2026-11-30"), d("2026-11-30")).unwrap();
    let facts = [
        tally(StatusKind::Completed, false, 1, 50),
        tally(StatusKind::NoShow, false, 1, 50),
        tally(StatusKind::Cancelled, true, 1, 50),
    ];
    let rows = utilisation(
        &facts,
        &[(id(10), availability)],
        &[loc],
        period,
        &HolidayCalendar::australia(),
    );
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].available_minutes, rows[0].booked_minutes), (480, 100));
    assert_eq!(rows[0].utilisation_percent, Some(Decimal::new(208, 1)));
}

#[test]
fn a_public_holiday_has_no_available_time_and_booked_time_without_availability_shows_no_rate() {
    let loc = sydney();
    let template = WeeklyTemplate::new(
        id(20),
        id(2),
        id(10),
        loc.id,
        Weekday::Fri,
        NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
        d("2026-01-01"),
        None,
    )
    .unwrap();
    let availability = Availability {
        templates: vec![template],
        exceptions: vec![],
    };
    // Friday 25 December 2026: Christmas Day in New South Wales.
    let period = Period::new(d("2026-12-25"), d("2026-12-25")).unwrap();
    let facts = [tally(StatusKind::Completed, false, 1, 50)];
    let rows = utilisation(
        &facts,
        &[(id(10), availability)],
        &[loc],
        period,
        &HolidayCalendar::australia(),
    );
    assert_eq!((rows[0].available_minutes, rows[0].booked_minutes), (0, 50));
    assert_eq!(rows[0].utilisation_percent, None);
}

#[test]
fn utilisation_across_daylight_saving_changes_uses_the_local_day() {
    let loc = sydney();
    let sunday = |from: &str| Availability {
        templates: vec![
            WeeklyTemplate::new(
                id(20),
                id(2),
                id(10),
                loc.id,
                Weekday::Sun,
                NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
                NaiveTime::from_hms_opt(23, 59, 0).unwrap(),
                d(from),
                None,
            )
            .unwrap(),
        ],
        exceptions: vec![],
    };
    // Sunday 4 April 2027: clocks go back an hour at 03:00 AEDT, a 25-hour day.
    let period = Period::new(d("2027-04-04"), d("2027-04-04")).unwrap();
    let rows = utilisation(
        &[],
        &[(id(10), sunday("2027-01-01"))],
        std::slice::from_ref(&loc),
        period,
        &HolidayCalendar::australia(),
    );
    assert_eq!(rows[0].available_minutes, 25 * 60 - 1);
    // Sunday 4 October 2026: clocks go forward at 02:00 AEST, a 23-hour day.
    let period = Period::new(d("2026-10-04"), d("2026-10-04")).unwrap();
    let rows = utilisation(
        &[],
        &[(id(10), sunday("2026-01-01"))],
        &[loc],
        period,
        &HolidayCalendar::australia(),
    );
    assert_eq!(rows[0].available_minutes, 23 * 60 - 1);
}

#[test]
fn a_period_s_window_is_its_local_days_across_clock_changes() {
    let sydney = chrono_tz::Australia::Sydney;
    let w = Period::new(d("2026-11-30"), d("2026-11-30"))
        .unwrap()
        .window_at(sydney)
        .unwrap();
    assert_eq!(
        w.start(),
        "2026-11-29T13:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap()
    );
    assert_eq!(w.duration(), chrono::Duration::hours(24));
    let back = Period::new(d("2027-04-04"), d("2027-04-04"))
        .unwrap()
        .window_at(sydney)
        .unwrap();
    assert_eq!(back.duration(), chrono::Duration::hours(25));
    let forward = Period::new(d("2026-10-04"), d("2026-10-04"))
        .unwrap()
        .window_at(sydney)
        .unwrap();
    assert_eq!(forward.duration(), chrono::Duration::hours(23));
    // Perth keeps no daylight saving; Lord Howe moves by half an hour.
    let perth = Period::new(d("2026-10-04"), d("2026-10-04"))
        .unwrap()
        .window_at(chrono_tz::Australia::Perth)
        .unwrap();
    assert_eq!(perth.duration(), chrono::Duration::hours(24));
    let lord_howe = Period::new(d("2026-10-04"), d("2026-10-04"))
        .unwrap()
        .window_at(chrono_tz::Australia::Lord_Howe)
        .unwrap();
    assert_eq!(lord_howe.duration(), chrono::Duration::minutes(23 * 60 + 30));
    // A leap day is a day like any other.
    let leap = Period::new(d("2028-02-29"), d("2028-02-29"))
        .unwrap()
        .window_at(sydney)
        .unwrap();
    assert_eq!(leap.duration(), chrono::Duration::hours(24));
}

#[test]
fn attendance_rates_are_shares_of_what_was_due() {
    let facts = [
        tally(StatusKind::Completed, false, 1, 50),
        tally(StatusKind::NoShow, false, 1, 50),
        tally(StatusKind::Cancelled, true, 1, 50),
        tally(StatusKind::Cancelled, false, 1, 50),
        tally(StatusKind::Requested, false, 1, 50),
        tally(StatusKind::Arrived, false, 1, 50),
    ];
    let rows = attendance(&facts);
    assert_eq!(rows.len(), 2, "the practitioner and the practice");
    let r = &rows[0];
    assert_eq!(
        (r.due, r.attended, r.no_shows, r.late_cancellations, r.cancellations),
        (5, 2, 1, 1, 1)
    );
    assert_eq!(r.no_show_percent, Some(Decimal::new(200, 1)));
    assert_eq!(rows[1].practitioner_id, None);
    assert_eq!(rows[1].due, 5);
    assert_eq!(attendance(&[])[0].no_show_percent, None);
}

fn invoice(n: u64, issued: &str, medicare: bool, fee_cents: i64, paid_cents: i64) -> Invoice {
    let mut inv = Invoice::draft(id(u128::from(n) + 100), id(2), id(30), Payer::Patient);
    let (supply, registered) = if medicare {
        (SupplyKind::PsychologicalService, true)
    } else {
        (SupplyKind::Product, false)
    };
    inv.add_line(
        LineInput {
            description: "Session".into(),
            service_date: d(issued),
            quantity: 1,
            unit_price: Money::from_cents(fee_cents),
            supply,
            registered_provider: registered,
            clinically_necessary: registered,
            appointment_id: None,
            medicare: medicare.then(|| LineMedicare {
                item: "80110".into(),
                provider_name: "Sam Lee".into(),
                provider_number: None,
                rebate: Money::from_cents(9865),
                bulk_billed: false,
                referral: None,
            }),
        },
        &GstRates::australia(),
    )
    .unwrap();
    inv.issue(n, d(issued)).unwrap();
    if paid_cents > 0 {
        inv.pay(Payment {
            id: id(u128::from(n) + 500),
            amount: Money::from_cents(paid_cents),
            method: PaymentMethod::Card,
            at: "2026-11-01T00:00:00Z".parse().unwrap(),
            reference: None,
        })
        .unwrap();
    }
    inv
}

#[test]
fn revenue_splits_rebate_gap_private_and_gst_by_month_of_issue() {
    let period = Period::new(d("2026-10-01"), d("2026-12-31")).unwrap();
    let invoices = [
        invoice(1, "2026-10-31", true, 22000, 0),
        invoice(2, "2026-11-01", false, 3000, 0),
        invoice(3, "2026-09-30", true, 22000, 0),
    ];
    let months = revenue_by_month(&invoices, period);
    assert_eq!(
        months.iter().map(|m| m.month.as_str()).collect::<Vec<_>>(),
        ["2026-10", "2026-11", "2026-12"]
    );
    let oct = &months[0];
    assert_eq!(oct.invoices, 1);
    assert_eq!(oct.medicare_rebate, Money::from_cents(9865));
    assert_eq!(oct.gap, Money::from_cents(22000 - 9865));
    assert_eq!(oct.gst, Money::ZERO, "therapy is GST-free");
    let nov = &months[1];
    assert_eq!(nov.private_fees, Money::from_cents(3300));
    assert_eq!(nov.gst, Money::from_cents(300), "a product carries 10% GST");
    assert_eq!(months[2].total, Money::ZERO);
}

#[test]
fn outstanding_invoices_age_at_30_and_31_days() {
    let today = d("2026-12-01");
    let invoices = [
        invoice(1, "2026-12-01", false, 1000, 0),
        invoice(2, "2026-11-01", false, 1000, 0),
        invoice(3, "2026-10-31", false, 1000, 0),
        invoice(4, "2026-08-01", false, 1000, 0),
        invoice(5, "2026-11-15", false, 1000, 1100),
    ];
    let o = outstanding(&invoices, today);
    let ages: Vec<_> = o.invoices.iter().map(|i| (i.number, i.days, i.age)).collect();
    assert_eq!(
        ages,
        [
            (Some(4), 122, "90+"),
            (Some(3), 31, "31-60"),
            (Some(2), 30, "0-30"),
            (Some(1), 0, "0-30"),
        ]
    );
    assert_eq!(o.buckets.len(), 4);
    assert_eq!(
        (o.buckets[0].invoices, o.buckets[0].balance),
        (2, Money::from_cents(2200))
    );
    assert_eq!(o.buckets[2].invoices, 0);
}

fn claimed(n: usize, year: i32) -> Vec<PastService> {
    (0..n)
        .map(|i| PastService {
            date: NaiveDate::from_ymd_opt(year, 1, 1).unwrap() + chrono::Days::new(i as u64 * 7),
            cap: CapKind::Individual,
            referral_id: None,
            claimed: true,
        })
        .collect()
}

#[test]
fn cap_bands_put_the_tenth_session_at_the_cap_and_the_ninth_short_of_it() {
    let rule = CapRule {
        individual: 10,
        group: 10,
        per_referral_course: 6,
        gp_referral_needs_mymedicare: true,
    };
    let mut last_year = claimed(10, 2025);
    last_year.extend(claimed(1, 2026));
    let histories = vec![
        (id(1), claimed(10, 2026)),
        (id(2), claimed(9, 2026)),
        (id(3), claimed(5, 2026)),
        (id(4), claimed(6, 2026)),
        (id(5), last_year),
        (id(6), vec![]),
    ];
    let r = cap_report(histories, 2026, &rule);
    assert_eq!(r.cap, 10);
    assert_eq!(
        r.bands.iter().map(|b| (b.from, b.to, b.patients)).collect::<Vec<_>>(),
        [(1, 5, 2), (6, 9, 2), (10, 10, 1)]
    );
    assert_eq!(r.at_cap, [id::<PatientId>(1)]);
    assert_eq!(r.patients_claiming, 5);
}

#[test]
fn credentials_are_listed_up_to_the_horizon_and_lapse_the_day_after_expiry() {
    let today = d("2026-12-01");
    let creds = |reg: &str, ins: &str| Credentials {
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
            cover: Money::from_cents(2_000_000_000),
            expires_on: d(ins),
            certificate: None,
        }],
    };
    let a = creds("2026-12-01", "2027-03-01");
    let b = creds("2026-11-30", "2027-02-28");
    let list = expiring_credentials([(id(1), &a), (id(2), &b)], today, 89);
    let seen: Vec<_> = list.iter().map(|e| (e.expires_on, e.days_left, e.lapsed)).collect();
    assert_eq!(
        seen,
        [
            (d("2026-11-30"), -1, true),
            (d("2026-12-01"), 0, false),
            (d("2027-02-28"), 89, false),
        ]
    );
}

proptest! {
    /// Whatever the tallies, each practitioner's due count covers its parts and the
    /// practice row is the sum of the practitioners'.
    #[test]
    fn attendance_adds_up(parts in proptest::collection::vec((0usize..7, any::<bool>(), 0u128..3, 0u64..20), 0..40)) {
        let tallies: Vec<Tally> = parts
            .iter()
            .map(|(s, late, who, n)| Tally {
                practitioner_id: id(10 + who),
                ..tally(StatusKind::ALL[*s], *late, *n, n * 50)
            })
            .collect();
        let rows = attendance(&tallies);
        let (practice, each) = rows.split_last().unwrap();
        for r in &rows {
            prop_assert!(r.attended + r.no_shows + r.late_cancellations + r.cancellations <= r.due);
        }
        prop_assert_eq!(practice.due, each.iter().map(|r| r.due).sum::<u64>());
        prop_assert_eq!(practice.no_shows, each.iter().map(|r| r.no_shows).sum::<u64>());
        let requested: u64 = tallies.iter().filter(|t| t.status == StatusKind::Requested).map(|t| t.appointments).sum();
        prop_assert_eq!(practice.due + requested, tallies.iter().map(|t| t.appointments).sum::<u64>());
    }
}
