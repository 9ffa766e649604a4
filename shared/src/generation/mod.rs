//! AI content generation, the part every function shares: what a teacher
//! asks for ([`request`]), what comes back and the review it must pass
//! ([`content`]), the providers that write it ([`provider`], [`template`]),
//! and the staged pipeline that runs them ([`pipeline`]).

pub mod breaker;
pub mod content;
pub mod openai;
pub mod pipeline;
pub mod provider;
pub mod request;
pub mod setup;
pub mod template;
