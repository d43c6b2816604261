//! Contact details: email addresses and phone numbers, parsed once on the way in.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// An email address, trimmed, checked for shape, and with its domain lower-cased.
///
/// The check is deliberately the practical one (one `@`, a non-empty local part, a dotted
/// domain of letters, digits and hyphens, no spaces, at most 254 characters, RFC 5321's
/// limit); whether the mailbox exists is for the mail server to say.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses an email address.
    ///
    /// # Errors
    /// [`FieldError`] on `email` when the text is not an address.
    ///
    /// # Example
    /// ```
    /// use clinic_core::people::Email;
    /// assert_eq!(Email::parse(" Jo@Example.COM ").unwrap().as_str(), "Jo@example.com");
    /// assert!(Email::parse("jo@localhost").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let bad = |why: &str| FieldError::new("email", why.to_owned());
        let t = text.trim();
        if t.len() > 254 {
            return Err(bad("is longer than 254 characters"));
        }
        let (local, domain) = t.rsplit_once('@').ok_or_else(|| bad("has no @"))?;
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(bad("has an invalid part before the @"));
        }
        if local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>')
        {
            return Err(bad("has a character not allowed before the @"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.len() > 63
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
        {
            return Err(bad("has an invalid domain"));
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// The address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form (`+` and 8 to 15 digits).
///
/// Australian national numbers are normalised: `0412 345 678` becomes `+61412345678`,
/// `(02) 9876 5432` becomes `+61298765432`. Spaces, hyphens, dots and brackets are
/// ignored. SMS and WhatsApp adapters need this exact form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses and normalises a phone number.
    ///
    /// # Errors
    /// [`FieldError`] on `phone` when it is not E.164 or an Australian national number.
    ///
    /// # Example
    /// ```
    /// use clinic_core::people::Phone;
    /// assert_eq!(Phone::parse("0412 345 678").unwrap().as_str(), "+61412345678");
    /// assert!(Phone::parse("12345").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let bad = |why: &str| FieldError::new("phone", why.to_owned());
        let t = text.trim();
        let mut digits = String::with_capacity(t.len());
        let mut plus = false;
        for (i, c) in t.chars().enumerate() {
            match c {
                '+' if i == 0 => plus = true,
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(bad("has a character that is not part of a phone number")),
            }
        }
        let e164 = if plus {
            digits
        } else if digits.len() == 10 && digits.starts_with('0') && !digits.starts_with("00") {
            // Australian national format: trunk prefix 0 then 9 digits.
            format!("61{}", &digits[1..])
        } else if digits.len() == 11 && digits.starts_with("61") {
            digits
        } else {
            return Err(bad(
                "must be in international form (+61...) or an Australian 10-digit number",
            ));
        };
        if !(8..=15).contains(&e164.len()) || e164.starts_with('0') {
            return Err(bad("must have 8 to 15 digits after the + and no leading 0"));
        }
        if let Some(rest) = e164.strip_prefix("61") {
            // Australian numbers: 9 significant digits; area codes 2,3,7,8 and mobiles 4.
            if rest.len() != 9 || !matches!(rest.as_bytes()[0], b'2' | b'3' | b'4' | b'7' | b'8' | b'1') {
                return Err(bad("is not a valid Australian number"));
            }
        }
        Ok(Self(format!("+{e164}")))
    }

    /// The E.164 form, e.g. `+61412345678`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for an Australian mobile (`+614…`), the only kind that receives SMS here.
    #[must_use]
    pub fn is_au_mobile(&self) -> bool {
        self.0.starts_with("+614")
    }
}

impl TryFrom<String> for Phone {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(Email::parse("a.b+c@mail.example.com.au").is_ok());
        for bad in [
            "",
            "no-at",
            "@x.com",
            "a@",
            "a@b",
            "a b@x.com",
            "a@-x.com",
            "a@x..com",
            "a@@x.com",
        ] {
            assert_eq!(Email::parse(bad).unwrap_err().field(), "email", "{bad}");
        }
        let long = format!("{}@x.com", "a".repeat(65));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn australian_numbers_normalise() {
        assert_eq!(Phone::parse("(02) 9876 5432").unwrap().as_str(), "+61298765432");
        assert_eq!(Phone::parse("+61 412-345-678").unwrap().as_str(), "+61412345678");
        assert_eq!(Phone::parse("61412345678").unwrap().as_str(), "+61412345678");
        assert!(Phone::parse("0412345678").unwrap().is_au_mobile());
        assert!(!Phone::parse("0298765432").unwrap().is_au_mobile());
    }

    #[test]
    fn international_numbers_kept() {
        assert_eq!(Phone::parse("+64 21 123 4567").unwrap().as_str(), "+64211234567");
        assert_eq!(Phone::parse("+1 (415) 555-0100").unwrap().as_str(), "+14155550100");
    }

    #[test]
    fn bad_phones_rejected() {
        for bad in [
            "",
            "12345",
            "041234567",
            "04123456789",
            "+61 5 1234 5678",
            "0412abc678",
            "+0412345678",
            "++61412345678",
        ] {
            assert_eq!(Phone::parse(bad).unwrap_err().field(), "phone", "{bad}");
        }
    }
}
