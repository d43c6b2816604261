//! Money: Australian dollars as `rust_decimal`, never floats.
//!
//! Amounts are stored with the precision they are computed at; every place that rounds says
//! which rule it uses ([`Rounding`]), because Medicare (benefit rounded up to the next
//! 5 cents) and GST (nearest cent, half a cent up, GST Act s9-90) round differently.

use std::fmt;
use std::ops::{Add, Neg, Sub};

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// The currency of an amount. Only AUD today; the enum makes the currency explicit in
/// stored data and in every API payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Currency {
    /// Australian dollar.
    #[default]
    AUD,
}

/// How an amount is rounded to cents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// To the nearest cent, half a cent rounding up (away from zero): GST Act s9-90.
    NearestCentHalfUp,
    /// Up to the next multiple of 5 cents: the Medicare benefit rule (MBS note GN.15.40 /
    /// item descriptors, e.g. 85% of $161.20 = $137.02 becomes $137.05).
    UpToFiveCents,
    /// Truncated towards zero to whole cents.
    DownToCent,
}

/// An amount of money in a currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money {
    /// Written as a decimal string with at least two places (`"0.00"`, `"220.00"`,
    /// `"96.525"` for an unrounded intermediate), so every payload shows cents alike.
    #[serde(serialize_with = "at_least_cents")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "220.00"))]
    amount: Decimal,
    currency: Currency,
}

/// Serialises an amount with at least two decimal places; more are kept, never rounded
/// away in a payload.
fn at_least_cents<S: serde::Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    let mut shown = *amount;
    if shown.scale() < 2 {
        shown.rescale(2);
    }
    serializer.collect_str(&shown)
}

impl Money {
    /// Zero dollars.
    pub const ZERO: Self = Self {
        amount: Decimal::ZERO,
        currency: Currency::AUD,
    };

    /// An AUD amount. Negative amounts are allowed (refunds, credits).
    #[must_use]
    pub const fn aud(amount: Decimal) -> Self {
        Self {
            amount,
            currency: Currency::AUD,
        }
    }

    /// An AUD amount from whole cents.
    #[must_use]
    pub fn from_cents(cents: i64) -> Self {
        Self::aud(Decimal::new(cents, 2))
    }

    /// Parses a decimal string such as `"161.20"` as AUD; more than two decimal places is
    /// an error, because a price a clinic enters is always in cents.
    ///
    /// # Errors
    /// [`FieldError`] on `field` when the text is not a decimal or has sub-cent precision.
    pub fn parse_aud(field: &'static str, text: &str) -> Result<Self, FieldError> {
        let amount: Decimal = text
            .trim()
            .parse()
            .map_err(|_| FieldError::new(field, "is not a decimal amount"))?;
        if amount.scale() > 2 && amount != amount.round_dp(2) {
            return Err(FieldError::new(field, "has more than two decimal places"));
        }
        Ok(Self::aud(amount))
    }

    /// The decimal amount.
    #[must_use]
    pub const fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    #[must_use]
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// Rounded to cents by `rule`.
    #[must_use]
    pub fn round(self, rule: Rounding) -> Self {
        let amount = match rule {
            Rounding::NearestCentHalfUp => self
                .amount
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
            Rounding::DownToCent => self.amount.round_dp_with_strategy(2, RoundingStrategy::ToZero),
            Rounding::UpToFiveCents => {
                let twenty = Decimal::from(20);
                (self.amount * twenty).round_dp_with_strategy(0, RoundingStrategy::AwayFromZero) / twenty
            }
        };
        Self {
            amount: amount.round_dp(2),
            currency: self.currency,
        }
    }

    /// This amount times a ratio (e.g. 85% as `0.85`), unrounded.
    #[must_use]
    pub fn times(self, ratio: Decimal) -> Self {
        Self {
            amount: self.amount * ratio,
            currency: self.currency,
        }
    }

    /// Whole cents, after rounding to the nearest cent (half up).
    ///
    /// # Errors
    /// [`FieldError`] if the amount does not fit in an `i64` of cents.
    pub fn cents(self) -> Result<i64, FieldError> {
        let c = self.round(Rounding::NearestCentHalfUp).amount * Decimal::ONE_HUNDRED;
        i64::try_from(c).map_err(|_| FieldError::new("amount", "is too large"))
    }

    /// True when the amount is below zero.
    #[must_use]
    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        // Single-currency today; the assertion documents the invariant for when that changes.
        debug_assert_eq!(self.currency, rhs.currency);
        Money {
            amount: self.amount + rhs.amount,
            currency: self.currency,
        }
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        debug_assert_eq!(self.currency, rhs.currency);
        Money {
            amount: self.amount - rhs.amount,
            currency: self.currency,
        }
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money {
            amount: -self.amount,
            currency: self.currency,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.round(Rounding::NearestCentHalfUp).amount;
        if r.is_sign_negative() && !r.is_zero() {
            write!(f, "-${:.2}", -r)
        } else {
            write!(f, "${r:.2}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn payloads_show_at_least_cents_and_read_back_the_same() {
        for (amount, shown) in [
            ("0", "0.00"),
            ("220", "220.00"),
            ("30.5", "30.50"),
            ("96.525", "96.525"),
        ] {
            let m = Money::aud(d(amount));
            let json = serde_json::to_value(m).unwrap();
            assert_eq!(json, serde_json::json!({"amount": shown, "currency": "AUD"}));
            assert_eq!(serde_json::from_value::<Money>(json).unwrap(), m);
        }
    }

    #[test]
    fn medicare_benefit_rounds_up_to_five_cents() {
        // MBS 80010 from 1 Nov 2023: 85% of $161.20 = $137.02 -> $137.05.
        let fee = Money::aud(d("161.20"));
        assert_eq!(
            fee.times(d("0.85")).round(Rounding::UpToFiveCents).amount(),
            d("137.05")
        );
        // 85% of $72.65 = $61.7525 -> $61.80.
        let fee = Money::aud(d("72.65"));
        assert_eq!(fee.times(d("0.85")).round(Rounding::UpToFiveCents).amount(), d("61.80"));
        // Exactly on a 5c multiple stays put.
        assert_eq!(
            Money::aud(d("10.05")).round(Rounding::UpToFiveCents).amount(),
            d("10.05")
        );
    }

    #[test]
    fn gst_rounds_half_cent_up() {
        assert_eq!(
            Money::aud(d("1.005")).round(Rounding::NearestCentHalfUp).amount(),
            d("1.01")
        );
        assert_eq!(
            Money::aud(d("1.0049")).round(Rounding::NearestCentHalfUp).amount(),
            d("1.00")
        );
    }

    #[test]
    fn parse_rejects_sub_cent_and_garbage() {
        assert!(Money::parse_aud("price", "12.345").is_err());
        assert_eq!(Money::parse_aud("price", "12.340").unwrap().amount(), d("12.34"));
        let e = Money::parse_aud("price", "twelve").unwrap_err();
        assert_eq!(e.field(), "price");
    }

    #[test]
    fn displays_dollars() {
        assert_eq!(Money::from_cents(17085).to_string(), "$170.85");
        assert_eq!((-Money::from_cents(5)).to_string(), "-$0.05");
    }

    proptest! {
        #[test]
        fn five_cent_rounding_never_rounds_down(cents in 0i64..10_000_000, extra in 0u32..100) {
            let raw = Money::aud(Decimal::new(cents * 100 + i64::from(extra), 4));
            let r = raw.round(Rounding::UpToFiveCents);
            prop_assert!(r.amount() >= raw.amount());
            prop_assert!(r.amount() - raw.amount() < d("0.05"));
            prop_assert!((r.amount() * Decimal::from(20)).fract().is_zero());
        }
    }
}
