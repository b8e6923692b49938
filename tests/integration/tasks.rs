//! The task REST API: behaviour, validation, numbering, and isolation between people.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Backend, TestApp};
use crate::on_both_databases;

on_both_databases!(tasks_are_created_listed_changed_and_deleted, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, _) = app.signed_up("Tess").await;
    let created = c.post("/api/tasks", json!({"title": "  buy milk  ", "description": " 2 litres "})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["number"], 1);
    assert_eq!(created.json["title"], "buy milk");
    assert_eq!(created.json["description"], "2 litres");
    assert_eq!(created.json["completed"], false);
    assert_eq!(created.json["completed_at"], Value::Null);
    assert!(created.json["id"].as_str().unwrap().len() >= 32);
    assert_eq!(c.post("/api/tasks", json!({"title": "call mom"})).await.json["number"], 2);
    assert_eq!(c.post("/api/tasks", json!({"title": "write report"})).await.json["number"], 3);

    let done = c.post("/api/tasks/2/complete", json!({})).await;
    assert_eq!(done.json["completed"], true);
    assert!(done.json["completed_at"].is_string());
    let all = c.get("/api/tasks").await;
    assert_eq!(all.json["count"], 3);
    let numbers: Vec<i64> =
        all.json["tasks"].as_array().unwrap().iter().map(|t| t["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, vec![1, 2, 3]);
    let pending = c.get("/api/tasks?status=pending").await;
    assert_eq!(titles(&pending.json), vec!["buy milk", "write report"]);
    let completed = c.get("/api/tasks?status=completed").await;
    assert_eq!(titles(&completed.json), vec!["call mom"]);
    c.get("/api/tasks?status=bogus").await.assert_json_error(400, "VALIDATION_ERROR");

    let reopened = c.post("/api/tasks/2/reopen", json!({})).await;
    assert_eq!(reopened.json["completed"], false);
    assert_eq!(reopened.json["completed_at"], Value::Null);

    let patched = c.patch("/api/tasks/1", json!({"title": "buy oat milk", "description": null})).await;
    assert_eq!(patched.json["title"], "buy oat milk");
    assert_eq!(patched.json["description"], Value::Null);
    let untouched = c.patch("/api/tasks/1", json!({"completed": true})).await;
    assert_eq!(untouched.json["title"], "buy oat milk", "absent fields stay as they are");
    assert_eq!(untouched.json["completed"], true);
    assert_eq!(c.get("/api/tasks/1").await.json, untouched.json);

    let deleted = c.delete("/api/tasks/3").await;
    assert_eq!(deleted.status, 204);
    c.get("/api/tasks/3").await.assert_json_error(404, "TASK_NOT_FOUND");
    c.delete("/api/tasks/3").await.assert_json_error(404, "TASK_NOT_FOUND");
    // Numbers are never reused, even after a delete.
    assert_eq!(c.post("/api/tasks", json!({"title": "next"})).await.json["number"], 4);
    app.stop().await;
});

fn titles(list: &Value) -> Vec<String> {
    list["tasks"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_string()).collect()
}

on_both_databases!(invalid_task_input_is_refused_and_nothing_is_written, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, user) = app.signed_up("Val").await;
    for body in [
        json!({"title": ""}),
        json!({"title": "   "}),
        json!({"title": "x".repeat(201)}),
        json!({"title": "ok", "description": "d".repeat(2001)}),
        json!({"title": 5}),
        json!({"description": "no title"}),
        json!({"title": "ok", "owner": "someone"}),
        json!({"title": "nul \u{0} inside"}),
        json!({"title": "ok", "description": "nul \u{0} inside"}),
        json!(["not", "an", "object"]),
    ] {
        let r = c.post("/api/tasks", body.clone()).await;
        assert_eq!(r.json["code"], "VALIDATION_ERROR", "{body}: {}", r.text);
        r.assert_json_error(400, "VALIDATION_ERROR");
    }
    assert_eq!(c.post("/api/tasks", json!({"title": "x".repeat(200)})).await.status, 201);
    let malformed = c.raw(Method::POST, "/api/tasks", Some(("application/json", "{\"title\":".into())), &[]).await;
    malformed.assert_json_error(400, "BAD_REQUEST");
    let plain = c.raw(Method::POST, "/api/tasks", Some(("text/plain", "buy milk".into())), &[]).await;
    plain.assert_json_error(415, "UNSUPPORTED_MEDIA_TYPE");
    c.patch("/api/tasks/1", json!({"title": ""})).await.assert_json_error(400, "VALIDATION_ERROR");
    c.patch("/api/tasks/1", json!({"completed": "yes"})).await.assert_json_error(400, "VALIDATION_ERROR");
    // Oversized bodies: hostile.rs sends them to every door over a raw socket, reading the 413 while still
    // sending. A client that writes a whole 2 MB body first races the server's early close (a reset).
    assert_eq!(app.count("SELECT COUNT(*) FROM task WHERE user_id = $1", user["id"].as_str().unwrap()).await, 1);
    assert_eq!(c.get("/api/tasks/1").await.json["title"], "x".repeat(200));
    c.request(Method::PUT, "/api/tasks/1", Some(json!({}))).await.assert_json_error(405, "METHOD_NOT_ALLOWED");
    c.get("/api/nothing-here").await.assert_json_error(404, "NOT_FOUND");
    app.stop().await;
});

on_both_databases!(nobody_can_see_or_touch_another_persons_tasks, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (alice, alice_user) = app.signed_up("Alice").await;
    let (bob, _) = app.signed_up("Bob").await;
    let mut ids = vec![];
    for title in ["alice one", "alice two"] {
        ids.push(alice.post("/api/tasks", json!({"title": title})).await.json["id"].as_str().unwrap().to_string());
    }
    assert_eq!(bob.get("/api/tasks").await.json["count"], 0);
    let before = alice.get("/api/tasks").await.json;
    let mut refs: Vec<String> = vec!["1".into(), "2".into(), "3".into()];
    refs.extend(ids.iter().cloned());
    refs.push(alice_user["id"].as_str().unwrap().to_string());
    for r in &refs {
        let expect_404 = |res: crate::common::Reply, what: &str| {
            res.assert_json_error(404, "TASK_NOT_FOUND");
            assert!(!res.text.contains("alice"), "{what} leaks: {}", res.text);
        };
        expect_404(bob.get(&format!("/api/tasks/{r}")).await, "get");
        expect_404(bob.patch(&format!("/api/tasks/{r}"), json!({"title": "pwned"})).await, "patch");
        expect_404(bob.post(&format!("/api/tasks/{r}/complete"), json!({})).await, "complete");
        expect_404(bob.post(&format!("/api/tasks/{r}/reopen"), json!({})).await, "reopen");
        expect_404(bob.delete(&format!("/api/tasks/{r}")).await, "delete");
    }
    // Bob's own numbering starts at 1 and does not collide with Alice's.
    assert_eq!(bob.post("/api/tasks", json!({"title": "bob one"})).await.json["number"], 1);
    assert_eq!(alice.get("/api/tasks").await.json, before, "Alice's tasks are unchanged");
    // The answer for someone else's task is the same as for a task that does not exist.
    let foreign = bob.get("/api/tasks/2").await;
    let missing = bob.get("/api/tasks/2").await;
    assert_eq!(foreign.text, missing.text);
    app.stop().await;
});

on_both_databases!(concurrent_creates_get_distinct_numbers, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, _) = app.signed_up("Fast").await;
    let c = std::sync::Arc::new(c);
    let mut handles = vec![];
    for i in 0..20 {
        let c = c.clone();
        handles.push(tokio::spawn(async move { c.post("/api/tasks", json!({"title": format!("t{i}")})).await }));
    }
    let mut numbers = vec![];
    for h in handles {
        let r = h.await.unwrap();
        assert_eq!(r.status, 201, "{}", r.text);
        numbers.push(r.json["number"].as_i64().unwrap());
    }
    numbers.sort();
    assert_eq!(numbers, (1..=20).collect::<Vec<_>>());
    app.stop().await;
});

on_both_databases!(health_readiness_and_openapi, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let c = app.client();
    assert_eq!(c.get("/healthz").await.json["status"], "ok");
    let ready = c.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json["database"], if backend == Backend::Sqlite { "sqlite" } else { "postgres" });
    assert!(ready.header("x-request-id").is_some_and(|id| !id.is_empty()));
    let doc = c.get("/openapi.json").await.json;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/tasks/bulk", "post"),
        ("/api/activity", "get"),
        ("/api/activity/undo", "post"),
        ("/api/activity/{id}/undo", "post"),
        ("/api/auth/sign-up/email", "post"),
        ("/api/auth/sign-in/email", "post"),
        ("/api/auth/sign-out", "post"),
        ("/api/auth/get-session", "get"),
        ("/api/auth/token", "get"),
        ("/api/auth/jwks", "get"),
        ("/api/auth/list-sessions", "get"),
        ("/api/auth/revoke-session", "post"),
        ("/api/auth/revoke-sessions", "post"),
        ("/api/auth/revoke-other-sessions", "post"),
        ("/api/auth/update-user", "post"),
        ("/api/auth/change-password", "post"),
        ("/api/auth/delete-user", "post"),
        ("/api/auth/ok", "get"),
        ("/api/tasks", "get"),
        ("/api/tasks", "post"),
        ("/api/tasks/{number}", "get"),
        ("/api/tasks/{number}", "patch"),
        ("/api/tasks/{number}", "delete"),
        ("/api/tasks/{number}/complete", "post"),
        ("/api/tasks/{number}/reopen", "post"),
        ("/api/labels", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/openapi.json", "get"),
        ("/api/{user_id}/chat", "post"),
        ("/api/conversations", "get"),
        ("/api/conversations/{id}", "get"),
        ("/api/conversations/{id}", "delete"),
        ("/api/conversations/{id}/messages", "get"),
        ("/chatkit", "post"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing from OpenAPI");
        // And the route really exists: it does not answer with the router's own 404/405.
        let concrete = path.replace("{number}", "1").replace("{user_id}", "someone").replace("{id}", "x");
        let probe = c.request(method.to_uppercase().parse().unwrap(), &concrete, None).await;
        assert_ne!(probe.status, 405, "{method} {path}");
        assert!(probe.status != 404 || !probe.text.contains("No such route"), "{method} {path}");
    }
    app.stop().await;
});
