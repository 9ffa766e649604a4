//! A job and its queue message, never one without the other. SQS is not
//! part of a DynamoDB transaction, so the job is written together with an
//! outbox entry (a global item naming its message); the message is sent
//! after the write and the entry deleted once it is. If the send fails or the
//! function dies in between, the sweeper (the worker's scheduled run) sends
//! the messages of entries older than [`STUCK_AFTER_SECONDS`]. A message sent
//! twice is harmless: the worker claims each job once.

use aws_sdk_sqs::types::{MessageSystemAttributeNameForSends, MessageSystemAttributeValue};
use serde::{Deserialize, Serialize};

use crate::db::{DbError, KeyItem, Range, Write};
use crate::state::AppState;
use domain::job::{Job, JobMessage};
use domain::tenancy::{Key, global};

/// An entry this old has lost its sender; the sweeper takes over.
pub const STUCK_AFTER_SECONDS: i64 = 30;
/// Entries one sweep of one shard handles; the next sweep takes the rest.
const SWEEP_BATCH: i32 = 100;

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    message: JobMessage,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("sqs: {0}")]
    Send(String),
}

/// The entry of `job`, filed under the job's creation time.
fn entry_key(job: &Job) -> Result<Key, DbError> {
    let written_at = time::OffsetDateTime::parse(&job.audit.created_at, &time::format_description::well_known::Rfc3339)
        .map_err(|err| DbError::failed("read a job", format!("job {} has an unreadable created_at: {err}", job.id)))?;
    Ok(global::outbox(&job.id, written_at.unix_timestamp()))
}

/// The write that records `job`'s message as owed, for the job's transaction.
pub fn record(state: &AppState, job: &Job) -> Result<Write, DbError> {
    Ok(Write::Put(state.db.put_new(&entry_key(job)?, &Entry { message: job.message() })?))
}

/// Sends `job`'s message and settles its outbox entry.
pub async fn dispatch(state: &AppState, job: &Job) -> Result<(), OutboxError> {
    send_and_settle(state, &job.message(), &entry_key(job)?).await
}

async fn send_and_settle(state: &AppState, message: &JobMessage, key: &Key) -> Result<(), OutboxError> {
    let body = serde_json::to_string(message).map_err(|err| OutboxError::Send(err.to_string()))?;
    // X-Ray follows a message by its `AWSTraceHeader`: the worker's run is
    // then part of the request's trace.
    let trace = message
        .trace_header
        .as_ref()
        .map(|header| MessageSystemAttributeValue::builder().data_type("String").string_value(header).build());
    let trace = trace.transpose().map_err(|err| OutboxError::Send(err.to_string()))?;
    state
        .aws
        .sqs()
        .send_message()
        .queue_url(&state.config.queue_url)
        .message_body(body)
        .set_message_system_attributes(
            trace.map(|value| [(MessageSystemAttributeNameForSends::AwsTraceHeader, value)].into()),
        )
        .send()
        .await
        .map_err(|err| OutboxError::Send(aws_sdk_sqs::error::DisplayErrorContext(err).to_string()))?;
    state
        .db
        .client()
        .delete_item()
        .table_name(state.db.table())
        .set_key(Some(key.to_item()))
        .send()
        .await
        .map_err(crate::db::sdk("DeleteItem"))?;
    Ok(())
}

/// Sends the messages of every stuck entry; returns how many it sent. An
/// entry that cannot be read or sent is logged and left for the next sweep;
/// it never holds up the others.
pub async fn sweep(state: &AppState) -> Result<usize, OutboxError> {
    let cutoff = state.now().unix_timestamp() - STUCK_AFTER_SECONDS;
    let mut sent = 0;
    for shard in 0..global::OUTBOX_SHARDS {
        let partition = global::outbox_shard(shard);
        // Sort keys start with the zero-padded write time, oldest first.
        let range = Range::of(&partition, "0");
        let page = state.db.query::<serde_json::Value>(&range, SWEEP_BATCH, None).await?;
        for raw in page.items {
            let row = match serde_json::from_value::<EntryRow>(raw) {
                Ok(row) => row,
                Err(err) => {
                    tracing::error!(error = %err, shard, "an unreadable outbox entry; skipped");
                    continue;
                }
            };
            if row.written_at().is_none_or(|at| at >= cutoff) {
                break;
            }
            let key = Key::new(partition.clone(), row.sk.clone());
            let job_id = &row.entry.message.job_id;
            match send_and_settle(state, &row.entry.message, &key).await {
                Ok(()) => {
                    tracing::warn!(%job_id, "a stuck job message was sent by the sweeper");
                    sent += 1;
                }
                Err(err) => tracing::error!(error = %err, %job_id, "a stuck job message could not be sent"),
            }
        }
    }
    Ok(sent)
}

#[derive(Deserialize)]
struct EntryRow {
    sk: String,
    #[serde(flatten)]
    entry: Entry,
}

impl EntryRow {
    fn written_at(&self) -> Option<i64> {
        self.sk.split('#').next()?.parse().ok()
    }
}
