//! Tells an organization's staff that its dashboard numbers moved: the
//! table's stream (keys only) reaches this function in batches of up to
//! five seconds, and each organization whose daily counters or totals
//! changed gets one `dashboard.updated` event on `private-org-{org}` (its
//! admins and teachers), at most every `counters::ANNOUNCE_EVERY_SECONDS` whatever
//! the number of writes or of concurrent batches. Clients then ask for the
//! dashboard again with `Cache-Control: no-cache`. The first announcement
//! of a day also settles the days since the last one (`series::keep_up`),
//! so no day with activity waits for a reader to be kept.
//!
//! The writes that move the numbers pay nothing for it: no extra call, no
//! Pusher request in their answer's way.

use std::collections::BTreeMap;

use aws_lambda_events::dynamodb::Event;
use domain::clock::rfc3339;
use domain::tenancy::Tenant;
use integrations::pusher::Realtime;
use serde_json::json;
use store::AppState;
use store::{counters, series};

pub const EVENT: &str = "dashboard.updated";

/// Who a stream record names for the deletions DynamoDB's TTL makes: an
/// expired counter shard moves no number anyone reads.
pub const TTL_DELETER: &str = "dynamodb.amazonaws.com";

pub struct Announcer {
    pub state: AppState,
    pub realtime: Realtime,
}

impl Announcer {
    /// Announces each organization whose numbers a batch of the stream
    /// moved. A failure is logged, never returned: a stream batch that
    /// failed would be retried and hold back every later change of its shard,
    /// and an announcement is not worth that.
    pub async fn handle(&self, event: Event) -> usize {
        let by_ttl = |record: &&aws_lambda_events::dynamodb::EventRecord| {
            record.user_identity.as_ref().is_some_and(|who| who.principal_id == TTL_DELETER)
        };
        let keys = event.records.iter().filter(|record| !by_ttl(record)).filter_map(|record| {
            match record.change.keys.get("pk") {
                Some(serde_dynamo::AttributeValue::S(pk)) => Some(pk.as_str()),
                _ => None,
            }
        });
        self.announce(keys).await
    }

    /// Announces each organization one of `partitions` counts for, once;
    /// returns how many were announced.
    pub async fn announce<'a>(&self, partitions: impl IntoIterator<Item = &'a str>) -> usize {
        let moved: BTreeMap<String, Tenant> = partitions
            .into_iter()
            .filter_map(counters::counted_in)
            .map(|tenant| (tenant.org_id().to_string(), tenant))
            .collect();
        let mut announced = 0;
        for (org, tenant) in moved {
            match counters::claim_announcement(&self.state, &tenant).await {
                Ok(true) => {
                    if let Err(err) = series::keep_up(&self.state, &tenant).await {
                        tracing::warn!(error = %err, org_id = %org, "earlier days not settled");
                    }
                }
                // Announced less than ANNOUNCE_EVERY_SECONDS ago.
                Ok(false) => continue,
                Err(err) => {
                    tracing::warn!(error = %err, org_id = %org, "dashboard announcement not claimed");
                    continue;
                }
            }
            let now = self.state.now();
            let data = json!({"organization_id": org, "at": rfc3339(now)});
            let channels = [format!("private-org-{org}")];
            match self.realtime.trigger(&channels, EVENT, &data, now.unix_timestamp()).await {
                Ok(()) => announced += 1,
                Err(err) => tracing::warn!(error = %err, org_id = %org, "dashboard.updated not sent"),
            }
        }
        announced
    }
}
