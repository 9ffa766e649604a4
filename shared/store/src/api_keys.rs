//! Integration API keys: `tbx_<prefix>_<secret>`.
//!
//! The prefix names the key and stays the same across rotations; the secret
//! is 40 random alphanumerics (238 bits) of which only a SHA-256 hash is
//! stored, in the global lookup item `APIKEY#<prefix>`. The authorizer reads
//! that one item by prefix and compares hashes in constant time, so how long
//! a check takes says nothing about how much of a secret was right, and
//! guessing a prefix gains nothing without its secret. The key's description
//! (name, scopes, allow-list, status) lives in the tenant's partition.
//!
//! A key created with `require_signature` also has a signing secret. It is
//! never stored: it is an HMAC of the key's identity under the key-set key
//! named by `signing_kid`, so the function that checks a signature derives it
//! again (see [`signing_secret`]).

use std::collections::BTreeMap;

use rand::Rng;
use rand::distr::Alphanumeric;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use domain::api_key::{ApiKey, ApiKeyLookup, KeyStatus, MAX_PER_ADMIN, RetiringSecret, SecretRecord, scopes_for_maker};
use domain::clock::rfc3339;
use domain::ids::{ApiKeyId, OrgId, UserId};
use domain::principal::{Role, Scope};
use domain::tenancy::{Key, Tenant, global};
use domain::user::User;

use crate::db::{Db, DbError, Write, number, string, value};
use crate::keyset::{KeySet, SigningKey};
use crate::secret::sha256_hex;

const KEY_MARK: &str = "tbx_";
const PREFIX_LEN: usize = 12;
const SECRET_LEN: usize = 40;
const SIGNING_PURPOSE: &str = "api-key-signing";

/// A key as a client presents it in `X-API-Key`. No `Debug`: it holds the secret.
pub struct PresentedKey {
    prefix: String,
    secret: String,
}

impl PresentedKey {
    /// Parses the header value; anything not shaped like one of our keys is
    /// refused before any lookup.
    pub fn parse(header: &str) -> Option<Self> {
        let rest = header.trim().strip_prefix(KEY_MARK)?;
        let (prefix, secret) = rest.split_once('_')?;
        let prefix_ok =
            prefix.len() == PREFIX_LEN && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let secret_ok = secret.len() == SECRET_LEN && secret.bytes().all(|b| b.is_ascii_alphanumeric());
        (prefix_ok && secret_ok).then(|| Self { prefix: prefix.to_owned(), secret: secret.to_owned() })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn secret_hash(&self) -> String {
        sha256_hex(self.secret.as_bytes())
    }

    /// The secret record of `lookup` this key matches at `now_epoch`, if any. Both
    /// hashes are always compared, in constant time.
    pub fn matching<'a>(&self, lookup: &'a ApiKeyLookup, now_epoch: i64) -> Option<&'a SecretRecord> {
        let hash = self.secret_hash();
        let current = bool::from(hash.as_bytes().ct_eq(lookup.current.hash.as_bytes()));
        let previous = lookup.previous.as_ref().is_some_and(|old| {
            bool::from(hash.as_bytes().ct_eq(old.record.hash.as_bytes())) && now_epoch < old.valid_until
        });
        if current {
            Some(&lookup.current)
        } else if previous {
            lookup.previous.as_ref().map(|old| &old.record)
        } else {
            None
        }
    }
}

/// A freshly minted secret for a key: the full key string, shown once.
pub struct MintedKey {
    pub prefix: String,
    secret: String,
}

impl MintedKey {
    pub fn new() -> Self {
        Self::with_prefix(random_chars(PREFIX_LEN, true))
    }

    /// A new secret under a key's existing prefix (rotation).
    pub fn with_prefix(prefix: String) -> Self {
        Self { prefix, secret: random_chars(SECRET_LEN, false) }
    }

    pub fn token(&self) -> String {
        format!("{KEY_MARK}{}_{}", self.prefix, self.secret)
    }

    pub fn secret_hash(&self) -> String {
        sha256_hex(self.secret.as_bytes())
    }

    /// The record of a freshly minted secret; `signing_kid` is the key-set
    /// key its signing secret derives from, for keys that require signatures.
    pub fn record(&self, generation: u32, signing_kid: Option<String>) -> SecretRecord {
        SecretRecord { hash: self.secret_hash(), generation, signing_kid }
    }
}

impl Default for MintedKey {
    fn default() -> Self {
        Self::new()
    }
}

fn random_chars(len: usize, lowercase: bool) -> String {
    let text: String = rand::rng().sample_iter(Alphanumeric).take(len).map(char::from).collect();
    if lowercase { text.to_ascii_lowercase() } else { text }
}

/// The writes that revoke a key: its item marked revoked (kept for the
/// audit trail) and its lookup deleted, which is what the authorizer
/// notices: the prefix no longer leads anywhere, whichever secret (current
/// or in its rotation grace) is presented. The maker's `api_keys` entry is
/// for the caller to remove, in the same transaction.
pub fn revoke(
    db: &Db,
    tenant: &Tenant,
    id: &ApiKeyId,
    prefix: &str,
    by: &UserId,
    now: OffsetDateTime,
) -> Result<[Write; 2], DbError> {
    let key = db.update(
        &tenant.api_key(id),
        "SET #status = :revoked, deleted_at = if_not_exists(deleted_at, :now), \
         deleted_by = if_not_exists(deleted_by, :by), updated_at = :now, updated_by = :by, #version = #version + :one",
        Some("attribute_exists(pk)"),
        &[("#status", "status"), ("#version", "version")],
        vec![
            (":revoked", value(&KeyStatus::Revoked)?),
            (":now", string(rfc3339(now))),
            (":by", string(by.to_string())),
            (":one", number(1)),
        ],
    )?;
    Ok([Write::Update(key), Write::Delete(db.delete(&global::api_key(prefix))?)])
}

/// The write that narrows a key's scopes to `scopes`.
pub fn narrow(
    db: &Db,
    tenant: &Tenant,
    id: &ApiKeyId,
    scopes: &[Scope],
    by: &UserId,
    now: OffsetDateTime,
) -> Result<Write, DbError> {
    let key = db.update(
        &tenant.api_key(id),
        "SET scopes = :scopes, updated_at = :now, updated_by = :by, #version = #version + :one",
        Some("attribute_exists(pk)"),
        &[("#version", "version")],
        vec![
            (":scopes", value(&scopes)?),
            (":now", string(rfc3339(now))),
            (":by", string(by.to_string())),
            (":one", number(1)),
        ],
    )?;
    Ok(Write::Update(key))
}

/// The write that adds a new key to its maker's list (`User::api_keys`).
/// It holds only while the maker is an admin under [`MAX_PER_ADMIN`] keys,
/// and it moves their version, so a role change that read their keys
/// before this one was made fails instead of missing it.
pub fn remember(db: &Db, tenant: &Tenant, maker: &UserId, key: &ApiKey) -> Result<Write, DbError> {
    let update = db.update(
        &tenant.user(maker),
        "SET #keys.#key = :prefix, #version = #version + :one",
        Some("#role = :admin AND attribute_not_exists(deleted_at) AND size(#keys) < :cap"),
        &[("#keys", "api_keys"), ("#key", &key.id.to_string()), ("#version", "version"), ("#role", "role")],
        vec![
            (":prefix", string(&key.prefix)),
            (":one", number(1)),
            (":admin", value(&Role::Admin)?),
            (":cap", number(MAX_PER_ADMIN)),
        ],
    )?;
    Ok(Write::Update(update))
}

/// The write that takes a revoked key off its maker's list. It moves their
/// version too: a role change that read the key must not write it back.
pub fn forget(db: &Db, tenant: &Tenant, maker: &UserId, id: &ApiKeyId) -> Result<Write, DbError> {
    let update = db.update(
        &tenant.user(maker),
        "REMOVE #keys.#key SET #version = #version + :one",
        Some("attribute_exists(pk)"),
        &[("#keys", "api_keys"), ("#key", &id.to_string()), ("#version", "version")],
        vec![(":one", number(1))],
    )?;
    Ok(Write::Update(update))
}

/// The write that puts a rotated key's new secret in its lookup item, the
/// one it replaces kept as `previous` for the grace period; it holds only
/// while no other rotation replaced the secret since `lookup` was read.
pub fn rotate_lookup(
    db: &Db,
    prefix: &str,
    lookup: &ApiKeyLookup,
    current: &SecretRecord,
    previous: &RetiringSecret,
) -> Result<Write, DbError> {
    let update = db.update(
        &global::api_key(prefix),
        "SET #current = :current, #previous = :previous",
        Some("#current.#generation = :seen"),
        &[("#current", "current"), ("#previous", "previous"), ("#generation", "generation")],
        vec![
            (":current", value(current)?),
            (":previous", value(previous)?),
            (":seen", number(lookup.current.generation)),
        ],
    )?;
    Ok(Write::Update(update))
}

/// What becomes of the keys `maker` made when their role becomes `role`
/// (`None`: they are removed): each keeps only the scopes `role` allows
/// ([`scopes_for_maker`]), or is revoked. Returns the keys the maker still
/// holds and the writes, for the transaction that changes the role, so no
/// request is ever served with more authority than the maker has.
pub async fn follow_maker(
    db: &Db,
    tenant: &Tenant,
    maker: &User,
    role: Option<Role>,
    by: &UserId,
    now: OffsetDateTime,
) -> Result<(BTreeMap<ApiKeyId, String>, Vec<Write>), DbError> {
    if role == Some(Role::Admin) {
        return Ok((maker.api_keys.clone(), Vec::new()));
    }
    // A teacher keeps narrowed keys: their scopes are needed to narrow them.
    let stored: Vec<Option<ApiKey>> = match role {
        Some(role) if role.is_staff() => {
            let keys: Vec<Key> = maker.api_keys.keys().map(|id| tenant.api_key(id)).collect();
            db.batch_get(&keys)
                .await?
                .into_iter()
                .map(|item| item.map(Db::decode).transpose())
                .collect::<Result<_, _>>()?
        }
        _ => vec![None; maker.api_keys.len()],
    };
    let mut kept = BTreeMap::new();
    let mut writes = Vec::new();
    for ((id, prefix), key) in maker.api_keys.iter().zip(stored) {
        let scopes = key.as_ref().and_then(|key| role.and_then(|role| scopes_for_maker(&key.scopes, role)));
        match (key, scopes) {
            // Revoked meanwhile (its revocation moved the maker's version,
            // so this role change fails and reads again): nothing to keep.
            (Some(key), _) if key.status == KeyStatus::Revoked => {}
            (Some(key), Some(scopes)) => {
                if scopes != key.scopes {
                    writes.push(narrow(db, tenant, id, &scopes, by, now)?);
                }
                kept.insert(id.clone(), prefix.clone());
            }
            _ => writes.extend(revoke(db, tenant, id, prefix, by, now)?),
        }
    }
    Ok((kept, writes))
}

/// The signing secret of one generation of a key: lowercase hex of an HMAC
/// under a key-set key. Clients use the hex string's bytes as their HMAC key.
pub fn signing_secret(key: &SigningKey, org: &OrgId, id: &ApiKeyId, generation: u32) -> String {
    let data = format!("{org}\0{id}\0{generation}");
    hex::encode(KeySet::mac(key, SIGNING_PURPOSE, data.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_key_parses_back_to_its_prefix_and_hash() {
        let minted = MintedKey::new();
        let presented = PresentedKey::parse(&minted.token()).unwrap();
        assert_eq!(presented.prefix(), minted.prefix);
        assert_eq!(presented.secret_hash(), minted.secret_hash());
    }

    #[test]
    fn malformed_keys_are_refused_before_any_lookup() {
        let token = MintedKey::new().token();
        for bad in [
            "",
            "tbx_",
            &token.replace("tbx_", "tbk_"),
            &token[..token.len() - 1],
            &format!("{token}x"),
            &token.to_ascii_uppercase(),
            "tbx_abcdefghijkl_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert!(PresentedKey::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_previous_secret_works_only_until_its_grace_ends() {
        let old = MintedKey::new();
        let new = MintedKey::with_prefix(old.prefix.clone());
        let lookup = ApiKeyLookup {
            org_id: OrgId::new(),
            key_id: ApiKeyId::new(),
            current: SecretRecord { hash: new.secret_hash(), generation: 2, signing_kid: None },
            previous: Some(RetiringSecret {
                record: SecretRecord { hash: old.secret_hash(), generation: 1, signing_kid: None },
                valid_until: 1_000,
            }),
        };
        let old = PresentedKey::parse(&old.token()).unwrap();
        let new = PresentedKey::parse(&new.token()).unwrap();
        let generation = |presented: &PresentedKey, now| presented.matching(&lookup, now).map(|r| r.generation);
        assert_eq!(generation(&new, 5_000), Some(2));
        assert_eq!(generation(&old, 999), Some(1));
        assert_eq!(generation(&old, 1_000), None);
        let stranger = PresentedKey::parse(&MintedKey::new().token()).unwrap();
        assert_eq!(generation(&stranger, 0), None);
    }
}
