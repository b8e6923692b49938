//! Migrations go up, down and up again on both databases, with data in the tables.

use serde_json::json;

use crate::common::{Backend, TestApp, common_args};
use crate::on_both_databases;

on_both_databases!(migrations_go_up_down_and_up_with_data, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, user) = app.signed_up("Mig").await;
    assert_eq!(c.post("/api/tasks", json!({"title": "survives?"})).await.status, 201);
    let db = app.db().clone();
    let status = db.migration_status().await.unwrap();
    assert!(status.iter().all(|m| m.applied));
    let newest = db.current_version().await.unwrap();
    assert_eq!(newest, status.iter().map(|m| m.version).max().unwrap());

    // Down to the accounts schema: task tables go, accounts stay.
    db.migrate_down(1).await.unwrap();
    assert_eq!(db.current_version().await.unwrap(), 1);
    assert_eq!(app.count(r#"SELECT COUNT(*) FROM "user" WHERE "id" = $1"#, user["id"].as_str().unwrap()).await, 1);
    let task_table =
        taskchat::with_db!(&db, |pool| sqlx::query("SELECT COUNT(*) FROM task").execute(pool).await.map(|_| ()));
    assert!(task_table.is_err(), "the task table is gone after reverting its migration");

    // Up again: the schema is back and usable; the account still signs in.
    db.migrate_up().await.unwrap();
    assert_eq!(db.current_version().await.unwrap(), newest);
    assert_eq!(c.get("/api/tasks").await.json["count"], 0);
    assert_eq!(c.post("/api/tasks", json!({"title": "again"})).await.json["number"], 1);

    // All the way down and up.
    db.migrate_down(0).await.unwrap();
    assert_eq!(db.current_version().await.unwrap(), 0);
    assert!(
        taskchat::with_db!(&db, |pool| sqlx::query(r#"SELECT COUNT(*) FROM "user""#).execute(pool).await.map(|_| ()))
            .is_err()
    );
    db.migrate_up().await.unwrap();
    let (c2, _) = app.signed_up("After").await;
    assert_eq!(c2.post("/api/tasks", json!({"title": "fresh start"})).await.json["number"], 1);
    app.stop().await;
});

on_both_databases!(restarting_on_the_same_database_keeps_everything, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, _) = app.signed_up("Keep").await;
    c.post("/api/tasks", json!({"title": "persisted"})).await;
    let cookie = c.cookie_header().unwrap();
    let TestApp { server, data_dir, database_url, .. } = app;
    server.unwrap().stop().await;
    // A second start migrates nothing and serves the same data with the same session.
    let _ = common_args(&data_dir, database_url.clone());
    let again = TestApp::start_on(backend, data_dir, database_url, |_| {}).await;
    let c2 = again.client();
    let (name, value) = cookie.split_once('=').unwrap();
    c2.cookies.lock().unwrap().insert(name.to_string(), value.to_string());
    assert_eq!(c2.get("/api/tasks").await.json["tasks"][0]["title"], "persisted");
    again.stop().await;
});

on_both_databases!(rich_task_migrations_revert_and_reapply_keeping_the_tasks, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, user) = app.signed_up("Rich").await;
    let user_id = user["id"].as_str().unwrap().to_string();
    assert_eq!(c.post("/api/auth/update-user", json!({"timezone": "Pacific/Auckland"})).await.status, 200);
    for body in [
        json!({"title": "plain"}),
        json!({"title": "rich", "due": "2026-12-24 09:00", "priority": "urgent", "labels": ["home"]}),
    ] {
        assert_eq!(c.post("/api/tasks", body).await.status, 201);
    }
    c.post("/api/tasks/1/complete", json!({})).await;
    let db = app.db().clone();
    let newest = db.current_version().await.unwrap();

    // Down to the schema before rich tasks (9 on SQLite; PostgreSQL has no 9, so 8): the tasks stay.
    db.migrate_down(9).await.unwrap();
    assert!(db.current_version().await.unwrap() <= 9);
    assert_eq!(app.count("SELECT COUNT(*) FROM task WHERE user_id = $1", &user_id).await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM task WHERE user_id = $1 AND completed", &user_id).await, 1);
    let gone = taskchat::with_db!(&db, |pool| sqlx::query("SELECT due_date FROM task").execute(pool).await.map(|_| ()));
    assert!(gone.is_err(), "the rich columns are gone after reverting");

    // Up again: every task is served, with the defaults for what the revert dropped; new writes work.
    db.migrate_up().await.unwrap();
    assert_eq!(db.current_version().await.unwrap(), newest);
    let list = c.get("/api/tasks").await;
    assert_eq!(list.status, 200, "{}", list.text);
    let tasks = list.json["tasks"].as_array().unwrap();
    assert_eq!(tasks.iter().map(|t| t["title"].as_str().unwrap()).collect::<Vec<_>>(), ["plain", "rich"]);
    assert!(tasks.iter().all(|t| t["priority"] == "none" && t["due"].is_null() && t["labels"] == json!([])));
    assert_eq!(c.get("/api/tasks?status=completed").await.json["count"], 1);
    assert_eq!(c.get("/api/tasks?q=rich").await.json["count"], 1, "the search index is rebuilt for old rows");
    let again = c.patch("/api/tasks/2", json!({"priority": "high", "labels": ["home"], "due": "2026-12-25"})).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(c.get("/api/labels").await.json["labels"], json!([{"name": "home", "tasks": 1, "pending": 1}]));
    assert_eq!(c.post("/api/tasks", json!({"title": "third"})).await.json["number"], 3, "numbering continues");
    assert_eq!(c.get("/api/auth/get-session").await.json["user"]["timezone"], "UTC", "the zone column was reverted");
    app.stop().await;
});
