//! Each tenant's data key for its personal fields (`domain::sealed`): made
//! once by KMS (`GenerateDataKey` under the stack's customer-managed key,
//! the tenant's id as encryption context), kept wrapped in the tenant's
//! `DATAKEY` item, and unwrapped (`Decrypt`) the first time an instance
//! needs it. After that it is in memory: a warm read or write makes no KMS
//! call. Each instance (each `AppState`) unwraps the keys it uses itself,
//! as each Lambda instance does.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::ids::OrgId;
use domain::sealed;
use domain::tenancy::Tenant;
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use crate::db::{DbError, KeyItem, sdk};

/// The stack's KMS key, the table the wrapped keys are kept in, and the
/// tenants whose keys this instance has loaded.
#[derive(Clone, Debug)]
pub struct FieldKeys {
    kms: aws_sdk_kms::Client,
    key_id: String,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    loaded: Arc<Mutex<HashSet<OrgId>>>,
}

/// A tenant's data key as kept: wrapped by the KMS key.
#[derive(Serialize, Deserialize)]
struct Wrapped {
    /// Base64 of KMS's ciphertext blob.
    wrapped_key: String,
    created_at: String,
}

const CONTEXT: &str = "org";

impl FieldKeys {
    pub fn new(kms: aws_sdk_kms::Client, key_id: String, dynamodb: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { kms, key_id, dynamodb, table, loaded: Arc::default() }
    }

    fn is_loaded(&self, org: &OrgId) -> bool {
        self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(org) && sealed::has(org)
    }

    fn install(&self, org: &OrgId, plain: &[u8]) -> Result<(), DbError> {
        sealed::install(org, plain).map_err(|err| DbError::failed("install a data key", err))?;
        self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(org.clone());
        Ok(())
    }

    /// Makes sure `org`'s key is in memory, making it if the tenant has
    /// none yet: before a write seals a field.
    pub async fn ensure(&self, org: &OrgId) -> Result<(), DbError> {
        if self.is_loaded(org) {
            return Ok(());
        }
        let wrapped = match self.read(org).await? {
            Some(wrapped) => wrapped,
            None => self.make(org).await?,
        };
        self.unwrap(org, wrapped).await
    }

    /// Loads `org`'s key if it has one: before a read opens a field. A
    /// tenant without a key has nothing sealed to open.
    pub async fn load(&self, org: &OrgId) -> Result<(), DbError> {
        if self.is_loaded(org) {
            return Ok(());
        }
        match self.read(org).await? {
            Some(wrapped) => self.unwrap(org, wrapped).await,
            None => Ok(()),
        }
    }

    async fn unwrap(&self, org: &OrgId, wrapped: Wrapped) -> Result<(), DbError> {
        let blob = STANDARD.decode(&wrapped.wrapped_key).map_err(|err| DbError::failed("read a data key", err))?;
        let output = self
            .kms
            .decrypt()
            .ciphertext_blob(Blob::new(blob))
            .encryption_context(CONTEXT, org.to_string())
            .send()
            .await
            .map_err(|err| DbError::failed("KMS Decrypt", aws_sdk_kms::error::DisplayErrorContext(err).to_string()))?;
        let plain = output.plaintext.ok_or_else(|| DbError::failed("KMS Decrypt", "no plaintext"))?;
        tracing::info!(org_id = %org, "data key unwrapped");
        self.install(org, plain.as_ref())
    }

    async fn read(&self, org: &OrgId) -> Result<Option<Wrapped>, DbError> {
        let key = Tenant::for_data_key(org).data_key();
        let output = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk("GetItem"))?;
        Ok(output.item.map(from_item).transpose()?)
    }

    /// A new key for `org`, kept wrapped (unwrapped by the caller like any
    /// other); another instance's, if it made one first.
    async fn make(&self, org: &OrgId) -> Result<Wrapped, DbError> {
        let output = self
            .kms
            .generate_data_key_without_plaintext()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT, org.to_string())
            .send()
            .await
            .map_err(|err| {
                DbError::failed(
                    "KMS GenerateDataKeyWithoutPlaintext",
                    aws_sdk_kms::error::DisplayErrorContext(err).to_string(),
                )
            })?;
        let blob = output.ciphertext_blob.ok_or_else(|| DbError::failed("KMS GenerateDataKey", "no key"))?;
        let wrapped = Wrapped {
            wrapped_key: STANDARD.encode(blob.as_ref()),
            created_at: domain::clock::rfc3339(time::OffsetDateTime::now_utc()),
        };
        let mut item = to_item(&wrapped)?;
        item.extend(Tenant::for_data_key(org).data_key().to_item());
        let put = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(sdk("PutItem"));
        match put {
            Ok(_) => {
                tracing::info!(org_id = %org, "data key made");
                Ok(wrapped)
            }
            Err(DbError::ConditionFailed) => {
                self.read(org).await?.ok_or_else(|| DbError::failed("read a data key", "gone"))
            }
            Err(err) => Err(err),
        }
    }
}
