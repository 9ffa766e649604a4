//! The generation worker against the local stack: claims, the pipeline,
//! where results are stored, and which messages are retried.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsBatchResponse;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use domain::content::ContentItem;
use domain::generation::content::GeneratedContent;
use domain::ids::JobId;
use domain::job::{Job, JobMessage, JobStatus};
use domain::tenancy::Tenant;
use integrations::generation::provider::{Provider, ProviderError, ProviderFuture, Stage, Task};
use integrations::generation::template::TemplateProvider;
use serde_json::{Value, json};
use store::db::Range;
use toolbox_content_worker::{Call, MAX_RECEIVES, REDELIVER_AFTER_SECONDS, RELEASE_MARGIN, Worker};

use crate::helpers::{Account, TestApp, sqs_event};

/// A job as `POST /content/generate` writes it, with no message on the
/// shared queue: the test hands the message to the worker itself.
async fn queued_job(app: &TestApp, admin: &Account, request: Value) -> JobMessage {
    app.queued_job(admin, request).await
}

fn lesson() -> Value {
    json!({"type": "lesson", "subject": "Biology", "grade_level": 7, "topic": "Photosynthesis",
           "learning_objectives": ["Explain what chlorophyll does"]})
}

fn worker(app: &TestApp, provider: impl Provider + 'static) -> Arc<Worker> {
    app.worker(provider)
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

async fn job(app: &TestApp, tenant: &Tenant, message: &JobMessage) -> Job {
    app.state.db.get(&tenant.job(&message.job_id)).await.unwrap().unwrap()
}

/// The ids `GET /content/jobs?status=` lists (read from gsi1).
async fn listed(app: &TestApp, admin: &Account, status: &str) -> Vec<String> {
    let page = app.get(&format!("/api/v1/content/jobs?status={status}")).bearer(&admin.access_token).send().await;
    page.data().as_array().unwrap().iter().map(|job| job["id"].as_str().unwrap().to_owned()).collect()
}

async fn contents(app: &TestApp, tenant: &Tenant) -> Vec<ContentItem> {
    let listing = tenant.listing(Tenant::CONTENT_PREFIX);
    let range = Range::listing(&listing, "");
    app.state.db.query(&range, 100, None).await.unwrap().items
}

#[tokio::test]
async fn a_job_runs_to_succeeded_and_its_content_is_stored() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let tenant = admin.tenant();
    let message = queued_job(&app, &admin, lesson()).await;
    let response =
        worker(&app, TemplateProvider).handle(sqs_event(&[("m1", serde_json::to_string(&message).unwrap(), 1)])).await;
    assert!(failed_ids(&response).is_empty());
    let done = job(&app, &tenant, &message).await;
    assert_eq!((done.status, done.progress, done.attempts), (JobStatus::Succeeded, 100, 1));
    let stored = contents(&app, &tenant).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(done.content_id.as_ref(), Some(&stored[0].id));
    assert_eq!(stored[0].provider, "template");
    let body = stored[0].body.clone().expect("a small body lives in the item");
    assert!(body.review(&done.request).is_empty());
}

#[tokio::test]
async fn a_duplicate_or_late_message_never_runs_a_job_twice() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let tenant = admin.tenant();
    let message = queued_job(&app, &admin, lesson()).await;
    let body = serde_json::to_string(&message).unwrap();
    let worker = worker(&app, TemplateProvider);
    // Two deliveries at once: one runs, the other finds it held or done.
    let (a, b) = tokio::join!(
        worker.handle(sqs_event(&[("m1", body.clone(), 1)])),
        worker.handle(sqs_event(&[("m2", body.clone(), 1)]))
    );
    assert!(failed_ids(&a).len() + failed_ids(&b).len() <= 1);
    // A redelivery after it finished is acknowledged without rework.
    let late = worker.handle(sqs_event(&[("m3", body, 2)])).await;
    assert!(failed_ids(&late).is_empty());
    assert_eq!(contents(&app, &tenant).await.len(), 1);
    assert_eq!(job(&app, &tenant, &message).await.attempts, 1);
}

#[tokio::test]
async fn poison_messages_are_left_for_the_dead_letter_queue_and_others_in_the_batch_still_run() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let message = queued_job(&app, &admin, lesson()).await;
    let missing = JobMessage { job_id: JobId::new(), ..message.clone() };
    let response = worker(&app, TemplateProvider)
        .handle(sqs_event(&[
            ("poison", "not json".into(), 1),
            ("good", serde_json::to_string(&message).unwrap(), 1),
            ("orphan", serde_json::to_string(&missing).unwrap(), 1),
        ]))
        .await;
    // Only the poison message is retried; a job that does not exist is dropped.
    assert_eq!(failed_ids(&response), vec!["poison".to_owned()]);
    assert_eq!(job(&app, &admin.tenant(), &message).await.status, JobStatus::Succeeded);
}

/// Answers like the template provider, after `change` had its way.
pub(crate) struct Tweaked<F>(pub(crate) F);

impl<F> Provider for Tweaked<F>
where
    F: Fn(Stage, Value) -> Result<Value, ProviderError> + Send + Sync,
{
    fn name(&self) -> &'static str {
        "tweaked"
    }

    fn complete<'a>(&'a self, task: Task<'a>) -> ProviderFuture<'a> {
        Box::pin(async move {
            let answer = TemplateProvider.complete(task).await?;
            (self.0)(task.stage, answer)
        })
    }
}

#[tokio::test]
async fn content_that_fails_review_twice_fails_the_job_with_the_reason() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let message = queued_job(&app, &admin, lesson()).await;
    let bad_answers = Tweaked(|stage, mut answer: Value| {
        match stage {
            Stage::Quiz => answer["questions"][0]["answer_index"] = json!(7),
            Stage::Repair => answer["quiz"][0]["answer_index"] = json!(7),
            _ => {}
        }
        Ok(answer)
    });
    let response =
        worker(&app, bad_answers).handle(sqs_event(&[("m1", serde_json::to_string(&message).unwrap(), 1)])).await;
    assert!(failed_ids(&response).is_empty(), "a failed review is final, not retried");
    let failed = job(&app, &admin.tenant(), &message).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.error.as_deref().unwrap().starts_with("review_failed: question 1"), "{:?}", failed.error);
    assert_eq!(listed(&app, &admin, "failed").await, vec![message.job_id.to_string()]);
    assert!(listed(&app, &admin, "running").await.is_empty());
    assert!(contents(&app, &admin.tenant()).await.is_empty());
}

#[tokio::test]
async fn provider_failures_are_retried_until_the_last_receive_or_fail_fast_when_unavailable() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let tenant = admin.tenant();
    let down = || Tweaked(|_, _| Err(ProviderError::Server(503)));

    let message = queued_job(&app, &admin, lesson()).await;
    let body = serde_json::to_string(&message).unwrap();
    let response = worker(&app, down()).handle(sqs_event(&[("m1", body.clone(), 1)])).await;
    assert_eq!(failed_ids(&response), vec!["m1".to_owned()]);
    assert_eq!(job(&app, &tenant, &message).await.status, JobStatus::Queued, "released for the next delivery");
    assert_eq!(listed(&app, &admin, "queued").await, vec![message.job_id.to_string()]);
    assert!(listed(&app, &admin, "running").await.is_empty());
    let last = worker(&app, down()).handle(sqs_event(&[("m1", body, MAX_RECEIVES)])).await;
    assert!(failed_ids(&last).is_empty());
    let failed = job(&app, &tenant, &message).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.error.as_deref().unwrap().starts_with("provider_failed"), "{:?}", failed.error);

    let message = queued_job(&app, &admin, lesson()).await;
    let unavailable = Tweaked(|_, _| Err(ProviderError::Unavailable));
    let response =
        worker(&app, unavailable).handle(sqs_event(&[("m2", serde_json::to_string(&message).unwrap(), 1)])).await;
    assert!(failed_ids(&response).is_empty());
    assert_eq!(job(&app, &tenant, &message).await.error.as_deref(), Some("provider_unavailable"));
}

/// Answers the outline, then never answers again: a model that hangs.
struct Stalled;

impl Provider for Stalled {
    fn name(&self) -> &'static str {
        "stalled"
    }

    fn complete<'a>(&'a self, task: Task<'a>) -> ProviderFuture<'a> {
        Box::pin(async move {
            if task.stage != Stage::Outline {
                std::future::pending::<()>().await;
            }
            TemplateProvider.complete(task).await
        })
    }
}

/// An invocation Lambda stops `left` after the margin the worker keeps back.
fn call_with(left: Duration) -> Call {
    Call { deadline: Some(tokio::time::Instant::now() + RELEASE_MARGIN + left), ..Call::default() }
}

#[tokio::test]
async fn a_job_that_cannot_finish_before_the_deadline_is_released_and_fails_on_its_last_receive() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let tenant = admin.tenant();
    let message = queued_job(&app, &admin, lesson()).await;
    let body = serde_json::to_string(&message).unwrap();
    let batch = sqs_event(&[("m1", body.clone(), 1)]);
    let response = worker(&app, Stalled).handle_within(batch, call_with(Duration::from_millis(300))).await;
    assert_eq!(failed_ids(&response), vec!["m1".to_owned()], "left for redelivery");
    let released = job(&app, &tenant, &message).await;
    assert_eq!((released.status, released.attempts, released.lease_until), (JobStatus::Queued, 1, None));

    // No time left at all: the message goes back without a claim.
    let response =
        worker(&app, Stalled).handle_within(sqs_event(&[("m1", body.clone(), 2)]), call_with(Duration::ZERO)).await;
    assert_eq!(failed_ids(&response), vec!["m1".to_owned()]);
    assert_eq!(job(&app, &tenant, &message).await.attempts, 1, "not claimed");

    let last = sqs_event(&[("m1", body, MAX_RECEIVES)]);
    let response = worker(&app, Stalled).handle_within(last, call_with(Duration::from_millis(300))).await;
    assert!(failed_ids(&response).is_empty(), "the last receive settles the job");
    let failed = job(&app, &tenant, &message).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.error.as_deref().unwrap().starts_with("timed_out"), "{:?}", failed.error);
}

#[tokio::test]
async fn a_released_job_comes_back_soon_not_after_the_queues_visibility_timeout() {
    // A queue of this test's own, which would hide a received message ten minutes.
    let sqs = aws_sdk_sqs::Client::new(&store::aws::load_sdk_config().await);
    let name = format!("toolbox-test-release-{}", ulid::Ulid::new().to_string().to_lowercase());
    let created = sqs.create_queue().queue_name(&name).attributes(QueueAttributeName::VisibilityTimeout, "600");
    let queue_url = created.send().await.unwrap().queue_url.unwrap();
    let app = TestApp::spawn_with(|config| config.queue_url = queue_url.clone()).await;
    let admin = app.register_org().await;
    let message = queued_job(&app, &admin, lesson()).await;
    let body = serde_json::to_string(&message).unwrap();
    sqs.send_message().queue_url(&queue_url).message_body(body).send().await.unwrap();
    let receive = || {
        sqs.receive_message()
            .queue_url(&queue_url)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
    };
    let first = receive().send().await.unwrap().messages.unwrap_or_default();
    assert_eq!(first.len(), 1);
    let mut batch = aws_lambda_events::sqs::SqsEvent::default();
    batch.records.push(toolbox_local::worker::record_of(&first[0]));
    let response = worker(&app, Stalled).handle_within(batch, call_with(Duration::from_millis(300))).await;
    assert_eq!(failed_ids(&response).len(), 1);

    assert!(receive().send().await.unwrap().messages.unwrap_or_default().is_empty(), "hidden for now");
    let mut again = Vec::new();
    for _ in 0..(REDELIVER_AFTER_SECONDS + 10) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        again = receive().send().await.unwrap().messages.unwrap_or_default();
        if !again.is_empty() {
            break;
        }
    }
    let again = again.first().expect("delivered again within seconds, not ten minutes");
    assert_eq!(again.attributes.as_ref().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount], "2");
    assert_eq!(job(&app, &admin.tenant(), &message).await.status, JobStatus::Queued);
}

/// A lesson of six sections of about 19,000 characters: each within the
/// review's limit, together over what an item may hold inline.
pub(crate) fn long_lesson() -> Tweaked<impl Fn(Stage, Value) -> Result<Value, ProviderError> + Send + Sync> {
    Tweaked(|stage, mut answer: Value| {
        let headings: Vec<String> = (1..=6).map(|i| format!("Part {i}")).collect();
        match stage {
            Stage::Outline => {
                answer["sections"] = json!(headings.iter().map(|h| json!({"heading": h})).collect::<Vec<_>>())
            }
            Stage::Content => {
                let body = "Chlorophyll absorbs light. ".repeat(700);
                answer["sections"] =
                    json!(headings.iter().map(|h| json!({"heading": h, "body": body})).collect::<Vec<_>>());
            }
            _ => {}
        }
        Ok(answer)
    })
}

#[tokio::test]
async fn a_large_body_is_stored_in_s3_with_a_pointer_in_the_item() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let message = queued_job(&app, &admin, lesson()).await;
    let response =
        worker(&app, long_lesson()).handle(sqs_event(&[("m1", serde_json::to_string(&message).unwrap(), 1)])).await;
    assert!(failed_ids(&response).is_empty());
    let stored = contents(&app, &admin.tenant()).await;
    assert!(stored[0].body.is_none());
    let key = stored[0].body_object.clone().expect("a pointer to the body");
    assert!(key.starts_with(&format!("org/{}/content/", admin.org_id)));
    let object = app.state.aws.s3().get_object().bucket(&app.state.config.bucket_name).key(&key).send().await.unwrap();
    let bytes = object.body.collect().await.unwrap().into_bytes();
    let body: GeneratedContent = serde_json::from_slice(&bytes).unwrap();
    assert!(bytes.len() > domain::content::INLINE_BODY_LIMIT);
    assert!(body.review(&serde_json::from_value(lesson()).unwrap()).is_empty());
}

#[tokio::test]
async fn the_local_poller_runs_jobs_and_leaves_a_poison_message_to_the_dead_letter_queue() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let message = queued_job(&app, &admin, lesson()).await;
    let sqs = app.state.aws.sqs().clone();
    let queue = app.state.config.queue_url.clone();
    let dead_letters =
        crate::helpers::stack().await.provisioned.physical_id("GenerationDeadLetterQueue").unwrap().to_owned();
    let poison = format!("poison-{}", JobId::new());
    for body in [serde_json::to_string(&message).unwrap(), poison.clone()] {
        sqs.send_message().queue_url(&queue).message_body(body).send().await.unwrap();
    }
    let poller = toolbox_local::worker::Poller {
        worker: worker(&app, TemplateProvider),
        sqs: sqs.clone(),
        queue_url: queue,
        visibility_timeout: Some(1),
    };
    let mut dead = false;
    for _ in 0..80 {
        if poller.poll_once().await.unwrap() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let found = sqs
            .receive_message()
            .queue_url(&dead_letters)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        dead = found.messages().iter().any(|m| m.body() == Some(poison.as_str()));
        if dead {
            break;
        }
    }
    assert!(dead, "the poison message never reached the dead-letter queue");
    assert_eq!(job(&app, &admin.tenant(), &message).await.status, JobStatus::Succeeded);
}
