//! Replays every sample event in `events/` through the handler it belongs to,
//! so the events stay true. The events act on a fixed sample tenant, seeded here.

use std::path::{Path, PathBuf};
use store::db::KeyItem;

use axum::http::StatusCode;
use credentials::password;
use domain::audit::Audit;
use domain::ids::{JobId, OrgId, SessionId, UserId};
use domain::job::{Job, JobMessage, JobStatus};
use domain::organization::{OrgSettings, OrgStatus, Organization, Tier, UsageKey};
use domain::principal::Role;
use domain::session::Session;
use domain::tenancy::{Key, Lookup, Tenant, global};
use domain::user::User;
use serde_json::Value;
use store::db::Db;
use toolbox_content_worker::{Call, Invocation, Worker};
use tower::ServiceExt;

use crate::helpers::TestApp;

const ORG: &str = "01JEVENTS0000000000000000A";
const USER: &str = "01JEVENTS0000000000000000B";
const SESSION: &str = "01JEVENTS0000000000000000C";

/// The status each API event must produce. A new event file needs a line here.
const EXPECTED: &[(&str, &str, u16)] = &[
    ("health/ready.json", "HealthFunction", 200),
    ("auth/register.json", "AuthFunction", 201),
    ("auth/login.json", "AuthFunction", 200),
    ("auth/me.json", "AuthFunction", 200),
    ("organizations/get-current.json", "OrganizationsFunction", 200),
    ("organizations/get-usage.json", "OrganizationsFunction", 200),
    ("organizations/list-members.json", "OrganizationsFunction", 200),
    ("organizations/create-invite.json", "OrganizationsFunction", 201),
    ("api-keys/create-key.json", "ApiKeysFunction", 201),
    ("api-keys/list-keys.json", "ApiKeysFunction", 200),
    ("classes/create-class.json", "ClassesFunction", 201),
    ("classes/list-classes.json", "ClassesFunction", 200),
    ("lessons/create-lesson.json", "LessonsFunction", 201),
    ("lessons/list-lessons.json", "LessonsFunction", 200),
    ("assessments/create-assessment.json", "AssessmentsFunction", 201),
    ("assessments/list-assessments.json", "AssessmentsFunction", 200),
    ("messages/list-messages.json", "MessagesFunction", 200),
    ("content/generate.json", "ContentFunction", 202),
    ("content/list-jobs.json", "ContentFunction", 200),
    ("content/list-content.json", "ContentFunction", 200),
    ("content/search.json", "ContentFunction", 200),
    ("realtime/pusher-auth.json", "RealtimeFunction", 200),
    ("dashboard/metrics.json", "DashboardFunction", 200),
    ("dashboard/statistics.json", "DashboardFunction", 200),
    ("dashboard/activity.json", "DashboardFunction", 200),
    ("dashboard/overview.json", "DashboardFunction", 200),
    ("dashboard/export.json", "DashboardFunction", 200),
    ("analytics/trend.json", "AnalyticsFunction", 200),
    ("analytics/cohorts.json", "AnalyticsFunction", 200),
    ("analytics/custom-query.json", "AnalyticsFunction", 201),
    // Exports the result the event above kept: its `query_id` stands for
    // REPLACE_WITH_QUERY_ID.
    ("analytics/export.json", "AnalyticsFunction", 200),
    ("payments/subscription.json", "PaymentsFunction", 200),
    ("compliance/list-audit-logs.json", "ComplianceFunction", 200),
    ("roblox/list-environments.json", "RobloxFunction", 200),
];
/// Events for non-HTTP handlers, replayed by their own tests below.
const OTHER_TRIGGERS: &[&str] = &[
    "authorizer/request.json",
    "authorizer/request-api-key.json",
    "content-worker/job.json",
    "content-worker/schedule.json",
    "dashboard-events/stream.json",
    // Signed by Stripe's scheme with `whsec_sample_events` at their
    // `requestTimeEpoch`; replayed by their own test below.
    "payments/webhook-subscription-created.json",
    "payments/webhook-subscription-deleted.json",
];

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn event_files() -> Vec<String> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(events_dir()).unwrap() {
        let dir = dir.unwrap().path();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            files.push(file.strip_prefix(events_dir()).unwrap().to_string_lossy().into_owned());
        }
    }
    files.sort();
    files
}

async fn put<T: serde::Serialize>(app: &TestApp, key: &Key, value: &T) {
    app.state
        .aws
        .dynamodb
        .put_item()
        .table_name(&app.state.config.table_name)
        .set_item(Some(Db::item(key, value).unwrap()))
        .send()
        .await
        .expect("seed put");
}

/// The sample user's password hash, one per run: tests that seed the same
/// user at the same moment write the same hash, so a sign-in between two
/// seeds still finds the password it checked.
async fn events_password_hash() -> String {
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    HASH.get_or_init(|| async { password::hash("events-password-1".into()).await.unwrap() }).await.clone()
}

/// The sample tenant the events name, in the state the events expect.
async fn seed(app: &TestApp) {
    let (org_id, user_id, session_id): (OrgId, UserId, SessionId) =
        (ORG.parse().unwrap(), USER.parse().unwrap(), SESSION.parse().unwrap());
    let tenant = Tenant::claimed_by_credential(&org_id);
    app.state.db.sealing(&tenant).await.expect("the sample tenant's data key");
    let now = app.state.now();
    let org = Organization {
        id: org_id.clone(),
        name: "Sample School".to_owned().try_into().unwrap(),
        status: OrgStatus::Active,
        tier: Tier::Free,
        usage_key: Some(UsageKey { id: "sample-key".into(), value: "sample-usage-key".into() }),
        settings: OrgSettings::default(),
        billing_status: Default::default(),
        admin_count: 1,
        audit: Audit::new(&user_id, now),
    };
    let user = User {
        id: user_id.clone(),
        org_id: org_id.clone(),
        email: "events-admin@example.com".to_owned().try_into().unwrap(),
        username: None,
        first_name: "Eve".to_owned().try_into().unwrap(),
        last_name: "Ents".to_owned().try_into().unwrap(),
        role: Role::Admin,
        password_hash: events_password_hash().await,
        sessions: [(session_id.clone(), now.unix_timestamp() + 3600)].into(),
        api_keys: Default::default(),
        last_active_day: None,
        student_since: None,
        consents: Default::default(),
        erasure_id: None,
        gsi1pk: domain::user::directory::of(&tenant, Role::Admin),
        gsi1sk: tenant.user(&user_id).sk,
        audit: Audit::new(&user_id, now),
    };
    let session = Session::start(user_id.clone(), session_id.clone(), store::secret::sha256_hex(b"sample"), now, 3600);
    put(app, &tenant.organization(), &org).await;
    put(app, &tenant.user(&user_id), &user).await;
    put(app, &tenant.session(&user_id, &session_id), &session).await;
    let pointer = Lookup { org_id, user_id: Some(user_id), invite_id: None, expires_at: None };
    let admin_email = "events-admin@example.com".to_owned().try_into().unwrap();
    put(app, &store::blind_index::email(&app.state, &admin_email).await.unwrap(), &pointer).await;
    // The register event creates this account; a second run must be able to again.
    app.state
        .aws
        .dynamodb
        .delete_item()
        .table_name(&app.state.config.table_name)
        .set_key(Some(
            store::blind_index::email(&app.state, &"events-register@example.com".to_owned().try_into().unwrap())
                .await
                .unwrap()
                .to_item(),
        ))
        .send()
        .await
        .expect("seed delete");
}

#[tokio::test]
async fn every_event_file_is_replayed() {
    let known: Vec<&str> = EXPECTED.iter().map(|(f, _, _)| *f).chain(OTHER_TRIGGERS.iter().copied()).collect();
    for file in event_files() {
        assert!(known.contains(&file.as_str()), "events/{file} has no expected outcome in tests/api/events.rs");
    }
}

#[tokio::test]
async fn api_events_replay_through_their_functions() {
    assert!(
        std::env::var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_ok(),
        "set AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH as template.yaml does (make test does)"
    );
    let app = TestApp::spawn_with(|config| config.pusher = Some(crate::helpers::pusher("http://127.0.0.1:9"))).await;
    seed(&app).await;
    let mut query_id = String::new();
    for (file, function, status) in EXPECTED {
        let text =
            std::fs::read_to_string(events_dir().join(file)).unwrap().replace("REPLACE_WITH_QUERY_ID", &query_id);
        let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("events/{file}: {e}"));
        let router = toolbox_local::function_routes(function).unwrap().into_router(app.state.clone());
        let response = router.oneshot(request).await.unwrap();
        let got = response.status();
        let request_id = response.headers().get("x-request-id").cloned();
        let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        assert_eq!(got, StatusCode::from_u16(*status).unwrap(), "events/{file}: {}", String::from_utf8_lossy(&body));
        assert_eq!(request_id.unwrap(), "sample-event-request", "events/{file}");
        let json: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("events/{file}: {e}"));
        // Enveloped answers carry it in `metadata` too (`/pusher/auth` answers in Pusher's shape).
        if json.get("metadata").is_some() {
            assert_eq!(json["metadata"]["request_id"], "sample-event-request", "events/{file}");
        }
        if let Some(id) = json["data"]["query_id"].as_str() {
            query_id = id.to_owned();
        }
    }
}

#[tokio::test]
async fn the_authorizer_event_replays_through_the_authorizer() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let text = std::fs::read_to_string(events_dir().join("authorizer/request.json")).unwrap();

    // As committed, the placeholder token is refused with API Gateway's 401 message.
    let event = serde_json::from_str(&text).unwrap();
    let refused = toolbox_authorizer::handle(&app.state, event).await.unwrap_err();
    assert_eq!(refused.to_string(), "Unauthorized");

    // With a real token for the sample session, the sample tenant is allowed.
    let keys = app.state.key_set().await.unwrap();
    let token = credentials::jwt::issue(
        &keys,
        &app.state.config,
        app.state.now(),
        &credentials::jwt::Subject { user_id: USER, org_id: ORG, role: "admin", session_id: SESSION },
    );
    let event = serde_json::from_str(&text.replace("REPLACE_WITH_ACCESS_TOKEN", &token)).unwrap();
    let allowed = serde_json::to_value(toolbox_authorizer::handle(&app.state, event).await.unwrap()).unwrap();
    assert_eq!(allowed["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(allowed["context"]["tenant_id"], ORG);
    assert_eq!(allowed["principalId"], USER);
}

#[tokio::test]
async fn the_api_key_authorizer_event_replays_through_the_authorizer() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let text = std::fs::read_to_string(events_dir().join("authorizer/request-api-key.json")).unwrap();
    let refused = toolbox_authorizer::handle(&app.state, serde_json::from_str(&text).unwrap()).await.unwrap_err();
    assert_eq!(refused.to_string(), "Unauthorized");

    // The seeded session's token: every test's seed writes that same session
    // again, where a login's own session would be dropped by a concurrent seed.
    let keys = app.state.key_set().await.unwrap();
    let subject = credentials::jwt::Subject { user_id: USER, org_id: ORG, role: "admin", session_id: SESSION };
    let token = credentials::jwt::issue(&keys, &app.state.config, app.state.now(), &subject);
    let created = app
        .post("/api/v1/api-keys")
        .bearer(&token)
        .json(serde_json::json!({"name": "event", "scopes": ["read"], "ip_allowlist": ["203.0.113.0/24"]}))
        .send()
        .await;
    let key = created.data()["key"].as_str().unwrap();
    let event = serde_json::from_str(&text.replace("REPLACE_WITH_API_KEY", key)).unwrap();
    let allowed = serde_json::to_value(toolbox_authorizer::handle(&app.state, event).await.unwrap()).unwrap();
    assert_eq!(allowed["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(allowed["context"]["tenant_id"], ORG);
    assert_eq!(allowed["context"]["auth_method"], "api_key");
    assert_eq!(allowed["usageIdentifierKey"], "sample-usage-key");
}

fn sample_worker(app: &TestApp) -> std::sync::Arc<Worker> {
    app.worker(integrations::generation::template::TemplateProvider)
}

fn sample_job(id: JobId, request_id: String, at: time::OffsetDateTime) -> Job {
    let request = serde_json::from_value(serde_json::json!(
        {"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Fractions"}
    ))
    .unwrap();
    let tenant = Tenant::claimed_by_credential(&ORG.parse().unwrap());
    Job::queued(id, &tenant, request, request_id, &USER.parse().unwrap(), at)
}

#[tokio::test]
async fn the_queue_event_replays_through_the_worker() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let text = std::fs::read_to_string(events_dir().join("content-worker/job.json")).unwrap();
    let payload: Value = serde_json::from_str(&text).unwrap();
    let message: JobMessage = serde_json::from_str(payload["Records"][0]["body"].as_str().unwrap()).unwrap();
    let tenant = Tenant::claimed_by_credential(&ORG.parse().unwrap());
    let job = sample_job(message.job_id.clone(), message.request_id.clone(), app.state.now());
    // A fresh queued job each run, as the API would have written it.
    put(&app, &tenant.job(&job.id), &job).await;
    let answer = sample_worker(&app).invoke(Invocation::of(payload).unwrap(), Call::default()).await.unwrap();
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]));
    let done: Job = app.state.db.get(&tenant.job(&job.id)).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
}

#[tokio::test]
async fn the_schedule_event_sweeps_the_outbox() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let tenant = Tenant::claimed_by_credential(&ORG.parse().unwrap());
    // A job whose sender died a minute ago: stored, its message never sent.
    let written = app.state.now() - time::Duration::minutes(1);
    let job = sample_job(JobId::new(), "sample-event-request".into(), written);
    app.state
        .db
        .transact(vec![
            store::db::Write::Put(app.state.db.put_new(&tenant.job(&job.id), &job).unwrap()),
            store::outbox::record(&app.state, &job).unwrap(),
        ])
        .await
        .unwrap();
    let text = std::fs::read_to_string(events_dir().join("content-worker/schedule.json")).unwrap();
    let payload: Value = serde_json::from_str(&text).unwrap();
    let answer = sample_worker(&app).invoke(Invocation::of(payload).unwrap(), Call::default()).await.unwrap();
    // Other tests' stuck entries may be swept by either sweep: only this one is ours to check.
    assert!(answer["sent"].is_u64(), "{answer}");
    let entry = global::outbox(&job.id, written.unix_timestamp());
    assert!(app.raw_item(&entry).await.is_none(), "the stuck entry was sent and settled");
}

#[tokio::test]
async fn the_signed_sample_webhooks_replay_through_the_payments_function() {
    use domain::billing::{Interval, PaidTier};
    use store::config::{Price, StripeConfig};
    let keys = serde_json::json!({"webhook_secret": "whsec_sample_events"});
    let config = StripeConfig {
        prices: vec![Price { id: "price_sample_pro_month".into(), tier: PaidTier::Pro, interval: Interval::Month }],
        ..crate::payments::stripe_config("http://127.0.0.1:9", keys).await
    };
    let app = TestApp::spawn_with(|c| c.stripe = Some(config)).await;
    // The events' customer is a fresh organisation's, at the moment they were signed.
    let admin = app.register_org().await;
    let lookup = Lookup::organization(admin.org_id.parse().unwrap());
    put(&app, &global::stripe_customer("cus_sample_events"), &lookup).await;
    let signed_at = 1_795_776_000;
    app.clock.advance(signed_at - app.state.now().unix_timestamp());
    app.clock.freeze();
    let router = toolbox_local::function_routes("PaymentsFunction").unwrap().into_router(app.state.clone());
    let replay = |file: &'static str| {
        let router = router.clone();
        async move {
            let text = std::fs::read_to_string(events_dir().join(file)).unwrap();
            let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("events/{file}: {e}"));
            let response = router.oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "events/{file}");
            let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
            serde_json::from_slice::<Value>(&body).unwrap()["data"]["outcome"].as_str().unwrap().to_owned()
        }
    };
    let tier =
        || async { app.state.db.get::<Organization>(&admin.tenant().organization()).await.unwrap().unwrap().tier };
    assert_eq!(replay("payments/webhook-subscription-created.json").await, "applied");
    assert_eq!(tier().await, Tier::Pro);
    assert_eq!(replay("payments/webhook-subscription-created.json").await, "duplicate");
    assert_eq!(replay("payments/webhook-subscription-deleted.json").await, "applied");
    assert_eq!(tier().await, Tier::Free);
}
