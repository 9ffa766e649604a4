//! Stripe: a client of its REST API ([`client`]), the check of its webhook
//! signatures ([`webhook`]) and the objects its events carry ([`objects`]),
//! each as Stripe documents them. The keys live in one Secrets Manager
//! secret, read again every few minutes so a rotation needs no redeploy.

pub mod client;
pub mod objects;
pub mod webhook;

use std::sync::Arc;

use serde::Deserialize;
use store::managed_secret::{Managed, REFRESH_AFTER, SecretError};

pub use client::{DEFAULT_RETRY, Form, Stripe, StripeError};

/// The secret's value: the API key (`sk_…` or a restricted `rk_…`) and the
/// webhook endpoint's signing secrets, the previous one kept while Stripe
/// rolls to the new one. No `Debug`: it is all secrets.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeKeys {
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    webhook_secret: Option<String>,
    #[serde(default)]
    previous_webhook_secret: Option<String>,
}

impl StripeKeys {
    /// The API key, if one that Stripe could accept is set: a deploy whose
    /// secret still holds only its generated webhook secret has none.
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref().filter(|key| key.starts_with("sk_") || key.starts_with("rk_"))
    }

    /// Every webhook secret a signature may be made with.
    pub fn webhook_secrets(&self) -> Vec<&str> {
        [&self.webhook_secret, &self.previous_webhook_secret].into_iter().flatten().map(String::as_str).collect()
    }

    fn parse(secret: &str) -> Result<Self, String> {
        let keys: Self = serde_json::from_str(secret).map_err(|err| format!("not the expected JSON: {err}"))?;
        if keys.webhook_secrets().iter().any(|s| s.trim().is_empty()) {
            return Err("an empty webhook secret".into());
        }
        Ok(keys)
    }
}

/// Where the keys come from: given (tests), or the Secrets Manager secret.
#[derive(Clone)]
pub enum Keys {
    Given(Arc<StripeKeys>),
    Stored(Managed<StripeKeys>),
}

impl Keys {
    pub fn stored(client: aws_sdk_secretsmanager::Client, secret_id: &str) -> Self {
        Self::Stored(Managed::new(client, secret_id, StripeKeys::parse, REFRESH_AFTER))
    }

    pub async fn current(&self) -> Result<Arc<StripeKeys>, SecretError> {
        match self {
            Self::Given(keys) => Ok(keys.clone()),
            Self::Stored(managed) => managed.current().await,
        }
    }
}
