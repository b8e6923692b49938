//! A database written by a real Better Auth 1.7.25 server (tests/fixtures/better-auth/fixtures-auth.sqlite) is
//! migrated by the real binary and then served: its people sign in with their old passwords, its JWT key keeps
//! signing, its session cookie keeps working, and nothing it held is changed.

use std::path::PathBuf;
use std::process::Command;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sqlx::{Column, Row, SqlitePool};
use taskchat::db::{Db, Timestamp};

use crate::common::{Backend, Client, PASSWORD, TestApp};

const FIXTURE_SECRET: &str = "research-secret-0123456789abcdef0123456789abcdef";
const FIXTURE_KID: &str = "8aCYjlwJP1fPPYVTWeYTmkmFNJBYmQGj";
const FIXTURE_X: &str = "ncevnnNnBSSoC4U8or2frOoRERUnbZAv-9LUqLKpql8";
const ALICE_ID: &str = "QzPtKsxeKuZTJfsyYPmh3qY1tnJuVKvr";
const FIXTURE_COOKIE: &str = "UqCNeS8uaaPqfMM3KgFgtXAJBOXyhUzJ.sY2OqHa9drU9PUakZpkmbKmAN9z0nDSYZMASe8L5FHk%3D";
const FIXTURE_COOKIE_TOKEN: &str = "UqCNeS8uaaPqfMM3KgFgtXAJBOXyhUzJ";
const BETTER_AUTH_TABLES: [&str; 5] = ["user", "session", "account", "verification", "jwks"];

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/better-auth")
}

/// Runs the real binary with only the given arguments: no TASKCHAT_* settings, no database URL, no secret.
fn taskchat(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taskchat"));
    for (name, _) in std::env::vars() {
        if name.starts_with("TASKCHAT_") {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("DATABASE_URL").env_remove("BETTER_AUTH_SECRET").current_dir(cwd).args(args);
    cmd.output().expect("the taskchat binary runs")
}

/// Every row of the Better Auth tables, as text, in a stable order.
async fn dump<'a, E>(pool: E) -> Vec<(String, Vec<Vec<String>>)>
where
    E: sqlx::Executor<'a, Database = sqlx::Sqlite> + Copy,
{
    let mut out = vec![];
    for table in BETTER_AUTH_TABLES {
        let sql = format!(r#"SELECT * FROM "{table}" ORDER BY "id""#);
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await.expect("read table");
        let rows = rows
            .iter()
            .map(|row| {
                (0..row.columns().len())
                    .map(|i| {
                        let name = row.column(i).name().to_string();
                        let value = row
                            .try_get::<Option<String>, _>(i)
                            .or_else(|_| row.try_get::<Option<i64>, _>(i).map(|v| v.map(|n| n.to_string())))
                            .expect("text or integer column");
                        format!("{name}={}", value.unwrap_or_else(|| "NULL".into()))
                    })
                    .collect()
            })
            .collect();
        out.push((table.to_string(), rows));
    }
    out
}

fn sqlite_pool(app: &TestApp) -> &taskchat::db::Lane {
    match app.db() {
        Db::Sqlite(pools) => &pools.write,
        Db::Postgres(_) => panic!("the fixture is a SQLite database"),
    }
}

/// `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, JavaScript's `toISOString()`.
fn is_iso_millis(s: &str) -> bool {
    const SHAPE: &[u8; 24] = b"dddd-dd-ddTdd:dd:dd.dddZ";
    s.len() == SHAPE.len()
        && s.bytes().zip(SHAPE.iter()).all(|(c, &p)| if p == b'd' { c.is_ascii_digit() } else { c == p })
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> (Client, Value) {
    let c = app.client();
    let res = c.post("/api/auth/sign-in/email", json!({ "email": email, "password": password })).await;
    assert_eq!(res.status, 200, "{email} could not sign in with {password:?}: {}", res.text);
    assert_eq!(res.json["user"]["email"], email);
    (c, res.json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_better_auth_database_is_migrated_and_served_unchanged() {
    let source = fixture_dir().join("fixtures-auth.sqlite");
    assert!(source.is_file(), "fixture missing at {}", source.display());
    let data_dir = tempfile::tempdir().expect("temp dir");
    let db_path = data_dir.path().join("taskchat.db");
    std::fs::copy(&source, &db_path).expect("copy the fixture");

    let before = {
        let pool = SqlitePool::connect(&format!("sqlite://{}", db_path.display())).await.expect("open the copy");
        let users: i64 = sqlx::query_scalar(r#"SELECT COUNT(*) FROM "user""#).fetch_one(&pool).await.unwrap();
        assert_eq!(users, 5, "the fixture holds five people");
        let rows = dump(&pool).await;
        pool.close().await;
        rows
    };

    // The real binary migrates it.
    let dir = data_dir.path().to_str().expect("utf-8 temp path");
    let up = taskchat(&["migrate", "up", "--data-dir", dir], data_dir.path());
    assert!(
        up.status.success(),
        "migrate up failed: {}\n{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    let status = taskchat(&["migrate", "status", "--data-dir", dir], data_dir.path());
    assert!(status.status.success(), "migrate status failed: {}", String::from_utf8_lossy(&status.stderr));
    let listing = String::from_utf8_lossy(&status.stdout).to_string();
    let states: Vec<(i64, String)> = listing
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.parse().ok()?, words.next()?.to_string()))
        })
        .collect();
    assert!(states.len() >= 3, "expected at least migrations 1-3:\n{listing}");
    assert!(states.iter().all(|(_, s)| s == "applied"), "not every migration is applied:\n{listing}");

    // Served in-process with the fixture's secret.
    let app = TestApp::start_on(Backend::Sqlite, data_dir, None, |a| {
        a.secret = Some(FIXTURE_SECRET.into());
    })
    .await;
    let pool = sqlite_pool(&app);

    // Nothing Better Auth wrote was touched by the migration or the start. The columns our migrations add to
    // `user` (Better Auth's admin-plugin `banned`, `banReason`, `banExpires`, and our `timezone` additional
    // field) are new, with their defaults.
    let added = ["banned=0", "banReason=NULL", "banExpires=NULL", "timezone=UTC"];
    let mut after = dump(pool).await;
    for (table, rows) in after.iter_mut().filter(|(t, _)| t == "user") {
        for row in rows.iter_mut() {
            let new: Vec<String> = row.iter().filter(|c| added.contains(&c.as_str())).cloned().collect();
            assert_eq!(new.len(), added.len(), "{table}: the added columns are there with their defaults: {row:?}");
            row.retain(|c| !added.contains(&c.as_str()));
        }
    }
    assert_eq!(after.iter().find(|(t, _)| t == "user").map(|(_, r)| r.len()), Some(5), "user count changed");
    assert_eq!(before, after, "the migration changed Better Auth's rows");

    // The fixture's session cookie is a live session until its row expires.
    let expires: String = sqlx::query_scalar(r#"SELECT "expiresAt" FROM "session" WHERE "token" = $1"#)
        .bind(FIXTURE_COOKIE_TOKEN)
        .fetch_one(pool)
        .await
        .expect("the fixture's session row");
    let expires = Timestamp::parse(&expires).expect("ISO expiry");
    let c = app.client();
    c.cookies.lock().unwrap().insert("better-auth.session_token".into(), FIXTURE_COOKIE.into());
    let session = c.get("/api/auth/get-session").await;
    assert_eq!(session.status, 200);
    if expires > Timestamp::now() {
        assert_eq!(session.json["user"]["id"], ALICE_ID, "{}", session.text);
        assert_eq!(session.json["user"]["email"], "alice@example.com");
        assert_eq!(session.json["session"]["token"], FIXTURE_COOKIE_TOKEN);
    } else {
        assert_eq!(session.text, "null", "an expired fixture session must read as no session");
    }

    // Old passwords, hashed by Better Auth's scrypt, still work; the ligature password in either NFKC spelling.
    let (alice, _) = sign_in(&app, "alice@example.com", "newpassword123").await;
    sign_in(&app, "img@example.com", "password123").await;
    sign_in(&app, "extra@example.com", "password123").await;
    sign_in(&app, "unicode@example.com", "\u{fb01}anc\u{e9}-P\u{e4}ssw\u{f6}rd-\u{2713}").await;
    sign_in(&app, "unicode@example.com", "fianc\u{e9}-P\u{e4}ssw\u{f6}rd-\u{2713}").await;
    for (email, wrong) in [("alice@example.com", "password123"), ("img@example.com", "newpassword123")] {
        let res = app.client().post("/api/auth/sign-in/email", json!({ "email": email, "password": wrong })).await;
        res.assert_json_error(401, "INVALID_EMAIL_OR_PASSWORD");
    }

    // The fixture's JWT key is the one published and the one signing: no new key is made.
    let jwks = app.client().get("/api/auth/jwks").await;
    assert_eq!(jwks.status, 200);
    assert_eq!(
        jwks.json,
        json!({ "keys": [{ "alg": "EdDSA", "crv": "Ed25519", "x": FIXTURE_X, "kty": "OKP", "kid": FIXTURE_KID }] })
    );
    let token = alice.get("/api/auth/token").await;
    assert_eq!(token.status, 200, "{}", token.text);
    let jwt = token.json["token"].as_str().expect("token");
    let header = jsonwebtoken::decode_header(jwt).expect("JWT header");
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(FIXTURE_KID));
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[&app.url]);
    validation.set_audience(&[&app.url]);
    let key = DecodingKey::from_ed_components(FIXTURE_X).expect("fixture x");
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation).expect("verifies with the fixture's public key");
    assert_eq!(claims.claims["sub"], ALICE_ID);
    assert_eq!(claims.claims["email"], "alice@example.com");
    let keys: i64 = sqlx::query_scalar(r#"SELECT COUNT(*) FROM "jwks""#).fetch_one(pool).await.unwrap();
    assert_eq!(keys, 1, "a new JWT key was created instead of using the fixture's");

    // Rows we write now use the fixture's date text, so string comparisons across old and new rows hold.
    let fixture_created: String = sqlx::query_scalar(r#"SELECT "createdAt" FROM "user" WHERE "id" = $1"#)
        .bind(ALICE_ID)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(is_iso_millis(&fixture_created), "fixture date {fixture_created:?}");
    let newcomer = app.client();
    let res = newcomer
        .post("/api/auth/sign-up/email", json!({ "name": "New", "email": "new@example.com", "password": PASSWORD }))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let new_id = res.json["user"]["id"].as_str().expect("id").to_string();
    let dates: Vec<(String, String)> = sqlx::query_as(
        r#"SELECT "createdAt", "updatedAt" FROM "user" WHERE "id" = $1
           UNION ALL SELECT "createdAt", "expiresAt" FROM "session" WHERE "userId" = $1
           UNION ALL SELECT "createdAt", "updatedAt" FROM "account" WHERE "userId" = $1"#,
    )
    .bind(&new_id)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(dates.len(), 3, "expected the user, session and account rows");
    for (a, b) in &dates {
        assert!(is_iso_millis(a) && is_iso_millis(b), "new row dates {a:?} / {b:?} differ from the fixture's format");
    }
    let users: i64 = sqlx::query_scalar(r#"SELECT COUNT(*) FROM "user""#).fetch_one(pool).await.unwrap();
    assert_eq!(users, 6);

    app.stop().await;
}
