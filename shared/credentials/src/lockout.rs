//! Password guessing is limited twice:
//!
//! - per account *and* source address (`LOGIN_MAX_FAILURES`, 5): wrong
//!   passwords from one address lock that address out of that account, so a
//!   student who types wrong passwords for a teacher's account locks out
//!   only themselves (an IPv6 address counts by its /64, which one client
//!   holds whole);
//! - per account (`LOGIN_MAX_ACCOUNT_FAILURES`, 100): guessing from many
//!   addresses still stops, at a count no single mistyping user reaches.
//!
//! Each limit is a counter item of its own that counts within a window of
//! `LOGIN_LOCKOUT_SECONDS` and, at its limit, locks for as long. An attempt
//! takes its place in both counters *before* its password is checked, on the
//! condition that neither is locked or full, so a burst of parallel guesses
//! gets no more checks than the limits allow. A failure keeps its place; a
//! success gives the account counter's back (failures from elsewhere stay
//! counted) and forgets its own address's.
//!
//! The counters are global items keyed by hashes: an identifier that names
//! no account is counted and locked exactly like one that does, so the
//! answers never tell the two apart, and no email or address is stored.

use std::net::IpAddr;

use serde::Deserialize;
use time::OffsetDateTime;

use store::secret::sha256_hex;

use crate::password;
use domain::error::Error;
use domain::ids::{OrgId, UserId};
use domain::tenancy::{Key, global};
use store::config::Config;
use store::db::{Db, DbError, Item, Write, number};

/// One counter as stored.
#[derive(Debug, Default, Deserialize)]
struct Counter {
    #[serde(default)]
    count: i64,
    /// Epoch seconds: the end of the counting window (or of the lock), and
    /// the item's TTL.
    #[serde(default)]
    expires_at: i64,
    #[serde(default)]
    locked_until: Option<i64>,
}

/// The two counters one sign-in attempt is judged by.
#[derive(Debug, Clone)]
pub struct Guard {
    account: Key,
    source: Key,
}

/// What a checked password was.
#[derive(Debug)]
pub enum Verdict {
    Right(Attempt),
    /// Wrong; `locked_out` when this failure filled a counter and locked it.
    Wrong {
        locked_out: bool,
    },
}

/// Places an attempt holds in both counters until its password is checked.
#[derive(Debug)]
#[must_use = "a reserved attempt is either failed or succeeded"]
pub struct Attempt {
    guard: Guard,
    /// The counts with this attempt in them.
    account: i64,
    source: i64,
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
        let source = sha256_hex(source.map(network).unwrap_or_default().as_bytes());
        Self { account: global::login_failures(&subject), source: global::login_failures_from(&subject, &source) }
    }

    /// The counters to read beside the account, in this order.
    pub fn keys(&self) -> [Key; 2] {
        [self.account.clone(), self.source.clone()]
    }

    /// Checks `password` against `stored` (`None`: no such account, which
    /// [`password::verify`] answers in the same time) under this guard:
    /// refused while either counter (as read with [`Guard::keys`]) is
    /// locked, and counted before the hash is checked. The right password
    /// gives its [`Attempt`], whose [`Attempt::succeeded`] writes go in the
    /// caller's transaction; a wrong one is counted.
    pub async fn check(
        &self,
        db: &Db,
        config: &Config,
        now: OffsetDateTime,
        counters: &[Option<Item>],
        password: String,
        stored: Option<String>,
    ) -> Result<Verdict, Error> {
        // A locked-out client costs one read, no write.
        if let Some(seconds) = Self::locked_for(counters, now)? {
            return Err(locked(seconds));
        }
        let attempt = self.reserve(db, config, now).await?;
        if password::verify(password, stored).await? {
            return Ok(Verdict::Right(attempt));
        }
        let locked_out = attempt.failed(db, config, now).await?;
        Ok(Verdict::Wrong { locked_out })
    }

    /// Seconds until an attempt may be made, if either counter is locked at `now`.
    fn locked_for(counters: &[Option<Item>], now: OffsetDateTime) -> Result<Option<u64>, DbError> {
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

    /// Takes this attempt's place in both counters, or answers [`locked`]
    /// when either is locked or already full of attempts.
    async fn reserve(&self, db: &Db, config: &Config, now: OffsetDateTime) -> Result<Attempt, Error> {
        let window = config.login_lockout_seconds;
        let (account, source) = tokio::join!(
            take(db, &self.account, config.login_max_account_failures, window, now),
            take(db, &self.source, config.login_max_failures, window, now),
        );
        match (account, source) {
            (Ok(account), Ok(source)) => Ok(Attempt { guard: self.clone(), account, source }),
            // Give back the place one of them took; answer for the other.
            (Ok(_), Err(refused)) => {
                give_back(db, &self.account, window, now).await?;
                Err(refused)
            }
            (Err(refused), Ok(_)) => {
                give_back(db, &self.source, window, now).await?;
                Err(refused)
            }
            (Err(refused), Err(_)) => Err(refused),
        }
    }
}

impl Attempt {
    /// The password was wrong: the attempt keeps its places, and a counter
    /// it filled locks (true when one did).
    async fn failed(self, db: &Db, config: &Config, now: OffsetDateTime) -> Result<bool, DbError> {
        let window = config.login_lockout_seconds;
        let (account, source) = tokio::join!(
            lock_if_full(db, &self.guard.account, self.account, config.login_max_account_failures, window, now),
            lock_if_full(db, &self.guard.source, self.source, config.login_max_failures, window, now),
        );
        let locked_out = account? | source?;
        if locked_out {
            tracing::warn!("sign-in locked after repeated password failures");
        }
        Ok(locked_out)
    }

    /// The writes of a right password, for its transaction: this address's
    /// count forgotten and the account's place given back, on the condition
    /// that neither counter was locked meanwhile (an attempt already checking
    /// a password when a lock fell does not slip through). A failed
    /// condition is at these writes' index in the transaction: answer it
    /// with [`locked`].
    pub fn succeeded(self, db: &Db, now: OffsetDateTime) -> Result<[Write; 2], DbError> {
        let unlocked = "attribute_not_exists(locked_until) OR locked_until <= :now";
        let source = db.delete_if(&self.guard.source, unlocked, &[], vec![(":now", number(now.unix_timestamp()))])?;
        let account = db.update(
            &self.guard.account,
            "ADD #count :minus_one",
            Some(unlocked),
            &[("#count", "count")],
            vec![(":minus_one", number(-1)), (":now", number(now.unix_timestamp()))],
        )?;
        Ok([Write::Update(account), Write::Delete(source)])
    }
}

/// What identifies a source: an IPv4 address, or an IPv6 address's /64.
fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Adds one attempt to a counter within its window (starting a new window
/// when the last one is over: DynamoDB's TTL removes an expired item only
/// eventually), unless it is locked or full. The count with this attempt.
async fn take(db: &Db, key: &Key, limit: i64, window: i64, now: OffsetDateTime) -> Result<i64, Error> {
    let now = now.unix_timestamp();
    for _ in 0..3 {
        let add = db.update(
            key,
            "ADD #count :one SET expires_at = if_not_exists(expires_at, :window_end)",
            Some(
                "(attribute_not_exists(expires_at) OR expires_at > :now) \
                 AND (attribute_not_exists(locked_until) OR locked_until <= :now) \
                 AND (attribute_not_exists(#count) OR #count < :limit)",
            ),
            &[("#count", "count")],
            vec![
                (":one", number(1)),
                (":window_end", number(now + window)),
                (":now", number(now)),
                (":limit", number(limit)),
            ],
        )?;
        match db.run_update(add).await {
            Ok(item) => return Ok(Db::decode::<Counter>(item)?.count),
            Err(DbError::ConditionFailed) => {}
            Err(err) => return Err(err.into()),
        }
        let counter: Counter = db.get(key).await?.unwrap_or_default();
        if let Some(until) = counter.locked_until.filter(|until| *until > now) {
            return Err(locked((until - now) as u64));
        }
        if counter.expires_at > now {
            // Full of attempts still being checked (or of failures about to
            // lock it): in a moment it is locked or has room again.
            return Err(locked(1));
        }
        // The window is over: start the next one from zero, unless another
        // attempt just did, and take a place again.
        let reset = db.update(
            key,
            "SET #count = :zero, expires_at = :window_end REMOVE locked_until",
            Some("expires_at <= :now"),
            &[("#count", "count")],
            vec![(":zero", number(0)), (":window_end", number(now + window)), (":now", number(now))],
        )?;
        match db.run_update(reset).await {
            Ok(_) | Err(DbError::ConditionFailed) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Err(DbError::failed("count a sign-in", "the counter kept changing").into())
}

/// Takes back a place [`take`] took, when the attempt goes no further.
async fn give_back(db: &Db, key: &Key, window: i64, now: OffsetDateTime) -> Result<(), DbError> {
    let update = db.update(
        key,
        "ADD #count :minus_one SET expires_at = if_not_exists(expires_at, :window_end)",
        None,
        &[("#count", "count")],
        vec![(":minus_one", number(-1)), (":window_end", number(now.unix_timestamp() + window))],
    )?;
    db.run_update(update).await.map(|_| ())
}

/// Locks a counter whose failures reached `limit` with this attempt.
async fn lock_if_full(
    db: &Db,
    key: &Key,
    count: i64,
    limit: i64,
    window: i64,
    now: OffsetDateTime,
) -> Result<bool, DbError> {
    if count < limit {
        return Ok(false);
    }
    let until = now.unix_timestamp() + window;
    let lock = db.update(
        key,
        "SET locked_until = :until, expires_at = :until, #count = :zero",
        None,
        &[("#count", "count")],
        vec![(":until", number(until)), (":zero", number(0))],
    )?;
    db.run_update(lock).await?;
    Ok(true)
}

/// The answer while locked: 429 with `Retry-After`.
pub fn locked(retry_after_seconds: u64) -> Error {
    store::metrics::refusal("login_lockout");
    Error::RateLimited {
        message: "too many failed password attempts; try again later".into(),
        retry_after_seconds: retry_after_seconds.max(1),
        limit: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_source_counts_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network(a), network(b));
        assert_ne!(network(a), network(c));
        assert_eq!(network("198.51.100.7".parse().unwrap()), "198.51.100.7");
    }
}
