//! Services outside the platform's own AWS resources: Pusher Channels
//! ([`pusher`]), the LLM providers behind content generation
//! ([`generation`]), Stripe ([`stripe`]), Roblox Open Cloud (`roblox`) and
//! API Gateway's usage plans ([`usage_plans`]). Each is a real client of the provider's published
//! interface, and a feature of its own: a function links only the clients it
//! uses. The HTTP clients share how they [`retry`] and the [`breaker`] that
//! stops calling a provider that keeps failing.

#[cfg(any(feature = "generation", feature = "stripe", feature = "roblox"))]
pub mod breaker;
#[cfg(feature = "generation")]
pub mod generation;
#[cfg(feature = "pusher")]
pub mod pusher;
#[cfg(any(feature = "generation", feature = "stripe", feature = "roblox"))]
pub mod retry;
#[cfg(feature = "roblox")]
pub mod roblox;
#[cfg(feature = "stripe")]
pub mod stripe;
#[cfg(feature = "usage-plans")]
pub mod usage_plans;
