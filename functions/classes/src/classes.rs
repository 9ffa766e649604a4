//! Create, list, read, change and delete classes.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use toolbox::AppState;
use toolbox::clock::rfc3339;
use toolbox::cursor::{self, PageRequest};
use toolbox::db::{Db, Range, Write, s, value};
use toolbox::domain::audit::Audit;
use toolbox::domain::class::{Class, RosterEntry, RosterRole};
use toolbox::domain::fields::{ClassDescription, ClassName, Subject};
use toolbox::domain::user::User;
use toolbox::envelope::{ApiResponse, Success};
use toolbox::error::{AppError, AppResult};
use toolbox::generation::request::GradeLevel;
use toolbox::http::{PathId, expect_version, lost_race};
use toolbox::ids::{ClassId, UserId};
use toolbox::json::{Json, present};
use toolbox::openapi::*;
use toolbox::principal::{Principal, Role};
use toolbox::tenancy::Tenant;
use utoipa::ToSchema;

use crate::view::ClassView;
use crate::{find, may_manage, staff_tenant};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClass {
    name: ClassName,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    subject: Option<Subject>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    grade_level: Option<GradeLevel>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    description: Option<ClassDescription>,
    /// Who teaches it: the caller when left out; only an admin names another.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    teacher_id: Option<UserId>,
}

/// Creates a class taught by the caller (or, for an admin, by `teacher_id`).
#[utoipa::path(
    post,
    path = "/api/v1/classes",
    operation_id = "create_class",
    tag = "classes",
    request_body = NewClass,
    responses(
        (status = 201, description = "The class", body = Success<ClassView>),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<NewClass>,
) -> AppResult<ApiResponse<ClassView>> {
    let tenant = staff_tenant(&principal)?;
    let teacher_id = req.teacher_id.unwrap_or_else(|| principal.user_id.clone());
    if teacher_id != principal.user_id && principal.role != Role::Admin {
        return Err(AppError::Forbidden("only an admin may create a class for another teacher".into()));
    }
    let teacher = state
        .db
        .get::<User>(&tenant.user(&teacher_id))
        .await?
        .filter(|user| user.is_active() && matches!(user.role, Role::Teacher | Role::Admin))
        .ok_or_else(|| AppError::invalid("teacher_id", "must be a teacher or admin of the organization"))?;
    let now = state.now();
    let class = Class {
        id: ClassId::new(),
        org_id: tenant.org_id().clone(),
        name: req.name,
        subject: req.subject,
        grade_level: req.grade_level,
        description: req.description,
        teacher_id,
        student_count: 0,
        deleted_at: None,
        deleted_by: None,
        audit: Audit::new(&principal.user_id, now),
    };
    let entry = RosterEntry::of(&tenant, &class.id, &teacher, RosterRole::Teacher, &principal.user_id, &rfc3339(now));
    state
        .db
        .transact(vec![
            Write::Put(state.db.put_new(&tenant.class(&class.id), &class)?),
            Write::Put(state.db.put_new(&tenant.roster_entry(&class.id, &teacher.id), &entry)?),
        ])
        .await?;
    tracing::info!(class_id = %class.id, "class created");
    Ok(ApiResponse::created(class.into()))
}

/// The classes the caller may see, newest first: every class for teachers
/// and admins, the classes they are enrolled in for a student.
#[utoipa::path(
    get,
    path = "/api/v1/classes",
    operation_id = "list_classes",
    tag = "classes",
    params(
        ("limit" = Option<i32>, Query, nullable = false, minimum = 1, maximum = 100, description = "Page size (default 20)"),
        ("cursor" = Option<String>, Query, nullable = false, description = "`metadata.next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of classes", body = Success<Vec<ClassView>>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student"])))
)]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<ClassView>>> {
    principal.require_role(&[Role::Admin, Role::Teacher, Role::Student])?;
    let tenant = Tenant::of(&principal);
    let keys = state.key_set().await?;
    let list = if principal.role == Role::Student { "classes-of-student" } else { "classes" };
    let start = page.cursor.as_deref().map(|c| cursor::decode(&keys, &tenant, list, c)).transpose()?;
    let (classes, last_key) = if principal.role == Role::Student {
        // The student's roster entries (gsi1), then their classes in one read.
        let partition = tenant.classes_of(&principal.user_id);
        let range = Range {
            partition: &partition,
            prefix: Tenant::CLASS_PREFIX,
            index: Some("gsi1"),
            newest_first: true,
            live_only: false,
        };
        let entries = state.db.query::<RosterEntry>(&range, page.limit, start).await?;
        let wanted: Vec<_> = entries.items.iter().map(|entry| tenant.class(&entry.class_id)).collect();
        let found = state.db.batch_get(&wanted).await?.into_iter().flatten();
        let classes = found.map(Db::decode::<Class>).collect::<Result<Vec<_>, _>>()?;
        (classes.into_iter().filter(|class| class.deleted_at.is_none()).collect(), entries.last_key)
    } else {
        let partition = tenant.pk();
        let range = Range {
            partition: &partition,
            prefix: Tenant::CLASS_PREFIX,
            index: None,
            newest_first: true,
            live_only: true,
        };
        let found = state.db.query::<Class>(&range, page.limit, start).await?;
        (found.items, found.last_key)
    };
    let next = last_key.map(|key| cursor::encode(&keys, &tenant, list, &key));
    Ok(ApiResponse::page(classes.into_iter().map(ClassView::from).collect(), next))
}

/// One class: any class for teachers and admins, an enrolled one for a student.
#[utoipa::path(
    get,
    path = "/api/v1/classes/{id}",
    operation_id = "get_class",
    tag = "classes",
    params(("id" = ClassId, Path, description = "The class's id")),
    responses(
        (status = 200, description = "The class", body = Success<ClassView>),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student"])))
)]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId<ClassId>,
) -> AppResult<ApiResponse<ClassView>> {
    principal.require_role(&[Role::Admin, Role::Teacher, Role::Student])?;
    let tenant = Tenant::of(&principal);
    if principal.role == Role::Student {
        // A class one is not in is, for a student, no class at all.
        let enrolled = state.db.get::<RosterEntry>(&tenant.roster_entry(&id, &principal.user_id)).await?;
        if enrolled.is_none() {
            return Err(AppError::not_found("class"));
        }
    }
    let class = find(&state, &tenant, &id).await?;
    let version = class.audit.version;
    Ok(ApiResponse::ok(ClassView::from(class)).with_etag(version))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassChange {
    name: ClassName,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    subject: Option<Subject>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    grade_level: Option<GradeLevel>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    description: Option<ClassDescription>,
}

/// Replaces a class's name, subject, grade and description (a new version).
#[utoipa::path(
    put,
    path = "/api/v1/classes/{id}",
    operation_id = "update_class",
    tag = "classes",
    params(
        ("id" = ClassId, Path, description = "The class's id"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?("[0-9]+"|[0-9]+))$"#, description = "The `ETag` the change is based on"),
    ),
    request_body = ClassChange,
    responses(
        (status = 200, description = "The class as changed", body = Success<ClassView>,
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
    principal: Principal,
    headers: HeaderMap,
    PathId(id): PathId<ClassId>,
    Json(change): Json<ClassChange>,
) -> AppResult<ApiResponse<ClassView>> {
    let tenant = staff_tenant(&principal)?;
    let class = find(&state, &tenant, &id).await?;
    may_manage(&principal, &class)?;
    let expected = expect_version(&headers, class.audit.version, "class")?;
    let update = state.db.update_versioned(
        &tenant.class(&id),
        class.audit.version,
        &principal.user_id,
        state.now(),
        vec![
            ("name", value(&change.name)?),
            ("subject", value(&change.subject)?),
            ("grade_level", value(&change.grade_level)?),
            ("description", value(&change.description)?),
        ],
    )?;
    let changed: Class = Db::decode(state.db.run_update(update).await.map_err(lost_race(expected, "class"))?)?;
    let version = changed.audit.version;
    Ok(ApiResponse::ok(ClassView::from(changed)).with_etag(version))
}

/// Deletes a class: gone from lists and reads; the stored item is kept,
/// marked deleted, for the audit trail.
#[utoipa::path(
    delete,
    path = "/api/v1/classes/{id}",
    operation_id = "delete_class",
    tag = "classes",
    params(
        ("id" = ClassId, Path, description = "The class's id"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?("[0-9]+"|[0-9]+))$"#, description = "The `ETag` the change is based on"),
    ),
    responses(
        (status = 200, description = "The deleted class", body = Success<ClassView>),
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
    principal: Principal,
    headers: HeaderMap,
    PathId(id): PathId<ClassId>,
) -> AppResult<ApiResponse<ClassView>> {
    let tenant = staff_tenant(&principal)?;
    let class = find(&state, &tenant, &id).await?;
    may_manage(&principal, &class)?;
    let expected = expect_version(&headers, class.audit.version, "class")?;
    let now = state.now();
    let update = state.db.update_versioned(
        &tenant.class(&id),
        class.audit.version,
        &principal.user_id,
        now,
        vec![("deleted_at", s(rfc3339(now))), ("deleted_by", s(principal.user_id.to_string()))],
    )?;
    let deleted: Class = Db::decode(state.db.run_update(update).await.map_err(lost_race(expected, "class"))?)?;
    tracing::info!(class_id = %id, "class deleted");
    Ok(ApiResponse::ok(deleted.into()))
}
