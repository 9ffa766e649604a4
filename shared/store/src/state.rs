//! What every handler can reach, built once per cold start.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::aws::{AwsClients, load_sdk_config};
use crate::config::{Config, ConfigError};
use crate::db::Db;
use crate::field_keys::FieldKeys;
use crate::keyset::{KeySet, KeyStore};
use domain::clock::{SharedClock, SystemClock};
use domain::error::Error;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub aws: AwsClients,
    pub db: Db,
    pub keys: KeyStore,
    pub clock: SharedClock,
    /// Clients of the layers above, each built on first use (see [`AppState::lazy`]).
    lazy: Arc<Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>,
}

impl AppState {
    pub fn new(config: Config, aws: AwsClients, clock: SharedClock) -> Self {
        Self {
            db: Db::new(aws.dynamodb.clone(), config.table_name.clone()).with_field_keys(FieldKeys::new(
                aws_sdk_kms::Client::new(&aws.sdk),
                config.data_key_id.clone(),
                aws.dynamodb.clone(),
                config.table_name.clone(),
            )),
            keys: KeyStore::new(aws.secrets.clone(), config.jwt_secret_id.clone()),
            config: Arc::new(config),
            aws,
            clock,
            lazy: Arc::default(),
        }
    }

    /// The cold-start path of every function.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk = load_sdk_config().await;
        Ok(Self::new(config, AwsClients::new(&sdk), Arc::new(SystemClock)))
    }

    /// The key set, or a 503 when Secrets Manager cannot be read.
    pub async fn key_set(&self) -> Result<Arc<KeySet>, Error> {
        self.keys.current().await.map_err(|err| {
            tracing::error!(error = %err, "key set unavailable");
            Error::Unavailable { message: "authentication keys are unavailable".into(), retry_after_seconds: Some(5) }
        })
    }

    /// The one `T` of this state, made by `make` the first time it is
    /// asked for. For clients only some functions need (Pusher, API
    /// Gateway): the others neither link nor build them, and a warm
    /// function builds its own once.
    pub fn lazy<T: Any + Send + Sync>(&self, make: impl FnOnce() -> T) -> Arc<T> {
        let mut made = self.lazy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = made.entry(TypeId::of::<T>()).or_insert_with(|| Arc::new(make()));
        Arc::clone(entry).downcast().expect("entries are keyed by their type")
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}
