//! Password guessing is limited twice:
//!
//! - per account *and* source address (`LOGIN_MAX_FAILURES`, 5): wrong
//!   passwords from one address lock that address out of that account, so a
//!   student who types wrong passwords for a teacher's account locks out
//!   only themselves;
//! - per account (`LOGIN_MAX_ACCOUNT_FAILURES`, 100): guessing from many
//!   addresses still stops, at a count no single mistyping user reaches.
//!
//! Each limit is a counter item of its own that counts failures within a
//! window of `LOGIN_LOCKOUT_SECONDS` and, at its limit, locks for as long.
//! The counters are global items keyed by hashes: an identifier that names
//! no account is counted and locked exactly like one that does, so the
//! answers never tell the two apart, and no email or address is stored.

use std::net::IpAddr;

use serde::Deserialize;
use time::OffsetDateTime;

use crate::auth::sha256_hex;
use crate::config::Config;
use crate::db::{Db, DbError, Item, Write, n};
use crate::error::AppError;
use crate::ids::{OrgId, UserId};
use crate::tenancy::{Key, global};

/// One counter as stored.
#[derive(Debug, Deserialize)]
struct Counter {
    #[serde(default)]
    count: u64,
    /// Epoch seconds. (`expires_at`, the end of the counting window or of
    /// the lock, is the item's TTL and only read by conditions.)
    #[serde(default)]
    locked_until: Option<i64>,
}

/// The two counters one sign-in attempt is judged by.
#[derive(Debug, Clone)]
pub struct Guard {
    account: Key,
    source: Key,
}

impl Guard {
    /// Attempts at a known user's password (signing in, changing it).
    pub fn for_user(org: &OrgId, user: &UserId, source: Option<IpAddr>) -> Self {
        Self::of(&format!("user\0{org}\0{user}"), source)
    }

    /// Attempts at an email or username that names no account.
    pub fn for_identifier(identifier: &str, source: Option<IpAddr>) -> Self {
        Self::of(&format!("login\0{identifier}"), source)
    }

    fn of(subject: &str, source: Option<IpAddr>) -> Self {
        let subject = sha256_hex(subject.as_bytes());
        let source = sha256_hex(source.map(|ip| ip.to_string()).unwrap_or_default().as_bytes());
        Self { account: global::login_failures(&subject), source: global::login_failures_from(&subject, &source) }
    }

    /// The counters to read beside the account, in this order.
    pub fn keys(&self) -> [Key; 2] {
        [self.account.clone(), self.source.clone()]
    }

    /// Seconds until the attempt may be made, if either counter (as read
    /// with [`Guard::keys`]) is locked at `now`.
    pub fn locked_for(counters: &[Option<Item>], now: OffsetDateTime) -> Result<Option<u64>, DbError> {
        let now = now.unix_timestamp();
        let mut until = None;
        for item in counters.iter().flatten() {
            let counter: Counter = Db::decode(item.clone())?;
            if let Some(lock) = counter.locked_until.filter(|lock| *lock > now) {
                until = until.max(Some(lock));
            }
        }
        Ok(until.map(|until| (until - now) as u64))
    }

    /// Counts a wrong password on both counters; the one that reaches its
    /// limit locks.
    pub async fn failed(&self, db: &Db, config: &Config, now: OffsetDateTime) -> Result<(), DbError> {
        let window = config.login_lockout_seconds;
        let (account, source) = tokio::join!(
            count(db, &self.account, config.login_max_account_failures, window, now),
            count(db, &self.source, config.login_max_failures, window, now),
        );
        let locked = account?.max(source?);
        if locked {
            tracing::warn!("sign-in locked after repeated password failures");
        }
        Ok(())
    }

    /// The writes of a successful attempt, for its transaction: both
    /// counters forgotten, on the condition that neither is locked now, so
    /// requests already verifying a password when a lock fell cannot slip
    /// through. A failed condition is at these writes' index in the
    /// transaction: answer it with [`locked`].
    pub fn cleared(&self, db: &Db, now: OffsetDateTime) -> Result<[Write; 2], DbError> {
        let delete = |key: &Key| {
            db.delete_if(
                key,
                "attribute_not_exists(locked_until) OR locked_until <= :now",
                &[],
                vec![(":now", n(now.unix_timestamp()))],
            )
            .map(Write::Delete)
        };
        Ok([delete(&self.account)?, delete(&self.source)?])
    }
}

/// Adds one failure to a counter, starting a new window when the last one
/// is over (DynamoDB's TTL removes an expired item only eventually); at
/// `limit` the counter locks for `window` seconds. True if it locked.
async fn count(db: &Db, key: &Key, limit: i64, window: i64, now: OffsetDateTime) -> Result<bool, DbError> {
    let now = now.unix_timestamp();
    for _ in 0..3 {
        let add = db.update(
            key,
            "ADD #count :one SET expires_at = if_not_exists(expires_at, :window_end)",
            Some("attribute_not_exists(expires_at) OR expires_at > :now"),
            &[("#count", "count")],
            vec![(":one", n(1)), (":window_end", n(now + window)), (":now", n(now))],
        )?;
        match db.run_update(add).await {
            Ok(item) => {
                let counter: Counter = Db::decode(item)?;
                if counter.count < limit as u64 {
                    return Ok(false);
                }
                let lock = db.update(
                    key,
                    "SET locked_until = :until, expires_at = :until, #count = :zero",
                    None,
                    &[("#count", "count")],
                    vec![(":until", n(now + window)), (":zero", n(0))],
                )?;
                db.run_update(lock).await?;
                return Ok(true);
            }
            Err(DbError::ConditionFailed) => {
                // The window is over: start the next one from zero, unless
                // another failure just did.
                let reset = db.update(
                    key,
                    "SET #count = :zero, expires_at = :window_end REMOVE locked_until",
                    Some("expires_at <= :now"),
                    &[("#count", "count")],
                    vec![(":zero", n(0)), (":window_end", n(now + window)), (":now", n(now))],
                )?;
                match db.run_update(reset).await {
                    Ok(_) | Err(DbError::ConditionFailed) => continue,
                    Err(err) => return Err(err),
                }
            }
            Err(err) => return Err(err),
        }
    }
    Err(DbError::Service("a sign-in failure counter kept changing".into()))
}

/// The answer while locked: 429 with `Retry-After`.
pub fn locked(retry_after_seconds: u64) -> AppError {
    AppError::RateLimited {
        message: "too many failed password attempts; try again later".into(),
        retry_after_seconds,
        limit: None,
    }
}
