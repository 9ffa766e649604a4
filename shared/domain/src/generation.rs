//! What a teacher asks the generator for, and what it gives back.

pub mod content;
pub mod request;
