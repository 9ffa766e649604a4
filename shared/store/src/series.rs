//! A tenant's daily counters as a series of days, for statistics and
//! trends.
//!
//! While a day runs, its counters move in [`counters::SHARDS`] shard items.
//! Once it is over, and a minute more (by then every write counted on it
//! has committed), it is settled: the first reader that needs it sums its
//! shards into one item, `ORG#<org>#SERIES / DAY#<day>`, zeros included, so
//! any range of settled days is one Query of small items (a year, about
//! 50 KB) and no day is summed twice. A reader pays for that once a day per
//! tenant: one BatchGet per six days to sum, one BatchWrite per 25 days.
//! Readers need not be the ones who settle: the stream function settles,
//! once a day per tenant whose counters move, every day since the last
//! one it saw them move on ([`keep_up`]), so a day with activity is kept
//! even if nobody asks for it before its shards expire
//! (`counters::DAILY_KEPT_DAYS`).

use std::collections::BTreeMap;

use domain::day::{Day, DayRange};
use domain::tenancy::{Key, Tenant};
use time::OffsetDateTime;

use crate::counters::{self, Counter, Counts};
use crate::db::{Db, DbError, Item, string};
use crate::state::AppState;

pub type DayCounts = Counts<Counter>;

/// How long after midnight a day's counters may still move: a transaction
/// that counted a write on the day may commit this much later.
const SETTLE_SECONDS: i64 = 60;

/// The most keys one BatchGet takes.
const BATCH_KEYS: usize = 100;

/// The last day whose counters can no longer move.
fn settled_through(now: OffsetDateTime) -> Day {
    Day::of(now - time::Duration::seconds(SETTLE_SECONDS)).plus(-1)
}

/// The counts of each of `days`, and the items at `extra` read in the same
/// batch (what a caller needs beside them). Settled days are read from the
/// series, the others from their shards; days after today are zero. One
/// BatchGet while `days` and `extra` need at most 100 keys (31 settled days,
/// two days' shards and one set of totals do).
pub async fn by_day(
    state: &AppState,
    tenant: &Tenant,
    days: &[Day],
    extra: &[Key],
) -> Result<(BTreeMap<Day, DayCounts>, Vec<Option<Item>>), DbError> {
    let now = state.now();
    let (settled, today) = (settled_through(now), Day::of(now));
    let mut keys: Vec<Key> = Vec::new();
    for day in days {
        if *day <= settled {
            keys.push(tenant.series_day(day));
        } else if *day <= today {
            keys.extend(counters::daily_keys(tenant, *day));
        }
    }
    keys.extend_from_slice(extra);
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(BATCH_KEYS) {
        found.extend(state.db.batch_get_recent(chunk).await?);
    }
    let mut found = found.into_iter();
    let mut counts = BTreeMap::new();
    let mut unsettled = Vec::new();
    for day in days {
        let read = if *day <= settled {
            match found.next().flatten() {
                Some(item) => Counts::of_item(Some(&item)),
                None => {
                    unsettled.push(*day);
                    continue;
                }
            }
        } else if *day <= today {
            let shards: Vec<_> = found.by_ref().take(counters::SHARDS as usize).collect();
            Counts::sum(shards.iter().map(Option::as_ref))
        } else {
            DayCounts::default()
        };
        counts.insert(*day, read);
    }
    counts.extend(settle(state, tenant, &unsettled).await?);
    Ok((counts, found.collect()))
}

/// Settles what a tenant's counters moved on, without waiting for a
/// reader: the first call of a UTC day (the stream function calls it when
/// the counters move) settles every day from the day of the previous first
/// call through yesterday, a year at most, then notes today. Every day
/// counters move on is in such a stretch, so each is settled by the next
/// day of activity at the latest. Returns how many days it settled or read.
pub async fn keep_up(state: &AppState, tenant: &Tenant) -> Result<usize, DbError> {
    #[derive(serde::Deserialize)]
    struct Seen {
        counted_day: Option<String>,
    }
    let now = state.now();
    let (today, yesterday) = (Day::of(now), Day::of(now).plus(-1));
    // Yesterday may still move in the day's first minute: the next call settles it.
    if settled_through(now) < yesterday {
        return Ok(0);
    }
    let key = tenant.dashboard_announcement();
    let seen = state.db.get::<Seen>(&key).await?.and_then(|seen| seen.counted_day);
    let last: Option<Day> = seen.and_then(|day| day.parse().ok());
    if last >= Some(today) {
        return Ok(0);
    }
    // Settled before the day is noted, so a failure is tried again by the
    // next announcement; two at once would write the same sums.
    let settled = match last {
        Some(last) => {
            let from = last.max(yesterday.plus(1 - DayRange::MAX_DAYS));
            match DayRange::new(from, yesterday) {
                Ok(range) => over(state, tenant, range).await?.len(),
                Err(_) => 0,
            }
        }
        // A tenant's first call has nothing before it.
        None => 0,
    };
    let today_value = vec![(":today", string(today.to_string()))];
    state.db.run_update(state.db.update(&key, "SET counted_day = :today", None, &[], today_value)?).await?;
    Ok(settled)
}

/// The counts of every day of `range`, in order: the settled ones in one
/// Query of the series, beside one BatchGet of the shards of the days still
/// running (if the range reaches them).
pub async fn over(state: &AppState, tenant: &Tenant, range: DayRange) -> Result<Vec<(Day, DayCounts)>, DbError> {
    let now = state.now();
    let settled = settled_through(now);
    let partition = tenant.series_partition();
    let (low, high) = (tenant.series_day(&range.from()).sk, tenant.series_day(&range.to().min(settled)).sk);
    let stored = async {
        if range.from() > settled {
            return Ok(Vec::new());
        }
        state.db.query_between(&partition, &low, &high).await
    };
    let live: Vec<Day> = range.days().filter(|day| *day > settled).collect();
    let running = async { Ok::<_, DbError>(by_day(state, tenant, &live, &[]).await?.0) };
    let (stored, running) = tokio::try_join!(stored, running)?;
    let mut counts: BTreeMap<Day, DayCounts> = stored
        .iter()
        .filter_map(|item| Some((item.get("day")?.as_s().ok()?.parse().ok()?, Counts::of_item(Some(item)))))
        .collect();
    counts.extend(running);
    let unsettled: Vec<Day> = range.days().filter(|day| *day <= settled && !counts.contains_key(day)).collect();
    counts.extend(settle(state, tenant, &unsettled).await?);
    Ok(range.days().map(|day| (day, counts.remove(&day).unwrap_or_default())).collect())
}

/// Sums the shards of each settled day of `days` and keeps the sums as the
/// days' series items; returns them. A day whose shards have expired
/// unread (older than `counters::DAILY_KEPT_DAYS`, or before any
/// organization existed) is zero, and costs no read or write.
async fn settle(state: &AppState, tenant: &Tenant, days: &[Day]) -> Result<BTreeMap<Day, DayCounts>, DbError> {
    let oldest = Day::of(state.now()).plus(1 - counters::DAILY_KEPT_DAYS);
    let (readable, expired): (Vec<Day>, Vec<Day>) = days.iter().partition(|day| **day >= oldest);
    let zeros: BTreeMap<Day, DayCounts> = expired.into_iter().map(|day| (day, DayCounts::default())).collect();
    let per_batch = BATCH_KEYS / counters::SHARDS as usize;
    let mut sums = BTreeMap::new();
    for batch in readable.chunks(per_batch) {
        let keys: Vec<Key> = batch.iter().flat_map(|day| counters::daily_keys(tenant, *day)).collect();
        // Strongly consistent: a sum is kept for good.
        let found = state.db.batch_get(&keys).await?;
        for (day, shards) in batch.iter().zip(found.chunks(counters::SHARDS as usize)) {
            sums.insert(*day, Counts::sum(shards.iter().map(Option::as_ref)));
        }
    }
    let items = sums
        .iter()
        .map(|(day, counts)| {
            let mut attributes: BTreeMap<&str, serde_json::Value> =
                counts.attributes().map(|(name, value)| (name, value.into())).collect();
            attributes.insert("day", day.to_string().into());
            Db::item(&tenant.series_day(day), &attributes)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !items.is_empty() {
        state.db.batch_write(items, Vec::new()).await?;
        tracing::info!(days = sums.len(), "days settled into the series");
    }
    sums.extend(zeros);
    Ok(sums)
}
