//! Rich tasks over REST: due dates in the person's time zone, priorities, labels, search, filters and paging.
//! Each field is set, changed, cleared and filtered by; bad values are refused with nothing written; another
//! person's tasks never appear in any filter or search.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Backend, Client, TestApp};
use crate::on_both_databases;

fn numbers(list: &Value) -> Vec<i64> {
    list["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("no tasks: {list}"))
        .iter()
        .map(|t| t["number"].as_i64().unwrap())
        .collect()
}

/// Today in `zone`, as the server reckons it for a person living there.
fn today_in(zone: &str) -> Date {
    jiff::Timestamp::now().to_zoned_datetime(TimeZone::get(zone).unwrap()).date()
}

fn days(d: Date, n: i64) -> String {
    d.checked_add(jiff::Span::new().days(n)).unwrap().to_string()
}

async fn set_zone(c: &Client, zone: &str) {
    let r = c.post("/api/auth/update-user", json!({"timezone": zone})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(c.get("/api/auth/get-session").await.json["user"]["timezone"], zone);
}

on_both_databases!(each_field_is_set_changed_and_cleared, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, _) = app.signed_up("Rich").await;
    set_zone(&c, "America/New_York").await;

    let t = c
        .post(
            "/api/tasks",
            json!({"title": "file taxes", "due": "2026-04-15 17:00", "priority": "high", "labels": [" Money ", "admin"]}),
        )
        .await;
    assert_eq!(t.status, 201, "{}", t.text);
    let j = &t.json;
    assert_eq!(j["priority"], "high");
    assert_eq!(j["labels"], json!(["Money", "admin"]));
    assert_eq!(j["due"]["date"], "2026-04-15");
    assert_eq!(j["due"]["time"], "17:00");
    assert_eq!(j["due"]["timezone"], "America/New_York");
    assert_eq!(j["due"]["string"], "2026-04-15 17:00");
    // 17:00 in New York in April (EDT, UTC-4) is 21:00 UTC.
    assert_eq!(j["due"]["at"], "2026-04-15T21:00:00.000Z");
    assert!(j["updated_at"].is_string() && j["completed_at"].is_null());

    // A task without any of them has the defaults.
    let plain = c.post("/api/tasks", json!({"title": "plain"})).await.json;
    assert_eq!(
        (plain["due"].clone(), plain["priority"].clone(), plain["labels"].clone()),
        (Value::Null, json!("none"), json!([]))
    );

    // Change each: a date without a time is due all that day and has no instant.
    let p = c.patch("/api/tasks/1", json!({"due": {"date": "2026-05-01", "time": null}, "priority": "urgent", "labels": ["admin", "ADMIN", "home"]})).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.json["due"]["date"], "2026-05-01");
    assert_eq!(p.json["due"]["time"], Value::Null);
    assert_eq!(p.json["due"]["at"], Value::Null);
    assert_eq!(p.json["priority"], "urgent");
    assert_eq!(p.json["labels"], json!(["admin", "home"]), "unique ignoring case, as first written");
    // Absent fields stay; `{date, time}` with a time has an instant.
    let p = c.patch("/api/tasks/1", json!({"due": {"date": "2026-12-24", "time": "09:30"}})).await.json;
    assert_eq!(p["due"]["at"], "2026-12-24T14:30:00.000Z", "EST is UTC-5");
    assert_eq!((p["priority"].clone(), p["labels"].clone()), (json!("urgent"), json!(["admin", "home"])));

    // Clear each.
    let cleared = c.patch("/api/tasks/1", json!({"due": null, "priority": "none", "labels": []})).await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(cleared.json["due"], Value::Null);
    assert_eq!(cleared.json["priority"], "none");
    assert_eq!(cleared.json["labels"], json!([]));
    assert_eq!(c.get("/api/tasks/1").await.json, cleared.json);
    assert_eq!(c.get("/api/labels").await.json["labels"], json!([]), "labels without tasks are not listed");

    // Completion sets completed_at and moves updated_at.
    let done = c.post("/api/tasks/2/complete", json!({})).await.json;
    assert!(done["completed_at"].is_string());
    assert!(done["updated_at"].as_str() >= plain["updated_at"].as_str());
    app.stop().await;
});

on_both_databases!(due_instants_follow_the_persons_zone_across_dst, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, _) = app.signed_up("Zones").await;
    let cases = [
        // New York springs forward at 02:00 on 8 March 2026: 02:30 does not exist and is read as 03:30 EDT.
        ("America/New_York", "2026-03-08 01:30", "2026-03-08T06:30:00.000Z"),
        ("America/New_York", "2026-03-08 02:30", "2026-03-08T07:30:00.000Z"),
        ("America/New_York", "2026-03-08 03:30", "2026-03-08T07:30:00.000Z"),
        // It falls back on 1 November: 01:30 happens twice; the earlier (EDT) is taken.
        ("America/New_York", "2026-11-01 01:30", "2026-11-01T05:30:00.000Z"),
        ("America/New_York", "2026-11-01 02:30", "2026-11-01T07:30:00.000Z"),
        // Auckland: NZDT (UTC+13) until 5 April 2026, NZST (UTC+12) after; back to NZDT on 27 September.
        ("Pacific/Auckland", "2026-04-04 09:00", "2026-04-03T20:00:00.000Z"),
        ("Pacific/Auckland", "2026-04-06 09:00", "2026-04-05T21:00:00.000Z"),
        ("Pacific/Auckland", "2026-09-27 02:30", "2026-09-26T14:30:00.000Z"),
        ("UTC", "2026-03-08 02:30", "2026-03-08T02:30:00.000Z"),
    ];
    for (zone, due, at) in cases {
        set_zone(&c, zone).await;
        let t = c.post("/api/tasks", json!({"title": format!("{zone} {due}"), "due": due})).await;
        assert_eq!(t.status, 201, "{}", t.text);
        assert_eq!(t.json["due"]["at"], at, "{zone} {due}");
        assert_eq!(t.json["due"]["timezone"], zone);
    }
    // A task keeps the zone it was set in after the person moves; a new one takes the new zone.
    assert_eq!(c.get("/api/tasks/1").await.json["due"]["timezone"], "America/New_York");
    // Aliases are stored as the zone database spells them; unknown zones are a 400 naming them.
    let r = c.post("/api/auth/update-user", json!({"timezone": "Mars/Olympus"})).await;
    r.assert_json_error(400, "VALIDATION_ERROR");
    assert!(r.text.contains("Mars/Olympus"), "{}", r.text);
    assert_eq!(c.get("/api/auth/get-session").await.json["user"]["timezone"], "UTC");
    app.stop().await;
});

on_both_databases!(due_filters_use_the_persons_today, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, _) = app.signed_up("Kiwi").await;
    // Auckland is 12–13 hours ahead of UTC: its "today" is often a different date from the server's.
    set_zone(&c, "Pacific/Auckland").await;
    let today = today_in("Pacific/Auckland");
    for (title, due) in [
        ("yesterday", json!(days(today, -1))),                             // 1: overdue
        ("today", json!(days(today, 0))),                                  // 2: today, all day: not overdue
        ("today early", json!({"date": days(today, 0), "time": "00:00"})), // 3: overdue unless it is 00:00 now
        ("in 3 days", json!(days(today, 3))),                              // 4: week
        ("in 10 days", json!(days(today, 10))),                            // 5: upcoming
        ("none", Value::Null),                                             // 6
    ] {
        let r = c.post("/api/tasks", json!({"title": title, "due": due})).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let q = |f: &str| {
        let c = &c;
        let f = f.to_string();
        async move { numbers(&c.get(&format!("/api/tasks?{f}")).await.json) }
    };
    // A due filter sorts by due unless told otherwise: a day's times before its all-day tasks.
    assert_eq!(q("due=today").await, vec![3, 2]);
    assert_eq!(q("due=today&sort=number").await, vec![2, 3]);
    let overdue = q("due=overdue").await;
    assert!(overdue == vec![1, 3] || overdue == vec![1], "{overdue:?}");
    assert_eq!(q("due=week").await, vec![3, 2, 4]);
    assert_eq!(q("due=upcoming").await, vec![3, 2, 4, 5]);
    assert_eq!(q("due=none").await, vec![6]);
    assert_eq!(q(&format!("due=before:{}", days(today, 0))).await, vec![1]);
    assert_eq!(q(&format!("due=after:{}", days(today, 3))).await, vec![5]);
    assert_eq!(q(&format!("due=on:{}", days(today, 3))).await, vec![4]);
    assert_eq!(q(&format!("due=on:{}", days(today, 0))).await, vec![3, 2]);
    assert!(q(&format!("due=on:{}", days(today, 1))).await.is_empty());
    // Sorted by due: soonest first, all-day after that day's times, no due last.
    assert_eq!(q("sort=due").await, vec![1, 3, 2, 4, 5, 6]);
    // A done task is not overdue.
    c.post("/api/tasks/1/complete", json!({})).await;
    assert!(!q("due=overdue").await.contains(&1));
    for bad in
        ["due=someday", "due=before:2026-02-30", "due=after:tomorrow", "due=on:", "sort=alphabet", "status=maybe"]
    {
        let r = c.get(&format!("/api/tasks?{bad}")).await;
        r.assert_json_error(400, "VALIDATION_ERROR");
    }
    app.stop().await;
});

on_both_databases!(priority_label_and_search_filters, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, _) = app.signed_up("Finder").await;
    for (title, description, priority, labels) in [
        ("buy milk", "from the corner shop", "high", json!(["errands"])),
        ("call the bank", "about the mortgage", "urgent", json!(["money", "Phone"])),
        ("water plants", "", "low", json!([])),
        ("buy stamps", "for the Christmas cards", "none", json!(["errands", "xmas"])),
    ] {
        let mut body = json!({"title": title, "priority": priority, "labels": labels});
        if !description.is_empty() {
            body["description"] = json!(description);
        }
        assert_eq!(c.post("/api/tasks", body).await.status, 201);
    }
    let q = |f: &str| {
        let c = &c;
        let f = f.to_string();
        async move {
            let r = c.get(&format!("/api/tasks?{f}")).await;
            assert_eq!(r.status, 200, "{f}: {}", r.text);
            numbers(&r.json)
        }
    };
    assert_eq!(q("priority=urgent").await, vec![2]);
    assert_eq!(q("priority=high,urgent").await, vec![1, 2]);
    assert_eq!(q("sort=priority").await, vec![2, 1, 3, 4]);
    assert_eq!(q("label=errands").await, vec![1, 4]);
    assert_eq!(q("label=ERRANDS").await, vec![1, 4], "labels match ignoring case");
    assert_eq!(q("label=phone").await, vec![2]);
    assert_eq!(q("label=nothing").await, Vec::<i64>::new());
    assert_eq!(q("q=buy").await, vec![1, 4]);
    assert_eq!(q("q=mort").await, vec![2], "words match as prefixes, in the description too");
    assert_eq!(q("q=CHRISTMAS%20cards").await, vec![4]);
    assert_eq!(q("q=buy%20milk").await, vec![1], "every word must match");
    assert_eq!(q("q=buy&label=xmas").await, vec![4]);
    assert_eq!(q("q=buy&priority=high").await, vec![1]);
    // Search syntax in the words is text, not an operator (no 500, no injection).
    for hostile in ["%22", "buy%22%20OR%20%22", "*", "NOT%20buy", "milk)%20OR%20(1", "a%3A*%20%7C%20b", "%27%3B%20DROP"]
    {
        let r = c.get(&format!("/api/tasks?q={hostile}")).await;
        assert!(r.status == 200 || r.status == 400, "q={hostile}: {} {}", r.status, r.text);
    }
    c.post("/api/tasks/1/complete", json!({})).await;
    assert_eq!(q("q=buy&status=pending").await, vec![4]);
    assert_eq!(q("q=buy&status=completed").await, vec![1]);
    assert_eq!(q("label=errands&status=pending").await, vec![4]);
    // Search follows edits.
    c.patch("/api/tasks/3", json!({"title": "water the ferns"})).await;
    assert_eq!(q("q=ferns").await, vec![3]);
    assert_eq!(q("q=plants").await, Vec::<i64>::new());

    let labels = c.get("/api/labels").await;
    assert_eq!(labels.status, 200, "{}", labels.text);
    assert_eq!(
        labels.json["labels"],
        json!([
            {"name": "errands", "tasks": 2, "pending": 1},
            {"name": "money", "tasks": 1, "pending": 1},
            {"name": "Phone", "tasks": 1, "pending": 1},
            {"name": "xmas", "tasks": 1, "pending": 1},
        ])
    );
    c.delete("/api/tasks/4").await;
    let labels = c.get("/api/labels").await.json;
    assert_eq!(labels["labels"][0], json!({"name": "errands", "tasks": 1, "pending": 0}));
    assert!(labels["labels"].as_array().unwrap().iter().all(|l| l["name"] != "xmas"));
    app.stop().await;
});

on_both_databases!(pages_follow_the_cursor_and_the_link_header, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, _) = app.signed_up("Pager").await;
    for i in 1..=7 {
        let priority = ["none", "low", "high"][i % 3];
        let body = json!({"title": format!("task {i}"), "priority": priority, "due": format!("2026-12-{:02}", 10 - i)});
        assert_eq!(c.post("/api/tasks", body).await.status, 201);
    }
    for (sort, expected) in [
        ("number", vec![1, 2, 3, 4, 5, 6, 7]),
        ("created", vec![7, 6, 5, 4, 3, 2, 1]),
        ("due", vec![7, 6, 5, 4, 3, 2, 1]),
        ("priority", vec![5, 2, 7, 4, 1, 6, 3]),
    ] {
        let mut seen = vec![];
        let mut path = format!("/api/tasks?sort={sort}&limit=3");
        let mut pages = 0;
        loop {
            let r = c.get(&path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text);
            let page = numbers(&r.json);
            assert_eq!(r.json["count"], page.len());
            seen.extend(page);
            pages += 1;
            match r.json["next_cursor"].as_str() {
                Some(cursor) => {
                    let link = r.header("link").unwrap_or_else(|| panic!("no Link header: {:?}", r.headers));
                    assert!(link.ends_with("rel=\"next\"") && link.contains("cursor="), "{link}");
                    path = format!("/api/tasks?sort={sort}&limit=3&cursor={cursor}");
                }
                None => {
                    assert!(r.header("link").is_none());
                    break;
                }
            }
        }
        assert_eq!(seen, expected, "sort={sort}");
        assert_eq!(pages, 3, "sort={sort}");
    }
    // The Link header works as written (relative to the server).
    let first = c.get("/api/tasks?limit=2&status=pending").await;
    let link = first.header("link").unwrap().to_string();
    let target = link.trim_start_matches('<').split('>').next().unwrap();
    let target = target.strip_prefix(&app.url).unwrap_or(target);
    assert_eq!(numbers(&c.get(target).await.json), vec![3, 4]);
    // Default page is 100; bounds and bad cursors are 400s.
    assert_eq!(c.get("/api/tasks").await.json["next_cursor"], Value::Null);
    for bad in ["limit=0", "limit=1001", "limit=-1", "limit=x", "cursor=garbage", "cursor=%5B%22due%22%5D", "nope=1"] {
        c.get(&format!("/api/tasks?{bad}")).await.assert_json_error(400, "VALIDATION_ERROR");
    }
    // A cursor from one sort is refused by another.
    let cursor = c.get("/api/tasks?sort=due&limit=2").await.json["next_cursor"].as_str().unwrap().to_string();
    c.get(&format!("/api/tasks?sort=number&cursor={cursor}")).await.assert_json_error(400, "VALIDATION_ERROR");
    assert_eq!(c.get("/api/tasks?limit=1000").await.json["count"], 7);
    app.stop().await;
});

on_both_databases!(bad_rich_values_are_refused_and_nothing_is_written, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, user) = app.signed_up("Strict").await;
    let original = c
        .post("/api/tasks", json!({"title": "keep me", "due": "2026-12-24", "priority": "low", "labels": ["a"]}))
        .await
        .json;
    let too_many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
    let bad_values = [
        (json!({"due": "someday maybe"}), "someday maybe"),
        (json!({"due": "2026-02-30"}), ""),
        (json!({"due": {"date": "2026-02-30"}}), "2026-02-30"),
        (json!({"due": {"date": "24/12/2026"}}), "24/12/2026"),
        (json!({"due": {"date": "2026-12-24", "time": "25:00"}}), "25:00"),
        (json!({"due": {"date": "2026-12-24", "zone": "UTC"}}), ""),
        (json!({"due": 20261224}), ""),
        (json!({"due": ""}), ""),
        (json!({"due": "x".repeat(101)}), ""),
        (json!({"priority": "huge"}), "huge"),
        (json!({"priority": 3}), ""),
        (json!({"labels": [""]}), ""),
        (json!({"labels": ["   "]}), ""),
        (json!({"labels": ["x".repeat(41)]}), ""),
        (json!({"labels": too_many}), ""),
        (json!({"labels": "errands"}), ""),
        (json!({"labels": [5]}), ""),
        (json!({"labels": ["nul\u{0}"]}), ""),
    ];
    for (fields, quoted) in &bad_values {
        let mut create = fields.clone();
        create["title"] = json!("must not exist");
        let r = c.post("/api/tasks", create.clone()).await;
        r.assert_json_error(400, "VALIDATION_ERROR");
        assert!(r.text.contains(quoted), "{create}: the error quotes {quoted:?}: {}", r.text);
        let r = c.patch("/api/tasks/1", fields.clone()).await;
        r.assert_json_error(400, "VALIDATION_ERROR");
        // A bad field spoils the whole patch: the good field next to it is not written either.
        let mut mixed = fields.clone();
        mixed["title"] = json!("renamed");
        c.patch("/api/tasks/1", mixed).await.assert_json_error(400, "VALIDATION_ERROR");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM task WHERE user_id = $1", user["id"].as_str().unwrap()).await, 1);
    assert_eq!(c.get("/api/tasks/1").await.json, original, "nothing changed");
    // 20 labels of 40 characters are fine.
    let most: Vec<String> = (0..20).map(|i| format!("{i:0>40}")).collect();
    assert_eq!(c.patch("/api/tasks/1", json!({"labels": most})).await.json["labels"].as_array().unwrap().len(), 20);
    let r = c.raw(Method::GET, "/api/tasks?priority=high,bogus", None, &[]).await;
    r.assert_json_error(400, "VALIDATION_ERROR");
    app.stop().await;
});

on_both_databases!(no_filter_or_search_shows_another_persons_tasks, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (ada, _) = app.signed_up("Ada").await;
    let (bob, _) = app.signed_up("Bob").await;
    let today = today_in("UTC");
    for i in 0..3 {
        let body = json!({"title": format!("secret plan {i}"), "description": "classified", "priority": "urgent",
                          "labels": ["shared-name"], "due": days(today, i - 1)});
        assert_eq!(ada.post("/api/tasks", body).await.status, 201);
    }
    bob.post("/api/tasks", json!({"title": "bob's own", "labels": ["shared-name"], "priority": "low"})).await;
    for filter in [
        "",
        "status=pending",
        "q=secret",
        "q=classified",
        "q=plan",
        "label=shared-name",
        "priority=urgent",
        "due=today",
        "due=overdue",
        "due=week",
        "due=upcoming",
        "sort=due",
        "sort=priority",
        "sort=updated",
        "sort=created",
        "limit=1000",
    ] {
        let r = bob.get(&format!("/api/tasks?{filter}")).await;
        assert_eq!(r.status, 200, "{filter}: {}", r.text);
        assert!(!r.text.contains("secret") && !r.text.contains("classified"), "{filter} leaks: {}", r.text);
    }
    let labels = bob.get("/api/labels").await.json;
    assert_eq!(labels["labels"], json!([{"name": "shared-name", "tasks": 1, "pending": 1}]), "Bob's count only");
    // A cursor made for Ada's list shows Bob nothing of hers.
    let cursor = ada.get("/api/tasks?limit=1").await.json["next_cursor"].as_str().unwrap().to_string();
    let r = bob.get(&format!("/api/tasks?cursor={cursor}")).await;
    assert!(!r.text.contains("secret"), "{}", r.text);
    app.stop().await;
});

on_both_databases!(the_openapi_document_describes_the_rich_task, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, _) = app.signed_up("Doc").await;
    let doc = c.get("/openapi.json").await.json;
    let task = c.post("/api/tasks", json!({"title": "t", "due": "2026-12-24 09:00", "labels": ["x"]})).await.json;
    let schemas = &doc["components"]["schemas"];
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let mut required: Vec<String> =
        schemas["Task"]["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    required.sort();
    assert_eq!(required, keys(&task), "Task schema's fields are what the API returns");
    assert_eq!(keys(&schemas["Due"]["properties"]), keys(&task["due"]));
    let list = &doc["paths"]["/api/tasks"]["get"];
    let params: Vec<&str> =
        list["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, ["status", "q", "label", "priority", "due", "sort", "limit", "cursor"]);
    let page = c.get("/api/tasks").await.json;
    let page_schema = &list["responses"]["200"]["content"]["application/json"]["schema"]["properties"];
    assert_eq!(keys(page_schema), keys(&page));
    let session = c.get("/api/auth/get-session").await.json;
    assert!(schemas["User"]["properties"].get("timezone").is_some() && session["user"]["timezone"].is_string());
    app.stop().await;
});
