//! Outcome measures as data: items, response range, scoring and severity bands from each
//! instrument's published scoring rules.
//!
//! - K10 (Kessler Psychological Distress Scale): 10 items scored 1–5, total 10–50; bands
//!   as used in Australian primary mental health care: 10–15 low, 16–21 moderate, 22–29
//!   high, 30–50 very high.
//! - PHQ-9: 9 items scored 0–3, total 0–27; 0–4 minimal, 5–9 mild, 10–14 moderate,
//!   15–19 moderately severe, 20–27 severe (Kroenke, Spitzer & Williams 2001).
//! - GAD-7: 7 items scored 0–3, total 0–21; 0–4 minimal, 5–9 mild, 10–14 moderate,
//!   15–21 severe (Spitzer et al. 2006).
//! - DASS-21: 21 items scored 0–3 in three 7-item subscales, each sum doubled to match the
//!   DASS-42 (Lovibond & Lovibond 1995), with the manual's bands per subscale.

use chrono::{DateTime, Utc};
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::ids::{MeasureId, PatientId, PracticeId};

/// An instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Instrument {
    /// Kessler 10.
    K10,
    /// Patient Health Questionnaire 9.
    Phq9,
    /// Generalised Anxiety Disorder 7.
    Gad7,
    /// Depression Anxiety Stress Scales, 21 items.
    Dass21,
}

/// A severity band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Normal, minimal or low.
    Minimal,
    /// Mild.
    Mild,
    /// Moderate.
    Moderate,
    /// Moderately severe (PHQ-9) or high (K10).
    ModeratelySevere,
    /// Severe (very high on the K10).
    Severe,
    /// Extremely severe (DASS).
    ExtremelySevere,
}

/// A scale's score and band.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Score {
    /// The scale: the instrument's name, or a DASS subscale.
    pub scale: Cow<'static, str>,
    /// Score.
    pub value: u16,
    /// Band.
    pub severity: Severity,
}

/// A completed questionnaire with its scores: a patient's list of these, by time, is
/// their progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeasureRecord {
    /// Id.
    pub id: MeasureId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The patient.
    pub patient_id: PatientId,
    /// The instrument.
    pub instrument: Instrument,
    /// The answers, in item order.
    pub answers: Vec<u8>,
    /// The scores.
    pub scores: Vec<Score>,
    /// When completed.
    pub completed_at: DateTime<Utc>,
}

/// Why responses could not be scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    /// The wrong number of answers.
    #[error("expected {expected} answers, got {got}")]
    WrongCount {
        /// Items.
        expected: usize,
        /// Answers.
        got: usize,
    },
    /// An answer outside the response range.
    #[error("answer {item} must be between {min} and {max}")]
    OutOfRange {
        /// 1-based item.
        item: usize,
        /// Lowest.
        min: u8,
        /// Highest.
        max: u8,
    },
}

struct Def {
    items: usize,
    min: u8,
    max: u8,
}

const fn def(i: Instrument) -> Def {
    match i {
        Instrument::K10 => Def {
            items: 10,
            min: 1,
            max: 5,
        },
        Instrument::Phq9 => Def {
            items: 9,
            min: 0,
            max: 3,
        },
        Instrument::Gad7 => Def {
            items: 7,
            min: 0,
            max: 3,
        },
        Instrument::Dass21 => Def {
            items: 21,
            min: 0,
            max: 3,
        },
    }
}

/// Upper bounds (inclusive) of each band, in order.
fn band(value: u16, bounds: &[(u16, Severity)]) -> Severity {
    bounds
        .iter()
        .find(|(hi, _)| value <= *hi)
        .map_or(Severity::ExtremelySevere, |(_, s)| *s)
}

use Severity as S;
const K10: &[(u16, Severity)] = &[
    (15, S::Minimal),
    (21, S::Moderate),
    (29, S::ModeratelySevere),
    (50, S::Severe),
];
const PHQ9: &[(u16, Severity)] = &[
    (4, S::Minimal),
    (9, S::Mild),
    (14, S::Moderate),
    (19, S::ModeratelySevere),
    (27, S::Severe),
];
const GAD7: &[(u16, Severity)] = &[(4, S::Minimal), (9, S::Mild), (14, S::Moderate), (21, S::Severe)];
const DASS_D: &[(u16, Severity)] = &[(9, S::Minimal), (13, S::Mild), (20, S::Moderate), (27, S::Severe)];
const DASS_A: &[(u16, Severity)] = &[(7, S::Minimal), (9, S::Mild), (14, S::Moderate), (19, S::Severe)];
const DASS_S: &[(u16, Severity)] = &[(14, S::Minimal), (18, S::Mild), (25, S::Moderate), (33, S::Severe)];
/// Severity bands: inclusive upper bounds in order.
type Bands = &'static [(u16, Severity)];
/// DASS-21 item numbers (1-based) of each subscale.
const DASS_ITEMS: [(&str, [usize; 7], Bands); 3] = [
    ("depression", [3, 5, 10, 13, 16, 17, 21], DASS_D),
    ("anxiety", [2, 4, 7, 9, 15, 19, 20], DASS_A),
    ("stress", [1, 6, 8, 11, 12, 14, 18], DASS_S),
];

/// Scores a completed questionnaire (answers in item order).
///
/// # Errors
/// [`MeasureError`] for a wrong number of answers or an answer out of range.
pub fn score(instrument: Instrument, answers: &[u8]) -> Result<Vec<Score>, MeasureError> {
    let d = def(instrument);
    if answers.len() != d.items {
        return Err(MeasureError::WrongCount {
            expected: d.items,
            got: answers.len(),
        });
    }
    if let Some(i) = answers.iter().position(|a| *a < d.min || *a > d.max) {
        return Err(MeasureError::OutOfRange {
            item: i + 1,
            min: d.min,
            max: d.max,
        });
    }
    let total: u16 = answers.iter().map(|a| u16::from(*a)).sum();
    Ok(match instrument {
        Instrument::K10 => vec![Score {
            scale: Cow::Borrowed("k10"),
            value: total,
            severity: band(total, K10),
        }],
        Instrument::Phq9 => vec![Score {
            scale: Cow::Borrowed("phq9"),
            value: total,
            severity: band(total, PHQ9),
        }],
        Instrument::Gad7 => vec![Score {
            scale: Cow::Borrowed("gad7"),
            value: total,
            severity: band(total, GAD7),
        }],
        Instrument::Dass21 => DASS_ITEMS
            .iter()
            .map(|(scale, items, bounds)| {
                let value = 2 * items.iter().map(|i| u16::from(answers[i - 1])).sum::<u16>();
                Score {
                    scale: Cow::Borrowed(scale),
                    value,
                    severity: band(value, bounds),
                }
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(i: Instrument, answers: &[u8]) -> (u16, Severity) {
        let s = score(i, answers).unwrap();
        (s[0].value, s[0].severity)
    }

    #[test]
    fn k10_band_edges() {
        assert_eq!(one(Instrument::K10, &[1; 10]), (10, Severity::Minimal));
        let mut a = [1u8; 10];
        a[..5].copy_from_slice(&[2; 5]);
        assert_eq!(one(Instrument::K10, &a), (15, Severity::Minimal));
        a[5] = 2;
        assert_eq!(one(Instrument::K10, &a), (16, Severity::Moderate));
        assert_eq!(
            one(Instrument::K10, &[3, 3, 3, 3, 3, 3, 3, 3, 3, 2]),
            (29, Severity::ModeratelySevere)
        );
        assert_eq!(one(Instrument::K10, &[3; 10]), (30, Severity::Severe));
        assert_eq!(one(Instrument::K10, &[5; 10]), (50, Severity::Severe));
    }

    #[test]
    fn phq9_and_gad7_band_edges() {
        assert_eq!(
            one(Instrument::Phq9, &[1, 1, 1, 1, 0, 0, 0, 0, 0]),
            (4, Severity::Minimal)
        );
        assert_eq!(one(Instrument::Phq9, &[1, 1, 1, 1, 1, 0, 0, 0, 0]), (5, Severity::Mild));
        assert_eq!(
            one(Instrument::Phq9, &[2, 2, 2, 2, 2, 0, 0, 0, 0]),
            (10, Severity::Moderate)
        );
        assert_eq!(
            one(Instrument::Phq9, &[3, 3, 3, 3, 3, 0, 0, 0, 0]),
            (15, Severity::ModeratelySevere)
        );
        assert_eq!(one(Instrument::Phq9, &[3; 9]), (27, Severity::Severe));
        assert_eq!(one(Instrument::Gad7, &[2, 2, 2, 2, 2, 0, 0]), (10, Severity::Moderate));
        assert_eq!(one(Instrument::Gad7, &[3, 3, 3, 3, 3, 0, 0]), (15, Severity::Severe));
    }

    #[test]
    fn dass21_subscales_are_doubled() {
        // Depression items at 3, the rest 0: depression 2 * 21 = 42, extremely severe.
        let mut a = [0u8; 21];
        for i in [3, 5, 10, 13, 16, 17, 21] {
            a[i - 1] = 3;
        }
        let s = score(Instrument::Dass21, &a).unwrap();
        assert_eq!(
            s[0],
            Score {
                scale: Cow::Borrowed("depression"),
                value: 42,
                severity: Severity::ExtremelySevere
            }
        );
        assert_eq!((s[1].value, s[1].severity), (0, Severity::Minimal));
        // Anxiety 8 (four items at 1): mild.
        let mut a = [0u8; 21];
        for i in [2, 4, 7, 9] {
            a[i - 1] = 1;
        }
        assert_eq!(score(Instrument::Dass21, &a).unwrap()[1].severity, Severity::Mild);
    }

    #[test]
    fn bad_answers_are_named() {
        assert_eq!(
            score(Instrument::Phq9, &[0; 8]),
            Err(MeasureError::WrongCount { expected: 9, got: 8 })
        );
        assert_eq!(
            score(Instrument::K10, &[1, 1, 0, 1, 1, 1, 1, 1, 1, 1]),
            Err(MeasureError::OutOfRange {
                item: 3,
                min: 1,
                max: 5
            })
        );
        assert_eq!(
            score(Instrument::Gad7, &[0, 0, 0, 0, 0, 0, 4]),
            Err(MeasureError::OutOfRange {
                item: 7,
                min: 0,
                max: 3
            })
        );
    }
}
