//! The activity log, bulk changes and undo: every change is recorded with the door it came through; a bulk
//! change reports each task's result and is undone as one; undo brings tasks back exactly (number, id,
//! labels, due), refuses when a task changed since, and never reaches another person's tasks.

use serde_json::{Value, json};

use crate::common::{Backend, Client, TestApp};
use crate::on_both_databases;

async fn add(c: &Client, body: Value) -> Value {
    let r = c.post("/api/tasks", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json
}

async fn tasks(c: &Client) -> Vec<Value> {
    let r = c.get("/api/tasks?limit=100").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["tasks"].as_array().unwrap().clone()
}

/// The person's list as (number, title, completed), to compare before and after.
async fn summary(c: &Client) -> Vec<(i64, String, bool)> {
    tasks(c)
        .await
        .iter()
        .map(|t| (t["number"].as_i64().unwrap(), t["title"].as_str().unwrap().to_string(), t["completed"] == true))
        .collect()
}

async fn activity(c: &Client) -> Vec<Value> {
    let r = c.get("/api/activity?limit=100").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["entries"].as_array().unwrap().clone()
}

async fn undo(c: &Client) -> Value {
    let r = c.post("/api/activity/undo", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

on_both_databases!(every_change_is_recorded_and_undone_in_turn, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, _) = app.signed_up("Ada").await;
    let milk =
        add(&c, json!({"title": "buy milk", "due": "2030-01-02 09:30", "priority": "high", "labels": ["Errands"]}))
            .await;
    assert_eq!(c.post("/api/tasks/1/complete", json!({})).await.status, 200);
    assert_eq!(c.patch("/api/tasks/1", json!({"title": "buy oat milk", "labels": ["shop"]})).await.status, 200);
    assert_eq!(c.delete("/api/tasks/1").await.status, 204);
    assert!(tasks(&c).await.is_empty());

    let log = activity(&c).await;
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["deleted", "updated", "completed", "created"], "newest first: {log:?}");
    assert!(log.iter().all(|e| e["door"] == "rest" && e["number"] == 1 && e["undone"] == false));
    assert!(log[3]["before"].is_null() && log[3]["after"]["title"] == "buy milk");
    assert_eq!(log[1]["before"]["title"], "buy milk");
    assert_eq!(log[1]["after"]["title"], "buy oat milk");
    assert!(log[0]["after"].is_null() && log[0]["before"]["title"] == "buy oat milk");
    // Each request is a batch of its own.
    let batches: std::collections::HashSet<&str> = log.iter().map(|e| e["batch"].as_str().unwrap()).collect();
    assert_eq!(batches.len(), 4);

    // Undo the delete: the same task comes back, under its number and id, with its labels and due.
    let u = undo(&c).await;
    assert_eq!(u["changes"][0]["undone"], "restored", "{u}");
    let back = &tasks(&c).await[0];
    assert_eq!(back["number"], 1);
    assert_eq!(back["id"], milk["id"]);
    assert_eq!(back["title"], "buy oat milk");
    assert_eq!(back["labels"], json!(["shop"]));
    assert_eq!(back["due"], milk["due"]);
    assert_eq!(back["created_at"], milk["created_at"]);
    assert_eq!(back["completed"], true);
    // Its labels are counted again, and filter again.
    let labels = c.get("/api/labels").await.json;
    assert_eq!(labels["labels"][0]["name"], "shop", "{labels}");
    assert_eq!(c.get("/api/tasks?label=shop").await.json["count"], 1);
    assert_eq!(c.get("/api/tasks?label=errands").await.json["count"], 0);

    // Undo the rename (labels back too), the completion, then the creation.
    assert_eq!(undo(&c).await["changes"][0]["undone"], "reverted");
    let t = &tasks(&c).await[0];
    assert_eq!((t["title"].as_str(), &t["labels"]), (Some("buy milk"), &json!(["Errands"])));
    assert_eq!(c.get("/api/tasks?label=errands").await.json["count"], 1);
    assert_eq!(c.get("/api/tasks?label=shop").await.json["count"], 0);
    assert_eq!(undo(&c).await["changes"][0]["task"]["completed"], false);
    let counts = c.get("/api/tasks?status=completed").await.json["count"].clone();
    assert_eq!(counts, 0);
    assert_eq!(undo(&c).await["changes"][0]["undone"], "removed");
    assert!(tasks(&c).await.is_empty());
    c.post("/api/activity/undo", json!({})).await.assert_json_error(409, "NOTHING_TO_UNDO");

    // The undos are in the log too, marked as such, and the changes they reversed are marked undone.
    let log = activity(&c).await;
    assert_eq!(log.len(), 8);
    assert!(log[..4].iter().all(|e| e["undo_of"].is_string()), "{log:?}");
    assert!(log[4..].iter().all(|e| e["undone"] == true && e["undo_of"].is_null()), "{log:?}");
    // A new task still gets a new number: numbers are never handed out twice.
    assert_eq!(add(&c, json!({"title": "next"})).await["number"], 2);
    app.stop().await;
});

on_both_databases!(bulk_changes_report_each_task_and_undo_as_one, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, _) = app.signed_up("Bo").await;
    for t in ["one", "two", "three"] {
        add(&c, json!({"title": t, "labels": ["home"]})).await;
    }
    let r = c.post("/api/tasks/bulk", json!({"numbers": [1, 2, 99, 2], "action": "complete"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.json["succeeded"].as_i64(), r.json["failed"].as_i64()), (Some(2), Some(1)), "{}", r.text);
    let results = r.json["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "a repeated number is done once: {results:?}");
    assert_eq!((results[0]["ok"].as_bool(), results[0]["task"]["completed"].as_bool()), (Some(true), Some(true)));
    assert_eq!(results[2]["number"], 99);
    assert_eq!(results[2]["ok"], false);
    assert_eq!(results[2]["error"], "There is no task 99.");
    // One batch: one undo reopens both.
    let u = undo(&c).await;
    assert_eq!(u["count"], 2, "{u}");
    assert_eq!(summary(&c).await.iter().filter(|t| t.2).count(), 0);

    let r = c
        .post(
            "/api/tasks/bulk",
            json!({"numbers": [1, 3], "action": "update", "changes": {"due": "2031-05-01", "priority": "urgent"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["results"].as_array().unwrap().iter().all(|i| i["task"]["priority"] == "urgent"));
    assert_eq!(c.get("/api/tasks?due=on:2031-05-01").await.json["count"], 2);

    let before = summary(&c).await;
    let r = c.post("/api/tasks/bulk", json!({"numbers": [1, 2, 3], "action": "delete"})).await;
    assert_eq!(r.json["succeeded"], 3, "{}", r.text);
    assert_eq!(r.json["results"][1]["task"]["title"], "two", "a deletion answers with the task as it was");
    assert!(tasks(&c).await.is_empty());
    assert_eq!(c.get("/api/labels").await.json["count"], 0);
    assert_eq!(undo(&c).await["count"], 3);
    assert_eq!(summary(&c).await, before);
    assert_eq!(c.get("/api/labels").await.json["labels"][0]["tasks"], 3);
    // And the update before it.
    undo(&c).await;
    assert_eq!(c.get("/api/tasks?due=on:2031-05-01").await.json["count"], 0);
    assert_eq!(c.get("/api/tasks?priority=urgent").await.json["count"], 0);

    // Bad requests are refused whole, with nothing written.
    let entries = activity(&c).await.len();
    let many: Vec<i64> = (1..=101).collect();
    for (body, why) in [
        (json!({"numbers": many, "action": "complete"}), "too many"),
        (json!({"numbers": [], "action": "complete"}), "none"),
        (json!({"numbers": [1], "action": "update"}), "update without changes"),
        (json!({"numbers": [1], "action": "update", "changes": {}}), "empty changes"),
        (json!({"numbers": [1], "action": "complete", "changes": {"title": "x"}}), "changes with complete"),
        (json!({"numbers": [1, 2], "action": "update", "changes": {"due": "someday maybe"}}), "bad due"),
        (json!({"numbers": [1], "action": "explode"}), "unknown action"),
        (json!({"numbers": ["1"], "action": "complete"}), "not numbers"),
    ] {
        let r = c.post("/api/tasks/bulk", body).await;
        assert_eq!(r.status, 400, "{why}: {}", r.text);
    }
    assert_eq!(activity(&c).await.len(), entries);
    assert_eq!(summary(&c).await, before);
    app.stop().await;
});

on_both_databases!(undo_refuses_what_changed_since_and_stays_with_its_owner, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (a, _) = app.signed_up("Ann").await;
    let (b, _) = app.signed_up("Ben").await;
    add(&a, json!({"title": "ann's task"})).await;
    assert_eq!(a.post("/api/tasks/1/complete", json!({})).await.status, 200);
    let completion = activity(&a).await[0]["id"].as_i64().unwrap();
    assert_eq!(a.patch("/api/tasks/1", json!({"title": "renamed"})).await.status, 200);

    // The completion is older than the rename of the same task: undoing it alone would lose the rename.
    let r = a.post(&format!("/api/activity/{completion}/undo"), json!({})).await;
    r.assert_json_error(409, "CHANGED_SINCE");
    assert!(r.json["message"].as_str().unwrap().contains("Task 1"), "{}", r.text);
    assert_eq!(summary(&a).await, [(1, "renamed".to_string(), true)]);

    // Ben sees none of Ann's activity, cannot undo it by id, and his own undo has nothing to reverse.
    assert!(activity(&b).await.is_empty());
    b.post(&format!("/api/activity/{completion}/undo"), json!({})).await.assert_json_error(404, "ACTIVITY_NOT_FOUND");
    b.post("/api/activity/undo", json!({})).await.assert_json_error(409, "NOTHING_TO_UNDO");
    add(&b, json!({"title": "ben's task"})).await;
    undo(&b).await;
    assert_eq!(summary(&a).await, [(1, "renamed".to_string(), true)], "Ben's undo touched only Ben's tasks");
    b.post("/api/activity/not-a-number/undo", json!({})).await.assert_json_error(404, "ACTIVITY_NOT_FOUND");

    // Undo in order works: the rename, then the completion; an entry undone already says so.
    undo(&a).await;
    let r = a.post(&format!("/api/activity/{completion}/undo"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(summary(&a).await, [(1, "ann's task".to_string(), false)]);
    a.post(&format!("/api/activity/{completion}/undo"), json!({})).await.assert_json_error(409, "ALREADY_UNDONE");
    let undo_entry = activity(&a).await[0]["id"].as_i64().unwrap();
    a.post(&format!("/api/activity/{undo_entry}/undo"), json!({})).await.assert_json_error(409, "NOT_UNDOABLE");

    // A change that changes nothing is not recorded (completing a done task twice).
    let n = activity(&a).await.len();
    assert_eq!(a.post("/api/tasks/1/reopen", json!({})).await.status, 200);
    assert_eq!(activity(&a).await.len(), n);

    // Paging: newest first, a cursor to the next page, bad values refused.
    let page = a.get("/api/activity?limit=2").await.json;
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    let next = page["next_cursor"].as_str().unwrap().to_string();
    let rest = a.get(&format!("/api/activity?limit=100&cursor={next}")).await.json;
    assert_eq!(rest["entries"].as_array().unwrap().len(), n - 2);
    assert!(rest["next_cursor"].is_null());
    assert!(rest["entries"][0]["id"].as_i64() < page["entries"][1]["id"].as_i64());
    for bad in ["limit=0", "limit=101", "cursor=abc", "nope=1"] {
        assert_eq!(a.get(&format!("/api/activity?{bad}")).await.status, 400, "{bad}");
    }
    app.stop().await;
});

on_both_databases!(the_assistant_asks_before_deleting_several_and_undoes, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, user) = app.signed_up("Cy").await;
    for t in ["water plants", "pay rent", "call mom", "book dentist"] {
        add(&c, json!({"title": t})).await;
    }
    let path = format!("/api/{}/chat", user["id"].as_str().unwrap());
    let c = &c;
    let say = |conversation: Option<String>, message: &'static str| {
        let mut body = json!({ "message": message });
        if let Some(id) = conversation {
            body["conversation_id"] = json!(id);
        }
        let path = path.clone();
        async move {
            let r = c.post(&path, body).await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.json
        }
    };
    let r = say(None, "delete 1, 2 and 3").await;
    let conversation = r["conversation_id"].as_str().unwrap().to_string();
    let reply = r["response"].as_str().unwrap();
    assert!(reply.starts_with("Delete these 3 tasks?"), "{reply}");
    assert!(reply.contains("water plants") && reply.contains("call mom"), "{reply}");
    assert_eq!(tasks(c).await.len(), 4, "nothing deleted before the yes");

    // "no" keeps them; asking again and saying yes deletes all three at once.
    let r = say(Some(conversation.clone()), "no").await;
    assert!(r["response"].as_str().unwrap().contains("nothing was deleted"), "{r}");
    assert_eq!(tasks(c).await.len(), 4);
    say(Some(conversation.clone()), "delete 1, 2 and 3").await;
    let r = say(Some(conversation.clone()), "yes").await;
    let reply = r["response"].as_str().unwrap();
    assert!(reply.starts_with("Deleted 3 tasks"), "{reply}");
    assert_eq!(summary(c).await, [(4, "book dentist".to_string(), false)]);
    let log = activity(c).await;
    assert!(log.iter().take(3).all(|e| e["door"] == "chat" && e["action"] == "deleted"), "{log:?}");

    // A "yes" with no question pending is not a deletion.
    let r = say(Some(conversation.clone()), "yes").await;
    assert_eq!(tasks(c).await.len(), 1, "{r}");

    // Undo brings the three back, in one go.
    let r = say(Some(conversation.clone()), "undo that").await;
    let reply = r["response"].as_str().unwrap();
    assert!(reply.starts_with("Undone"), "{reply}");
    assert!(reply.contains("brought back") && reply.contains("pay rent"), "{reply}");
    assert_eq!(tasks(c).await.len(), 4);
    // An undo from REST then reverses the next change back: the first tasks' creation.
    let r = say(Some(conversation.clone()), "undo").await;
    assert!(r["response"].as_str().unwrap().contains("removed"), "{r}");
    assert_eq!(tasks(c).await.len(), 3);

    // One turn's changes are one batch: "undo" after "complete 1 and 3" reopens both.
    say(Some(conversation.clone()), "complete 1 and 3").await;
    assert_eq!(summary(c).await.iter().filter(|t| t.2).count(), 2);
    let r = say(Some(conversation.clone()), "undo").await;
    assert_eq!(summary(c).await.iter().filter(|t| t.2).count(), 0, "{r}");
    // A turn that adds a task and labels it: undo sees the label's change first, then the add, and removes it.
    let r = say(Some(conversation.clone()), "add buy stamps and tag it errands").await;
    let added = tasks(c).await;
    let stamps = added.iter().find(|t| t["title"] == "buy stamps").unwrap_or_else(|| panic!("{r}"));
    assert_eq!(stamps["labels"], json!(["errands"]));
    let r = say(Some(conversation), "undo").await;
    assert!(tasks(c).await.iter().all(|t| t["title"] != "buy stamps"), "{r}");
    app.stop().await;
});
