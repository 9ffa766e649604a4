//! Content items: list, read, edit (versioned), publish and delete (soft).

use domain::content::field;
use domain::record::expect_version;
use std::collections::BTreeMap;
use store::records::Changes;
use web::extract::IfMatch;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use domain::clock::rfc3339;
use domain::content::{ContentItem, ContentStatus};
use domain::generation::content::{GeneratedContent, Question, Section};
use domain::generation::request::ContentKind;
use domain::ids::ContentId;
use domain::json::present;
use domain::publication::ContentKind as Counted;
use domain::tenancy::Tenant;
use serde::Deserialize;
use store::AppState;
use store::bodies::{self, StoredBody};
use store::counters::{self, Total};
use store::cursor;
use store::db::Range;
use store::search;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::PageRequest;
use web::extract::PathId;
use web::extract::Staff;
use web::http::{not_modified, revalidated};
use web::json::Json;
use web::openapi::*;

use crate::view::{ContentSummary, ContentView};

const LIST: &str = "content";

/// The organization's content, newest first, without bodies.
#[utoipa::path(
    get,
    path = "/api/v1/content",
    operation_id = "list_content",
    tag = "content",
    params(
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of content", body = Success<Vec<ContentSummary>>),
        ReadList,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<ContentSummary>>> {
    let keys = state.key_set().await?;
    let start = page.start(&keys, &tenant, LIST)?;
    let listing = tenant.listing(Tenant::CONTENT_PREFIX);
    let range = Range::listing(&listing, Tenant::CONTENT_PREFIX).newest_first();
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
        ReadOne,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])), ("x-scopes" = json!(["read", "content:generate"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    headers: HeaderMap,
    PathId(id): PathId<ContentId>,
) -> AppResult<Response> {
    let item = state.db.live::<ContentItem>(&tenant, &id).await?;
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
        IfMatch,
    ),
    request_body = ContentEdit,
    responses(
        (status = 200, description = "The content as changed", body = Success<ContentView>,
            headers(("ETag" = String, description = "The new version, quoted"))),
        JsonBodyErrors,
        VersionedChange,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn update(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    PathId(id): PathId<ContentId>,
    IfMatch(asked): IfMatch,
    Json(edit): Json<ContentEdit>,
) -> AppResult<ApiResponse<ContentView>> {
    let item: ContentItem = state.db.live(&tenant, &id).await?;
    principal.require_owner_or_admin(&item.audit.created_by, "the content's creator")?;
    // Before the body is written anywhere: a stale edit stores nothing.
    expect_version(&item, asked)?;
    let body = edit.into_body(item.kind)?;
    let version = item.audit.version + 1;
    let stored = StoredBody::store(&state, &tenant, &id, version, &body).await?;
    let terms = search::terms(&body);
    search::add(&state.db, &tenant, &id, version, &terms).await?;
    let changes = Changes::new()
        .set(field::TITLE, &body.title)
        .set(field::SUMMARY, &body.summary)
        .set(field::BODY, &stored.body)
        .set(field::BODY_OBJECT, &stored.body_object)
        .set(field::SEARCH_TERMS, &terms);
    let changed = match state.db.patch(&tenant, &item, asked, &principal.user_id, state.now(), changes).await {
        Ok(changed) => changed,
        Err(err) => {
            // No item points at the body this edit wrote.
            if let Some(key) = &stored.body_object
                && let Err(err) = StoredBody::discard(&state, key).await
            {
                tracing::warn!(error = %err, content_id = %id, "an unused content body was not deleted");
            }
            return Err(err.into());
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
        IfMatch,
    ),
    responses(
        (status = 200, description = "The content, published", body = Success<ContentSummary>,
            headers(("ETag" = String, description = "The new version, quoted"))),
        (status = 400, response = BadRequest),
        VersionedChange,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn publish(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    PathId(id): PathId<ContentId>,
    IfMatch(asked): IfMatch,
) -> AppResult<ApiResponse<ContentSummary>> {
    let item: ContentItem = state.db.live(&tenant, &id).await?;
    principal.require_owner_or_admin(&item.audit.created_by, "the content's creator")?;
    expect_version(&item, asked)?;
    if item.status == ContentStatus::Published {
        return Err(AppError::Conflict("the content is already published".into()));
    }
    let now = state.now();
    let changes = Changes::new()
        .set(field::STATUS, &ContentStatus::Published)
        .set(field::PUBLISHED_AT, &rfc3339(now))
        .set(field::PUBLISHED_BY, &principal.user_id);
    let moved = [(Total::Content(Counted::Library, false), -1), (Total::Content(Counted::Library, true), 1)];
    let counted = vec![counters::total(&state, &tenant, &principal.user_id, &moved)?];
    let changed = state.db.patch_with(&tenant, &item, asked, &principal.user_id, now, changes, counted).await?;
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
        IfMatch,
    ),
    responses(
        (status = 200, description = "The deleted content", body = Success<ContentSummary>),
        (status = 400, response = BadRequest),
        VersionedChange,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn delete(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    PathId(id): PathId<ContentId>,
    IfMatch(asked): IfMatch,
) -> AppResult<ApiResponse<ContentSummary>> {
    let item: ContentItem = state.db.live(&tenant, &id).await?;
    principal.require_owner_or_admin(&item.audit.created_by, "the content's creator")?;
    let published = item.status == ContentStatus::Published;
    let counted = vec![counters::total(
        &state,
        &tenant,
        &principal.user_id,
        &[(Total::Content(Counted::Library, published), -1)],
    )?];
    let now = state.now();
    let deleted = Changes::new().deleted(&principal.user_id, now);
    let deleted = state.db.patch_with(&tenant, &item, asked, &principal.user_id, now, deleted, counted).await?;
    // A deleted item changes no more, so every entry goes, whatever its version.
    let after_all = deleted.audit.version + 1;
    if let Err(err) = search::prune(&state.db, &tenant, &id, &item.search_terms, &BTreeMap::new(), after_all).await {
        tracing::warn!(error = %err, content_id = %id, "search entries of deleted content not deleted");
    }
    tracing::info!(content_id = %id, "content deleted");
    Ok(ApiResponse::ok(ContentSummary::from(&deleted)))
}
