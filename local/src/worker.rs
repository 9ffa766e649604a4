//! The local twin of Lambda's SQS event source mapping: polls a queue in
//! moto (the generation queue, the compliance queue), hands each batch to
//! its worker's own handler, deletes the messages it did not report as
//! failures and leaves those to SQS's redelivery (and, after
//! `maxReceiveCount`, the dead-letter queue). It also runs a worker's
//! schedule (the generation worker's outbox sweep).

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::sqs::SqsBatchResponse;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};

const IDLE_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);
/// `rate(1 minute)`, as the worker's schedule in template.yaml.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// A received message as Lambda's event source mapping hands it over.
pub fn record_of(message: &Message) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id.clone();
    record.receipt_handle = message.receipt_handle.clone();
    record.body = message.body.clone();
    record.event_source = Some("aws:sqs".into());
    record.attributes =
        message.attributes.iter().flatten().map(|(name, value)| (name.as_str().to_owned(), value.clone())).collect();
    record
}

/// A function an SQS event source mapping feeds.
pub trait Batches: Send + Sync {
    fn handle(&self, event: SqsEvent) -> impl Future<Output = SqsBatchResponse> + Send;
    /// What the function's schedule runs, as often as `rate(1 minute)`.
    fn every_minute(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

impl Batches for Arc<toolbox_content_worker::Worker> {
    fn handle(&self, event: SqsEvent) -> impl Future<Output = SqsBatchResponse> + Send {
        toolbox_content_worker::Worker::handle(self, event)
    }

    async fn every_minute(&self) {
        if let Err(err) = self.sweep().await {
            tracing::warn!(error = %err, "sweeping the outbox failed");
        }
    }
}

impl Batches for Arc<toolbox_compliance::worker::Worker> {
    fn handle(&self, event: SqsEvent) -> impl Future<Output = SqsBatchResponse> + Send {
        toolbox_compliance::worker::Worker::handle(self, event)
    }
}

pub struct Poller<W> {
    pub worker: W,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    /// Overrides the queue's visibility timeout for received messages, and
    /// the worker's delay for the ones it leaves, so a test need not wait
    /// for a redelivery.
    pub visibility_timeout: Option<i32>,
}

impl<W: Batches> Poller<W> {
    /// Polls until the task is dropped or aborted. Short polls with a pause
    /// when the queue is empty: a long poll would hold the local endpoint,
    /// which serves one request at a time, and stall every API call behind it.
    /// Runs the worker's schedule as often as the deployed one does.
    pub async fn run(self) {
        let mut last_sweep = tokio::time::Instant::now();
        loop {
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = tokio::time::Instant::now();
                self.worker.every_minute().await;
            }
            match self.poll_once().await {
                Ok(0) => tokio::time::sleep(IDLE_PAUSE).await,
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, queue = %self.queue_url, "polling a queue failed");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// One receive, one batch, one delete.
    pub async fn poll_once(&self) -> Result<usize, String> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .set_visibility_timeout(self.visibility_timeout)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
            .send()
            .await
            .map_err(|err| aws_sdk_sqs::error::DisplayErrorContext(err).to_string())?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(0);
        }
        let mut receipts = HashMap::new();
        let mut event = SqsEvent::default();
        for message in &messages {
            let id = message.message_id.clone().unwrap_or_default();
            receipts.insert(id.clone(), message.receipt_handle.clone().unwrap_or_default());
            event.records.push(record_of(message));
        }
        let response = self.worker.handle(event).await;
        for failure in &response.batch_item_failures {
            let receipt = receipts.remove(&failure.item_identifier);
            // The worker set when each comes back; a test's override wins.
            if let (Some(receipt), Some(seconds)) = (receipt, self.visibility_timeout) {
                let change = self.sqs.change_message_visibility().queue_url(&self.queue_url);
                change
                    .receipt_handle(receipt)
                    .visibility_timeout(seconds)
                    .send()
                    .await
                    .map_err(|err| aws_sdk_sqs::error::DisplayErrorContext(err).to_string())?;
            }
        }
        let entries: Vec<_> = receipts
            .into_iter()
            .enumerate()
            .filter_map(|(i, (_, handle))| {
                DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(handle).build().ok()
            })
            .collect();
        if !entries.is_empty() {
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| aws_sdk_sqs::error::DisplayErrorContext(err).to_string())?;
        }
        Ok(messages.len())
    }
}
