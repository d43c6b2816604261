//! Australian health identifiers: Medicare card numbers, Medicare provider numbers and
//! AHPRA registration numbers. Each validates its format and, where one exists, its check
//! character; the error never echoes the number.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

fn digits_only(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace() && *c != '-').collect()
}

/// A Medicare card number (10 digits: 8-digit identifier, check digit, issue number) with
/// the individual reference number (IRN, 1–9) of the person on the card.
///
/// Rule (Services Australia, Medicare card number format; also HL7 AU Base
/// `au-medicarecardnumber`): the first digit is 2–6; the ninth digit equals
/// `(d1·1 + d2·3 + d3·7 + d4·9 + d5·1 + d6·3 + d7·7 + d8·9) mod 10`; the issue number is
/// 1–9.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "MedicareCardRaw", into = "MedicareCardRaw")]
pub struct MedicareCard {
    number: String,
    irn: u8,
}

#[derive(Serialize, Deserialize)]
struct MedicareCardRaw {
    number: String,
    irn: u8,
}

impl MedicareCard {
    /// Parses a card number (spaces allowed, e.g. `2123 45670 1`) and an IRN.
    ///
    /// # Errors
    /// [`FieldError`] on `medicare_number` (length, first digit, check digit, issue number)
    /// or `medicare_irn` (not 1–9).
    ///
    /// # Example
    /// ```
    /// use clinic_core::people::MedicareCard;
    /// assert!(MedicareCard::parse("2123 45670 1", 1).is_ok());
    /// assert!(MedicareCard::parse("2123 45671 1", 1).is_err()); // check digit
    /// ```
    pub fn parse(number: &str, irn: u8) -> Result<Self, FieldError> {
        let field = "medicare_number";
        let n = digits_only(number);
        if n.len() != 10 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(field, "must be 10 digits"));
        }
        let d: Vec<u32> = n.bytes().map(|b| u32::from(b - b'0')).collect();
        if !(2..=6).contains(&d[0]) {
            return Err(FieldError::new(field, "must start with a digit from 2 to 6"));
        }
        let weights = [1, 3, 7, 9, 1, 3, 7, 9];
        let sum: u32 = d.iter().zip(weights).map(|(x, w)| x * w).sum();
        if sum % 10 != d[8] {
            return Err(FieldError::new(field, "check digit does not match"));
        }
        if d[9] == 0 {
            return Err(FieldError::new(field, "issue number must be 1 to 9"));
        }
        if !(1..=9).contains(&irn) {
            return Err(FieldError::new("medicare_irn", "must be 1 to 9"));
        }
        Ok(Self { number: n, irn })
    }

    /// The 10-digit number.
    #[must_use]
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The individual reference number.
    #[must_use]
    pub fn irn(&self) -> u8 {
        self.irn
    }
}

impl TryFrom<MedicareCardRaw> for MedicareCard {
    type Error = FieldError;
    fn try_from(r: MedicareCardRaw) -> Result<Self, Self::Error> {
        MedicareCard::parse(&r.number, r.irn)
    }
}

impl From<MedicareCard> for MedicareCardRaw {
    fn from(c: MedicareCard) -> Self {
        MedicareCardRaw {
            number: c.number,
            irn: c.irn,
        }
    }
}

/// A Medicare provider number: a 6-digit stem, a practice-location character and a check
/// character, issued per practitioner per location (e.g. `2429581T`).
///
/// Rule (Services Australia provider number format): the location character is one of
/// `0-9A-HJ-NP-RT-Y` with values 0–31 in that order; the check character is
/// `"YXWTLKJHFBA"[(s1·3 + s2·5 + s3·8 + s4·4 + s5·2 + s6·1 + location·6) mod 11]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct ProviderNumber(String);

const LOCATION_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUVWXY";
const CHECK_CHARS: &[u8] = b"YXWTLKJHFBA";

impl ProviderNumber {
    /// Parses a provider number; a 5-digit stem written without its leading zero
    /// (`429581T`-style, 7 characters) is padded.
    ///
    /// # Errors
    /// [`FieldError`] on `provider_number` for the wrong length, a bad location character
    /// or a check character that does not match.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let field = "provider_number";
        let mut t = digits_only(text).to_ascii_uppercase();
        if t.len() == 7 {
            t.insert(0, '0');
        }
        let b = t.as_bytes();
        if b.len() != 8 || !b[..6].iter().all(u8::is_ascii_digit) {
            return Err(FieldError::new(
                field,
                "must be 6 digits, a location character and a check character",
            ));
        }
        let loc = LOCATION_CHARS
            .iter()
            .position(|c| *c == b[6])
            .ok_or_else(|| FieldError::new(field, "has an invalid practice location character"))?;
        let weights = [3, 5, 8, 4, 2, 1];
        let sum: usize = b[..6]
            .iter()
            .zip(weights)
            .map(|(d, w)| usize::from(d - b'0') * w)
            .sum::<usize>()
            + loc * 6;
        if CHECK_CHARS[sum % 11] != b[7] {
            return Err(FieldError::new(field, "check character does not match"));
        }
        Ok(Self(t))
    }

    /// The 8-character number.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProviderNumber {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ProviderNumber::parse(&s)
    }
}

impl From<ProviderNumber> for String {
    fn from(p: ProviderNumber) -> String {
        p.0
    }
}

impl fmt::Display for ProviderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An AHPRA registration number: a three-letter profession prefix and ten digits, e.g.
/// `PSY0001234567` (rule sheet §5; HL7 AU `au-ahpraregistrationnumber`:
/// `^[A-Z]{3}[0-9]{10}$`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct AhpraNumber(String);

impl AhpraNumber {
    /// Parses an AHPRA number (upper-cased, surrounding spaces trimmed).
    ///
    /// # Errors
    /// [`FieldError`] on `ahpra_number` when not three letters and ten digits.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let t = text.trim().to_ascii_uppercase();
        let b = t.as_bytes();
        if b.len() == 13 && b[..3].iter().all(u8::is_ascii_uppercase) && b[3..].iter().all(u8::is_ascii_digit) {
            Ok(Self(t))
        } else {
            Err(FieldError::new(
                "ahpra_number",
                "must be three letters and ten digits, e.g. PSY0001234567",
            ))
        }
    }

    /// The profession prefix, e.g. `PSY` for psychologists, `MED` for medical practitioners.
    #[must_use]
    pub fn profession(&self) -> &str {
        &self.0[..3]
    }

    /// The number.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AhpraNumber {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AhpraNumber::parse(&s)
    }
}

impl From<AhpraNumber> for String {
    fn from(a: AhpraNumber) -> String {
        a.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn medicare_valid_and_each_failure() {
        let c = MedicareCard::parse("2123456701", 3).unwrap();
        assert_eq!((c.number(), c.irn()), ("2123456701", 3));
        assert!(MedicareCard::parse("212345670", 1).is_err()); // 9 digits
        assert!(MedicareCard::parse("1123456701", 1).is_err()); // first digit
        assert!(MedicareCard::parse("7123456701", 1).is_err());
        assert!(MedicareCard::parse("2123456711", 1).is_err()); // check digit
        assert!(MedicareCard::parse("2123456700", 1).is_err()); // issue 0
        assert_eq!(
            MedicareCard::parse("2123456701", 0).unwrap_err().field(),
            "medicare_irn"
        );
        assert_eq!(
            MedicareCard::parse("2123456701", 10).unwrap_err().field(),
            "medicare_irn"
        );
    }

    #[test]
    fn medicare_error_does_not_echo_the_number() {
        let e = MedicareCard::parse("2123456711", 1).unwrap_err();
        assert!(!e.to_string().contains("2123456711"));
    }

    #[test]
    fn provider_numbers() {
        assert_eq!(ProviderNumber::parse("2429581T").unwrap().as_str(), "2429581T");
        assert_eq!(ProviderNumber::parse("2429581t").unwrap().as_str(), "2429581T");
        assert!(ProviderNumber::parse("2429581A").is_err());
        assert!(ProviderNumber::parse("242958IT").is_err()); // I is not a location char
        assert!(ProviderNumber::parse("24295").is_err());
    }

    #[test]
    fn ahpra_numbers() {
        assert_eq!(AhpraNumber::parse(" psy0001234567 ").unwrap().profession(), "PSY");
        for bad in ["PSY000123456", "PS10001234567", "PSY00012345678", "PSY000123456X"] {
            assert!(AhpraNumber::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        /// For every 8-digit identifier exactly one check digit is accepted.
        #[test]
        fn exactly_one_medicare_check_digit(id in 20_000_000u32..70_000_000, issue in 1u8..=9) {
            let accepted = (0..10)
                .filter(|c| MedicareCard::parse(&format!("{id}{c}{issue}"), 1).is_ok())
                .count();
            prop_assert_eq!(accepted, 1);
        }

        /// For every stem and location exactly one check character is accepted.
        #[test]
        fn exactly_one_provider_check_char(stem in 0u32..1_000_000, loc in 0usize..32) {
            let l = LOCATION_CHARS[loc] as char;
            let accepted = CHECK_CHARS
                .iter()
                .filter(|c| ProviderNumber::parse(&format!("{stem:06}{l}{}", **c as char)).is_ok())
                .count();
            prop_assert_eq!(accepted, 1);
        }
    }
}
