//! The HMAC keys cart-svc signs with and orders-svc verifies with.
//!
//! A key is at least 32 random bytes (HMAC-SHA256's output size; RFC 2104
//! gains nothing from shorter keys and loses a lot), written as **standard
//! base64** (RFC 4648 alphabet, padding optional, surrounding whitespace
//! ignored): `openssl rand -base64 32`. Base64 rather than raw text so that
//! every key is full-entropy binary and fits an environment variable; rather
//! than hex because that is what the usual generators print. Only one
//! encoding is accepted, so a value can never mean two different keys.
//!
//! Rotation without a failed checkout:
//! 1. add the new key to `CHECKOUT_VERIFICATION_KEYS` on orders-svc;
//! 2. make it `CHECKOUT_SIGNING_KEY` on cart-svc (and orders-svc), moving the
//!    old one to `CHECKOUT_VERIFICATION_KEYS`;
//! 3. once every snapshot signed with the old key has expired
//!    ([`crate::MAX_SNAPSHOT_LIFETIME`] at most), remove it.
//!
//! Unset, `CHECKOUT_SIGNING_KEY` falls back to a documented development key
//! and a warning is logged: the local stack and `scripts/test` must run from
//! a clean clone with no setup (every setting has a working default), and
//! cart and orders must agree on the key without being told. A deployment
//! sets its own; [`SnapshotKeys::development_defaults`] names every
//! variable still holding the development key (compared as decoded bytes),
//! and `ECOMMERCE_ENV=production` refuses to start on any.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use ecommerce_platform::run_mode::DevelopmentDefault;
use ecommerce_platform::settings::{EnvSource, SettingsError};
use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret as _, SecretSlice, SecretString};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Variable holding the key cart-svc signs with (orders-svc verifies with it
/// too), standard base64 of at least [`MIN_KEY_BYTES`] bytes.
pub const CHECKOUT_SIGNING_KEY_VAR: &str = "CHECKOUT_SIGNING_KEY";
/// Variable holding further keys accepted when verifying, never used to
/// sign: comma-separated standard base64, for rotations. Empty by default.
pub const CHECKOUT_VERIFICATION_KEYS_VAR: &str = "CHECKOUT_VERIFICATION_KEYS";
/// The fewest bytes a key may decode to.
pub const MIN_KEY_BYTES: usize = 32;
/// The development key used when `CHECKOUT_SIGNING_KEY` is unset: base64 of
/// `ecommerce-dev-checkout-signing-key-not-for-production`. Public knowledge,
/// so anyone can forge snapshots where it is in use.
pub const DEVELOPMENT_SIGNING_KEY: &str =
    "ZWNvbW1lcmNlLWRldi1jaGVja291dC1zaWduaW5nLWtleS1ub3QtZm9yLXByb2R1Y3Rpb24=";

/// Standard alphabet; padding optional, since shells and secret stores
/// often drop a trailing `=`.
const KEY_ENCODING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a key was refused. Never contains the key or any part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidKey {
    // The decoder's own message names the offending character and offset,
    // i.e. part of the secret, so it is dropped.
    #[error("is not standard base64; generate a key with `openssl rand -base64 32`")]
    NotBase64,
    #[error(
        "decodes to {length} bytes; at least {MIN_KEY_BYTES} random bytes are required \
         (`openssl rand -base64 32`)"
    )]
    TooShort { length: usize },
}

/// A key setting that could not be read. Always names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("environment variable {variable}: {reason}")]
    Invalid {
        /// The variable, with the entry's position for a list, e.g.
        /// `CHECKOUT_VERIFICATION_KEYS (entry 2)`.
        variable: String,
        #[source]
        reason: InvalidKey,
    },
    #[error("environment variable {variable} cannot be read: {reason}")]
    Unreadable { variable: String, reason: String },
}

/// `name` as a secret, `default` when unset. The settings error is rebuilt
/// without its `value`, which here would be the key.
fn read_secret(source: &EnvSource, name: &str, default: &str) -> Result<SecretString, KeyError> {
    source.secret(name, default).map_err(|error| match error {
        SettingsError::NotUnicode { variable } => KeyError::Unreadable {
            variable,
            reason: "it is not valid unicode".to_owned(),
        },
        SettingsError::Invalid {
            variable, reason, ..
        } => KeyError::Unreadable { variable, reason },
    })
}

/// One HMAC-SHA256 key. Its `Debug` never shows the key.
pub struct SnapshotKey {
    // Keyed once: this state is all signing and verifying need, and holding
    // it instead of the raw bytes means there is no infallible-in-practice
    // `new_from_slice` error to handle on every call.
    mac: HmacSha256,
    /// Whether the bytes are the documented development key's, however
    /// they were written (padded or not).
    development: bool,
}

impl SnapshotKey {
    /// A key written as standard base64 (see the module docs).
    pub fn from_base64(encoded: &SecretString) -> Result<Self, InvalidKey> {
        let decoded: SecretSlice<u8> = KEY_ENCODING
            .decode(encoded.expose_secret().trim())
            .map_err(|_| InvalidKey::NotBase64)?
            .into();
        Self::from_bytes(decoded.expose_secret())
    }

    /// A key from raw bytes, at least [`MIN_KEY_BYTES`] of them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, InvalidKey> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(InvalidKey::TooShort {
                length: bytes.len(),
            });
        }
        // HMAC takes keys of any length, so this never fails; mapped rather
        // than unwrapped all the same.
        let mac = HmacSha256::new_from_slice(bytes).map_err(|_| InvalidKey::TooShort {
            length: bytes.len(),
        })?;
        let development = KEY_ENCODING
            .decode(DEVELOPMENT_SIGNING_KEY)
            .is_ok_and(|development| development == bytes);
        Ok(Self { mac, development })
    }

    /// A fresh MAC keyed with this key.
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }
}

impl fmt::Debug for SnapshotKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("SnapshotKey(<redacted>)")
    }
}

/// The signing key and every key accepted when verifying, current first.
#[derive(Debug)]
pub struct SnapshotKeys {
    current: SnapshotKey,
    additional: Vec<SnapshotKey>,
}

impl SnapshotKeys {
    /// Signs and verifies with `current`; also verifies with `additional`.
    pub fn new(current: SnapshotKey, additional: Vec<SnapshotKey>) -> Self {
        Self {
            current,
            additional,
        }
    }

    /// Reads `CHECKOUT_SIGNING_KEY` and `CHECKOUT_VERIFICATION_KEYS` from the
    /// process environment (see the module docs).
    pub fn from_env() -> Result<Self, KeyError> {
        Self::from_source(&EnvSource::process())
    }

    /// Reads the keys from `source`. A development key is reported by
    /// [`development_defaults`](Self::development_defaults), which the
    /// services hand to the run mode (a warning in development, a refused
    /// start in production).
    pub fn from_source(source: &EnvSource) -> Result<Self, KeyError> {
        let configured = read_secret(source, CHECKOUT_SIGNING_KEY_VAR, DEVELOPMENT_SIGNING_KEY)?;
        let current =
            SnapshotKey::from_base64(&configured).map_err(|reason| KeyError::Invalid {
                variable: CHECKOUT_SIGNING_KEY_VAR.to_owned(),
                reason,
            })?;
        let list = read_secret(source, CHECKOUT_VERIFICATION_KEYS_VAR, "")?;
        let additional = list
            .expose_secret()
            .split(',')
            .map(str::trim)
            .enumerate()
            .filter(|(_, entry)| !entry.is_empty())
            .map(|(index, entry)| {
                SnapshotKey::from_base64(&SecretString::from(entry)).map_err(|reason| {
                    KeyError::Invalid {
                        variable: format!("{CHECKOUT_VERIFICATION_KEYS_VAR} (entry {})", index + 1),
                        reason,
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            current,
            additional,
        })
    }

    /// The key cart-svc signs with.
    pub fn signing_key(&self) -> &SnapshotKey {
        &self.current
    }

    /// Every key a signature is checked against, the signing key first.
    pub fn verification_keys(&self) -> impl Iterator<Item = &SnapshotKey> {
        std::iter::once(&self.current).chain(&self.additional)
    }

    /// Every key that is [`DEVELOPMENT_SIGNING_KEY`] (compared as decoded
    /// bytes, so an unpadded copy counts), by the variable that holds it:
    /// anyone can forge snapshots a development key signs or verifies.
    pub fn development_defaults(&self) -> Vec<DevelopmentDefault> {
        let forgeable = "is the documented development key; anyone can forge checkout snapshots";
        let mut defaults = Vec::new();
        if self.current.development {
            defaults.push(DevelopmentDefault::new(CHECKOUT_SIGNING_KEY_VAR, forgeable));
        }
        for (index, key) in self.additional.iter().enumerate() {
            if key.development {
                defaults.push(DevelopmentDefault::new(
                    format!("{CHECKOUT_VERIFICATION_KEYS_VAR} (entry {})", index + 1),
                    forgeable,
                ));
            }
        }
        defaults
    }
}

impl From<SnapshotKey> for SnapshotKeys {
    fn from(current: SnapshotKey) -> Self {
        Self::new(current, Vec::new())
    }
}

/// `bytes` as standard base64 with padding: the form the variables take.
pub fn encode_key(bytes: &[u8]) -> SecretString {
    SecretString::from(general_purpose::STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: [u8; 32] = [7; 32];
    const KEY_B: [u8; 48] = [9; 48];

    /// Whether `keys` sign with the development key, as the run mode sees it.
    fn signs_with_development_key(keys: &SnapshotKeys) -> bool {
        keys.development_defaults()
            .iter()
            .any(|default| default.variable == CHECKOUT_SIGNING_KEY_VAR)
    }

    fn encoded(bytes: &[u8]) -> String {
        encode_key(bytes).expose_secret().to_owned()
    }

    #[test]
    fn the_development_key_is_what_its_docs_say() {
        let decoded = general_purpose::STANDARD
            .decode(DEVELOPMENT_SIGNING_KEY)
            .unwrap();
        assert_eq!(
            decoded,
            b"ecommerce-dev-checkout-signing-key-not-for-production"
        );
        assert!(decoded.len() >= MIN_KEY_BYTES);
    }

    #[test]
    fn keys_are_base64_of_at_least_32_bytes() {
        assert!(SnapshotKey::from_base64(&encode_key(&KEY_A)).is_ok());
        let unpadded = encoded(&[1; 32]).trim_end_matches('=').to_owned();
        assert!(SnapshotKey::from_base64(&SecretString::from(unpadded)).is_ok());
        let spaced = format!("  {}\n", encoded(&KEY_A));
        assert!(SnapshotKey::from_base64(&SecretString::from(spaced)).is_ok());

        assert_eq!(
            SnapshotKey::from_base64(&encode_key(&[1; 31])).unwrap_err(),
            InvalidKey::TooShort { length: 31 }
        );
        for bad in ["not base64!", "ab$d", "-_-_"] {
            assert_eq!(
                SnapshotKey::from_base64(&SecretString::from(bad)).unwrap_err(),
                InvalidKey::NotBase64,
                "{bad}"
            );
        }
        assert_eq!(
            SnapshotKey::from_bytes(&[]).unwrap_err(),
            InvalidKey::TooShort { length: 0 }
        );
    }

    #[test]
    fn debug_never_shows_a_key() {
        let keys = SnapshotKeys::new(
            SnapshotKey::from_bytes(&KEY_A).unwrap(),
            vec![SnapshotKey::from_bytes(&KEY_B).unwrap()],
        );
        let debug = format!("{keys:?}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert!(!debug.contains("7, 7"), "{debug}");
        assert!(!debug.contains(&encoded(&KEY_A)), "{debug}");
    }

    #[test]
    fn unset_means_the_development_key() {
        let keys = SnapshotKeys::from_source(&EnvSource::from_pairs([])).unwrap();
        assert!(signs_with_development_key(&keys));
        assert_eq!(keys.verification_keys().count(), 1);

        let explicit = SnapshotKeys::from_source(&EnvSource::from_pairs([(
            CHECKOUT_SIGNING_KEY_VAR,
            DEVELOPMENT_SIGNING_KEY,
        )]))
        .unwrap();
        assert!(signs_with_development_key(&explicit));
    }

    #[test]
    fn the_development_key_is_found_as_bytes_in_every_variable() {
        let unpadded = DEVELOPMENT_SIGNING_KEY.trim_end_matches('=');
        let own = encoded(&KEY_A);
        let keys = SnapshotKeys::from_source(&EnvSource::from_pairs([
            (CHECKOUT_SIGNING_KEY_VAR, unpadded),
            (
                CHECKOUT_VERIFICATION_KEYS_VAR,
                format!("{own}, {unpadded}").as_str(),
            ),
        ]))
        .unwrap();
        assert!(
            signs_with_development_key(&keys),
            "an unpadded copy is the same key"
        );
        let variables: Vec<String> = keys
            .development_defaults()
            .into_iter()
            .map(|default| default.variable)
            .collect();
        assert_eq!(
            variables,
            [
                CHECKOUT_SIGNING_KEY_VAR.to_owned(),
                format!("{CHECKOUT_VERIFICATION_KEYS_VAR} (entry 2)")
            ]
        );

        let own_keys = SnapshotKeys::from_source(&EnvSource::from_pairs([(
            CHECKOUT_SIGNING_KEY_VAR,
            own.as_str(),
        )]))
        .unwrap();
        assert!(!signs_with_development_key(&own_keys));
        assert_eq!(own_keys.development_defaults(), []);
    }

    #[test]
    fn the_signing_key_comes_first_then_the_verification_keys() {
        let current = encoded(&KEY_A);
        let others = format!("{}, ,{}", encoded(&KEY_B), encoded(&[3; 32]));
        let keys = SnapshotKeys::from_source(&EnvSource::from_pairs([
            (CHECKOUT_SIGNING_KEY_VAR, current.as_str()),
            (CHECKOUT_VERIFICATION_KEYS_VAR, others.as_str()),
        ]))
        .unwrap();
        assert!(!signs_with_development_key(&keys));
        assert_eq!(keys.verification_keys().count(), 3);
    }

    #[test]
    fn errors_name_the_variable_and_never_the_value() {
        let error = SnapshotKeys::from_source(&EnvSource::from_pairs([(
            CHECKOUT_SIGNING_KEY_VAR,
            "c2hvcnQ=",
        )]))
        .unwrap_err();
        assert_eq!(
            error,
            KeyError::Invalid {
                variable: CHECKOUT_SIGNING_KEY_VAR.to_owned(),
                reason: InvalidKey::TooShort { length: 5 },
            }
        );
        assert!(error.to_string().contains(CHECKOUT_SIGNING_KEY_VAR));
        assert!(!error.to_string().contains("c2hvcnQ"));

        let current = encoded(&KEY_A);
        let others = format!("{},s3cr3t!", encoded(&KEY_B));
        let error = SnapshotKeys::from_source(&EnvSource::from_pairs([
            (CHECKOUT_SIGNING_KEY_VAR, current.as_str()),
            (CHECKOUT_VERIFICATION_KEYS_VAR, others.as_str()),
        ]))
        .unwrap_err();
        assert_eq!(
            error,
            KeyError::Invalid {
                variable: "CHECKOUT_VERIFICATION_KEYS (entry 2)".to_owned(),
                reason: InvalidKey::NotBase64,
            }
        );
        assert!(!error.to_string().contains("s3cr3t"));
    }
}
