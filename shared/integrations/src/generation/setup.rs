//! Which provider a worker uses, from its environment: the OpenAI-compatible
//! one when `PROVIDER_BASE_URL` is set, else the offline template provider.
//!
//! - `PROVIDER_BASE_URL`: e.g. `https://api.openai.com/v1`, or
//!   `http://localhost:11434/v1` for Ollama;
//! - `PROVIDER_MODEL`: the model name (default `gpt-4o-mini`);
//! - `PROVIDER_SECRET_ID`: a Secrets Manager secret holding the API key
//!   (as plain text, or JSON `{"api_key": "…"}`); without it, no key is sent
//!   beyond an empty bearer, which local servers such as Ollama accept.

use std::sync::Arc;

use crate::generation::openai::{OpenAiProvider, Options};
use crate::generation::provider::Provider;
use crate::generation::template::TemplateProvider;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the provider secret could not be read: {0}")]
    Secret(String),
    #[error("the provider client could not be built: {0}")]
    Client(String),
}

/// The API key inside a secret's string: plain, or `{"api_key": "…"}`.
fn api_key_of(secret: &str) -> String {
    serde_json::from_str::<serde_json::Value>(secret)
        .ok()
        .and_then(|value| value["api_key"].as_str().map(str::to_owned))
        .unwrap_or_else(|| secret.trim().to_owned())
}

pub async fn provider_from(
    source: impl Fn(&str) -> Option<String>,
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<Arc<dyn Provider>, SetupError> {
    let get = |name: &str| source(name).filter(|v| !v.trim().is_empty());
    let Some(base_url) = get("PROVIDER_BASE_URL") else {
        tracing::info!(provider = "template", "no PROVIDER_BASE_URL: content comes from the offline template provider");
        return Ok(Arc::new(TemplateProvider));
    };
    let model = get("PROVIDER_MODEL").unwrap_or_else(|| "gpt-4o-mini".to_owned());
    let api_key = match get("PROVIDER_SECRET_ID") {
        Some(id) => {
            let secret = secrets.get_secret_value().secret_id(id).send().await.map_err(|err| {
                SetupError::Secret(aws_sdk_secretsmanager::error::DisplayErrorContext(err).to_string())
            })?;
            api_key_of(secret.secret_string().unwrap_or_default())
        }
        None => String::new(),
    };
    let provider = OpenAiProvider::new(&base_url, &model, api_key, Options::default())
        .map_err(|err| SetupError::Client(err.to_string()))?;
    tracing::info!(provider = "openai-compatible", %base_url, %model, "content provider configured");
    Ok(Arc::new(provider))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_read_plain_or_from_json() {
        assert_eq!(api_key_of("sk-123\n"), "sk-123");
        assert_eq!(api_key_of(r#"{"api_key": "sk-456"}"#), "sk-456");
    }
}
