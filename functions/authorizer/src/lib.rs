//! The API Gateway REQUEST authorizer, for bearer tokens and API keys.
//! `toolbox-local` calls [`authorize`] too, so a request is judged the same
//! way in dev as behind API Gateway.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use std::net::IpAddr;

use credentials::jwt;
use domain::api_key::{ApiKey, ApiKeyLookup, KeyStatus, usage};
use domain::ids::{ApiKeyId, OrgId, SessionId, UserId};
use domain::organization::{OrgStatus, Organization};
use domain::principal::{AuthMethod, KeyGrant, Principal, Role, Scope, SigningRef};
use domain::session::Session;
use domain::tenancy::{Tenant, global};
use domain::user::User;
use serde_json::Value;
use store::AppState;
use store::api_keys::PresentedKey;
use store::db::{Db, DbError, Item};
use time::OffsetDateTime;

/// Why a request was refused. API Gateway answers 401 for the first (the
/// authorizer fails with `Unauthorized`) and 403 for the second (a Deny policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    Unauthenticated(&'static str),
    Forbidden(&'static str),
    /// A dependency (Secrets Manager, DynamoDB) could not be read.
    Unavailable,
}

/// What a request presents. API Gateway passes every header to a REQUEST
/// authorizer; the template names no identity source, because API Gateway
/// refuses a request that lacks any named source without asking us, and a
/// request carries either `Authorization` or `X-API-Key`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    pub authorization: Option<&'a str>,
    pub api_key: Option<&'a str>,
    pub source_ip: Option<IpAddr>,
}

/// A request let through: who is calling, and the organisation's API Gateway
/// usage key, returned as `usageIdentifierKey` so its tier's plan applies.
#[derive(Debug, Clone)]
pub struct Grant {
    pub principal: Principal,
    pub usage_key: Option<String>,
}

/// Judges a request's credentials: a bearer access token or an API key,
/// never both.
pub async fn authorize(state: &AppState, credentials: Credentials<'_>) -> Result<Grant, Denial> {
    match (credentials.authorization, credentials.api_key) {
        (Some(_), Some(_)) => Err(Denial::Unauthenticated("send either a bearer token or an API key, not both")),
        (Some(header), None) => authorize_token(state, header).await,
        (None, Some(key)) => authorize_key(state, key, credentials.source_ip).await,
        (None, None) => Err(Denial::Unauthenticated("missing credentials")),
    }
}

fn unavailable(what: &'static str) -> impl Fn(DbError) -> Denial {
    move |err| {
        tracing::error!(error = %err, what, "authorizer lookup failed");
        Denial::Unavailable
    }
}

fn decode<T: serde::de::DeserializeOwned>(item: Option<Item>, missing: Denial) -> Result<T, Denial> {
    Db::decode(item.ok_or(missing)?).map_err(unavailable("stored item unreadable"))
}

/// The token must verify, and its organisation, user and session must still
/// be live (the session among the user's live sessions): one DynamoDB round
/// trip makes a suspension, a removal, a logout or a sign-out everywhere
/// take effect at once. The organization's request count moves beside it.
async fn authorize_token(state: &AppState, header: &str) -> Result<Grant, Denial> {
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
    let keys = [tenant.organization(), tenant.user(&user_id), tenant.session(&user_id, &session_id)];
    let (items, ()) = tokio::join!(state.db.batch_get(&keys), count_request(state, &tenant));
    let items = items.map_err(unavailable("token lookup"))?;
    let [org, user, session] = <[_; 3]>::try_from(items).map_err(|_| Denial::Unavailable)?;
    let org: Organization = decode(org, invalid())?;
    let user: User = decode(user, invalid())?;
    let session: Session = decode(session, invalid())?;
    let now = state.now();
    if !user.is_active() || !session.is_live(now) || !user.admits(&session_id, now.unix_timestamp()) {
        return Err(Denial::Unauthenticated("the session has ended"));
    }
    if org.status == OrgStatus::Suspended {
        return Err(Denial::Forbidden("the organization is suspended"));
    }
    // The stored role, not the token's: a demotion applies at once.
    let principal = Principal {
        org_id,
        user_id,
        role: user.role,
        scopes: Scope::of_role(user.role),
        auth_method: AuthMethod::Jwt,
        session_id: Some(session_id),
        api_key: None,
    };
    Ok(Grant { principal, usage_key: org.usage_key.map(|key| key.value) })
}

/// The key's prefix finds its lookup item, whose hashes the secret must
/// match (the previous secret only within its grace period). Then, in one
/// round trip, the organisation and the key's own item must still allow it;
/// the day's usage is counted beside that read, so counting costs no time.
async fn authorize_key(state: &AppState, header: &str, source_ip: Option<IpAddr>) -> Result<Grant, Denial> {
    let invalid = || Denial::Unauthenticated("invalid API key");
    let presented = PresentedKey::parse(header).ok_or_else(invalid)?;
    let now = state.now();
    let lookup: Option<ApiKeyLookup> =
        state.db.get(&global::api_key(presented.prefix())).await.map_err(unavailable("api key lookup"))?;
    let lookup = lookup.ok_or_else(invalid)?;
    let secret = presented.matching(&lookup, now.unix_timestamp()).ok_or_else(invalid)?.clone();

    let tenant = Tenant::claimed_by_credential(&lookup.org_id);
    let keys = [tenant.organization(), tenant.api_key(&lookup.key_id)];
    let (items, (), ()) = tokio::join!(
        state.db.batch_get(&keys),
        count_use(state, &tenant, &lookup.key_id, now),
        count_request(state, &tenant)
    );
    let items = items.map_err(unavailable("api key read"))?;
    let [org, key] = <[_; 2]>::try_from(items).map_err(|_| Denial::Unavailable)?;
    let org: Organization = decode(org, invalid())?;
    let key: ApiKey = decode(key, invalid())?;
    if key.status == KeyStatus::Revoked {
        return Err(Denial::Unauthenticated("the API key was revoked"));
    }
    if key.is_expired(now.unix_timestamp()) {
        return Err(Denial::Unauthenticated("the API key has expired"));
    }
    if !key.allows(source_ip) {
        return Err(Denial::Forbidden("the caller's address is not in the key's allow-list"));
    }
    if org.status == OrgStatus::Suspended {
        return Err(Denial::Forbidden("the organization is suspended"));
    }
    let signing = match (key.require_signature, secret.signing_kid) {
        (true, Some(kid)) => Some(SigningRef { kid, generation: secret.generation }),
        (true, None) => return Err(Denial::Unavailable),
        (false, _) => None,
    };
    // A key acts for its organisation with the authority of its scopes: an
    // `admin` key as an admin, any other as staff (a teacher).
    let role = if key.scopes.contains(&Scope::Admin) { Role::Admin } else { Role::Teacher };
    let principal = Principal {
        org_id: lookup.org_id,
        user_id: key.audit.created_by,
        role,
        scopes: key.scopes,
        auth_method: AuthMethod::ApiKey,
        session_id: None,
        api_key: Some(KeyGrant { id: key.id, signing }),
    };
    Ok(Grant { principal, usage_key: org.usage_key.map(|key| key.value) })
}

/// Adds one to the key's count for the day: every request that presented the
/// key's secret, refused ones (expired, outside the allow-list) included. A
/// failure is logged and the request goes on: usage statistics are not worth
/// refusing a caller for.
async fn count_use(state: &AppState, tenant: &Tenant, key: &ApiKeyId, now: OffsetDateTime) {
    let counter = tenant.api_key_usage(key, &usage::day(now));
    if let Err(err) = state.db.increment(&counter, now.unix_timestamp() + usage::KEEP_SECONDS, None).await {
        tracing::warn!(error = %err, api_key_id = %key, "api key usage not counted");
    }
}

/// Adds the request to its organization's count for the day (what `GET
/// /organizations/current/usage` holds against the plan's quota): every
/// request whose credential verified, counted beside the read that decides
/// it. A failure is logged and the request goes on.
async fn count_request(state: &AppState, tenant: &Tenant) {
    if let Err(err) = store::request_counts::count(state, tenant).await {
        tracing::warn!(error = %err, "request not counted");
    }
}

/// The Lambda entry point.
pub async fn handle(
    state: &AppState,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse<std::collections::HashMap<String, Value>>, lambda_runtime::Error> {
    let header = |name: &str| event.headers.get(name).and_then(|v| v.to_str().ok());
    let source_ip =
        event.request_context.identity.as_ref().and_then(|i| i.source_ip.as_deref()).and_then(|ip| ip.parse().ok());
    let credentials = Credentials { authorization: header("authorization"), api_key: header("x-api-key"), source_ip };
    let resource = api_wildcard(event.method_arn.as_deref().unwrap_or("*"));
    match authorize(state, credentials).await {
        Ok(grant) => {
            let principal = grant.principal;
            let mut response =
                response(principal.user_id.to_string(), IamPolicyEffect::Allow, resource, principal.to_context());
            response.usage_identifier_key = grant.usage_key;
            Ok(response)
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
