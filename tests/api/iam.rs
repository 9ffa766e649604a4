//! IAM follows the code. moto enforces no IAM, so a green local run proves
//! nothing about `template.yaml`'s policies; this test does. Every function
//! (the authorizer and the worker too) runs on AWS clients of its own whose
//! HTTP requests are recorded; each request becomes the IAM actions and
//! resources AWS would check (a transaction's items, an index, a key's
//! leading partition, an S3 object, a request's tags). Then:
//!
//! - every action a function performed must be allowed by its policy,
//!   conditions (`dynamodb:LeadingKeys`, request and resource tags) included;
//! - every action and resource its policy allows must have been performed.
//!
//! The run drives every documented route (`round_trips::every_route`), then
//! the paths no route's success reaches: the worker and its outbox sweep, a
//! content body large enough for S3 and a race over it, a removed member's
//! cleanup, a sign-up that fails after its usage key was made, and a signed
//! API-key request to every function.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use serde_yaml_ng::Value as Yaml;
use store::aws::{SdkConfig, load_sdk_config};
use toolbox_local::template::Template;

use crate::calls::partition_key;
use crate::helpers::{Account, COMPLIANCE_WORKER, DASHBOARD_EVENTS, TestApp, WORKER, sqs_event, stack, unique_email};

/// One HTTP request a function's AWS client sent.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    function: String,
    method: String,
    uri: String,
    /// `X-Amz-Target` of a JSON-protocol call: `TrentService.Decrypt`.
    pub(crate) target: Option<String>,
    service: Option<String>,
    body: Vec<u8>,
}

/// The requests of every function, as their HTTP clients sent them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder(Arc<Mutex<Vec<Sent>>>);

impl Recorder {
    /// `base` with an HTTP client that records what `function` sends.
    pub(crate) fn sdk_for(&self, base: &SdkConfig, function: &str) -> SdkConfig {
        let inner = base.http_client().expect("the SDK config has an HTTP client");
        let client = Recording { inner, function: function.to_owned(), log: self.clone() };
        base.to_builder().http_client(client).build()
    }

    /// A presigned request `function` signed, as its holder sends it: IAM
    /// judges it by the signer's policy.
    fn presigned(&self, function: &str, method: &str, url: &str) {
        let sent = Sent {
            function: function.to_owned(),
            method: method.to_owned(),
            uri: url.to_owned(),
            target: None,
            service: Some("s3".to_owned()),
            body: Vec::new(),
        };
        self.0.lock().unwrap().push(sent);
    }

    pub(crate) fn take(&self) -> Vec<Sent> {
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

/// What IAM checks for one request: an action on a resource (in the
/// template's terms: a logical id and a path below it), with the leading
/// partition keys and request tags conditions may name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Need {
    action: String,
    resource: String,
    leading_keys: BTreeSet<String>,
    request_tags: BTreeMap<String, String>,
    /// The `prefix` an S3 listing asks for (`s3:prefix`).
    s3_prefix: Option<String>,
}

impl Need {
    fn new(action: String, resource: String) -> Self {
        Self { action, resource, leading_keys: BTreeSet::new(), request_tags: BTreeMap::new(), s3_prefix: None }
    }
}

/// Physical names and ids of the local resources → their logical ids.
struct Names(HashMap<String, String>);

impl Names {
    fn of(template: &Template, provisioned: &toolbox_local::provision::Provisioned) -> Self {
        let map = template
            .resources()
            .filter_map(|(logical, _)| Some((provisioned.physical_id(logical)?.to_owned(), logical.to_owned())))
            .collect();
        Self(map)
    }

    fn logical(&self, physical: &str) -> String {
        self.0.get(physical).cloned().unwrap_or_else(|| panic!("{physical} is no resource of the template"))
    }
}

/// The IAM needs of one DynamoDB request (JSON protocol).
fn dynamodb(operation: &str, body: &Value, names: &Names) -> Vec<Need> {
    let table = |body: &Value| names.logical(body["TableName"].as_str().expect("a table name"));
    let one = |action: &str, body: &Value, key: Option<&Value>| {
        let mut need = Need::new(format!("dynamodb:{action}"), table(body));
        need.leading_keys.extend(key.and_then(partition_key));
        need
    };
    match operation {
        "GetItem" | "UpdateItem" | "DeleteItem" => vec![one(operation, body, Some(&body["Key"]))],
        "PutItem" => vec![one(operation, body, Some(&body["Item"]))],
        "DescribeTable" => vec![one(operation, body, None)],
        "Query" => {
            let mut need = one("Query", body, None);
            if let Some(index) = body["IndexName"].as_str() {
                need.resource = format!("{}/index/{index}", need.resource);
            }
            // Every query here names its partition `:pk`.
            need.leading_keys.extend(body["ExpressionAttributeValues"][":pk"]["S"].as_str().map(str::to_owned));
            vec![need]
        }
        "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .expect("request items")
            .iter()
            .map(|(name, requests)| {
                let mut need = Need::new(format!("dynamodb:{operation}"), names.logical(name));
                let keys: Vec<&Value> = match operation {
                    "BatchGetItem" => requests["Keys"].as_array().expect("keys").iter().collect(),
                    _ => requests
                        .as_array()
                        .expect("write requests")
                        .iter()
                        .map(|r| {
                            if r["PutRequest"].is_object() {
                                &r["PutRequest"]["Item"]
                            } else {
                                &r["DeleteRequest"]["Key"]
                            }
                        })
                        .collect(),
                };
                need.leading_keys.extend(keys.into_iter().filter_map(partition_key));
                need
            })
            .collect(),
        // A transaction has no action of its own: IAM checks each item's.
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .expect("transact items")
            .iter()
            .map(|item| {
                let (kind, write) = item.as_object().expect("one write").iter().next().expect("a write");
                let (action, key) = match kind.as_str() {
                    "Put" => ("PutItem", &write["Item"]),
                    "Update" => ("UpdateItem", &write["Key"]),
                    "Delete" => ("DeleteItem", &write["Key"]),
                    "ConditionCheck" => ("ConditionCheckItem", &write["Key"]),
                    other => panic!("a transaction write of kind {other}"),
                };
                one(action, write, Some(key))
            })
            .collect(),
        other => panic!("DynamoDB {other} is called; teach tests/api/iam.rs its IAM actions (and never Scan)"),
    }
}

/// The IAM needs of one request.
fn needs(sent: &Sent, names: &Names) -> Vec<Need> {
    let body: Value = serde_json::from_slice(&sent.body).unwrap_or(Value::Null);
    let path = sent.uri.split_once("://").map_or(sent.uri.as_str(), |(_, rest)| rest);
    let path = path.find('/').map_or("/", |at| &path[at..]);
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    if let Some((service, operation)) = sent.target.as_deref().and_then(|t| t.split_once('.')) {
        return match service {
            "DynamoDB_20120810" => dynamodb(operation, &body, names),
            "AmazonSQS" => {
                vec![Need::new(format!("sqs:{operation}"), names.logical(body["QueueUrl"].as_str().expect("a queue")))]
            }
            // A Decrypt names no key: its ciphertext does, and the stack has one.
            "TrentService" => {
                let key = body["KeyId"].as_str().map_or_else(|| "DataKey".to_owned(), |id| names.logical(id));
                vec![Need::new(format!("kms:{operation}"), key)]
            }
            "secretsmanager" => vec![Need::new(
                format!("secretsmanager:{operation}"),
                names.logical(body["SecretId"].as_str().expect("a secret")),
            )],
            other => panic!("a call to {other}.{operation}; teach tests/api/iam.rs its IAM actions"),
        };
    }
    match sent.service.as_deref() {
        // Path-style: `/<bucket>/<key>`.
        Some("s3") => {
            let (bucket, key) =
                path.trim_start_matches('/').split_once('/').unwrap_or((path.trim_start_matches('/'), ""));
            let bucket = names.logical(bucket);
            let object = format!("{bucket}/{}", percent_encoding::percent_decode_str(key).decode_utf8_lossy());
            let action = match (sent.method.as_str(), key.is_empty(), query.contains("tagging")) {
                ("HEAD" | "GET", true, _) => {
                    let mut need = Need::new("s3:ListBucket".into(), bucket);
                    need.s3_prefix = query
                        .split('&')
                        .find_map(|pair| pair.strip_prefix("prefix="))
                        .map(|prefix| percent_encoding::percent_decode_str(prefix).decode_utf8_lossy().into_owned());
                    return vec![need];
                }
                // DeleteObjects: s3:DeleteObject on each key it names.
                ("POST", true, _) if query.contains("delete") => {
                    let body = String::from_utf8_lossy(&sent.body);
                    return body
                        .split("<Key>")
                        .skip(1)
                        .filter_map(|rest| rest.split_once("</Key>"))
                        .map(|(key, _)| Need::new("s3:DeleteObject".into(), format!("{bucket}/{key}")))
                        .collect();
                }
                ("GET" | "HEAD", false, _) => "s3:GetObject",
                ("PUT", false, true) => "s3:PutObjectTagging",
                ("PUT", false, false) => "s3:PutObject",
                ("DELETE", false, _) => "s3:DeleteObject",
                other => panic!("an S3 call {other:?}; teach tests/api/iam.rs its IAM action"),
            };
            vec![Need::new(action.into(), object)]
        }
        // API Gateway's management API: the action is the HTTP method, the
        // resource the path.
        Some("apigateway") => {
            let mut need = Need::new(format!("apigateway:{}", sent.method), format!("apigateway::{path}"));
            if let Some(tags) = body["tags"].as_object() {
                need.request_tags =
                    tags.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect();
            }
            vec![need]
        }
        other => panic!("a call to {other:?} {} {}; teach tests/api/iam.rs what it is", sent.method, sent.uri),
    }
}

/// One statement of a function's policy, resources in the template's terms.
#[derive(Debug)]
struct Statement {
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Condition,
}

/// The conditions the template uses; any other is an error here.
#[derive(Debug, Clone, Default)]
struct Condition {
    leading_keys: Option<Vec<String>>,
    request_tags: BTreeMap<String, String>,
    resource_tags: BTreeMap<String, String>,
    s3_prefixes: Option<Vec<String>>,
}

/// A resource as the template writes it, in logical terms: `Table`,
/// `Table/index/*`, `ArtifactsBucket/org/*`, `apigateway::/apikeys/*`.
fn resource(value: &Yaml) -> String {
    let Yaml::Tagged(tagged) = value else { panic!("a resource that is no intrinsic: {value:?}") };
    let text = tagged.value.as_str().unwrap_or_default();
    match tagged.tag.to_string().as_str() {
        "!Ref" => text.to_owned(),
        "!GetAtt" => text.strip_suffix(".Arn").unwrap_or_else(|| panic!("!GetAtt {text} is not an ARN")).to_owned(),
        "!Sub" => {
            let mut out = text.replace("arn:${AWS::Partition}:apigateway:${AWS::Region}::", "apigateway::");
            while let Some(start) = out.find("${") {
                let end = out[start..].find('}').unwrap() + start;
                let name = out[start + 2..end].trim_end_matches(".Arn").to_owned();
                out.replace_range(start..=end, &name);
            }
            out
        }
        other => panic!("a resource written with {other}"),
    }
}

fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::String(one) => vec![one.clone()],
        Yaml::Sequence(many) => many.iter().map(|v| v.as_str().expect("a string").to_owned()).collect(),
        other => panic!("not a string or a list: {other:?}"),
    }
}

fn condition(value: Option<&Yaml>, stack_name: &str) -> Condition {
    let mut condition = Condition::default();
    let Some(value) = value else { return condition };
    for (operator, tests) in value.as_mapping().expect("a condition map") {
        for (key, expected) in tests.as_mapping().expect("condition tests") {
            let (operator, key) = (operator.as_str().unwrap(), key.as_str().unwrap());
            // `!Ref AWS::StackName` is the only value the template names.
            let expected = match expected {
                Yaml::Tagged(t) if t.value.as_str() == Some("AWS::StackName") => vec![stack_name.to_owned()],
                other => strings(other),
            };
            match (operator, key) {
                ("ForAllValues:StringLike", "dynamodb:LeadingKeys") => condition.leading_keys = Some(expected),
                ("StringLike", "s3:prefix") => condition.s3_prefixes = Some(expected),
                ("StringEquals", tag) if tag.starts_with("aws:RequestTag/") => {
                    condition.request_tags.insert(tag["aws:RequestTag/".len()..].to_owned(), expected[0].clone());
                }
                ("StringEquals", tag) if tag.starts_with("aws:ResourceTag/") => {
                    condition.resource_tags.insert(tag["aws:ResourceTag/".len()..].to_owned(), expected[0].clone());
                }
                other => panic!("a condition {other:?}; teach tests/api/iam.rs to evaluate it"),
            }
        }
    }
    condition
}

/// The tags the template gives a resource (`!Ref AWS::StackName` resolved).
fn template_tags(template: &Template, logical: &str, stack_name: &str) -> BTreeMap<String, String> {
    let resource = template.resources().find(|(id, _)| *id == logical).map(|(_, r)| r);
    let tags = resource.and_then(|r| r.get("Properties")).and_then(|p| p.get("Tags")).and_then(Yaml::as_sequence);
    tags.into_iter()
        .flatten()
        .map(|tag| {
            let value = match tag.get("Value") {
                Some(Yaml::Tagged(t)) if t.value.as_str() == Some("AWS::StackName") => stack_name.to_owned(),
                other => other.and_then(Yaml::as_str).unwrap_or_default().to_owned(),
            };
            (tag.get("Key").and_then(Yaml::as_str).unwrap_or_default().to_owned(), value)
        })
        .collect()
}

/// Each function's statements (every one an Allow), by logical id.
fn policies(template: &Template, stack_name: &str) -> BTreeMap<String, Vec<Statement>> {
    let mut out = BTreeMap::new();
    for (function, declared) in template.resources_of_type("AWS::Serverless::Function") {
        let mut statements = Vec::new();
        let policies = declared.get("Properties").and_then(|p| p.get("Policies")).and_then(Yaml::as_sequence);
        for policy in policies.into_iter().flatten() {
            let listed = policy.get("Statement").and_then(Yaml::as_sequence).expect("inline statements only");
            for statement in listed {
                assert_eq!(statement.get("Effect").and_then(Yaml::as_str), Some("Allow"), "{function}");
                let resources = match statement.get("Resource").expect("a resource") {
                    Yaml::Sequence(many) => many.iter().map(resource).collect(),
                    one => vec![resource(one)],
                };
                statements.push(Statement {
                    actions: strings(statement.get("Action").expect("an action")),
                    resources,
                    condition: condition(statement.get("Condition"), stack_name),
                });
            }
        }
        out.insert(function.to_owned(), statements);
    }
    out
}

/// IAM's wildcard: `*` stands for any run of characters, `/` included.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head) && (0..=text.len() - head.len()).any(|at| glob(tail, &text[head.len() + at..]))
        }
    }
}

impl Statement {
    /// Whether this statement allows `need`; `tags_of` gives the tags the
    /// resource a need names may carry (a resource tag condition holds only
    /// if every one of them carries the tag).
    fn allows(&self, need: &Need, pattern: &str, tags_of: &dyn Fn(&Need) -> Vec<BTreeMap<String, String>>) -> bool {
        let condition = &self.condition;
        self.actions.contains(&need.action)
            && glob(pattern, &need.resource)
            && condition
                .leading_keys
                .as_ref()
                .is_none_or(|patterns| need.leading_keys.iter().all(|key| patterns.iter().any(|p| glob(p, key))))
            && condition.request_tags.iter().all(|(k, v)| need.request_tags.get(k) == Some(v))
            && condition.s3_prefixes.as_ref().is_none_or(|patterns| {
                need.s3_prefix.as_ref().is_some_and(|prefix| patterns.iter().any(|p| glob(p, prefix)))
            })
            && (condition.resource_tags.is_empty() || {
                let tags = tags_of(need);
                !tags.is_empty()
                    && tags.iter().all(|t| condition.resource_tags.iter().all(|(k, v)| t.get(k) == Some(v)))
            })
    }
}

/// Everything the recorded requests show against every policy: what was
/// performed but not allowed, and what is allowed but was never performed.
fn judge(template: &Template, names: &Names, stack_name: &str, sent: &[Sent]) -> (Vec<String>, Vec<String>) {
    let policies = policies(template, stack_name);
    let mut performed: BTreeMap<String, BTreeSet<Need>> = BTreeMap::new();
    for request in sent {
        performed.entry(request.function.clone()).or_default().extend(needs(request, names));
    }
    let (mut denied, mut unused) = (Vec::new(), Vec::new());
    for (function, statements) in &policies {
        let done = performed.remove(function).unwrap_or_default();
        // The tags a resource may carry: a usage plan's, as the template
        // declares them (its keys inherit them); an API key's, as this
        // function made every key (the recorder cannot see which key a
        // request names, only that each one made carried the tag).
        let made_keys: Vec<BTreeMap<String, String>> = done
            .iter()
            .filter(|need| need.action == "apigateway:POST" && need.resource == "apigateway::/apikeys")
            .map(|need| need.request_tags.clone())
            .collect();
        let tags_of = |need: &Need| -> Vec<BTreeMap<String, String>> {
            match need.resource.strip_prefix("apigateway::/usageplans/").and_then(|rest| rest.split('/').next()) {
                Some(plan) => vec![template_tags(template, &names.logical(plan), stack_name)],
                None if need.resource.starts_with("apigateway::/apikeys/") => made_keys.clone(),
                None => Vec::new(),
            }
        };
        for need in &done {
            let allowed = statements
                .iter()
                .any(|statement| statement.resources.iter().any(|pattern| statement.allows(need, pattern, &tags_of)));
            if !allowed {
                denied.push(format!(
                    "{function}: {} on {} (leading keys {:?})",
                    need.action, need.resource, need.leading_keys
                ));
            }
        }
        for statement in statements {
            for action in &statement.actions {
                for pattern in &statement.resources {
                    let single = Statement {
                        actions: vec![action.clone()],
                        resources: vec![pattern.clone()],
                        condition: statement.condition.clone(),
                    };
                    if !done.iter().any(|need| single.allows(need, pattern, &tags_of)) {
                        unused.push(format!("{function}: {action} on {pattern}"));
                    }
                }
            }
        }
    }
    assert!(performed.is_empty(), "calls by functions the template does not declare: {:?}", performed.keys());
    (denied, unused)
}

#[tokio::test]
async fn every_function_is_allowed_exactly_what_it_calls() {
    let stack = stack().await;
    let base = load_sdk_config().await;
    let recorder = Recorder::default();
    // Pusher (unreachable) with its secret in the template's secret, as deployed.
    let pusher_secret = stack.provisioned.physical_id("PusherSecret").expect("the pusher secret").to_owned();
    let pusher = integrations::pusher::PusherConfig::stored(
        "3".into(),
        "278d425bdf160c739803".into(),
        pusher_secret,
        "http://127.0.0.1:9".into(),
        store::managed_secret::REFRESH_AFTER,
    );
    // Stripe's keys in the stack's own secret, as deployed; a local Stripe.
    let stripe_secret = stack.provisioned.physical_id("StripeSecret").expect("the stripe secret").to_owned();
    let secrets = aws_sdk_secretsmanager::Client::new(&base);
    crate::helpers::put_secret(&secrets, &stripe_secret, &crate::payments::keys().to_string()).await;
    let stripe = crate::payments::FakeStripe::serve().await;
    let stripe_config = store::config::StripeConfig {
        secret_id: stripe_secret,
        ..crate::payments::stripe_config(&stripe.base_url, crate::payments::keys()).await
    };
    let (open_cloud, _) = crate::roblox::FakeOpenCloud::serve(Vec::new()).await;
    let (app, functions) = TestApp::spawn_per_function(
        |function| recorder.sdk_for(&base, function),
        |config| {
            config.pusher = Some(pusher.clone());
            config.stripe = Some(stripe_config.clone());
            config.roblox_api_base = open_cloud.clone();
        },
    )
    .await;
    crate::round_trips::every_route(&app, &crate::calls::CallLog::default()).await;
    // Before the routes beyond, which move the clock past tokens' issue.
    compliance_jobs(&app, &functions[COMPLIANCE_WORKER], &recorder).await;
    beyond_the_routes(&app, &functions[WORKER], &recorder).await;
    // The table stream's function: an organization whose numbers moved is
    // announced once (to a Pusher that is not there).
    let announcer = toolbox_dashboard_events::Announcer {
        state: functions[DASHBOARD_EVENTS].clone(),
        realtime: integrations::pusher::Realtime::configured(&functions[DASHBOARD_EVENTS]),
    };
    // Claimed and signed, then not delivered: nothing listens on port 9.
    let moved = app.register_org().await.tenant().totals(0).pk;
    assert_eq!(announcer.announce([moved.as_str()]).await, 0);
    // Two days on, the first announcement also settles the days since.
    app.clock.advance(2 * 24 * 3600);
    assert_eq!(announcer.announce([moved.as_str()]).await, 0);

    let names = Names::of(&stack.template, &stack.provisioned);
    let sent = recorder.take();
    let (denied, unused) = judge(&stack.template, &names, &app.state.config.stack_name, &sent);
    assert!(
        denied.is_empty() && unused.is_empty(),
        "template.yaml does not allow what the functions do:\n{}\n\ntemplate.yaml allows what no function does:\n{}",
        denied.join("\n"),
        unused.join("\n")
    );
}

/// An export and an erasure run by the compliance worker, and the export's
/// download link used, as its holder would (signed by ComplianceFunction).
async fn compliance_jobs(app: &TestApp, worker: &store::AppState, recorder: &Recorder) {
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let student = app.member(&admin, "student").await;
    let parent = app.member(&admin, "parent").await;
    app.class_with(&teacher, &[&student]).await;
    app.link_parent(&admin, &parent, &student).await;
    app.send_message(&student, &[&teacher], "Hi", "A question.").await;
    let worker = toolbox_compliance::worker::Worker { state: worker.clone() };
    let run = |job: &Value| {
        let message = domain::privacy::PrivacyMessage {
            org_id: admin.org_id.parse().unwrap(),
            job_id: job["id"].as_str().unwrap().parse().unwrap(),
        };
        let worker = &worker;
        async move { worker.run(&message).await.expect("the job runs") }
    };
    let body = json!({"user_id": student.user_id});
    let export = app.post("/api/v1/compliance/exports").bearer(&admin.access_token).json(body.clone()).send().await;
    run(export.data()).await;
    let path = format!("/api/v1/compliance/exports/{}", export.data()["id"].as_str().unwrap());
    let done = app.get(&path).bearer(&admin.access_token).send().await;
    let url = done.data()["download_url"].as_str().unwrap_or_else(|| panic!("{}", done.text));
    recorder.presigned("ComplianceFunction", "GET", url);
    let erasure = app.post("/api/v1/compliance/erasures").bearer(&admin.access_token).json(body).send().await;
    erasure.expect(StatusCode::ACCEPTED, None);
    run(erasure.data()).await;
}

/// The calls no route's success makes.
async fn beyond_the_routes(app: &TestApp, worker_state: &store::AppState, recorder: &Recorder) {
    let stack = stack().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;

    // A trend whose finished days nobody has asked for yet: it settles them.
    let trend = app.get("/api/v1/analytics/trends/logins?period=60").bearer(&admin.access_token).send().await;
    trend.expect(StatusCode::OK, None);

    // The worker: a job run to the end (its body large enough for S3), and
    // one whose provider fails for good.
    let worker = TestApp::worker_on(worker_state.clone(), crate::worker::long_lesson());
    let lesson = json!({"type": "lesson", "subject": "Biology", "grade_level": 7, "topic": "Photosynthesis"});
    let accepted = app.post("/api/v1/content/generate").bearer(&teacher.access_token).json(lesson.clone()).send().await;
    accepted.expect(StatusCode::ACCEPTED, None);
    let job_id = accepted.data()["job_id"].as_str().unwrap().parse().unwrap();
    let job: domain::job::Job = app.state.db.get(&teacher.tenant().job(&job_id)).await.unwrap().unwrap();
    let body = serde_json::to_string(&job.message()).unwrap();
    worker.handle(sqs_event(&[("large", body, 1)])).await;
    let job: domain::job::Job = app.state.db.get(&teacher.tenant().job(&job_id)).await.unwrap().unwrap();
    let large = job.content_id.clone().expect("the large lesson was made").to_string();
    // Delivered again (SQS delivers at least once): the finished job is read and acknowledged.
    let again = worker.handle(sqs_event(&[("again", serde_json::to_string(&job.message()).unwrap(), 2)])).await;
    assert!(again.batch_item_failures.is_empty());
    let failing = TestApp::worker_on(
        worker_state.clone(),
        crate::worker::Tweaked(|_, _| Err(integrations::generation::provider::ProviderError::Server(503))),
    );
    let message = app.queued_job(&teacher, lesson.clone()).await;
    // Released for now (its message made visible again soon), then failed on its last receive.
    failing.handle(sqs_event(&[("failing", serde_json::to_string(&message).unwrap(), 1)])).await;
    failing
        .handle(sqs_event(&[(
            "failing",
            serde_json::to_string(&message).unwrap(),
            toolbox_content_worker::MAX_RECEIVES,
        )]))
        .await;

    // Content kept in S3: read, replaced by another large body (the old one
    // is marked superseded), and an edit that loses a race (its body is
    // deleted again); a lesson made from it.
    let path = format!("/api/v1/content/{large}");
    let view = app.get(&path).bearer(&teacher.access_token).send().await;
    view.expect(StatusCode::OK, None);
    let mut edit = json!({"title": view.data()["title"], "summary": view.data()["summary"],
        "objectives": view.data()["objectives"], "sections": view.data()["sections"], "quiz": view.data()["quiz"]});
    edit["title"] = json!("Light, at length");
    app.call(Method::PUT, &path)
        .bearer(&teacher.access_token)
        .json(edit.clone())
        .send()
        .await
        .expect(StatusCode::OK, None);
    let racing = |title: &'static str| {
        let mut edit = edit.clone();
        edit["title"] = json!(title);
        app.call(Method::PUT, &path).bearer(&teacher.access_token).header("if-match", "\"2\"").json(edit).send()
    };
    let mut lost = false;
    for _ in 0..10 {
        let (a, b) = tokio::join!(racing("One way"), racing("Another way"));
        lost = [a.status, b.status].contains(&StatusCode::PRECONDITION_FAILED)
            && [a.status, b.status].contains(&StatusCode::OK);
        if lost {
            break;
        }
    }
    assert!(lost, "two edits of one version never raced");
    app.post("/api/v1/lessons")
        .bearer(&teacher.access_token)
        .json(json!({"content_id": large}))
        .send()
        .await
        .expect(StatusCode::CREATED, None);
    // A Roblox environment of it, and its project downloaded as the link's
    // holder would (signed by RobloxFunction).
    let environment = app
        .post("/api/v1/roblox/environments")
        .bearer(&teacher.access_token)
        .json(json!({"content_id": large}))
        .send()
        .await;
    environment.expect(StatusCode::CREATED, None);
    let download =
        format!("/api/v1/roblox/environments/{}/download?format=project", environment.data()["id"].as_str().unwrap());
    let link = app.get(&download).bearer(&teacher.access_token).send().await;
    recorder.presigned("RobloxFunction", "GET", link.data()["download_url"].as_str().unwrap());

    // An assessment made from a quiz kept in S3: fifty questions, each as
    // long as an assessment allows.
    let long_quiz = crate::worker::Tweaked(|stage, mut answer: Value| {
        if stage == integrations::generation::provider::Stage::Quiz {
            for (n, question) in answer["questions"].as_array_mut().unwrap().iter_mut().enumerate() {
                question["question"] = json!(format!("{n}. {}", "Which gas do leaves take in? ".repeat(65)));
                for (i, option) in question["options"].as_array_mut().unwrap().iter_mut().enumerate() {
                    *option = json!(format!("{i}. {}", "carbon dioxide, ".repeat(11)));
                }
            }
        }
        Ok(answer)
    });
    let quiz = json!({"type": "quiz", "subject": "Biology", "grade_level": 7, "topic": "Leaves", "num_questions": 50});
    let message = app.queued_job(&teacher, quiz).await;
    TestApp::worker_on(app.state.clone(), long_quiz)
        .handle(sqs_event(&[("quiz", serde_json::to_string(&message).unwrap(), 1)]))
        .await;
    let job: domain::job::Job = app.state.db.get(&teacher.tenant().job(&message.job_id)).await.unwrap().unwrap();
    let quiz = job.content_id.expect("the large quiz was made").to_string();
    app.post("/api/v1/assessments")
        .bearer(&teacher.access_token)
        .json(json!({"content_id": quiz}))
        .send()
        .await
        .expect(StatusCode::CREATED, None);

    // The worker's cold start with a provider that takes an API key.
    let provider_secret = stack.provisioned.physical_id("ProviderSecret").expect("the provider secret").to_owned();
    let settings = |name: &str| match name {
        "PROVIDER_BASE_URL" => Some("http://127.0.0.1:9/v1".to_owned()),
        "PROVIDER_SECRET_ID" => Some(provider_secret.clone()),
        _ => None,
    };
    let provider =
        integrations::generation::setup::provider_from(settings, &worker_state.aws.secrets).expect("a provider");
    // Its first call reads the key, then finds no provider there.
    let request =
        serde_json::from_value(json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Sums"}))
            .expect("a generation request");
    let draft = domain::generation::content::GeneratedContent::default();
    let task = integrations::generation::provider::Task {
        stage: integrations::generation::provider::Stage::Outline,
        request: &request,
        draft: &draft,
        problems: &[],
    };
    assert!(provider.complete(task).await.is_err(), "nothing answers on port 9");

    // A class's presence channel, signed for its teacher.
    let class = app.class_with(&teacher, &[]).await;
    app.post("/api/v1/pusher/auth")
        .bearer(&teacher.access_token)
        .json(json!({"socket_id": "1234.5678", "channel_name": format!("presence-class-{class}")}))
        .send()
        .await
        .expect(StatusCode::OK, None);

    // Admins with keys demoted to teacher (a key is read to be narrowed,
    // another revoked), to student (every key revoked), and removed.
    for (role, scopes) in
        [("teacher", json!(["read", "admin"])), ("teacher", json!(["admin"])), ("student", json!(["read"]))]
    {
        let maker = app.member(&admin, "admin").await;
        app.create_api_key(&maker, json!({"name": "ops", "scopes": scopes})).await;
        app.set_role(&admin, &maker.user_id, role).await;
    }
    let leaving = app.member(&admin, "admin").await;
    app.create_api_key(&leaving, json!({"name": "ops", "scopes": ["read", "admin"]})).await;
    app.delete(&format!("/api/v1/organizations/current/members/{}", leaving.user_id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT, None);

    // A second attempt at an assessment checks that the first exists.
    let learner = app.member(&admin, "student").await;
    let tested = app.class_with(&teacher, &[&learner]).await;
    let assessment = app
        .post("/api/v1/assessments")
        .bearer(&teacher.access_token)
        .json(json!({"title": "Twice", "max_attempts": 2,
            "questions": [{"kind": "true_false", "prompt": "Leaves are green.", "answer": true}]}))
        .send()
        .await;
    let assessment = assessment.data()["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/assessments/{assessment}/publish"))
        .bearer(&teacher.access_token)
        .json(json!({"class_ids": [tested]}))
        .send()
        .await
        .expect(StatusCode::OK, None);
    for attempt in [1, 2] {
        app.post(&format!("/api/v1/assessments/{assessment}/submit"))
            .bearer(&learner.access_token)
            .json(json!({"attempt": attempt, "answers": [true]}))
            .send()
            .await
            .expect(StatusCode::CREATED, None);
    }

    // A removed member leaves their class and their family.
    let student = app.member(&admin, "student").await;
    let parent = app.member(&admin, "parent").await;
    app.class_with(&teacher, &[&student]).await;
    app.link_parent(&admin, &parent, &student).await;
    app.delete(&format!("/api/v1/organizations/current/members/{}", student.user_id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT, None);

    // A sign-up whose username is taken fails after its usage key was made,
    // and deletes it again.
    let body = |email: String| {
        json!({"email": email, "password": "a-long-password", "username": format!("u{}", &ulid::Ulid::new().to_string()[14..]),
            "first_name": "U", "last_name": "Sed", "organization_name": "Taken"})
    };
    let first = body(unique_email("first"));
    app.post("/api/v1/auth/register").json(first.clone()).send().await.expect(StatusCode::CREATED, None);
    let mut second = body(unique_email("second"));
    second["username"] = first["username"].clone();
    app.post("/api/v1/auth/register").json(second).send().await.expect(StatusCode::CONFLICT, Some("conflict"));

    signed_key_requests(app, &admin).await;

    // Last, as it moves the clock past what tokens tolerate: the outbox
    // sweep sends a message whose sender never did.
    let owed = app.queued_job(&teacher, lesson).await;
    let job: domain::job::Job = app.state.db.get(&teacher.tenant().job(&owed.job_id)).await.unwrap().unwrap();
    app.state.db.transact(vec![store::outbox::record(&app.state, &job).unwrap()]).await.unwrap();
    app.clock.advance(store::outbox::STUCK_AFTER_SECONDS + 1);
    assert!(worker.sweep().await.unwrap() >= 1);
}

/// One request with a key that requires signatures to a route of every
/// function behind the authorizer: each function records the signature it
/// accepted, whatever it then answers.
async fn signed_key_requests(app: &TestApp, admin: &Account) {
    let key = app
        .create_api_key(admin, json!({"name": "signed", "scopes": ["read", "write"], "require_signature": true}))
        .await;
    let secret = key.signing_secret.clone().expect("a signing secret");
    for (method, path) in [
        ("GET", "/api/v1/auth/me"),
        ("GET", "/api/v1/organizations/current"),
        ("GET", "/api/v1/api-keys"),
        ("GET", "/api/v1/classes"),
        ("GET", "/api/v1/content"),
        ("GET", "/api/v1/lessons"),
        ("GET", "/api/v1/assessments"),
        ("GET", "/api/v1/messages"),
        ("POST", "/api/v1/pusher/auth"),
    ] {
        let now = app.state.now().unix_timestamp();
        let body = if method == "POST" { r#"{"socket_id":"1.2","channel_name":"private-user-x"}"# } else { "" };
        let signature = crate::api_keys::sign(&secret, now, method, path, body);
        let response = app
            .call(method.parse().unwrap(), path)
            .api_key(&key.key)
            .header("x-timestamp", &now.to_string())
            .header("x-signature", &signature)
            .raw("application/json", body.to_owned())
            .send()
            .await;
        assert_ne!(response.status, StatusCode::UNAUTHORIZED, "{method} {path}: {}", response.text);
    }
}
