//! Create, list, read, revoke and rotate API keys.

use axum::extract::State;
use domain::api_key::field;
use domain::api_key::{self, ApiKey, ApiKeyLookup, KeyStatus, RetiringSecret, SecretRecord};
use domain::audit::Audit;
use domain::audit_log::{Action, Target};
use domain::clock::rfc3339;
use domain::error::FieldError;
use domain::fields::KeyName;
use domain::ids::ApiKeyId;
use domain::json::{present, present_integer};
use domain::principal::{Principal, Role, Scope};
use domain::tenancy::{Tenant, global};
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::json;
use store::AppState;
use store::api_keys;
use store::api_keys::MintedKey;
use store::api_keys::signing_secret;
use store::audit_log;
use store::cursor;
use store::db::{DbError, Range, Write};
use store::keyset::KeySet;
use store::records::Changes;
use store::users;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use web::audit;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::extract::PageRequest;
use web::extract::PathId;
use web::json::Json;
use web::json::OptionalJson;
use web::openapi::*;

use crate::view::{ApiKeySecret, ApiKeyView};

const LIST: &str = "api-keys";
const MAX_ALLOWLIST: usize = 20;
/// The longest grace a rotation may give the old secret: a week.
const MAX_GRACE_SECONDS: i64 = 7 * 24 * 3600;
const DEFAULT_GRACE_SECONDS: i64 = 24 * 3600;

/// The tenant of a signed-in admin; keys are managed by people only.
pub(crate) fn admin_tenant(principal: &Principal) -> AppResult<Tenant> {
    principal.require_user()?;
    principal.require_role(&[Role::Admin])?;
    Ok(Tenant::of(principal))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: KeyName,
    /// One or more of the API's scopes (a repeat counts once).
    #[schema(min_items = 1)]
    scopes: Vec<Scope>,
    /// RFC 3339, in the future; the key is refused from then on.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, format = DateTime)]
    expires_at: Option<String>,
    /// CIDR networks (IPv4 or IPv6) the key may be used from; none means anywhere.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, max_items = 20, value_type = Option<Vec<String>>)]
    ip_allowlist: Option<Vec<IpNet>>,
    /// Requests with this key must carry `X-Timestamp` and `X-Signature`.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    require_signature: Option<bool>,
}

/// The scopes, each once, in a stable order.
fn scope_set(mut scopes: Vec<Scope>) -> Result<Vec<Scope>, FieldError> {
    if scopes.is_empty() {
        return Err(FieldError::new("scopes", "give at least one scope"));
    }
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

/// Parses `expires_at`: RFC 3339 and after `now`.
fn expiry(raw: &str, now: OffsetDateTime) -> Result<OffsetDateTime, FieldError> {
    let at = OffsetDateTime::parse(raw, &Rfc3339)
        .map_err(|_| FieldError::new("expires_at", "must be an RFC 3339 date-time, like 2027-01-31T00:00:00Z"))?;
    if at <= now {
        return Err(FieldError::new("expires_at", "must be in the future"));
    }
    Ok(at)
}

/// The signing secret of a key's generation, if it requires signatures.
fn signing_secret_of(keys: &KeySet, key: &ApiKey, record: &SecretRecord) -> Option<String> {
    let kid = record.signing_kid.as_deref()?;
    Some(signing_secret(keys.find(kid)?, &key.org_id, &key.id, record.generation))
}

/// Creates a key. The key (and signing secret) are in this response only.
#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    operation_id = "create_api_key",
    tag = "api-keys",
    request_body = CreateKey,
    responses(
        (status = 201, description = "The key, with its secret", body = Success<ApiKeySecret>),
        JsonBodyErrors,
        Create,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    Json(req): Json<CreateKey>,
) -> AppResult<ApiResponse<ApiKeySecret>> {
    let tenant = admin_tenant(&principal)?;
    let now = state.now();
    let mut problems = Vec::new();
    let scopes = scope_set(req.scopes).unwrap_or_else(|problem| {
        problems.push(problem);
        Vec::new()
    });
    let expires = match req.expires_at.as_deref().map(|raw| expiry(raw, now)).transpose() {
        Ok(expires) => expires,
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    let allowlist = req.ip_allowlist.unwrap_or_default();
    if allowlist.len() > MAX_ALLOWLIST {
        problems.push(FieldError::new("ip_allowlist", format!("at most {MAX_ALLOWLIST} networks")));
    }
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let keys = state.key_set().await?;
    let require_signature = req.require_signature.unwrap_or(false);
    let minted = MintedKey::new();
    let key = ApiKey {
        id: ApiKeyId::new(),
        org_id: tenant.org_id().clone(),
        name: req.name,
        prefix: minted.prefix.clone(),
        scopes,
        expires_at: expires.map(rfc3339),
        expires_epoch: expires.map(OffsetDateTime::unix_timestamp),
        ip_allowlist: allowlist.into_iter().map(|net| net.trunc()).collect(),
        require_signature,
        status: KeyStatus::Active,
        generation: 1,
        rotated_at: None,
        audit: Audit::new(&principal.user_id, now),
    };
    let record = minted.record(1, require_signature.then(|| keys.newest().kid.clone()));
    let lookup = ApiKeyLookup { org_id: key.org_id.clone(), key_id: key.id.clone(), current: record, previous: None };
    let entry = audit::by(&state, &principal, Action::ApiKeyCreated)
        .target(Target::api_key(&key.id))
        .changes(json!(null), json!({"scopes": key.scopes, "require_signature": require_signature}));
    let made = state
        .db
        .transact(vec![
            Write::Put(state.db.put_new(&tenant.api_key(&key.id), &key)?),
            Write::Put(state.db.put_new(&global::api_key(&key.prefix), &lookup)?),
            // On the maker's list, for a demotion or removal to find.
            api_keys::remember(&state.db, &tenant, &principal.user_id, &key)?,
            audit_log::put(&state, &tenant, &entry)?,
        ])
        .await;
    if let Err(DbError::Cancelled { failed }) = &made
        && failed.contains(&2)
    {
        let maker = users::find_active(&state.db, &tenant, &principal.user_id).await?;
        return Err(if maker.role == Role::Admin {
            AppError::Conflict(format!(
                "an admin may hold at most {} API keys: revoke one first",
                api_key::MAX_PER_ADMIN
            ))
        } else {
            AppError::Forbidden("only an admin may create API keys".into())
        });
    }
    made?;
    tracing::info!(api_key_id = %key.id, prefix = %key.prefix, "api key created");
    let signing_secret = signing_secret_of(&keys, &key, &lookup.current);
    Ok(ApiResponse::created(ApiKeySecret { key: minted.token(), signing_secret, view: key.into() }).no_store())
}

/// The organization's API keys (not revoked ones), a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    operation_id = "list_api_keys",
    tag = "api-keys",
    params(
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of keys", body = Success<Vec<ApiKeyView>>),
        ReadList,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<ApiKeyView>>> {
    let tenant = admin_tenant(&principal)?;
    let keys = state.key_set().await?;
    let start = page.start(&keys, &tenant, LIST)?;
    let listing = tenant.listing(Tenant::API_KEY_PREFIX);
    let range = Range::listing(&listing, Tenant::API_KEY_PREFIX);
    let found = state.db.query::<ApiKey>(&range, page.limit, start).await?;
    let next = found.last_key.map(|key| cursor::encode(&keys, &tenant, LIST, &key));
    Ok(ApiResponse::page(found.items.into_iter().map(ApiKeyView::from).collect(), next))
}

/// One API key, without its secret.
#[utoipa::path(
    get,
    path = "/api/v1/api-keys/{id}",
    operation_id = "get_api_key",
    tag = "api-keys",
    params(("id" = ApiKeyId, Path, description = "The key's id")),
    responses(
        (status = 200, description = "The key", body = Success<ApiKeyView>),
        ReadOne,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    PathId(id): PathId<ApiKeyId>,
) -> AppResult<ApiResponse<ApiKeyView>> {
    let tenant = admin_tenant(&principal)?;
    let key: ApiKey = state.db.live(&tenant, &id).await?;
    let version = key.audit.version;
    Ok(ApiResponse::ok(ApiKeyView::from(key)).with_etag(version))
}

/// Revokes a key: refused from this moment on, and no longer listed.
#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{id}",
    operation_id = "revoke_api_key",
    tag = "api-keys",
    params(("id" = ApiKeyId, Path, description = "The key's id")),
    responses(
        (status = 200, description = "The revoked key", body = Success<ApiKeyView>),
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    PathId(id): PathId<ApiKeyId>,
) -> AppResult<ApiResponse<ApiKeyView>> {
    let tenant = admin_tenant(&principal)?;
    let key: ApiKey = state.db.live(&tenant, &id).await?;
    let now = state.now();
    let [revoked, lookup] = api_keys::revoke(&state.db, &tenant, &id, &key.prefix, &principal.user_id, now)?;
    let maker = api_keys::forget(&state.db, &tenant, &key.audit.created_by, &id)?;
    let entry = audit::by(&state, &principal, Action::ApiKeyRevoked).target(Target::api_key(&id));
    state.db.transact(vec![revoked, lookup, maker, audit_log::put(&state, &tenant, &entry)?]).await?;
    tracing::info!(api_key_id = %id, "api key revoked");
    let revoked = ApiKey { status: KeyStatus::Revoked, audit: key.audit.deleted(&principal.user_id, now), ..key };
    Ok(ApiResponse::ok(revoked.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// How long the old secret keeps working, in seconds (default 86400, at most 604800).
    #[serde(default, deserialize_with = "present_integer")]
    #[schema(nullable = false, minimum = 0, maximum = 604800)]
    grace_period_seconds: Option<i64>,
}

/// Gives a key a new secret (and signing secret). The old secret keeps
/// working for the grace period, then stops; an older one stops at once.
#[utoipa::path(
    post,
    path = "/api/v1/api-keys/{id}/rotate",
    operation_id = "rotate_api_key",
    tag = "api-keys",
    params(("id" = ApiKeyId, Path, description = "The key's id")),
    request_body(content = Option<Rotation>, description = "Optional; an empty body takes the defaults"),
    responses(
        (status = 200, description = "The key, with its new secret", body = Success<ApiKeySecret>),
        JsonBodyErrors,
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn rotate(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    PathId(id): PathId<ApiKeyId>,
    OptionalJson(req): OptionalJson<Rotation>,
) -> AppResult<ApiResponse<ApiKeySecret>> {
    let tenant = admin_tenant(&principal)?;
    let grace = req.grace_period_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
    if !(0..=MAX_GRACE_SECONDS).contains(&grace) {
        return Err(AppError::invalid("grace_period_seconds", format!("must be between 0 and {MAX_GRACE_SECONDS}")));
    }
    let key: ApiKey = state.db.live(&tenant, &id).await?;
    let lookup: ApiKeyLookup = state
        .db
        .get(&global::api_key(&key.prefix))
        .await?
        .ok_or_else(|| AppError::Conflict("the key was revoked meanwhile".into()))?;
    let keys = state.key_set().await?;
    let now = state.now();
    let minted = MintedKey::with_prefix(key.prefix.clone());
    let generation = key.generation + 1;
    let record = minted.record(generation, key.require_signature.then(|| keys.newest().kid.clone()));
    let previous = RetiringSecret { record: lookup.current.clone(), valid_until: now.unix_timestamp() + grace };
    let changes = Changes::new().set(field::GENERATION, &generation).set(field::ROTATED_AT, &rfc3339(now));
    let update_key = state.db.patch_update(&tenant, &key, None, &principal.user_id, now, changes)?;
    let update_lookup = api_keys::rotate_lookup(&state.db, &key.prefix, &lookup, &record, &previous)?;
    let entry = audit::by(&state, &principal, Action::ApiKeyRotated)
        .target(Target::api_key(&id))
        .changes(json!({"generation": key.generation}), json!({"generation": generation}));
    state.db.transact(vec![Write::Update(update_key), update_lookup, audit_log::put(&state, &tenant, &entry)?]).await?;
    tracing::info!(api_key_id = %id, generation, grace_seconds = grace, "api key rotated");
    let rotated =
        ApiKey { generation, rotated_at: Some(rfc3339(now)), audit: key.audit.updated(&principal.user_id, now), ..key };
    let signing_secret = signing_secret_of(&keys, &rotated, &record);
    Ok(ApiResponse::ok(ApiKeySecret { key: minted.token(), signing_secret, view: rotated.into() }).no_store())
}
