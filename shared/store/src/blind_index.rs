//! Keyed blind indexes: the global lookups that find an account by email or
//! username are keyed by an HMAC-SHA256 of the normalized value under the
//! stack's `BlindIndexSecret`, never by the value itself, so the table holds
//! no address in the clear (the user item keeps it sealed,
//! `domain::sealed`) and a copy of the table alone cannot be searched for one.
//! The key is read once per instance and never rotated: every lookup is
//! keyed by it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::managed_secret::Managed;
use crate::state::AppState;
use domain::error::Error;
use domain::fields::{Email, Username};
use domain::tenancy::{Key, global};

/// The index key, as kept: `{"key": "<64 characters>"}`.
#[derive(serde::Deserialize)]
struct Stored {
    key: String,
}

struct IndexKey(Managed<String>);

/// The lookup of the account with `email`.
pub async fn email(state: &AppState, email: &Email) -> Result<Key, Error> {
    Ok(global::email(&index(state, "email", email.as_str()).await?))
}

/// The lookup of the account with `username`.
pub async fn username(state: &AppState, username: &Username) -> Result<Key, Error> {
    Ok(global::username(&index(state, "username", username.as_str()).await?))
}

/// The keyed digest of one kind of value, as hex.
pub async fn index(state: &AppState, kind: &str, value: &str) -> Result<String, Error> {
    let key = state.lazy(|| {
        let parse = |raw: &str| serde_json::from_str::<Stored>(raw).map(|stored| stored.key).map_err(|e| e.to_string());
        // Never refreshed: a new key would find none of the lookups made.
        IndexKey(Managed::new(
            state.aws.secrets.clone(),
            &state.config.blind_index_secret_id,
            parse,
            std::time::Duration::MAX,
        ))
    });
    let secret = key.0.current().await.map_err(|err| {
        tracing::error!(error = %err, "blind index key unavailable");
        Error::Unavailable { message: "account lookups are unavailable".into(), retry_after_seconds: Some(5) }
    })?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(Error::internal)?;
    mac.update(kind.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}
