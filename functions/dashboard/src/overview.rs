//! One call for a role's home page: a teacher's classes and how their
//! students are doing, a student's classes, progress and what is due, the
//! same for each of a parent's children, an admin's metrics. A person's is
//! read in two calls besides the authorizer's: what they hold (`gsi1`: their
//! roster entries and progress records, one Query), then the class items,
//! which keep their counts, beside their dues items (`domain::publication::Due`). A
//! parent's reads the links to their children first, then each child's
//! holdings at once.

use std::collections::HashMap;

use axum::extract::State;
use domain::class::{Class, RosterEntry, RosterRole};
use domain::day::Day;
use domain::fields::{ClassName, PersonName};
use domain::guardian::GuardianLink;
use domain::ids::{ClassId, UserId};
use domain::principal::Role;
use domain::progress::{LessonProgress, LessonStats, ProgressStatus};
use domain::publication::Due;
use domain::tenancy::{Key, Tenant};
use serde::Serialize;
use store::AppState;
use store::counters::SHARDS;
use store::db::{Db, Item, Range};
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::AppResult;
use web::extract::Caller;
use web::openapi::*;

use crate::metrics::{self, Metrics};

/// How many upcoming assessments and recent lessons an overview lists.
const LISTED: usize = 10;
/// A person's classes and progress records read at most (one page each).
const MOST: i32 = 1000;
/// BatchGetItem's limit.
const BATCH: usize = 100;

/// A role's home page, by role (`role`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Overview {
    /// The organization's metrics (as `GET /dashboard/metrics`, computed
    /// now). Billing and compliance join it once they are built.
    Admin {
        metrics: Metrics,
    },
    Teacher(TeacherOverview),
    Student(StudentOverview),
    /// Each linked child's overview.
    Parent {
        children: Vec<ChildOverview>,
    },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClassSummary {
    id: ClassId,
    name: ClassName,
    teacher_id: UserId,
    student_count: u64,
    lessons_published: u64,
    assessments_published: u64,
}

/// An assessment published to a class, not yet due.
#[derive(Debug, Serialize, ToSchema)]
pub struct Upcoming {
    assessment_id: String,
    title: String,
    class_id: ClassId,
    due_at: String,
}

/// How students did in the lessons of a teacher's classes: each student's
/// progress in a lesson counts whole from its first change after one of
/// the teacher's classes reached the lesson (a student who left still
/// counts, as they were).
#[derive(Debug, Serialize, ToSchema)]
pub struct TaughtProgress {
    /// Student–lesson pairs with any progress reported.
    learners: u64,
    started: u64,
    completed: u64,
    /// The mean percent of those pairs (one decimal); null before any.
    average_percent: Option<f64>,
}

/// Assessments to grade are not listed: every question is graded when it
/// is submitted, so none waits for a teacher. Lessons have no due dates;
/// `lessons_published` counts those published to the classes.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeacherOverview {
    classes: Vec<ClassSummary>,
    /// Enrollments in the classes (a student in two of them counts twice).
    students: u64,
    lessons_published: u64,
    /// Assessments of the classes not yet due, soonest first (ten at most).
    assessments_due: Vec<Upcoming>,
    progress: TaughtProgress,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LessonSummary {
    lesson_id: String,
    lesson_title: String,
    status: ProgressStatus,
    percent: u8,
    updated_at: String,
}

/// A student's own progress over the lessons they reported in.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudentProgress {
    lessons_started: u64,
    lessons_completed: u64,
    /// The mean percent over the lessons started (one decimal); null before any.
    average_percent: Option<f64>,
    time_spent_seconds: u64,
    /// The lessons last worked on, latest first (ten at most).
    recent: Vec<LessonSummary>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudentOverview {
    classes: Vec<ClassSummary>,
    progress: StudentProgress,
    /// Assessments of their classes not yet due, soonest first (ten at
    /// most), whether submitted or not.
    upcoming_assessments: Vec<Upcoming>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChildOverview {
    student_id: UserId,
    first_name: PersonName,
    last_name: PersonName,
    #[serde(flatten)]
    overview: StudentOverview,
}

/// The caller's home page in one call, shaped by role: for an admin the
/// metrics; for a teacher their classes, students, lessons published,
/// assessments due and their students' progress; for a student their
/// classes, progress and upcoming assessments; for a parent the same for
/// each linked child. Computed on every call (it is one person's).
#[utoipa::path(
    get,
    path = "/api/v1/dashboard/overview",
    operation_id = "get_dashboard_overview",
    tag = "dashboard",
    responses(
        (status = 200, description = "The caller's overview", body = Success<Overview>),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn overview(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
) -> AppResult<ApiResponse<Overview>> {
    let me = &principal.user_id;
    let overview = match principal.role {
        Role::Admin => Overview::Admin { metrics: metrics::compute(&state, &tenant, Day::of(state.now())).await? },
        Role::Teacher => Overview::Teacher(teacher(&state, &tenant, me).await?),
        Role::Student => {
            let (entries, progress) = held(&state, &tenant, me).await?;
            let classes = classes(&state, &tenant, &class_ids(&entries), &[]).await?.0;
            Overview::Student(StudentOverview::of(&state, classes, &progress))
        }
        Role::Parent => Overview::Parent { children: children(&state, &tenant, me).await? },
    };
    Ok(ApiResponse::ok(overview))
}

impl ClassSummary {
    fn of(class: &Class) -> Self {
        Self {
            id: class.id.clone(),
            name: class.name.clone(),
            teacher_id: class.teacher_id.clone(),
            student_count: class.student_count,
            lessons_published: class.lessons_published,
            assessments_published: class.assessments_published,
        }
    }
}

/// A live class, and the due dates it keeps.
#[derive(Clone)]
struct Read {
    class: Class,
    due: Vec<(String, Due)>,
}

/// The roster entries of `user` (`gsi1`): the classes they are in.
async fn roster(state: &AppState, tenant: &Tenant, user: &UserId) -> AppResult<Vec<RosterEntry>> {
    let partition = tenant.held_by(user);
    let range = Range::gsi1(&partition, Tenant::CLASS_PREFIX);
    Ok(state.db.query::<RosterEntry>(&range, MOST, None).await?.items)
}

/// What `student` holds (`gsi1`, one Query): their roster entries and
/// their progress records.
async fn held(
    state: &AppState,
    tenant: &Tenant,
    student: &UserId,
) -> AppResult<(Vec<RosterEntry>, Vec<LessonProgress>)> {
    let partition = tenant.held_by(student);
    let items = state.db.query_items(&Range::gsi1(&partition, ""), 2 * MOST, None).await?.items;
    let (mut entries, mut progress) = (Vec::new(), Vec::new());
    for item in items {
        let sort_key = item.get("gsi1sk").and_then(|value| value.as_s().ok()).map(String::as_str).unwrap_or_default();
        if sort_key.starts_with(Tenant::CLASS_PREFIX) {
            entries.push(Db::decode::<RosterEntry>(item)?);
        } else if sort_key.starts_with(Tenant::LESSON_PREFIX) {
            progress.push(Db::decode::<LessonProgress>(item)?);
        }
    }
    Ok((entries, progress))
}

/// The classes of roster entries, each once.
fn class_ids(entries: &[RosterEntry]) -> Vec<ClassId> {
    let mut ids: Vec<ClassId> = entries.iter().map(|entry| entry.class_id.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The live classes of `ids` (each once) with their due dates, and the
/// items at `extra`, read together: one BatchGetItem per hundred keys, all
/// at once.
async fn classes(
    state: &AppState,
    tenant: &Tenant,
    ids: &[ClassId],
    extra: &[Key],
) -> AppResult<(Vec<Read>, Vec<Option<Item>>)> {
    let mut keys: Vec<Key> = ids.iter().flat_map(|id| [tenant.class(id), tenant.class_dues(id)]).collect();
    keys.extend_from_slice(extra);
    let reads = keys.chunks(BATCH).map(|chunk| state.db.batch_get(chunk));
    let mut found: Vec<Option<Item>> = futures_util::future::try_join_all(reads).await?.into_iter().flatten().collect();
    let extra = found.split_off(2 * ids.len());
    let mut classes = Vec::new();
    let mut pairs = found.into_iter();
    while let (Some(class), Some(dues)) = (pairs.next(), pairs.next()) {
        let due = dues.as_ref().map(store::publication::dues_of).unwrap_or_default();
        if let Some(class) = Db::decode_live::<Class>(class)? {
            classes.push(Read { class, due });
        }
    }
    Ok((classes, extra))
}

/// The assessments of `classes` due from `now` on, soonest first.
fn upcoming(classes: &[Read], now: &str) -> Vec<Upcoming> {
    let mut due: Vec<Upcoming> = classes
        .iter()
        .flat_map(|read| {
            read.due.iter().filter(|(_, due)| due.due_at.as_str() >= now).map(|(id, due)| Upcoming {
                assessment_id: id.clone(),
                title: due.title.clone(),
                class_id: read.class.id.clone(),
                due_at: due.due_at.clone(),
            })
        })
        .collect();
    due.sort_by(|a, b| a.due_at.cmp(&b.due_at).then_with(|| a.assessment_id.cmp(&b.assessment_id)));
    due.truncate(LISTED);
    due
}

fn average(percent_total: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| (percent_total as f64 * 10.0 / of as f64).round() / 10.0)
}

async fn teacher(state: &AppState, tenant: &Tenant, me: &UserId) -> AppResult<TeacherOverview> {
    let taught: Vec<RosterEntry> =
        roster(state, tenant, me).await?.into_iter().filter(|entry| entry.role == RosterRole::Teacher).collect();
    let shards: Vec<Key> = (0..SHARDS).map(|shard| tenant.teacher_stats(me, shard)).collect();
    let (classes, shards) = classes(state, tenant, &class_ids(&taught), &shards).await?;
    let mut totals = LessonStats::default();
    for shard in shards.into_iter().flatten() {
        totals += Db::decode::<LessonStats>(shard)?;
    }
    let now = domain::clock::rfc3339(state.now());
    Ok(TeacherOverview {
        students: classes.iter().map(|read| read.class.student_count).sum(),
        lessons_published: classes.iter().map(|read| read.class.lessons_published).sum(),
        assessments_due: upcoming(&classes, &now),
        progress: TaughtProgress {
            learners: totals.learners,
            started: totals.started,
            completed: totals.completed,
            average_percent: average(totals.percent_total, totals.learners),
        },
        classes: classes.iter().map(|read| ClassSummary::of(&read.class)).collect(),
    })
}

impl StudentOverview {
    fn of(state: &AppState, classes: Vec<Read>, records: &[LessonProgress]) -> Self {
        let started: Vec<&LessonProgress> = records.iter().filter(|p| p.status > ProgressStatus::NotStarted).collect();
        let mut recent = started.clone();
        recent.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
        let now = domain::clock::rfc3339(state.now());
        Self {
            progress: StudentProgress {
                lessons_started: started.len() as u64,
                lessons_completed: started.iter().filter(|p| p.status == ProgressStatus::Completed).count() as u64,
                average_percent: average(started.iter().map(|p| u64::from(p.percent)).sum(), started.len() as u64),
                time_spent_seconds: started.iter().map(|p| p.time_spent_seconds).sum(),
                recent: recent
                    .into_iter()
                    .take(LISTED)
                    .map(|p| LessonSummary {
                        lesson_id: p.lesson_id.to_string(),
                        lesson_title: p.lesson_title.clone(),
                        status: p.status,
                        percent: p.percent,
                        updated_at: p.updated_at.clone(),
                    })
                    .collect(),
            },
            upcoming_assessments: upcoming(&classes, &now),
            classes: classes.iter().map(|read| ClassSummary::of(&read.class)).collect(),
        }
    }
}

/// Each linked child's overview: the links, then what every child holds
/// (one Query each, all at once), then all their classes in one read.
async fn children(state: &AppState, tenant: &Tenant, parent: &UserId) -> AppResult<Vec<ChildOverview>> {
    let partition = tenant.user(parent).pk;
    let range = Range::of(&partition, Tenant::CHILD_PREFIX);
    let links = state.db.query::<GuardianLink>(&range, MOST, None).await?.items;
    let reads = links.iter().map(|link| held(state, tenant, &link.child_id));
    let each = futures_util::future::try_join_all(reads).await?;
    let everyones: Vec<RosterEntry> = each.iter().flat_map(|(entries, _)| entries.iter().cloned()).collect();
    let (read, _) = classes(state, tenant, &class_ids(&everyones), &[]).await?;
    let by_id: HashMap<ClassId, Read> = read.into_iter().map(|read| (read.class.id.clone(), read)).collect();
    Ok(links
        .into_iter()
        .zip(each)
        .map(|(link, (entries, progress))| {
            let theirs = entries.iter().filter_map(|entry| by_id.get(&entry.class_id).cloned()).collect();
            ChildOverview {
                student_id: link.child_id,
                first_name: link.child_first_name,
                last_name: link.child_last_name,
                overview: StudentOverview::of(state, theirs, &progress),
            }
        })
        .collect())
}
