//! `GET` and `PATCH /organizations/current`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use domain::audit_log::{Action, Target};
use domain::fields::{Locale, OrgName, TimeZone};
use domain::json::present;
use domain::organization::field;
use domain::organization::{OrgSettings, Organization, OrganizationView};
use domain::tenancy::Tenant;
use serde::Deserialize;
use serde_json::json;
use store::AppState;
use store::audit_log;
use store::db::{Db, Write};
use store::records::Changes;
use utoipa::ToSchema;
use utoipa::openapi::schema::AdditionalProperties;
use utoipa::openapi::{ObjectBuilder, Ref, RefOr, Schema};
use web::audit;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::IfMatch;
use web::extract::{Admin, Caller};
use web::http::revalidated;
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
pub async fn get(State(state): State<AppState>, Caller(_, tenant): Caller, headers: HeaderMap) -> AppResult<Response> {
    let org = load(&state, &tenant).await?;
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
    params(IfMatch),
    request_body = OrganizationPatch,
    responses(
        (status = 200, description = "The changed organization", body = Success<OrganizationView>,
            headers(("ETag" = String, description = "The new version, quoted"))),
        JsonBodyErrors,
        VersionedChange,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
/// Admins rename the organisation or change its settings. With `If-Match`,
/// a stale version is a 412; without, a concurrent change is a 409.
pub async fn update(
    State(state): State<AppState>,
    Admin(principal, tenant): Admin,
    IfMatch(asked): IfMatch,
    Json(patch): Json<OrganizationPatch>,
) -> AppResult<ApiResponse<OrganizationView>> {
    if patch.name.is_none() && patch.settings.is_none() {
        return Err(AppError::invalid("body", "give name or settings to change"));
    }
    let org = load(&state, &tenant).await?;
    let name = patch.name.unwrap_or_else(|| org.name.clone());
    let settings = match patch.settings {
        Some(changed) => OrgSettings {
            timezone: changed.timezone.or_else(|| org.settings.timezone.clone()),
            locale: changed.locale.or_else(|| org.settings.locale.clone()),
        },
        None => org.settings.clone(),
    };
    let now = state.now();
    let changes = Changes::new().set(field::NAME, &name).set(field::SETTINGS, &settings);
    let update = state.db.patch_update(&tenant, &org, asked, &principal.user_id, now, changes)?;
    let entry = audit::by(&state, &principal, Action::OrganizationUpdated)
        .target(Target::organization(&org.id))
        .changes(json!({"name": org.name, "settings": org.settings}), json!({"name": name, "settings": settings}));
    let writes = vec![Write::Update(update), audit_log::put(&state, &tenant, &entry)?];
    state.db.transact(writes).await.map_err(|err| Db::lost_patch::<Organization>(err, 0, asked))?;
    let org = Organization { name, settings, audit: org.audit.updated(&principal.user_id, now), ..org };
    let version = org.audit.version;
    Ok(ApiResponse::ok(org.into()).with_etag(version))
}
