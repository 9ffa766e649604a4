//! Recording a student's progress through a lesson: the one rule every
//! reporter (the student's app, a Roblox game) goes through.
//!
//! A report is merged with what is stored (see `domain::progress`) and
//! written on the condition that the stored version is still the one read;
//! the lesson's totals move in the same transaction, so they stay exact
//! under any number of concurrent reports.

use domain::class::Class;
use domain::clock::rfc3339;
use domain::error::{Error, Result};
use domain::ids::{LessonId, UserId};
use domain::lesson::PublishedLesson;
use domain::principal::Role;
use domain::progress::{LessonProgress, LessonStats, Report, field};
use domain::tenancy::{Key, Tenant};

use crate::activity::{self, Actor};
use crate::counters::{self, ClassCounter, Counter};
use crate::db::{DbError, Write};
use crate::publication;
use crate::records::Changes;
use crate::state::AppState;

/// Reports that lose the race to a concurrent one are merged again this often.
const MAX_RACES: usize = 5;

/// Moves `student`'s progress through `lesson` forward by `report`: each
/// field keeps the larger of the stored and reported values, so a late or
/// repeated report changes nothing. The lesson must be published to one of
/// the student's classes (else it is not found). Returns the progress as
/// stored.
pub async fn report(
    state: &AppState,
    tenant: &Tenant,
    student: &UserId,
    lesson_id: &LessonId,
    report: Report,
) -> Result<LessonProgress> {
    // Not the lesson, which may be large, but what a report needs of it,
    // read eventually consistently: every report of every student reads
    // it, and a publication may reach reports a second late (docs/scale.md).
    let not_found = || Error::not_found("lesson");
    let lesson = state.db.get_recent::<PublishedLesson>(&tenant.published_lesson(lesson_id)).await?;
    let lesson = lesson.ok_or_else(not_found)?;
    let classes = publication::reaching(state, tenant, student, &lesson.class_ids).await?;
    if classes.is_empty() {
        return Err(not_found());
    }
    let key = tenant.progress(lesson_id, student);
    for _ in 0..MAX_RACES {
        let at = rfc3339(state.now());
        let stored = match state.db.get::<LessonProgress>(&key).await? {
            Some(stored) => stored,
            None => LessonProgress::none(tenant, lesson_id, &lesson.title, student, &at),
        };
        let Some(mut next) = stored.advanced(report, &at) else {
            return Ok(stored);
        };
        let teachers = teachers(&classes);
        for teacher in &teachers {
            if !next.counted_for.contains(teacher) {
                next.counted_for.push((*teacher).clone());
            }
        }
        let delta = LessonStats::delta(&stored, &next);
        let put = match stored.version {
            0 => state.db.put_new(&key, &next)?,
            version => state.db.put_versioned(&key, &next, version)?,
        };
        let mut writes = vec![Write::Put(put)];
        writes.extend(moved_by(state, tenant, &classes, &teachers, (&stored, &next))?);
        match state.db.transact(writes).await {
            Ok(()) => {
                // The feed tells of starting and completing, not of every report.
                let kind = match (delta.started, delta.completed) {
                    (_, 1..) => Some("lesson.completed"),
                    (1.., _) => Some("lesson.started"),
                    _ => None,
                };
                if let Some(kind) = kind {
                    let actor = Actor { user_id: student, role: Role::Student };
                    activity::record(state, tenant, actor, kind, lesson_id, &activity::in_classes(&classes)).await;
                }
                return Ok(next);
            }
            // Another report was stored since the read: merge with it instead.
            Err(DbError::Cancelled { failed }) if failed.contains(&0) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(Error::Conflict("progress is being reported too often at once; retry".into()))
}

/// The teachers of `classes`, each once.
fn teachers(classes: &[Class]) -> Vec<&UserId> {
    let mut teachers: Vec<&UserId> = classes.iter().map(|class| &class.teacher_id).collect();
    teachers.sort();
    teachers.dedup();
    teachers
}

/// What one student's change of progress (`stored` to `next`) moves beside
/// their progress: the lesson's totals, the totals of each teacher of a
/// class the student reached it through (the whole record for a teacher
/// who did not count it yet), and on completion the day's counters, the
/// tenant's and each class's.
fn moved_by(
    state: &AppState,
    tenant: &Tenant,
    classes: &[Class],
    teachers: &[&UserId],
    (stored, next): (&LessonProgress, &LessonProgress),
) -> Result<Vec<Write>, DbError> {
    let (lesson, student) = (&next.lesson_id, &next.student_id);
    let shard = counters::shard_of(student);
    let delta = LessonStats::delta(stored, next);
    let mut writes = vec![add_to_totals(state, tenant.lesson_stats(lesson, shard), &delta)?];
    for teacher in teachers {
        let added = if stored.counted_for.contains(teacher) { delta.clone() } else { LessonStats::whole(next) };
        writes.push(add_to_totals(state, tenant.teacher_stats(teacher, shard), &added)?);
    }
    if delta.completed > 0 {
        writes.push(counters::count(state, tenant, student, &[(Counter::LessonsCompleted, 1)])?);
        for class in classes {
            writes.push(counters::count_in_class(
                state,
                tenant,
                &class.id,
                student,
                &[(ClassCounter::LessonsCompleted, 1)],
            )?);
        }
    }
    Ok(writes)
}

/// Progress totals (a lesson's, or a teacher's) moved by one student's change, in
/// `shard`, that student's shard of them.
fn add_to_totals(state: &AppState, shard: Key, delta: &LessonStats) -> Result<Write, DbError> {
    let changes = Changes::new()
        .add(field::LEARNERS, delta.learners)
        .add(field::STARTED, delta.started)
        .add(field::COMPLETED, delta.completed)
        .add(field::TIME_SPENT_TOTAL, delta.time_spent_total)
        .add(field::PERCENT_TOTAL, delta.percent_total);
    Ok(Write::Update(state.db.update_with(&shard, changes)?))
}
