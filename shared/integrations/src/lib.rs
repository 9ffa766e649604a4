//! Services outside the platform's own AWS resources: Pusher Channels
//! ([`pusher`]), the LLM providers behind content generation
//! ([`generation`]) and API Gateway's usage plans ([`usage_plans`]). Each is
//! a real client of the provider's published interface, and a feature of
//! its own: a function links only the clients it uses.

#[cfg(feature = "generation")]
pub mod generation;
#[cfg(feature = "pusher")]
pub mod pusher;
#[cfg(feature = "usage-plans")]
pub mod usage_plans;
