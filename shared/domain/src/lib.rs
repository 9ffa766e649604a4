//! The bottom layer: what the platform's data is and the rules on it, with
//! no I/O. Ids and validated fields parse (a value of a field type is
//! valid); records are the items of the single table; [`tenancy`] names
//! their keys and can only be entered through a verified caller; [`error`]
//! says what a rule refused, and the web layer decides how that is answered.

pub mod api_key;
pub mod assessment;
pub mod audit;
pub mod audit_log;
pub mod billing;
pub mod class;
pub mod clock;
pub mod consent;
pub mod content;
pub mod day;
pub mod error;
pub mod fields;
pub mod generation;
pub mod grading;
pub mod guardian;
pub mod ids;
pub mod invite;
pub mod job;
pub mod json;
pub mod lesson;
pub mod message;
pub mod organization;
pub mod principal;
pub mod privacy;
pub mod progress;
pub mod publication;
pub mod record;
pub mod roblox;
pub mod sealed;
pub mod session;
pub mod tenancy;
pub mod user;

pub use error::{Error, FieldError, Result};
