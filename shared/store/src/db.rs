//! The single-table DynamoDB layer: typed items through `serde_dynamo`,
//! conditional creates, versioned updates, transactions and paginated queries.
//!
//! The naming rule: an `async` method sends a request (`get`, `query`,
//! `create`, `remove`, `transact`, `run_update`, …); a method that returns a
//! `Put`, `Update`, `Delete` or `ConditionCheck` only builds one write, for a
//! transaction or for `run_update`, and sends nothing (`put_new`, `update`,
//! `update_with`, `delete`, `delete_if`, `condition_check`, …). Records
//! (versioned, soft-deletable items) are read and changed through
//! [`crate::records`].

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
/// An attribute's value, as the expression builders below take them.
pub use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, KeysAndAttributes, Put, TransactWriteItem, Update};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use domain::error::Error;
use domain::ids::OrgId;
use domain::sealed;
use domain::tenancy::{Key, Tenant};

use crate::changes::{Changes, Condition, Rendered};
use crate::field_keys::FieldKeys;

pub type Item = HashMap<String, AttributeValue>;

/// A key as the SDK takes it: `pk` and `sk` attributes.
pub trait KeyItem {
    fn to_item(&self) -> Item;
}

impl KeyItem for Key {
    fn to_item(&self) -> Item {
        HashMap::from([("pk".to_owned(), string(&self.pk)), ("sk".to_owned(), string(&self.sk))])
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A condition on a single write did not hold.
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction was cancelled; `failed` lists the indexes of the writes
    /// whose condition did not hold (empty for a transaction conflict).
    #[error("transaction cancelled")]
    Cancelled { failed: Vec<usize> },
    /// DynamoDB still refused for capacity after the SDK's own retries: the
    /// request may be tried again shortly.
    #[error("DynamoDB {op}: throttled after retries")]
    Throttled { op: &'static str },
    #[error("DynamoDB {op}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(source.as_ref()))]
    Failed {
        op: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("item could not be converted: {0}")]
    Serde(#[from] serde_dynamo::Error),
}

impl DbError {
    pub fn failed(op: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Failed { op, source: source.into() }
    }
}

/// How a rule sees a store error: a lost condition is a conflict the client
/// may retry, throttling a 503 with a short wait, anything else our fault.
impl From<DbError> for Error {
    fn from(err: DbError) -> Self {
        match err {
            DbError::ConditionFailed | DbError::Cancelled { .. } => {
                Error::Conflict("the resource was changed by another request; retry".into())
            }
            DbError::Throttled { .. } => {
                tracing::warn!(error = %err, "throttled");
                Error::Unavailable {
                    message: "the service is busy; retry shortly".into(),
                    retry_after_seconds: Some(1),
                }
            }
            other => Error::internal(other),
        }
    }
}

/// The error of SDK call `op`, by the code DynamoDB answered with.
pub(crate) fn sdk<E, R>(op: &'static str) -> impl FnOnce(SdkError<E, R>) -> DbError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    move |err| match err.code() {
        Some("ConditionalCheckFailedException") => DbError::ConditionFailed,
        Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded") => {
            DbError::Throttled { op }
        }
        _ => DbError::failed(op, err),
    }
}

fn build(err: aws_sdk_dynamodb::error::BuildError) -> DbError {
    DbError::failed("build a request", err)
}

/// One page of a query, and the key to continue from.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub last_key: Option<HashMap<String, String>>,
}

#[derive(Clone, Debug)]
pub struct Db {
    client: Client,
    table: String,
    /// Tenants' data keys for their personal fields (`domain::sealed`).
    field_keys: Option<FieldKeys>,
}

impl Db {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), field_keys: None }
    }

    /// This store sealing and opening personal fields with `keys`.
    pub fn with_field_keys(self, keys: FieldKeys) -> Self {
        Self { field_keys: Some(keys), ..self }
    }

    /// Makes sure `tenant`'s data key is loaded, before items with personal
    /// fields are built for it (a read loads the keys it finds by itself).
    pub async fn sealing(&self, tenant: &Tenant) -> Result<(), DbError> {
        match &self.field_keys {
            Some(keys) => keys.ensure(tenant.org_id()).await,
            None => Ok(()),
        }
    }

    /// Loads the data key of each item's tenant when the item holds values
    /// sealed for it, so that decoding opens them. Only the tenant whose
    /// partition an item is in counts (it is the only one `decode` opens
    /// with), and a read never makes a key: text that merely looks sealed
    /// (a subject, a user agent) loads nothing.
    async fn ready<'a>(&self, items: impl IntoIterator<Item = &'a Item>) -> Result<(), DbError> {
        let Some(keys) = &self.field_keys else { return Ok(()) };
        let mut owners: Vec<OrgId> = Vec::new();
        for item in items {
            let Some(tenant) = item.get("pk").and_then(|pk| pk.as_s().ok()).and_then(|pk| Tenant::owning(pk)) else {
                continue;
            };
            if !owners.contains(tenant.org_id()) && holds_sealed(item.values(), tenant.org_id()) {
                owners.push(tenant.org_id().clone());
            }
        }
        for org in owners {
            keys.load(&org).await?;
        }
        Ok(())
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The item that stores `value` under `key`, filed in its kind's
    /// tenant-wide list (`gsi2`) when the key names one.
    pub fn item<T: Serialize>(key: &Key, value: &T) -> Result<Item, DbError> {
        let owner = Tenant::owning(&key.pk);
        let mut item: Item = sealed::storing(owner.as_ref().map(Tenant::org_id), || to_item(value))?;
        item.extend(key.to_item());
        if let Some(listing) = &key.listed_in {
            item.insert("gsi2pk".to_owned(), string(listing));
            item.insert("gsi2sk".to_owned(), string(&key.sk));
        }
        Ok(item)
    }

    pub async fn get<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, DbError> {
        self.read(key, true).await
    }

    /// [`Db::get`] read eventually consistently: half the units, and what
    /// was written in about the last second may not show yet. For an item
    /// every request of a busy route reads and whose changes may show a
    /// second late (what progress reports read of a published lesson).
    pub async fn get_recent<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, DbError> {
        self.read(key, false).await
    }

    async fn read<T: DeserializeOwned>(&self, key: &Key, consistent: bool) -> Result<Option<T>, DbError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(sdk("GetItem"))?;
        self.ready(output.item.iter()).await?;
        output.item.map(Db::decode).transpose()
    }

    /// Reads several items in one round trip (more only when DynamoDB
    /// leaves keys unprocessed under load); the result follows `keys`.
    pub async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, DbError> {
        self.batch_read(keys, true).await
    }

    /// [`Db::batch_get`] read eventually consistently, as
    /// [`Db::get_recent`]: for checks on every request of a busy route whose
    /// answer changes rarely (a student's place in a class).
    pub async fn batch_get_recent(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, DbError> {
        self.batch_read(keys, false).await
    }

    async fn batch_read(&self, keys: &[Key], consistent: bool) -> Result<Vec<Option<Item>>, DbError> {
        let mut pending: Vec<Item> = keys.iter().map(Key::to_item).collect();
        let mut found: Vec<Item> = Vec::with_capacity(keys.len());
        for attempt in 0..4u32 {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(consistent)
                .build()
                .map_err(build)?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(sdk("BatchGetItem"))?;
            found.extend(output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
            pending =
                output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys).unwrap_or_default();
        }
        if !pending.is_empty() {
            return Err(DbError::Throttled { op: "BatchGetItem" });
        }
        self.ready(found.iter()).await?;
        Ok(keys
            .iter()
            .map(|key| {
                found
                    .iter()
                    .find(|item| {
                        item.get("pk").and_then(|v| v.as_s().ok()) == Some(&key.pk)
                            && item.get("sk").and_then(|v| v.as_s().ok()) == Some(&key.sk)
                    })
                    .cloned()
            })
            .collect())
    }

    /// An item as `T`, its personal fields opened with its tenant's key
    /// (loaded by the read that found it).
    pub fn decode<T: DeserializeOwned>(item: Item) -> Result<T, DbError> {
        let owner = item.get("pk").and_then(|pk| pk.as_s().ok()).and_then(|pk| Tenant::owning(pk));
        Ok(sealed::opening(owner.as_ref().map(Tenant::org_id), || from_item(item))?)
    }

    /// The number attributes of an item (counters), by name.
    pub fn numbers(item: Item) -> BTreeMap<String, f64> {
        item.into_iter().filter_map(|(name, value)| Some((name, value.as_n().ok()?.parse().ok()?))).collect()
    }

    /// Creates an item that must not exist yet.
    pub async fn create<T: Serialize>(&self, key: &Key, value: &T) -> Result<(), DbError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(key, value)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(sdk("PutItem"))?;
        Ok(())
    }

    /// Writes an item whatever is there: for one that is only ever derived
    /// again from other items (a cached answer).
    pub async fn overwrite<T: Serialize>(&self, key: &Key, value: &T) -> Result<(), DbError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(key, value)?))
            .send()
            .await
            .map_err(sdk("PutItem"))?;
        Ok(())
    }

    /// Replaces an item only if it is still at `expected_version`; the stored
    /// value must already carry the next version.
    pub async fn replace_versioned<T: Serialize>(
        &self,
        key: &Key,
        value: &T,
        expected_version: u64,
    ) -> Result<(), DbError> {
        let put = self.put_versioned(key, value, expected_version)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item))
            .set_condition_expression(put.condition_expression)
            .set_expression_attribute_names(put.expression_attribute_names)
            .set_expression_attribute_values(put.expression_attribute_values)
            .send()
            .await
            .map_err(sdk("PutItem"))?;
        Ok(())
    }

    /// A put that replaces whatever is there: for an item derived from
    /// another, written in that one's transaction.
    pub fn put<T: Serialize>(&self, key: &Key, value: &T) -> Result<Put, DbError> {
        Put::builder().table_name(&self.table).set_item(Some(Self::item(key, value)?)).build().map_err(build)
    }

    pub fn put_new<T: Serialize>(&self, key: &Key, value: &T) -> Result<Put, DbError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::item(key, value)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build)
    }

    pub fn put_versioned<T: Serialize>(&self, key: &Key, value: &T, expected_version: u64) -> Result<Put, DbError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::item(key, value)?))
            .condition_expression("attribute_exists(pk) AND #version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", AttributeValue::N(expected_version.to_string()))
            .build()
            .map_err(build)
    }

    /// An update for a transaction; `names` and `values` fill the expressions.
    pub fn update(
        &self,
        key: &Key,
        update_expression: &str,
        condition: Option<&str>,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Update, DbError> {
        self.update_of(key, Rendered::written(update_expression, condition, names, values))
    }

    /// An update of the item at `key` by typed [`Changes`], on their
    /// condition.
    pub fn update_with<R>(&self, key: &Key, changes: Changes<R>) -> Result<Update, DbError> {
        self.update_of(key, changes.render()?)
    }

    fn update_of(&self, key: &Key, rendered: Rendered) -> Result<Update, DbError> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .update_expression(rendered.update)
            .set_condition_expression(rendered.condition)
            .set_expression_attribute_names(non_empty(rendered.names))
            .set_expression_attribute_values(non_empty(rendered.values))
            .build()
            .map_err(build)
    }

    /// A check for a transaction, on `condition`.
    pub fn condition_check(
        &self,
        key: &Key,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<ConditionCheck, DbError> {
        self.check_of(key, Rendered::written("", Some(condition), names, values))
    }

    /// A check for a transaction that the item at `key` meets `condition`.
    pub fn check<R>(&self, key: &Key, condition: Condition<R>) -> Result<ConditionCheck, DbError> {
        self.check_of(key, Changes::new().when(condition).render()?)
    }

    fn check_of(&self, key: &Key, rendered: Rendered) -> Result<ConditionCheck, DbError> {
        ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .set_condition_expression(rendered.condition)
            .set_expression_attribute_names(non_empty(rendered.names))
            .set_expression_attribute_values(non_empty(rendered.values))
            .build()
            .map_err(build)
    }

    /// A delete for a transaction, on `condition`.
    pub fn delete_if(
        &self,
        key: &Key,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Delete, DbError> {
        self.delete_of(key, Rendered::written("", Some(condition), names, values))
    }

    /// A delete for a transaction, of an item that meets `condition`.
    pub fn delete_when<R>(&self, key: &Key, condition: Condition<R>) -> Result<Delete, DbError> {
        self.delete_of(key, Changes::new().when(condition).render()?)
    }

    /// A delete for a transaction, whatever the item holds.
    pub fn delete(&self, key: &Key) -> Result<Delete, DbError> {
        self.delete_of(key, Rendered::default())
    }

    fn delete_of(&self, key: &Key, rendered: Rendered) -> Result<Delete, DbError> {
        Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .set_condition_expression(rendered.condition)
            .set_expression_attribute_names(non_empty(rendered.names))
            .set_expression_attribute_values(non_empty(rendered.values))
            .build()
            .map_err(build)
    }

    /// Adds one to the `count` of a counter item, creating it if need be,
    /// with `expires_at` for DynamoDB's TTL; with `below`, only while the
    /// count is under it (else [`DbError::ConditionFailed`]). Returns the new count.
    pub async fn increment(&self, key: &Key, expires_at: i64, below: Option<u64>) -> Result<u64, DbError> {
        let mut values = vec![(":one", number(1)), (":expires", number(expires_at))];
        if let Some(limit) = below {
            values.push((":limit", number(limit)));
        }
        let update = self.update(
            key,
            "ADD #count :one SET expires_at = if_not_exists(expires_at, :expires)",
            below.map(|_| "attribute_not_exists(#count) OR #count < :limit"),
            &[("#count", "count")],
            values,
        )?;
        let item = self.run_update(update).await?;
        Ok(item.get("count").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Deletes an item that exists; [`DbError::ConditionFailed`] if it does not.
    pub async fn remove(&self, key: &Key) -> Result<(), DbError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(sdk("DeleteItem"))?;
        Ok(())
    }

    /// Deletes an item whose `version` is below `version`; an item a later
    /// write stamped with a newer version (or an item that is gone) stays.
    pub async fn delete_if_older(&self, key: &Key, version: u64) -> Result<(), DbError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .condition_expression("#version < :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", number(version))
            .send()
            .await;
        match deleted.map_err(sdk("DeleteItem")) {
            Ok(_) | Err(DbError::ConditionFailed) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Runs one update outside a transaction, returning the new attributes.
    pub async fn run_update(&self, update: Update) -> Result<Item, DbError> {
        let item = self
            .client
            .update_item()
            .table_name(update.table_name)
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values)
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map(|output| output.attributes.unwrap_or_default())
            .map_err(sdk("UpdateItem"))?;
        self.ready([&item]).await?;
        Ok(item)
    }

    /// All or nothing: every write lands, or none does. A transaction
    /// cancelled only because another one held an item at the same moment
    /// (`TransactionConflict`) wrote nothing, so it is tried again a few
    /// times after a short, growing wait; a failed condition is returned.
    pub async fn transact(&self, writes: Vec<Write>) -> Result<(), DbError> {
        const MAX_CONFLICTS: u32 = 5;
        let items: Vec<TransactWriteItem> = writes
            .into_iter()
            .map(|write| match write {
                Write::Put(put) => TransactWriteItem::builder().put(put).build(),
                Write::Update(update) => TransactWriteItem::builder().update(update).build(),
                Write::Delete(delete) => TransactWriteItem::builder().delete(delete).build(),
                Write::Check(check) => TransactWriteItem::builder().condition_check(check).build(),
            })
            .collect();
        let mut conflicts = 0;
        loop {
            let sent = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let err = match sent {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() else {
                return Err(sdk("TransactWriteItems")(err));
            };
            let codes: Vec<_> = cancelled.cancellation_reasons().iter().map(|reason| reason.code()).collect();
            let failed: Vec<usize> = codes
                .iter()
                .enumerate()
                .filter(|(_, code)| **code == Some("ConditionalCheckFailed"))
                .map(|(index, _)| index)
                .collect();
            let other = |code: &&Option<&str>| {
                !matches!(code, None | Some("None" | "ConditionalCheckFailed" | "TransactionConflict"))
            };
            if failed.is_empty() && codes.iter().any(|code| matches!(code, Some("ThrottlingError"))) {
                return Err(DbError::Throttled { op: "TransactWriteItems" });
            }
            if failed.is_empty() && codes.iter().any(|code| other(&code)) {
                // A malformed write: no retry with the same writes helps.
                return Err(DbError::failed("TransactWriteItems", format!("cancelled: {codes:?}")));
            }
            if failed.is_empty() && conflicts < MAX_CONFLICTS {
                conflicts += 1;
                let jitter = u64::from(rand::random::<u8>() % 50);
                tokio::time::sleep(std::time::Duration::from_millis((10 << conflicts) + jitter)).await;
                continue;
            }
            return Err(DbError::Cancelled { failed });
        }
    }

    /// One page of the items in `pk` whose sort key starts with `sk_prefix`.
    pub async fn query_prefix<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: i32,
        start: Option<HashMap<String, String>>,
        filter_not_deleted: bool,
    ) -> Result<Page<T>, DbError> {
        let range = Range::of(pk, sk_prefix);
        let range = if filter_not_deleted { range.live_only() } else { range };
        self.query(&range, limit, start).await
    }

    /// One page of a [`Range`].
    pub async fn query<T: DeserializeOwned>(
        &self,
        range: &Range<'_>,
        limit: i32,
        start: Option<HashMap<String, String>>,
    ) -> Result<Page<T>, DbError> {
        let page = self.query_items(range, limit, start).await?;
        let items = page.items.into_iter().map(Db::decode).collect::<Result<Vec<T>, _>>()?;
        Ok(Page { items, last_key: page.last_key })
    }

    /// One page of a [`Range`] as stored, for a range that holds more than
    /// one kind of item.
    pub async fn query_items(
        &self,
        range: &Range<'_>,
        limit: i32,
        start: Option<HashMap<String, String>>,
    ) -> Result<Page<Item>, DbError> {
        let mut query = range
            .query(self)
            .limit(limit)
            .set_exclusive_start_key(start.map(|k| k.into_iter().map(|(n, v)| (n, AttributeValue::S(v))).collect()));
        if range.live_only {
            query = query.filter_expression("attribute_not_exists(deleted_at)");
        }
        let output = query.send().await.map_err(sdk("Query"))?;
        let items = output.items.unwrap_or_default();
        self.ready(items.iter()).await?;
        let last_key = output.last_evaluated_key.map(|key| {
            key.into_iter().filter_map(|(name, value)| value.as_s().ok().map(|s| (name, s.clone()))).collect()
        });
        Ok(Page { items, last_key })
    }

    /// Every item of `partition` whose sort key is from `low` through
    /// `high`, in order, page after page; read eventually consistently, for
    /// items that never change once written.
    pub async fn query_between(&self, partition: &str, low: &str, high: &str) -> Result<Vec<Item>, DbError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
                .expression_attribute_values(":pk", string(partition))
                .expression_attribute_values(":low", string(low))
                .expression_attribute_values(":high", string(high))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk("Query"))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                self.ready(items.iter()).await?;
                return Ok(items);
            }
        }
    }

    /// Up to `limit` items of `partition`, newest (highest sort key) first,
    /// whose sort key is below `before` when given: a page of a time-sorted
    /// partition that is read beside others and merged, so that one sort
    /// key, not a partition's own last key, says where the next page starts.
    pub async fn newest_before<T: DeserializeOwned>(
        &self,
        partition: &str,
        before: Option<&str>,
        limit: i32,
    ) -> Result<Vec<T>, DbError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", string(partition))
            .scan_index_forward(false)
            .limit(limit);
        let query = match before {
            None => query.key_condition_expression("pk = :pk"),
            Some(before) => query
                .key_condition_expression("pk = :pk AND sk < :before")
                .expression_attribute_values(":before", string(before)),
        };
        let output = query.send().await.map_err(sdk("Query"))?;
        let items = output.items.unwrap_or_default();
        self.ready(items.iter()).await?;
        items.into_iter().map(Db::decode).collect()
    }

    /// The items of `partition` whose sort keys lie from `low` through
    /// `high`, newest first, reading at most `evaluate` items and keeping
    /// those `filter` passes; with the sort key of the last item read when
    /// more are left. A filter applies after the read: a short answer with a
    /// last key means "read on", not "no more".
    pub async fn newest_between<R>(
        &self,
        partition: &str,
        (low, high): (&str, &str),
        filter: Option<Condition<R>>,
        evaluate: i32,
    ) -> Result<(Vec<Item>, Option<String>), DbError> {
        let mut rendered = filter.map(Condition::render).transpose()?.unwrap_or_default();
        rendered.values.extend([
            (":pk".to_owned(), string(partition)),
            (":low".to_owned(), string(low)),
            (":high".to_owned(), string(high)),
        ]);
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .set_filter_expression(rendered.condition)
            .set_expression_attribute_names(non_empty(rendered.names))
            .set_expression_attribute_values(Some(rendered.values))
            .scan_index_forward(false)
            .limit(evaluate)
            .send()
            .await
            .map_err(sdk("Query"))?;
        let last = output.last_evaluated_key.and_then(|key| key.get("sk").and_then(|sk| sk.as_s().ok()).cloned());
        let items = output.items.unwrap_or_default();
        self.ready(items.iter()).await?;
        Ok((items, last))
    }

    /// The primary keys of up to `max` items of a [`Range`] (reading only
    /// the keys, page after page), and whether more were left unread. From
    /// an index, they name each item where it is stored.
    pub async fn keys(&self, range: &Range<'_>, max: usize) -> Result<(Vec<Key>, bool), DbError> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let output = range
                .query(self)
                .projection_expression("pk, sk")
                .limit((max - keys.len()).min(1000) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk("Query"))?;
            keys.extend(output.items.unwrap_or_default().into_iter().filter_map(|mut item| {
                match (item.remove("pk"), item.remove("sk")) {
                    (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some(Key::new(pk, sk)),
                    _ => None,
                }
            }));
            start = output.last_evaluated_key;
            if start.is_none() || keys.len() >= max {
                return Ok((keys, start.is_some()));
            }
        }
    }

    /// Deletes every item of a [`Range`] (of the table, or found through an
    /// index), `page` keys at a time; how many.
    pub async fn delete_range(&self, range: &Range<'_>, page: usize) -> Result<u64, DbError> {
        let mut deleted = 0;
        loop {
            let (keys, more) = self.keys(range, page).await?;
            deleted += keys.len() as u64;
            self.batch_write(Vec::new(), keys).await?;
            // What was deleted no longer shows: read from the start again.
            if !more {
                return Ok(deleted);
            }
        }
    }

    /// Puts and deletes without conditions, 25 to a request as DynamoDB
    /// allows, retrying what it leaves unprocessed under load.
    pub async fn batch_write(&self, puts: Vec<Item>, deletes: Vec<Key>) -> Result<(), DbError> {
        use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};

        let mut requests = Vec::with_capacity(puts.len() + deletes.len());
        for item in puts {
            requests.push(
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build().map_err(build)?)
                    .build(),
            );
        }
        for key in deletes {
            requests.push(
                WriteRequest::builder()
                    .delete_request(DeleteRequest::builder().set_key(Some(key.to_item())).build().map_err(build)?)
                    .build(),
            );
        }
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            for attempt in 0..5u32 {
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
                }
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(sdk("BatchWriteItem"))?;
                pending = output.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
            }
            if !pending.is_empty() {
                return Err(DbError::Throttled { op: "BatchWriteItem" });
            }
        }
        Ok(())
    }
}

/// The items of one partition (of the table or of an index) whose sort key
/// starts with a prefix (all of them for an empty one), oldest first and
/// soft-deleted ones included unless asked otherwise.
pub struct Range<'a> {
    partition: &'a str,
    prefix: &'a str,
    /// `Some("gsi1")` reads the index: `gsi1pk` and `gsi1sk` stand for `pk` and `sk`.
    index: Option<&'static str>,
    newest_first: bool,
    live_only: bool,
}

impl<'a> Range<'a> {
    /// A range of the table itself.
    pub fn of(partition: &'a str, prefix: &'a str) -> Self {
        Range { partition, prefix, index: None, newest_first: false, live_only: false }
    }

    /// A range of `gsi1`, the other side of a link: a user's roster entries,
    /// a child's parents, a student's progress, the members or jobs in a state.
    pub fn gsi1(partition: &'a str, prefix: &'a str) -> Self {
        Range { index: Some("gsi1"), ..Range::of(partition, prefix) }
    }

    /// The live records of one kind in a tenant-wide list (`gsi2`):
    /// `partition` is `Tenant::listing(prefix)`.
    pub fn listing(partition: &'a str, prefix: &'a str) -> Self {
        Range { index: Some("gsi2"), ..Range::of(partition, prefix) }.live_only()
    }

    /// Descending sort keys: newest first for ids that sort by time.
    pub fn newest_first(self) -> Self {
        Range { newest_first: true, ..self }
    }

    /// Leaves out soft-deleted items.
    pub fn live_only(self) -> Self {
        Range { live_only: true, ..self }
    }

    fn query(&self, db: &Db) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let (pk, sk) = match self.index {
            Some(index) => (format!("{index}pk"), format!("{index}sk")),
            None => ("pk".to_owned(), "sk".to_owned()),
        };
        let query = db
            .client
            .query()
            .table_name(&db.table)
            .set_index_name(self.index.map(str::to_owned))
            .expression_attribute_names("#pk", pk)
            .expression_attribute_values(":pk", AttributeValue::S(self.partition.to_owned()));
        // A key condition takes no empty string: the whole partition is
        // asked for without one.
        let query = match self.prefix {
            "" => query.key_condition_expression("#pk = :pk"),
            prefix => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", sk)
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned())),
        };
        query
            // Indexes only offer eventually consistent reads.
            .consistent_read(self.index.is_none())
            .scan_index_forward(!self.newest_first)
    }
}

#[derive(Clone)]
pub enum Write {
    Put(Put),
    Update(Update),
    Delete(Delete),
    Check(ConditionCheck),
}

fn non_empty<K, V>(map: HashMap<K, V>) -> Option<HashMap<K, V>> {
    (!map.is_empty()).then_some(map)
}

/// Whether any of `values`, nested ones too, is sealed for `org`.
fn holds_sealed<'a>(values: impl IntoIterator<Item = &'a AttributeValue>, org: &OrgId) -> bool {
    values.into_iter().any(|value| match value {
        AttributeValue::S(text) => sealed::owner_of(text).as_ref() == Some(org),
        AttributeValue::M(map) => holds_sealed(map.values(), org),
        AttributeValue::L(list) => holds_sealed(list, org),
        _ => false,
    })
}

/// Any serializable value as an attribute value.
pub fn value<T: Serialize + ?Sized>(value: &T) -> Result<AttributeValue, DbError> {
    Ok(serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(value)?)
}

/// A value as it reads back after a trip through the table: numbers come
/// back in DynamoDB's form (`2.0` as `2`), so a stored value and a new one
/// compare equal when DynamoDB would store them alike.
pub fn as_stored<T: Serialize + serde::de::DeserializeOwned>(value: &T) -> Result<T, DbError> {
    let stored = serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(value)?;
    Ok(serde_dynamo::aws_sdk_dynamodb_1::from_attribute_value(stored)?)
}

/// A value as DynamoDB stores it (a struct becomes a map).
pub fn to_attribute<T: Serialize>(value: &T) -> Result<AttributeValue, DbError> {
    Ok(serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(value)?)
}

/// The number form DynamoDB expressions take.
pub fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// An empty map: a map attribute emptied, which later writes set keys of.
pub fn empty_map() -> AttributeValue {
    AttributeValue::M(HashMap::new())
}

pub fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_runtime_api::http::StatusCode;

    use super::*;

    /// What the SDK returns when DynamoDB answers `code`, its retries spent.
    fn answered(code: &str) -> DbError {
        let err = GetItemError::generic(ErrorMetadata::builder().code(code).message("refused").build());
        let raw = HttpResponse::new(StatusCode::try_from(400).unwrap(), "".into());
        sdk("GetItem")(SdkError::service_error(err, raw))
    }

    #[test]
    fn throttling_after_the_sdks_retries_is_a_503_that_names_the_operation() {
        let throttled = answered("ProvisionedThroughputExceededException");
        assert!(matches!(throttled, DbError::Throttled { op: "GetItem" }), "{throttled:?}");
        assert_eq!(throttled.to_string(), "DynamoDB GetItem: throttled after retries");
        assert!(matches!(answered("ThrottlingException"), DbError::Throttled { .. }));
        match Error::from(throttled) {
            Error::Unavailable { retry_after_seconds: Some(1), .. } => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_failures_keep_their_source_and_name_the_operation() {
        let failed = answered("ResourceNotFoundException");
        let text = failed.to_string();
        assert!(text.starts_with("DynamoDB GetItem: ") && text.contains("ResourceNotFoundException"), "{text}");
        assert!(std::error::Error::source(&failed).is_some());
        assert!(matches!(Error::from(failed), Error::Internal(_)));
        assert!(matches!(answered("ConditionalCheckFailedException"), DbError::ConditionFailed));
    }
}
