//! What every handler can reach, built once per cold start.

use std::sync::Arc;

use crate::aws::{AwsClients, load_sdk_config};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::db::Db;
use crate::error::AppError;
use crate::keyset::{KeySet, KeyStore};
use crate::pusher::Realtime;
use crate::usage_plans::UsagePlans;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub aws: AwsClients,
    pub db: Db,
    pub keys: KeyStore,
    pub clock: SharedClock,
    /// Pusher, or a log line where it is not configured.
    pub realtime: Realtime,
    usage_plans: UsagePlans,
}

impl AppState {
    pub fn new(config: Config, aws: AwsClients, clock: SharedClock) -> Self {
        let realtime = Realtime::new(config.pusher.clone());
        Self {
            db: Db::new(aws.dynamodb.clone(), config.table_name.clone()),
            keys: KeyStore::new(aws.secrets.clone(), config.jwt_secret_id.clone()),
            usage_plans: UsagePlans::new(aws.sdk.clone(), config.usage_plans.clone(), config.stack_name.clone()),
            config: Arc::new(config),
            aws,
            clock,
            realtime,
        }
    }

    /// The cold-start path of every function.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk = load_sdk_config().await;
        Ok(Self::new(config, AwsClients::new(&sdk), Arc::new(SystemClock)))
    }

    /// The key set, or a 503 when Secrets Manager cannot be read.
    pub async fn key_set(&self) -> Result<Arc<KeySet>, AppError> {
        self.keys.current().await.map_err(|err| {
            tracing::error!(error = %err, "key set unavailable");
            AppError::Unavailable {
                message: "authentication keys are unavailable".into(),
                retry_after_seconds: Some(5),
            }
        })
    }

    pub fn usage_plans(&self) -> &UsagePlans {
        &self.usage_plans
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}
