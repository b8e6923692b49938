//! SQL for tasks and labels. Every statement filters by `user_id`: ownership is part of the query, not a later
//! check. Every read a request makes is bounded (a limit, or one person's counters) and served by an index of
//! migration 0010; `tests` below check the plans.

use sqlx::FromRow;

use super::model::{CursorKey, DueColumns, LabelCount, LabelName, Priority, Sort, Task, TaskCounts};
use crate::db::{Db, Timestamp};
use crate::with_db;

/// The columns a [`TaskRow`] reads, as a literal so query texts stay `&'static str`.
macro_rules! columns {
    () => {
        "t.id, t.number, t.title, t.description, t.completed, t.created_at, t.updated_at, t.completed_at, \
         t.priority, t.due_date, t.due_time, t.due_at, t.due_tz, t.due_string, t.labels"
    };
}

/// The same columns unqualified, for RETURNING: SQLite refuses a table alias there ("no such column: t.id").
macro_rules! returning {
    () => {
        "id, number, title, description, completed, created_at, updated_at, completed_at, \
         priority, due_date, due_time, due_at, due_tz, due_string, labels"
    };
}

/// A task as stored.
#[derive(Debug, FromRow)]
struct TaskRow {
    id: String,
    number: i64,
    title: String,
    description: Option<String>,
    completed: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
    completed_at: Option<Timestamp>,
    priority: i16,
    due_date: Option<String>,
    due_time: Option<String>,
    due_at: Option<Timestamp>,
    due_tz: Option<String>,
    due_string: Option<String>,
    labels: String,
}

impl From<TaskRow> for Task {
    fn from(r: TaskRow) -> Task {
        let due = r.due_date.map(|date| super::model::Due {
            string: r.due_string.unwrap_or_else(|| date.clone()),
            date,
            time: r.due_time,
            at: r.due_at,
            timezone: r.due_tz.unwrap_or_else(|| "UTC".into()),
        });
        Task {
            id: r.id,
            number: r.number,
            title: r.title,
            description: r.description,
            completed: r.completed,
            priority: Priority::from_rank(r.priority),
            due,
            labels: serde_json::from_str(&r.labels).unwrap_or_default(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            completed_at: r.completed_at,
        }
    }
}

fn tasks(rows: Vec<TaskRow>) -> Vec<Task> {
    rows.into_iter().map(Task::from).collect()
}

/// A value bound into a query built at run time.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
    Small(i16),
    Bool(bool),
    Time(Timestamp),
}

/// Binds `$binds` in order onto `$query` (a sqlx query of either database).
macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut q = $query;
        for b in $binds {
            q = match b {
                Bind::Text(v) => q.bind(v),
                Bind::Int(v) => q.bind(v),
                Bind::Small(v) => q.bind(v),
                Bind::Bool(v) => q.bind(v),
                Bind::Time(v) => q.bind(v),
            };
        }
        q
    }};
}

/// Collects binds and hands out their `$n` placeholders.
#[derive(Default)]
struct Binds(Vec<Bind>);

impl Binds {
    fn push(&mut self, b: Bind) -> String {
        self.0.push(b);
        format!("${}", self.0.len())
    }
}

/// A stored task's new values; `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct StorePatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
    pub due: Option<Option<DueColumns>>,
    pub priority: Option<Priority>,
    pub labels: Option<Vec<LabelName>>,
}

/// A new task's values, cleaned.
#[derive(Debug)]
pub struct StoreNew {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub due: Option<DueColumns>,
    pub priority: Priority,
    pub labels: Vec<LabelName>,
}

/// Makes sure each label exists for the person and returns the names as first written, in order. Run inside
/// the write's transaction: the upsert locks the label row, so a concurrent removal of its last task cannot
/// delete it in between.
macro_rules! upsert_labels {
    ($tx:expr, $user_id:expr, $labels:expr) => {{
        let mut names: Vec<String> = Vec::new();
        for l in $labels {
            let name: String = sqlx::query_scalar(
                "INSERT INTO label (user_id, key, name) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, key) DO UPDATE SET name = label.name RETURNING name",
            )
            .bind($user_id)
            .bind(&l.key)
            .bind(&l.name)
            .fetch_one(&mut *$tx)
            .await?;
            names.push(name);
        }
        names
    }};
}

// After the macros above, which it uses.
mod changes;
pub use changes::{Change, Log, MAX_OPS, Op, Outcome, Plan, activity, change};

/// The nullable due columns, all `None` for no due.
#[derive(Default)]
struct OptDue {
    date: Option<String>,
    time: Option<String>,
    at: Option<Timestamp>,
    timezone: Option<String>,
    string: Option<String>,
}

impl OptDue {
    fn of(due: Option<DueColumns>) -> OptDue {
        match due {
            Some(d) => OptDue {
                date: Some(d.date),
                time: d.time,
                at: d.at,
                timezone: Some(d.timezone),
                string: Some(d.string),
            },
            None => OptDue::default(),
        }
    }
}

pub async fn find_task(db: &Db, user_id: &str, number: i64) -> sqlx::Result<Option<Task>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, TaskRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM task t WHERE t.user_id = $1 AND t.number = $2"
        ))
        .bind(user_id)
        .bind(number)
        .fetch_optional(pool)
        .await
        .map(|r| r.map(Task::from))
    })
}

/// The person's tasks with these numbers (at most [`super::model::MAX_LIMIT`] are asked for), in number order.
pub async fn find_tasks(db: &Db, user_id: &str, numbers: &[i64]) -> sqlx::Result<Vec<Task>> {
    if numbers.is_empty() {
        return Ok(vec![]);
    }
    let mut binds = Binds::default();
    let owner = binds.push(Bind::Text(user_id.to_owned()));
    let list: Vec<String> = numbers.iter().map(|n| binds.push(Bind::Int(*n))).collect();
    let sql = format!(
        "SELECT {} FROM task t WHERE t.user_id = {owner} AND t.number IN ({}) ORDER BY t.number",
        columns!(),
        list.join(", ")
    );
    with_db!(db, |pool| {
        bind_all!(sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(sql.clone())), binds.0.clone())
            .fetch_all(pool)
            .await
            .map(tasks)
    })
}

/// The tasks nearest in number to `n` on each side (up to `k` each), for "there is no task 7".
pub async fn nearest(db: &Db, user_id: &str, n: i64, k: i64) -> sqlx::Result<Vec<Task>> {
    let (below, above) = with_db!(db, |pool| {
        let below = sqlx::query_as::<_, TaskRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM task t WHERE t.user_id = $1 AND t.number < $2 ORDER BY t.number DESC LIMIT $3"
        ))
        .bind(user_id)
        .bind(n)
        .bind(k)
        .fetch_all(pool)
        .await?;
        let above = sqlx::query_as::<_, TaskRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM task t WHERE t.user_id = $1 AND t.number > $2 ORDER BY t.number LIMIT $3"
        ))
        .bind(user_id)
        .bind(n)
        .bind(k)
        .fetch_all(pool)
        .await?;
        Ok::<_, sqlx::Error>((below, above))
    })?;
    let mut out = tasks(below);
    out.extend(tasks(above));
    Ok(out)
}

/// Bounds on the `due_sort` column (migration 0010), from a due filter and the owner's today.
#[derive(Debug, Clone, Default)]
pub struct DueRange {
    pub at_least: Option<String>,
    pub at_most: Option<String>,
    pub below: Option<String>,
    pub above: Option<String>,
    pub not_done: bool,
}

/// A list request in the store's terms: everything resolved (the owner's today, the label's key, the cursor).
#[derive(Debug, Clone)]
pub struct ListPlan {
    pub user_id: String,
    pub completed: Option<bool>,
    pub priorities: Vec<Priority>,
    pub due: Option<DueRange>,
    pub label_key: Option<String>,
    /// Words that must all match (as prefixes).
    pub words: Vec<String>,
    pub sort: Sort,
    pub after: Option<CursorKey>,
    pub limit: usize,
}

/// The FROM and WHERE of a list, its binds, and whether it reads a label's rows.
fn list_where(pg: bool, plan: &ListPlan, binds: &mut Binds) -> String {
    let owner = binds.push(Bind::Text(plan.user_id.clone()));
    let mut sql = match &plan.label_key {
        // Driven from the label's rows, read in number order from their index.
        Some(key) => {
            let key = binds.push(Bind::Text(key.clone()));
            format!("FROM task_label l JOIN task t ON t.id = l.task_id WHERE l.user_id = {owner} AND l.key = {key}")
        }
        None => format!("FROM task t WHERE t.user_id = {owner}"),
    };
    let done = match &plan.due {
        Some(d) if d.not_done => Some(false),
        _ => plan.completed,
    };
    if let Some(c) = done {
        let side = if plan.label_key.is_some() { "l" } else { "t" };
        sql += &format!(" AND {side}.completed = {}", binds.push(Bind::Bool(c)));
    }
    if !plan.priorities.is_empty() {
        let list: Vec<String> = plan.priorities.iter().map(|p| binds.push(Bind::Small(p.rank()))).collect();
        sql += &format!(" AND t.priority IN ({})", list.join(", "));
    }
    if let Some(d) = &plan.due {
        for (op, v) in [(">=", &d.at_least), ("<=", &d.at_most), ("<", &d.below), (">", &d.above)] {
            if let Some(v) = v {
                sql += &format!(" AND t.due_sort {op} {}", binds.push(Bind::Text(v.clone())));
            }
        }
    }
    if !plan.words.is_empty() {
        if pg {
            let q: Vec<String> = plan.words.iter().map(|w| format!("{w}:*")).collect();
            sql += &format!(" AND t.search @@ to_tsquery('simple', {})", binds.push(Bind::Text(q.join(" & "))));
        } else {
            let m = fts_match(&plan.user_id, &plan.words, " AND ");
            sql += &format!(
                " AND t.pk IN (SELECT -rowid FROM task_fts WHERE task_fts MATCH {})",
                binds.push(Bind::Text(m))
            );
        }
    }
    sql
}

/// An FTS5 query for one person's rows whose text has every (or any) of `words` as a prefix. Words are plain
/// letters and digits ([`super::model::search_words`]); quotes are doubled all the same.
fn fts_match(user_id: &str, words: &[String], join: &str) -> String {
    let terms: Vec<String> = words.iter().map(|w| format!("{}*", fts_quote(w))).collect();
    format!("user_id : {} AND ({})", fts_quote(user_id), terms.join(join))
}

/// A string as one FTS5 phrase.
fn fts_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The ORDER BY and the keyset condition after the cursor, for a sort.
fn order_and_after(plan: &ListPlan, binds: &mut Binds) -> (String, Option<String>) {
    let number = if plan.label_key.is_some() && matches!(plan.sort, Sort::Number | Sort::Created) {
        "l.number"
    } else {
        "t.number"
    };
    let order = match plan.sort {
        Sort::Number => number.to_string(),
        Sort::Created => format!("{number} DESC"),
        Sort::Due => "t.due_sort, t.number".into(),
        Sort::Priority => "t.priority_order, t.due_sort, t.number".into(),
        Sort::Updated => "t.updated_at DESC, t.number DESC".into(),
    };
    let after = plan.after.as_ref().map(|key| match key {
        CursorKey::Number(n) => {
            let op = if plan.sort == Sort::Created { "<" } else { ">" };
            format!("{number} {op} {}", binds.push(Bind::Int(*n)))
        }
        CursorKey::Due(d, n) => {
            format!("(t.due_sort, t.number) > ({}, {})", binds.push(Bind::Text(d.clone())), binds.push(Bind::Int(*n)))
        }
        CursorKey::Priority(p, d, n) => format!(
            "(t.priority_order, t.due_sort, t.number) > ({}, {}, {})",
            binds.push(Bind::Small(*p)),
            binds.push(Bind::Text(d.clone())),
            binds.push(Bind::Int(*n))
        ),
        CursorKey::Updated(u, n) => {
            format!("(t.updated_at, t.number) < ({}, {})", binds.push(Bind::Time(*u)), binds.push(Bind::Int(*n)))
        }
    });
    (order, after)
}

fn list_sql(pg: bool, plan: &ListPlan) -> (String, Vec<Bind>) {
    let mut binds = Binds::default();
    let mut sql = format!("SELECT {} {}", columns!(), list_where(pg, plan, &mut binds));
    let (order, after) = order_and_after(plan, &mut binds);
    if let Some(after) = after {
        sql += &format!(" AND {after}");
    }
    let limit = binds.push(Bind::Int(i64::try_from(plan.limit).unwrap_or(i64::MAX)));
    sql += &format!(" ORDER BY {order} LIMIT {limit}");
    (sql, binds.0)
}

/// One page of a list (at most `plan.limit` tasks).
pub async fn list(db: &Db, plan: &ListPlan) -> sqlx::Result<Vec<Task>> {
    let (sql, binds) = list_sql(matches!(db, Db::Postgres(_)), plan);
    if let (Db::Postgres(pool), false) = (db, plan.words.is_empty()) {
        return by_text_index(pool, &sql, binds).await.map(tasks);
    }
    with_db!(db, |pool| {
        bind_all!(sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(sql.clone())), binds.clone())
            .fetch_all(pool)
            .await
            .map(tasks)
    })
}

/// How many tasks a list holds, counting no further than `cap` (so the cost is bounded by the cap).
pub async fn count_capped(db: &Db, plan: &ListPlan, cap: usize) -> sqlx::Result<usize> {
    let mut binds = Binds::default();
    let inner = list_where(matches!(db, Db::Postgres(_)), plan, &mut binds);
    let limit = binds.push(Bind::Int(i64::try_from(cap).unwrap_or(i64::MAX)));
    let sql = format!("SELECT COUNT(*) FROM (SELECT 1 {inner} LIMIT {limit}) AS capped");
    if let (Db::Postgres(pool), false) = (db, plan.words.is_empty()) {
        let mut tx = pool.begin().await?;
        text_index_only(&mut tx).await?;
        let n: i64 = bind_all!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone())), binds.0)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(usize::try_from(n).unwrap_or(0));
    }
    let n: i64 = with_db!(db, |pool| {
        bind_all!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone())), binds.0.clone()).fetch_one(pool).await
    })?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Candidates for a reference in words: for each word, the newest `limit` of the person's tasks with it or one
/// of its forms ([`word_forms`]), together ranked by how many of the words each task has, newest first. Each
/// lookup stops at `limit`, so a word shared by 50,000 tasks ("call") costs what a rare one costs, while the
/// rare word ("dabababa") still brings its task: no ranking over everything that matched.
/// `prefixes` are looked up as the starts of words, each by the index's own prefix entries (SQLite's `prefix =
/// '2 3'`), so a prefix of two or three letters costs what a word costs.
pub async fn search_any(
    db: &Db,
    user_id: &str,
    words: &[String],
    prefixes: &[String],
    limit: usize,
) -> sqlx::Result<Vec<Task>> {
    if (words.is_empty() && prefixes.is_empty()) || limit == 0 {
        return Ok(vec![]);
    }
    let (sql, binds) = search_any_sql(matches!(db, Db::Postgres(_)), user_id, words, prefixes, limit);
    let rows: Vec<TaskRow> = match db {
        Db::Postgres(pool) => {
            // A plan for these words, not a generic one cached for any words (which could only guess).
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)").execute(&mut *tx).await?;
            let rows = bind_all!(sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(sql.clone())), binds)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            rows
        }
        Db::Sqlite(pools) => {
            bind_all!(sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(sql.clone())), binds)
                .fetch_all(&pools.read)
                .await?
        }
    };
    let ranked: Vec<String> = words.iter().chain(prefixes).cloned().collect();
    Ok(rank_by_words(tasks(rows), &ranked, limit))
}

/// PostgreSQL guesses that a prefix search (`milk:*`) matches a fixed share of the rows whatever it really
/// matches, and so walks the person's whole (user_id, number) index testing each row: 20 ms at 50,000 tasks
/// for a word that matches nothing. In this transaction only bitmap scans may be planned, so a search is served
/// by the full-text index and costs what it matches.
async fn text_index_only(tx: &mut sqlx::PgTransaction<'_>) -> sqlx::Result<()> {
    sqlx::query("SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true)")
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

async fn by_text_index(pool: &sqlx::PgPool, sql: &str, binds: Vec<Bind>) -> sqlx::Result<Vec<TaskRow>> {
    let mut tx = pool.begin().await?;
    text_index_only(&mut tx).await?;
    let rows = bind_all!(sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(sql.to_string())), binds)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// The forms of a search word looked up as whole words: the word, its plural or singular, and the word
/// without an "-ed" or "-ing" ending ("called" finds "call", "reports" finds "report"). Whole words, not
/// prefixes: on both engines a lookup of a whole word is read newest first and stops at the limit, where a
/// prefix is gathered in full first (SQLite: every posting of every word starting so, 2 ms for a word in
/// 50,000 titles; PostgreSQL: a guess that can read all the rows).
fn word_forms(w: &str) -> Vec<String> {
    let n = w.chars().count();
    let alpha = w.chars().all(char::is_alphabetic);
    let mut out = vec![w.to_string()];
    let mut push = |f: String| {
        if !f.is_empty() && !out.contains(&f) {
            out.push(f);
        }
    };
    let inflected = alpha && n >= 5 && (w.ends_with("ed") || w.ends_with("ing"));
    match w.strip_suffix('s') {
        Some(stem) if n >= 4 => push(stem.to_string()),
        _ if n >= 3 && alpha && !inflected => push(format!("{w}s")),
        _ => {}
    }
    if inflected {
        for end in ["ed", "ing"] {
            if let Some(stem) = w.strip_suffix(end)
                && stem.chars().count() >= 3
            {
                push(stem.to_string());
            }
        }
    }
    out
}

/// The union of bounded, newest-first lookups: on SQLite one per word (its forms OR'd, which FTS5 merges in
/// rowid order and so still stops at the limit) or prefix, on PostgreSQL one per form.
fn search_any_sql(pg: bool, user_id: &str, words: &[String], prefixes: &[String], limit: usize) -> (String, Vec<Bind>) {
    let mut binds = Binds::default();
    let limit = binds.push(Bind::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    // Each form as the query language spells it: a whole word, or (from `prefixes`) the start of one. Search
    // words are letters and digits only (search_words), so nothing in them is an operator of either language.
    let mut seen: Vec<String> = Vec::new();
    let mut groups: Vec<Vec<String>> = Vec::new();
    let whole = words.iter().map(|w| word_forms(w).into_iter().map(|f| if pg { f } else { fts_quote(&f) }).collect());
    let starts = prefixes
        .iter()
        .filter(|p| !p.is_empty() && p.chars().all(char::is_alphanumeric))
        .map(|p| vec![if pg { format!("{p}:*") } else { format!("{}*", fts_quote(p)) }]);
    for group in whole.chain(starts) {
        let group: Vec<String> = group.into_iter().filter(|f: &String| !seen.contains(f)).collect();
        seen.extend(group.iter().cloned());
        if !group.is_empty() {
            groups.push(group);
        }
    }
    let per_form: Vec<String> = if pg {
        let user = binds.push(Bind::Text(user_id.to_string()));
        // One lexeme per lookup: PostgreSQL's statistics then tell a word in every title (walk the person's
        // newest tasks and stop at `limit`) from a rare one (the full-text index). An OR would be guessed at
        // instead, and a wrong guess reads all 50,000 rows.
        groups
            .iter()
            .flatten()
            .map(|l| {
                let q = binds.push(Bind::Text(l.clone()));
                format!(
                    "(SELECT id FROM task WHERE user_id = {user} AND search @@ to_tsquery('simple', {q}) \
                     ORDER BY number DESC LIMIT {limit})"
                )
            })
            .collect()
    } else {
        groups
            .iter()
            .map(|forms| {
                let q = binds.push(Bind::Text(format!("user_id : {} AND ({})", fts_quote(user_id), forms.join(" OR "))));
                // The index's rowid is the pk negated (migration 0013): ascending is newest first.
                format!(
                    "SELECT -rowid FROM (SELECT rowid FROM task_fts WHERE task_fts MATCH {q} ORDER BY rowid LIMIT {limit})"
                )
            })
            .collect()
    };
    let key = if pg { "t.id" } else { "t.pk" };
    let sql = format!(concat!("SELECT ", columns!(), " FROM task t WHERE {} IN ({})"), key, per_form.join(" UNION "));
    (sql, binds.0)
}

/// Best first: the most words of the search that start a word of the task (or are one in another form), then
/// the newest.
fn rank_by_words(mut found: Vec<Task>, words: &[String], limit: usize) -> Vec<Task> {
    let forms: Vec<(&String, Vec<String>)> = words.iter().map(|w| (w, word_forms(w))).collect();
    let score = |t: &Task| {
        let text =
            format!("{} {} {}", t.title, t.description.as_deref().unwrap_or(""), t.labels.join(" ")).to_lowercase();
        let have: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        forms
            .iter()
            .filter(|(w, fs)| have.iter().any(|h| h.starts_with(w.as_str()) || fs.iter().any(|f| f == h)))
            .count()
    };
    let mut scored: Vec<(usize, Task)> = found.drain(..).map(|t| (score(&t), t)).collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.number.cmp(&a.1.number)));
    scored.into_iter().take(limit).map(|(_, t)| t).collect()
}

/// The person's task counts, from the counters the triggers keep.
pub async fn counts(db: &Db, user_id: &str) -> sqlx::Result<TaskCounts> {
    let row: Option<(i64, i64)> = with_db!(db, |pool| {
        sqlx::query_as("SELECT pending, done FROM task_counter WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await
    })?;
    let (pending, completed) = row.unwrap_or_default();
    Ok(TaskCounts { pending, completed })
}

/// The person's labels in name order (case ignored), at most `limit`.
pub async fn labels(db: &Db, user_id: &str, limit: usize) -> sqlx::Result<Vec<LabelCount>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, LabelCount>(
            "SELECT name, tasks, pending FROM label WHERE user_id = $1 AND tasks > 0 ORDER BY key LIMIT $2",
        )
        .bind(user_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
    })
}

#[cfg(test)]
#[path = "store_plans.rs"]
mod plans;
