//! Is this session claimable under Better Access? A pure decision over the catalogue, the
//! caps, the patient's history and the referral, giving every reason it is not, the
//! sessions left and the rebate.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::caps::CapTable;
use super::catalogue::{CapKind, Catalogue, ItemMode};
use super::referral::{Referral, ReferralScope};
use crate::ids::ReferralId;
use crate::money::Money;
use crate::people::PractitionerKind;

/// The session proposed for a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session<'a> {
    /// The MBS item to claim.
    pub item: &'a str,
    /// The practitioner's kind.
    pub practitioner_kind: PractitionerKind,
    /// False when the practitioner may not practise on the date (suspended).
    pub practitioner_permitted: bool,
    /// How the session was delivered.
    pub mode: ItemMode,
    /// Its length in minutes.
    pub minutes: u32,
    /// Patients in the group, for group items.
    pub group_size: Option<u16>,
    /// For group video items: the patient is in a telehealth-eligible area at least 15 km
    /// by road from the practitioner (rule sheet §1, [B5]).
    pub group_video_area_eligible: bool,
    /// The service date in the clinic's zone (the calendar year of the cap is this date's).
    pub date: NaiveDate,
    /// The fee charged.
    pub fee_charged: Money,
}

/// One earlier Better Access service of the patient, from any practitioner or practice the
/// clinic knows of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PastService {
    /// Service date (local).
    pub date: NaiveDate,
    /// The cap it counts against.
    pub cap: CapKind,
    /// The referral it was claimed under, if known.
    pub referral_id: Option<ReferralId>,
    /// True once claimed (lodged or paid). Drafts and rejected claims do not count.
    pub claimed: bool,
}

/// Why a session is not claimable. Each has a stable code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Ineligible {
    /// The item is not in the catalogue.
    UnknownItem,
    /// The item is not in force on the service date.
    ItemNotInForce,
    /// This kind of practitioner may not claim the item.
    ProviderKindNotAllowed,
    /// The practitioner may not practise on the date.
    PractitionerNotPermitted,
    /// The session's mode is not the item's.
    ModeMismatch {
        /// The item's mode.
        item_mode: ItemMode,
    },
    /// Shorter than the item's minimum.
    TooShort {
        /// Minimum minutes.
        min_minutes: u32,
    },
    /// Longer than the item's maximum (a longer item applies).
    TooLong {
        /// Maximum minutes.
        max_minutes: u32,
    },
    /// The group has too few or too many patients.
    GroupSize {
        /// Least.
        min: u16,
        /// Most.
        max: u16,
    },
    /// Group video needs the patient in an eligible area.
    GroupVideoAreaNotEligible,
    /// No referral.
    NoReferral,
    /// The referral is dated after the service.
    ReferralAfterService,
    /// The referral is for the other scope (individual vs group).
    ReferralScopeMismatch,
    /// From 1 November 2025 a GP referral must come from the patient's MyMedicare practice
    /// or usual medical practitioner.
    ReferrerNotEligible,
    /// The referral's course is used: the referrer must review and refer again.
    ReferralCourseUsed {
        /// Sessions the course covered.
        covered: u16,
    },
    /// The patient has used the year's cap.
    AnnualCapReached {
        /// Sessions used in the calendar year.
        used: u16,
        /// The cap.
        cap: u16,
    },
    /// No cap rule is in force on the date (outside the table).
    NoCapRule,
    /// The item's schedule fee is not in the loaded table.
    FeeUnknown,
}

impl Ineligible {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownItem => "unknown_item",
            Self::ItemNotInForce => "item_not_in_force",
            Self::ProviderKindNotAllowed => "provider_kind_not_allowed",
            Self::PractitionerNotPermitted => "practitioner_not_permitted",
            Self::ModeMismatch { .. } => "mode_mismatch",
            Self::TooShort { .. } => "too_short",
            Self::TooLong { .. } => "too_long",
            Self::GroupSize { .. } => "group_size",
            Self::GroupVideoAreaNotEligible => "group_video_area_not_eligible",
            Self::NoReferral => "no_referral",
            Self::ReferralAfterService => "referral_after_service",
            Self::ReferralScopeMismatch => "referral_scope_mismatch",
            Self::ReferrerNotEligible => "referrer_not_eligible",
            Self::ReferralCourseUsed { .. } => "referral_course_used",
            Self::AnnualCapReached { .. } => "annual_cap_reached",
            Self::NoCapRule => "no_cap_rule",
            Self::FeeUnknown => "fee_unknown",
        }
    }
}

/// Things to tell staff that do not stop the claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Advice {
    /// The referral does not say how many sessions; the course maximum is assumed.
    ReferralCountMissing,
    /// This session completes the referral course: write the report to the referrer, who
    /// reviews before any further course.
    ReviewDueAfterThisSession,
    /// This is the last session under the year's cap.
    LastSessionUnderCap,
}

/// The decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    /// True when there is no reason against.
    pub claimable: bool,
    /// Every reason it is not claimable.
    pub reasons: Vec<Ineligible>,
    /// Advice that does not block.
    pub advice: Vec<Advice>,
    /// The cap counted against, when the item is known.
    pub cap_kind: Option<CapKind>,
    /// The cap in force.
    pub cap: Option<u16>,
    /// Sessions of that cap already claimed in the calendar year.
    pub used_this_year: u16,
    /// Sessions left in the year after this one (when claimable).
    pub left_after: Option<u16>,
    /// Sessions already claimed under the referral.
    pub referral_used: u16,
    /// Sessions the referral's course covers.
    pub referral_covers: Option<u16>,
    /// The schedule fee in force.
    pub schedule_fee: Option<Money>,
    /// The Medicare rebate: the benefit, never more than the fee charged.
    pub rebate: Option<Money>,
    /// The patient's gap: fee charged less the rebate.
    pub gap: Option<Money>,
}

/// Decides whether `session` is claimable. `history` is every Better Access service the
/// clinic knows of for the patient (any practitioner or practice); only claimed ones count.
#[must_use]
pub fn decide(
    catalogue: &Catalogue,
    caps: &CapTable,
    session: &Session<'_>,
    history: &[PastService],
    referral: Option<&Referral>,
) -> Decision {
    let mut reasons = Vec::new();
    let mut advice = Vec::new();
    let item = catalogue.item_as_at(session.item, session.date);
    if item.is_none() {
        reasons.push(if catalogue.knows(session.item) {
            Ineligible::ItemNotInForce
        } else {
            Ineligible::UnknownItem
        });
    }
    if !session.practitioner_permitted {
        reasons.push(Ineligible::PractitionerNotPermitted);
    }
    if let Some(item) = item {
        if !item.provider_kinds.contains(&session.practitioner_kind) {
            reasons.push(Ineligible::ProviderKindNotAllowed);
        }
        if item.mode != session.mode {
            reasons.push(Ineligible::ModeMismatch { item_mode: item.mode });
        }
        if session.minutes < item.min_minutes {
            reasons.push(Ineligible::TooShort {
                min_minutes: item.min_minutes,
            });
        }
        if let Some(max) = item.max_minutes
            && session.minutes > max
        {
            reasons.push(Ineligible::TooLong { max_minutes: max });
        }
        if let Some((min, max)) = item.group_size
            && !session.group_size.is_some_and(|n| (min..=max).contains(&n))
        {
            reasons.push(Ineligible::GroupSize { min, max });
        }
        if item.mode == ItemMode::GroupVideo && !session.group_video_area_eligible {
            reasons.push(Ineligible::GroupVideoAreaNotEligible);
        }
        if item.schedule_fee.is_none() {
            reasons.push(Ineligible::FeeUnknown);
        }
    }
    let cap_kind = item.map(|i| i.cap);
    let rule = caps.as_at(session.date);
    if rule.is_none() {
        reasons.push(Ineligible::NoCapRule);
    }

    // Referral.
    let mut referral_used = 0;
    let mut referral_covers = None;
    match referral {
        None => reasons.push(Ineligible::NoReferral),
        Some(r) => {
            if r.written_on > session.date {
                reasons.push(Ineligible::ReferralAfterService);
            }
            let scope_ok = match cap_kind {
                Some(CapKind::Group) => r.scope == ReferralScope::Group,
                Some(CapKind::Individual) => r.scope == ReferralScope::Individual,
                None => true,
            };
            if !scope_ok {
                reasons.push(Ineligible::ReferralScopeMismatch);
            }
            if let Some(rule) = rule {
                // The rule in force when the referral was written decides its validity.
                let written_rule = caps.as_at(r.written_on).unwrap_or(rule);
                if r.referrer_kind.is_gp() && written_rule.gp_referral_needs_mymedicare && !r.mymedicare_or_usual_gp {
                    reasons.push(Ineligible::ReferrerNotEligible);
                }
                let course = rule.per_referral_course;
                let covers = r.sessions_requested.map_or(course, |n| n.min(course));
                if r.sessions_requested.is_none() {
                    advice.push(Advice::ReferralCountMissing);
                }
                referral_used = count(history.iter().filter(|s| s.claimed && s.referral_id == Some(r.id)));
                referral_covers = Some(covers);
                if referral_used >= covers {
                    reasons.push(Ineligible::ReferralCourseUsed { covered: covers });
                } else if referral_used + 1 == covers {
                    advice.push(Advice::ReviewDueAfterThisSession);
                }
            }
        }
    }

    // Annual cap, by the calendar year of the service date in the clinic's zone.
    let year = session.date.year();
    let used_this_year = cap_kind.map_or(0, |k| {
        count(
            history
                .iter()
                .filter(|s| s.claimed && s.cap == k && s.date.year() == year),
        )
    });
    let cap = match (rule, cap_kind) {
        (Some(r), Some(k)) => Some(r.cap(k)),
        _ => None,
    };
    if let Some(cap) = cap {
        if used_this_year >= cap {
            reasons.push(Ineligible::AnnualCapReached {
                used: used_this_year,
                cap,
            });
        } else if used_this_year + 1 == cap {
            advice.push(Advice::LastSessionUnderCap);
        }
    }

    let schedule_fee = item.and_then(|i| i.schedule_fee);
    let rebate = item
        .and_then(super::catalogue::MbsItem::benefit)
        .map(|b| b.min(session.fee_charged));
    let gap = rebate.map(|r| session.fee_charged - r);
    let claimable = reasons.is_empty();
    Decision {
        claimable,
        left_after: (claimable).then(|| cap.map(|c| c - used_this_year - 1)).flatten(),
        reasons,
        advice,
        cap_kind,
        cap,
        used_this_year,
        referral_used,
        referral_covers,
        schedule_fee,
        rebate,
        gap,
    }
}

fn count<'a>(it: impl Iterator<Item = &'a PastService>) -> u16 {
    u16::try_from(it.count()).unwrap_or(u16::MAX)
}
