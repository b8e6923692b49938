//! Accounts and sessions through `/api/auth`, as the Better Auth contract describes them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Backend, Client, LIMIT_WINDOW, PASSWORD, TestApp, limit_to_three};
use crate::on_both_databases;

fn unique_email(prefix: &str) -> String {
    format!("{prefix}-{}@Example.COM", taskchat::auth::crypto::generate_id())
}

on_both_databases!(sign_up_lowercases_email_and_starts_a_session, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let c = app.client();
    let email = unique_email("Mixed");
    let res = c.post("/api/auth/sign-up/email", json!({"name": "Mia", "email": email, "password": PASSWORD})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.json["user"]["email"], email.to_lowercase());
    assert_eq!(res.json["user"]["emailVerified"], false);
    assert_eq!(res.json["user"]["image"], Value::Null);
    let token = res.json["token"].as_str().unwrap();
    assert_eq!(token.len(), 32);
    let cookie = res.set_cookies().into_iter().find(|c| c.starts_with("better-auth.session_token=")).unwrap();
    assert!(cookie.contains(&format!("={token}.")), "cookie carries the token: {cookie}");
    assert!(cookie.ends_with("; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"), "{cookie}");
    // The stored hash is argon2id and the credential account is Better Auth's shape.
    let user_id = res.json["user"]["id"].as_str().unwrap();
    let n = app
        .count(
            r#"SELECT COUNT(*) FROM "account" WHERE "userId" = $1 AND "accountId" = "userId"
               AND "providerId" = 'credential' AND "password" LIKE '$argon2id$%'"#,
            user_id,
        )
        .await;
    assert_eq!(n, 1);
    let session = c.get("/api/auth/get-session").await;
    assert_eq!(session.json["user"]["id"], user_id);
    assert_eq!(session.json["session"]["token"], token);
    app.stop().await;
});

on_both_databases!(sign_ups_racing_for_one_email_make_one_account, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let email = unique_email("race").to_lowercase();
    // All of them find the email free, then hash their passwords; the database's unique index decides.
    let attempts = (0..4).map(|i| {
        let c = Client::new(&app.url);
        let body = json!({"name": format!("Racer {i}"), "email": email, "password": PASSWORD});
        async move { c.post("/api/auth/sign-up/email", body).await }
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(created, 1, "{:?}", results.iter().map(|r| (r.status, &r.text)).collect::<Vec<_>>());
    for r in results.iter().filter(|r| r.status != 200) {
        r.assert_json_error(422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
    }
    assert_eq!(app.count(r#"SELECT COUNT(*) FROM "user" WHERE "email" = $1"#, &email).await, 1);
    assert_eq!(
        app.count(
            r#"SELECT COUNT(*) FROM "account" a JOIN "user" u ON u."id" = a."userId" WHERE u."email" = $1"#,
            &email
        )
        .await,
        1
    );
    app.stop().await;
});

on_both_databases!(duplicate_and_invalid_sign_ups_are_refused_kindly, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let c = app.client();
    let email = unique_email("dup");
    let ok = c.post("/api/auth/sign-up/email", json!({"name": "A", "email": email, "password": PASSWORD})).await;
    assert_eq!(ok.status, 200);
    let again = Client::new(&app.url);
    let dup = again
        .post("/api/auth/sign-up/email", json!({"name": "B", "email": email.to_uppercase(), "password": PASSWORD}))
        .await;
    dup.assert_json_error(422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
    assert_eq!(dup.json["message"], "User already exists. Use another email.");
    let short = again
        .post("/api/auth/sign-up/email", json!({"name": "B", "email": unique_email("s"), "password": "1234567"}))
        .await;
    short.assert_json_error(400, "PASSWORD_TOO_SHORT");
    let long = again
        .post("/api/auth/sign-up/email", json!({"name": "B", "email": unique_email("l"), "password": "x".repeat(129)}))
        .await;
    long.assert_json_error(400, "PASSWORD_TOO_LONG");
    let bad_email = again
        .post("/api/auth/sign-up/email", json!({"name": "B", "email": "not-an-email", "password": PASSWORD}))
        .await;
    bad_email.assert_json_error(400, "INVALID_EMAIL");
    let missing =
        again.post("/api/auth/sign-up/email", json!({"email": unique_email("m"), "password": PASSWORD})).await;
    missing.assert_json_error(400, "VALIDATION_ERROR");
    assert_eq!(missing.json["message"], "[body.name] Invalid input: expected string, received undefined");
    // Nothing of the refused attempts was written.
    assert_eq!(app.count(r#"SELECT COUNT(*) FROM "user" WHERE "email" <> $1"#, "").await, 1);
    app.stop().await;
});

on_both_databases!(sign_in_answers_alike_for_unknown_email_and_wrong_password, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (_, user) = app.signed_up("Sam").await;
    let email = user["email"].as_str().unwrap();
    let c = app.client();
    let wrong = c.post("/api/auth/sign-in/email", json!({"email": email, "password": "wrong password"})).await;
    let unknown =
        c.post("/api/auth/sign-in/email", json!({"email": "nobody@example.com", "password": "wrong password"})).await;
    wrong.assert_json_error(401, "INVALID_EMAIL_OR_PASSWORD");
    assert_eq!(wrong.text, unknown.text);
    assert_eq!(wrong.status, unknown.status);
    assert!(c.cookie("better-auth.session_token").is_none());
    let ok = c.post("/api/auth/sign-in/email", json!({"email": email.to_uppercase(), "password": PASSWORD})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json["redirect"], false);
    assert_eq!(ok.json["user"]["id"], user["id"]);
    assert_eq!(ok.json["token"].as_str().unwrap().len(), 32);
    let with_callback = app
        .client()
        .post("/api/auth/sign-in/email", json!({"email": email, "password": PASSWORD, "callbackURL": "/chat"}))
        .await;
    assert_eq!(with_callback.json["redirect"], true);
    assert_eq!(with_callback.json["url"], "/chat");
    assert_eq!(with_callback.header("location"), Some("/chat"));
    let open_redirect = app
        .client()
        .post(
            "/api/auth/sign-in/email",
            json!({"email": email, "password": PASSWORD, "callbackURL": "https://evil.example/"}),
        )
        .await;
    open_redirect.assert_json_error(403, "INVALID_CALLBACK_URL");
    app.stop().await;
});

on_both_databases!(get_session_is_null_when_signed_out_and_after_sign_out, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let anon = app.client().get("/api/auth/get-session").await;
    assert_eq!(anon.status, 200);
    assert_eq!(anon.text, "null");
    assert_eq!(anon.header("cache-control"), Some("no-store"));
    let (c, _) = app.signed_up("Out").await;
    let signed_in = c.get("/api/auth/get-session").await;
    let jwt = signed_in.header("set-auth-jwt").expect("set-auth-jwt header");
    assert_eq!(jwt.split('.').count(), 3);
    assert!(signed_in.header("access-control-expose-headers").unwrap().contains("set-auth-jwt"));
    let token = signed_in.json["session"]["token"].as_str().unwrap().to_string();
    let out = c.post("/api/auth/sign-out", json!({})).await;
    assert_eq!(out.status, 200);
    assert_eq!(out.json, json!({"success": true}));
    let cleared = out.set_cookies();
    for name in ["session_token", "session_data", "dont_remember"] {
        assert!(
            cleared.iter().any(|c| c.starts_with(&format!("better-auth.{name}=;")) && c.contains("Max-Age=0")),
            "{name} cleared: {cleared:?}"
        );
    }
    assert_eq!(c.get("/api/auth/get-session").await.text, "null");
    assert_eq!(app.count(r#"SELECT COUNT(*) FROM "session" WHERE "token" = $1"#, &token).await, 0);
    // Signing out without a session still succeeds.
    assert_eq!(app.client().post("/api/auth/sign-out", json!({})).await.json, json!({"success": true}));
    app.stop().await;
});

on_both_databases!(remember_me_false_makes_a_browser_session_cookie, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (_, user) = app.signed_up("Brief").await;
    let c = app.client();
    let res = c
        .post("/api/auth/sign-in/email", json!({"email": user["email"], "password": PASSWORD, "rememberMe": false}))
        .await;
    assert_eq!(res.status, 200);
    let cookies = res.set_cookies();
    let session_cookie = cookies.iter().find(|c| c.starts_with("better-auth.session_token=")).unwrap();
    assert!(!session_cookie.contains("Max-Age"), "{session_cookie}");
    assert!(cookies.iter().any(|c| c.starts_with("better-auth.dont_remember=true.")), "{cookies:?}");
    let s = c.get("/api/auth/get-session").await;
    let expires = taskchat::db::Timestamp::parse(s.json["session"]["expiresAt"].as_str().unwrap()).unwrap();
    let hours = (expires.0 - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((23..=24).contains(&hours), "expires in {hours} h");
    assert!(s.set_cookies().is_empty(), "a not-remembered session is never extended");
    app.stop().await;
});

on_both_databases!(sessions_roll_forward_after_a_day_and_expire_after_a_week, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, _) = app.signed_up("Roll").await;
    let token = c.get("/api/auth/get-session").await.json["session"]["token"].as_str().unwrap().to_string();
    // Two days into the week: the next get-session extends to a full week and re-sends the cookie.
    let in_five_days = taskchat::db::Timestamp::now().plus(time::Duration::days(5)).to_iso();
    set_expiry(&app, &token, &in_five_days).await;
    let refreshed = c.get("/api/auth/get-session").await;
    let expires = taskchat::db::Timestamp::parse(refreshed.json["session"]["expiresAt"].as_str().unwrap()).unwrap();
    assert!((expires.0 - time::OffsetDateTime::now_utc()).whole_days() >= 6);
    assert!(refreshed.set_cookies().iter().any(|c| c.contains("Max-Age=604800")));
    // disableRefresh leaves it alone.
    set_expiry(&app, &token, &in_five_days).await;
    let untouched = c.get("/api/auth/get-session?disableRefresh=true").await;
    assert_eq!(untouched.json["session"]["expiresAt"].as_str().unwrap(), in_five_days);
    // Expired: null, the row is gone, the cookies are cleared.
    let past = taskchat::db::Timestamp::now().minus(time::Duration::minutes(1)).to_iso();
    set_expiry(&app, &token, &past).await;
    let expired = c.get("/api/auth/get-session").await;
    assert_eq!(expired.text, "null");
    assert!(expired.set_cookies().iter().any(|c| c.starts_with("better-auth.session_token=;")));
    assert_eq!(app.count(r#"SELECT COUNT(*) FROM "session" WHERE "token" = $1"#, &token).await, 0);
    app.stop().await;
});

async fn set_expiry(app: &TestApp, token: &str, iso: &str) {
    let at = taskchat::db::Timestamp::parse(iso).unwrap();
    let token = token.to_owned();
    taskchat::with_db_write!(app.db(), move |pool| {
        sqlx::query(r#"UPDATE "session" SET "expiresAt" = $1 WHERE "token" = $2"#)
            .bind(at)
            .bind(token)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
}

on_both_databases!(session_listing_and_revocation, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (first, user) = app.signed_up("Multi").await;
    let second = app.client();
    let third = app.client();
    for c in [&second, &third] {
        let r = c.post("/api/auth/sign-in/email", json!({"email": user["email"], "password": PASSWORD})).await;
        assert_eq!(r.status, 200);
    }
    let (stranger, _) = app.signed_up("Stranger").await;
    let list = first.get("/api/auth/list-sessions").await;
    assert_eq!(list.status, 200);
    let sessions = list.json.as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    assert!(sessions.iter().all(|s| s["userId"] == user["id"]));
    let third_token = third.get("/api/auth/get-session").await.json["session"]["token"].as_str().unwrap().to_string();
    // Someone else's token: 200, but nothing happens.
    let foreign = stranger.post("/api/auth/revoke-session", json!({"token": third_token})).await;
    assert_eq!(foreign.json, json!({"status": true}));
    assert_eq!(third.get("/api/auth/get-session").await.json["user"]["id"], user["id"]);
    let revoked = first.post("/api/auth/revoke-session", json!({"token": third_token})).await;
    assert_eq!(revoked.json, json!({"status": true}));
    assert_eq!(third.get("/api/auth/get-session").await.text, "null");
    let missing = first.post("/api/auth/revoke-session", json!({})).await;
    missing.assert_json_error(400, "VALIDATION_ERROR");
    let others = first.post("/api/auth/revoke-other-sessions", json!({})).await;
    assert_eq!(others.json, json!({"status": true}));
    assert_eq!(second.get("/api/auth/get-session").await.text, "null");
    assert_eq!(first.get("/api/auth/get-session").await.json["user"]["id"], user["id"]);
    let all = first.post("/api/auth/revoke-sessions", json!({})).await;
    assert_eq!(all.json, json!({"status": true}));
    assert_eq!(first.get("/api/auth/get-session").await.text, "null");
    assert_eq!(stranger.get("/api/auth/get-session").await.json["user"]["name"], "Stranger");
    let anon = app.client().get("/api/auth/list-sessions").await;
    anon.assert_json_error(401, "UNAUTHORIZED");
    app.stop().await;
});

on_both_databases!(old_sessions_are_not_fresh_for_sensitive_operations, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, user) = app.signed_up("Stale").await;
    let two_days_ago = taskchat::db::Timestamp::now().minus(time::Duration::days(2));
    let user_id = user["id"].as_str().unwrap().to_owned();
    taskchat::with_db_write!(app.db(), move |pool| {
        sqlx::query(r#"UPDATE "session" SET "createdAt" = $1 WHERE "userId" = $2"#)
            .bind(two_days_ago)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    c.get("/api/auth/list-sessions").await.assert_json_error(403, "SESSION_NOT_FRESH");
    c.post("/api/auth/delete-user", json!({})).await.assert_json_error(400, "SESSION_EXPIRED");
    assert_eq!(app.count(r#"SELECT COUNT(*) FROM "user" WHERE "id" = $1"#, user["id"].as_str().unwrap()).await, 1);
    app.stop().await;
});

on_both_databases!(update_user_and_change_password, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, user) = app.signed_up("Old Name").await;
    c.post("/api/auth/update-user", json!({"email": "new@example.com"}))
        .await
        .assert_json_error(400, "EMAIL_CAN_NOT_BE_UPDATED");
    let nothing = c.post("/api/auth/update-user", json!({})).await;
    assert_eq!(nothing.status, 400);
    assert_eq!(nothing.json, json!({"message": "No fields to update"}));
    let renamed = c.post("/api/auth/update-user", json!({"name": "New Name"})).await;
    assert_eq!(renamed.json, json!({"status": true}));
    assert!(renamed.set_cookies().iter().any(|c| c.starts_with("better-auth.session_token=")));
    assert_eq!(c.get("/api/auth/get-session").await.json["user"]["name"], "New Name");

    c.post(
        "/api/auth/change-password",
        json!({"currentPassword": "not it at all", "newPassword": "brand new password"}),
    )
    .await
    .assert_json_error(400, "INVALID_PASSWORD");
    c.post("/api/auth/change-password", json!({"currentPassword": PASSWORD, "newPassword": "short"}))
        .await
        .assert_json_error(400, "PASSWORD_TOO_SHORT");
    let other_device = app.client();
    other_device.post("/api/auth/sign-in/email", json!({"email": user["email"], "password": PASSWORD})).await;
    let changed = c
        .post(
            "/api/auth/change-password",
            json!({"currentPassword": PASSWORD, "newPassword": "brand new password", "revokeOtherSessions": true}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json["token"].as_str().unwrap().len(), 32);
    assert_eq!(changed.json["user"]["id"], user["id"]);
    assert_eq!(other_device.get("/api/auth/get-session").await.text, "null");
    assert_eq!(c.get("/api/auth/get-session").await.json["user"]["id"], user["id"], "the new cookie works");
    let fresh = app.client();
    let old = fresh.post("/api/auth/sign-in/email", json!({"email": user["email"], "password": PASSWORD})).await;
    old.assert_json_error(401, "INVALID_EMAIL_OR_PASSWORD");
    let new =
        fresh.post("/api/auth/sign-in/email", json!({"email": user["email"], "password": "brand new password"})).await;
    assert_eq!(new.status, 200);
    let keep = fresh
        .post("/api/auth/change-password", json!({"currentPassword": "brand new password", "newPassword": PASSWORD}))
        .await;
    assert_eq!(keep.json["token"], Value::Null);
    app.stop().await;
});

on_both_databases!(deleting_a_user_removes_everything_of_theirs, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, user) = app.signed_up("Leaving").await;
    let (other, other_user) = app.signed_up("Staying").await;
    let id = user["id"].as_str().unwrap();
    for title in ["one", "two"] {
        assert_eq!(c.post("/api/tasks", json!({"title": title})).await.status, 201);
        assert_eq!(other.post("/api/tasks", json!({"title": title})).await.status, 201);
    }
    let now = taskchat::db::Timestamp::now();
    for (conv, owner) in [("conv-leaving", id), ("conv-staying", other_user["id"].as_str().unwrap())] {
        let (conv, owner) = (conv.to_owned(), owner.to_owned());
        taskchat::with_db_write!(app.db(), move |pool| {
            use taskchat::db::BeginWrite;
            let mut tx = pool.begin_write().await?;
            sqlx::query("INSERT INTO conversation (id, user_id, title, last_seq, created_at, updated_at) VALUES ($1, $2, 'hi', 1, $3, $3)")
                .bind(&conv).bind(&owner).bind(now).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO message (id, conversation_id, user_id, seq, role, content, created_at) VALUES ($1, $2, $3, 1, 'user', 'hello', $4)")
                .bind(format!("m-{conv}")).bind(&conv).bind(&owner).bind(now).execute(&mut *tx).await?;
            tx.commit().await
        })
        .unwrap();
    }
    c.post("/api/auth/delete-user", json!({"password": "wrong password!"}))
        .await
        .assert_json_error(400, "INVALID_PASSWORD");
    let deleted = c.post("/api/auth/delete-user", json!({"password": PASSWORD})).await;
    assert_eq!(deleted.json, json!({"success": true, "message": "User deleted"}));
    for (table, column) in [
        (r#"SELECT COUNT(*) FROM "user" WHERE "id" = $1"#, "user"),
        (r#"SELECT COUNT(*) FROM "session" WHERE "userId" = $1"#, "session"),
        (r#"SELECT COUNT(*) FROM "account" WHERE "userId" = $1"#, "account"),
        ("SELECT COUNT(*) FROM task WHERE user_id = $1", "task"),
        ("SELECT COUNT(*) FROM task_counter WHERE user_id = $1", "task_counter"),
        ("SELECT COUNT(*) FROM conversation WHERE user_id = $1", "conversation"),
        ("SELECT COUNT(*) FROM message WHERE user_id = $1", "message"),
    ] {
        assert_eq!(app.count(table, id).await, 0, "{column} rows left behind");
    }
    let other_id = other_user["id"].as_str().unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM task WHERE user_id = $1", other_id).await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM message WHERE user_id = $1", other_id).await, 1);
    assert_eq!(c.get("/api/auth/get-session").await.text, "null");
    // Deleting with a fresh session and no password works too.
    let (fresh, fresh_user) = app.signed_up("Fresh").await;
    assert_eq!(fresh.post("/api/auth/delete-user", json!({})).await.status, 200);
    assert_eq!(
        app.count(r#"SELECT COUNT(*) FROM "user" WHERE "id" = $1"#, fresh_user["id"].as_str().unwrap()).await,
        0
    );
    app.stop().await;
});

on_both_databases!(cookie_bearing_posts_need_a_trusted_origin, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (mut c, _) = app.signed_up("Csrf").await;
    c.origin = None;
    c.post("/api/auth/sign-out", json!({})).await.assert_json_error(403, "MISSING_OR_NULL_ORIGIN");
    c.post("/api/auth/update-user", json!({"name": "x"})).await.assert_json_error(403, "MISSING_OR_NULL_ORIGIN");
    c.post("/api/tasks", json!({"title": "forged"})).await.assert_json_error(403, "MISSING_OR_NULL_ORIGIN");
    c.origin = Some("http://evil.example".into());
    c.post("/api/auth/sign-out", json!({})).await.assert_json_error(403, "INVALID_ORIGIN");
    c.request(Method::DELETE, "/api/tasks/1", None).await.assert_json_error(403, "INVALID_ORIGIN");
    // A Referer from the trusted page is accepted in place of Origin.
    c.origin = None;
    let via_referer = c
        .raw(
            Method::POST,
            "/api/tasks",
            Some(("application/json", r#"{"title":"ok"}"#.into())),
            &[("referer", "http://localhost:3000/chat")],
        )
        .await;
    assert_eq!(via_referer.status, 201, "{}", via_referer.text);
    c.origin = Some(crate::common::TRUSTED.into());
    assert_eq!(
        c.get("/api/tasks").await.json["count"],
        1,
        "GETs are never origin-checked and the forged posts wrote nothing"
    );
    // Login CSRF: an untrusted page cannot sign someone in; a cross-site navigation is refused.
    let mut anon = app.client();
    anon.origin = Some("http://evil.example".into());
    anon.post("/api/auth/sign-in/email", json!({"email": "a@b.co", "password": PASSWORD}))
        .await
        .assert_json_error(403, "INVALID_ORIGIN");
    anon.origin = None;
    let nav = anon
        .raw(
            Method::POST,
            "/api/auth/sign-in/email",
            Some(("application/x-www-form-urlencoded", "email=a%40b.co&password=whatever1".into())),
            &[("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "navigate")],
        )
        .await;
    nav.assert_json_error(403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED");
    app.stop().await;
});

on_both_databases!(cors_allows_trusted_origins_with_credentials_only, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let c = app.client();
    let pre = c
        .raw(
            Method::OPTIONS,
            "/api/tasks",
            None,
            &[
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "authorization,content-type"),
            ],
        )
        .await;
    assert!(pre.status.is_success(), "{}", pre.status);
    assert_eq!(pre.header("access-control-allow-origin"), Some(crate::common::TRUSTED));
    assert_eq!(pre.header("access-control-allow-credentials"), Some("true"));
    let allowed = pre.header("access-control-allow-headers").unwrap().to_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"), "{allowed}");
    let mut evil = app.client();
    evil.origin = Some("http://evil.example".into());
    let denied = evil.raw(Method::OPTIONS, "/api/tasks", None, &[("access-control-request-method", "POST")]).await;
    assert!(denied.header("access-control-allow-origin").is_none());
    app.stop().await;
});

on_both_databases!(sign_in_is_rate_limited_per_client_and_path, |backend: Backend| async move {
    let app = TestApp::start_with(backend, limit_to_three).await;
    let c = app.client();
    let attempt =
        || c.post("/api/auth/sign-in/email", json!({"email": "who@example.com", "password": "wrong password"}));
    for _ in 0..3 {
        assert_eq!(attempt().await.status, 401);
    }
    let limited = attempt().await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.json,
        json!({"message": "Too many requests. Please try again later.", "code": "TOO_MANY_REQUESTS"})
    );
    let retry: u64 = limited.header("x-retry-after").unwrap().parse().unwrap();
    assert_eq!(limited.header("retry-after"), limited.header("x-retry-after"), "the standard header too");
    assert_eq!(limited.header("cache-control"), Some("no-store"));
    assert_eq!(limited.header("x-content-type-options"), Some("nosniff"));
    assert!((LIMIT_WINDOW - 60..=LIMIT_WINDOW).contains(&retry), "{retry}");
    // X-Forwarded-For is not believed unless the proxy is trusted: a forged header does not reset the count.
    let forged = c
        .raw(
            Method::POST,
            "/api/auth/sign-in/email",
            Some(("application/json", json!({"email": "who@example.com", "password": "x"}).to_string())),
            &[("x-forwarded-for", "203.0.113.9")],
        )
        .await;
    assert_eq!(forged.status, 429);
    // Another path has its own budget.
    let signup = c
        .post("/api/auth/sign-up/email", json!({"name": "R", "email": "rate@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(signup.status, 200);
    app.stop().await;
});

async fn sign_in(c: &Client, email: &str, password: &str) -> crate::common::Reply {
    c.post("/api/auth/sign-in/email", json!({"email": email, "password": password})).await
}

/// Wrong guesses from one address until the account is locked for its longest time (1 s, 2 s, then a 4 s cap),
/// waiting as told in between; returns what each attempt answered.
async fn guess_until_capped(guesser: &Client, email: &str) -> Vec<reqwest::StatusCode> {
    let mut seen = vec![];
    loop {
        let res = sign_in(guesser, email, "wrong password").await;
        seen.push(res.status);
        if res.status == 401 {
            continue;
        }
        assert_eq!(res.status, 429, "{}", res.text);
        assert_eq!(res.json["code"], "TOO_MANY_REQUESTS");
        let retry: u64 = res.header("retry-after").expect("Retry-After").parse().unwrap();
        assert!((1..=4).contains(&retry), "the delay is capped: {retry}");
        if retry >= 3 || seen.len() > 12 {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    }
}

on_both_databases!(an_account_is_locked_across_addresses_for_a_growing_capped_time, |backend: Backend| async move {
    let app = TestApp::start_with(backend, |a| {
        a.lockout_after = 1;
        a.lockout_max_delay = 4;
    })
    .await;
    let (owner, user) = app.signed_up("Locked").await;
    let email = user["email"].as_str().unwrap().to_string();
    let guesser = app.client();
    let other = Client::from_address(&app.url, "127.0.0.2".parse().unwrap());
    let seen = guess_until_capped(&guesser, &email).await;
    assert!(seen.len() <= 12, "the delay grew: {seen:?}");
    // Locked for the account, not the address: the right password from another address is refused too.
    let refused = sign_in(&other, &email, PASSWORD).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=4).contains(&retry), "{retry}");
    assert_eq!(refused.header("x-retry-after"), refused.header("retry-after"));
    // The owner's session is untouched, and another account is not affected.
    assert_eq!(owner.get("/api/tasks").await.status, 200);
    let (_, second) = app.signed_up("Unaffected").await;
    assert_eq!(sign_in(&other, second["email"].as_str().unwrap(), PASSWORD).await.status, 200);
    // After the capped wait the owner gets in, and that clears the count: the next mistake is a plain 401.
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    assert_eq!(sign_in(&other, &email, PASSWORD).await.status, 200);
    assert_eq!(sign_in(&guesser, &email, "wrong again").await.status, 401);
    // An address nobody signed up with meets the same answers, so lockouts tell nothing about who has an account.
    let unknown = guess_until_capped(&guesser, "nobody-here@example.com").await;
    assert_eq!(unknown.first().map(|s| s.as_u16()), Some(401));
    assert_eq!(unknown.last().map(|s| s.as_u16()), Some(429));
    app.stop().await;
});

on_both_databases!(a_trusted_proxy_makes_forwarded_addresses_count, |backend: Backend| async move {
    let app = TestApp::start_with(backend, |a| {
        limit_to_three(a);
        a.trust_proxy = true;
    })
    .await;
    let c = app.client();
    let body = json!({"email": "who@example.com", "password": "wrong password"}).to_string();
    let (c, body) = (&c, &body);
    let from = |ip: &'static str| async move {
        let headers = [("x-forwarded-for", ip)];
        c.raw(Method::POST, "/api/auth/sign-in/email", Some(("application/json", body.clone())), &headers).await
    };
    for _ in 0..3 {
        assert_eq!(from("10.9.8.1, 198.51.100.1").await.status, 401);
    }
    assert_eq!(from("198.51.100.1").await.status, 429, "the last hop is the client address");
    assert_eq!(from("198.51.100.2").await.status, 401, "a different client has its own budget");
    let (c2, _) = app.signed_up("Proxied").await;
    let s = c2.get("/api/auth/get-session").await;
    assert_eq!(s.json["session"]["ipAddress"], "127.0.0.1", "without a forwarded header the peer address is kept");
    app.stop().await;
});

on_both_databases!(malformed_requests_get_json_errors, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let c = app.client();
    let bad_json =
        c.raw(Method::POST, "/api/auth/sign-in/email", Some(("application/json", "{nope".into())), &[]).await;
    bad_json.assert_json_error(400, "BAD_REQUEST");
    assert_eq!(bad_json.json["message"], "Invalid JSON in request body");
    let text = c.raw(Method::POST, "/api/auth/sign-in/email", Some(("text/plain", "hi".into())), &[]).await;
    text.assert_json_error(415, "UNSUPPORTED_MEDIA_TYPE");
    assert_eq!(
        text.json["message"],
        "Content-Type \"text/plain\" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json"
    );
    let array = c.raw(Method::POST, "/api/auth/sign-up/email", Some(("application/json", "[1,2]".into())), &[]).await;
    array.assert_json_error(400, "VALIDATION_ERROR");
    let wrong_type = c.post("/api/auth/sign-in/email", json!({"email": 42, "password": PASSWORD})).await;
    wrong_type.assert_json_error(400, "VALIDATION_ERROR");
    assert_eq!(wrong_type.json["message"], "[body.email] Invalid input: expected string, received number");
    // Unknown auth routes, trailing slashes, wrong methods and HEAD: 404 with an empty body, like Better Auth.
    for (method, path) in [
        (Method::GET, "/api/auth/nope"),
        (Method::GET, "/api/auth/ok/"),
        (Method::POST, "/api/auth/ok"),
        (Method::GET, "/api/auth/sign-in/email"),
        (Method::HEAD, "/api/auth/ok"),
    ] {
        let r = c.request(method.clone(), path, None).await;
        assert_eq!(r.status, 404, "{method} {path}");
        assert!(r.text.is_empty(), "{method} {path}: {}", r.text);
    }
    assert_eq!(c.get("/api/auth/ok").await.json, json!({"ok": true}));
    // Form-encoded sign-up works, as Better Auth allows.
    let form = c
        .raw(
            Method::POST,
            "/api/auth/sign-up/email",
            Some((
                "application/x-www-form-urlencoded",
                "name=Form+User&email=form%40example.com&password=password123".into(),
            )),
            &[],
        )
        .await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert_eq!(form.json["user"]["name"], "Form User");
    app.stop().await;
});

on_both_databases!(better_auth_hash_format_can_be_chosen_for_new_passwords, |backend: Backend| async move {
    let app =
        TestApp::start_with(backend, |a| a.password_hash = taskchat::config::PasswordHashFormat::BetterAuth).await;
    let (_, user) = app.signed_up("Scrypt").await;
    let hash: String = taskchat::with_db!(app.db(), |pool| {
        let (h,): (String,) = sqlx::query_as(r#"SELECT "password" FROM "account" WHERE "userId" = $1"#)
            .bind(user["id"].as_str().unwrap())
            .fetch_one(pool)
            .await
            .unwrap();
        h
    });
    let (salt, key) = hash.split_once(':').unwrap();
    assert_eq!(salt.len(), 32);
    assert_eq!(key.len(), 128);
    assert!(hash.chars().all(|ch| ch == ':' || ch.is_ascii_hexdigit()));
    let c = app.client();
    let ok = c.post("/api/auth/sign-in/email", json!({"email": user["email"], "password": PASSWORD})).await;
    assert_eq!(ok.status, 200);
    app.stop().await;
});

on_both_databases!(jwks_and_token_describe_the_user, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (c, user) = app.signed_up("Jwt").await;
    let token = c.get("/api/auth/token").await.json["token"].as_str().unwrap().to_string();
    let jwks = app.client().get("/api/auth/jwks").await.json;
    let key = &jwks["keys"][0];
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["kty"], "OKP");
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    assert!(header.typ.is_none());
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_issuer(&[&app.url]);
    v.set_audience(&[&app.url]);
    let claims = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap(),
        &v,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["email"], user["email"]);
    assert_eq!(claims["name"], "Jwt");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
    app.client().get("/api/auth/token").await.assert_json_error(401, "UNAUTHORIZED");
    // One key, created once, however many times it is asked for.
    assert_eq!(app.count(r#"SELECT COUNT(*) FROM "jwks" WHERE "id" <> $1"#, "").await, 1);
    app.stop().await;
});

on_both_databases!(profile_fields_are_bounded_and_the_jwt_stays_small, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let huge = format!("https://example.com/{}", "a".repeat(900_000));
    let c = app.client();
    let res = c
        .post(
            "/api/auth/sign-up/email",
            json!({"name": "Pic", "email": "pic@example.com", "password": PASSWORD, "image": huge}),
        )
        .await;
    res.assert_json_error(400, "VALIDATION_ERROR");
    assert!(res.json["message"].as_str().unwrap().contains("image"), "{}", res.text);
    assert!(res.json["message"].as_str().unwrap().contains("2048"), "{}", res.text);
    assert_eq!(app.count(r#"SELECT COUNT(*) FROM "user" WHERE "email" = $1"#, "pic@example.com").await, 0);

    let (c, user) = app.signed_up("Pic").await;
    let id = user["id"].as_str().unwrap().to_string();
    let res = c.post("/api/auth/update-user", json!({"image": huge})).await;
    res.assert_json_error(400, "VALIDATION_ERROR");
    let res = c.post("/api/auth/update-user", json!({"name": "n".repeat(201)})).await;
    res.assert_json_error(400, "VALIDATION_ERROR");
    assert!(res.json["message"].as_str().unwrap().contains("200"), "{}", res.text);
    let longest = format!("https://example.com/{}", "b".repeat(2048 - 20));
    assert_eq!(c.post("/api/auth/update-user", json!({"image": longest})).await.status, 200);
    let token = c.get("/api/auth/token").await.json["token"].as_str().unwrap().to_string();
    assert!(token.len() < 6_000, "a token with the longest image is {} bytes", token.len());

    // A profile written around the limits (an older server, a shared database): the token leaves it out.
    app.exec(r#"UPDATE "user" SET "image" = $1 WHERE "id" = $2"#, &[&huge, &id]).await;
    let res = c.get("/api/auth/token").await;
    assert_eq!(res.status, 200, "{}", res.text);
    let token = res.json["token"].as_str().unwrap();
    assert!(token.len() < 2_000, "the token is {} bytes", token.len());
    let session = c.get("/api/auth/get-session").await;
    assert!(session.header("set-auth-jwt").is_some_and(|t| t.len() < 2_000), "get-session's JWT header is bounded");
    app.stop().await;
});

on_both_databases!(a_short_password_is_refused_with_the_minimum_named, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let res = app
        .client()
        .post("/api/auth/sign-up/email", json!({"name": "S", "email": "short@example.com", "password": "1234567"}))
        .await;
    res.assert_json_error(400, "PASSWORD_TOO_SHORT");
    assert_eq!(res.json["message"], "Password too short: use at least 8 characters");
    app.stop().await;
});
