//! Business quotas API Gateway cannot express, such as "10 generations per
//! user per minute": a fixed-window counter per (quota, user, window) item,
//! incremented atomically with a condition, so concurrent requests can never
//! exceed the limit. DynamoDB's TTL removes the counters of past windows.

use domain::error::{Error, RateLimit};
use domain::ids::UserId;
use domain::tenancy::Tenant;

use crate::db::DbError;
use crate::state::AppState;

/// One named limit: at most `limit` uses per user per `window_seconds`.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub name: &'static str,
    pub limit: u32,
    pub window_seconds: i64,
}

impl Quota {
    /// Counts one use by `user`, or answers 429 with `Retry-After` when the
    /// window's uses are spent. A refused request does not count.
    pub async fn take(&self, state: &AppState, tenant: &Tenant, user: &UserId) -> Result<RateLimit, Error> {
        let now = state.now().unix_timestamp();
        let window_start = now - now.rem_euclid(self.window_seconds);
        let reset = window_start + self.window_seconds;
        let key = tenant.quota_counter(self.name, user, window_start);
        match state.db.increment(&key, reset + 60, Some(u64::from(self.limit))).await {
            Ok(used) => {
                let remaining = u64::from(self.limit).saturating_sub(used) as u32;
                Ok(RateLimit { limit: self.limit, remaining, reset })
            }
            Err(DbError::ConditionFailed) => {
                crate::metrics::refusal(self.name);
                Err(Error::RateLimited {
                    message: format!("at most {} per {} seconds; try again later", self.limit, self.window_seconds),
                    retry_after_seconds: (reset - now).max(1) as u64,
                    limit: Some(RateLimit { limit: self.limit, remaining: 0, reset }),
                })
            }
            Err(err) => Err(err.into()),
        }
    }
}
