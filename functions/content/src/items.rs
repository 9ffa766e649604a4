//! Content items: list, read, edit (versioned), publish and delete (soft).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use domain::clock::rfc3339;
use domain::content::{ContentItem, ContentStatus};
use domain::generation::content::{GeneratedContent, Question, Section};
use domain::generation::request::ContentKind;
use domain::ids::ContentId;
use domain::json::present;
use domain::tenancy::Tenant;
use serde::Deserialize;
use store::AppState;
use store::bodies::{self, StoredBody};
use store::cursor;
use store::db::commit_versioned;
use store::db::lost_race;
use store::db::{Db, Range, s, value};
use store::search;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::extract::PageRequest;
use web::extract::PathId;
use web::http::{expect_version, not_modified, revalidated};
use web::json::Json;
use web::openapi::*;

use crate::staff_tenant;
use crate::view::{ContentSummary, ContentView};

const LIST: &str = "content";

/// A content item that is not deleted.
pub(crate) async fn find(state: &AppState, tenant: &Tenant, id: &ContentId) -> AppResult<ContentItem> {
    state
        .db
        .get::<ContentItem>(&tenant.content(id))
        .await?
        .filter(|item| item.deleted_at.is_none())
        .ok_or_else(|| AppError::not_found("content"))
}

/// The organization's content, newest first, without bodies.
#[utoipa::path(
    get,
    path = "/api/v1/content",
    operation_id = "list_content",
    tag = "content",
    params(
        ("limit" = Option<i32>, Query, nullable = false, minimum = 1, maximum = 100, description = "Page size (default 20)"),
        ("cursor" = Option<String>, Query, nullable = false, description = "`metadata.next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of content", body = Success<Vec<ContentSummary>>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<ContentSummary>>> {
    let tenant = staff_tenant(&principal)?;
    let keys = state.key_set().await?;
    let start = page.cursor.as_deref().map(|c| cursor::decode(&keys, &tenant, LIST, c)).transpose()?;
    let partition = tenant.pk();
    let range = Range {
        partition: &partition,
        prefix: Tenant::CONTENT_PREFIX,
        index: None,
        newest_first: true,
        live_only: true,
    };
    let found = state.db.query::<ContentItem>(&range, page.limit, start).await?;
    let next = found.last_key.map(|key| cursor::encode(&keys, &tenant, LIST, &key));
    Ok(ApiResponse::page(found.items.iter().map(ContentSummary::from).collect(), next))
}

/// One content item with its body. Revalidate with `If-None-Match`.
#[utoipa::path(
    get,
    path = "/api/v1/content/{id}",
    operation_id = "get_content",
    tag = "content",
    params(
        ("id" = ContentId, Path, description = "The content's id"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "An `ETag` from before"),
    ),
    responses(
        (status = 200, description = "The content", body = Success<ContentView>,
            headers(("ETag" = String, description = "The version, quoted"))),
        (status = 304, description = "Unchanged since the `ETag` sent"),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    PathId(id): PathId<ContentId>,
) -> AppResult<Response> {
    let tenant = staff_tenant(&principal)?;
    let item = find(&state, &tenant, &id).await?;
    if not_modified(&headers, item.audit.version) {
        return Ok(revalidated(&headers, item.audit.version, ()));
    }
    let body = bodies::load(&state, &item).await?;
    Ok(revalidated(&headers, item.audit.version, ContentView::of(&item, body)))
}

/// The whole body of a content item, edited: a lesson has `sections` and a
/// `quiz`, a quiz has `questions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentEdit {
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    #[schema(min_length = 1, max_length = 2000)]
    summary: String,
    #[schema(min_items = 1, max_items = 20)]
    objectives: Vec<String>,
    /// A lesson's sections (1 to 30); a quiz has none.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, max_items = 30)]
    sections: Option<Vec<Section>>,
    /// A lesson's questions.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, max_items = 50)]
    quiz: Option<Vec<Question>>,
    /// A quiz's questions (1 to 50).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, max_items = 50)]
    questions: Option<Vec<Question>>,
}

impl ContentEdit {
    /// The body for an item of `kind`, or what is wrong with it.
    fn into_body(self, kind: ContentKind) -> AppResult<GeneratedContent> {
        let misplaced = match kind {
            ContentKind::Lesson => {
                self.questions.is_some().then_some(("questions", "a lesson's questions are its quiz"))
            }
            ContentKind::Quiz => match (&self.sections, &self.quiz) {
                (Some(_), _) => Some(("sections", "a quiz has no sections")),
                (_, Some(_)) => Some(("quiz", "a quiz's questions are its questions")),
                _ => None,
            },
        };
        if let Some((field, problem)) = misplaced {
            return Err(AppError::invalid(field, problem));
        }
        let body = GeneratedContent {
            title: self.title,
            summary: self.summary,
            objectives: self.objectives,
            sections: self.sections.unwrap_or_default(),
            quiz: self.quiz.or(self.questions).unwrap_or_default(),
        };
        let problems = body.check_edit(kind);
        if problems.is_empty() { Ok(body) } else { Err(AppError::Validation(problems)) }
    }
}

/// Replaces the body of a content item (a new version). With `If-Match`, a
/// stale version is a 412; without, a concurrent change is a 409.
#[utoipa::path(
    put,
    path = "/api/v1/content/{id}",
    operation_id = "update_content",
    tag = "content",
    params(
        ("id" = ContentId, Path, description = "The content's id"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?("[0-9]+"|[0-9]+))$"#, description = "The `ETag` the change is based on"),
    ),
    request_body = ContentEdit,
    responses(
        (status = 200, description = "The content as changed", body = Success<ContentView>,
            headers(("ETag" = String, description = "The new version, quoted"))),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    PathId(id): PathId<ContentId>,
    Json(edit): Json<ContentEdit>,
) -> AppResult<ApiResponse<ContentView>> {
    let tenant = staff_tenant(&principal)?;
    let item = find(&state, &tenant, &id).await?;
    principal.require_owner_or_admin(&item.audit.created_by, "the content's creator")?;
    let expected = expect_version(&headers, item.audit.version, "content")?;
    let body = edit.into_body(item.kind)?;
    let version = item.audit.version + 1;
    let stored = StoredBody::store(&state, &tenant, &id, version, &body).await?;
    let terms = search::terms(&body);
    search::add(&state.db, &tenant, &id, version, &terms).await?;
    let now = state.now();
    let update = state.db.update_versioned(
        &tenant.content(&id),
        item.audit.version,
        &principal.user_id,
        now,
        vec![
            ("title", s(&body.title)),
            ("summary", s(&body.summary)),
            ("body", value(&stored.body)?),
            ("body_object", value(&stored.body_object)?),
            ("search_terms", value(&terms)?),
        ],
    )?;
    let changed: ContentItem = match state.db.run_update(update).await {
        Ok(item) => Db::decode(item)?,
        Err(err) => {
            // No item points at the body this edit wrote.
            if let Some(key) = &stored.body_object
                && let Err(err) = StoredBody::discard(&state, key).await
            {
                tracing::warn!(error = %err, content_id = %id, "an unused content body was not deleted");
            }
            return Err(lost_race(expected, "content")(err).into());
        }
    };
    settle(&state, &tenant, &item, &changed).await;
    Ok(ApiResponse::ok(ContentView::of(&changed, body)).with_etag(changed.audit.version))
}

/// Tidies up after a committed change: index entries of terms the item no
/// longer has, and the S3 body of the version it replaced (marked for the
/// bucket's lifecycle rule, not deleted, so a reader still holding the old
/// version can fetch it). Both are only clutter if left (a search ranks by
/// the item's own terms), so a failure is logged, not answered.
async fn settle(state: &AppState, tenant: &Tenant, before: &ContentItem, after: &ContentItem) {
    let pruned =
        search::prune(&state.db, tenant, &before.id, &before.search_terms, &after.search_terms, after.audit.version)
            .await;
    if let Err(err) = pruned {
        tracing::warn!(error = %err, content_id = %before.id, "stale search entries not deleted");
    }
    if let Some(key) = before.body_object.as_ref().filter(|key| after.body_object.as_ref() != Some(*key))
        && let Err(err) = StoredBody::retire(state, key).await
    {
        tracing::warn!(error = %err, content_id = %before.id, "old content body not marked superseded");
    }
}

/// Publishes a draft (a new version). Publishing twice is a 409.
#[utoipa::path(
    post,
    path = "/api/v1/content/{id}/publish",
    operation_id = "publish_content",
    tag = "content",
    params(
        ("id" = ContentId, Path, description = "The content's id"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?("[0-9]+"|[0-9]+))$"#, description = "The `ETag` the change is based on"),
    ),
    responses(
        (status = 200, description = "The content, published", body = Success<ContentSummary>,
            headers(("ETag" = String, description = "The new version, quoted"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn publish(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    PathId(id): PathId<ContentId>,
) -> AppResult<ApiResponse<ContentSummary>> {
    let tenant = staff_tenant(&principal)?;
    let item = find(&state, &tenant, &id).await?;
    principal.require_owner_or_admin(&item.audit.created_by, "the content's creator")?;
    let expected = expect_version(&headers, item.audit.version, "content")?;
    if item.status == ContentStatus::Published {
        return Err(AppError::Conflict("the content is already published".into()));
    }
    let now = state.now();
    let update = state.db.update_versioned(
        &tenant.content(&id),
        item.audit.version,
        &principal.user_id,
        now,
        vec![
            ("status", value(&ContentStatus::Published)?),
            ("published_at", s(rfc3339(now))),
            ("published_by", s(principal.user_id.to_string())),
        ],
    )?;
    let changed: ContentItem = commit_versioned(&state.db, update, expected, "content").await?;
    tracing::info!(content_id = %id, "content published");
    Ok(ApiResponse::ok(ContentSummary::from(&changed)).with_etag(changed.audit.version))
}

/// Deletes a content item: gone from lists, reads and searches; the stored
/// item is kept, marked deleted, for the audit trail.
#[utoipa::path(
    delete,
    path = "/api/v1/content/{id}",
    operation_id = "delete_content",
    tag = "content",
    params(
        ("id" = ContentId, Path, description = "The content's id"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?("[0-9]+"|[0-9]+))$"#, description = "The `ETag` the change is based on"),
    ),
    responses(
        (status = 200, description = "The deleted content", body = Success<ContentSummary>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn delete(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    PathId(id): PathId<ContentId>,
) -> AppResult<ApiResponse<ContentSummary>> {
    let tenant = staff_tenant(&principal)?;
    let item = find(&state, &tenant, &id).await?;
    principal.require_owner_or_admin(&item.audit.created_by, "the content's creator")?;
    let expected = expect_version(&headers, item.audit.version, "content")?;
    let now = state.now();
    let update = state.db.soft_delete(&tenant.content(&id), item.audit.version, &principal.user_id, now)?;
    let deleted: ContentItem = commit_versioned(&state.db, update, expected, "content").await?;
    // A deleted item changes no more, so every entry goes, whatever its version.
    let after_all = deleted.audit.version + 1;
    if let Err(err) = search::prune(&state.db, &tenant, &id, &item.search_terms, &BTreeMap::new(), after_all).await {
        tracing::warn!(error = %err, content_id = %id, "search entries of deleted content not deleted");
    }
    tracing::info!(content_id = %id, "content deleted");
    Ok(ApiResponse::ok(ContentSummary::from(&deleted)))
}
