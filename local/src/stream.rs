//! The local twin of Lambda's DynamoDB stream event source mapping: reads
//! the table's stream in moto once a batching window and hands the keys
//! that changed to the dashboard-events function's own announcer.

use std::sync::Arc;

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use toolbox_dashboard_events::Announcer;

/// `MaximumBatchingWindowInSeconds` of the stream's event source in template.yaml.
const BATCHING_WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

/// Who DynamoDB names for the deletions its TTL makes: no number moved.
const TTL_DELETER: &str = toolbox_dashboard_events::TTL_DELETER;

type Error = String;

fn failed(err: impl std::fmt::Debug) -> Error {
    format!("{err:?}")
}

pub struct StreamPoller {
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub announcer: Arc<Announcer>,
    /// Where each shard's next read starts.
    iterators: Vec<String>,
}

impl StreamPoller {
    /// A poller of the latest stream of `table`, from its newest change on.
    pub async fn new(
        streams: aws_sdk_dynamodbstreams::Client,
        table: &str,
        announcer: Arc<Announcer>,
    ) -> Result<Self, Error> {
        let listed = streams.list_streams().table_name(table).send().await.map_err(failed)?;
        let arn = listed
            .streams
            .unwrap_or_default()
            .into_iter()
            .filter_map(|stream| stream.stream_arn)
            .next_back()
            .ok_or_else(|| format!("the table {table} has no stream"))?;
        let described = streams.describe_stream().stream_arn(&arn).send().await.map_err(failed)?;
        let shards = described.stream_description.and_then(|d| d.shards).unwrap_or_default();
        let mut iterators = Vec::new();
        for shard in shards.into_iter().filter_map(|shard| shard.shard_id) {
            let iterator = streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(shard)
                .shard_iterator_type(ShardIteratorType::Latest)
                .send()
                .await
                .map_err(failed)?;
            iterators.extend(iterator.shard_iterator);
        }
        Ok(Self { streams, announcer, iterators })
    }

    /// Polls until the task is dropped or aborted.
    pub async fn run(mut self) {
        loop {
            tokio::time::sleep(BATCHING_WINDOW).await;
            if let Err(err) = self.poll_once().await {
                tracing::warn!(error = %err, "reading the table's stream failed");
            }
        }
    }

    /// Reads what changed since the last read, and announces it; returns how
    /// many organizations were announced.
    pub async fn poll_once(&mut self) -> Result<usize, Error> {
        let mut partitions = Vec::new();
        for iterator in self.iterators.iter_mut() {
            // A failed read keeps its iterator, to be tried again next window.
            let read = self.streams.get_records().shard_iterator(iterator.as_str()).send().await.map_err(failed)?;
            for record in read.records.unwrap_or_default() {
                if record.user_identity.is_some_and(|who| who.principal_id() == Some(TTL_DELETER)) {
                    continue;
                }
                let pk = record.dynamodb.and_then(|change| change.keys).and_then(|mut keys| keys.remove("pk"));
                if let Some(aws_sdk_dynamodbstreams::types::AttributeValue::S(pk)) = pk {
                    partitions.push(pk);
                }
            }
            if let Some(next) = read.next_shard_iterator {
                *iterator = next;
            }
        }
        Ok(self.announcer.announce(partitions.iter().map(String::as_str)).await)
    }
}
