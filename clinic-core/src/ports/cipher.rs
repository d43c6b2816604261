//! Encryption of health data at rest.

use super::PortError;
use crate::ids::PracticeId;

/// What a sealed value is bound to: decrypting it under any other practice or record
/// fails, so a ciphertext copied onto another row cannot be read there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealContext<'a> {
    /// The practice the record belongs to.
    pub practice: PracticeId,
    /// The record's kind and key, e.g. `note/0193…`.
    pub record: &'a str,
}

/// Encrypts and decrypts health data fields (progress and process notes, treatment plans,
/// messages, test results, prescriptions) before they reach storage.
///
/// The Privacy Act's APP 11 asks for "reasonable steps" to protect personal information from
/// misuse and unauthorised access; for health information held by a storage service or left in
/// a backup or database dump, encryption under keys kept apart from the data is that step.
///
/// # Contract
/// - `open(ctx, seal(ctx, p)) == p`; `open` under another context, or of altered bytes,
///   is an error of kind `Invalid` whose message names no content.
/// - Sealing the same plaintext twice gives different bytes (fresh keys and nonces).
/// - `key_id` names the key-encryption key a sealed value is wrapped under;
///   `rewrap` moves it under the current key without decrypting the body, and returns
///   `None` when it already is.
/// - Synchronous: it is CPU work, done in the caller's task.
pub trait FieldCipher: Send + Sync + 'static {
    /// Encrypts `plaintext` bound to `ctx`.
    fn seal(&self, ctx: SealContext<'_>, plaintext: &[u8]) -> Result<Vec<u8>, PortError>;
    /// Decrypts a value sealed under `ctx`.
    fn open(&self, ctx: SealContext<'_>, sealed: &[u8]) -> Result<Vec<u8>, PortError>;
    /// The id of the key-encryption key `sealed` is wrapped under.
    fn key_id(&self, sealed: &[u8]) -> Result<String, PortError>;
    /// The id of the key new values are sealed under.
    fn current_key_id(&self) -> &str;
    /// `sealed` re-wrapped under the current key, or `None` if it already is.
    fn rewrap(&self, sealed: &[u8]) -> Result<Option<Vec<u8>>, PortError>;
}
