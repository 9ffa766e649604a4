//! The HMAC key set kept in Secrets Manager. Access tokens and pagination
//! cursors are signed with the newest key and verified with every key that is
//! not retired, so a key can be rotated without logging anyone out:
//! add a new key at the front of `keys`, wait one token lifetime, then mark the
//! old one `"retired": true`.
//!
//! The secret holds either one key, as SAM's `GenerateSecretString` makes it
//! (`{"kid": "k1", "secret": "…"}`), or a list, newest first
//! (`{"keys": [{"kid": "k2", "secret": "…"}, {"kid": "k1", "secret": "…", "retired": true}]}`).

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::managed_secret::{Managed, REFRESH_AFTER, SecretError};

const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    secret: Vec<u8>,
}

impl SigningKey {
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// The usable keys, newest first. Never empty.
#[derive(Debug, Clone)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("the key set secret is not valid JSON of the expected shape")]
    Malformed,
    #[error("the key set has no usable key")]
    Empty,
    #[error("key {0} is shorter than 32 bytes")]
    TooShort(String),
    #[error("secrets manager: {0}")]
    Fetch(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Many { keys: Vec<StoredKey> },
    One(StoredKey),
}

#[derive(Deserialize)]
struct StoredKey {
    kid: String,
    secret: String,
    #[serde(default)]
    retired: bool,
}

impl KeySet {
    pub fn parse(json: &str) -> Result<Self, KeySetError> {
        let stored: Stored = serde_json::from_str(json).map_err(|_| KeySetError::Malformed)?;
        let keys = match stored {
            Stored::Many { keys } => keys,
            Stored::One(key) => vec![key],
        };
        let keys = keys
            .into_iter()
            .filter(|k| !k.retired)
            .map(|k| {
                if k.secret.len() < MIN_SECRET_BYTES {
                    Err(KeySetError::TooShort(k.kid))
                } else {
                    Ok(SigningKey { kid: k.kid, secret: k.secret.into_bytes() })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KeySetError::Empty);
        }
        Ok(Self { keys })
    }

    pub fn newest(&self) -> &SigningKey {
        &self.keys[0]
    }

    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// A MAC for something other than a JWT; `purpose` keeps the uses apart
    /// so a cursor can never be replayed as anything else.
    pub fn mac(key: &SigningKey, purpose: &str, data: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.secret()).expect("hmac takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// Constant-time check of `tag` against every usable key.
    pub fn verify_mac(&self, purpose: &str, data: &[u8], tag: &[u8]) -> bool {
        self.keys.iter().any(|key| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key.secret()).expect("hmac takes any key length");
            mac.update(purpose.as_bytes());
            mac.update(&[0]);
            mac.update(data);
            mac.verify_slice(tag).is_ok()
        })
    }
}

/// The key set as a warm function sees it: fetched on first use, refreshed
/// every few minutes, and kept when a refresh fails.
#[derive(Clone)]
pub struct KeyStore(Managed<KeySet>);

impl KeyStore {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        let parse = |json: &str| KeySet::parse(json).map_err(|err| err.to_string());
        Self(Managed::new(client, secret_id, parse, REFRESH_AFTER))
    }

    pub async fn current(&self) -> Result<Arc<KeySet>, KeySetError> {
        self.0.current().await.map_err(|err| match err {
            SecretError::Fetch(reason) => KeySetError::Fetch(reason),
            SecretError::Malformed { .. } => KeySetError::Malformed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn a_single_generated_key_parses() {
        let set = KeySet::parse(&format!(r#"{{"kid":"k1","secret":"{A}"}}"#)).unwrap();
        assert_eq!(set.newest().kid, "k1");
    }

    #[test]
    fn retired_keys_are_not_usable_and_the_first_is_newest() {
        let set = KeySet::parse(&format!(
            r#"{{"keys":[{{"kid":"k3","secret":"{A}"}},{{"kid":"k2","secret":"{B}"}},{{"kid":"k1","secret":"{B}","retired":true}}]}}"#
        ))
        .unwrap();
        assert_eq!(set.newest().kid, "k3");
        assert!(set.find("k2").is_some());
        assert!(set.find("k1").is_none());
    }

    #[test]
    fn short_or_missing_keys_are_refused() {
        assert!(matches!(KeySet::parse(r#"{"kid":"k1","secret":"short"}"#), Err(KeySetError::TooShort(_))));
        assert!(matches!(KeySet::parse(r#"{"keys":[]}"#), Err(KeySetError::Empty)));
        assert!(matches!(KeySet::parse("nope"), Err(KeySetError::Malformed)));
    }

    #[test]
    fn a_mac_verifies_only_for_its_purpose() {
        let set = KeySet::parse(&format!(r#"{{"kid":"k1","secret":"{A}"}}"#)).unwrap();
        let tag = KeySet::mac(set.newest(), "cursor", b"data");
        assert!(set.verify_mac("cursor", b"data", &tag));
        assert!(!set.verify_mac("other", b"data", &tag));
        assert!(!set.verify_mac("cursor", b"datb", &tag));
    }
}
