//! Which provider a worker uses, from its environment: the OpenAI-compatible
//! one when `PROVIDER_BASE_URL` is set, else the offline template provider.
//!
//! - `PROVIDER_BASE_URL`: e.g. `https://api.openai.com/v1`, or
//!   `http://localhost:11434/v1` for Ollama;
//! - `PROVIDER_MODEL`: the model name (default `gpt-4o-mini`);
//! - `PROVIDER_SECRET_ID`: a Secrets Manager secret holding the API key
//!   (as plain text, or JSON `{"api_key": "…"}`), read on first use and
//!   again every few minutes, so a rotated key needs no redeploy; without
//!   it, an empty bearer, which local servers such as Ollama accept.

use std::sync::Arc;

use store::managed_secret::{self, Secret};

use crate::generation::openai::{DEFAULT_RETRY, OpenAiProvider};
use crate::generation::provider::Provider;
use crate::generation::template::TemplateProvider;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the provider client could not be built: {0}")]
    Client(String),
}

pub fn provider_from(
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
        Some(id) => Secret::stored(secrets.clone(), id, "api_key", managed_secret::REFRESH_AFTER),
        None => Secret::from(""),
    };
    let provider = OpenAiProvider::new(&base_url, &model, api_key, DEFAULT_RETRY)
        .map_err(|err| SetupError::Client(err.to_string()))?;
    tracing::info!(provider = "openai-compatible", %base_url, %model, "content provider configured");
    Ok(Arc::new(provider))
}
