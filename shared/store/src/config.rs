//! Configuration, read from the environment once per cold start.
//!
//! A missing or malformed variable fails the cold start with its name, so a
//! misconfigured deploy is caught at once, not on the first request that
//! needs the value.

use std::fmt::{self, Display};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use domain::billing::{Interval, PaidTier};

use crate::managed_secret::{self, Secret, SecretError};

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub queue_url: String,
    /// The queue of export and erasure jobs (the compliance worker's).
    pub compliance_queue_url: String,
    pub bucket_name: String,
    /// The secret whose key makes the email and username lookups' blind
    /// indexes (`store::blind_index`).
    pub blind_index_secret_id: String,
    /// The customer-managed KMS key that wraps each tenant's data key for
    /// its personal fields (`store::field_keys`).
    pub data_key_id: String,
    /// Secrets Manager id (name or ARN) of the JWT key set.
    pub jwt_secret_id: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl_seconds: i64,
    pub refresh_token_ttl_seconds: i64,
    pub invite_ttl_seconds: i64,
    /// Wrong passwords from one address that lock it out of one account.
    pub login_max_failures: i64,
    /// Wrong passwords from anywhere that lock one account.
    pub login_max_account_failures: i64,
    pub login_lockout_seconds: i64,
    /// The browser origin (the dashboard) allowed to call the API, if any.
    pub cors_origin: Option<String>,
    /// Where games reach the API (`https://api.example.com`), written into
    /// each generated Roblox project; without it, the address the request
    /// that made the project came to.
    pub public_api_url: Option<String>,
    /// Roblox Open Cloud, where environments are published (a local server
    /// in tests).
    pub roblox_api_base: String,
    /// The API Gateway usage plan of each tier, by name.
    pub usage_plans: TierPlans,
    /// The CloudFormation stack: every usage key it makes carries it as the
    /// `toolbox:stack` tag, which the auth function's policy requires to
    /// create one and to delete one.
    pub stack_name: String,
    /// Invites one admin may send per minute (a business quota).
    pub invites_per_minute: u32,
    /// Generation requests one user may make per minute (a business quota).
    pub generations_per_minute: u32,
    /// How long audit entries are kept (DynamoDB's TTL removes them after).
    pub audit_retention_days: u32,
    /// Pusher Channels, when all four `PUSHER_*` variables are set.
    pub pusher: Option<PusherConfig>,
    /// Stripe, when `STRIPE_SECRET_ID` is set.
    pub stripe: Option<StripeConfig>,
}

/// Usage plan names by tier, as `template.yaml` names them. Names, not ids:
/// the plans depend on the API's stage, which depends on the functions, so a
/// function cannot be given a plan's id without a dependency cycle.
#[derive(Debug, Clone)]
pub struct TierPlans {
    pub free: String,
    pub pro: String,
    pub enterprise: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from any name → value source; `toolbox-local`
    /// overlays its locally provisioned resource names on the environment.
    pub fn from_source(source: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required =
            |name: &'static str| source(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name));
        let with_default = |name: &'static str, default: &str| {
            source(name).filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
        };
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            queue_url: required("QUEUE_URL")?,
            compliance_queue_url: required("COMPLIANCE_QUEUE_URL")?,
            bucket_name: required("BUCKET_NAME")?,
            data_key_id: required("DATA_KEY_ID")?,
            blind_index_secret_id: required("BLIND_INDEX_SECRET_ID")?,
            jwt_secret_id: required("JWT_SECRET_ID")?,
            jwt_issuer: with_default("JWT_ISSUER", "toolbox-ai"),
            jwt_audience: with_default("JWT_AUDIENCE", "toolbox-api"),
            access_token_ttl_seconds: parse_positive(
                "ACCESS_TOKEN_TTL_SECONDS",
                &with_default("ACCESS_TOKEN_TTL_SECONDS", "900"),
            )?,
            refresh_token_ttl_seconds: parse_positive(
                "REFRESH_TOKEN_TTL_SECONDS",
                &with_default("REFRESH_TOKEN_TTL_SECONDS", "2592000"),
            )?,
            invite_ttl_seconds: parse_positive("INVITE_TTL_SECONDS", &with_default("INVITE_TTL_SECONDS", "604800"))?,
            login_max_failures: parse_positive("LOGIN_MAX_FAILURES", &with_default("LOGIN_MAX_FAILURES", "5"))?,
            login_max_account_failures: parse_positive(
                "LOGIN_MAX_ACCOUNT_FAILURES",
                &with_default("LOGIN_MAX_ACCOUNT_FAILURES", "100"),
            )?,
            cors_origin: source("CORS_ORIGIN").filter(|v| !v.trim().is_empty()),
            roblox_api_base: with_default("ROBLOX_API_BASE", "https://apis.roblox.com"),
            public_api_url: source("PUBLIC_API_URL")
                .map(|v| v.trim().trim_end_matches('/').to_owned())
                .filter(|v| !v.is_empty()),
            login_lockout_seconds: parse_positive(
                "LOGIN_LOCKOUT_SECONDS",
                &with_default("LOGIN_LOCKOUT_SECONDS", "900"),
            )?,
            stack_name: required("STACK_NAME")?,
            usage_plans: TierPlans {
                free: required("USAGE_PLAN_FREE")?,
                pro: required("USAGE_PLAN_PRO")?,
                enterprise: required("USAGE_PLAN_ENTERPRISE")?,
            },
            invites_per_minute: parse_positive("INVITES_PER_MINUTE", &with_default("INVITES_PER_MINUTE", "20"))?,
            generations_per_minute: parse_positive(
                "GENERATIONS_PER_MINUTE",
                &with_default("GENERATIONS_PER_MINUTE", "10"),
            )?,
            audit_retention_days: parse_positive("AUDIT_RETENTION_DAYS", &with_default("AUDIT_RETENTION_DAYS", "400"))?,
            pusher: PusherConfig::from_source(&source),
            stripe: StripeConfig::from_source(&source),
        })
    }
}

fn parse_positive<T>(name: &'static str, raw: &str) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Default,
    T::Err: Display,
{
    let value: T = raw.trim().parse().map_err(|e: T::Err| ConfigError::Invalid { name, reason: e.to_string() })?;
    if value <= T::default() {
        return Err(ConfigError::Invalid { name, reason: "must be greater than zero".into() });
    }
    Ok(value)
}

/// Stripe: `STRIPE_SECRET_ID` names the Secrets Manager secret holding
/// `{"api_key": "sk_…", "webhook_secret": "whsec_…"}` (and, while a webhook
/// secret is rotated, `"previous_webhook_secret"`); the prices of each paid
/// tier and interval (`STRIPE_PRICE_PRO_MONTH`, `…_PRO_YEAR`,
/// `…_ENTERPRISE_MONTH`, `…_ENTERPRISE_YEAR`), which clients never choose;
/// where Stripe sends the browser back (`BILLING_SUCCESS_URL`,
/// `BILLING_CANCEL_URL`, `BILLING_RETURN_URL`); and `STRIPE_API_BASE`, a
/// local server in tests.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_id: String,
    pub api_base: String,
    pub prices: Vec<Price>,
    pub success_url: String,
    pub cancel_url: String,
    pub return_url: String,
}

/// A Stripe price and what it buys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub id: String,
    pub tier: PaidTier,
    pub interval: Interval,
}

impl StripeConfig {
    pub fn from_source(source: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let get = |name: &str| source(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let with_default = |name: &str, default: &str| get(name).unwrap_or_else(|| default.to_owned());
        let prices = [
            ("STRIPE_PRICE_PRO_MONTH", PaidTier::Pro, Interval::Month),
            ("STRIPE_PRICE_PRO_YEAR", PaidTier::Pro, Interval::Year),
            ("STRIPE_PRICE_ENTERPRISE_MONTH", PaidTier::Enterprise, Interval::Month),
            ("STRIPE_PRICE_ENTERPRISE_YEAR", PaidTier::Enterprise, Interval::Year),
        ]
        .into_iter()
        .filter_map(|(name, tier, interval)| Some(Price { id: get(name)?, tier, interval }))
        .collect();
        Some(Self {
            secret_id: get("STRIPE_SECRET_ID")?,
            api_base: with_default("STRIPE_API_BASE", "https://api.stripe.com"),
            prices,
            success_url: with_default("BILLING_SUCCESS_URL", "http://localhost:3000/billing?checkout=success"),
            cancel_url: with_default("BILLING_CANCEL_URL", "http://localhost:3000/billing?checkout=canceled"),
            return_url: with_default("BILLING_RETURN_URL", "http://localhost:3000/billing"),
        })
    }

    /// The price a checkout for `tier` paid each `interval` uses.
    pub fn price(&self, tier: PaidTier, interval: Interval) -> Option<&Price> {
        self.prices.iter().find(|price| price.tier == tier && price.interval == interval)
    }

    /// What a subscription to the price `id` buys, if it is one of ours.
    pub fn price_by_id(&self, id: &str) -> Option<&Price> {
        self.prices.iter().find(|price| price.id == id)
    }
}

/// `PUSHER_APP_ID`, `PUSHER_KEY`, `PUSHER_CLUSTER`, and `PUSHER_SECRET_ID`:
/// the Secrets Manager secret holding the app's secret (plain, or
/// `{"secret": "…"}`), read at run time so a rotation needs no redeploy.
#[derive(Clone)]
pub struct PusherConfig {
    pub app_id: String,
    pub key: String,
    secret: PusherSecret,
    /// `https://api-<cluster>.pusher.com`, or a local server in tests.
    pub base_url: String,
}

#[derive(Clone)]
enum PusherSecret {
    /// Given in code (Pusher's documented examples).
    Value(Arc<String>),
    Stored {
        secret_id: String,
        refresh_after: Duration,
    },
}

impl fmt::Debug for PusherConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PusherConfig").field("app_id", &self.app_id).field("key", &self.key).finish_non_exhaustive()
    }
}

impl PusherConfig {
    /// An app whose secret is kept in the Secrets Manager secret `secret_id`,
    /// read again after `refresh_after`.
    pub fn stored(app_id: String, key: String, secret_id: String, base_url: String, refresh_after: Duration) -> Self {
        Self { app_id, key, secret: PusherSecret::Stored { secret_id, refresh_after }, base_url }
    }

    /// An app whose secret is given.
    pub fn with_secret(app_id: String, key: String, secret: String, base_url: String) -> Self {
        Self { app_id, key, secret: PusherSecret::Value(Arc::new(secret)), base_url }
    }

    /// All four variables, or none: Pusher is then not configured.
    pub fn from_source(source: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let get = |name| source(name).filter(|v| !v.trim().is_empty());
        let base_url = format!("https://api-{}.pusher.com", get("PUSHER_CLUSTER")?);
        let (app_id, key, secret_id) = (get("PUSHER_APP_ID")?, get("PUSHER_KEY")?, get("PUSHER_SECRET_ID")?);
        Some(Self::stored(app_id, key, secret_id, base_url, managed_secret::REFRESH_AFTER))
    }

    /// What reads the app's secret, with a cache of its own: one per
    /// function, kept for its life.
    pub fn keys(&self, secrets: aws_sdk_secretsmanager::Client) -> PusherKeys {
        let secret = match &self.secret {
            PusherSecret::Value(secret) => Secret::Given(secret.clone()),
            PusherSecret::Stored { secret_id, refresh_after } => {
                Secret::stored(secrets, secret_id.clone(), "secret", *refresh_after)
            }
        };
        PusherKeys { key: self.key.clone(), secret }
    }
}

/// The app's key and a reader of its secret.
pub struct PusherKeys {
    key: String,
    secret: Secret,
}

impl PusherKeys {
    /// The key with the current secret.
    pub async fn signer(&self) -> Result<PusherSigner, SecretError> {
        Ok(PusherSigner { key: self.key.clone(), secret: self.secret.current().await? })
    }
}

/// The app's key and secret, for signing; never logged.
pub struct PusherSigner {
    pub key: String,
    secret: Arc<String>,
}

impl PusherSigner {
    pub fn new(key: String, secret: String) -> Self {
        Self { key, secret: Arc::new(secret) }
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(name: &str) -> Option<String> {
        match name {
            "TABLE_NAME" => Some("t".into()),
            "QUEUE_URL" => Some("q".into()),
            "COMPLIANCE_QUEUE_URL" => Some("cq".into()),
            "DATA_KEY_ID" => Some("k".into()),
            "BLIND_INDEX_SECRET_ID" => Some("b".into()),
            "BUCKET_NAME" => Some("b".into()),
            "JWT_SECRET_ID" => Some("s".into()),
            "STACK_NAME" => Some("toolbox".into()),
            "USAGE_PLAN_FREE" | "USAGE_PLAN_PRO" | "USAGE_PLAN_ENTERPRISE" => Some("plan".into()),
            _ => None,
        }
    }

    #[test]
    fn defaults_apply_when_optional_variables_are_absent() {
        let config = Config::from_source(base).unwrap();
        assert_eq!(config.access_token_ttl_seconds, 900);
        assert_eq!(config.invite_ttl_seconds, 7 * 24 * 3600);
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = Config::from_source(|n| if n == "QUEUE_URL" { None } else { base(n) }).unwrap_err();
        assert_eq!(err.to_string(), "environment variable QUEUE_URL is required but not set");
    }

    #[test]
    fn a_malformed_number_is_named() {
        let err = Config::from_source(|n| if n == "ACCESS_TOKEN_TTL_SECONDS" { Some("soon".into()) } else { base(n) })
            .unwrap_err();
        assert!(err.to_string().starts_with("environment variable ACCESS_TOKEN_TTL_SECONDS is invalid"));
        let err =
            Config::from_source(|n| if n == "LOGIN_MAX_FAILURES" { Some("0".into()) } else { base(n) }).unwrap_err();
        assert!(err.to_string().contains("LOGIN_MAX_FAILURES"));
    }
}
