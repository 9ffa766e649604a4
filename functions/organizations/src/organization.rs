//! `GET` and `PATCH /organizations/current`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use domain::fields::{Locale, OrgName, TimeZone};
use domain::json::present;
use domain::organization::{OrgSettings, Organization, OrganizationView};
use domain::principal::Role;
use domain::tenancy::Tenant;
use serde::Deserialize;
use store::AppState;
use store::db::{Db, DbError, value};
use utoipa::ToSchema;
use utoipa::openapi::schema::AdditionalProperties;
use utoipa::openapi::{ObjectBuilder, Ref, RefOr, Schema};
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::http::{if_match, revalidated};
use web::json::Json;
use web::openapi::*;

async fn load(state: &AppState, tenant: &Tenant) -> AppResult<Organization> {
    state.db.get(&tenant.organization()).await?.ok_or_else(|| AppError::not_found("organization"))
}

/// The caller's organization. Revalidate with `If-None-Match`.
#[utoipa::path(
    get,
    path = "/api/v1/organizations/current",
    tag = "organizations",
    params(("If-None-Match" = Option<String>, Header, nullable = false, description = "An `ETag` from before")),
    responses(
        (status = 200, description = "The organization", body = Success<OrganizationView>,
            headers(("ETag" = String, description = "The version, quoted"))),
        (status = 304, description = "Unchanged since the `ETag` sent"),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn get(State(state): State<AppState>, Caller(principal): Caller, headers: HeaderMap) -> AppResult<Response> {
    let org = load(&state, &Tenant::of(&principal)).await?;
    Ok(revalidated(&headers, org.audit.version, OrganizationView::from(org)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    timezone: Option<TimeZone>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    locale: Option<Locale>,
}

/// At least one of `name` and `settings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationPatch {
    #[serde(default, deserialize_with = "present")]
    name: Option<OrgName>,
    #[serde(default, deserialize_with = "present")]
    settings: Option<SettingsPatch>,
}

// Written by hand: utoipa 5.5's `min_properties` emits `maxProperties`.
impl utoipa::PartialSchema for OrganizationPatch {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some("At least one of `name` and `settings`."))
            .property("name", Ref::from_schema_name(OrgName::name()))
            .property("settings", Ref::from_schema_name(SettingsPatch::name()))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .min_properties(Some(1))
            .into()
    }
}

impl ToSchema for OrganizationPatch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((OrgName::name().into_owned(), <OrgName as utoipa::PartialSchema>::schema()));
        schemas.push((SettingsPatch::name().into_owned(), <SettingsPatch as utoipa::PartialSchema>::schema()));
        <SettingsPatch as ToSchema>::schemas(schemas);
    }
}

#[utoipa::path(
    patch,
    path = "/api/v1/organizations/current",
    tag = "organizations",
    params(("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?("[0-9]+"|[0-9]+))$"#, description = "The `ETag` the change is based on")),
    request_body = OrganizationPatch,
    responses(
        (status = 200, description = "The changed organization", body = Success<OrganizationView>,
            headers(("ETag" = String, description = "The new version, quoted"))),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
/// Admins rename the organisation or change its settings. With `If-Match`,
/// a stale version is a 412; without, a concurrent change is a 409.
pub async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    Json(patch): Json<OrganizationPatch>,
) -> AppResult<ApiResponse<OrganizationView>> {
    principal.require_role(&[Role::Admin])?;
    if patch.name.is_none() && patch.settings.is_none() {
        return Err(AppError::invalid("body", "give name or settings to change"));
    }
    let expected = if_match(&headers)?;
    let tenant = Tenant::of(&principal);
    let org = load(&state, &tenant).await?;
    if expected.is_some_and(|v| v != org.audit.version) {
        return Err(AppError::PreconditionFailed(format!("the organization is at version {}", org.audit.version)));
    }
    let name = patch.name.unwrap_or(org.name);
    let settings = match patch.settings {
        Some(changed) => OrgSettings {
            timezone: changed.timezone.or(org.settings.timezone),
            locale: changed.locale.or(org.settings.locale),
        },
        None => org.settings,
    };
    // Only name and settings are written: `admin_count` and `status` belong to
    // other writers and must not be overwritten with what was read here.
    let update = state.db.update_versioned(
        &tenant.organization(),
        org.audit.version,
        &principal.user_id,
        state.now(),
        vec![("name", value(&name)?), ("settings", value(&settings)?)],
    )?;
    let stored = state.db.run_update(update).await.map_err(|err| match err {
        DbError::ConditionFailed if expected.is_some() => {
            AppError::PreconditionFailed("the organization was changed meanwhile".into())
        }
        other => other.into(),
    })?;
    let org: Organization = Db::decode(stored)?;
    let version = org.audit.version;
    Ok(ApiResponse::ok(org.into()).with_etag(version))
}
