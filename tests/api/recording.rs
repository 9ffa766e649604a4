//! What the functions' AWS clients send, recorded at their HTTP connector:
//! the IAM test turns each request into the actions AWS would check, the
//! scale model into the capacity it takes from each partition.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use serde_json::Value;
use store::aws::SdkConfig;

/// One HTTP request a function's AWS client sent.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub function: String,
    pub method: String,
    pub uri: String,
    pub target: Option<String>,
    pub service: Option<String>,
    pub body: Vec<u8>,
}

/// The requests of every function, as their HTTP clients sent them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder(Arc<Mutex<Vec<Sent>>>);

impl Recorder {
    /// `base` with an HTTP client that records what `function` sends.
    pub fn sdk_for(&self, base: &SdkConfig, function: &str) -> SdkConfig {
        let inner = base.http_client().expect("the SDK config has an HTTP client");
        let client = Recording { inner, function: function.to_owned(), log: self.clone() };
        base.to_builder().http_client(client).build()
    }

    pub fn take(&self) -> Vec<Sent> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[derive(Debug)]
struct Recording {
    inner: SharedHttpClient,
    function: String,
    log: Recorder,
}

impl HttpClient for Recording {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        let inner = self.inner.http_connector(settings, components);
        SharedHttpConnector::new(RecordingConnector { inner, function: self.function.clone(), log: self.log.clone() })
    }
}

#[derive(Debug)]
struct RecordingConnector {
    inner: SharedHttpConnector,
    function: String,
    log: Recorder,
}

impl HttpConnector for RecordingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let header = |name: &str| request.headers().get(name).map(str::to_owned);
        // The service signs its name into the credential scope:
        // `Credential=<key>/<date>/<region>/<service>/aws4_request`.
        let service = header("authorization")
            .and_then(|auth| auth.split('/').rev().nth(1).map(str::to_owned))
            .filter(|service| !service.contains(' '));
        self.log.0.lock().unwrap().push(Sent {
            function: self.function.clone(),
            method: request.method().to_owned(),
            uri: request.uri().to_owned(),
            target: header("x-amz-target"),
            service,
            body: request.body().bytes().map(<[u8]>::to_vec).unwrap_or_default(),
        });
        self.inner.call(request)
    }
}

/// The partition key (`pk`) of an item or key in DynamoDB's JSON.
pub(crate) fn string_key(value: &Value) -> Option<String> {
    value.get("pk").and_then(|pk| pk.get("S")).and_then(Value::as_str).map(str::to_owned)
}
