//! The operator's commands (`taskchat users …`, `taskchat sessions …`) against both databases, and what a
//! disabled person sees.

use serde_json::{Value, json};

use crate::common::{Backend, PASSWORD, TestApp};
use crate::on_both_databases;

/// Runs the real binary against the app's database.
fn taskchat(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_taskchat"));
    cmd.args(args).arg("--data-dir").arg(app.data_dir.path()).env_remove("DATABASE_URL").env("TASKCHAT_LOG", "warn");
    if let Some(url) = &app.database_url {
        cmd.env("DATABASE_URL", url);
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().expect("taskchat runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

on_both_databases!(operators_list_inspect_disable_enable_and_delete_people, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (ada, ada_user) = app.signed_up("Ada").await;
    let (_bob, bob_user) = app.signed_up("Bob").await;
    ada.post("/api/tasks", json!({"title": "one"})).await;
    ada.post("/api/tasks", json!({"title": "two"})).await;
    let ada_email = ada_user["email"].as_str().unwrap();

    let (ok, out, _) = taskchat(&app, &["users", "list", "--json"]);
    assert!(ok);
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list.len(), 2);
    let row = list.iter().find(|u| u["email"] == ada_email).unwrap();
    assert_eq!(row["tasks"], 2);
    assert_eq!(row["sessions"], 1);
    assert_eq!(row["email_verified"], false);
    assert_eq!(row["disabled"], false);
    let (_, table, _) = taskchat(&app, &["users", "list", "--search", "BOB"]);
    assert!(table.contains(bob_user["email"].as_str().unwrap()) && !table.contains(ada_email), "{table}");

    let (ok, out, _) = taskchat(&app, &["users", "show", &ada_email.to_uppercase(), "--json"]);
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["id"], ada_user["id"]);
    let (ok, _, err) = taskchat(&app, &["users", "show", "nobody@example.com"]);
    assert!(!ok && err.contains("no account"), "{err}");

    assert!(taskchat(&app, &["users", "verify", ada_email]).0);
    let (_, out, _) = taskchat(&app, &["users", "show", ada_email, "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["email_verified"], true);

    // Disabled: the session ends at once, sign-in is refused, JWTs stop working.
    let jwt = ada.get("/api/auth/token").await.json["token"].as_str().unwrap().to_string();
    let (ok, out, _) = taskchat(&app, &["users", "disable", ada_email]);
    assert!(ok && out.contains("1 session(s) ended"), "{out}");
    assert_eq!(ada.get("/api/auth/get-session").await.text, "null");
    ada.get("/api/tasks").await.assert_json_error(401, "UNAUTHORIZED");
    crate::common::Client::with_bearer(&app.url, &jwt).get("/api/tasks").await.assert_json_error(401, "UNAUTHORIZED");
    let refused = app.client().post("/api/auth/sign-in/email", json!({"email": ada_email, "password": PASSWORD})).await;
    refused.assert_json_error(403, "BANNED_USER");
    let wrong =
        app.client().post("/api/auth/sign-in/email", json!({"email": ada_email, "password": "wrong password"})).await;
    wrong.assert_json_error(401, "INVALID_EMAIL_OR_PASSWORD");
    let (_, out, _) = taskchat(&app, &["users", "list", "--disabled", "--json"]);
    assert_eq!(serde_json::from_str::<Vec<Value>>(&out).unwrap().len(), 1);

    assert!(taskchat(&app, &["users", "enable", ada_email]).0);
    let back = app.client();
    assert_eq!(
        back.post("/api/auth/sign-in/email", json!({"email": ada_email, "password": PASSWORD})).await.status,
        200
    );
    assert_eq!(back.get("/api/tasks").await.json["count"], 2, "nothing of theirs was lost while disabled");

    // Deleting asks for confirmation; without a terminal and without --yes, nothing happens.
    let (ok, _, err) = taskchat(&app, &["users", "delete", ada_email]);
    assert!(!ok && err.contains("--yes"), "{err}");
    assert_eq!(app.count(r#"SELECT COUNT(*) FROM "user" WHERE "id" = $1"#, ada_user["id"].as_str().unwrap()).await, 1);
    let (ok, _, _) = taskchat(&app, &["users", "delete", ada_email, "--yes"]);
    assert!(ok);
    let id = ada_user["id"].as_str().unwrap();
    assert_eq!(app.count(r#"SELECT COUNT(*) FROM "user" WHERE "id" = $1"#, id).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM task WHERE user_id = $1", id).await, 0);
    assert_eq!(app.count(r#"SELECT COUNT(*) FROM "session" WHERE "userId" = $1"#, id).await, 0);
    app.stop().await;
});

on_both_databases!(operators_list_and_end_sessions, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (first, user) = app.signed_up("Cy").await;
    let second = app.client();
    second.post("/api/auth/sign-in/email", json!({"email": user["email"], "password": PASSWORD})).await;
    let email = user["email"].as_str().unwrap();
    let (ok, out, _) = taskchat(&app, &["sessions", "list", "--user", email, "--json"]);
    assert!(ok);
    let sessions: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(
        !out.contains(&first.get("/api/auth/get-session").await.json["session"]["token"].as_str().unwrap().to_string()),
        "tokens never shown"
    );
    let (_, table, _) = taskchat(&app, &["sessions", "list"]);
    assert!(table.contains("2 session(s)"), "{table}");
    let second_id = second.get("/api/auth/get-session").await.json["session"]["id"].as_str().unwrap().to_string();
    assert!(taskchat(&app, &["sessions", "revoke", &second_id]).0);
    assert_eq!(second.get("/api/auth/get-session").await.text, "null");
    assert_eq!(first.get("/api/auth/get-session").await.json["user"]["id"], user["id"]);
    let (ok, _, err) = taskchat(&app, &["sessions", "revoke", "no-such-session"]);
    assert!(!ok && err.contains("no session"), "{err}");
    let (ok, out, _) = taskchat(&app, &["sessions", "revoke", "--user", email]);
    assert!(ok && out.contains("1 session(s)"), "{out}");
    assert_eq!(first.get("/api/auth/get-session").await.text, "null");
    app.stop().await;
});
