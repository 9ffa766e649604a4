//! Computed answers kept for a while, with DynamoDB as the cache (a
//! serverless stack has no cache server to run): each at
//! `ORG#<org>#CACHE#<digest>`, named by a digest of what was asked.
//!
//! An answer is given again until it expires or until the tenant's numbers
//! are announced to have moved after it was computed (the claim
//! `dashboard-events` writes at `ORG#<org>#ANNOUNCED`), so the staff who
//! hear `dashboard.updated` and ask again make one computation between them.
//! DynamoDB's TTL removes an expired answer only lazily, so the reader checks
//! the expiry itself.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::{Db, DbError};
use crate::state::AppState;
use domain::tenancy::Tenant;

/// An answer as it was given: its body (the envelope's `data`, as JSON),
/// its entity tag, when it was computed and until when it may be given.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    pub body: String,
    pub etag: u64,
    pub computed_at: i64,
    pub expires_at: i64,
}

impl Kept {
    /// Keeps `body` for `ttl_seconds` from now; its entity tag is a digest of it,
    /// so an unchanged answer keeps its tag however often it is computed.
    pub fn new(state: &AppState, body: String, ttl_seconds: u64) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        let etag = u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 8 bytes"));
        let now = state.now().unix_timestamp();
        Self { body, etag, computed_at: now, expires_at: now + ttl_seconds as i64 }
    }

    /// Seconds it may still be given.
    pub fn remaining(&self, state: &AppState) -> u64 {
        (self.expires_at - state.now().unix_timestamp()).max(0) as u64
    }
}

/// When the tenant's numbers were last announced to have moved.
#[derive(Deserialize)]
struct Announced {
    announced_at: i64,
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

/// The answer kept under `name`, if it has not expired and the numbers
/// have not been announced to move since: one read of it and of the
/// announcement, eventually consistent (an answer a second older is as good).
pub async fn find(state: &AppState, tenant: &Tenant, name: &str) -> Result<Option<Kept>, DbError> {
    let now = state.now().unix_timestamp();
    let found = state.db.batch_get_recent(&[tenant.cached_answer(name), tenant.dashboard_announcement()]).await?;
    let mut found = found.into_iter();
    let kept = found.next().flatten().map(Db::decode::<Kept>).transpose()?;
    let announced = found.next().flatten().map(Db::decode::<Announced>).transpose()?.map(|a| a.announced_at);
    // Computed in the second of an announcement, it may predate the change: computed again.
    Ok(kept.filter(|kept| kept.expires_at > now && announced.is_none_or(|at| kept.computed_at > at)))
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
