//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 30-second
//! steps, six digits — what authenticator apps use by default — and recovery codes.
//!
//! A code is accepted for the current step and one step either side (clock drift), and
//! never for a step at or before the last one accepted, so a code seen over someone's
//! shoulder cannot be replayed within its minute.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};

/// Seconds per step.
pub const STEP: i64 = 30;

/// Digits per code.
pub const DIGITS: u32 = 6;

/// Recovery codes issued at enrolment.
pub const RECOVERY_CODES: usize = 10;

/// The HOTP value of `secret` at `counter` (RFC 4226 §5.3), as `digits` digits.
#[must_use]
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[19] & 0x0f);
    let code = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    code % 10u32.pow(digits)
}

/// The step of a Unix time.
#[must_use]
pub fn step_at(unix_seconds: i64) -> u64 {
    u64::try_from(unix_seconds.max(0) / STEP).unwrap_or(0)
}

/// The step `code` is valid for at `unix_seconds` (this step or one either side), if any
/// later than `last_step`.
#[must_use]
pub fn verify(secret: &[u8], code: &str, unix_seconds: i64, last_step: Option<u64>) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let given: u32 = code.parse().ok()?;
    let now = step_at(unix_seconds);
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .filter(|s| last_step.is_none_or(|last| *s > last))
        .find(|s| {
            // Compare as digests so timing does not depend on where the codes differ.
            let a = clinic_core::audit::Sha256::digest(&hotp(secret, *s, DIGITS).to_be_bytes());
            let b = clinic_core::audit::Sha256::digest(&given.to_be_bytes());
            clinic_core::audit::ct_eq(&a, &b)
        })
}

/// A new 160-bit secret (RFC 4226 recommends 160 bits).
#[must_use]
pub fn new_secret() -> Vec<u8> {
    let mut s = uuid::Uuid::new_v4().as_bytes().to_vec();
    s.extend_from_slice(&uuid::Uuid::new_v4().as_bytes()[..4]);
    s
}

/// RFC 4648 base32 without padding: how authenticator apps take secrets.
#[must_use]
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The `otpauth://` URI an authenticator app scans (Google Authenticator's key URI
/// format): issuer and account name, the secret, SHA1, six digits, 30 seconds.
#[must_use]
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

/// Fresh recovery codes (ten groups of ten characters) and their stored hashes.
#[must_use]
pub fn recovery_codes() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
            let clean: String = raw.chars().filter(char::is_ascii_alphanumeric).take(10).collect();
            format!("{}-{}", &clean[..5], &clean[5..])
        })
        .collect();
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    (codes, hashes)
}

/// The stored form of a recovery code (dashes and spaces ignored when typed).
#[must_use]
pub fn recovery_hash(code: &str) -> String {
    let normal: String = code.chars().filter(char::is_ascii_alphanumeric).collect();
    clinic_core::audit::hex(&clinic_core::audit::Sha256::digest(normal.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA1, with the RFC's secret "12345678901234567890".
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(secret, step_at(time), 8), expected, "T = {time}");
        }
    }

    #[test]
    fn codes_are_accepted_one_step_either_side_and_never_twice() {
        let secret = b"12345678901234567890";
        let t = 1_234_567_890;
        let code = format!("{:06}", hotp(secret, step_at(t), 6));
        let step = verify(secret, &code, t, None).unwrap();
        assert_eq!(step, step_at(t));
        assert_eq!(verify(secret, &code, t + 30, None), Some(step), "a step late");
        assert_eq!(verify(secret, &code, t - 30, None), Some(step), "a step early");
        assert_eq!(verify(secret, &code, t + 60, None), None, "two steps late");
        assert_eq!(verify(secret, &code, t, Some(step)), None, "replayed in its own step");
        assert_eq!(verify(secret, "12345", t, None), None);
        assert_eq!(verify(secret, "abcdef", t, None), None);
    }

    #[test]
    fn base32_and_the_key_uri() {
        // RFC 4648 §10 test vectors.
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fo"), "MZXQ");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        let uri = otpauth_uri("Harbour Psychology", "sam@example.com", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/Harbour%20Psychology:sam%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Harbour%20Psychology&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(new_secret().len(), 20);
    }

    #[test]
    fn recovery_codes_are_stored_hashed_and_typed_loosely() {
        let (codes, hashes) = recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes[0].len(), 11);
        assert_eq!(recovery_hash(&codes[0]), hashes[0]);
        assert_eq!(recovery_hash(&codes[0].replace('-', "")), hashes[0]);
        assert!(!hashes[0].contains(&codes[0]));
    }
}
