//! API keys as the API shows them: never a secret, except the new key (and
//! signing secret) in the one response that creates or rotates it.

use domain::api_key::{ApiKey, KeyStatus};
use domain::fields::KeyName;
use domain::ids::{ApiKeyId, UserId};
use domain::principal::Scope;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    id: ApiKeyId,
    name: KeyName,
    /// The key's public part: `tbx_<prefix>_…`.
    prefix: String,
    scopes: Vec<Scope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    ip_allowlist: Vec<String>,
    require_signature: bool,
    status: KeyStatus,
    created_at: String,
    created_by: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
    version: u64,
}

impl From<ApiKey> for ApiKeyView {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            scopes: key.scopes,
            expires_at: key.expires_at,
            ip_allowlist: key.ip_allowlist.iter().map(ToString::to_string).collect(),
            require_signature: key.require_signature,
            status: key.status,
            created_at: key.audit.created_at,
            created_by: key.audit.created_by,
            rotated_at: key.rotated_at,
            revoked_at: key.audit.deleted_at,
            version: key.audit.version,
        }
    }
}

/// A key with its secrets, in the response that made them. No `Debug`.
#[derive(Serialize, ToSchema)]
pub struct ApiKeySecret {
    #[serde(flatten)]
    pub view: ApiKeyView,
    /// The whole key, `tbx_<prefix>_<secret>`, for `X-API-Key`. Shown once.
    #[schema(pattern = "^tbx_[a-z0-9]{12}_[A-Za-z0-9]{40}$")]
    pub key: String,
    /// For keys that require signed requests: the HMAC-SHA256 key (these
    /// 64 hex characters, as bytes) to sign with. Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub signing_secret: Option<String>,
}
