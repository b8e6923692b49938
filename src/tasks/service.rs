//! The task service: the rules of a task operation, whichever door asked for it. It cleans what comes in
//! (`model`), resolves due words against the owner's clock and zone, and runs the SQL (`store`).

use std::sync::Arc;

use super::model::{
    Activity, ActivityPage, BulkAction, BulkItem, CursorKey, DueFilter, LabelCount, NewTask, Owner, Task, TaskCounts,
    TaskError, TaskPage, TaskPatch, TaskQuery, UndoError, Undone, clean_description, clean_label, clean_labels,
    clean_title, search_words,
};
use super::store::{self, Change, DueRange, ListPlan, Log, MAX_OPS, Op, Outcome, Plan, StoreNew, StorePatch};
use crate::db::Db;
use crate::error::AppError;
use crate::events::EventBus;

/// A person's labels listed at once, at most; more than anyone keeps.
const MAX_LABELS_LISTED: usize = 1000;

impl From<TaskError> for AppError {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::Invalid(m) => AppError::validation(m),
            TaskError::NotFound(n) => {
                AppError::new(axum::http::StatusCode::NOT_FOUND, "TASK_NOT_FOUND", format!("There is no task {n}."))
            }
            TaskError::Db(e) => AppError::from(e),
        }
    }
}

/// The task operations. Every method takes the [`Owner`]: it comes from authentication, never from input.
#[derive(Clone)]
pub struct TaskService {
    db: Db,
    events: Arc<EventBus>,
}

impl TaskService {
    pub fn new(db: Db, events: Arc<EventBus>) -> Self {
        TaskService { db, events }
    }

    fn announce(&self, user_id: &str, kind: &str, task: &Task) {
        self.events.publish(user_id, kind, serde_json::json!({ "task": task }));
    }

    pub async fn create(&self, owner: &Owner, new: NewTask) -> Result<Task, TaskError> {
        let title = clean_title(&new.title)?;
        let description = clean_description(new.description.as_deref())?;
        let labels = clean_labels(&new.labels)?;
        let due = new.due.as_ref().map(|d| d.resolve(owner, &owner.now())).transpose()?;
        let id = uuid::Uuid::now_v7().to_string();
        let new = StoreNew { id, title, description, due, priority: new.priority.unwrap_or_default(), labels };
        let mut changes = self.apply(owner, vec![Op::Insert(new)]).await?;
        changes.pop().flatten().and_then(|c| c.after).ok_or_else(|| TaskError::Db(sqlx::Error::RowNotFound))
    }

    pub async fn get(&self, owner: &Owner, number: i64) -> Result<Task, TaskError> {
        store::find_task(&self.db, &owner.id, number).await?.ok_or(TaskError::NotFound(number))
    }

    /// The owner's tasks among these numbers (missing ones are left out), in number order.
    pub async fn get_many(&self, owner: &Owner, numbers: &[i64]) -> Result<Vec<Task>, TaskError> {
        let mut numbers = numbers.to_vec();
        numbers.sort_unstable();
        numbers.dedup();
        numbers.truncate(super::model::MAX_LIMIT);
        Ok(store::find_tasks(&self.db, &owner.id, &numbers).await?)
    }

    pub async fn update(&self, owner: &Owner, number: i64, patch: TaskPatch) -> Result<Task, TaskError> {
        let patch = self.store_patch(owner, &patch)?;
        let mut changes = self.apply(owner, vec![Op::Patch(number, patch)]).await?;
        changes.pop().flatten().and_then(|c| c.after).ok_or(TaskError::NotFound(number))
    }

    pub async fn set_completed(&self, owner: &Owner, number: i64, completed: bool) -> Result<Task, TaskError> {
        self.update(owner, number, TaskPatch { completed: Some(completed), ..Default::default() }).await
    }

    /// Deletes the task and returns it as it was.
    pub async fn delete(&self, owner: &Owner, number: i64) -> Result<Task, TaskError> {
        let mut changes = self.apply(owner, vec![Op::Delete(number)]).await?;
        changes.pop().flatten().and_then(|c| c.before).ok_or(TaskError::NotFound(number))
    }

    /// Changes to many tasks at once (one action per number), in one transaction recorded as one batch: one
    /// undo reverses it all. Each number gets its own result: a task that does not exist fails alone, and the
    /// others are done.
    pub async fn bulk(&self, owner: &Owner, items: &[(i64, BulkAction)]) -> Result<Vec<BulkItem>, TaskError> {
        let mut seen = std::collections::HashSet::new();
        let items: Vec<&(i64, BulkAction)> = items.iter().filter(|(n, _)| seen.insert(*n)).collect();
        if items.is_empty() {
            return Err(TaskError::Invalid("Give at least one task number.".into()));
        }
        if items.len() > MAX_OPS {
            return Err(TaskError::Invalid(format!("At most {MAX_OPS} tasks can be changed at once.")));
        }
        let mut ops = Vec::with_capacity(items.len());
        for (n, action) in &items {
            let completed = |c: bool| StorePatch { completed: Some(c), ..Default::default() };
            ops.push(match action {
                BulkAction::Delete => Op::Delete(*n),
                BulkAction::Complete => Op::Patch(*n, completed(true)),
                BulkAction::Reopen => Op::Patch(*n, completed(false)),
                BulkAction::Update(p) if p.is_empty() => {
                    return Err(TaskError::Invalid("Say what to change: there is nothing in the change.".into()));
                }
                BulkAction::Update(p) => Op::Patch(*n, self.store_patch(owner, p)?),
            });
        }
        let changes = self.apply(owner, ops).await?;
        Ok(items
            .iter()
            .zip(changes)
            .map(|((number, action), c)| {
                let number = *number;
                match c {
                    Some(c) => BulkItem {
                        number,
                        ok: true,
                        task: if matches!(action, BulkAction::Delete) { c.before } else { c.after },
                        error: None,
                    },
                    None => BulkItem::missing(number),
                }
            })
            .collect())
    }

    /// Reverses the owner's newest change that still stands, or the one that made activity entry `id`:
    /// every operation of that request, in one transaction, unless a task it touched changed since.
    pub async fn undo(&self, owner: &Owner, id: Option<i64>) -> Result<Undone, UndoError> {
        let log = Log { door: owner.door.as_str(), batch: owner.batch.clone() };
        match store::change(&self.db, &owner.id, log, Plan::Undo(id)).await.map_err(TaskError::Db)? {
            Outcome::Applied { batch, changes } => {
                let changes: Vec<Change> = changes.into_iter().flatten().collect();
                self.announce_changes(&owner.id, &changes);
                Ok(Undone { batch, changes })
            }
            Outcome::NothingToUndo => Err(UndoError::Nothing),
            Outcome::UnknownActivity => Err(UndoError::Unknown),
            Outcome::NotUndoable => Err(UndoError::NotUndoable),
            Outcome::AlreadyUndone => Err(UndoError::AlreadyUndone),
            Outcome::ChangedSince(numbers) => Err(UndoError::ChangedSince(numbers)),
        }
    }

    /// One page of the owner's activity, newest first.
    pub async fn activity(&self, owner: &Owner, cursor: Option<&str>, limit: usize) -> Result<ActivityPage, TaskError> {
        let before = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(
                c.parse::<i64>().map_err(|_| TaskError::Invalid("The cursor is not one this server gave.".into()))?,
            ),
        };
        let limit = limit.clamp(1, super::model::MAX_ACTIVITY_PAGE);
        let mut rows = store::activity(&self.db, &owner.id, before, limit + 1).await?;
        let next_cursor = (rows.len() > limit).then(|| {
            rows.truncate(limit);
            rows.last().map(|r| r.id.to_string()).unwrap_or_default()
        });
        Ok(ActivityPage { entries: rows.into_iter().map(Activity::from).collect(), next_cursor })
    }

    /// Cleans a patch and resolves its due words once, for one task or many.
    fn store_patch(&self, owner: &Owner, patch: &TaskPatch) -> Result<StorePatch, TaskError> {
        let title = patch.title.as_deref().map(clean_title).transpose()?;
        let description = match &patch.description {
            None => None,
            Some(d) => Some(clean_description(d.as_deref())?),
        };
        let labels = patch.labels.as_deref().map(clean_labels).transpose()?;
        let due = match &patch.due {
            None => None,
            Some(None) => Some(None),
            Some(Some(d)) => Some(Some(d.resolve(owner, &owner.now())?)),
        };
        Ok(StorePatch { title, description, completed: patch.completed, due, priority: patch.priority, labels })
    }

    /// Runs the operations as one recorded request and tells the owner's open pages what changed.
    async fn apply(&self, owner: &Owner, ops: Vec<Op>) -> Result<Vec<Option<Change>>, TaskError> {
        let log = Log { door: owner.door.as_str(), batch: owner.batch.clone() };
        match store::change(&self.db, &owner.id, log, Plan::Ops(ops)).await? {
            Outcome::Applied { changes, .. } => {
                let made: Vec<Change> = changes.iter().flatten().cloned().collect();
                self.announce_changes(&owner.id, &made);
                Ok(changes)
            }
            other => Err(TaskError::Db(sqlx::Error::Protocol(format!("unexpected outcome {other:?}")))),
        }
    }

    fn announce_changes(&self, user_id: &str, changes: &[Change]) {
        for c in changes {
            match (&c.before, &c.after) {
                (None, Some(t)) => self.announce(user_id, "task.created", t),
                (Some(t), None) => self.announce(user_id, "task.deleted", t),
                (Some(_), Some(t)) => self.announce(user_id, "task.updated", t),
                (None, None) => {}
            }
        }
    }

    /// One page of the owner's tasks, filtered, searched and sorted as asked.
    pub async fn list(&self, owner: &Owner, query: &TaskQuery) -> Result<TaskPage, TaskError> {
        let limit = query.limit()?;
        let mut plan = self.plan(owner, query)?;
        plan.after = query.cursor.as_deref().map(|c| CursorKey::decode(c, plan.sort)).transpose()?;
        // One more than the page tells whether another page follows.
        plan.limit = limit + 1;
        let mut tasks = store::list(&self.db, &plan).await?;
        let next_cursor = if tasks.len() > limit {
            tasks.truncate(limit);
            tasks.last().map(|t| CursorKey::after(plan.sort, t).encode(plan.sort))
        } else {
            None
        };
        Ok(TaskPage { tasks, next_cursor })
    }

    /// How many tasks the query's filters keep (the cursor and limit aside), counting no further than `cap`.
    pub async fn count(&self, owner: &Owner, query: &TaskQuery, cap: usize) -> Result<usize, TaskError> {
        let plan = self.plan(owner, query)?;
        Ok(store::count_capped(&self.db, &plan, cap).await?)
    }

    /// The owner's pending and completed counts (one row).
    pub async fn counts(&self, owner: &Owner) -> Result<TaskCounts, TaskError> {
        Ok(store::counts(&self.db, &owner.id).await?)
    }

    pub async fn labels(&self, owner: &Owner) -> Result<Vec<LabelCount>, TaskError> {
        Ok(store::labels(&self.db, &owner.id, MAX_LABELS_LISTED).await?)
    }

    /// Tasks sharing any word (as a prefix) with `text`, best first: candidates for a reference in words.
    pub async fn search_any(&self, owner: &Owner, text: &str, limit: usize) -> Result<Vec<Task>, TaskError> {
        Ok(store::search_any(&self.db, &owner.id, &search_words(text), &[], limit).await?)
    }

    /// Tasks with a word starting with one of `prefixes` (letters and digits), best first: candidates for a
    /// misspelt word, whose first letters are most often right.
    pub async fn search_prefixes(
        &self,
        owner: &Owner,
        prefixes: &[String],
        limit: usize,
    ) -> Result<Vec<Task>, TaskError> {
        let prefixes: Vec<String> = prefixes.iter().map(|p| p.to_lowercase()).collect();
        Ok(store::search_any(&self.db, &owner.id, &[], &prefixes, limit).await?)
    }

    /// Up to `k` tasks on each side of number `n`, nearest first on each side.
    pub async fn nearest(&self, owner: &Owner, n: i64, k: i64) -> Result<Vec<Task>, TaskError> {
        Ok(store::nearest(&self.db, &owner.id, n, k).await?)
    }

    /// The query in the store's terms: the label's key, the search words, and due bounds from the owner's
    /// today in their zone.
    fn plan(&self, owner: &Owner, query: &TaskQuery) -> Result<ListPlan, TaskError> {
        let words = match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            None => vec![],
            Some(q) => {
                let words = search_words(q);
                if words.is_empty() {
                    return Err(TaskError::Invalid("q has no words to search for.".into()));
                }
                words
            }
        };
        let label_key = query.label.as_deref().map(|l| clean_label(l).map(|l| l.key)).transpose()?;
        let mut priorities = query.priority.clone();
        priorities.sort();
        priorities.dedup();
        Ok(ListPlan {
            user_id: owner.id.clone(),
            completed: query.status.completed(),
            priorities,
            due: query.due.map(|d| due_range(d, &owner.now())),
            label_key,
            words,
            sort: query.sort(),
            after: None,
            limit: query.limit()?,
        })
    }
}

/// A due filter as bounds on the `due_sort` key (`'YYYY-MM-DD HH:MM'`, `'YYYY-MM-DD ~'` for all day, `'~'` for
/// none), from the owner's now.
fn due_range(filter: DueFilter, now: &jiff::ZonedDateTime) -> DueRange {
    let today = now.date();
    let day = |d: jiff::civil::Date| d.to_string();
    let start = |d: jiff::civil::Date| format!("{} ", day(d));
    let end = |d: jiff::civil::Date| format!("{} ~", day(d));
    let mut r = DueRange::default();
    match filter {
        DueFilter::Today => {
            r.at_least = Some(start(today));
            r.at_most = Some(end(today));
        }
        DueFilter::Overdue => {
            // Earlier days sort below today's date, and today's times below now; today's all-day tasks
            // ('… ~') do not.
            r.below = Some(format!("{} {}", day(today), now.time().strftime("%H:%M")));
            r.not_done = true;
        }
        DueFilter::Week => {
            r.at_least = Some(start(today));
            r.at_most = Some(end(today.saturating_add(jiff::Span::new().days(6))));
        }
        DueFilter::Upcoming => {
            r.at_least = Some(start(today));
            r.below = Some("~".into());
        }
        DueFilter::None => r.at_least = Some("~".into()),
        DueFilter::Before(d) => r.below = Some(start(d)),
        DueFilter::On(d) => {
            r.at_least = Some(start(d));
            r.at_most = Some(end(d));
        }
        DueFilter::After(d) => {
            // '~' (no due) sorts after every date: it is not "after" one.
            r.above = Some(end(d));
            r.below = Some("~".into());
        }
    }
    r
}
