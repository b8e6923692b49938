//! The plans of every list the store runs: each is read from an index of the person's rows, never a scan of
//! the table. SQLite always; PostgreSQL too when the test command started a cluster (TASKCHAT_TEST_DATABASE_URL),
//! with sequential scans priced out so the plan shows what indexes can serve (a tiny table would otherwise be
//! scanned, which says nothing about 50,000 rows).

use super::*;
use crate::tasks::model::{Priority, Sort};
use crate::with_db_write;

fn plan(sort: Sort) -> ListPlan {
    ListPlan {
        user_id: "u1".into(),
        completed: None,
        priorities: vec![],
        due: None,
        label_key: None,
        words: vec![],
        sort,
        after: None,
        limit: 101,
    }
}

fn cursor(sort: Sort) -> CursorKey {
    match sort {
        Sort::Number | Sort::Created => CursorKey::Number(3),
        Sort::Due => CursorKey::Due("2026-12-04 ~".into(), 3),
        Sort::Priority => CursorKey::Priority(1, "2026-12-04 ~".into(), 3),
        Sort::Updated => CursorKey::Updated(Timestamp::now(), 3),
    }
}

/// Every shape of list a request can ask for.
fn plans() -> Vec<(String, ListPlan)> {
    let sorts = [Sort::Number, Sort::Created, Sort::Due, Sort::Priority, Sort::Updated];
    let mut out = vec![];
    for sort in sorts {
        for completed in [None, Some(false), Some(true)] {
            for after in [false, true] {
                let mut p = plan(sort);
                p.completed = completed;
                p.after = after.then(|| cursor(sort));
                out.push((format!("sort={sort:?} completed={completed:?} cursor={after}"), p.clone()));
                p.label_key = Some("errands".into());
                out.push((format!("label sort={sort:?} completed={completed:?} cursor={after}"), p.clone()));
                p.label_key = None;
                p.words = vec!["milk".into(), "oat".into()];
                out.push((format!("search sort={sort:?} completed={completed:?} cursor={after}"), p));
            }
        }
    }
    let ranges = [
        (
            "today",
            DueRange {
                at_least: Some("2026-12-04 ".into()),
                at_most: Some("2026-12-04 ~".into()),
                ..Default::default()
            },
        ),
        ("overdue", DueRange { below: Some("2026-12-04 10:30".into()), not_done: true, ..Default::default() }),
        ("none", DueRange { at_least: Some("~".into()), ..Default::default() }),
        ("after", DueRange { above: Some("2026-12-04 ~".into()), below: Some("~".into()), ..Default::default() }),
    ];
    for (name, range) in ranges {
        for completed in [None, Some(false)] {
            let mut p = plan(Sort::Due);
            p.due = Some(range.clone());
            p.completed = completed;
            out.push((format!("due={name} completed={completed:?}"), p));
        }
    }
    let mut p = plan(Sort::Priority);
    p.priorities = vec![Priority::High, Priority::Urgent];
    out.push(("priority filter, sort=priority".into(), p));
    out
}

async fn explain(db: &Db, sql: &str, binds: Vec<Bind>) -> Vec<String> {
    match db {
        Db::Sqlite(pools) => {
            let q = bind_all!(
                sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"))),
                binds
            );
            q.fetch_all(&pools.read).await.unwrap().into_iter().map(|r| r.3).collect()
        }
        Db::Postgres(pool) => {
            let mut conn = pool.acquire().await.unwrap();
            sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.unwrap();
            let q = bind_all!(sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}"))), binds);
            let lines = q.fetch_all(&mut *conn).await.unwrap();
            sqlx::query("RESET enable_seqscan").execute(&mut *conn).await.unwrap();
            lines
        }
    }
}

/// A line of a plan that reads a whole table, or a whole index without the person's id as its prefix.
fn full_scan(db: &Db, line: &str) -> bool {
    let l = line.trim();
    match db {
        // "SEARCH t USING INDEX … (user_id=?…)" is a range of one person's rows; FTS5 is a virtual table.
        // A subquery's rows ("SCAN (subquery-1)") are what its own bounded plan produced, not a table.
        Db::Sqlite(_) => l.starts_with("SCAN ") && !l.contains("VIRTUAL TABLE") && !l.starts_with("SCAN (subquery-"),
        Db::Postgres(_) => l.contains("Seq Scan") || (l.contains("Index") && l.contains("Full")),
    }
}

async fn check_all(db: &Db) {
    let pg = matches!(db, Db::Postgres(_));
    // The detector itself: a query by title alone has no index to use and must be reported.
    let control = explain(db, "SELECT id FROM task WHERE title = $1", vec![Bind::Text("x".into())]).await;
    assert!(control.iter().any(|l| full_scan(db, l)), "a scan goes unnoticed: {control:?}");
    let mut failures = vec![];
    let mut sorted_in_memory = vec![];
    for (name, p) in plans() {
        let (sql, binds) = list_sql(pg, &p);
        let lines = explain(db, &sql, binds).await;
        if lines.iter().any(|l| full_scan(db, l)) {
            failures.push(format!("{name}:\n  {}", lines.join("\n  ")));
        }
        // A sort done after reading is bounded only by what matched; lists without words must not need one.
        let sorts = lines.iter().any(|l| l.contains("TEMP B-TREE FOR ORDER BY") || l.trim_start().starts_with("Sort "));
        if sorts && p.words.is_empty() && p.label_key.is_none() && p.priorities.is_empty() {
            sorted_in_memory.push(format!("{name}:\n  {}", lines.join("\n  ")));
        }
    }
    // The one-off lookups a turn makes.
    let mut extra: Vec<(&str, String, Vec<Bind>)> = vec![
        (
            "find_task",
            concat!("SELECT ", columns!(), " FROM task t WHERE t.user_id = $1 AND t.number = $2").into(),
            vec![Bind::Text("u1".into()), Bind::Int(1)],
        ),
        (
            "nearest",
            concat!(
                "SELECT ",
                columns!(),
                " FROM task t WHERE t.user_id = $1 AND t.number < $2 ORDER BY t.number DESC LIMIT $3"
            )
            .into(),
            vec![Bind::Text("u1".into()), Bind::Int(5), Bind::Int(3)],
        ),
        ("counts", "SELECT pending, done FROM task_counter WHERE user_id = $1".into(), vec![Bind::Text("u1".into())]),
        (
            "labels",
            "SELECT name, tasks, pending FROM label WHERE user_id = $1 AND tasks > 0 ORDER BY key LIMIT $2".into(),
            vec![Bind::Text("u1".into()), Bind::Int(1000)],
        ),
    ];
    let (sql, binds) = search_any_sql(pg, "u1", &["milk".to_string(), "call".to_string()], &["den".to_string()], 50);
    extra.push(("search_any", sql, binds));
    for (name, sql, binds) in extra {
        let lines = explain(db, &sql, binds).await;
        if lines.iter().any(|l| full_scan(db, l)) {
            failures.push(format!("{name}:\n  {}", lines.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} plans read more than one person's index range:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(sorted_in_memory.is_empty(), "plans sort after reading:\n{}", sorted_in_memory.join("\n"));
}

async fn seed(db: &Db) {
    // The user rows the tasks belong to (as Better Auth writes them; dates are text on SQLite).
    let now = Timestamp::now();
    for u in ["u1", "u2"] {
        let email = format!("{u}@x.test");
        with_db_write!(db, move |pool| {
            sqlx::query(
                r#"INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
                   VALUES ($1, $1, $2, FALSE, $3, $3)"#,
            )
            .bind(u)
            .bind(email)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .unwrap();
    }
    for (user, n) in [("u1", 30), ("u2", 30)] {
        for i in 0..n {
            let new = StoreNew {
                id: format!("{user}-{i}"),
                title: format!("task {i} milk"),
                description: None,
                due: None,
                priority: Priority::ALL[i % 5],
                labels: vec![],
            };
            change(db, user, Log { door: "rest", batch: None }, Plan::Ops(vec![Op::Insert(new)])).await.unwrap();
        }
    }
}

#[tokio::test]
async fn sqlite_lists_read_one_persons_index_range() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(None, dir.path()).await.unwrap();
    db.migrate_up().await.unwrap();
    seed(&db).await;
    check_all(&db).await;
}

#[tokio::test]
async fn postgres_lists_read_one_persons_index_range() {
    let Ok(admin) = std::env::var("TASKCHAT_TEST_DATABASE_URL") else {
        assert!(std::env::var("CI").is_err(), "TASKCHAT_TEST_DATABASE_URL is not set under CI");
        return;
    };
    let name = format!("plans_{}", uuid::Uuid::now_v7().simple());
    let admin_db = Db::connect(Some(&admin), std::path::Path::new(".")).await.unwrap();
    let Db::Postgres(admin_pool) = &admin_db else { unreachable!() };
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(admin_pool).await.unwrap();
    let url = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => unreachable!(),
    };
    let db = Db::connect(Some(&url), std::path::Path::new(".")).await.unwrap();
    db.migrate_up().await.unwrap();
    seed(&db).await;
    check_all(&db).await;
    db.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}"))).execute(admin_pool).await.unwrap();
}

#[test]
fn search_words_are_looked_up_with_their_plain_forms() {
    let forms = |w: &str| word_forms(w);
    assert_eq!(forms("reports"), ["reports", "report"]);
    assert_eq!(forms("milk"), ["milk", "milks"]);
    assert_eq!(forms("called"), ["called", "call"]);
    assert_eq!(forms("paying"), ["paying", "pay"]);
    assert_eq!(forms("finished"), ["finished", "finish"]);
    assert_eq!(forms("77"), ["77"]);
    assert_eq!(forms("red"), ["red", "reds"], "too short to lose an ending");
}
