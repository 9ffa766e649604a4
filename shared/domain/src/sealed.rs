//! Personal fields sealed at rest: names, emails and message bodies are
//! written to the table encrypted with their tenant's data key (AES-256-GCM,
//! the tenant's id as associated data), and read back in the clear.
//!
//! A field opts in with `#[serde(with = "crate::sealed")]`. Only the store
//! seals and opens: [`storing`] wraps its serialization of an item and
//! [`opening`] its deserialization, each naming the tenant whose partition
//! the item is in. Anywhere else (an API response, a log line) the same
//! field serializes in the clear, and a string that looks sealed in a
//! request body is only text. Keys are installed by the store
//! (`store::field_keys`), which unwraps each tenant's with KMS once per
//! instance: [`install`], [`has`].
//!
//! A sealed value: `sealed:v1:<org id>:<base64url(nonce ‖ ciphertext ‖ tag)>`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::OrgId;

const PREFIX: &str = "sealed:v1:";

/// Each tenant's data key, once unwrapped.
static RING: LazyLock<RwLock<HashMap<OrgId, Arc<LessSafeKey>>>> = LazyLock::new(Default::default);

thread_local! {
    /// The tenant whose item is being written or read, by the store.
    static TENANT: RefCell<Option<(Mode, OrgId)>> = const { RefCell::new(None) };
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Storing,
    Opening,
}

/// Adds `org`'s data key (32 bytes) to the ring.
pub fn install(org: &OrgId, key: &[u8]) -> Result<(), SealError> {
    let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| SealError::BadKey)?;
    RING.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(org.clone(), Arc::new(LessSafeKey::new(key)));
    Ok(())
}

/// Whether `org`'s key is in the ring.
pub fn has(org: &OrgId) -> bool {
    RING.read().unwrap_or_else(std::sync::PoisonError::into_inner).contains_key(org)
}

fn key_of(org: &OrgId) -> Result<Arc<LessSafeKey>, SealError> {
    let ring = RING.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    ring.get(org).cloned().ok_or_else(|| SealError::KeyMissing(org.clone()))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The tenant's key was not installed before its item was written or read.
    #[error("the data key of organization {0} is not loaded")]
    KeyMissing(OrgId),
    #[error("a data key must be 32 bytes")]
    BadKey,
    #[error("a sealed field could not be opened")]
    Corrupt,
}

/// Runs `write` (an item's serialization) sealing the personal fields for
/// `org`; with no tenant (a global item), nothing is sealed.
pub fn storing<R>(org: Option<&OrgId>, write: impl FnOnce() -> R) -> R {
    within(org.map(|org| (Mode::Storing, org.clone())), write)
}

/// Runs `read` (an item's deserialization) opening the personal fields of
/// `org`'s item.
pub fn opening<R>(org: Option<&OrgId>, read: impl FnOnce() -> R) -> R {
    within(org.map(|org| (Mode::Opening, org.clone())), read)
}

fn within<R>(tenant: Option<(Mode, OrgId)>, run: impl FnOnce() -> R) -> R {
    /// Puts the context back however `run` ends, a panic included.
    struct Restore(Option<(Mode, OrgId)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let before = self.0.take();
            TENANT.with(|cell| cell.replace(before));
        }
    }
    let _restore = Restore(TENANT.with(|cell| cell.replace(tenant)));
    run()
}

/// Seals `plain` with `org`'s key.
pub fn seal(org: &OrgId, plain: &str) -> Result<String, SealError> {
    let key = key_of(org)?;
    let nonce_bytes: [u8; NONCE_LEN] = random_nonce()?;
    let mut sealed = plain.as_bytes().to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(org.to_string()), &mut sealed)
        .map_err(|_| SealError::Corrupt)?;
    let mut bytes = nonce_bytes.to_vec();
    bytes.extend(sealed);
    Ok(format!("{PREFIX}{org}:{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Opens a value [`seal`] made for `org`: a value sealed for another tenant
/// is refused, not opened.
pub fn open(org: &OrgId, value: &str) -> Result<String, SealError> {
    let rest = value.strip_prefix(PREFIX).ok_or(SealError::Corrupt)?;
    let (owner, encoded) = rest.split_once(':').ok_or(SealError::Corrupt)?;
    if owner != org.to_string() {
        return Err(SealError::Corrupt);
    }
    let mut bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| SealError::Corrupt)?;
    if bytes.len() < NONCE_LEN {
        return Err(SealError::Corrupt);
    }
    let nonce = Nonce::try_assume_unique_for_key(&bytes[..NONCE_LEN]).map_err(|_| SealError::Corrupt)?;
    let key = key_of(org)?;
    let plain = key
        .open_in_place(nonce, Aad::from(org.to_string()), &mut bytes[NONCE_LEN..])
        .map_err(|_| SealError::Corrupt)?;
    String::from_utf8(plain.to_vec()).map_err(|_| SealError::Corrupt)
}

/// The tenant whose sealed value `text` is, if it is one.
pub fn owner_of(text: &str) -> Option<OrgId> {
    text.strip_prefix(PREFIX)?.split_once(':')?.0.parse().ok()
}

fn random_nonce() -> Result<[u8; NONCE_LEN], SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::Corrupt)?;
    Ok(nonce)
}

/// `#[serde(with = "crate::sealed")]`: sealed while the store writes the item.
pub fn serialize<T, S>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
where
    T: Clone + Into<String>,
    S: Serializer,
{
    let plain: String = value.clone().into();
    match TENANT.with(|cell| cell.borrow().clone()) {
        Some((Mode::Storing, org)) => seal(&org, &plain).map_err(serde::ser::Error::custom)?.serialize(serializer),
        _ => plain.serialize(serializer),
    }
}

/// `#[serde(with = "crate::sealed")]`: opened while the store reads the item.
pub fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
where
    T: TryFrom<String>,
    T::Error: std::fmt::Display,
    D: Deserializer<'de>,
{
    opened(String::deserialize(deserializer)?)
}

fn opened<T, E>(raw: String) -> Result<T, E>
where
    T: TryFrom<String>,
    T::Error: std::fmt::Display,
    E: serde::de::Error,
{
    let plain = match TENANT.with(|cell| cell.borrow().clone()) {
        Some((Mode::Opening, org)) if raw.starts_with(PREFIX) => open(&org, &raw).map_err(E::custom)?,
        _ => raw,
    };
    T::try_from(plain).map_err(E::custom)
}

/// `#[serde(with = "crate::sealed::optional")]`: the same, for an optional
/// field (skip it when `None`).
pub mod optional {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    struct Sealed<'a, T>(&'a T);

    impl<T: Clone + Into<String>> Serialize for Sealed<'_, T> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            super::serialize(self.0, serializer)
        }
    }

    pub fn serialize<T, S>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Clone + Into<String>,
        S: Serializer,
    {
        match value {
            Some(value) => serializer.serialize_some(&Sealed(value)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        T: TryFrom<String>,
        T::Error: std::fmt::Display,
        D: Deserializer<'de>,
    {
        Option::<String>::deserialize(deserializer)?.map(super::opened).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Person {
        #[serde(with = "crate::sealed")]
        name: String,
        #[serde(default, with = "crate::sealed::optional", skip_serializing_if = "Option::is_none")]
        nickname: Option<String>,
        age: u8,
    }

    fn tenant() -> OrgId {
        let org = OrgId::new();
        install(&org, &[7u8; 32]).unwrap();
        org
    }

    #[test]
    fn a_field_is_sealed_only_while_stored_and_opened_only_while_read() {
        let org = tenant();
        let ada = Person { name: "Ada Lovelace".into(), nickname: Some("Countess".into()), age: 36 };
        let stored = storing(Some(&org), || serde_json::to_value(&ada)).unwrap();
        let sealed = stored["name"].as_str().unwrap();
        assert!(sealed.starts_with(&format!("sealed:v1:{org}:")) && !sealed.contains("Ada"), "{sealed}");
        assert!(!stored["nickname"].as_str().unwrap().contains("Countess"));
        assert_eq!(stored["age"], 36);
        // Twice sealed, twice different (a fresh nonce each time).
        let again = storing(Some(&org), || serde_json::to_value(&ada)).unwrap();
        assert_ne!(again["name"], stored["name"]);
        let read: Person = opening(Some(&org), || serde_json::from_value(stored.clone())).unwrap();
        assert_eq!(read, ada);
        // Outside the store the value is only text, either way.
        assert_eq!(serde_json::to_value(&ada).unwrap()["name"], "Ada Lovelace");
        let as_text: Person = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(as_text.name, sealed);
    }

    #[test]
    fn another_tenants_key_or_a_changed_byte_opens_nothing() {
        let (org, other) = (tenant(), tenant());
        let sealed = seal(&org, "secret body").unwrap();
        assert_eq!(open(&org, &sealed).unwrap(), "secret body");
        assert_eq!(open(&other, &sealed), Err(SealError::Corrupt));
        let moved = sealed.replacen(&org.to_string(), &other.to_string(), 1);
        assert_eq!(open(&other, &moved), Err(SealError::Corrupt), "another tenant's key or its id as AAD");
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(open(&org, &String::from_utf8(flipped).unwrap()), Err(SealError::Corrupt));
        assert_eq!(owner_of(&sealed), Some(org));
    }

    #[test]
    fn without_its_key_a_tenants_item_is_neither_written_nor_read() {
        let org = OrgId::new();
        let ada = Person { name: "Ada".into(), nickname: None, age: 1 };
        let err = storing(Some(&org), || serde_json::to_value(&ada)).unwrap_err();
        assert!(err.to_string().contains("is not loaded"), "{err}");
        assert!(matches!(install(&org, &[1u8; 16]), Err(SealError::BadKey)));
    }
}
