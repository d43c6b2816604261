//! AES-256-GCM envelope encryption: the `FieldCipher` for health data at rest.
//!
//! Every value gets its own random 256-bit data key. The body is encrypted under the data
//! key with the practice id and record (kind and key) as associated data, so a ciphertext
//! moved onto another row or practice does not open. The data key is wrapped under a
//! key-encryption key (KEK) named by a key id; rotating the KEK re-wraps the 48-byte data key
//! and leaves the body's ciphertext untouched.
//!
//! KEKs come from configuration (`id:hex` pairs, the first is current), never from the
//! database they protect. Older KEKs stay configured until [`rewrap`](FieldCipher::rewrap)
//! has moved every value off them.
//!
//! Envelope, version 1: `"CE1"`, key-id length (1 byte), key id, wrap nonce (12), wrapped
//! data key (32 + 16-byte tag), body nonce (12), body ciphertext with its 16-byte tag.
//! Nonces are random 96-bit values, each used once under its own data key.

use std::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Payload};
use clinic_core::ports::{FieldCipher, PortError, PortErrorKind, SealContext};
use zeroize::Zeroizing;

const MAGIC: &[u8; 3] = b"CE1";
const NONCE: usize = 12;
const WRAPPED: usize = 32 + 16;
const WRAP_AAD: &[u8] = b"clinic-rs data key v1:";

type Nonce = aes_gcm::aead::Nonce<Aes256Gcm>;

/// A nonce from its 12 stored bytes (the envelope parser guarantees the length).
fn nonce_of(bytes: &[u8]) -> Result<Nonce, PortError> {
    Nonce::try_from(bytes).map_err(|_| invalid("sealed value has a bad nonce"))
}

/// A fresh random 256-bit key, wiped when dropped.
fn fresh_key() -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&Key::<Aes256Gcm>::generate());
    key
}

fn aes(key: &[u8]) -> Result<Aes256Gcm, PortError> {
    Aes256Gcm::new_from_slice(key).map_err(|_| invalid("a data key has the wrong length"))
}

/// A configuration of keys that cannot be used. Names the problem, never a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyConfigError {
    /// No key was given.
    #[error("no encryption key configured")]
    Empty,
    /// An entry is not `id:hex`.
    #[error("key entry {position} is not of the form id:hex")]
    Malformed {
        /// 1-based position in the list.
        position: usize,
    },
    /// A key id is empty, longer than 64 characters or has characters other than
    /// letters, digits, `.`, `_` and `-`.
    #[error("key entry {position} has an invalid key id")]
    BadId {
        /// 1-based position in the list.
        position: usize,
    },
    /// A key is not 64 hexadecimal digits (256 bits).
    #[error("key entry {position} is not 64 hexadecimal digits")]
    BadKey {
        /// 1-based position in the list.
        position: usize,
    },
    /// Two entries share a key id.
    #[error("key entry {position} repeats an earlier key id")]
    Duplicate {
        /// 1-based position in the list.
        position: usize,
    },
}

impl KeyConfigError {
    /// The stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Empty => "key_missing",
            Self::Malformed { .. } => "key_malformed",
            Self::BadId { .. } => "key_id_invalid",
            Self::BadKey { .. } => "key_invalid",
            Self::Duplicate { .. } => "key_id_duplicate",
        }
    }
}

struct Kek {
    id: String,
    cipher: Aes256Gcm,
}

/// The envelope cipher over a ring of key-encryption keys.
///
/// # Example
/// ```
/// use clinic_adapters::crypto::EnvelopeCipher;
/// use clinic_core::ids::PracticeId;
/// use clinic_core::ports::{FieldCipher, SealContext};
///
/// let keys = format!("2026-11:{}", "ab".repeat(32));
/// let cipher = EnvelopeCipher::from_config(&keys).unwrap();
/// let ctx = SealContext { practice: PracticeId::from_uuid(uuid::Uuid::from_u128(7)), record: "note/1" };
/// let sealed = cipher.seal(ctx, b"S: sleeping better").unwrap();
/// assert!(!sealed.windows(8).any(|w| w == b"sleeping"));
/// assert_eq!(cipher.open(ctx, &sealed).unwrap(), b"S: sleeping better");
/// ```
pub struct EnvelopeCipher {
    /// The current key first.
    keys: Vec<Kek>,
}

impl fmt::Debug for EnvelopeCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvelopeCipher")
            .field("key_ids", &self.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn hex_key(s: &str) -> Option<Zeroizing<[u8; 32]>> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = Zeroizing::new([0u8; 32]);
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        // Two hex digits are at most 255.
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

fn invalid(message: &str) -> PortError {
    PortError::new(PortErrorKind::Invalid, message)
}

fn body_aad(ctx: SealContext<'_>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + ctx.record.len());
    aad.extend_from_slice(ctx.practice.as_uuid().as_bytes());
    aad.extend_from_slice(ctx.record.as_bytes());
    aad
}

fn wrap_aad(key_id: &str) -> Vec<u8> {
    [WRAP_AAD, key_id.as_bytes()].concat()
}

/// The parts of an envelope, borrowed from its bytes.
struct Envelope<'a> {
    key_id: &'a str,
    wrap_nonce: &'a [u8],
    wrapped: &'a [u8],
    /// Body nonce and ciphertext, kept together: rotation copies them as they are.
    body: &'a [u8],
}

impl<'a> Envelope<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, PortError> {
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| invalid("not a sealed value"))?;
        let (&len, rest) = rest.split_first().ok_or_else(|| invalid("truncated sealed value"))?;
        let len = usize::from(len);
        if rest.len() < len + NONCE + WRAPPED + NONCE + 16 {
            return Err(invalid("truncated sealed value"));
        }
        let (id, rest) = rest.split_at(len);
        let key_id = std::str::from_utf8(id).map_err(|_| invalid("sealed value has a bad key id"))?;
        let (wrap_nonce, rest) = rest.split_at(NONCE);
        let (wrapped, body) = rest.split_at(WRAPPED);
        Ok(Self {
            key_id,
            wrap_nonce,
            wrapped,
            body,
        })
    }

    fn write(key_id: &str, wrap_nonce: &[u8], wrapped: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + key_id.len() + wrap_nonce.len() + wrapped.len() + body.len());
        out.extend_from_slice(MAGIC);
        // Key ids are checked to be at most 64 bytes when configured.
        out.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(key_id.as_bytes());
        out.extend_from_slice(wrap_nonce);
        out.extend_from_slice(wrapped);
        out.extend_from_slice(body);
        out
    }
}

impl EnvelopeCipher {
    /// A cipher from `id:hex` entries separated by commas, the first being the current key:
    /// `2026-11:<64 hex digits>,2025-05:<64 hex digits>`.
    ///
    /// # Errors
    /// [`KeyConfigError`] naming the entry at fault.
    pub fn from_config(spec: &str) -> Result<Self, KeyConfigError> {
        let mut keys: Vec<Kek> = Vec::new();
        for (i, entry) in spec.split(',').map(str::trim).filter(|e| !e.is_empty()).enumerate() {
            let position = i + 1;
            let (id, hex) = entry.split_once(':').ok_or(KeyConfigError::Malformed { position })?;
            if !valid_id(id) {
                return Err(KeyConfigError::BadId { position });
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(KeyConfigError::Duplicate { position });
            }
            let key = hex_key(hex).ok_or(KeyConfigError::BadKey { position })?;
            keys.push(Kek {
                id: id.to_owned(),
                // `hex_key` returns exactly 32 bytes, the only length AES-256 takes.
                cipher: Aes256Gcm::new_from_slice(&key[..]).map_err(|_| KeyConfigError::BadKey { position })?,
            });
        }
        if keys.is_empty() {
            return Err(KeyConfigError::Empty);
        }
        Ok(Self { keys })
    }

    /// A fresh random key in the configuration form, `id:hex`: what an operator stores in
    /// their secret manager.
    #[must_use]
    pub fn generate_key(id: &str) -> String {
        let key = fresh_key();
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        format!("{id}:{hex}")
    }

    fn kek(&self, id: &str) -> Result<&Kek, PortError> {
        self.keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| invalid("sealed under a key that is not configured"))
    }

    fn unwrap_dek(&self, env: &Envelope<'_>) -> Result<Zeroizing<Vec<u8>>, PortError> {
        let kek = self.kek(env.key_id)?;
        let aad = wrap_aad(env.key_id);
        kek.cipher
            .decrypt(
                &nonce_of(env.wrap_nonce)?,
                Payload {
                    msg: env.wrapped,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| invalid("sealed value failed authentication"))
    }

    fn wrap_dek(&self, dek: &[u8]) -> Result<(Nonce, Vec<u8>), PortError> {
        let kek = &self.keys[0];
        let nonce = Nonce::generate();
        let aad = wrap_aad(&kek.id);
        let wrapped = kek
            .cipher
            .encrypt(&nonce, Payload { msg: dek, aad: &aad })
            .map_err(|_| PortError::new(PortErrorKind::Unexpected, "wrapping a data key failed"))?;
        Ok((nonce, wrapped))
    }
}

impl FieldCipher for EnvelopeCipher {
    fn seal(&self, ctx: SealContext<'_>, plaintext: &[u8]) -> Result<Vec<u8>, PortError> {
        let dek = fresh_key();
        let body_nonce = Nonce::generate();
        let aad = body_aad(ctx);
        let ciphertext = aes(&dek[..])?
            .encrypt(
                &body_nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| PortError::new(PortErrorKind::Unexpected, "encryption failed"))?;
        let (wrap_nonce, wrapped) = self.wrap_dek(&dek[..])?;
        let body = [&body_nonce[..], &ciphertext].concat();
        Ok(Envelope::write(&self.keys[0].id, &wrap_nonce, &wrapped, &body))
    }

    fn open(&self, ctx: SealContext<'_>, sealed: &[u8]) -> Result<Vec<u8>, PortError> {
        let env = Envelope::parse(sealed)?;
        let dek = self.unwrap_dek(&env)?;
        let (nonce, ciphertext) = env.body.split_at(NONCE);
        let aad = body_aad(ctx);
        aes(&dek)?
            .decrypt(
                &nonce_of(nonce)?,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| invalid("sealed value failed authentication"))
    }

    fn key_id(&self, sealed: &[u8]) -> Result<String, PortError> {
        Envelope::parse(sealed).map(|e| e.key_id.to_owned())
    }

    fn current_key_id(&self) -> &str {
        &self.keys[0].id
    }

    fn rewrap(&self, sealed: &[u8]) -> Result<Option<Vec<u8>>, PortError> {
        let env = Envelope::parse(sealed)?;
        if env.key_id == self.keys[0].id {
            return Ok(None);
        }
        let dek = self.unwrap_dek(&env)?;
        let (wrap_nonce, wrapped) = self.wrap_dek(&dek)?;
        Ok(Some(Envelope::write(&self.keys[0].id, &wrap_nonce, &wrapped, env.body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinic_core::ids::PracticeId;
    use proptest::prelude::*;

    fn key(id: &str, byte: &str) -> String {
        format!("{id}:{}", byte.repeat(32))
    }

    fn ctx(record: &str) -> SealContext<'_> {
        SealContext {
            practice: PracticeId::from_uuid(uuid::Uuid::from_u128(1)),
            record,
        }
    }

    #[test]
    fn configuration_errors_name_the_entry_never_the_key() {
        assert_eq!(EnvelopeCipher::from_config("").unwrap_err(), KeyConfigError::Empty);
        assert_eq!(
            EnvelopeCipher::from_config("nocolon").unwrap_err(),
            KeyConfigError::Malformed { position: 1 }
        );
        assert_eq!(
            EnvelopeCipher::from_config(&format!("{},bad id:{}", key("a", "00"), "00".repeat(32))).unwrap_err(),
            KeyConfigError::BadId { position: 2 }
        );
        let short = format!("a:{}", "0".repeat(63));
        let err = EnvelopeCipher::from_config(&short).unwrap_err();
        assert_eq!(err, KeyConfigError::BadKey { position: 1 });
        assert!(!err.to_string().contains("000"));
        assert_eq!(
            EnvelopeCipher::from_config(&format!("a:{}", "zz".repeat(32)))
                .unwrap_err()
                .code(),
            "key_invalid"
        );
        assert_eq!(
            EnvelopeCipher::from_config(&format!("{},{}", key("a", "00"), key("a", "11"))).unwrap_err(),
            KeyConfigError::Duplicate { position: 2 }
        );
        let generated = EnvelopeCipher::generate_key("k1");
        assert!(EnvelopeCipher::from_config(&generated).is_ok());
        assert!(!format!("{:?}", EnvelopeCipher::from_config(&generated).unwrap()).contains(&generated[3..]));
    }

    #[test]
    fn opening_under_another_record_or_practice_or_after_tampering_fails() {
        let c = EnvelopeCipher::from_config(&key("k1", "42")).unwrap();
        let sealed = c.seal(ctx("note/1"), b"plan: exposure").unwrap();
        assert_eq!(
            c.open(ctx("note/2"), &sealed).unwrap_err().kind(),
            PortErrorKind::Invalid
        );
        let other = SealContext {
            practice: PracticeId::from_uuid(uuid::Uuid::from_u128(2)),
            record: "note/1",
        };
        assert!(c.open(other, &sealed).is_err());
        for i in [3, 10, 40, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(c.open(ctx("note/1"), &bad).is_err(), "flipped byte {i}");
        }
        assert!(c.open(ctx("note/1"), &sealed[..sealed.len() - 17]).is_err());
        assert!(c.open(ctx("note/1"), b"plain").is_err());
        assert_ne!(
            c.seal(ctx("note/1"), b"x").unwrap(),
            c.seal(ctx("note/1"), b"x").unwrap()
        );
    }

    #[test]
    fn rotation_rewraps_the_data_key_and_keeps_the_body() {
        let old = EnvelopeCipher::from_config(&key("2025", "11")).unwrap();
        let sealed = old.seal(ctx("plan/7"), b"goals").unwrap();
        let rotated = EnvelopeCipher::from_config(&format!("{},{}", key("2026", "22"), key("2025", "11"))).unwrap();
        assert_eq!(rotated.key_id(&sealed).unwrap(), "2025");
        let moved = rotated.rewrap(&sealed).unwrap().unwrap();
        assert_eq!(rotated.key_id(&moved).unwrap(), "2026");
        // The body (its nonce and ciphertext) is carried over byte for byte.
        assert!(moved.ends_with(Envelope::parse(&sealed).unwrap().body));
        assert_eq!(rotated.rewrap(&moved).unwrap(), None);
        assert_eq!(rotated.open(ctx("plan/7"), &moved).unwrap(), b"goals");
        // Once the old key is retired only re-wrapped values open.
        let retired = EnvelopeCipher::from_config(&key("2026", "22")).unwrap();
        assert_eq!(retired.open(ctx("plan/7"), &moved).unwrap(), b"goals");
        assert!(retired.open(ctx("plan/7"), &sealed).is_err());
    }

    proptest! {
        #[test]
        fn seal_then_open_is_identity(body in proptest::collection::vec(any::<u8>(), 0..2000), record in "[a-z]{1,8}/[0-9]{1,6}") {
            let c = EnvelopeCipher::from_config(&key("k", "5a")).unwrap();
            let sealed = c.seal(ctx(&record), &body).unwrap();
            prop_assert_eq!(c.open(ctx(&record), &sealed).unwrap(), body);
        }
    }
}
