//! Secrets kept in Secrets Manager and read at run time: fetched on first
//! use, kept for a while, fetched again after it, and kept when that fails.
//! A rotation (a new value put in the secret) reaches warm functions within
//! [`REFRESH_AFTER`], without a redeploy. Values never reach a log line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::RwLock;

/// How long a fetched value is trusted before Secrets Manager is asked again.
pub const REFRESH_AFTER: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secrets manager: {0}")]
    Fetch(String),
    #[error("the secret {id} is not of the expected shape: {reason}")]
    Malformed { id: String, reason: String },
}

type Parse<T> = Arc<dyn Fn(&str) -> Result<T, String> + Send + Sync>;

/// One secret, parsed into a `T` by `parse`, shared by every clone.
pub struct Managed<T> {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    parse: Parse<T>,
    refresh_after: Duration,
    cached: Arc<RwLock<Option<Loaded<T>>>>,
}

impl<T> Clone for Managed<T> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            secret_id: self.secret_id.clone(),
            parse: self.parse.clone(),
            refresh_after: self.refresh_after,
            cached: self.cached.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Managed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Managed").field("secret_id", &self.secret_id).finish_non_exhaustive()
    }
}

struct Loaded<T> {
    value: Arc<T>,
    at: Instant,
}

impl<T> Managed<T> {
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        secret_id: impl Into<String>,
        parse: impl Fn(&str) -> Result<T, String> + Send + Sync + 'static,
        refresh_after: Duration,
    ) -> Self {
        Self { client, secret_id: secret_id.into(), parse: Arc::new(parse), refresh_after, cached: Arc::default() }
    }

    /// The value, fetched again once it is older than the refresh interval.
    pub async fn current(&self) -> Result<Arc<T>, SecretError> {
        let fresh = |loaded: &&Loaded<T>| loaded.at.elapsed() < self.refresh_after;
        if let Some(loaded) = self.cached.read().await.as_ref().filter(fresh) {
            return Ok(loaded.value.clone());
        }
        let mut cached = self.cached.write().await;
        if let Some(loaded) = cached.as_ref().filter(fresh) {
            return Ok(loaded.value.clone());
        }
        match self.fetch().await {
            Ok(value) => {
                let value = Arc::new(value);
                *cached = Some(Loaded { value: value.clone(), at: Instant::now() });
                Ok(value)
            }
            Err(err) => match cached.as_mut() {
                Some(loaded) => {
                    tracing::warn!(error = %err, secret_id = %self.secret_id, "secret refresh failed; keeping the loaded value");
                    // Retry later, not on every call while the outage lasts.
                    loaded.at = Instant::now();
                    Ok(loaded.value.clone())
                }
                None => Err(err),
            },
        }
    }

    async fn fetch(&self) -> Result<T, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| SecretError::Fetch(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string()))?;
        let malformed = |reason: String| SecretError::Malformed { id: self.secret_id.clone(), reason };
        (self.parse)(output.secret_string().ok_or_else(|| malformed("no string value".into()))?).map_err(malformed)
    }
}

/// A secret of one value, such as an API key: given as is (tests, local
/// servers that take any), or kept in Secrets Manager.
#[derive(Clone, Debug)]
pub enum Secret {
    Given(Arc<String>),
    Stored(Managed<String>),
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::Given(Arc::new(value.to_owned()))
    }
}

impl Secret {
    /// The value of the secret `secret_id`: plain, or `{"<field>": "…"}`.
    pub fn stored(
        client: aws_sdk_secretsmanager::Client,
        secret_id: impl Into<String>,
        field: &'static str,
        refresh_after: Duration,
    ) -> Self {
        Self::Stored(Managed::new(client, secret_id, move |secret| plain_or_field(secret, field), refresh_after))
    }

    pub async fn current(&self) -> Result<Arc<String>, SecretError> {
        match self {
            Self::Given(value) => Ok(value.clone()),
            Self::Stored(managed) => managed.current().await,
        }
    }
}

/// A secret holding one value: plain text, or JSON `{"<field>": "…"}` as
/// SAM's `GenerateSecretString` writes it. Empty is refused.
fn plain_or_field(secret: &str, field: &str) -> Result<String, String> {
    let value = match serde_json::from_str::<serde_json::Value>(secret) {
        Ok(serde_json::Value::Object(object)) => {
            object.get(field).and_then(|v| v.as_str()).ok_or_else(|| format!("no \"{field}\" string"))?.to_owned()
        }
        _ => secret.trim().to_owned(),
    };
    if value.is_empty() { Err("the value is empty".into()) } else { Ok(value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_read_plain_or_from_its_field() {
        assert_eq!(plain_or_field("sk-123\n", "api_key").unwrap(), "sk-123");
        assert_eq!(plain_or_field(r#"{"api_key": "sk-456"}"#, "api_key").unwrap(), "sk-456");
        assert!(plain_or_field(r#"{"other": "x"}"#, "api_key").is_err());
        assert!(plain_or_field("  ", "api_key").is_err());
    }
}
