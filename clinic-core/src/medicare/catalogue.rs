//! The MBS item catalogue: versioned data, shipped and replaceable.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::table::{TableError, rows};
use crate::money::{Money, Rounding};
use crate::people::PractitionerKind;
use crate::versioned::{Effective, VersionError, Versioned};

const SHIPPED_ITEMS: &str = include_str!("mbs_items.txt");

/// How an item's service is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemMode {
    /// One patient, in the practitioner's consulting rooms.
    InRooms,
    /// One patient, elsewhere (the patient's home, a school ...).
    OutOfRooms,
    /// One patient, by video.
    Video,
    /// One patient, by phone.
    Phone,
    /// A group, in person.
    GroupInPerson,
    /// A group, by video (patients in telehealth-eligible areas only).
    GroupVideo,
}

impl ItemMode {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "in_rooms" => Self::InRooms,
            "out_of_rooms" => Self::OutOfRooms,
            "video" => Self::Video,
            "phone" => Self::Phone,
            "group_in_person" => Self::GroupInPerson,
            "group_video" => Self::GroupVideo,
            _ => return None,
        })
    }

    /// True for group items.
    #[must_use]
    pub const fn is_group(self) -> bool {
        matches!(self, Self::GroupInPerson | Self::GroupVideo)
    }
}

/// Which annual Better Access cap a service counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CapKind {
    /// Individual sessions (every provider and mode together).
    Individual,
    /// Group sessions.
    Group,
}

/// One version of an MBS item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MbsItem {
    /// Item number, e.g. `"80110"`.
    pub number: String,
    /// Description.
    pub description: String,
    /// Practitioner kinds that may claim it.
    pub provider_kinds: Vec<PractitionerKind>,
    /// Delivery mode.
    pub mode: ItemMode,
    /// Shortest session, minutes.
    pub min_minutes: u32,
    /// Longest session, minutes (`None`: no upper bound).
    pub max_minutes: Option<u32>,
    /// Group size bounds for group items.
    pub group_size: Option<(u16, u16)>,
    /// Schedule fee, when known (`None`: the shipped table lacks it).
    pub schedule_fee: Option<Money>,
    /// Benefit as a percentage of the schedule fee (85 for these items).
    pub benefit_percent: Decimal,
    /// Cap counted against.
    pub cap: CapKind,
}

impl MbsItem {
    /// The Medicare benefit: schedule fee × benefit %, rounded up to the next 5 cents (MBS
    /// rule, e.g. 85% of $161.20 = $137.02 → $137.05). `None` when the fee is not known.
    #[must_use]
    pub fn benefit(&self) -> Option<Money> {
        self.schedule_fee.map(|fee| {
            fee.times(self.benefit_percent / Decimal::ONE_HUNDRED)
                .round(Rounding::UpToFiveCents)
        })
    }
}

/// Every item, each with its fee schedules by effective date.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    items: HashMap<String, Versioned<MbsItem>>,
}

fn kind(s: &str) -> Option<PractitionerKind> {
    Some(match s {
        "clinical_psychologist" => PractitionerKind::ClinicalPsychologist,
        "registered_psychologist" => PractitionerKind::RegisteredPsychologist,
        "doctor" => PractitionerKind::Doctor,
        _ => return None,
    })
}

impl Catalogue {
    /// The table shipped with the crate: the Better Access psychology items, 2025-26 and
    /// 2026-27 fee schedules.
    ///
    /// # Panics
    /// Never at run time: the shipped table's parse is covered by the unit test
    /// `shipped_catalogue_parses`.
    #[must_use]
    pub fn shipped() -> Self {
        #[allow(clippy::expect_used)]
        Self::parse(SHIPPED_ITEMS).expect("the shipped MBS table is checked by a unit test")
    }

    /// Parses a catalogue in the shipped format (see `mbs_items.txt`).
    ///
    /// # Errors
    /// [`TableError`] naming the line and field: a wrong number of fields, an item number
    /// that is not 1–6 digits, an unknown provider kind or mode, minutes out of order, a
    /// group size on a non-group item (or none on a group item), a negative fee, a benefit
    /// outside 0–100 %, an unknown cap, or effective ranges of one item that overlap.
    pub fn parse(text: &str) -> Result<Self, TableError> {
        let mut items: HashMap<String, Versioned<MbsItem>> = HashMap::new();
        for row in rows(text, 12)? {
            let number = row.get(0, "item")?;
            if number.is_empty() || number.len() > 6 || !number.bytes().all(|b| b.is_ascii_digit()) {
                return Err(row.err("item", "must be 1 to 6 digits"));
            }
            let provider_kinds = row
                .get(1, "provider_kinds")?
                .split(',')
                .map(|k| {
                    kind(k.trim())
                        .ok_or_else(|| row.err("provider_kinds", format!("unknown provider kind '{}'", k.trim())))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mode = ItemMode::parse(row.get(2, "mode")?).ok_or_else(|| row.err("mode", "unknown mode"))?;
            let min_minutes: u32 = row.number(3, "min_minutes")?;
            let max_minutes: Option<u32> = row.optional_number(4, "max_minutes")?;
            if max_minutes.is_some_and(|m| m < min_minutes) {
                return Err(row.err("max_minutes", "is below min_minutes"));
            }
            let group_size = match row.optional(5, "group_size")? {
                None => None,
                Some(g) => {
                    let (a, b) = g
                        .split_once('-')
                        .ok_or_else(|| row.err("group_size", "must be MIN-MAX"))?;
                    let (a, b): (u16, u16) = (
                        a.parse().map_err(|_| row.err("group_size", "must be MIN-MAX"))?,
                        b.parse().map_err(|_| row.err("group_size", "must be MIN-MAX"))?,
                    );
                    if a < 2 || b < a {
                        return Err(row.err("group_size", "needs 2 <= MIN <= MAX"));
                    }
                    Some((a, b))
                }
            };
            if mode.is_group() != group_size.is_some() {
                return Err(row.err("group_size", "is required for group items and only for them"));
            }
            let schedule_fee = match row.optional(6, "schedule_fee")? {
                None => None,
                Some(f) => {
                    let m = Money::parse_aud("schedule_fee", f).map_err(|e| row.err("schedule_fee", e.problem()))?;
                    if m.is_negative() {
                        return Err(row.err("schedule_fee", "must not be negative"));
                    }
                    Some(m)
                }
            };
            let benefit_percent = row.decimal(7, "benefit_percent")?;
            if benefit_percent <= Decimal::ZERO || benefit_percent > Decimal::ONE_HUNDRED {
                return Err(row.err("benefit_percent", "must be above 0 and at most 100"));
            }
            let from = row.date(8, "effective_from")?;
            let to = row.optional_date(9, "effective_to")?;
            let cap = match row.get(10, "cap")? {
                "individual" => CapKind::Individual,
                "group" => CapKind::Group,
                _ => return Err(row.err("cap", "must be individual or group")),
            };
            if (cap == CapKind::Group) != mode.is_group() {
                return Err(row.err(
                    "cap",
                    "group items count against the group cap, others the individual cap",
                ));
            }
            let description = row.get(11, "description")?;
            if description.is_empty() {
                return Err(row.err("description", "must not be empty"));
            }
            let item = MbsItem {
                number: number.to_owned(),
                description: description.to_owned(),
                provider_kinds,
                mode,
                min_minutes,
                max_minutes,
                group_size,
                schedule_fee,
                benefit_percent,
                cap,
            };
            items
                .entry(number.to_owned())
                .or_default()
                .insert(Effective { from, to, value: item })
                .map_err(|e| match e {
                    VersionError::Inverted => row.err("effective_to", "is before effective_from"),
                    VersionError::Overlap { other_from } => row.err(
                        "effective_from",
                        format!("overlaps this item's version in force from {other_from}"),
                    ),
                })?;
        }
        Ok(Self { items })
    }

    /// The version of `item` in force on `date`.
    #[must_use]
    pub fn item_as_at(&self, item: &str, date: NaiveDate) -> Option<&MbsItem> {
        self.items.get(item).and_then(|v| v.as_at(date))
    }

    /// True when the item exists at any date.
    #[must_use]
    pub fn knows(&self, item: &str) -> bool {
        self.items.contains_key(item)
    }

    /// Number of distinct items.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn money(s: &str) -> Money {
        Money::aud(s.parse().unwrap())
    }

    #[test]
    fn shipped_catalogue_parses() {
        let c = Catalogue::parse(SHIPPED_ITEMS).unwrap();
        assert_eq!(c.len(), 28);
    }

    #[test]
    fn fee_change_on_first_of_july() {
        let c = Catalogue::shipped();
        let before = c.item_as_at("80110", d("2026-06-30")).unwrap();
        let after = c.item_as_at("80110", d("2026-07-01")).unwrap();
        assert_eq!(before.schedule_fee, Some(money("116.40")));
        assert_eq!(after.schedule_fee, Some(money("119.45")));
        // 85% of 119.45 = 101.5325 -> 101.55; of 175.30 = 149.005 -> 149.05; of 84.65 = 71.9525 -> 72.00.
        assert_eq!(after.benefit(), Some(money("101.55")));
        assert_eq!(
            c.item_as_at("80010", d("2026-07-01")).unwrap().benefit(),
            Some(money("149.05"))
        );
        assert_eq!(
            c.item_as_at("80100", d("2026-07-01")).unwrap().benefit(),
            Some(money("72.00"))
        );
        assert!(
            c.item_as_at("80110", d("2025-06-30")).is_none(),
            "before the shipped schedules"
        );
    }

    #[test]
    fn unknown_fee_has_no_benefit() {
        let c = Catalogue::shipped();
        assert_eq!(c.item_as_at("80000", d("2026-01-01")).unwrap().benefit(), None);
    }

    fn one(row: &str) -> Result<Catalogue, TableError> {
        Catalogue::parse(row)
    }

    const GOOD: &str = "80110 | registered_psychologist | in_rooms | 50 | - | - | 116.40 | 85 | 2025-07-01 | 2026-06-30 | individual | FPS";

    #[test]
    fn every_bad_field_is_named_with_its_line() {
        assert!(one(GOOD).is_ok());
        let cases = [
            (GOOD.replace("80110 ", "80A10 "), "item"),
            (
                GOOD.replace("registered_psychologist", "psychiatrist"),
                "provider_kinds",
            ),
            (GOOD.replace("in_rooms", "on_the_moon"), "mode"),
            (GOOD.replace("| 50 | - |", "| 50 | 40 |"), "max_minutes"),
            (GOOD.replace("| - | 116.40", "| 4-10 | 116.40"), "group_size"),
            (GOOD.replace("116.40", "-116.40"), "schedule_fee"),
            (GOOD.replace("116.40", "11.6.40"), "schedule_fee"),
            (GOOD.replace("| 85 |", "| 185 |"), "benefit_percent"),
            (GOOD.replace("2025-07-01", "2025-13-01"), "effective_from"),
            (GOOD.replace("2026-06-30", "2025-06-30"), "effective_to"),
            (GOOD.replace("individual", "group"), "cap"),
            (GOOD.replace(" | FPS", ""), "row"),
        ];
        for (text, field) in cases {
            let e = one(&format!("# header\n\n{text}")).unwrap_err();
            assert_eq!((e.line, e.field), (3, field), "{text}: {e}");
        }
    }

    #[test]
    fn overlapping_versions_of_one_item_are_refused() {
        let second = GOOD.replace("2025-07-01 | 2026-06-30", "2026-06-30 | -");
        let e = one(&format!("{GOOD}\n{second}")).unwrap_err();
        assert_eq!((e.line, e.field), (2, "effective_from"));
        let next = GOOD.replace("2025-07-01 | 2026-06-30", "2026-07-01 | -");
        assert!(one(&format!("{GOOD}\n{next}")).is_ok());
    }
}
