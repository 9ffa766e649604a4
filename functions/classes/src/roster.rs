//! A class's roster: its students listed, enrolled in batches of up to 500
//! (each failure reported), and removed. The class's `student_count` moves in
//! the same transaction as the entries, so it stays exact under concurrency.

use std::collections::HashSet;

use axum::extract::{Path, State};
use domain::class::{Class, RosterEntry, RosterRole, field};
use domain::clock::rfc3339;
use domain::ids::{ClassId, UserId};
use domain::principal::Role;
use domain::tenancy::{Key, Tenant};
use domain::user::User;
use serde::Deserialize;
use store::AppState;
use store::cursor;
use store::db::{Db, DbError, Range, Write};
use store::records::{Changes, Condition};
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::PageRequest;
use web::extract::PathId;
use web::extract::Staff;
use web::json::Json;
use web::openapi::*;

use crate::view::{EnrollFailure, EnrollResult, RosterView};

const MAX_BATCH: usize = 500;
/// DynamoDB reads at most 100 keys per BatchGetItem.
const READ_CHUNK: usize = 100;
/// Entries per transaction: 100 writes at most, one of them the count.
const WRITE_CHUNK: usize = 99;

/// The students of a class, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/classes/{id}/students",
    operation_id = "list_students",
    tag = "classes",
    params(
        ("id" = ClassId, Path, description = "The class's id"),
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of the roster's students", body = Success<Vec<RosterView>>),
        ReadListOf,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    PathId(id): PathId<ClassId>,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<RosterView>>> {
    state.db.live::<Class>(&tenant, &id).await?;
    let keys = state.key_set().await?;
    let list = format!("roster:{id}");
    let start = page.start(&keys, &tenant, &list)?;
    let (partition, prefix) = (tenant.class(&id).pk, Tenant::ROSTER_PREFIX);
    let range = Range::of(&partition, prefix);
    let found = state.db.query::<RosterEntry>(&range, page.limit, start).await?;
    let next = found.last_key.map(|key| cursor::encode(&keys, &tenant, &list, &key));
    let students = found.items.into_iter().filter(|entry| entry.role == RosterRole::Student);
    Ok(ApiResponse::page(students.map(RosterView::from).collect(), next))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    /// Members of the organization with the student role; 1 to 500.
    #[schema(min_items = 1, max_items = 500)]
    student_ids: Vec<String>,
}

/// Reads `keys` in chunks DynamoDB accepts; the result follows `keys`.
async fn read_all(state: &AppState, keys: &[Key]) -> AppResult<Vec<Option<store::db::Item>>> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(READ_CHUNK) {
        found.extend(state.db.batch_get(chunk).await?);
    }
    Ok(found)
}

/// Enrolls students. Each id that cannot be enrolled is reported with its
/// reason; the others are enrolled, whatever happens to them.
#[utoipa::path(
    post,
    path = "/api/v1/classes/{id}/students",
    operation_id = "enroll_students",
    tag = "classes",
    params(("id" = ClassId, Path, description = "The class's id")),
    request_body = Enrollment,
    responses(
        (status = 200, description = "Who was enrolled, and why the others were not", body = Success<EnrollResult>),
        JsonBodyErrors,
        Change,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn enroll(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    PathId(id): PathId<ClassId>,
    Json(req): Json<Enrollment>,
) -> AppResult<ApiResponse<EnrollResult>> {
    if !(1..=MAX_BATCH).contains(&req.student_ids.len()) {
        return Err(AppError::invalid("student_ids", format!("give 1 to {MAX_BATCH} student ids")));
    }
    let class = state.db.live::<Class>(&tenant, &id).await?;
    principal.require_owner_or_admin(&class.teacher_id, "the class's teacher")?;
    let mut failed = Vec::new();
    let mut seen = HashSet::new();
    let mut candidates: Vec<UserId> = Vec::new();
    for raw in req.student_ids {
        match raw.parse::<UserId>() {
            Ok(user) if seen.insert(user.clone()) => candidates.push(user),
            Ok(_) => {}
            Err(_) => failed.push(EnrollFailure { student_id: raw, reason: "invalid_id" }),
        }
    }
    // Who they are, and who is already in the class: two reads per 100.
    let users = read_all(&state, &candidates.iter().map(|u| tenant.user(u)).collect::<Vec<_>>()).await?;
    let entries = read_all(&state, &candidates.iter().map(|u| tenant.roster_entry(&id, u)).collect::<Vec<_>>()).await?;
    let at = rfc3339(state.now());
    state.db.sealing(&tenant).await?;
    let mut pending = Vec::new();
    for ((user_id, user), entry) in candidates.into_iter().zip(users).zip(entries) {
        let user = user.map(Db::decode::<User>).transpose()?.filter(User::is_active);
        let reason = match (&user, entry) {
            (None, _) => Some("not_found"),
            (Some(user), _) if user.role != Role::Student => Some("not_a_student"),
            (_, Some(_)) => Some("already_enrolled"),
            _ => None,
        };
        match (reason, user) {
            (Some(reason), _) => failed.push(EnrollFailure { student_id: user_id.to_string(), reason }),
            (None, Some(user)) => {
                pending.push(RosterEntry::of(&tenant, &id, &user, RosterRole::Student, &principal.user_id, &at))
            }
            (None, None) => unreachable!("a missing user has a reason"),
        }
    }
    let mut enrolled = Vec::new();
    for chunk in pending.chunks(WRITE_CHUNK) {
        let (added, raced) = write_entries(&state, &tenant, &class, chunk.to_vec()).await?;
        enrolled.extend(added);
        failed.extend(
            raced.into_iter().map(|user| EnrollFailure { student_id: user.to_string(), reason: "already_enrolled" }),
        );
    }
    let student_count = state.db.live::<Class>(&tenant, &id).await?.student_count;
    let taught = [(&id, &class.teacher_id)];
    store::activity::record(&state, &tenant, &principal, "class.students_enrolled", &id, &taught).await;
    tracing::info!(class_id = %id, enrolled = enrolled.len(), failed = failed.len(), "students enrolled");
    Ok(ApiResponse::ok(EnrollResult { enrolled, failed, student_count }))
}

/// Writes entries and adds their number to the class's count, all or none;
/// an entry a concurrent request wrote first is left out and the rest
/// written again. Returns who was enrolled and who already was.
async fn write_entries(
    state: &AppState,
    tenant: &Tenant,
    class: &Class,
    mut entries: Vec<RosterEntry>,
) -> AppResult<(Vec<UserId>, Vec<UserId>)> {
    let mut raced = Vec::new();
    while !entries.is_empty() {
        let mut writes = entries
            .iter()
            .map(|entry| Ok(Write::Put(state.db.put_new(&tenant.roster_entry(&class.id, &entry.user_id), entry)?)))
            .collect::<Result<Vec<_>, DbError>>()?;
        writes.push(count_change(state, tenant, &class.id, entries.len() as i64)?);
        match state.db.transact(writes).await {
            Ok(()) => return Ok((entries.into_iter().map(|e| e.user_id).collect(), raced)),
            Err(DbError::Cancelled { failed }) if failed.contains(&entries.len()) => {
                return Err(AppError::not_found("class"));
            }
            Err(DbError::Cancelled { failed }) if !failed.is_empty() => {
                let mut index = 0;
                entries.retain(|entry| {
                    let keep = !failed.contains(&index);
                    if !keep {
                        raced.push(entry.user_id.clone());
                    }
                    index += 1;
                    keep
                });
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok((Vec::new(), raced))
}

/// `student_count` moved by `by`, on the condition that the class lives.
fn count_change(state: &AppState, tenant: &Tenant, class: &ClassId, by: i64) -> Result<Write, DbError> {
    let changes = Changes::new().add(field::STUDENT_COUNT, by).when(Condition::live());
    Ok(Write::Update(state.db.update_with(&tenant.class(class), changes)?))
}

/// Removes a student from a class.
#[utoipa::path(
    delete,
    path = "/api/v1/classes/{id}/students/{student_id}",
    operation_id = "remove_student",
    tag = "classes",
    params(
        ("id" = ClassId, Path, description = "The class's id"),
        ("student_id" = UserId, Path, description = "The student's user id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        ReadOne,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn remove(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    Path((class_id, student_id)): Path<(String, String)>,
) -> AppResult<axum::http::StatusCode> {
    let not_enrolled = || AppError::not_found("student in this class");
    let id: ClassId = class_id.parse().map_err(|_| AppError::not_found("class"))?;
    let student: UserId = student_id.parse().map_err(|_| not_enrolled())?;
    let class = state.db.live::<Class>(&tenant, &id).await?;
    principal.require_owner_or_admin(&class.teacher_id, "the class's teacher")?;
    let entry = tenant.roster_entry(&id, &student);
    let delete = state.db.delete_when(&entry, Condition::equals(field::ROSTER_ROLE, &RosterRole::Student))?;
    let writes = vec![Write::Delete(delete), count_change(&state, &tenant, &id, -1)?];
    match state.db.transact(writes).await {
        Ok(()) => {
            let taught = [(&id, &class.teacher_id)];
            store::activity::record(&state, &tenant, &principal, "class.student_removed", &id, &taught).await;
            Ok(axum::http::StatusCode::NO_CONTENT)
        }
        Err(DbError::Cancelled { failed }) if failed.contains(&0) => Err(not_enrolled()),
        Err(DbError::Cancelled { failed }) if failed.contains(&1) => Err(AppError::not_found("class")),
        Err(err) => Err(err.into()),
    }
}
