//! GST: which supplies are GST-free, the rate in force, and how a line's GST is rounded.
//!
//! - GST-free health services, *A New Tax System (Goods and Services Tax) Act 1999*
//!   s38-10(1): a psychology service, by a recognised professional (a registered
//!   psychologist), generally accepted as necessary for the recipient's appropriate
//!   treatment. Group therapy and assessments qualify; goods supplied at the premises in
//!   the course of a GST-free service are GST-free too (s38-10(3)).
//! - Taxable: medico-legal reports and expert-witness work (ATO health industry issues
//!   register; UNCERTAIN for psychologists but likely), therapy by an unregistered
//!   provider, training and consulting, products outside a treatment.
//! - Rate: 10% from 1 July 2000, held as versioned data.
//! - Rounding (s9-90): GST on each taxable line is rounded to the nearest cent, half a cent
//!   up; the invoice's GST is the sum of its lines' (the Act allows rounding per line then
//!   totalling), so totals are exact sums of the lines.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Money, Rounding};
use crate::versioned::{Effective, Versioned};

/// What is being supplied, for the GST decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SupplyKind {
    /// Therapy, assessment or group therapy.
    PsychologicalService,
    /// Goods supplied at the premises in the course of a GST-free service (s38-10(3)).
    GoodsDuringService,
    /// A medico-legal report or expert-witness work.
    MedicoLegalReport,
    /// A product sold outside a treatment (a book, a voucher).
    Product,
    /// Training, supervision of other professionals, consulting.
    TrainingOrConsulting,
    /// A fee that is not itself a service (a late-cancellation fee follows the service it
    /// compensates: GST-free when that service would be).
    CancellationFee,
}

/// The GST treatment of a line, with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "treatment", content = "basis", rename_all = "snake_case")]
pub enum GstTreatment {
    /// GST-free.
    Free(GstFreeBasis),
    /// Taxable at the rate in force.
    Taxable,
}

/// Why a line is GST-free.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GstFreeBasis {
    /// s38-10(1): a health service by a recognised professional, clinically necessary.
    HealthService,
    /// s38-10(3): goods supplied in the course of a GST-free service.
    GoodsWithHealthService,
}

/// Classifies a supply. `registered_provider`: the practitioner is a registered
/// psychologist (or other recognised professional); `clinically_necessary`: the service is
/// generally accepted as necessary for the recipient's treatment.
#[must_use]
pub fn classify(kind: SupplyKind, registered_provider: bool, clinically_necessary: bool) -> GstTreatment {
    let health = registered_provider && clinically_necessary;
    match kind {
        SupplyKind::PsychologicalService | SupplyKind::CancellationFee if health => {
            GstTreatment::Free(GstFreeBasis::HealthService)
        }
        SupplyKind::GoodsDuringService if health => GstTreatment::Free(GstFreeBasis::GoodsWithHealthService),
        _ => GstTreatment::Taxable,
    }
}

/// The GST rate by effective date.
#[derive(Clone, Debug)]
pub struct GstRates {
    rates: Versioned<Decimal>,
}

impl GstRates {
    /// 10% from 1 July 2000 (GST Act s9-70).
    #[must_use]
    pub fn australia() -> Self {
        let mut rates = Versioned::new();
        // A single open range cannot overlap or be inverted.
        let _ = rates.insert(Effective {
            from: NaiveDate::from_ymd_opt(2000, 7, 1).unwrap_or(NaiveDate::MIN),
            to: None,
            value: Decimal::new(10, 2),
        });
        Self { rates }
    }

    /// A custom table (a replayed history or a test).
    #[must_use]
    pub fn from_versions(rates: Versioned<Decimal>) -> Self {
        Self { rates }
    }

    /// The rate in force on `date`.
    #[must_use]
    pub fn as_at(&self, date: NaiveDate) -> Option<Decimal> {
        self.rates.as_at(date).copied()
    }
}

/// GST on a GST-exclusive amount at `rate`, rounded to the nearest cent, half a cent up.
#[must_use]
pub fn gst_on(net: Money, rate: Decimal) -> Money {
    net.times(rate).round(Rounding::NearestCentHalfUp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn therapy_by_a_registered_psychologist_is_gst_free() {
        assert_eq!(
            classify(SupplyKind::PsychologicalService, true, true),
            GstTreatment::Free(GstFreeBasis::HealthService)
        );
        assert_eq!(
            classify(SupplyKind::PsychologicalService, false, true),
            GstTreatment::Taxable,
            "unregistered provider"
        );
        assert_eq!(
            classify(SupplyKind::PsychologicalService, true, false),
            GstTreatment::Taxable,
            "not clinically necessary"
        );
        assert_eq!(
            classify(SupplyKind::MedicoLegalReport, true, true),
            GstTreatment::Taxable
        );
        assert_eq!(classify(SupplyKind::Product, true, true), GstTreatment::Taxable);
        assert_eq!(
            classify(SupplyKind::TrainingOrConsulting, true, true),
            GstTreatment::Taxable
        );
        assert_eq!(
            classify(SupplyKind::GoodsDuringService, true, true),
            GstTreatment::Free(GstFreeBasis::GoodsWithHealthService)
        );
    }

    #[test]
    fn rate_is_ten_percent_from_july_2000() {
        let r = GstRates::australia();
        assert_eq!(r.as_at("2000-06-30".parse().unwrap()), None);
        assert_eq!(r.as_at("2000-07-01".parse().unwrap()), Some(Decimal::new(10, 2)));
    }

    #[test]
    fn half_a_cent_rounds_up() {
        // 10% of $0.05 is half a cent: rounds to 1 cent. 10% of $0.04 rounds to 0.
        assert_eq!(gst_on(Money::from_cents(5), Decimal::new(10, 2)), Money::from_cents(1));
        assert_eq!(gst_on(Money::from_cents(4), Decimal::new(10, 2)), Money::ZERO);
        assert_eq!(
            gst_on(Money::from_cents(12345), Decimal::new(10, 2)),
            Money::from_cents(1235)
        );
    }
}
