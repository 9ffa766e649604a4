//! What the DynamoDB client sends and gets back, seen by an interceptor on
//! it: the operations in order (the round-trip budget counts them) and each
//! call's request and answer (the scale model weighs them).

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::Value;

/// One DynamoDB call as sent and as answered, in DynamoDB's JSON.
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    pub operation: String,
    pub request: Value,
    pub response: Value,
}

#[derive(Debug, Default)]
struct Calls {
    /// `start <Operation>` / `end <Operation>`, in order.
    events: Vec<String>,
    exchanges: Vec<Exchange>,
}

/// Every DynamoDB call the client makes.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallLog(Arc<Mutex<Calls>>);

impl CallLog {
    /// The operations started since the last take, by name.
    pub fn take(&self) -> Vec<String> {
        self.take_events().iter().filter_map(|e| e.strip_prefix("start ").map(str::to_owned)).collect()
    }

    /// Every start and end since the last take, in order.
    pub fn take_events(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap().events)
    }

    /// The calls ended since the last take, with their answers.
    pub fn take_exchanges(&self) -> Vec<Exchange> {
        std::mem::take(&mut self.0.lock().unwrap().exchanges)
    }
}

fn operation(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>().map(|m| m.name().to_owned()).unwrap_or_else(|| "unknown".into())
}

fn json_of(bytes: Option<&[u8]>) -> Value {
    bytes.and_then(|bytes| serde_json::from_slice(bytes).ok()).unwrap_or(Value::Null)
}

/// The request body of the call in flight, kept until its answer comes.
#[derive(Debug, Clone)]
struct SentBody(Value);

impl Storable for SentBody {
    type Storer = StoreReplace<Self>;
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    // Once per operation, after the operation's own configuration is loaded.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.lock().unwrap().events.push(format!("start {}", operation(cfg)));
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(SentBody(json_of(context.request().body().bytes())));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = operation(cfg);
        let request = cfg.load::<SentBody>().map(|sent| sent.0.clone()).unwrap_or(Value::Null);
        let response = json_of(context.response().and_then(|response| response.body().bytes()));
        let mut calls = self.0.lock().unwrap();
        calls.events.push(format!("end {operation}"));
        calls.exchanges.push(Exchange { operation, request, response });
        Ok(())
    }
}

/// The partition key (`pk`) of an item or a key, in DynamoDB's JSON.
pub(crate) fn partition_key(item: &Value) -> Option<String> {
    item.get("pk").and_then(|pk| pk.get("S")).and_then(Value::as_str).map(str::to_owned)
}
