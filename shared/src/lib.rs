//! The domain crate: every rule that two functions share.
//!
//! A function crate builds its routes on [`http::RouteTable`], takes its
//! dependencies from [`state::AppState`] and answers with [`envelope`] types or
//! an [`error::AppError`]. Tenant-owned data is only reachable through
//! [`tenancy::Tenant`], which can only be made from a verified source.

pub mod activity;
pub mod auth;
pub mod aws;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod cursor;
pub mod db;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod generation;
pub mod http;
pub mod ids;
pub mod json;
pub mod keyset;
pub mod lambda;
pub mod logging;
pub mod openapi;
pub mod outbox;
pub mod principal;
pub mod publication;
pub mod pusher;
pub mod quota;
pub mod request_meta;
pub mod search;
pub mod signature;
pub mod state;
pub mod tenancy;
pub mod usage_plans;

pub use error::{AppError, AppResult};
pub use state::AppState;
