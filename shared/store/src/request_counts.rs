//! Requests per organization per UTC day, counted by the authorizer beside
//! its own read (so counting adds no round trip) and read by `GET
//! /organizations/current/usage` against the plan's quota. API Gateway
//! counts the same requests for the quota it enforces, but its `GetUsage`
//! cannot be served by the local stack, so the platform keeps its own count.
//!
//! A tenant at its plan's full rate (1,000 requests a second for
//! enterprise) writes [`SHARDS`] items, each well under DynamoDB's 1,000
//! writes a second per partition; a count is the sum of its shards.

use std::collections::BTreeMap;

use domain::day::Day;
use domain::tenancy::{Key, Tenant};

use crate::db::{DbError, Range};
use crate::state::AppState;

pub const SHARDS: u32 = 8;

/// Counts are kept a little over a month, the longest period a plan's
/// quota may have.
const KEEP_SECONDS: i64 = 40 * 24 * 3600;

/// Adds one request of `tenant`'s to today's count, in a shard picked at random.
pub async fn count(state: &AppState, tenant: &Tenant) -> Result<(), DbError> {
    let now = state.now();
    let key = Key::new(tenant.request_counts(rand::random_range(0..SHARDS)), Day::of(now).to_string());
    state.db.increment(&key, now.unix_timestamp() + KEEP_SECONDS, None).await.map(drop)
}

#[derive(serde::Deserialize)]
struct DayCount {
    sk: String,
    count: u64,
}

/// Requests per day, for the days whose `YYYY-MM-DD` begins with one of
/// `prefixes` (a month, `YYYY-MM`): one Query per shard and prefix, all at once.
pub async fn days(state: &AppState, tenant: &Tenant, prefixes: &[String]) -> Result<BTreeMap<String, u64>, DbError> {
    let partitions: Vec<String> = (0..SHARDS).map(|shard| tenant.request_counts(shard)).collect();
    let queries = partitions.iter().flat_map(|partition| {
        prefixes.iter().map(move |prefix| async move {
            // A month has at most 31 items per shard: one page.
            state.db.query::<DayCount>(&Range::of(partition, prefix), 31, None).await
        })
    });
    let mut days = BTreeMap::new();
    for page in futures_util::future::try_join_all(queries).await? {
        for counted in page.items {
            *days.entry(counted.sk).or_default() += counted.count;
        }
    }
    Ok(days)
}
