//! HTTP: one [`error::AppError`] for every handler, the success
//! [`envelope`], the extractors that do a route's glue ([`extract`],
//! [`json`]), the [`http::RouteTable`] with its middleware, API-key request
//! [`signature`]s, OpenAPI helpers and the Lambda entry point ([`lambda`]).

pub mod audit;
pub mod cache;
pub mod client_ip;
pub mod csv;
pub mod download;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod http;
pub mod json;
pub mod lambda;
pub mod openapi;
pub mod request_meta;
pub mod signature;

pub use error::{AppError, AppResult};
