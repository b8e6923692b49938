//! Every change to tasks goes through [`change`]: one transaction per request that applies its operations
//! and writes each one's record in the activity log (migration 0014) beside it, so the log never misses a
//! change nor records one that did not happen. Undo runs the same way: it reads a request's records, checks
//! that none of its tasks changed since, and applies the reverse operations as a request of its own.

use sqlx::FromRow;

use super::{OptDue, StoreNew, StorePatch, TaskRow};
use crate::db::{BeginWrite, Db, OneConnection, Timestamp};
use crate::tasks::model::{LabelName, Priority, Task, clean_label, label_key};
use crate::with_db_write;

/// The most operations one request may make (a bulk change, or the undo of one).
pub const MAX_OPS: usize = 100;

/// One operation of a request.
#[derive(Debug)]
pub enum Op {
    Insert(StoreNew),
    Patch(i64, StorePatch),
    Delete(i64),
}

/// What a request asks of [`change`].
#[derive(Debug)]
pub enum Plan {
    Ops(Vec<Op>),
    /// Reverse the request that made this activity entry, or the newest that still stands.
    Undo(Option<i64>),
}

/// What one operation did: the task before and after (no `before` for a creation, no `after` for a
/// deletion). `before == after` when the operation changed nothing (and nothing was recorded).
#[derive(Debug, Clone)]
pub struct Change {
    pub number: i64,
    pub before: Option<Task>,
    pub after: Option<Task>,
}

/// How a request went. `Applied` holds one entry per operation, in order, `None` for a task that does not
/// exist.
#[derive(Debug)]
pub enum Outcome {
    Applied {
        batch: String,
        changes: Vec<Option<Change>>,
    },
    NothingToUndo,
    UnknownActivity,
    /// The entry is an undo's own: undo reverses changes, not undos.
    NotUndoable,
    AlreadyUndone,
    /// These tasks changed after the change to undo: nothing was done.
    ChangedSince(Vec<i64>),
}

/// Who asks, for the log.
#[derive(Debug, Clone)]
pub struct Log {
    pub door: &'static str,
    /// The batch the changes join: one chat turn's changes share one, so "undo" reverses the whole turn. None:
    /// a batch of this request's own. An undo always records under a batch of its own.
    pub batch: Option<String>,
}

/// One activity entry as stored.
#[derive(Debug, FromRow)]
pub struct ActivityRow {
    pub id: i64,
    pub batch: String,
    pub door: String,
    pub action: String,
    pub number: i64,
    pub before: Option<String>,
    pub after: Option<String>,
    pub created_at: Timestamp,
    pub undone_by: Option<String>,
    pub undo_of: Option<String>,
}

/// What the log calls a change.
fn action(before: Option<&Task>, after: Option<&Task>) -> &'static str {
    match (before, after) {
        (None, _) => "created",
        (_, None) => "deleted",
        (Some(b), Some(a)) => {
            let only_status = b.completed != a.completed
                && Task { completed: a.completed, updated_at: a.updated_at, completed_at: a.completed_at, ..b.clone() }
                    == *a;
            match (only_status, a.completed) {
                (true, true) => "completed",
                (true, false) => "reopened",
                _ => "updated",
            }
        }
    }
}

/// Whether the patch would change anything the person can see: a no-op is neither written nor recorded (so
/// completing a done task does not make an older change look overtaken to undo).
fn patch_changes(t: &Task, p: &StorePatch) -> bool {
    let due_differs = |d: &Option<super::DueColumns>| match (d, &t.due) {
        (None, None) => false,
        (Some(n), Some(o)) => n.date != o.date || n.time != o.time || n.timezone != o.timezone || n.string != o.string,
        _ => true,
    };
    p.title.as_ref().is_some_and(|x| *x != t.title)
        || p.description.as_ref().is_some_and(|x| *x != t.description)
        || p.completed.is_some_and(|x| x != t.completed)
        || p.due.as_ref().is_some_and(due_differs)
        || p.priority.is_some_and(|x| x != t.priority)
        || p.labels
            .as_ref()
            .is_some_and(|l| l.len() != t.labels.len() || l.iter().zip(&t.labels).any(|(n, o)| n.key != label_key(o)))
}

/// A snapshot's labels as the store keeps them. Names were cleaned when first stored; one that no longer
/// cleans (it cannot happen short of a hand-edited database) is kept as written.
fn snapshot_labels(t: &Task) -> Vec<LabelName> {
    t.labels
        .iter()
        .map(|n| clean_label(n).unwrap_or_else(|_| LabelName { key: label_key(n), name: n.clone() }))
        .collect()
}

/// The reverse of a recorded change as a patch that sets every field back (title, description, status, due,
/// priority, labels); the completion time is put back separately.
fn revert_patch(to: &Task) -> StorePatch {
    StorePatch {
        title: Some(to.title.clone()),
        description: Some(to.description.clone()),
        completed: Some(to.completed),
        due: Some(to.due.as_ref().map(|d| super::DueColumns {
            date: d.date.clone(),
            time: d.time.clone(),
            at: d.at,
            timezone: d.timezone.clone(),
            string: d.string.clone(),
        })),
        priority: Some(to.priority),
        labels: Some(snapshot_labels(to)),
    }
}

/// The reverse operations an undo applies, in the order they run.
#[derive(Debug)]
enum Step {
    Op(Op),
    /// Put a deleted task back as it was: same id, number and creation time.
    Restore(Task),
    /// Set a task back to this snapshot, completion time included.
    Revert(Task),
}

const SELECT_ONE: &str = concat!("SELECT ", columns!(), " FROM task t WHERE t.user_id = $1 AND t.number = $2");
const SELECT_ONE_LOCKED: &str =
    concat!("SELECT ", columns!(), " FROM task t WHERE t.user_id = $1 AND t.number = $2 FOR UPDATE");

const INSERT_POSTGRES: &str = concat!(
    "WITH n AS (
       INSERT INTO task_counter (user_id, last_number) VALUES ($2, 1)
       ON CONFLICT (user_id) DO UPDATE SET last_number = task_counter.last_number + 1
       RETURNING last_number)
     INSERT INTO task (id, user_id, number, title, description, completed, created_at, updated_at,
                            priority, due_date, due_time, due_at, due_tz, due_string, labels, change_batch, change_door)
     SELECT $1, $2, n.last_number, $3, $4, FALSE, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM n RETURNING ",
    returning!()
);
// SQLite's writes are serial: the number is read in a subquery and a trigger bumps the counter.
const INSERT_SQLITE: &str = concat!(
    "INSERT INTO task (id, user_id, number, title, description, completed, created_at, updated_at,
                            priority, due_date, due_time, due_at, due_tz, due_string, labels, change_batch, change_door)
     VALUES ($1, $2, COALESCE((SELECT last_number FROM task_counter WHERE user_id = $2), 0) + 1,
             $3, $4, FALSE, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     RETURNING ",
    returning!()
);
/// A deleted task put back under its own number: numbers are never handed out twice, so it is free, and the
/// person's counter row exists (it numbered the task).
const RESTORE: &str = concat!(
    "INSERT INTO task (id, user_id, number, title, description, completed, created_at, updated_at, completed_at,
                       priority, due_date, due_time, due_at, due_tz, due_string, labels)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     RETURNING ",
    returning!()
);
const UPDATE: &str = concat!(
    "UPDATE task SET
       title = COALESCE($1, title),
       description = CASE WHEN $2 THEN $3 ELSE description END,
       completed = COALESCE($4, completed),
       completed_at = CASE WHEN $4 IS NULL THEN completed_at
                           WHEN $4 THEN COALESCE($16, completed_at, $5)
                           ELSE NULL END,
       priority = COALESCE($6, priority),
       due_date = CASE WHEN $7 THEN $8 ELSE due_date END,
       due_time = CASE WHEN $7 THEN $9 ELSE due_time END,
       due_at = CASE WHEN $7 THEN $10 ELSE due_at END,
       due_tz = CASE WHEN $7 THEN $11 ELSE due_tz END,
       due_string = CASE WHEN $7 THEN $12 ELSE due_string END,
       labels = COALESCE($13, labels),
       change_batch = $17,
       change_door = $18,
       updated_at = $5
     WHERE user_id = $14 AND number = $15
     RETURNING ",
    returning!()
);
const DELETE: &str = concat!("DELETE FROM task WHERE user_id = $1 AND number = $2 RETURNING ", returning!());
const RECORD: &str = "INSERT INTO task_activity
       (user_id, batch, door, action, task_id, number, before, after, created_at, undo_of)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Makes the task's label rows match `labels` (whose names [`upsert_labels!`] has stored).
macro_rules! sync_label_rows {
    ($tx:expr, $user_id:expr, $task_id:expr, $number:expr, $completed:expr, $labels:expr) => {{
        let labels: &[LabelName] = $labels;
        let had: Vec<String> = sqlx::query_scalar("SELECT key FROM task_label WHERE task_id = $1")
            .bind($task_id)
            .fetch_all(&mut *$tx)
            .await?;
        for key in had.iter().filter(|k| !labels.iter().any(|l| &l.key == *k)) {
            sqlx::query("DELETE FROM task_label WHERE task_id = $1 AND key = $2")
                .bind($task_id)
                .bind(key)
                .execute(&mut *$tx)
                .await?;
        }
        // With the task's status before an update; the update moves them with it (migration 0010's trigger).
        for l in labels.iter().filter(|l| !had.contains(&l.key)) {
            sqlx::query(
                "INSERT INTO task_label (task_id, user_id, key, number, completed) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind($task_id)
            .bind($user_id)
            .bind(&l.key)
            .bind($number)
            .bind($completed)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// The stored names of `labels` as the task's JSON column holds them.
macro_rules! label_names_json {
    ($tx:expr, $user_id:expr, $labels:expr) => {{
        let labels: &[LabelName] = $labels;
        if labels.is_empty() {
            "[]".to_string()
        } else {
            let names = upsert_labels!($tx, $user_id, labels);
            serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
        }
    }};
}

/// The [`UPDATE`] of a patch with its parameters bound: the labels' JSON (their rows are the caller's), the
/// completion time to put back (undo) and the batch and door the database logs it under (none: not logged).
macro_rules! update_query {
    ($patch:expr, $labels_json:expr, $user_id:expr, $number:expr, $now:expr, $completed_at:expr, $batch:expr, $door:expr) => {{
        let StorePatch { title, description, completed, due, priority, .. } = $patch;
        let set_due = due.is_some();
        let due = OptDue::of(due.flatten());
        sqlx::query_as::<_, TaskRow>(UPDATE)
            .bind(title)
            .bind(description.is_some())
            .bind(description.flatten())
            .bind(completed)
            .bind($now)
            .bind(priority.map(Priority::rank))
            .bind(set_due)
            .bind(due.date)
            .bind(due.time)
            .bind(due.at)
            .bind(due.timezone)
            .bind(due.string)
            .bind($labels_json)
            .bind($user_id)
            .bind($number)
            .bind($completed_at)
            .bind($batch)
            .bind($door)
    }};
}

/// Runs one [`Step`] on `$tx` (a transaction or a connection); evaluates to the change (`None`: no such task)
/// and whether the database logged it (migration 0015) or the caller must.
macro_rules! run_step {
    ($tx:expr, $pg:expr, $user_id:expr, $now:expr, $batch:expr, $door:expr, $step:expr) => {{
        let user_id: &str = $user_id;
        match $step {
            Step::Op(Op::Insert(new)) => {
                let StoreNew { id, title, description, due, priority, labels } = new;
                let due = OptDue::of(due);
                let labels_json = label_names_json!($tx, user_id, &labels);
                let row = sqlx::query_as::<_, TaskRow>(if $pg { INSERT_POSTGRES } else { INSERT_SQLITE })
                    .bind(&id)
                    .bind(user_id)
                    .bind(&title)
                    .bind(&description)
                    .bind($now)
                    .bind(priority.rank())
                    .bind(&due.date)
                    .bind(&due.time)
                    .bind(due.at)
                    .bind(&due.timezone)
                    .bind(&due.string)
                    .bind(labels_json)
                    .bind($batch)
                    .bind($door)
                    .fetch_one(&mut *$tx)
                    .await?;
                let number = row.number;
                if !labels.is_empty() {
                    sync_label_rows!($tx, user_id, &id, number, false, &labels);
                }
                let task = Task::from(row);
                (Some(Change { number, before: None, after: Some(task) }), true)
            }
            Step::Op(Op::Delete(number)) => (
                sqlx::query_as::<_, TaskRow>(DELETE)
                    .bind(user_id)
                    .bind(number)
                    .fetch_optional(&mut *$tx)
                    .await?
                    .map(|row| Change { number, before: Some(Task::from(row)), after: None }),
                false,
            ),
            Step::Restore(t) => {
                let due = OptDue::of(revert_patch(&t).due.flatten());
                let labels = snapshot_labels(&t);
                let labels_json = label_names_json!($tx, user_id, &labels);
                let row = sqlx::query_as::<_, TaskRow>(RESTORE)
                    .bind(&t.id)
                    .bind(user_id)
                    .bind(t.number)
                    .bind(&t.title)
                    .bind(&t.description)
                    .bind(t.completed)
                    .bind(t.created_at)
                    .bind($now)
                    .bind(t.completed_at)
                    .bind(t.priority.rank())
                    .bind(&due.date)
                    .bind(&due.time)
                    .bind(due.at)
                    .bind(&due.timezone)
                    .bind(&due.string)
                    .bind(labels_json)
                    .fetch_one(&mut *$tx)
                    .await?;
                sync_label_rows!($tx, user_id, &t.id, t.number, t.completed, &labels);
                (Some(Change { number: t.number, before: None, after: Some(Task::from(row)) }), false)
            }
            // A change asked for: one UPDATE, logged by the database (migration 0015) from the row before and
            // after; labels, when they change, follow in the same transaction.
            Step::Op(Op::Patch(number, patch)) => {
                let labels = patch.labels.clone();
                let labels_json = match &labels {
                    Some(l) => Some(label_names_json!($tx, user_id, l)),
                    None => None,
                };
                let row = update_query!(patch, labels_json, user_id, number, $now, None::<Timestamp>, $batch, $door)
                    .fetch_optional(&mut *$tx)
                    .await?;
                match row {
                    None => (None, true),
                    Some(row) => {
                        if let Some(l) = &labels {
                            // Added with the status the update just left; later changes move them with it.
                            sync_label_rows!($tx, user_id, &row.id, number, row.completed, l);
                        }
                        let after = Task::from(row);
                        // The row before is the log's; the caller is told the task as it now is.
                        (Some(Change { number, before: Some(after.clone()), after: Some(after) }), true)
                    }
                }
            }
            Step::Revert(t) => {
                let (number, patch, completed_at) = (t.number, revert_patch(&t), t.completed_at);
                let found = sqlx::query_as::<_, TaskRow>(if $pg { SELECT_ONE_LOCKED } else { SELECT_ONE })
                    .bind(user_id)
                    .bind(number)
                    .fetch_optional(&mut *$tx)
                    .await?;
                match found.map(Task::from) {
                    None => (None, false),
                    Some(before) if !patch_changes(&before, &patch) => {
                        (Some(Change { number, before: Some(before.clone()), after: Some(before) }), false)
                    }
                    Some(before) => {
                        let labels_json = match &patch.labels {
                            Some(l) => {
                                let json = label_names_json!($tx, user_id, l);
                                sync_label_rows!($tx, user_id, &before.id, number, before.completed, l);
                                Some(json)
                            }
                            None => None,
                        };
                        // An undo's changes are logged by the undo, with the batch they reverse: no batch here.
                        let row = update_query!(
                            patch,
                            labels_json,
                            user_id,
                            number,
                            $now,
                            completed_at,
                            None::<String>,
                            None::<String>
                        )
                        .fetch_one(&mut *$tx)
                        .await?;
                        (Some(Change { number, before: Some(before), after: Some(Task::from(row)) }), false)
                    }
                }
            }
        }
    }};
}

/// Runs a request in one transaction and records what it changed. On SQLite it runs on the writer thread.
pub async fn change(db: &Db, user_id: &str, log: Log, plan: Plan) -> sqlx::Result<Outcome> {
    let pg = matches!(db, Db::Postgres(_));
    let user_id = user_id.to_owned();
    with_db_write!(db, move |pool| {
        let now = Timestamp::now();
        let batch = match (&plan, &log.batch) {
            (Plan::Ops(_), Some(b)) => b.clone(),
            _ => uuid::Uuid::now_v7().to_string(),
        };
        let door = log.door;
        // One insert, or one change, without labels is one statement: the database's own transaction holds it
        // with the log entry its trigger writes.
        let single = match &plan {
            Plan::Ops(ops) => {
                ops.len() == 1
                    && match &ops[0] {
                        Op::Insert(n) => n.labels.is_empty(),
                        Op::Patch(_, p) => p.labels.is_none(),
                        Op::Delete(_) => false,
                    }
            }
            Plan::Undo(_) => false,
        };
        if single && let Plan::Ops(mut ops) = plan {
            let op = ops.pop().expect("one operation");
            // Mutable for PostgreSQL's pooled connection; SQLite's is already a `&mut`.
            #[allow(unused_mut)]
            let mut conn = pool.one_connection().await?;
            let (change, _) = run_step!(conn, pg, &user_id, now, &batch, door, Step::Op(op));
            return Ok(Outcome::Applied { batch, changes: vec![change] });
        }
        let mut tx = pool.begin_write().await?;
        let (steps, undo_of) = match plan {
            Plan::Ops(ops) => (ops.into_iter().take(MAX_OPS).map(Step::Op).collect::<Vec<_>>(), None),
            Plan::Undo(target) => {
                let found: Option<(String, Option<String>)> = match target {
                    Some(id) => {
                        sqlx::query_as("SELECT batch, undo_of FROM task_activity WHERE user_id = $1 AND id = $2")
                            .bind(&user_id)
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?
                    }
                    None => {
                        sqlx::query_as(
                            "SELECT batch, undo_of FROM task_activity
                         WHERE user_id = $1 AND undone_by IS NULL AND undo_of IS NULL ORDER BY id DESC LIMIT 1",
                        )
                        .bind(&user_id)
                        .fetch_optional(&mut *tx)
                        .await?
                    }
                };
                let (old, old_undo_of) = match found {
                    Some(f) => f,
                    None if target.is_some() => return Ok(Outcome::UnknownActivity),
                    None => return Ok(Outcome::NothingToUndo),
                };
                if old_undo_of.is_some() {
                    return Ok(Outcome::NotUndoable);
                }
                let entries: Vec<ActivityRow> = sqlx::query_as(
                    "SELECT id, batch, door, action, number, before, after, created_at, undone_by, undo_of
                     FROM task_activity WHERE user_id = $1 AND batch = $2 ORDER BY id DESC LIMIT $3",
                )
                .bind(&user_id)
                .bind(&old)
                .bind(MAX_OPS as i64)
                .fetch_all(&mut *tx)
                .await?;
                if entries.iter().any(|e| e.undone_by.is_some()) {
                    return Ok(Outcome::AlreadyUndone);
                }
                let mut steps = Vec::with_capacity(entries.len());
                let mut changed = Vec::new();
                // What each task will be when the undo reaches an entry: as it is now for its newest entry,
                // then as the newer entry left it before (a turn that added a task and then labelled it).
                let mut state: std::collections::HashMap<i64, Option<Task>> = std::collections::HashMap::new();
                for e in &entries {
                    let parse = |s: &Option<String>| s.as_deref().and_then(|s| serde_json::from_str::<Task>(s).ok());
                    let (before, after) = (parse(&e.before), parse(&e.after));
                    let now_is = match state.get(&e.number) {
                        Some(s) => s.clone(),
                        None => sqlx::query_as::<_, TaskRow>(if pg { SELECT_ONE_LOCKED } else { SELECT_ONE })
                            .bind(&user_id)
                            .bind(e.number)
                            .fetch_optional(&mut *tx)
                            .await?
                            .map(Task::from),
                    };
                    state.insert(e.number, before.clone());
                    // As the change left it: the same task with the same content. Not its update time: an undo
                    // writes at its own time, and the undo of the change before must still see its own result.
                    let untouched = match (&after, &now_is) {
                        (None, None) => true,
                        (Some(a), Some(n)) => Task { updated_at: n.updated_at, ..a.clone() } == *n,
                        _ => false,
                    };
                    if !untouched {
                        changed.push(e.number);
                        continue;
                    }
                    steps.push(match (before, after) {
                        (None, Some(_)) => Step::Op(Op::Delete(e.number)),
                        (Some(b), None) => Step::Restore(b),
                        (Some(b), Some(_)) => Step::Revert(b),
                        (None, None) => continue,
                    });
                }
                if !changed.is_empty() {
                    changed.sort_unstable();
                    changed.dedup();
                    return Ok(Outcome::ChangedSince(changed));
                }
                sqlx::query("UPDATE task_activity SET undone_by = $1 WHERE user_id = $2 AND batch = $3")
                    .bind(&batch)
                    .bind(&user_id)
                    .bind(&old)
                    .execute(&mut *tx)
                    .await?;
                (steps, Some(old))
            }
        };
        let mut changes = Vec::with_capacity(steps.len());
        for step in steps {
            let (change, logged): (Option<Change>, bool) = run_step!(tx, pg, &user_id, now, &batch, door, step);
            if let Some(c) = &change
                && !logged
                && c.before != c.after
            {
                let task = c.after.as_ref().or(c.before.as_ref()).map(|t| t.id.clone()).unwrap_or_default();
                let json = |t: &Option<Task>| t.as_ref().map(|t| serde_json::to_string(t).unwrap_or_default());
                sqlx::query(RECORD)
                    .bind(&user_id)
                    .bind(&batch)
                    .bind(log.door)
                    .bind(action(c.before.as_ref(), c.after.as_ref()))
                    .bind(task)
                    .bind(c.number)
                    .bind(json(&c.before))
                    .bind(json(&c.after))
                    .bind(now)
                    .bind(&undo_of)
                    .execute(&mut *tx)
                    .await?;
            }
            changes.push(change);
        }
        tx.commit().await?;
        Ok(Outcome::Applied { batch, changes })
    })
}

/// One page of the person's activity, newest first, before entry `before` when given.
pub async fn activity(db: &Db, user_id: &str, before: Option<i64>, limit: usize) -> sqlx::Result<Vec<ActivityRow>> {
    const COLUMNS: &str = "id, batch, door, action, number, before, after, created_at, undone_by, undo_of";
    let limit = limit as i64;
    crate::with_db!(db, |pool| {
        match before {
            Some(id) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM task_activity WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
                )))
                .bind(user_id)
                .bind(id)
                .bind(limit)
                .fetch_all(pool)
                .await
            }
            None => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM task_activity WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
                )))
                .bind(user_id)
                .bind(limit)
                .fetch_all(pool)
                .await
            }
        }
    })
}

impl From<ActivityRow> for crate::tasks::model::Activity {
    fn from(r: ActivityRow) -> Self {
        let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str::<Task>(&s).ok());
        crate::tasks::model::Activity {
            id: r.id,
            batch: r.batch,
            door: crate::tasks::model::Door::parse(&r.door),
            action: r.action,
            number: r.number,
            before: parse(r.before),
            after: parse(r.after),
            created_at: r.created_at,
            undone: r.undone_by.is_some(),
            undo_of: r.undo_of,
        }
    }
}
