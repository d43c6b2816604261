//! Sign-in rules: accounts with their lockout counters, refresh tokens in rotating
//! families, and the password policy. Hashing, token signing and randomness are the
//! server's (they need I/O and entropy); the rules they follow are here.
//!
//! - **Lockout.** After [`MAX_FAILURES`] wrong passwords in a row an account is locked for
//!   [`LOCKOUT`]; a right password resets the count. (OWASP Authentication Cheat Sheet:
//!   lock out or throttle after repeated failures; NIST SP 800-63B §5.2.2: rate-limit
//!   online guessing to at most 100 failures per account.)
//! - **Refresh tokens** are opaque, stored only as their SHA-256, and single-use: each use
//!   issues the next token of the same family. Presenting a token that was already used
//!   means it was copied, so the whole family is revoked (RFC 9700, OAuth 2.0 Security Best
//!   Current Practice, §4.14.2: refresh token rotation with reuse detection). Logging out
//!   revokes the family too.
//! - **Passwords** are at least [`MIN_PASSWORD_CHARS`] characters and at most
//!   [`MAX_PASSWORD_BYTES`] bytes, any characters allowed, with no composition rules
//!   (NIST SP 800-63B §5.1.1.2).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::FieldError;
use crate::ids::{PracticeId, UserId};
use crate::people::User;

/// Wrong passwords in a row before the account locks: five.
pub const MAX_FAILURES: u32 = 5;

/// How long a locked account stays locked: fifteen minutes.
pub const LOCKOUT: Duration = Duration::minutes(15);

/// The shortest password: twelve characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The longest password accepted: 256 bytes (bounds the hashing work an attacker can ask
/// for).
pub const MAX_PASSWORD_BYTES: usize = 256;

/// How long a sign-in lasts: thirty days from the password. Each refresh token works once
/// and its successor expires with it, so renewing never extends a sign-in (refresh tokens
/// expire absolutely, not only by sliding).
pub const REFRESH_TTL: Duration = Duration::days(30);

/// Checks a new password against the policy, never echoing it.
///
/// # Errors
/// A [`FieldError`] on `password`.
pub fn check_password(password: &str) -> Result<(), FieldError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(FieldError::new("password", "must be at least 12 characters"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(FieldError::new("password", "must be at most 256 bytes"));
    }
    if password.chars().all(|c| password.starts_with(c)) {
        return Err(FieldError::new("password", "must not be one character repeated"));
    }
    if let Some(why) = guessable(password) {
        return Err(FieldError::new("password", why));
    }
    Ok(())
}

/// The common passwords of `common_passwords.txt` (its header names the source).
fn common_passwords() -> &'static std::collections::HashSet<&'static str> {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        include_str!("common_passwords.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    })
}

/// Why a password long enough is still among the first an attacker tries, if it is: a
/// common password (NIST SP 800-63B 5.1.1.2 asks verifiers to refuse values from lists of
/// breached and commonly used passwords), one with only digits or symbols around it
/// (`Password1234`), a short piece repeated (`passwordpassword`), or a run of consecutive
/// letters or digits (`123456789012`, `abcdefghijkl`).
fn guessable(password: &str) -> Option<&'static str> {
    let lower = password.to_lowercase();
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    if common_passwords().contains(lower.as_str()) || common_passwords().contains(core) {
        return Some("is a common password (or one with digits or symbols added): choose a passphrase of your own");
    }
    // A walk along the keyboard's rows (a UK or US layout).
    const ROWS: &str = "qwertyuiopasdfghjklzxcvbnm";
    let reversed: String = ROWS.chars().rev().collect();
    if core.chars().count() >= 6 && (ROWS.contains(core) || reversed.contains(core)) {
        return Some("must not be a walk along the keyboard");
    }
    let chars: Vec<char> = lower.chars().collect();
    let n = chars.len();
    let repeated = (1..=n / 2).any(|unit| n.is_multiple_of(unit) && chars.chunks(unit).all(|c| c == &chars[..unit]));
    if repeated {
        return Some("must not be a short piece repeated");
    }
    let step = |a: char, b: char| {
        let (a, b) = (a as u32, b as u32);
        let digits = |x: u32| (u32::from('0')..=u32::from('9')).contains(&x);
        // Digit runs wrap: 7890 and 0987 are runs.
        if digits(a) && digits(b) {
            let (a, b) = (a - u32::from('0'), b - u32::from('0'));
            return if (a + 1) % 10 == b {
                1
            } else if (b + 1) % 10 == a {
                -1
            } else {
                0
            };
        }
        if b == a + 1 {
            1
        } else if a == b + 1 {
            -1
        } else {
            0
        }
    };
    let steps: Vec<i32> = chars.windows(2).map(|w| step(w[0], w[1])).collect();
    if steps.iter().all(|s| *s == 1) || steps.iter().all(|s| *s == -1) {
        return Some("must not be a run of consecutive letters or digits");
    }
    None
}

/// A user's sign-in record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    /// The user.
    pub user: User,
    /// The password hash in PHC string form (argon2id).
    pub password_hash: String,
    /// Wrong passwords since the last right one.
    pub failed_logins: u32,
    /// Locked until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// A disabled account cannot sign in.
    pub disabled: bool,
    /// Bumped by every stored change (compare-and-swap).
    pub revision: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The second factor, once enrolled.
    #[serde(default)]
    pub two_factor: Option<TwoFactor>,
    /// An open invitation: the account signs in only once it is accepted.
    #[serde(default)]
    pub invitation: Option<Invitation>,
    /// The address was proven by a one-time link sent to it (an accepted invitation counts).
    /// A patient account whose address is unproven reads its own record and edits its
    /// profile, but books nothing and is never linked as anyone's guardian.
    #[serde(default)]
    pub email_verified: bool,
    /// The open email-verification link, if one was sent.
    #[serde(default)]
    pub verification: Option<OneTimeLink>,
    /// The open password-reset link, if one was asked for.
    #[serde(default)]
    pub reset: Option<OneTimeLink>,
    /// Sessions signed in before this instant are over: refresh tokens issued earlier are
    /// refused (set by a password reset, a disable, a role change and a second-factor reset).
    #[serde(default)]
    pub sessions_valid_from: Option<DateTime<Utc>>,
}

/// How long an email-verification link works: 48 hours.
pub const VERIFICATION_TTL: Duration = Duration::hours(48);

/// How long a password-reset link works: one hour (OWASP Forgot Password Cheat Sheet:
/// short-lived, single use).
pub const RESET_TTL: Duration = Duration::hours(1);

/// A one-time link sent by email: only the token's hash is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OneTimeLink {
    /// SHA-256 of the token, lowercase hex.
    pub token_hash: String,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
}

impl OneTimeLink {
    /// Whether `given_hash` (the hash of the token presented) opens this link at `now`:
    /// the same hash, compared in constant time, before it lapses.
    #[must_use]
    pub fn opens(&self, given_hash: &str, now: DateTime<Utc>) -> bool {
        let same = crate::audit::ct_eq(
            &crate::audit::Sha256::digest(given_hash.as_bytes()),
            &crate::audit::Sha256::digest(self.token_hash.as_bytes()),
        );
        same && now < self.expires_at
    }
}

/// How long an invitation to join the practice stays open: seven days.
pub const INVITATION_TTL: Duration = Duration::days(7);

/// An invitation for a member of staff to set their password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invitation {
    /// SHA-256 of the invitation token, lowercase hex.
    pub token_hash: String,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
    /// Who invited them.
    pub invited_by: UserId,
}

/// The roles a role may hand out when inviting staff: an administrator anyone on staff, a
/// practice manager other managers. Nobody invites patients (they register) and nobody
/// grants more than they hold (roles matrix: staff accounts).
#[must_use]
pub fn may_grant(inviter: &[crate::people::Role], role: crate::people::Role) -> bool {
    use crate::people::Role as R;
    // Each role reads what the others do not (a technician every test result, a clinician
    // their patients' notes), so a manager who could grant them could read through the
    // account they made: below an administrator, one grants only a role one holds.
    match role {
        R::Patient => false,
        _ if inviter.contains(&R::Admin) => true,
        R::PracticeManager => inviter.contains(&R::PracticeManager),
        R::Admin | R::Psychologist | R::Doctor | R::Technician => false,
    }
}

/// The practitioner role a kind of practitioner record signs in as.
#[must_use]
pub const fn role_of_kind(kind: crate::people::PractitionerKind) -> crate::people::Role {
    use crate::people::{PractitionerKind as K, Role as R};
    match kind {
        K::RegisteredPsychologist | K::ClinicalPsychologist => R::Psychologist,
        K::Doctor => R::Doctor,
        K::Technician => R::Technician,
    }
}

/// Checks that the roles of a staff account fit the practitioner record it is bound to:
/// the account acts as that practitioner, so its one practitioner role must be the one of
/// the record's kind (a psychologist's record never signs as a doctor), and a clinical
/// role needs a record (notes are signed by a practitioner). Managing roles may be added
/// to a record (the practice owner who also sees patients).
///
/// # Errors
/// A [`FieldError`] on `roles` or `practitioner_id` saying which role does not fit.
pub fn check_staff_roles(
    roles: &[crate::people::Role],
    record: Option<crate::people::PractitionerKind>,
) -> Result<(), FieldError> {
    use crate::people::Role as R;
    let practising: Vec<R> = roles
        .iter()
        .copied()
        .filter(|r| matches!(r, R::Psychologist | R::Doctor | R::Technician))
        .collect();
    match record {
        None if practising.iter().any(|r| matches!(r, R::Psychologist | R::Doctor)) => Err(FieldError::new(
            "practitioner_id",
            "is needed for a clinical role: the account signs as that practitioner",
        )),
        None => Ok(()),
        Some(kind) => {
            let fits = role_of_kind(kind);
            if practising.is_empty() {
                return Err(FieldError::new(
                    "roles",
                    "must include the role of the practitioner record's kind",
                ));
            }
            if practising.iter().any(|r| *r != fits) {
                return Err(FieldError::new(
                    "roles",
                    "name a practitioner role that does not fit the practitioner record's kind",
                ));
            }
            Ok(())
        }
    }
}

/// A time-based one-time-password second factor (RFC 6238).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TwoFactor {
    /// The shared secret (stored sealed by the storage adapter).
    pub secret: Vec<u8>,
    /// Confirmed by a first correct code; until then sign-in does not ask for it.
    pub confirmed: bool,
    /// The last time step a code was accepted for: no code of that step or earlier works
    /// again (replay).
    pub last_step: Option<u64>,
    /// SHA-256 of each unused recovery code; a code is removed when used.
    pub recovery: Vec<String>,
}

impl std::fmt::Debug for TwoFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwoFactor")
            .field("confirmed", &self.confirmed)
            .field("last_step", &self.last_step)
            .field("recovery_left", &self.recovery.len())
            .finish_non_exhaustive()
    }
}

impl Account {
    /// A new, enabled account.
    #[must_use]
    pub fn new(user: User, password_hash: String, now: DateTime<Utc>) -> Self {
        Self {
            user,
            password_hash,
            failed_logins: 0,
            locked_until: None,
            disabled: false,
            revision: 0,
            created_at: now,
            two_factor: None,
            invitation: None,
            email_verified: false,
            verification: None,
            reset: None,
            sessions_valid_from: None,
        }
    }

    /// Whether a session signed in (or renewed) at `issued_at` is still one of this
    /// account's: not disabled, and begun after every revocation.
    #[must_use]
    pub fn session_valid(&self, issued_at: DateTime<Utc>) -> bool {
        !self.disabled && self.sessions_valid_from.is_none_or(|from| issued_at >= from)
    }

    /// True when sign-in must present a second factor.
    #[must_use]
    pub fn has_two_factor(&self) -> bool {
        self.two_factor.as_ref().is_some_and(|t| t.confirmed)
    }

    /// True while locked.
    #[must_use]
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }

    /// A wrong password: counts it, and locks the account on the [`MAX_FAILURES`]th.
    pub fn failed(&mut self, now: DateTime<Utc>) {
        if self.locked_until.is_some_and(|t| now >= t) {
            // A lock that has run out starts a fresh count.
            self.locked_until = None;
            self.failed_logins = 0;
        }
        self.failed_logins += 1;
        if self.failed_logins >= MAX_FAILURES {
            self.locked_until = Some(now + LOCKOUT);
        }
    }

    /// A right password: the count starts again.
    pub fn succeeded(&mut self) {
        self.failed_logins = 0;
        self.locked_until = None;
    }
}

/// A refresh token as stored: its hash, never the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshToken {
    /// SHA-256 of the token, lowercase hex.
    pub hash: String,
    /// The practice.
    pub practice_id: PracticeId,
    /// The user.
    pub user_id: UserId,
    /// The family: every token descended from one sign-in.
    pub family: Uuid,
    /// Issued.
    pub issued_at: DateTime<Utc>,
    /// Expires.
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for the next one.
    pub used_at: Option<DateTime<Utc>>,
    /// The sign-in it descends from passed a second factor.
    #[serde(default)]
    pub two_factor: bool,
}

/// What presenting a refresh token found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshUse {
    /// Valid: it is now used; issue the next token of its family.
    Valid(RefreshToken),
    /// Already used: the family is revoked.
    Reused {
        /// The revoked family.
        family: Uuid,
        /// Whose.
        user_id: UserId,
    },
    /// Its family was revoked (logout or reuse).
    Revoked,
    /// Expired.
    Expired,
    /// No such token.
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::{Email, Role};

    fn account() -> Account {
        Account::new(
            User {
                id: Uuid::nil().into(),
                practice_id: Uuid::nil().into(),
                email: Email::parse("sam@example.com").unwrap(),
                roles: vec![Role::Patient],
                practitioner_id: None,
                patient_id: None,
                guardian_of: Vec::new(),
            },
            "$argon2id$…".into(),
            "2026-11-24T00:00:00Z".parse().unwrap(),
        )
    }

    #[test]
    fn the_fifth_wrong_password_locks_for_fifteen_minutes() {
        let now: DateTime<Utc> = "2026-11-24T01:00:00Z".parse().unwrap();
        let mut a = account();
        for _ in 0..4 {
            a.failed(now);
        }
        assert!(!a.is_locked(now), "four failures: not yet");
        a.failed(now);
        assert!(a.is_locked(now));
        assert!(a.is_locked(now + LOCKOUT - Duration::seconds(1)));
        assert!(!a.is_locked(now + LOCKOUT), "unlocked exactly fifteen minutes on");
        // After the lock runs out, one more failure does not relock at once.
        a.failed(now + LOCKOUT);
        assert!(!a.is_locked(now + LOCKOUT));
        assert_eq!(a.failed_logins, 1);
        a.succeeded();
        assert_eq!((a.failed_logins, a.locked_until), (0, None));
    }

    #[test]
    fn a_one_time_link_opens_until_the_instant_it_lapses_and_only_with_its_token() {
        let at: DateTime<Utc> = "2026-11-24T01:00:00Z".parse().unwrap();
        let link = OneTimeLink {
            token_hash: "ab".repeat(32),
            expires_at: at + RESET_TTL,
        };
        assert!(link.opens(&"ab".repeat(32), at));
        assert!(link.opens(&"ab".repeat(32), at + RESET_TTL - Duration::seconds(1)));
        assert!(!link.opens(&"ab".repeat(32), at + RESET_TTL), "lapsed at its expiry");
        assert!(!link.opens(&"cd".repeat(32), at), "another token");
        assert!(!link.opens("", at));
    }

    #[test]
    fn sessions_begun_before_a_revocation_are_over() {
        let at: DateTime<Utc> = "2026-11-24T01:00:00Z".parse().unwrap();
        let mut a = account();
        assert!(a.session_valid(at - Duration::days(400)), "nothing revoked yet");
        a.sessions_valid_from = Some(at);
        assert!(!a.session_valid(at - Duration::seconds(1)));
        assert!(
            a.session_valid(at),
            "a sign-in at the instant of the revocation is after it"
        );
        a.disabled = true;
        assert!(
            !a.session_valid(at + Duration::days(1)),
            "a disabled account has no sessions"
        );
    }

    #[test]
    fn common_repeated_and_sequential_passwords_are_refused_and_passphrases_pass() {
        for weak in [
            "123456789012",
            "passwordpassword",
            "Password1234",
            "iloveyou2024!!",
            "qwertyuiopasdfghjkl",
            "abcdefghijklmn",
            "987654321098",
            "abcabcabcabc",
            "!!Sunshine!!2024",
        ] {
            let err = check_password(weak).expect_err(weak);
            assert_eq!(err.field(), "password", "{weak}");
            assert!(!err.problem().contains(weak), "never echoed: {weak}");
        }
        for fine in [
            "correct horse battery staple",
            "a long enough passphrase",
            "Tr0ub4dor&3xyz!",
            "the desk's passphrase",
            "password manager chose this 8Kq",
        ] {
            assert_eq!(check_password(fine), Ok(()), "{fine}");
        }
        // The list is loaded from its file, source and all.
        assert!(common_passwords().len() > 29_000);
        assert!(common_passwords().contains("password") && common_passwords().contains("qwertyuiop"));
    }

    #[test]
    fn staff_roles_fit_the_practitioner_record_they_sign_as() {
        use crate::people::{PractitionerKind as K, Role as R};
        let ok = |roles: &[R], kind| check_staff_roles(roles, kind).is_ok();
        assert!(ok(&[R::Psychologist], Some(K::RegisteredPsychologist)));
        assert!(ok(&[R::Psychologist], Some(K::ClinicalPsychologist)));
        assert!(ok(&[R::Doctor], Some(K::Doctor)));
        assert!(ok(&[R::Technician], Some(K::Technician)));
        assert!(ok(&[R::Technician], None), "a front desk without a record of its own");
        assert!(ok(&[R::PracticeManager, R::Admin], None));
        assert!(
            ok(&[R::Psychologist, R::PracticeManager], Some(K::ClinicalPsychologist)),
            "the owner who sees patients"
        );
        // The finding: doctor + technician + manager on a psychologist's record.
        let err = check_staff_roles(
            &[R::Doctor, R::Technician, R::PracticeManager],
            Some(K::RegisteredPsychologist),
        )
        .unwrap_err();
        assert_eq!(err.field(), "roles");
        assert!(!ok(&[R::Psychologist, R::Doctor], Some(K::RegisteredPsychologist)));
        assert!(!ok(&[R::Psychologist], Some(K::Doctor)));
        assert!(!ok(&[R::Technician], Some(K::RegisteredPsychologist)));
        assert!(
            !ok(&[R::PracticeManager], Some(K::Doctor)),
            "a record is bound only to its practitioner"
        );
        assert_eq!(
            check_staff_roles(&[R::Doctor], None).unwrap_err().field(),
            "practitioner_id"
        );
        assert_eq!(
            check_staff_roles(&[R::Psychologist], None).unwrap_err().field(),
            "practitioner_id"
        );
    }

    #[test]
    fn nobody_grants_more_than_they_hold() {
        use crate::people::Role as R;
        assert!(may_grant(&[R::PracticeManager], R::PracticeManager));
        // A manager holds no technician's or clinician's powers, so grants none of them.
        for role in [R::Technician, R::Psychologist, R::Doctor] {
            assert!(!may_grant(&[R::PracticeManager], role), "{role:?}");
            assert!(may_grant(&[R::Admin], role), "{role:?}");
        }
        assert!(!may_grant(&[R::PracticeManager], R::Admin));
        assert!(may_grant(&[R::Admin], R::Admin));
        assert!(!may_grant(&[R::Admin], R::Patient), "patients register themselves");
        assert!(!may_grant(&[R::Psychologist], R::Technician));
    }

    #[test]
    fn password_policy() {
        assert!(check_password("correct horse").is_ok());
        assert!(check_password("elevenchars").is_err(), "11 characters");
        assert!(check_password("twelve chars").is_ok(), "12 characters");
        assert!(check_password("ééééééééééé1").is_ok(), "characters, not bytes");
        assert!(check_password("aaaaaaaaaaaaaaaa").is_err());
        assert!(check_password(&"ab".repeat(129)).is_err(), "258 bytes");
        let e = check_password("secret").unwrap_err();
        assert!(!e.to_string().contains("secret"));
    }
}
