//! Stock items and their SKUs.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::{ItemId, LocationId, PracticeId};
use crate::practice::non_blank;

/// A stock-keeping unit: 1 to 40 letters, digits, `-`, `_` or `.`, kept in upper case so
/// `gl-100` and `GL-100` are one code.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    /// A validated SKU.
    ///
    /// # Errors
    /// [`FieldError`] on `sku` when it is blank, longer than 40 characters or holds
    /// anything but letters, digits, `-`, `_` and `.`.
    ///
    /// # Example
    /// ```
    /// use clinic_core::inventory::Sku;
    /// assert_eq!(Sku::parse(" gl-100 ").unwrap().as_str(), "GL-100");
    /// assert!(Sku::parse("GL 100").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 40 {
            return Err(FieldError::new("sku", "must be 1 to 40 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(FieldError::new(
                "sku",
                "may hold only letters, digits, '-', '_' and '.'",
            ));
        }
        Ok(Self(s.to_ascii_uppercase()))
    }

    /// The code.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}

impl From<Sku> for String {
    fn from(s: Sku) -> String {
        s.0
    }
}

/// What a practice keeps of an item: its name, code, unit, where it is normally kept, the
/// level at which it is reordered and from whom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ItemSpec {
    /// Name, e.g. "Nitrile gloves, medium".
    pub name: String,
    /// Stock-keeping unit, unique in the practice.
    pub sku: String,
    /// The unit counted, e.g. "box of 100".
    pub unit: String,
    /// The location it is normally kept at.
    pub location_id: LocationId,
    /// Reorder when usable stock at a location falls to this many units or fewer.
    pub reorder_level: u32,
    /// The supplier it is usually ordered from.
    #[serde(default)]
    pub preferred_supplier: Option<String>,
}

/// A stock item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Item {
    /// Id.
    pub id: ItemId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// Name.
    pub name: String,
    /// Stock-keeping unit.
    pub sku: Sku,
    /// Unit counted.
    pub unit: String,
    /// Where it is normally kept.
    pub location_id: LocationId,
    /// Reorder level, per location.
    pub reorder_level: u32,
    /// Preferred supplier.
    pub preferred_supplier: Option<String>,
}

impl Item {
    /// A validated item.
    ///
    /// # Errors
    /// Every field at fault (`name`, `sku`, `unit`, `preferred_supplier`), each as a
    /// [`FieldError`].
    pub fn new(id: ItemId, practice_id: PracticeId, spec: &ItemSpec) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut take = |r: Result<String, FieldError>| r.map_err(|e| errors.push(e)).ok();
        let name = take(non_blank("name", &spec.name, 200));
        let unit = take(non_blank("unit", &spec.unit, 60));
        let supplier = match spec.preferred_supplier.as_deref().map(str::trim) {
            None | Some("") => Some(None),
            Some(s) => take(non_blank("preferred_supplier", s, 200)).map(Some),
        };
        let sku = Sku::parse(&spec.sku).map_err(|e| errors.push(e)).ok();
        match (name, unit, supplier, sku) {
            (Some(name), Some(unit), Some(preferred_supplier), Some(sku)) if errors.is_empty() => Ok(Self {
                id,
                practice_id,
                name,
                sku,
                unit,
                location_id: spec.location_id,
                reorder_level: spec.reorder_level,
                preferred_supplier,
            }),
            _ => Err(errors),
        }
    }
}
