//! `TestApp`: the whole API as `toolbox-local` serves it (authorizer, routes
//! from `template.yaml`, every function), on the AWS endpoint the harness
//! started (`scripts/with-moto`), driven with `oneshot` — no port, no server.
//! Each test registers its own organisations, so tests share nothing.

use std::sync::Arc;
use store::db::KeyItem;

use aws_lambda_events::sqs::SqsEvent;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use domain::clock::{ManualClock, OffsetClock};
use domain::ids::{JobId, UserId};
use domain::job::{Job, JobMessage};
use http_body_util::BodyExt;
use integrations::generation::provider::Provider;
use integrations::generation::template::TemplateProvider;
use integrations::pusher::Realtime;
use serde_json::{Value, json};
use store::AppState;
use store::aws::{AwsClients, load_sdk_config};
use store::config::Config;
use tokio::sync::OnceCell;
use toolbox_content_worker::Worker;
use toolbox_local::provision::{Provisioned, provision};
use toolbox_local::template::Template;
use toolbox_local::throttle::{Gate, Limits};
use tower::ServiceExt;

/// The generation worker's logical id in `template.yaml`.
pub const WORKER: &str = "ContentWorkerFunction";
pub const DASHBOARD_EVENTS: &str = "DashboardEventsFunction";
/// The export and erasure worker's.
pub const COMPLIANCE_WORKER: &str = "ComplianceWorkerFunction";

pub struct Stack {
    pub template: Template,
    pub provisioned: Provisioned,
}

/// Provisions once per test run; every test reuses the resources.
pub async fn stack() -> &'static Stack {
    static STACK: OnceCell<Stack> = OnceCell::const_new();
    STACK
        .get_or_init(|| async {
            assert!(
                std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty()),
                "AWS_ENDPOINT_URL is not set: run the tests with `make test`, which starts moto"
            );
            let template = Template::workspace().expect("template.yaml loads");
            let sdk = load_sdk_config().await;
            let provisioned =
                provision(&template, &sdk, "toolbox-test").await.expect("local resources are provisioned");
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            put_secret(&secrets, PUSHER_TEST_SECRET_ID, &json!({"secret": PUSHER_TEST_SECRET}).to_string()).await;
            Stack { template, provisioned }
        })
        .await
}

/// The gate's clock, and a change to the template's limits.
type GateSetup<'a> = (Arc<ManualClock>, Box<dyn FnOnce(&mut Limits) + 'a>);

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub clock: Arc<OffsetClock>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A stack whose configuration the test has changed first.
    pub async fn spawn_with(change: impl FnOnce(&mut Config)) -> Self {
        Self::build(change, |_, _| {}, None).await
    }

    /// A stack that applies the template's throttles and usage plans, as
    /// `make dev` does, on a clock that moves only when `clock` is advanced;
    /// `change` may adjust the limits first.
    pub async fn spawn_gated(clock: Arc<ManualClock>, change: impl FnOnce(&mut Limits)) -> Self {
        Self::spawn_gated_with(clock, |_| {}, change).await
    }

    /// [`TestApp::spawn_gated`] with a configuration the test has changed.
    pub async fn spawn_gated_with(
        clock: Arc<ManualClock>,
        config: impl FnOnce(&mut Config),
        change: impl FnOnce(&mut Limits),
    ) -> Self {
        Self::build(config, |_, _| {}, Some((clock, Box::new(change)))).await
    }

    /// A stack whose DynamoDB client carries `interceptor`, with the
    /// configuration `change` makes.
    pub async fn spawn_intercepted(
        interceptor: impl aws_sdk_dynamodb::config::Intercept + 'static,
        change: impl FnOnce(&mut Config),
    ) -> Self {
        Self::build(
            change,
            |sdk, clients| {
                let config = aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(interceptor).build();
                clients.dynamodb = aws_sdk_dynamodb::Client::from_conf(config);
            },
            None,
        )
        .await
    }

    async fn build(
        change: impl FnOnce(&mut Config),
        clients: impl FnOnce(&store::aws::SdkConfig, &mut AwsClients),
        gate: Option<GateSetup<'_>>,
    ) -> Self {
        let stack = stack().await;
        let mut config = toolbox_local::config(&stack.template, &stack.provisioned).expect("config resolves");
        change(&mut config);
        let sdk = load_sdk_config().await;
        let mut aws = AwsClients::new(&sdk);
        clients(&sdk, &mut aws);
        let clock = Arc::new(OffsetClock::default());
        let state = AppState::new(config, aws, clock.clone());
        let gate = gate.map(|(clock, change)| {
            let mut limits = Limits::from_template(&stack.template).expect("the template's limits parse");
            change(&mut limits);
            Gate::new(limits, &stack.provisioned, aws_sdk_apigateway::Client::new(&sdk), clock)
        });
        let router =
            toolbox_local::app(state.clone(), &stack.template, gate).expect("every template route has a handler");
        Self { router, state, clock }
    }

    /// A stack in which every function, the authorizer and the worker
    /// included, has AWS clients of its own, made from `sdk_of(logical id)`,
    /// as each Lambda does; and those states by logical id.
    pub async fn spawn_per_function(
        sdk_of: impl Fn(&str) -> store::aws::SdkConfig,
        change: impl FnOnce(&mut Config),
    ) -> (Self, std::collections::HashMap<&'static str, AppState>) {
        let stack = stack().await;
        let mut config = toolbox_local::config(&stack.template, &stack.provisioned).expect("config resolves");
        change(&mut config);
        let clock = Arc::new(OffsetClock::default());
        let functions = toolbox_local::HTTP_FUNCTIONS.iter().map(|(id, _)| *id).chain([
            toolbox_local::AUTHORIZER,
            WORKER,
            DASHBOARD_EVENTS,
            COMPLIANCE_WORKER,
        ]);
        let states: std::collections::HashMap<&'static str, AppState> = functions
            .map(|function| {
                let state = AppState::new(config.clone(), AwsClients::new(&sdk_of(function)), clock.clone());
                (function, state)
            })
            .collect();
        let router = toolbox_local::app_per_function(|function| states[function].clone(), &stack.template, None)
            .expect("every template route has a handler");
        let sdk = load_sdk_config().await;
        let state = AppState::new(config, AwsClients::new(&sdk), clock.clone());
        (Self { router, state, clock }, states)
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        Call::new(self, Method::GET, path)
    }
    pub fn post(&self, path: &str) -> Call<'_> {
        Call::new(self, Method::POST, path)
    }
    pub fn patch(&self, path: &str) -> Call<'_> {
        Call::new(self, Method::PATCH, path)
    }
    pub fn delete(&self, path: &str) -> Call<'_> {
        Call::new(self, Method::DELETE, path)
    }
    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call::new(self, method, path)
    }

    /// Registers a new organisation; its admin is returned signed in.
    pub async fn register_org(&self) -> Account {
        let email = unique_email("admin");
        let password = "correct-horse-battery".to_owned();
        let response = self
            .post("/api/v1/auth/register")
            .json(json!({
                "email": email, "password": password,
                "first_name": "Ada", "last_name": "Admin", "organization_name": "Test School",
            }))
            .send()
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        Account::from_auth(&response.body, email, password)
    }

    /// Invites `email` as `role` as `admin`; returns the invite token.
    pub async fn invite(&self, admin: &Account, email: &str, role: &str) -> String {
        let response = self
            .post("/api/v1/organizations/current/invites")
            .bearer(&admin.access_token)
            .json(json!({"email": email, "role": role}))
            .send()
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        response.data()["invite_token"].as_str().unwrap().to_owned()
    }

    /// A new member of `admin`'s organisation with `role`, signed in.
    pub async fn member(&self, admin: &Account, role: &str) -> Account {
        let email = unique_email(role);
        let token = self.invite(admin, &email, role).await;
        let password = "member-password-1".to_owned();
        let response = self
            .post("/api/v1/auth/register")
            .json(json!({
                "email": email, "password": password,
                "first_name": "Max", "last_name": "Member", "invite_token": token,
            }))
            .send()
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        Account::from_auth(&response.body, email, password)
    }

    /// Creates an API key as `admin` from `body`; the key's secrets are in
    /// the result only.
    /// The generation worker on this app's state, with `provider`.
    pub fn worker(&self, provider: impl Provider + 'static) -> Arc<Worker> {
        Self::worker_on(self.state.clone(), provider)
    }

    /// The generation worker on `state`, with `provider`.
    pub fn worker_on(state: AppState, provider: impl Provider + 'static) -> Arc<Worker> {
        Arc::new(Worker {
            state: state.clone(),
            provider: Arc::new(provider),
            realtime: Realtime::configured(&state),
            lease_seconds: 120,
        })
    }

    /// A queued job of `account`, stored as `POST /content/generate` stores
    /// it but with no message on the shared queue, so no other test's poller
    /// can take it; its message is returned for the test to deliver.
    pub async fn queued_job(&self, account: &Account, request: Value) -> JobMessage {
        let id = JobId::new();
        let user: UserId = account.user_id.parse().unwrap();
        let request = serde_json::from_value(request).unwrap();
        let job = Job::queued(id.clone(), &account.tenant(), request, format!("req-{id}"), &user, self.state.now());
        self.state.db.create(&account.tenant().job(&job.id), &job).await.unwrap();
        job.message()
    }

    /// Asks for content as `account` through `POST /content/generate`, then
    /// runs the job at once through the worker's handler (not the shared
    /// queue) with the template provider.
    pub async fn generated(&self, account: &Account, request: Value) -> Generated {
        let accepted = self.post("/api/v1/content/generate").bearer(&account.access_token).json(request).send().await;
        accepted.expect(StatusCode::ACCEPTED, None);
        let job_id = accepted.data()["job_id"].as_str().unwrap().to_owned();
        let job: Job = self.state.db.get(&account.tenant().job(&job_id.parse().unwrap())).await.unwrap().unwrap();
        let body = serde_json::to_string(&job.message()).unwrap();
        // A poller of another test may have taken the message from the shared
        // queue and be running the job: then this run is refused and waits.
        let mut done = job;
        for _ in 0..50 {
            self.worker(TemplateProvider).handle(sqs_event(&[("generated", body.clone(), 1)])).await;
            done = self.state.db.get(&account.tenant().job(&done.id)).await.unwrap().unwrap();
            if done.status.is_finished() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let content_id = done.content_id.expect("a succeeded job names its content").to_string();
        Generated { job_id, content_id }
    }

    pub async fn create_api_key(&self, admin: &Account, body: Value) -> CreatedKey {
        let response = self.post("/api/v1/api-keys").bearer(&admin.access_token).json(body).send().await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        let data = response.data();
        CreatedKey {
            id: data["id"].as_str().unwrap().to_owned(),
            key: data["key"].as_str().unwrap().to_owned(),
            signing_secret: data["signing_secret"].as_str().map(str::to_owned),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.post("/api/v1/auth/login").json(json!({"email": email, "password": password})).send().await
    }

    /// A new class of `teacher`'s with `students` enrolled; its id.
    pub async fn class_with(&self, teacher: &Account, students: &[&Account]) -> String {
        let class = self.post("/api/v1/classes").bearer(&teacher.access_token).json(json!({"name": "7B"})).send().await;
        class.expect(StatusCode::CREATED, None);
        let id = class.data()["id"].as_str().unwrap().to_owned();
        let ids: Vec<&str> = students.iter().map(|s| s.user_id.as_str()).collect();
        if !ids.is_empty() {
            self.post(&format!("/api/v1/classes/{id}/students"))
                .bearer(&teacher.access_token)
                .json(json!({"student_ids": ids}))
                .send()
                .await
                .expect(StatusCode::OK, None);
        }
        id
    }

    /// Gives the member `user_id` another role, as `admin`; the answer is 200.
    pub async fn set_role(&self, admin: &Account, user_id: &str, role: &str) {
        self.patch(&format!("/api/v1/organizations/current/members/{user_id}"))
            .bearer(&admin.access_token)
            .json(json!({"role": role}))
            .send()
            .await
            .expect(StatusCode::OK, None);
    }

    /// A message from `sender` to `recipients`, which must be sent (201).
    pub async fn send_message(&self, sender: &Account, recipients: &[&Account], subject: &str, body: &str) {
        let ids: Vec<&str> = recipients.iter().map(|r| r.user_id.as_str()).collect();
        self.post("/api/v1/messages")
            .bearer(&sender.access_token)
            .json(json!({"recipient_ids": ids, "subject": subject, "body": body}))
            .send()
            .await
            .expect(StatusCode::CREATED, None);
    }

    /// The export bundles of `user` left in the bucket.
    pub async fn export_objects(&self, user: &Account) -> usize {
        let prefix = user.tenant().export_prefix(&user.user_id.parse().unwrap());
        let s3 = self.state.aws.s3().list_objects_v2().bucket(&self.state.config.bucket_name).prefix(prefix);
        s3.send().await.expect("list the bucket").contents().len()
    }

    /// Links `parent` to `child` as `admin` does.
    pub async fn link_parent(&self, admin: &Account, parent: &Account, child: &Account) {
        self.post(&format!("/api/v1/organizations/current/members/{}/children", parent.user_id))
            .bearer(&admin.access_token)
            .json(json!({"child_id": child.user_id}))
            .send()
            .await
            .expect(StatusCode::CREATED, None);
    }

    /// Today's total of one daily counter of `account`'s organisation: the
    /// sum of its shard items, as the dashboard will read it.
    pub async fn daily_count(&self, account: &Account, counter: store::counters::Counter) -> u64 {
        let keys = store::counters::daily_keys(&account.tenant(), domain::day::Day::of(self.state.now()));
        let found = self.state.db.batch_get(&keys).await.expect("counters");
        store::counters::Counts::sum(found.iter().map(Option::as_ref)).get(counter) as u64
    }

    /// The kinds of the events in `account`'s organisation's feed, oldest first.
    pub async fn activity_kinds(&self, account: &Account) -> Vec<String> {
        let feed = store::activity::Feed::Organization;
        let (events, _) = store::activity::page(&self.state, &account.tenant(), &feed, 1000, None).await.expect("feed");
        events.into_iter().rev().map(|event| event.kind).collect()
    }

    /// An item exactly as stored, for byte-for-byte comparisons.
    pub async fn raw_item(&self, key: &domain::tenancy::Key) -> Option<String> {
        let output = self
            .state
            .aws
            .dynamodb
            .get_item()
            .table_name(&self.state.config.table_name)
            .set_key(Some(key.to_item()))
            .consistent_read(true)
            .send()
            .await
            .expect("get item");
        output.item.as_ref().map(describe_item)
    }
}

/// Every item of every partition of a tenant, exactly as stored, but its
/// request counts, which every request with a verified credential moves
/// (`store::request_counts`). A scan, which no route makes: only a test
/// wants the whole tenant at once.
pub async fn snapshot(app: &TestApp, account: &Account) -> std::collections::BTreeMap<String, String> {
    let tenant = format!("{}#", account.tenant().prefix());
    scan(app, Some(&tenant))
        .await
        .iter()
        .filter(|item| !item["pk"].as_s().unwrap().contains("#USAGE#"))
        .map(|item| (format!("{} {}", item["pk"].as_s().unwrap(), item["sk"].as_s().unwrap()), describe_item(item)))
        .collect()
}

/// Every item of the table, or of the partitions that begin with `prefix`,
/// as stored: a scan, which only a test makes.
pub async fn scan(
    app: &TestApp,
    prefix: Option<&str>,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let mut request = app.state.aws.dynamodb.scan().table_name(&app.state.config.table_name).consistent_read(true);
        if let Some(prefix) = prefix {
            request = request
                .filter_expression("begins_with(pk, :prefix)")
                .expression_attribute_values(":prefix", aws_sdk_dynamodb::types::AttributeValue::S(prefix.to_owned()));
        }
        let page = request.set_exclusive_start_key(start).send().await.unwrap();
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return items,
        }
    }
}

/// An item as sorted `name=value` lines: equal strings mean equal items.
pub fn describe_item(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> String {
    let mut pairs: Vec<_> = item.iter().map(|(k, v)| format!("{k}={}", describe_value(v))).collect();
    pairs.sort();
    pairs.join("\n")
}

/// One attribute value, with map entries in key order (a `HashMap`'s own
/// order differs between two reads of the same item).
fn describe_value(value: &aws_sdk_dynamodb::types::AttributeValue) -> String {
    use aws_sdk_dynamodb::types::AttributeValue;
    match value {
        AttributeValue::M(map) => {
            let mut entries: Vec<_> = map.iter().map(|(k, v)| format!("{k}: {}", describe_value(v))).collect();
            entries.sort();
            format!("M{{{}}}", entries.join(", "))
        }
        AttributeValue::L(list) => format!("L[{}]", list.iter().map(describe_value).collect::<Vec<_>>().join(", ")),
        other => format!("{other:?}"),
    }
}

/// An SQS batch as Lambda delivers it: `(message id, body, receive count)`.
pub fn sqs_event(messages: &[(&str, String, u32)]) -> SqsEvent {
    serde_json::from_value(json!({
        "Records": messages.iter().map(|(id, body, receives)| json!({
            "messageId": id, "receiptHandle": format!("rh-{id}"), "body": body,
            "attributes": {"ApproximateReceiveCount": receives.to_string()},
            "eventSource": "aws:sqs",
        })).collect::<Vec<_>>()
    }))
    .unwrap()
}

pub struct Generated {
    pub job_id: String,
    pub content_id: String,
}

/// A Pusher app for tests: requests are signed with `PUSHER_TEST_SECRET`,
/// kept in Secrets Manager as `PUSHER_TEST_SECRET_ID` (as deployed), and
/// events go to `base_url` (a local server, or nowhere).
pub const PUSHER_TEST_SECRET: &str = "7ad3773142a6692b25b8";
pub const PUSHER_TEST_SECRET_ID: &str = "toolbox-test-pusher-secret";

pub fn pusher(base_url: &str) -> integrations::pusher::PusherConfig {
    integrations::pusher::PusherConfig::stored(
        "3".into(),
        "278d425bdf160c739803".into(),
        PUSHER_TEST_SECRET_ID.into(),
        base_url.into(),
        store::managed_secret::REFRESH_AFTER,
    )
}

/// Puts `value` in the secret `id`, creating it if need be.
pub async fn put_secret(client: &aws_sdk_secretsmanager::Client, id: &str, value: &str) {
    let created = client.create_secret().name(id).secret_string(value).send().await;
    if created.is_err() {
        client.put_secret_value().secret_id(id).secret_string(value).send().await.expect("the secret is written");
    }
}

/// A local Pusher that checks requests as Pusher does, with the app secret
/// it holds now; the events it accepted, in order.
#[derive(Clone)]
pub struct FakePusher {
    pub seen: Arc<std::sync::Mutex<Vec<Value>>>,
    pub secret: Arc<std::sync::Mutex<String>>,
    pub base_url: String,
}

impl FakePusher {
    pub async fn serve(secret: &str) -> Self {
        let seen = Arc::default();
        let secret = Arc::new(std::sync::Mutex::new(secret.to_owned()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let pusher = Self { seen, secret, base_url };
        let server =
            Router::new().route("/apps/3/events", axum::routing::post(pusher_events)).with_state(pusher.clone());
        tokio::spawn(async move { axum::serve(listener, server).await.unwrap() });
        pusher
    }
}

/// Pusher's side of `POST /apps/{id}/events`: checks the key, the body's
/// MD5 and the HMAC over `"POST\n{path}\n{sorted params}"` as Pusher does,
/// then keeps the event.
async fn pusher_events(
    axum::extract::State(pusher): axum::extract::State<FakePusher>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    body: String,
) -> StatusCode {
    use hmac::Mac;
    use md5::Digest;
    let query = query.unwrap_or_default();
    let params: std::collections::BTreeMap<String, String> =
        query.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let unsigned: Vec<String> =
        params.iter().filter(|(k, _)| *k != "auth_signature").map(|(k, v)| format!("{k}={v}")).collect();
    let secret = pusher.secret.lock().unwrap().clone();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("POST\n/apps/3/events\n{}", unsigned.join("&")).as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    let md5 = hex::encode(md5::Md5::digest(body.as_bytes()));
    let valid = params.get("auth_key").map(String::as_str) == Some("278d425bdf160c739803")
        && params.get("auth_version").map(String::as_str) == Some("1.0")
        && params.get("body_md5") == Some(&md5)
        && params.get("auth_signature") == Some(&expected);
    if !valid {
        return StatusCode::UNAUTHORIZED;
    }
    pusher.seen.lock().unwrap().push(serde_json::from_str(&body).unwrap());
    StatusCode::OK
}

impl TestApp {
    /// An app whose Pusher is a [`FakePusher`]; the events it accepted, in order.
    pub async fn spawn_with_fake_pusher() -> (Self, Arc<std::sync::Mutex<Vec<Value>>>) {
        let fake = FakePusher::serve(PUSHER_TEST_SECRET).await;
        let app = Self::spawn_with(|config| config.pusher = Some(pusher(&fake.base_url))).await;
        (app, fake.seen)
    }
}

pub fn unique_email(what: &str) -> String {
    format!("{what}-{}@example.com", ulid::Ulid::new().to_string().to_lowercase())
}

/// An API key as its creation returned it.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub id: String,
    pub key: String,
    pub signing_secret: Option<String>,
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Account {
    pub email: String,
    pub password: String,
    pub user_id: String,
    pub org_id: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl Account {
    pub fn from_auth(body: &Value, email: String, password: String) -> Self {
        let data = &body["data"];
        Self {
            email,
            password,
            user_id: data["user"]["id"].as_str().unwrap().to_owned(),
            org_id: data["user"]["organization_id"].as_str().unwrap().to_owned(),
            access_token: data["access_token"].as_str().unwrap().to_owned(),
            refresh_token: data["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub fn tenant(&self) -> domain::tenancy::Tenant {
        domain::tenancy::Tenant::claimed_by_credential(&self.org_id.parse().unwrap())
    }
}

pub struct Call<'a> {
    app: &'a TestApp,
    request: axum::http::request::Builder,
    body: Body,
}

impl<'a> Call<'a> {
    fn new(app: &'a TestApp, method: Method, path: &str) -> Self {
        Self { app, request: Request::builder().method(method).uri(path), body: Body::empty() }
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header(header::AUTHORIZATION.as_str(), &format!("Bearer {token}"))
    }

    pub fn api_key(self, key: &str) -> Self {
        self.header("x-api-key", key)
    }

    /// The address the request comes from, as a TCP peer would be seen.
    pub fn peer_ip(mut self, ip: &str) -> Self {
        let addr = std::net::SocketAddr::new(ip.parse().expect("an IP address"), 40000);
        self.request = self.request.extension(axum::extract::ConnectInfo(addr));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    pub fn json(self, value: Value) -> Self {
        self.raw("application/json", value.to_string())
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<Body>) -> Self {
        self.request = self.request.header(header::CONTENT_TYPE, content_type);
        self.body = body.into();
        self
    }

    pub async fn send(self) -> TestResponse {
        let request = self.request.body(self.body).expect("a valid request");
        let response = self.app.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse { status, headers, body, text }
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// Asserts the status and, for errors, the envelope's code.
    #[track_caller]
    pub fn expect(&self, status: StatusCode, code: Option<&str>) -> &Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        if let Some(code) = code {
            assert_eq!(self.body["status"], "error", "{}", self.text);
            assert_eq!(self.code(), code, "{}", self.text);
        }
        self
    }
}
