//! AI content generation: the providers that write content ([`openai`],
//! [`template`]) and the staged pipeline that runs them ([`pipeline`]). What is asked
//! and what comes back are the domain's `generation` types.

pub mod meter;
pub mod openai;
pub mod pipeline;
pub mod provider;
pub mod setup;
pub mod template;
