//! Edge tests of the Better Access decision.

use chrono::NaiveDate;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::ids::{PatientId, PracticeId, ReferralId};
use crate::money::Money;
use crate::people::PractitionerKind;
use crate::time::local_date;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn money(s: &str) -> Money {
    Money::aud(s.parse().unwrap())
}

fn referral(written: &str, sessions: Option<u16>) -> Referral {
    Referral {
        id: ReferralId::from_uuid(Uuid::from_u128(1)),
        practice_id: PracticeId::from_uuid(Uuid::nil()),
        patient_id: PatientId::from_uuid(Uuid::nil()),
        referrer_name: "Dr A GP".into(),
        referrer_kind: ReferrerKind::GeneralPractitioner,
        referrer_provider_number: None,
        mymedicare_or_usual_gp: true,
        written_on: d(written),
        sessions_requested: sessions,
        scope: ReferralScope::Individual,
        letter: None,
    }
}

fn session(date: &str) -> Session<'static> {
    Session {
        item: "80110",
        practitioner_kind: PractitionerKind::RegisteredPsychologist,
        practitioner_permitted: true,
        mode: ItemMode::InRooms,
        minutes: 50,
        group_size: None,
        group_video_area_eligible: false,
        date: d(date),
        fee_charged: money("220.00"),
    }
}

/// `n` claimed individual sessions in 2026 under other referrals (another practice, say).
fn past(n: usize, year: i32) -> Vec<PastService> {
    (0..n)
        .map(|i| PastService {
            date: NaiveDate::from_ymd_opt(year, 1, 1).unwrap() + chrono::Duration::days(i as i64 * 7),
            cap: CapKind::Individual,
            referral_id: Some(ReferralId::from_uuid(Uuid::from_u128(99 + i as u128 / 6))),
            claimed: true,
        })
        .collect()
}

fn run(s: &Session<'_>, history: &[PastService], r: Option<&Referral>) -> Decision {
    decide(&Catalogue::shipped(), &CapTable::shipped(), s, history, r)
}

fn codes(dec: &Decision) -> Vec<&'static str> {
    dec.reasons.iter().map(Ineligible::code).collect()
}

#[test]
fn tenth_session_is_claimable_eleventh_is_not() {
    let r = referral("2026-01-01", Some(6));
    let tenth = run(&session("2026-11-24"), &past(9, 2026), Some(&r));
    assert!(tenth.claimable, "{:?}", tenth.reasons);
    assert_eq!((tenth.used_this_year, tenth.left_after), (9, Some(0)));
    assert!(tenth.advice.contains(&Advice::LastSessionUnderCap));
    let eleventh = run(&session("2026-11-24"), &past(10, 2026), Some(&r));
    assert!(!eleventh.claimable);
    assert_eq!(
        eleventh.reasons,
        vec![Ineligible::AnnualCapReached { used: 10, cap: 10 }]
    );
}

#[test]
fn unclaimed_services_do_not_count() {
    let r = referral("2026-01-01", Some(6));
    let mut h = past(10, 2026);
    h[3].claimed = false; // a rejected claim
    assert!(run(&session("2026-11-24"), &h, Some(&r)).claimable);
}

#[test]
fn first_of_january_in_the_clinics_zone_starts_a_new_year() {
    // 2026-12-31T14:00Z is already 1 January 2027, 01:00 in Sydney.
    let instant = "2026-12-31T14:00:00Z".parse().unwrap();
    let date = local_date(chrono_tz::Australia::Sydney, instant);
    assert_eq!(date, d("2027-01-01"));
    let mut s = session("2027-01-01");
    s.date = date;
    let r = referral("2026-12-01", Some(6));
    let dec = run(&s, &past(10, 2026), Some(&r));
    assert!(dec.claimable, "{:?}", dec.reasons);
    assert_eq!(dec.used_this_year, 0);
    // The same instant in Perth is still 31 December 2026: the 11th of 2026.
    let perth = local_date(chrono_tz::Australia::Perth, instant);
    s.date = perth;
    assert!(!run(&s, &past(10, 2026), Some(&r)).claimable);
}

#[test]
fn referral_sixth_session_claimable_seventh_needs_review() {
    let r = referral("2026-01-01", Some(6));
    let under = |n: usize| -> Vec<PastService> {
        (0..n)
            .map(|i| PastService {
                date: d("2026-02-01") + chrono::Duration::days(i as i64 * 7),
                cap: CapKind::Individual,
                referral_id: Some(r.id),
                claimed: true,
            })
            .collect()
    };
    let sixth = run(&session("2026-06-01"), &under(5), Some(&r));
    assert!(sixth.claimable);
    assert_eq!((sixth.referral_used, sixth.referral_covers), (5, Some(6)));
    assert!(sixth.advice.contains(&Advice::ReviewDueAfterThisSession));
    let seventh = run(&session("2026-06-08"), &under(6), Some(&r));
    assert_eq!(seventh.reasons, vec![Ineligible::ReferralCourseUsed { covered: 6 }]);
}

#[test]
fn referral_asking_for_more_than_a_course_covers_one_course() {
    let r = referral("2026-01-01", Some(10));
    let dec = run(&session("2026-06-01"), &[], Some(&r));
    assert_eq!(dec.referral_covers, Some(6));
    let r = referral("2026-01-01", None);
    let dec = run(&session("2026-06-01"), &[], Some(&r));
    assert!(dec.claimable);
    assert!(dec.advice.contains(&Advice::ReferralCountMissing));
}

#[test]
fn referral_rules() {
    assert_eq!(codes(&run(&session("2026-06-01"), &[], None)), ["no_referral"]);
    let late = referral("2026-06-02", Some(6));
    assert_eq!(
        codes(&run(&session("2026-06-01"), &[], Some(&late))),
        ["referral_after_service"]
    );
    // A GP referral written from 1 Nov 2025 must come from the MyMedicare practice or usual GP.
    let mut gp = referral("2025-11-01", Some(6));
    gp.mymedicare_or_usual_gp = false;
    assert_eq!(
        codes(&run(&session("2026-06-01"), &[], Some(&gp))),
        ["referrer_not_eligible"]
    );
    gp.written_on = d("2025-10-31");
    assert!(
        run(&session("2026-06-01"), &[], Some(&gp)).claimable,
        "pre-1-Nov referrals stay valid"
    );
    let mut psychiatrist = referral("2026-01-01", Some(6));
    psychiatrist.referrer_kind = ReferrerKind::Psychiatrist;
    psychiatrist.mymedicare_or_usual_gp = false;
    assert!(run(&session("2026-06-01"), &[], Some(&psychiatrist)).claimable);
}

#[test]
fn practitioner_kind_mode_and_length() {
    let r = referral("2026-01-01", Some(6));
    let mut s = session("2026-06-01");
    s.item = "80010";
    assert_eq!(codes(&run(&s, &[], Some(&r))), ["provider_kind_not_allowed"]);
    s.practitioner_kind = PractitionerKind::ClinicalPsychologist;
    assert!(run(&s, &[], Some(&r)).claimable);
    s.mode = ItemMode::Video;
    assert_eq!(codes(&run(&s, &[], Some(&r))), ["mode_mismatch"]);
    let mut s = session("2026-06-01");
    s.minutes = 49;
    assert_eq!(
        run(&s, &[], Some(&r)).reasons,
        vec![Ineligible::TooShort { min_minutes: 50 }]
    );
    s.item = "80100";
    assert!(run(&s, &[], Some(&r)).claimable, "49 minutes is the short item");
    s.minutes = 50;
    assert_eq!(
        run(&s, &[], Some(&r)).reasons,
        vec![Ineligible::TooLong { max_minutes: 49 }]
    );
    let mut s = session("2026-06-01");
    s.practitioner_permitted = false;
    s.item = "99999";
    assert_eq!(
        codes(&run(&s, &[], Some(&r))),
        ["unknown_item", "practitioner_not_permitted"]
    );
    s.item = "80110";
    s.date = d("2024-01-01");
    assert!(codes(&run(&s, &[], Some(&r))).contains(&"item_not_in_force"));
}

#[test]
fn group_sizes_and_area() {
    let mut r = referral("2026-01-01", Some(6));
    r.scope = ReferralScope::Group;
    let mut s = session("2026-08-01");
    s.item = "80123";
    s.mode = ItemMode::GroupVideo;
    s.minutes = 90;
    s.group_video_area_eligible = true;
    for (n, ok) in [(3, false), (4, true), (10, true), (11, false)] {
        s.group_size = Some(n);
        let dec = run(&s, &[], Some(&r));
        assert_eq!(dec.claimable, ok, "group of {n}: {:?}", dec.reasons);
    }
    s.group_size = Some(11);
    assert_eq!(
        run(&s, &[], Some(&r)).reasons,
        vec![Ineligible::GroupSize { min: 4, max: 10 }]
    );
    s.group_size = Some(6);
    s.group_video_area_eligible = false;
    assert_eq!(codes(&run(&s, &[], Some(&r))), ["group_video_area_not_eligible"]);
    // A group session under an individual referral.
    s.group_video_area_eligible = true;
    assert_eq!(
        codes(&run(&s, &[], Some(&referral("2026-01-01", Some(6))))),
        ["referral_scope_mismatch"]
    );
    // Group sessions count against the group cap, not the individual one.
    let dec = run(&s, &past(10, 2026), Some(&r));
    assert!(dec.claimable);
    assert_eq!(dec.used_this_year, 0);
}

#[test]
fn rebate_never_exceeds_the_fee_and_the_gap_is_the_rest() {
    let r = referral("2026-01-01", Some(6));
    let mut s = session("2026-07-01");
    let dec = run(&s, &[], Some(&r));
    assert_eq!(
        (dec.schedule_fee, dec.rebate, dec.gap),
        (Some(money("119.45")), Some(money("101.55")), Some(money("118.45")))
    );
    // A fee below the schedule fee (and below the benefit): the rebate is the fee, no gap.
    s.fee_charged = money("90.00");
    let dec = run(&s, &[], Some(&r));
    assert_eq!((dec.rebate, dec.gap), (Some(money("90.00")), Some(Money::ZERO)));
    // Bulk billing: the benefit is charged and accepted as full payment.
    s.fee_charged = money("101.55");
    assert_eq!(run(&s, &[], Some(&r)).gap, Some(Money::ZERO));
}

#[test]
fn unknown_fee_is_not_claimable_until_loaded() {
    let r = referral("2026-01-01", Some(6));
    let mut s = session("2026-07-01");
    s.item = "80115";
    s.mode = ItemMode::OutOfRooms;
    assert_eq!(codes(&run(&s, &[], Some(&r))), ["fee_unknown"]);
}

#[test]
fn twenty_sessions_in_2021() {
    let r = referral("2021-01-01", Some(6));
    let mut s = session("2021-11-01");
    let cat = Catalogue::parse(
        "80110 | registered_psychologist | in_rooms | 50 | - | - | 100.00 | 85 | 2020-01-01 | - | individual | FPS",
    )
    .unwrap();
    let dec = decide(&cat, &CapTable::shipped(), &s, &past(19, 2021), Some(&r));
    assert!(dec.claimable, "{:?}", dec.reasons);
    let dec = decide(&cat, &CapTable::shipped(), &s, &past(20, 2021), Some(&r));
    assert_eq!(dec.reasons, vec![Ineligible::AnnualCapReached { used: 20, cap: 20 }]);
    s.date = d("2023-03-01");
    let dec = decide(&cat, &CapTable::shipped(), &s, &past(10, 2023), Some(&r));
    assert_eq!(dec.reasons, vec![Ineligible::AnnualCapReached { used: 10, cap: 10 }]);
}

proptest! {
    /// The rebate never exceeds the fee charged, the gap is never negative, and fee =
    /// rebate + gap, for any fee and any shipped item with a known fee.
    #[test]
    fn rebate_at_most_fee(cents in 0i64..100_000, item in prop::sample::select(vec!["80110", "80100", "91170", "91184", "80010"]), after_july in any::<bool>()) {
        let r = referral("2025-01-01", Some(6));
        let mut s = session(if after_july { "2026-07-01" } else { "2026-06-30" });
        s.item = item;
        s.practitioner_kind = PractitionerKind::ClinicalPsychologist;
        s.mode = Catalogue::shipped().item_as_at(item, s.date).unwrap().mode;
        s.fee_charged = Money::from_cents(cents);
        let dec = run(&s, &[], Some(&r));
        let (rebate, gap) = (dec.rebate.unwrap(), dec.gap.unwrap());
        prop_assert!(rebate <= s.fee_charged);
        prop_assert!(!gap.is_negative());
        prop_assert_eq!(rebate + gap, s.fee_charged);
    }
}
