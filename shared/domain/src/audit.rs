//! Audit fields every stored entity carries.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::rfc3339;
use crate::ids::UserId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    pub created_at: String,
    pub created_by: UserId,
    pub updated_at: String,
    pub updated_by: UserId,
    /// Starts at 1; every update adds one. Sent as `ETag`, checked on `If-Match`.
    pub version: u64,
}

impl Audit {
    pub fn new(by: &UserId, at: OffsetDateTime) -> Self {
        let now = rfc3339(at);
        Self { created_at: now.clone(), created_by: by.clone(), updated_at: now, updated_by: by.clone(), version: 1 }
    }

    /// The fields as a patch (`Db::patch_update`) leaves them after a committed
    /// update, so a handler can answer without reading the item again.
    pub fn updated(self, by: &UserId, at: OffsetDateTime) -> Self {
        Self { updated_at: rfc3339(at), updated_by: by.clone(), version: self.version + 1, ..self }
    }
}
