//! Audit entries as a request makes them: the caller is the actor, and the
//! request's id, address and user agent are the context, so an entry's
//! `request_id` is the `X-Request-ID` of the response that made the change.

use domain::audit_log::{Action, Actor, Context, Entry};
use domain::principal::Principal;
use store::AppState;

use crate::request_meta;

/// The context of the request being served.
pub fn context() -> Context {
    let meta = request_meta::current();
    Context { request_id: meta.request_id, ip: meta.ip.map(|ip| ip.to_string()), user_agent: meta.user_agent }
}

/// An entry of `action` by `actor`, now, in this request.
pub fn entry(state: &AppState, action: Action, actor: Actor) -> Entry {
    Entry::new(action, actor, context(), state.now())
}

/// An entry of `action` by the caller.
pub fn by(state: &AppState, principal: &Principal, action: Action) -> Entry {
    entry(state, action, Actor::of(principal))
}
