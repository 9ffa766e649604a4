//! Audit fields every stored entity carries: who made it and when, who
//! changed it last, its version, and (for records) its soft delete.

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
    /// When a soft-deletable record was deleted: it is kept for the audit
    /// trail and is, to every read, not there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<UserId>,
}

impl Audit {
    pub fn new(by: &UserId, at: OffsetDateTime) -> Self {
        let now = rfc3339(at);
        Self {
            created_at: now.clone(),
            created_by: by.clone(),
            updated_at: now,
            updated_by: by.clone(),
            version: 1,
            deleted_at: None,
            deleted_by: None,
        }
    }

    /// The fields as a patch (`Db::patch_update`) leaves them after a committed
    /// update, so a handler can answer without reading the item again.
    pub fn updated(self, by: &UserId, at: OffsetDateTime) -> Self {
        Self { updated_at: rfc3339(at), updated_by: by.clone(), version: self.version + 1, ..self }
    }

    /// The fields as a soft delete leaves them (see [`Audit::updated`]).
    pub fn deleted(self, by: &UserId, at: OffsetDateTime) -> Self {
        Self { deleted_at: Some(rfc3339(at)), deleted_by: Some(by.clone()), ..self.updated(by, at) }
    }
}
