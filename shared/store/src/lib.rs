//! The records kept: the single DynamoDB table ([`db`]), content bodies in
//! S3 (`bodies`, feature `s3`), the key set in Secrets Manager ([`keyset`])
//! and the job queue (`outbox`, feature `sqs`). Every function's handles to
//! them are in
//! [`state::AppState`], built once per cold start from [`config::Config`].
//! Errors name the operation that failed and keep their source.

pub mod activity;
pub mod api_keys;
pub mod audit_log;
pub mod aws;
pub mod blind_index;
#[cfg(feature = "s3")]
pub mod bodies;
pub mod cache;
pub mod changes;
pub mod config;
pub mod counters;
pub mod cursor;
pub mod db;
pub mod field_keys;
pub mod guardian;
pub mod keyset;
pub mod logging;
pub mod managed_secret;
pub mod membership;
pub mod metrics;
#[cfg(feature = "s3")]
pub mod objects;
#[cfg(feature = "sqs")]
pub mod outbox;
pub mod progress;
pub mod publication;
pub mod quota;
pub mod records;
pub mod request_counts;
pub mod search;
pub mod secret;
pub mod series;
pub mod sessions;
pub mod state;
pub mod submissions;
pub mod users;

pub use db::{Db, DbError};
pub use state::AppState;
