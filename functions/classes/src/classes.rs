//! Create, list, read, change and delete classes.

use axum::extract::State;
use axum::http::Uri;
use domain::audit::Audit;
use domain::class::field;
use domain::class::{Class, RosterEntry, RosterRole};
use domain::clock::rfc3339;
use domain::fields::{ClassDescription, ClassName, Subject};
use domain::generation::request::GradeLevel;
use domain::guardian::Whose;
use domain::ids::{ClassId, UserId};
use domain::json::present;
use domain::principal::{Principal, Role};
use domain::tenancy::Tenant;
use domain::user::User;
use serde::Deserialize;
use store::AppState;
use store::cursor;
use store::db::{Db, Range, Write};
use store::guardian::read_with_link;
use store::records::Changes;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::IfMatch;
use web::extract::PageRequest;
use web::extract::PathId;
use web::extract::{Caller, Staff, query_param};
use web::json::Json;
use web::openapi::*;

use crate::view::ClassView;

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
        Create,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn create(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    Json(req): Json<NewClass>,
) -> AppResult<ApiResponse<ClassView>> {
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
        lessons_published: 0,
        assessments_published: 0,
        audit: Audit::new(&principal.user_id, now),
    };
    state.db.sealing(&tenant).await?;
    let entry = RosterEntry::of(&tenant, &class.id, &teacher, RosterRole::Teacher, &principal.user_id, &rfc3339(now));
    state
        .db
        .transact(vec![
            Write::Put(state.db.put_new(&tenant.class(&class.id), &class)?),
            Write::Put(state.db.put_new(&tenant.roster_entry(&class.id, &teacher.id), &entry)?),
        ])
        .await?;
    store::activity::record(&state, &tenant, &principal, "class.created", &class.id, &[(&class.id, &class.teacher_id)])
        .await;
    tracing::info!(class_id = %class.id, "class created");
    Ok(ApiResponse::created(class.into()))
}

/// The classes the caller may see, newest first: every class (or one
/// student's, with `?student_id=`) for teachers and admins, their own for a
/// student, and a linked child's (`?student_id=` required) for a parent.
#[utoipa::path(
    get,
    path = "/api/v1/classes",
    operation_id = "list_classes",
    tag = "classes",
    params(
        ("student_id" = Option<UserId>, Query, nullable = false, description = "Only this student's classes (a parent's child)"),
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of classes", body = Success<Vec<ClassView>>),
        ReadListOf,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    uri: Uri,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<ClassView>>> {
    let whose = Whose::asked(&principal, &tenant, query_param(&uri, "student_id")?.as_deref())?;
    let keys = state.key_set().await?;
    let list = match &whose {
        Whose::All => "classes".to_owned(),
        Whose::Student { id, .. } => format!("classes-of:{id}"),
    };
    let start = page.start(&keys, &tenant, &list)?;
    let (classes, last_key) = match whose {
        Whose::Student { id, link } => {
            // The student's roster entries (gsi1), then their classes in one read.
            let partition = tenant.held_by(&id);
            let range = Range::gsi1(&partition, Tenant::CLASS_PREFIX).newest_first();
            // One key besides the classes (a parent's link): BatchGetItem takes 100 at most.
            let entries = state.db.query::<RosterEntry>(&range, page.limit.min(99), start).await?;
            let wanted = entries.items.iter().map(|entry| tenant.class(&entry.class_id)).collect();
            let found = read_with_link(&state.db, link, wanted).await?;
            let classes = found.into_iter().map(Db::decode_live::<Class>).collect::<Result<Vec<_>, _>>()?;
            (classes.into_iter().flatten().collect(), entries.last_key)
        }
        Whose::All => {
            let listing = tenant.listing(Tenant::CLASS_PREFIX);
            let range = Range::listing(&listing, Tenant::CLASS_PREFIX).newest_first();
            let found = state.db.query::<Class>(&range, page.limit, start).await?;
            (found.items, found.last_key)
        }
    };
    let next = last_key.map(|key| cursor::encode(&keys, &tenant, &list, &key));
    Ok(ApiResponse::page(classes.into_iter().map(ClassView::from).collect(), next))
}

/// One class: any class for teachers and admins, an enrolled one for a
/// student, a linked child's (`?student_id=`) for a parent.
#[utoipa::path(
    get,
    path = "/api/v1/classes/{id}",
    operation_id = "get_class",
    tag = "classes",
    params(
        ("id" = ClassId, Path, description = "The class's id"),
        ("student_id" = Option<UserId>, Query, nullable = false, description = "For a parent: the child in the class"),
    ),
    responses(
        (status = 200, description = "The class", body = Success<ClassView>),
        ReadListOf,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    uri: Uri,
    PathId(id): PathId<ClassId>,
) -> AppResult<ApiResponse<ClassView>> {
    let class = match Whose::asked(&principal, &tenant, query_param(&uri, "student_id")?.as_deref())? {
        Whose::All => state.db.live::<Class>(&tenant, &id).await?,
        // The student's place in the class, and the class, in one read: a
        // class one is not in is, for them, no class at all.
        Whose::Student { id: student, link } => {
            let found =
                read_with_link(&state.db, link, vec![tenant.roster_entry(&id, &student), tenant.class(&id)]).await?;
            let mut items = found.into_iter();
            let (entry, class) = (items.next().flatten(), items.next().flatten());
            Db::decode_live::<Class>(class.filter(|_| entry.is_some()))?.ok_or_else(|| AppError::not_found("class"))?
        }
    };
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
    /// A new teacher (admins only); left out, the teacher stays.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    teacher_id: Option<UserId>,
}

/// The teacher a change hands the class to, if it names another one: an
/// admin's choice, and a teacher or admin of the organization.
async fn new_teacher(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    class: &Class,
    asked: Option<UserId>,
) -> AppResult<Option<User>> {
    let Some(id) = asked.filter(|id| *id != class.teacher_id) else { return Ok(None) };
    if principal.role != Role::Admin {
        return Err(AppError::Forbidden("only an admin hands a class to another teacher".into()));
    }
    let teacher = state
        .db
        .get::<User>(&tenant.user(&id))
        .await?
        .filter(|user| user.is_active() && matches!(user.role, Role::Teacher | Role::Admin))
        .ok_or_else(|| AppError::invalid("teacher_id", "must be a teacher or admin of the organization"))?;
    Ok(Some(teacher))
}

/// Replaces a class's name, subject, grade and description (a new version);
/// an admin may also hand it to another teacher, whose place on the roster
/// (and presence channel) replaces the old teacher's in the same transaction.
#[utoipa::path(
    put,
    path = "/api/v1/classes/{id}",
    operation_id = "update_class",
    tag = "classes",
    params(
        ("id" = ClassId, Path, description = "The class's id"),
        IfMatch,
    ),
    request_body = ClassChange,
    responses(
        (status = 200, description = "The class as changed", body = Success<ClassView>,
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
    PathId(id): PathId<ClassId>,
    IfMatch(asked): IfMatch,
    Json(change): Json<ClassChange>,
) -> AppResult<ApiResponse<ClassView>> {
    let class: Class = state.db.live(&tenant, &id).await?;
    principal.require_owner_or_admin(&class.teacher_id, "the class's teacher")?;
    let teacher = new_teacher(&state, &tenant, &principal, &class, change.teacher_id).await?;
    let mut changes = Changes::new()
        .set(field::NAME, &change.name)
        .set(field::SUBJECT, &change.subject)
        .set(field::GRADE_LEVEL, &change.grade_level)
        .set(field::DESCRIPTION, &change.description);
    if let Some(teacher) = &teacher {
        changes = changes.set(field::TEACHER_ID, &teacher.id);
    }
    let now = state.now();
    let update = state.db.patch_update(&tenant, &class, asked, &principal.user_id, now, changes)?;
    let changed: Class = match teacher {
        None => state.db.commit_patch(update, asked).await?,
        Some(teacher) => {
            state.db.sealing(&tenant).await?;
            let entry = RosterEntry::of(&tenant, &id, &teacher, RosterRole::Teacher, &principal.user_id, &rfc3339(now));
            let writes = vec![
                Write::Update(update),
                Write::Delete(state.db.delete(&tenant.roster_entry(&id, &class.teacher_id))?),
                Write::Put(state.db.put_new(&tenant.roster_entry(&id, &teacher.id), &entry)?),
            ];
            state.db.transact(writes).await.map_err(|err| Db::lost_patch::<Class>(err, 0, asked))?;
            state.db.live(&tenant, &id).await?
        }
    };
    let version = changed.audit.version;
    let taught = [(&id, &changed.teacher_id)];
    store::activity::record(&state, &tenant, &principal, "class.updated", &id, &taught).await;
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
        IfMatch,
    ),
    responses(
        (status = 200, description = "The deleted class", body = Success<ClassView>),
        (status = 400, response = BadRequest),
        VersionedChange,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn delete(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    PathId(id): PathId<ClassId>,
    IfMatch(asked): IfMatch,
) -> AppResult<ApiResponse<ClassView>> {
    let class: Class = state.db.live(&tenant, &id).await?;
    principal.require_owner_or_admin(&class.teacher_id, "the class's teacher")?;
    let deleted = state.db.soft_delete(&tenant, &class, asked, &principal.user_id, state.now()).await?;
    store::activity::record(&state, &tenant, &principal, "class.deleted", &id, &[(&id, &class.teacher_id)]).await;
    tracing::info!(class_id = %id, "class deleted");
    Ok(ApiResponse::ok(deleted.into()))
}
