//! Making, listing, reading and deleting environments. Making one builds
//! its Rojo project and place file from the content and keeps both in S3.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use domain::assessment::Assessment;
use domain::audit::Audit;
use domain::class::Class;
use domain::content::ContentItem;
use domain::fields::EnvironmentName;
use domain::generation::content::GeneratedContent;
use domain::ids::{AssessmentId, ClassId, ContentId, EnvironmentId, LessonId};
use domain::json::{present, present_whole};
use domain::lesson::Lesson;
use domain::roblox::{self, Artifact, Environment, EnvironmentStatus, Theme};
use domain::tenancy::Tenant;
use lambda_http::request::RequestContext;
use serde::{Deserialize, Serialize};
use store::AppState;
use store::bodies;
use store::cursor;
use store::db::Range;
use store::objects;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::{IfMatch, PageRequest, PathId, Staff};
use web::json::Json;
use web::openapi::*;

use crate::project::{self, data, place, rojo};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnvironment {
    /// The generated lesson or quiz to build the world from.
    content_id: ContentId,
    /// At most 50 characters; the content's title (cut to 50) by default.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    name: Option<EnvironmentName>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    theme: Option<Theme>,
    /// Players in one server, 1 to 100 (30 by default).
    #[serde(default, deserialize_with = "present_whole")]
    #[schema(nullable = false, minimum = 1, maximum = 100)]
    max_players: Option<u8>,
    /// The class that plays it.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    class_id: Option<ClassId>,
    /// A lesson made from this content: the game reports students'
    /// progress through it.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    lesson_id: Option<LessonId>,
    /// An assessment made from this content: the game's quiz answers are
    /// graded as its attempts.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    assessment_id: Option<AssessmentId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnvironmentView {
    id: EnvironmentId,
    name: String,
    status: EnvironmentStatus,
    content_id: ContentId,
    #[serde(skip_serializing_if = "Option::is_none")]
    class_id: Option<ClassId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lesson_id: Option<LessonId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    assessment_id: Option<AssessmentId>,
    max_players: u8,
    theme: Theme,
    /// What the game server names itself by (`X-Environment-Key`).
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    published_version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    published_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<&Environment> for EnvironmentView {
    fn from(environment: &Environment) -> Self {
        Self {
            id: environment.id.clone(),
            name: environment.name.clone(),
            status: environment.status(),
            content_id: environment.content_id.clone(),
            class_id: environment.class_id.clone(),
            lesson_id: environment.lesson_id.clone(),
            assessment_id: environment.assessment_id.clone(),
            max_players: environment.max_players,
            theme: environment.theme,
            key_id: environment.key_id(),
            published_version: environment.published_version,
            published_at: environment.published_at.clone(),
            created_at: environment.audit.created_at.clone(),
            updated_at: environment.audit.updated_at.clone(),
        }
    }
}

/// A new environment, with the one thing shown only now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEnvironment {
    #[serde(flatten)]
    environment: EnvironmentView,
    /// The game server's signing secret (64 hex digits): shown in this
    /// answer only. A place published by ToolboxAI holds it already; a
    /// downloaded project needs it in `config/ToolboxConfig.json`.
    signing_secret: String,
}

/// The lesson or assessment named must be the organization's, made from
/// the environment's content, and published (to its class, when it has
/// one): else no student could report through it.
fn playable(
    req: &NewEnvironment,
    field: &str,
    made: Option<&ContentId>,
    published: bool,
    class_ids: &[ClassId],
) -> AppResult<()> {
    if made != Some(&req.content_id) {
        return Err(AppError::invalid(field, "must be made from the environment's content_id"));
    }
    let reaches_class = req.class_id.as_ref().is_none_or(|class| class_ids.contains(class));
    if !published || !reaches_class {
        return Err(AppError::invalid(field, "publish it (to the environment's class) first"));
    }
    Ok(())
}

/// What the environment is built from, read and checked.
struct Sources {
    content: ContentItem,
    body: GeneratedContent,
    assessment: Option<Assessment>,
}

async fn sources(state: &AppState, tenant: &Tenant, req: &NewEnvironment) -> AppResult<Sources> {
    let content = state.db.live::<ContentItem>(tenant, &req.content_id).await?;
    if let Some(class) = &req.class_id {
        state
            .db
            .find_live::<Class>(tenant, class)
            .await?
            .ok_or_else(|| AppError::invalid("class_id", "no such class"))?;
    }
    let mut body = bodies::load(state, &content).await?;
    if let Some(id) = &req.lesson_id {
        let lesson = state.db.find_live::<Lesson>(tenant, id).await?;
        let lesson = lesson.ok_or_else(|| AppError::invalid("lesson_id", "no such lesson"))?;
        let published = lesson.status == domain::lesson::LessonStatus::Published;
        playable(req, "lesson_id", lesson.content_id.as_ref(), published, &lesson.class_ids)?;
        // The lesson as taught now, which may have been edited since.
        body = GeneratedContent {
            title: lesson.title,
            summary: lesson.summary,
            objectives: lesson.objectives,
            sections: lesson.sections,
            quiz: body.quiz,
        };
    }
    let assessment = match &req.assessment_id {
        Some(id) => {
            let assessment = state.db.find_live::<Assessment>(tenant, id).await?;
            let assessment = assessment.ok_or_else(|| AppError::invalid("assessment_id", "no such assessment"))?;
            let published = assessment.status == domain::assessment::AssessmentStatus::Published;
            playable(req, "assessment_id", assessment.content_id.as_ref(), published, &assessment.class_ids)?;
            Some(assessment)
        }
        None => None,
    };
    Ok(Sources { content, body, assessment })
}

/// Where games reach this API: the configured address; else, behind API
/// Gateway's own domain, that domain and the stage (its URL holds the
/// stage, which the function's paths do not); else the address this request
/// came to (a custom domain, `make dev`).
fn api_url(configured: Option<&str>, headers: &HeaderMap, context: Option<&RequestContext>) -> String {
    if let Some(url) = configured {
        return url.to_owned();
    }
    if let Some(RequestContext::ApiGatewayV1(context)) = context {
        let domain = context.domain_name.as_deref().filter(|domain| domain.ends_with(".amazonaws.com"));
        if let (Some(domain), Some(stage)) = (domain, context.stage.as_deref()) {
            return format!("https://{domain}/{stage}");
        }
    }
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header(header::HOST.as_str()).unwrap_or("localhost");
    let scheme = header("x-forwarded-proto").unwrap_or("http");
    format!("{scheme}://{host}")
}

/// Turns a generated lesson or quiz into a Roblox environment: a Rojo 7
/// project and a place file of the same tree, built here and kept in S3,
/// with the lesson shipped only as data. The answer carries the game
/// server's signing secret, once.
#[utoipa::path(
    post,
    path = "/api/v1/roblox/environments",
    operation_id = "create_roblox_environment",
    tag = "roblox",
    request_body = NewEnvironment,
    responses(
        (status = 201, description = "The environment, built", body = Success<CreatedEnvironment>),
        JsonBodyErrors,
        (status = 404, response = NotFound),
        Create,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn create(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    headers: HeaderMap,
    context: Option<Extension<RequestContext>>,
    Json(req): Json<NewEnvironment>,
) -> AppResult<ApiResponse<CreatedEnvironment>> {
    let max_players = req.max_players.unwrap_or(roblox::DEFAULT_MAX_PLAYERS);
    if !(1..=roblox::MAX_PLAYERS).contains(&max_players) {
        return Err(AppError::invalid("max_players", "must be from 1 to 100"));
    }
    let sources = sources(&state, &tenant, &req).await?;
    let id = EnvironmentId::new();
    let name = match req.name {
        Some(name) => name.to_string(),
        None => sources.content.title.chars().take(50).collect::<String>().trim().to_owned(),
    };
    let context = context.as_ref().map(|Extension(context)| context);
    let api_url = api_url(state.config.public_api_url.as_deref(), &headers, context);
    let environment = Environment {
        id,
        org_id: tenant.org_id().clone(),
        name,
        theme: req.theme.unwrap_or_default(),
        max_players,
        content_id: sources.content.id.clone(),
        class_id: req.class_id,
        lesson_id: req.lesson_id,
        assessment_id: req.assessment_id,
        signing_secret: roblox::new_signing_secret(),
        api_url,
        published_version: None,
        published_at: None,
        audit: Audit::new(&principal.user_id, state.now()),
    };
    let lesson = data::lesson(&environment, &sources.body, sources.assessment.as_ref());
    let tree = project::game_tree(lesson, data::config(&environment, None));
    let files = rojo::files(&tree, &format!("toolbox-{}", environment.id));
    let zip = rojo::zipped(&files).map_err(|err| AppError::internal(format!("zipping the project: {err}")))?;
    let rbxlx = place::rbxlx(&place::dom(&tree)).map_err(|err| AppError::internal(format!("the place: {err}")))?;
    // The files first: a stored environment always has both.
    let stored = |artifact| tenant.roblox_object(&environment.id, artifact);
    objects::put(&state, &stored(Artifact::Project), zip, "application/zip").await?;
    objects::put(&state, &stored(Artifact::Place), rbxlx, "application/xml").await?;
    state.db.sealing(&tenant).await?;
    state.db.insert(&tenant, &environment, Vec::new()).await?;
    store::activity::record(&state, &tenant, &principal, "roblox.environment_created", &environment.id, &[]).await;
    tracing::info!(environment_id = %environment.id, "roblox environment built");
    let view = EnvironmentView::from(&environment);
    Ok(ApiResponse::created(CreatedEnvironment { environment: view, signing_secret: environment.signing_secret }))
}

const LIST: &str = "roblox-environments";

/// The organization's environments, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/roblox/environments",
    operation_id = "list_roblox_environments",
    tag = "roblox",
    params(PageRequest),
    responses(
        (status = 200, description = "A page of environments", body = Success<Vec<EnvironmentView>>),
        ReadList,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<EnvironmentView>>> {
    let keys = state.key_set().await?;
    let start = page.start(&keys, &tenant, LIST)?;
    let listing = tenant.listing(Tenant::ROBLOX_ENVIRONMENT_PREFIX);
    let range = Range::listing(&listing, Tenant::ROBLOX_ENVIRONMENT_PREFIX).newest_first().live_only();
    let found = state.db.query::<Environment>(&range, page.limit, start).await?;
    let next = found.last_key.map(|key| cursor::encode(&keys, &tenant, LIST, &key));
    Ok(ApiResponse::page(found.items.iter().map(EnvironmentView::from).collect(), next))
}

/// One environment.
#[utoipa::path(
    get,
    path = "/api/v1/roblox/environments/{id}",
    operation_id = "get_roblox_environment",
    tag = "roblox",
    params(("id" = EnvironmentId, Path, description = "The environment's id")),
    responses(
        (status = 200, description = "The environment", body = Success<EnvironmentView>),
        ReadOne,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    PathId(id): PathId<EnvironmentId>,
) -> AppResult<ApiResponse<EnvironmentView>> {
    let environment = state.db.live::<Environment>(&tenant, &id).await?;
    Ok(ApiResponse::ok(EnvironmentView::from(&environment)).with_etag(environment.audit.version))
}

/// Deletes an environment: gone from lists and reads, its game's reports
/// refused; the stored item is kept, marked deleted.
#[utoipa::path(
    delete,
    path = "/api/v1/roblox/environments/{id}",
    operation_id = "delete_roblox_environment",
    tag = "roblox",
    params(
        ("id" = EnvironmentId, Path, description = "The environment's id"),
        IfMatch,
    ),
    responses(
        (status = 200, description = "The deleted environment", body = Success<EnvironmentView>),
        (status = 400, response = BadRequest),
        VersionedChange,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn delete(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    PathId(id): PathId<EnvironmentId>,
    IfMatch(asked): IfMatch,
) -> AppResult<ApiResponse<EnvironmentView>> {
    let environment = state.db.live::<Environment>(&tenant, &id).await?;
    principal.require_owner_or_admin(&environment.audit.created_by, "the environment's author")?;
    let deleted = state.db.soft_delete(&tenant, &environment, asked, &principal.user_id, state.now()).await?;
    tracing::info!(environment_id = %id, "roblox environment deleted");
    Ok(ApiResponse::ok(EnvironmentView::from(&deleted)))
}

#[cfg(test)]
mod tests {
    use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;

    use super::*;

    fn through_api_gateway(domain: &str, stage: &str) -> RequestContext {
        let mut context = ApiGatewayProxyRequestContext::default();
        context.domain_name = Some(domain.to_owned());
        context.stage = Some(stage.to_owned());
        RequestContext::ApiGatewayV1(context)
    }

    #[test]
    fn games_reach_the_configured_address_else_the_stage_else_the_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "api.school.example".parse().unwrap());
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        let execute_api = through_api_gateway("abc123.execute-api.eu-west-1.amazonaws.com", "prod");
        let custom = through_api_gateway("api.school.example", "prod");
        assert_eq!(api_url(Some("https://set.example"), &headers, Some(&execute_api)), "https://set.example");
        assert_eq!(
            api_url(None, &headers, Some(&execute_api)),
            "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
        );
        // A custom domain maps the stage itself.
        assert_eq!(api_url(None, &headers, Some(&custom)), "https://api.school.example");
        let local = HeaderMap::from_iter([(header::HOST, "127.0.0.1:8011".parse().unwrap())]);
        assert_eq!(api_url(None, &local, None), "http://127.0.0.1:8011");
    }
}
