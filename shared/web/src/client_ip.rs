//! The address a request came from, as API Gateway saw the connection
//! (`requestContext.identity.sourceIp`): never a header, which a client
//! could set to anything.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;

/// `None` when the event carries no address (an invocation that did not
/// come through API Gateway).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(source_ip(parts.extensions.get::<RequestContext>())))
    }
}

pub fn source_ip(context: Option<&RequestContext>) -> Option<IpAddr> {
    match context {
        Some(RequestContext::ApiGatewayV1(context)) => {
            context.identity.source_ip.as_deref().and_then(|ip| ip.parse().ok())
        }
        _ => None,
    }
}
