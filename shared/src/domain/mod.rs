//! The items of the single table and the rules on them that more than one
//! function needs.

pub mod api_key;
pub mod assessment;
pub mod audit;
pub mod class;
pub mod content;
pub mod fields;
pub mod guardian;
pub mod invite;
pub mod job;
pub mod lesson;
pub mod membership;
pub mod message;
pub mod organization;
pub mod progress;
pub mod session;
pub mod user;
