//! Computed answers kept for a while, with DynamoDB as the cache (a
//! serverless stack has no cache server to run): each at
//! `ORG#<org>#CACHE#<digest>`, named by a digest of what was asked and, where
//! the answer depends on it, by whom. DynamoDB's TTL removes an expired
//! answer only lazily, so a reader checks the expiry itself.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::DbError;
use crate::state::AppState;
use domain::tenancy::Tenant;

/// An answer as it was given: its body (the envelope's `data`, as JSON),
/// its entity tag, and until when it may be given again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    pub body: String,
    pub etag: u64,
    pub expires_at: i64,
}

impl Kept {
    /// Keeps `body` for `ttl_seconds` from now; its entity tag is a digest of it,
    /// so an unchanged answer keeps its tag however often it is computed.
    pub fn new(state: &AppState, body: String, ttl_seconds: u64) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        let etag = u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 8 bytes"));
        Self { body, etag, expires_at: state.now().unix_timestamp() + ttl_seconds as i64 }
    }

    /// Seconds it may still be given.
    pub fn remaining(&self, state: &AppState) -> u64 {
        (self.expires_at - state.now().unix_timestamp()).max(0) as u64
    }
}

/// The name of an answer: a digest of the parts that decide it.
pub fn name(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        // Lengths first, so no two lists of parts run together alike.
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

/// The answer kept under `name`, if it has not expired. Read eventually
/// consistently: an answer a second older is as good.
pub async fn find(state: &AppState, tenant: &Tenant, name: &str) -> Result<Option<Kept>, DbError> {
    let now = state.now().unix_timestamp();
    Ok(state.db.get_recent::<Kept>(&tenant.cached_answer(name)).await?.filter(|kept| kept.expires_at > now))
}

/// Keeps an answer under `name`, over whatever was kept before.
pub async fn keep(state: &AppState, tenant: &Tenant, name: &str, kept: &Kept) -> Result<(), DbError> {
    state.db.overwrite(&tenant.cached_answer(name), kept).await
}

#[cfg(test)]
mod tests {
    use super::name;

    #[test]
    fn names_differ_when_any_part_or_its_boundaries_differ() {
        assert_eq!(name(&["metrics", "a"]), name(&["metrics", "a"]));
        assert_ne!(name(&["metrics", "a"]), name(&["metrics", "b"]));
        assert_ne!(name(&["ab", "c"]), name(&["a", "bc"]));
    }
}
