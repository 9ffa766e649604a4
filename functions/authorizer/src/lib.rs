//! The API Gateway REQUEST authorizer. `toolbox-local` calls [`authorize`]
//! too, so a request is judged the same way in dev as behind API Gateway.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::Value;
use toolbox::AppState;
use toolbox::auth::jwt;
use toolbox::db::Db;
use toolbox::domain::organization::{OrgStatus, Organization};
use toolbox::domain::session::Session;
use toolbox::domain::user::User;
use toolbox::ids::{OrgId, SessionId, UserId};
use toolbox::principal::{AuthMethod, Principal, Role};
use toolbox::tenancy::Tenant;

/// Why a request was refused. API Gateway answers 401 for the first (the
/// authorizer fails with `Unauthorized`) and 403 for the second (a Deny policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    Unauthenticated(&'static str),
    Forbidden(&'static str),
    /// A dependency (Secrets Manager, DynamoDB) could not be read.
    Unavailable,
}

/// Scopes a signed-in user carries; API keys (later) carry their own subset.
fn scopes_for(role: Role) -> Vec<String> {
    let scopes: &[&str] = match role {
        Role::Admin => &["read", "write", "content:generate", "analytics:read", "admin"],
        Role::Teacher => &["read", "write", "content:generate", "analytics:read"],
        Role::Student | Role::Parent => &["read", "write"],
    };
    scopes.iter().map(|s| s.to_string()).collect()
}

/// Judges an `Authorization` header value. The token must verify, and its
/// organisation, user and session must still be live: one DynamoDB round trip
/// makes a suspension, a removal or a logout take effect at once.
pub async fn authorize(state: &AppState, authorization: Option<&str>) -> Result<Principal, Denial> {
    let header = authorization.ok_or(Denial::Unauthenticated("missing bearer token"))?;
    let (scheme, token) =
        header.trim().split_once(' ').ok_or(Denial::Unauthenticated("malformed authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Denial::Unauthenticated("unsupported authorization scheme"));
    }
    let keys = state.keys.current().await.map_err(|err| {
        tracing::error!(error = %err, "key set unavailable");
        Denial::Unavailable
    })?;
    let claims = jwt::verify(&keys, &state.config, token.trim()).map_err(|err| {
        tracing::info!(reason = %err, "token refused");
        Denial::Unauthenticated("invalid token")
    })?;
    let invalid = || Denial::Unauthenticated("invalid token");
    let org_id: OrgId = claims.org.parse().map_err(|_| invalid())?;
    let user_id: UserId = claims.sub.parse().map_err(|_| invalid())?;
    let session_id: SessionId = claims.sid.as_deref().ok_or_else(invalid)?.parse().map_err(|_| invalid())?;

    let tenant = Tenant::claimed_by_credential(&org_id);
    let items = state
        .db
        .batch_get(&[tenant.organization(), tenant.user(&user_id), tenant.session(&user_id, &session_id)])
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "authorizer lookup failed");
            Denial::Unavailable
        })?;
    let [org, user, session] = <[_; 3]>::try_from(items).map_err(|_| Denial::Unavailable)?;
    let decode_failed = |err| {
        tracing::error!(error = %err, "stored item unreadable");
        Denial::Unavailable
    };
    let org: Organization = Db::decode(org.ok_or_else(invalid)?).map_err(decode_failed)?;
    let user: User = Db::decode(user.ok_or_else(invalid)?).map_err(decode_failed)?;
    let session: Session = Db::decode(session.ok_or_else(invalid)?).map_err(decode_failed)?;
    if !user.is_active() || !session.is_live(state.now()) {
        return Err(Denial::Unauthenticated("the session has ended"));
    }
    if org.status == OrgStatus::Suspended {
        return Err(Denial::Forbidden("the organization is suspended"));
    }
    // The stored role, not the token's: a demotion applies at once.
    Ok(Principal {
        org_id,
        user_id,
        role: user.role,
        scopes: scopes_for(user.role),
        auth_method: AuthMethod::Jwt,
        session_id: Some(session_id),
    })
}

/// The Lambda entry point.
pub async fn handle(
    state: &AppState,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse<std::collections::HashMap<String, Value>>, lambda_runtime::Error> {
    let header = event.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let resource = api_wildcard(event.method_arn.as_deref().unwrap_or("*"));
    match authorize(state, header.as_deref()).await {
        Ok(principal) => {
            Ok(response(principal.user_id.to_string(), IamPolicyEffect::Allow, resource, principal.to_context()))
        }
        Err(Denial::Forbidden(reason)) => {
            tracing::info!(reason, "denied");
            Ok(response("denied".into(), IamPolicyEffect::Deny, resource, Default::default()))
        }
        // API Gateway turns exactly this message into a 401.
        Err(Denial::Unauthenticated(_)) => Err("Unauthorized".into()),
        Err(Denial::Unavailable) => Err("authorizer dependency unavailable".into()),
    }
}

/// Allows the whole API, not one method: API Gateway caches the policy per
/// token, and a policy naming one method would deny the token's next route.
fn api_wildcard(method_arn: &str) -> String {
    let mut parts = method_arn.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(api), Some(stage)) => format!("{api}/{stage}/*"),
        _ => method_arn.to_owned(),
    }
}

fn response(
    principal_id: String,
    effect: IamPolicyEffect,
    resource: String,
    context: std::collections::HashMap<String, Value>,
) -> ApiGatewayCustomAuthorizerResponse<std::collections::HashMap<String, Value>> {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = effect;
    statement.resource = vec![resource];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(principal_id);
    response.policy_document = policy;
    response.context = context;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_covers_every_route_of_the_stage() {
        assert_eq!(
            api_wildcard("arn:aws:execute-api:eu-west-1:123456789012:abcdef/prod/GET/api/v1/auth/me"),
            "arn:aws:execute-api:eu-west-1:123456789012:abcdef/prod/*"
        );
    }
}
