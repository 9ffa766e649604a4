//! AI content generation: the providers that write content ([`openai`],
//! [`template`]), the staged pipeline that runs them ([`pipeline`]), and the
//! breaker that stops calling a provider that keeps failing. What is asked
//! and what comes back are the domain's `generation` types.

pub mod breaker;
pub mod meter;
pub mod openai;
pub mod pipeline;
pub mod provider;
pub mod setup;
pub mod template;
