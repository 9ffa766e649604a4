//! What an operator reads: metric documents in CloudWatch's embedded metric
//! format, and one request id and one X-Ray trace from a generation request
//! through its queue message to the worker's run.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use axum::http::StatusCode;
use serde_json::{Value, json};

use integrations::breaker::Breaker;
use integrations::generation::provider::{Provider, ProviderError, ProviderFuture, Task};
use integrations::generation::template::TemplateProvider;
use toolbox_content_worker::Call;

use crate::capture;
use crate::helpers::TestApp;

/// The units CloudWatch accepts in a metric definition.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Ids: properties to search by, never dimensions (one metric per tenant or
/// request would cost without bound).
const NEVER_DIMENSIONS: &[&str] =
    &["organization_id", "tenant_id", "user_id", "request_id", "lambda_request_id", "trace_id", "job_id"];

/// Checks `doc` against the EMF specification and returns its metric names.
fn assert_emf(doc: &Value) -> Vec<String> {
    let root = doc.as_object().expect("a document is a JSON object");
    let aws = root["_aws"].as_object().expect("_aws is an object");
    let timestamp = aws["Timestamp"].as_i64().expect("Timestamp is an integer of milliseconds");
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    assert!((now - 3_600_000..=now + 60_000).contains(&timestamp), "Timestamp is now, in milliseconds: {doc}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("CloudWatchMetrics is an array");
    assert!(!directives.is_empty(), "{doc}");
    let mut names = Vec::new();
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace is a string");
        assert!((1..=255).contains(&namespace.len()), "{doc}");
        let sets = directive["Dimensions"].as_array().expect("Dimensions is an array of dimension sets");
        assert!(!sets.is_empty(), "{doc}");
        for set in sets {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30, "{doc}");
            for name in set {
                let name = name.as_str().expect("a dimension is named by a string");
                let value =
                    root.get(name).and_then(Value::as_str).unwrap_or_else(|| panic!("{name} is a root string: {doc}"));
                assert!((1..=1024).contains(&value.len()), "{doc}");
                assert!(!NEVER_DIMENSIONS.contains(&name), "{name} is a dimension: {doc}");
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics is an array");
        assert!(!metrics.is_empty() && metrics.len() <= 100, "{doc}");
        for metric in metrics {
            let name = metric["Name"].as_str().expect("a metric has a Name");
            assert!((1..=255).contains(&name.len()), "{doc}");
            if let Some(unit) = metric.get("Unit") {
                assert!(UNITS.contains(&unit.as_str().unwrap_or_default()), "unit {unit}: {doc}");
            }
            let value = &root[name];
            assert!(value.is_number(), "{name} has a number at the root: {doc}");
            names.push(name.to_owned());
        }
    }
    names
}

fn metric_documents(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|line| line.get("_aws").is_some()).collect()
}

#[tokio::test]
async fn every_metric_document_follows_the_embedded_metric_format() {
    let capture = capture();
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let request_id = format!("emf-{}", domain::ids::JobId::new());
    // A miss, then a hit, of the kept dashboard answer.
    for _ in 0..2 {
        let metrics =
            app.get("/api/v1/dashboard/metrics").bearer(&admin.access_token).header("x-request-id", &request_id);
        metrics.send().await.expect(StatusCode::OK, None);
    }
    // A lockout: failed logins up to the limit, then a refusal.
    let mut refused = false;
    for _ in 0..20 {
        let login = app
            .post("/api/v1/auth/login")
            .header("x-request-id", &request_id)
            .json(json!({"email": admin.email, "password": "not-the-password-1"}))
            .send()
            .await;
        if login.status == StatusCode::TOO_MANY_REQUESTS {
            refused = true;
            break;
        }
    }
    assert!(refused, "the lockout never answered 429");
    let breaker = Breaker::new("emf-test", 1, Duration::from_secs(60));
    breaker.failed(std::time::Instant::now());

    let lines = capture.lines();
    let docs = metric_documents(&lines);
    for doc in &docs {
        assert_emf(doc);
    }
    let ours: Vec<&&Value> = docs.iter().filter(|doc| doc["request_id"] == request_id).collect();
    let requests: Vec<_> = ours.iter().filter(|doc| doc.get("Requests").is_some()).collect();
    assert!(requests.len() >= 4, "one request document per request: {requests:?}");
    let first = requests[0];
    assert_eq!(first["Route"], "GET /api/v1/dashboard/metrics");
    assert_eq!(first["StatusClass"], "2xx");
    assert_eq!(first["organization_id"], admin.org_id, "the organization is a property");
    assert!(first["Latency"].as_f64().is_some_and(|ms| ms >= 0.0));
    let lookups: Vec<&str> =
        ours.iter().filter(|doc| doc["CacheLookups"] == 1.0).map(|doc| doc["Result"].as_str().unwrap()).collect();
    assert_eq!(lookups, ["miss", "hit"]);
    assert!(ours.iter().any(|doc| doc["Refusals"] == 1.0 && doc["Limit"] == "login_lockout"));
    assert!(ours.iter().any(|doc| doc["Route"] == "POST /api/v1/auth/login" && doc["StatusClass"] == "4xx"));
    assert!(docs.iter().any(|doc| doc["Breaker"] == "emf-test" && doc["State"] == "open"));
    let cold: HashSet<&str> =
        docs.iter().filter(|doc| doc.get("ColdStarts").is_some()).filter_map(|doc| doc["Function"].as_str()).collect();
    assert!(cold.contains("DashboardFunction") && cold.contains("AuthFunction"), "{cold:?}");
}

#[tokio::test]
async fn a_generation_request_and_its_worker_run_share_one_request_id_and_trace() {
    let capture = capture();
    // A queue of this test's own: its message is the only one there.
    let sqs = aws_sdk_sqs::Client::new(&store::aws::load_sdk_config().await);
    let name = format!("toolbox-test-trace-{}", ulid::Ulid::new().to_string().to_lowercase());
    let queue_url = sqs.create_queue().queue_name(&name).send().await.unwrap().queue_url.unwrap();
    let app = TestApp::spawn_with(|config| config.queue_url = queue_url.clone()).await;
    let admin = app.register_org().await;
    let request_id = format!("trace-{}", domain::ids::JobId::new());
    let root = store::logging::trace_root(&store::logging::new_trace_header()).unwrap().to_owned();
    let header = format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1");
    let accepted = app
        .post("/api/v1/content/generate")
        .bearer(&admin.access_token)
        .header("x-request-id", &request_id)
        .header("x-amzn-trace-id", &header)
        .json(json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Fractions"}))
        .send()
        .await;
    accepted.expect(StatusCode::ACCEPTED, None);
    let job_id = accepted.data()["job_id"].as_str().unwrap().to_owned();

    // The message as Lambda's event source mapping would hand it over, trace attribute included.
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let found = received.messages().iter().find(|m| m.body().is_some_and(|body| body.contains(&job_id))).cloned();
    let message = found.expect("the job's message is on the queue");
    let record = toolbox_local::worker::record_of(&message);
    assert_eq!(record.attributes.get("AWSTraceHeader"), Some(&header), "SQS carries the trace header");
    // The invocation has a trace of its own; each job follows its message's.
    let mut context = lambda_http::Context::default();
    context.request_id = format!("lambda-{request_id}");
    context.env_config = std::sync::Arc::new(lambda_http::lambda_runtime::Config {
        function_name: "ContentWorkerFunction".into(),
        ..Default::default()
    });
    context.xray_trace_id = Some(store::logging::new_trace_header());
    let call = Call::of(&context, &store::logging::Invocations::default());
    let worker = app.worker(TemplateProvider);
    let mut batch = aws_lambda_events::sqs::SqsEvent::default();
    batch.records.push(record);
    assert!(worker.handle_within(batch, call).await.batch_item_failures.is_empty());

    let lines = capture.lines();
    let ours: Vec<&Value> = lines.iter().filter(|line| line["request_id"] == request_id).collect();
    let api = ours.iter().find(|line| line["message"] == "request finished").expect("the API's access log line");
    assert_eq!(api["function"], "ContentFunction");
    assert_eq!(api["trace_id"], root.as_str());
    assert!(api["lambda_request_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(api["cold_start"].is_boolean());
    let worker_lines: Vec<&&Value> =
        ours.iter().filter(|line| line["function"] == "ContentWorkerFunction" && line.get("_aws").is_none()).collect();
    let said: Vec<&str> = worker_lines.iter().filter_map(|line| line["message"].as_str()).collect();
    assert!(said.contains(&"job claimed") && said.contains(&"job succeeded"), "{said:?}");
    for line in &worker_lines {
        assert_eq!(line["trace_id"], root.as_str(), "{line}");
        assert_eq!(line["job_id"], job_id.as_str(), "{line}");
        assert_eq!(line["lambda_request_id"], format!("lambda-{request_id}"), "{line}");
        assert_eq!(line["cold_start"], true, "{line}");
    }
    let docs = metric_documents(&lines);
    let request_doc = docs
        .iter()
        .find(|doc| doc["request_id"] == request_id && doc["Route"] == "POST /api/v1/content/generate")
        .expect("the request's metric document");
    assert_eq!(request_doc["trace_id"], root.as_str());
    let job_doc = docs
        .iter()
        .find(|doc| doc["request_id"] == request_id && doc.get("Jobs").is_some())
        .expect("the job's metric document");
    assert_emf(job_doc);
    assert_eq!((job_doc["Outcome"].as_str(), job_doc["trace_id"].as_str()), (Some("succeeded"), Some(root.as_str())));
    assert_eq!(job_doc["job_id"], job_id.as_str());
    assert!(job_doc["StageOutline"].is_number() && job_doc["StageQuiz"].is_number());
    assert_eq!(job_doc["ProviderRetries"], 0.0);
}

/// A provider that refuses every request, for good.
struct Refusing;

impl Provider for Refusing {
    fn name(&self) -> &'static str {
        "refusing"
    }

    fn complete<'a>(&'a self, _: Task<'a>) -> ProviderFuture<'a> {
        Box::pin(async { Err(ProviderError::Refused("status 400".into())) })
    }
}

#[tokio::test]
async fn a_failed_job_is_counted_under_the_outcome_the_failure_alarm_reads() {
    let capture = capture();
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let request = json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Fractions"});
    let message = app.queued_job(&admin, request).await;
    let batch = crate::helpers::sqs_event(&[("failing", serde_json::to_string(&message).unwrap(), 1)]);
    assert!(app.worker(Refusing).handle(batch).await.batch_item_failures.is_empty(), "failed for good");
    let lines = capture.lines();
    let docs = metric_documents(&lines);
    let job = docs
        .iter()
        .find(|doc| doc["request_id"] == message.request_id && doc.get("Jobs").is_some())
        .expect("the job's metric document");
    assert_emf(job);
    // JobFailureRateAlarm (template.yaml) divides Outcome=failed by failed + succeeded.
    assert_eq!((job["Outcome"].as_str(), job["Jobs"].as_f64()), (Some("failed"), Some(1.0)));
    assert_eq!(job["provider"], "refusing");
}
