//! Australian Business Numbers.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// An ABN: 11 digits with the ATO checksum (subtract 1 from the first digit, weight the
/// digits 10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19; the sum is divisible by 89).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Abn(String);

impl Abn {
    /// Parses an ABN, spaces allowed (`51 824 753 556`).
    ///
    /// # Errors
    /// [`FieldError`] on `abn` for the wrong length or a failed checksum.
    ///
    /// # Example
    /// ```
    /// use clinic_core::practice::Abn;
    /// assert_eq!(Abn::parse("51 824 753 556").unwrap().to_string(), "51 824 753 556");
    /// assert!(Abn::parse("51 824 753 557").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != 11 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("abn", "must be 11 digits"));
        }
        let weights = [10u32, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];
        let sum: u32 = digits
            .bytes()
            .map(|b| u32::from(b - b'0'))
            .enumerate()
            .map(|(i, d)| if i == 0 { d.wrapping_sub(1) } else { d })
            .zip(weights)
            .map(|(d, w)| d.wrapping_mul(w))
            .fold(0u32, u32::wrapping_add);
        if digits.starts_with('0') || !sum.is_multiple_of(89) {
            return Err(FieldError::new("abn", "checksum does not match"));
        }
        Ok(Self(digits))
    }

    /// The 11 digits.
    #[must_use]
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Abn {
    /// The customary `NN NNN NNN NNN` grouping.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(f, "{} {} {} {}", &d[..2], &d[2..5], &d[5..8], &d[8..])
    }
}

impl TryFrom<String> for Abn {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Abn::parse(&s)
    }
}

impl From<Abn> for String {
    fn from(a: Abn) -> String {
        a.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum() {
        // The ATO's published example.
        assert!(Abn::parse("51824753556").is_ok());
        assert!(Abn::parse("53 004 085 616").is_ok());
        assert!(Abn::parse("51824753555").is_err());
        assert!(Abn::parse("5182475355").is_err());
        assert!(Abn::parse("01824753556").is_err());
    }
}
