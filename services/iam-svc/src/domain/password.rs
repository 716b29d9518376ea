//! Passwords: the sign-up policy and Argon2id hashing.
//!
//! Passwords only ever travel as [`SecretString`], whose `Debug` prints
//! `[REDACTED]`. They are hashed byte for byte as given: never trimmed,
//! truncated or re-encoded (Argon2 hashes the whole input, however long).
//!
//! Hashing is CPU- and memory-bound (tens of milliseconds and 19 MiB at the
//! default parameters, in a release build): call [`PasswordHasher::hash`],
//! [`PasswordHasher::verify`] and [`PasswordHasher::dummy_verify`] from
//! `tokio::task::spawn_blocking`, never directly on the async runtime.

use std::collections::HashSet;
use std::fmt;
use std::hint::black_box;
use std::sync::LazyLock;

use argon2::password_hash::Error as Argon2HashError;
use argon2::{
    ARGON2D_IDENT, ARGON2I_IDENT, ARGON2ID_IDENT, Algorithm, Argon2, Params, PasswordHash,
    PasswordHasher as _, PasswordVerifier as _, Version,
};
use secrecy::{ExposeSecret, SecretString};

use super::email::EmailAddress;
use super::random::{self, RandomnessUnavailable};

/// Fewest characters (Unicode scalar values, not bytes) a password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters a password may have: generous, so passphrases fit, yet
/// bounded so a request cannot make the server hash megabytes.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// The common-password list (see `common_passwords.NOTICE`): lower case,
/// one a line, only entries of at least [`MIN_PASSWORD_CHARS`] characters.
const COMMON_PASSWORDS_TXT: &str = include_str!("common_passwords.txt");

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| COMMON_PASSWORDS_TXT.lines().collect());

/// Whether `password` is on the common-password list, ignoring case and
/// surrounding whitespace.
pub fn is_common_password(password: &str) -> bool {
    COMMON_PASSWORDS.contains(password.trim().to_lowercase().as_str())
}

/// The rules a new password must meet (SignUp, and any future password change).
///
/// In order: at least [`MIN_PASSWORD_CHARS`] and at most
/// [`MAX_PASSWORD_CHARS`] characters; not the email address nor the part of
/// it before the `@`; not on the common-password list. The last two compare
/// case-insensitively and ignore surrounding whitespace. There are no
/// composition rules (NIST SP 800-63B): length and the block list do the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_chars: usize,
    max_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: MIN_PASSWORD_CHARS,
            max_chars: MAX_PASSWORD_CHARS,
        }
    }
}

impl PasswordPolicy {
    /// Checks `password`, chosen by the owner of `email`.
    pub fn check(
        &self,
        password: &SecretString,
        email: &EmailAddress,
    ) -> Result<(), PasswordError> {
        let password = password.expose_secret();
        // Counting stops just past the maximum: a huge input costs no more.
        let chars = password.chars().take(self.max_chars + 1).count();
        if chars < self.min_chars {
            return Err(PasswordError::TooShort {
                min: self.min_chars,
            });
        }
        if chars > self.max_chars {
            return Err(PasswordError::TooLong {
                max: self.max_chars,
            });
        }
        let folded = password.trim().to_lowercase();
        if folded == email.as_str() || folded == email.local_part() {
            return Err(PasswordError::SameAsEmail);
        }
        if is_common_password(password) {
            return Err(PasswordError::Common);
        }
        Ok(())
    }

    /// Whether `password` is within the length bounds. SignIn can refuse an
    /// oversized password before hashing it, as a plain wrong password.
    pub fn is_within_length(&self, password: &SecretString) -> bool {
        let chars = password
            .expose_secret()
            .chars()
            .take(self.max_chars + 1)
            .count();
        (self.min_chars..=self.max_chars).contains(&chars)
    }
}

/// Why a new password is refused. `Display` names the field and never
/// contains the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least {min} characters long")]
    TooShort { min: usize },
    #[error("password must be at most {max} characters long")]
    TooLong { max: usize },
    #[error("password must not be the email address or the part of it before the @")]
    SameAsEmail,
    #[error("password is one of the most common passwords; choose a less guessable one")]
    Common,
}

impl PasswordError {
    /// The request field every password error is about.
    pub const fn field(&self) -> &'static str {
        "password"
    }
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingParams {
    /// Memory cost `m`, in KiB.
    pub memory_kib: u32,
    /// Time cost `t`: passes over the memory.
    pub iterations: u32,
    /// Parallelism `p`: lanes.
    pub parallelism: u32,
}

/// OWASP Password Storage Cheat Sheet: Argon2id configurations of equal
/// strength, as (memory KiB, iterations), each with parallelism 1. Parameters
/// are strong enough when they reach at least one of them in both dimensions.
const OWASP_CONFIGURATIONS: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

/// Length of the hash output, in bytes.
const OUTPUT_LEN: usize = 32;
/// Length of a generated salt, in bytes (the PHC recommendation).
const SALT_LEN: usize = 16;

impl HashingParams {
    /// OWASP's recommended minimum, the default: m = 19 MiB, t = 2, p = 1.
    pub const OWASP_MINIMUM: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// TEST ONLY, NEVER IN PRODUCTION: the cheapest parameters Argon2 allows
    /// (8 KiB, one pass), so tests that sign in many times stay fast. Only
    /// [`PasswordHasher::insecure_for_tests`] accepts them.
    pub const INSECURE_TEST_ONLY: Self = Self {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };

    /// Whether these parameters reach one of OWASP's Argon2id configurations.
    pub fn meets_owasp_minimum(&self) -> bool {
        self.parallelism >= 1
            && OWASP_CONFIGURATIONS
                .iter()
                .any(|&(memory_kib, iterations)| {
                    self.memory_kib >= memory_kib && self.iterations >= iterations
                })
    }

    fn to_argon2(self) -> Result<Params, PasswordHashError> {
        Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(PasswordHashError::InvalidParams)
    }
}

impl Default for HashingParams {
    fn default() -> Self {
        Self::OWASP_MINIMUM
    }
}

/// A stored password hash: an Argon2 PHC string such as
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
///
/// `Debug` shows the algorithm and parameters but hides the salt and hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PhcString(String);

impl PhcString {
    /// Validates a hash read back from storage: a PHC string of an Argon2
    /// variant with valid parameters, a salt and a hash. The error never
    /// contains the string.
    pub fn parse(phc: impl Into<String>) -> Result<Self, PasswordHashError> {
        let phc = phc.into();
        let parsed = PasswordHash::new(&phc).map_err(|_| PasswordHashError::InvalidPhcString {
            reason: "not a PHC string",
        })?;
        if ![ARGON2ID_IDENT, ARGON2I_IDENT, ARGON2D_IDENT].contains(&parsed.algorithm) {
            return Err(PasswordHashError::InvalidPhcString {
                reason: "not an Argon2 hash",
            });
        }
        if parsed.salt.is_none() || parsed.hash.is_none() {
            return Err(PasswordHashError::InvalidPhcString {
                reason: "salt or hash missing",
            });
        }
        Params::try_from(&parsed).map_err(|_| PasswordHashError::InvalidPhcString {
            reason: "invalid Argon2 parameters",
        })?;
        Ok(Self(phc))
    }

    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The PHC string, owned, for storage.
    pub fn into_string(self) -> String {
        self.0
    }

    fn parsed(&self) -> Option<PasswordHash> {
        PasswordHash::new(&self.0).ok()
    }
}

impl fmt::Debug for PhcString {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A validated PHC string ends in `$<salt>$<hash>`: show what precedes them.
        let head = self.0.rsplitn(3, '$').nth(2).unwrap_or("<unparsed>");
        formatter
            .debug_tuple("PhcString")
            .field(&format!("{head}$<salt>$<hash>"))
            .finish()
    }
}

/// Why hashing failed or a stored hash is unusable. Never contains a
/// password, salt or hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordHashError {
    #[error(
        "argon2 parameters m={memory_kib} KiB, t={iterations}, p={parallelism} are below \
         OWASP's minimum (e.g. m=19456 KiB, t=2, p=1)"
    )]
    BelowOwaspMinimum {
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    },
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(argon2::Error),
    #[error("stored password hash is unusable: {reason}")]
    InvalidPhcString { reason: &'static str },
    #[error("argon2 hashing failed: {0}")]
    Hashing(Argon2HashError),
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
}

/// Hashes and verifies passwords with Argon2id (version 0x13).
///
/// Cheap to clone; share one per process. See the module docs for running
/// it off the async runtime.
#[derive(Clone)]
pub struct PasswordHasher {
    params: HashingParams,
    argon2: Argon2<'static>,
    /// Hash of a random password under `params`, made at construction.
    dummy_hash: PhcString,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with `params`, which must meet OWASP's minimum.
    ///
    /// Computes one hash (the dummy, see [`Self::dummy_verify`]), so it costs
    /// as much as a sign-up: build it once at start-up.
    pub fn new(params: HashingParams) -> Result<Self, PasswordHashError> {
        if !params.meets_owasp_minimum() {
            return Err(PasswordHashError::BelowOwaspMinimum {
                memory_kib: params.memory_kib,
                iterations: params.iterations,
                parallelism: params.parallelism,
            });
        }
        Self::with_params(params)
    }

    /// TEST ONLY, NEVER IN PRODUCTION: a hasher with
    /// [`HashingParams::INSECURE_TEST_ONLY`], so tests may hash and verify
    /// many times in a debug build. Its hashes are real Argon2id PHC strings
    /// that a production hasher verifies (and reports by `needs_rehash`).
    pub fn insecure_for_tests() -> Result<Self, PasswordHashError> {
        Self::with_params(HashingParams::INSECURE_TEST_ONLY)
    }

    fn with_params(params: HashingParams) -> Result<Self, PasswordHashError> {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.to_argon2()?);
        let mut hasher = Self {
            params,
            argon2,
            dummy_hash: PhcString(String::new()),
        };
        // The dummy is made here rather than embedded as a literal so that it
        // always has the current parameters: a literal made under weaker ones
        // would let response times tell unknown emails from known ones.
        let dummy_password: [u8; 32] = random::bytes()?;
        hasher.dummy_hash = hasher.hash_bytes(&dummy_password)?;
        Ok(hasher)
    }

    /// The parameters new hashes get.
    pub fn params(&self) -> HashingParams {
        self.params
    }

    /// Hashes `password` under a fresh 16-byte salt from the OS CSPRNG.
    pub fn hash(&self, password: &SecretString) -> Result<PhcString, PasswordHashError> {
        self.hash_bytes(password.expose_secret().as_bytes())
    }

    fn hash_bytes(&self, password: &[u8]) -> Result<PhcString, PasswordHashError> {
        let salt: [u8; SALT_LEN] = random::bytes()?;
        let hash = self
            .argon2
            .hash_password_with_salt(password, &salt)
            .map_err(PasswordHashError::Hashing)?;
        Ok(PhcString(hash.to_string()))
    }

    /// Whether `password` matches `hash`, under the parameters recorded in
    /// `hash`. Argon2's verifier compares the outputs in constant time. A
    /// hash that cannot be evaluated (unsupported variant, corrupt) does not
    /// match.
    pub fn verify(&self, password: &SecretString, hash: &PhcString) -> bool {
        let Some(parsed) = hash.parsed() else {
            return false;
        };
        self.argon2
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    }

    /// Runs a full verification of `password` against the dummy hash (a
    /// random password hashed under the current parameters at construction)
    /// and returns `false`. SignIn calls it when no user has the email, so an
    /// unknown email costs what a wrong password costs.
    pub fn dummy_verify(&self, password: &SecretString) -> bool {
        // black_box: the result is known, the work must still happen.
        black_box(self.verify(password, black_box(&self.dummy_hash)));
        false
    }

    /// The dummy hash [`Self::dummy_verify`] verifies against.
    pub fn dummy_hash(&self) -> &PhcString {
        &self.dummy_hash
    }

    /// Whether `hash` should be replaced (after a successful sign-in, when the
    /// password is at hand): it is not Argon2id version 0x13, or its memory
    /// or time cost is below the current one, or its salt or output is
    /// shorter than what [`Self::hash`] makes. A lower parallelism alone is not
    /// weaker and does not count.
    pub fn needs_rehash(&self, hash: &PhcString) -> bool {
        let Some(parsed) = hash.parsed() else {
            return true;
        };
        if parsed.algorithm != ARGON2ID_IDENT || parsed.version != Some(Version::V0x13.into()) {
            return true;
        }
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        let salt_len = parsed.salt.map_or(0, |salt| salt.len());
        let output_len = parsed.hash.map_or(0, |output| output.len());
        params.m_cost() < self.params.memory_kib
            || params.t_cost() < self.params.iterations
            || salt_len < SALT_LEN
            || output_len < OUTPUT_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(password: &str) -> SecretString {
        SecretString::from(password)
    }

    fn email() -> EmailAddress {
        EmailAddress::parse("Jane.Doe@Example.com").unwrap()
    }

    fn check(password: &str) -> Result<(), PasswordError> {
        PasswordPolicy::default().check(&secret(password), &email())
    }

    fn test_hasher() -> PasswordHasher {
        PasswordHasher::insecure_for_tests().unwrap()
    }

    // ---- policy ----

    #[test]
    fn minimum_length_boundary_is_exactly_8() {
        assert_eq!(check("xk7#qpzm"), Ok(()));
        assert_eq!(check("xk7#qpz"), Err(PasswordError::TooShort { min: 8 }));
        assert_eq!(check(""), Err(PasswordError::TooShort { min: 8 }));
    }

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        // 7 characters, 21 bytes: too short despite the byte count.
        let seven_cjk = "密码安全性很";
        let seven = format!("{seven_cjk}好");
        assert_eq!(seven.chars().count(), 7);
        assert!(seven.len() > 8);
        assert_eq!(check(&seven), Err(PasswordError::TooShort { min: 8 }));
        // 8 characters of multi-byte text: long enough.
        let eight = format!("{seven}🔑");
        assert_eq!(eight.chars().count(), 8);
        assert_eq!(check(&eight), Ok(()));
    }

    #[test]
    fn maximum_length_boundary_is_1024_characters() {
        let at_limit = "é".repeat(1024);
        assert_eq!(at_limit.len(), 2048);
        assert_eq!(check(&at_limit), Ok(()));
        let over = "é".repeat(1025);
        assert_eq!(check(&over), Err(PasswordError::TooLong { max: 1024 }));
        let huge = "x".repeat(10_000_000);
        assert_eq!(check(&huge), Err(PasswordError::TooLong { max: 1024 }));
    }

    #[test]
    fn long_passphrases_are_welcome() {
        assert_eq!(
            check("correct horse battery staple on a wet tuesday morning"),
            Ok(())
        );
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert_eq!(check("password"), Err(PasswordError::Common));
        assert_eq!(check("PassWord123"), Err(PasswordError::Common));
        assert_eq!(check("ILOVEYOU"), Err(PasswordError::Common));
        assert_eq!(check("  qwertyuiop "), Err(PasswordError::Common));
        assert_eq!(check("P@ssw0rd"), Err(PasswordError::Common));
    }

    #[test]
    fn the_email_and_its_local_part_are_refused() {
        assert_eq!(
            check("jane.doe@example.com"),
            Err(PasswordError::SameAsEmail)
        );
        assert_eq!(
            check("JANE.DOE@EXAMPLE.COM"),
            Err(PasswordError::SameAsEmail)
        );
        assert_eq!(check("Jane.Doe"), Err(PasswordError::SameAsEmail));
        assert_eq!(check("jane.doe!"), Ok(()));
    }

    #[test]
    fn errors_name_the_field_and_never_echo_the_password() {
        let password = "Jane.Doe";
        let error = check(password).unwrap_err();
        assert_eq!(error.field(), "password");
        assert!(error.to_string().starts_with("password "), "{error}");
        assert!(!error.to_string().contains(password));
    }

    #[test]
    fn is_within_length_matches_the_policy_bounds() {
        let policy = PasswordPolicy::default();
        assert!(!policy.is_within_length(&secret("1234567")));
        assert!(policy.is_within_length(&secret("12345678")));
        assert!(policy.is_within_length(&secret(&"a".repeat(1024))));
        assert!(!policy.is_within_length(&secret(&"a".repeat(1025))));
    }

    // ---- common-password list ----

    #[test]
    fn the_list_has_thousands_of_entries() {
        assert!(
            COMMON_PASSWORDS.len() >= 8_000,
            "{}",
            COMMON_PASSWORDS.len()
        );
        assert_eq!(COMMON_PASSWORDS.len(), COMMON_PASSWORDS_TXT.lines().count());
    }

    #[test]
    fn the_list_holds_only_entries_the_length_rule_lets_through() {
        // Shorter entries were dropped from the file because the length rule
        // refuses them first; lowering the minimum would need them back.
        assert_eq!(MIN_PASSWORD_CHARS, 8);
        for entry in COMMON_PASSWORDS.iter() {
            assert!(entry.chars().count() >= MIN_PASSWORD_CHARS, "{entry:?}");
            assert_eq!(*entry, entry.to_lowercase(), "{entry:?}");
            assert_eq!(*entry, entry.trim(), "{entry:?}");
            assert!(entry.is_ascii(), "{entry:?}");
        }
    }

    #[test]
    fn well_known_entries_are_listed() {
        for entry in ["password", "12345678", "iloveyou", "sunshine", "trustno1"] {
            assert!(is_common_password(entry), "{entry}");
        }
        assert!(!is_common_password("vX9!tq#2Lm"));
    }

    // ---- hashing ----

    #[test]
    fn owasp_minimum_is_the_default_and_is_accepted() {
        assert_eq!(HashingParams::default(), HashingParams::OWASP_MINIMUM);
        assert!(HashingParams::OWASP_MINIMUM.meets_owasp_minimum());
        for (memory_kib, iterations) in OWASP_CONFIGURATIONS {
            let params = HashingParams {
                memory_kib,
                iterations,
                parallelism: 1,
            };
            assert!(params.meets_owasp_minimum(), "{params:?}");
        }
    }

    #[test]
    fn weaker_parameters_are_refused() {
        for params in [
            HashingParams::INSECURE_TEST_ONLY,
            HashingParams {
                memory_kib: 19_455,
                iterations: 2,
                parallelism: 1,
            },
            HashingParams {
                memory_kib: 19_456,
                iterations: 1,
                parallelism: 1,
            },
            HashingParams {
                memory_kib: 7_168,
                iterations: 4,
                parallelism: 1,
            },
            HashingParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 0,
            },
        ] {
            assert!(!params.meets_owasp_minimum(), "{params:?}");
            assert!(matches!(
                PasswordHasher::new(params),
                Err(PasswordHashError::BelowOwaspMinimum { .. })
            ));
        }
    }

    #[test]
    fn hash_is_an_argon2id_phc_string_that_verifies() {
        let hasher = test_hasher();
        let password = secret("correct horse battery staple");
        let hash = hasher.hash(&password).unwrap();
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$m=8,t=1,p=1$"),
            "{}",
            hash.as_str()
        );
        assert!(hasher.verify(&password, &hash));
        assert!(!hasher.verify(&secret("correct horse battery stapler"), &hash));
        assert!(!hasher.verify(&secret("Correct horse battery staple"), &hash));
    }

    #[test]
    fn every_hash_has_its_own_salt() {
        let hasher = test_hasher();
        let password = secret("correct horse battery staple");
        let first = hasher.hash(&password).unwrap();
        let second = hasher.hash(&password).unwrap();
        assert_ne!(first, second);
        assert!(hasher.verify(&password, &first));
        assert!(hasher.verify(&password, &second));
    }

    #[test]
    fn long_unicode_passwords_are_hashed_whole() {
        let hasher = test_hasher();
        let long = "ünïcødé passphrase ".repeat(50);
        let hash = hasher.hash(&secret(&long)).unwrap();
        assert!(hasher.verify(&secret(&long), &hash));
        // Differs only in the last character: no truncation anywhere.
        let mut altered = long.clone();
        altered.pop();
        altered.push('!');
        assert!(!hasher.verify(&secret(&altered), &hash));
    }

    #[test]
    fn hashes_round_trip_through_storage() {
        let hasher = test_hasher();
        let password = secret("correct horse battery staple");
        let stored = hasher.hash(&password).unwrap().into_string();
        let loaded = PhcString::parse(stored).unwrap();
        assert!(hasher.verify(&password, &loaded));
    }

    #[test]
    fn hashes_verify_under_other_parameters_than_the_hasher_s() {
        let test = test_hasher();
        let password = secret("correct horse battery staple");
        let hash = test.hash(&password).unwrap();
        let production = PasswordHasher::new(HashingParams {
            // The cheapest OWASP configuration keeps this test quick.
            memory_kib: 7_168,
            iterations: 5,
            parallelism: 1,
        })
        .unwrap();
        assert!(production.verify(&password, &hash));
        assert!(production.needs_rehash(&hash));
    }

    #[test]
    fn dummy_verify_runs_argon2_on_a_real_hash_and_fails() {
        let hasher = test_hasher();
        let dummy = hasher.dummy_hash();
        // It is a real Argon2id hash under the hasher's own parameters, so
        // dummy_verify costs what a real verification costs.
        let parsed = PasswordHash::new(dummy.as_str()).unwrap();
        assert_eq!(parsed.algorithm, ARGON2ID_IDENT);
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(params.m_cost(), hasher.params().memory_kib);
        assert_eq!(params.t_cost(), hasher.params().iterations);
        assert_eq!(params.p_cost(), hasher.params().parallelism);
        assert!(PhcString::parse(dummy.as_str()).is_ok());
        assert!(!hasher.needs_rehash(dummy));

        assert!(!hasher.dummy_verify(&secret("correct horse battery staple")));
        assert!(!hasher.dummy_verify(&secret("")));
    }

    #[test]
    fn every_hasher_has_its_own_dummy() {
        assert_ne!(test_hasher().dummy_hash(), test_hasher().dummy_hash());
    }

    #[test]
    fn needs_rehash_flags_weaker_or_foreign_hashes_only() {
        let current = test_hasher();
        let hash = current
            .hash(&secret("correct horse battery staple"))
            .unwrap();
        assert!(!current.needs_rehash(&hash));

        let stronger = PasswordHasher::new(HashingParams {
            memory_kib: 7_168,
            iterations: 5,
            parallelism: 1,
        })
        .unwrap();
        assert!(stronger.needs_rehash(&hash));
        let stronger_hash = stronger.hash(&secret("x")).unwrap();
        // A hash stronger than the current parameters is kept.
        assert!(!current.needs_rehash(&stronger_hash));

        // Argon2i and the old version 0x10 are replaced.
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            HashingParams::INSECURE_TEST_ONLY.to_argon2().unwrap(),
        )
        .hash_password_with_salt(b"correct horse battery staple", &[7u8; 16])
        .unwrap()
        .to_string();
        let argon2i = PhcString::parse(argon2i).unwrap();
        assert!(current.needs_rehash(&argon2i));
        assert!(current.verify(&secret("correct horse battery staple"), &argon2i));

        let old_version = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x10,
            HashingParams::INSECURE_TEST_ONLY.to_argon2().unwrap(),
        )
        .hash_password_with_salt(b"pw", &[7u8; 16])
        .unwrap()
        .to_string();
        assert!(current.needs_rehash(&PhcString::parse(old_version).unwrap()));

        // A salt shorter than 16 bytes is replaced too.
        let short_salt = current
            .argon2
            .hash_password_with_salt(b"pw", &[7u8; 8])
            .unwrap()
            .to_string();
        assert!(current.needs_rehash(&PhcString::parse(short_salt).unwrap()));
    }

    #[test]
    fn phc_parse_refuses_what_it_cannot_verify() {
        for bad in [
            "",
            "hunter2",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=1,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert!(
                matches!(
                    PhcString::parse(bad),
                    Err(PasswordHashError::InvalidPhcString { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_hides_passwords_salts_and_hashes() {
        let hasher = test_hasher();
        let password = secret("correct horse battery staple");
        let hash = hasher.hash(&password).unwrap();
        let salt_and_hash: Vec<&str> = hash.as_str().rsplitn(3, '$').take(2).collect();

        let printed = format!("{password:?} {hash:?} {hasher:?}");
        assert!(!printed.contains("correct horse"), "{printed}");
        for secret_part in salt_and_hash {
            assert!(!printed.contains(secret_part), "{printed}");
        }
        assert!(
            printed.contains("PhcString(\"$argon2id$v=19$m=8,t=1,p=1$<salt>$<hash>\")"),
            "{printed}"
        );
    }

    #[test]
    fn the_hasher_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<PasswordHasher>();
    }
}
