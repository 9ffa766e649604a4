//! The generation worker under load, through the local queue poller: jobs
//! per second with the template provider, and how one batch of ten behaves
//! when every provider call takes a second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use domain::clock::SystemClock;
use domain::ids::{JobId, UserId};
use domain::job::{Job, JobMessage, JobStatus};
use domain::tenancy::Tenant;
use integrations::generation::provider::{Provider, ProviderFuture, Task};
use integrations::generation::template::TemplateProvider;
use integrations::pusher::Realtime;
use serde_json::json;
use store::AppState;
use store::aws::AwsClients;
use toolbox_content_worker::Worker;
use toolbox_local::provision::Provisioned;
use toolbox_local::template::Template;
use toolbox_local::worker::Poller;

type Error = Box<dyn std::error::Error + Send + Sync>;

const JOBS: usize = 50;

/// The template provider, a second late on every call.
struct Slow;

impl Provider for Slow {
    fn name(&self) -> &'static str {
        "slow-template"
    }

    fn complete<'a>(&'a self, task: Task<'a>) -> ProviderFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            TemplateProvider.complete(task).await
        })
    }
}

async fn queued(state: &AppState, tenant: &Tenant, user: &UserId) -> Result<JobMessage, Error> {
    let id = JobId::new();
    let request = serde_json::from_value(json!({
        "type": "lesson", "subject": "Biology", "grade_level": 7, "topic": "Photosynthesis", "num_questions": 5
    }))?;
    let job = Job::queued(id.clone(), tenant, request, format!("bench-{id}"), user, state.now());
    state.db.create(&tenant.job(&id), &job).await?;
    Ok(job.message())
}

async fn succeeded(state: &AppState, tenant: &Tenant, messages: &[JobMessage]) -> Result<usize, Error> {
    let mut done = 0;
    for message in messages {
        let job: Option<Job> = state.db.get(&tenant.job(&message.job_id)).await?;
        done += usize::from(job.is_some_and(|job| job.status == JobStatus::Succeeded));
    }
    Ok(done)
}

pub async fn run(template: &Template, provisioned: &Provisioned) -> Result<(), Error> {
    let sdk = store::aws::load_sdk_config().await;
    let config = toolbox_local::config(template, provisioned)?;
    let state = AppState::new(config, AwsClients::new(&sdk), Arc::new(SystemClock));
    let tenant = Tenant::for_new_organization();
    let user = UserId::new();
    let worker = |provider: Arc<dyn Provider>| {
        Arc::new(Worker {
            state: state.clone(),
            provider,
            realtime: Realtime::new(None, state.aws.secrets.clone()),
            lease_seconds: 120,
        })
    };

    println!("\n### The generation worker (lessons with a 5-question quiz)\n");
    println!("| case | jobs | seconds | jobs/s |\n|---|---|---|---|");
    let mut messages = Vec::new();
    for _ in 0..JOBS {
        messages.push(queued(&state, &tenant, &user).await?);
    }
    for message in &messages {
        state
            .aws
            .sqs()
            .send_message()
            .queue_url(&state.config.queue_url)
            .message_body(serde_json::to_string(message)?)
            .send()
            .await?;
    }
    let poller = Poller {
        worker: worker(Arc::new(TemplateProvider)),
        sqs: state.aws.sqs().clone(),
        queue_url: state.config.queue_url.clone(),
        visibility_timeout: None,
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if poller.poll_once().await? == 0 && succeeded(&state, &tenant, &messages).await? == JOBS {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = succeeded(&state, &tenant, &messages).await?;
    println!(
        "| template provider, through the local queue poller | {done} | {elapsed:.2} | {:.1} |",
        done as f64 / elapsed
    );

    // One batch of ten straight into the handler, each call a second late:
    // three stages per lesson, so 3 s if the batch runs concurrently, 30 s if not.
    let mut event = SqsEvent::default();
    let mut batch = Vec::new();
    for i in 0..10 {
        let message = queued(&state, &tenant, &user).await?;
        let mut record = SqsMessage::default();
        record.message_id = Some(format!("slow-{i}"));
        record.body = Some(serde_json::to_string(&message)?);
        record.attributes.insert("ApproximateReceiveCount".into(), "1".into());
        event.records.push(record);
        batch.push(message);
    }
    let started = Instant::now();
    let response = worker(Arc::new(Slow)).handle(event).await;
    let elapsed = started.elapsed().as_secs_f64();
    let done = succeeded(&state, &tenant, &batch).await?;
    println!(
        "| a batch of 10, provider 1 s per call ({} retried) | {done} | {elapsed:.2} | {:.1} |",
        response.batch_item_failures.len(),
        done as f64 / elapsed
    );
    Ok(())
}
