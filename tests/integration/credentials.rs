//! Who may call a protected route (GET /api/tasks): every accepted credential resolves to the right person, and
//! every bad one gets the same 401, byte for byte, so a caller learns nothing about which check failed.
//! `/api/auth/get-session` never answers 401: a bad credential there is the literal `null`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use taskchat::auth::crypto;

use crate::common::{Backend, Client, PASSWORD, Reply, SECRET, TestApp};
use crate::on_both_databases;

const COOKIE: &str = "better-auth.session_token";

/// How a request authenticates.
#[derive(Clone)]
enum Cred {
    None,
    /// The `better-auth.session_token` cookie, with this (still percent-encoded) value.
    Cookie(String),
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Bearer ` followed by raw bytes that need not be ASCII.
    BearerBytes(Vec<u8>),
}

/// Sends one GET with exactly the given credential (no Origin, no other cookie).
async fn get_with(base: &str, path: &str, cred: &Cred) -> Reply {
    let http = reqwest::Client::new();
    let mut req = http.get(format!("{base}{path}"));
    match cred {
        Cred::None => {}
        Cred::Cookie(v) => req = req.header("cookie", format!("{COOKIE}={v}")),
        Cred::Bearer(t) => req = req.header("authorization", format!("Bearer {t}")),
        Cred::BearerBytes(b) => {
            let mut value = b"Bearer ".to_vec();
            value.extend_from_slice(b);
            req =
                req.header("authorization", HeaderValue::from_bytes(&value).expect("obs-text is a valid header value"));
        }
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body read");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, headers, text, json }
}

/// A signed-up person who owns one task, with every form of credential the server hands out.
struct Person {
    client: Client,
    user: Value,
    /// The raw 32-char session token.
    token: String,
    /// The session cookie's value as set (percent-encoded `<token>.<sig>`).
    cookie: String,
    /// A JWT from GET /api/auth/token.
    jwt: String,
    /// The title of the one task this person owns, which proves whose list a request reached.
    task_title: String,
}

impl Person {
    fn id(&self) -> &str {
        self.user["id"].as_str().expect("user id")
    }
}

async fn person(app: &TestApp, name: &str) -> Person {
    let (client, user) = app.signed_up(name).await;
    let cookie = client.cookie(COOKIE).expect("sign-up sets the session cookie");
    let decoded = crypto::decode_uri_component(&cookie).expect("cookie value is percent-encoded");
    let token = decoded.rsplit_once('.').expect("cookie value is <token>.<sig>").0.to_string();
    assert_eq!(token.len(), 32, "session tokens are 32 chars");
    let task_title = format!("{name}'s proof of identity");
    let created = client.post("/api/tasks", json!({ "title": task_title })).await;
    assert_eq!(created.status, 201, "creating the proof task failed: {}", created.text);
    let res = client.get("/api/auth/token").await;
    assert_eq!(res.status, 200, "GET /api/auth/token failed: {}", res.text);
    let jwt = res.json["token"].as_str().expect("token in body").to_string();
    Person { client, user, token, cookie, jwt, task_title }
}

/// Asserts the credential reaches exactly this person's task list (their one task, nobody else's).
async fn assert_accepted(app: &TestApp, cred: &Cred, who: &Person, label: &str) {
    let res = get_with(&app.url, "/api/tasks", cred).await;
    assert_eq!(res.status, 200, "{label} should be accepted; body: {}", res.text);
    assert_eq!(res.json["count"], 1, "{label}: expected exactly the person's own task; body: {}", res.text);
    assert_eq!(res.json["tasks"][0]["title"], who.task_title.as_str(), "{label}: reached the wrong list: {}", res.text);
}

/// Asserts the credential gets the one 401 every failed check gives, and returns that reply.
async fn assert_refused(app: &TestApp, cred: &Cred, label: &str) -> Reply {
    let res = get_with(&app.url, "/api/tasks", cred).await;
    assert_eq!(res.status, 401, "{label} should be refused; body: {}", res.text);
    assert_eq!(res.json, json!({ "message": "Unauthorized", "code": "UNAUTHORIZED" }), "{label}: {}", res.text);
    res
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Claims as the server writes them: sub, iat, exp (offset from now), iss, aud.
fn claims(sub: &str, iss: &str, aud: &str, exp_in_secs: i64) -> Value {
    let iat = now().min(now() + exp_in_secs - 900);
    json!({ "sub": sub, "id": sub, "iat": iat, "exp": now() + exp_in_secs, "iss": iss, "aud": aud })
}

/// An EdDSA JWT signed with the Ed25519 seed `d`, header `{"alg":"EdDSA","kid":kid}` like Better Auth's.
fn sign_eddsa(d: &str, kid: &str, claims: &Value) -> String {
    let der = crypto::ed25519_pkcs8_der_from_d(d).expect("a 32-byte Ed25519 seed");
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = None;
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&der)).expect("EdDSA signing")
}

fn sign_hs256(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes()))
        .expect("HS256 signing")
}

/// The server's own signing key: the newest `jwks` row, decrypted with the server's secret.
async fn server_key(app: &TestApp) -> (String, crypto::Ed25519Jwk) {
    let (kid, private_key): (String, String) = taskchat::with_db!(app.db(), |pool| {
        sqlx::query_as(r#"SELECT "id", "privateKey" FROM "jwks" ORDER BY "createdAt" DESC LIMIT 1"#)
            .fetch_one(pool)
            .await
            .expect("the server has a JWT key (GET /api/auth/token creates one)")
    });
    let jwk = crypto::decrypt_private_jwk(SECRET, &private_key).expect("the key decrypts with the server's secret");
    (kid, jwk)
}

/// Flips one character in the middle of the JWT's signature part.
fn flip_signature_char(jwt: &str) -> String {
    let (signing_input, sig) = jwt.rsplit_once('.').expect("a JWT has a signature part");
    let mut bytes = sig.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    format!("{signing_input}.{}", String::from_utf8(bytes).expect("ascii"))
}

/// Changes the signature of a percent-encoded signed cookie value while keeping its shape (44 chars ending `=`).
fn tamper_cookie_signature(cookie: &str) -> String {
    let decoded = crypto::decode_uri_component(cookie).expect("percent-encoded");
    let (token, sig) = decoded.rsplit_once('.').expect("<token>.<sig>");
    let mut bytes = sig.as_bytes().to_vec();
    bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{token}.{}", String::from_utf8(bytes).expect("ascii"));
    crypto::encode_uri_component(&tampered)
}

/// Every credential that must be refused, labelled. Sets up what some of them need (a revoked session).
async fn bad_credentials(app: &TestApp, alice: &Person) -> Vec<(String, Cred)> {
    let (kid, key) = server_key(app).await;
    let id = alice.id();
    let url = app.url.as_str();

    // A second session of Alice's, signed out: its token and cookie must be dead.
    let other = Client::new(&app.url);
    let email = alice.user["email"].as_str().expect("email");
    let res = other.post("/api/auth/sign-in/email", json!({ "email": email, "password": PASSWORD })).await;
    assert_eq!(res.status, 200, "second sign-in failed: {}", res.text);
    let revoked_token = res.json["token"].as_str().expect("token").to_string();
    let revoked_cookie = other.cookie(COOKIE).expect("sign-in sets the cookie");
    assert_eq!(get_with(url, "/api/tasks", &Cred::Bearer(revoked_token.clone())).await.status, 200);
    let out = other.post("/api/auth/sign-out", json!({})).await;
    assert_eq!(out.status, 200, "sign-out failed: {}", out.text);
    let revoked_signed = crypto::decode_uri_component(&revoked_cookie).expect("percent-encoded");

    let none_header = URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "kid": kid }).to_string());
    let none_payload = URL_SAFE_NO_PAD.encode(claims(id, url, url, 900).to_string());
    let foreign = crypto::generate_ed25519();
    let signed_alice = crypto::decode_uri_component(&alice.cookie).expect("percent-encoded");

    vec![
        (
            "an expired EdDSA JWT signed with the server's key".into(),
            Cred::Bearer(sign_eddsa(&key.d, &kid, &claims(id, url, url, -3600))),
        ),
        ("a JWT with one signature character flipped".into(), Cred::Bearer(flip_signature_char(&alice.jwt))),
        ("an alg:none JWT".into(), Cred::Bearer(format!("{none_header}.{none_payload}."))),
        (
            "a JWT signed by the server's key with the wrong issuer".into(),
            Cred::Bearer(sign_eddsa(&key.d, &kid, &claims(id, "http://evil.example", url, 900))),
        ),
        (
            "a JWT signed by the server's key with the wrong audience".into(),
            Cred::Bearer(sign_eddsa(&key.d, &kid, &claims(id, url, "http://evil.example", 900))),
        ),
        (
            "an HS256 JWT while no HS256 secret is configured".into(),
            Cred::Bearer(sign_hs256(SECRET, &claims(id, url, url, 900))),
        ),
        (
            "a JWT signed by another Ed25519 key claiming the server's kid".into(),
            Cred::Bearer(sign_eddsa(&foreign.d, &kid, &claims(id, url, url, 900))),
        ),
        ("the malformed token a.b.c".into(), Cred::Bearer("a.b.c".into())),
        ("the malformed token ...".into(), Cred::Bearer("...".into())),
        ("the malformed token not-a-token".into(), Cred::Bearer("not-a-token".into())),
        ("a 10 KB bearer string".into(), Cred::Bearer("x".repeat(10 * 1024))),
        (
            "a 10 KB JWT-shaped bearer string".into(),
            Cred::Bearer(format!("{}.{}.{}", "a".repeat(4000), "b".repeat(4000), "c".repeat(2000))),
        ),
        ("a non-ASCII bearer token".into(), Cred::BearerBytes("t\u{f6}ken-\u{2713}-\u{fb01}".as_bytes().to_vec())),
        ("a random 32-char session token".into(), Cred::Bearer(crypto::generate_id())),
        ("the raw token of a signed-out session".into(), Cred::Bearer(revoked_token)),
        ("the signed token of a signed-out session".into(), Cred::Bearer(revoked_signed)),
        ("the cookie of a signed-out session".into(), Cred::Cookie(revoked_cookie)),
        ("a session cookie with a bad signature".into(), Cred::Cookie(tamper_cookie_signature(&alice.cookie))),
        ("an unsigned session cookie (the raw token)".into(), Cred::Cookie(alice.token.clone())),
        (
            "a signed bearer token with a bad signature".into(),
            Cred::Bearer(crypto::decode_uri_component(&tamper_cookie_signature(&alice.cookie)).expect("decodes")),
        ),
        (
            "a session token signed with another secret".into(),
            Cred::Bearer(crypto::sign_cookie_value(&alice.token, "another-secret-0123456789abcdef0123456789")),
        ),
        ("a JWT sent as the session cookie".into(), Cred::Cookie(alice.jwt.clone())),
        (
            "the signed token with the signature cut off".into(),
            Cred::Bearer(format!("{}.", signed_alice.rsplit_once('.').expect("signed").0)),
        ),
    ]
}

// ---- accepted credentials -------------------------------------------------------------------------------

on_both_databases!(no_credential_is_refused, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let _alice = person(&app, "Alice").await;
    assert_refused(&app, &Cred::None, "no credential").await;
    app.stop().await;
});

on_both_databases!(the_session_cookie_is_accepted, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let alice = person(&app, "Alice").await;
    assert_accepted(&app, &Cred::Cookie(alice.cookie.clone()), &alice, "the session cookie").await;
    app.stop().await;
});

on_both_databases!(a_raw_session_token_as_bearer_is_accepted, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let alice = person(&app, "Alice").await;
    assert_accepted(&app, &Cred::Bearer(alice.token.clone()), &alice, "the raw bearer token").await;
    app.stop().await;
});

on_both_databases!(a_signed_session_token_as_bearer_is_accepted, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let alice = person(&app, "Alice").await;
    let signed = crypto::decode_uri_component(&alice.cookie).expect("percent-encoded");
    assert!(signed.starts_with(&format!("{}.", alice.token)) && signed.ends_with('='), "{signed}");
    assert_accepted(&app, &Cred::Bearer(signed), &alice, "the signed bearer token").await;
    app.stop().await;
});

on_both_databases!(a_jwt_from_the_token_endpoint_is_accepted, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let alice = person(&app, "Alice").await;
    assert_accepted(&app, &Cred::Bearer(alice.jwt.clone()), &alice, "the JWT").await;
    app.stop().await;
});

on_both_databases!(a_jwt_signed_with_the_servers_key_is_accepted, |backend: Backend| async move {
    // The control for the forged tokens below: the same construction, with valid claims, passes.
    let app = TestApp::start(backend).await;
    let alice = person(&app, "Alice").await;
    let (kid, key) = server_key(&app).await;
    let header = jsonwebtoken::decode_header(&alice.jwt).expect("server JWT header");
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()), "the newest jwks row signs");
    let token = sign_eddsa(&key.d, &kid, &claims(alice.id(), &app.url, &app.url, 900));
    assert_accepted(&app, &Cred::Bearer(token), &alice, "a self-signed valid JWT").await;
    app.stop().await;
});

on_both_databases!(each_credential_resolves_to_its_own_person, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let alice = person(&app, "Alice").await;
    let bob = person(&app, "Bob").await;
    let signed = |p: &Person| crypto::decode_uri_component(&p.cookie).expect("percent-encoded");
    for who in [&alice, &bob] {
        let name = who.user["name"].as_str().expect("name");
        assert_accepted(&app, &Cred::Cookie(who.cookie.clone()), who, &format!("{name}'s cookie")).await;
        assert_accepted(&app, &Cred::Bearer(who.token.clone()), who, &format!("{name}'s raw token")).await;
        assert_accepted(&app, &Cred::Bearer(signed(who)), who, &format!("{name}'s signed token")).await;
        assert_accepted(&app, &Cred::Bearer(who.jwt.clone()), who, &format!("{name}'s JWT")).await;
    }
    app.stop().await;
});

// ---- refused credentials --------------------------------------------------------------------------------

on_both_databases!(every_bad_credential_gets_the_same_401, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let alice = person(&app, "Alice").await;
    let bad = bad_credentials(&app, &alice).await;
    let reference = assert_refused(&app, &Cred::None, "no credential").await;
    let mut failures = vec![];
    for (label, cred) in &bad {
        let res = get_with(&app.url, "/api/tasks", cred).await;
        if res.status != 401 {
            failures.push(format!("{label}: status {} body {}", res.status, res.text));
        } else if res.text != reference.text {
            failures.push(format!("{label}: body {:?} differs from {:?}", res.text, reference.text));
        } else if res.header("content-type") != reference.header("content-type") {
            failures.push(format!("{label}: content-type {:?}", res.header("content-type")));
        }
    }
    assert!(failures.is_empty(), "bad credentials not refused identically:\n{}", failures.join("\n"));
    // The good credentials still work after all that: nothing above broke Alice's own session.
    assert_accepted(&app, &Cred::Cookie(alice.cookie.clone()), &alice, "the session cookie").await;
    app.stop().await;
});

on_both_databases!(get_session_answers_null_for_every_bad_credential, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let alice = person(&app, "Alice").await;
    let mut bad = bad_credentials(&app, &alice).await;
    bad.push(("no credential".into(), Cred::None));
    let mut failures = vec![];
    for (label, cred) in &bad {
        let res = get_with(&app.url, "/api/auth/get-session", cred).await;
        if res.status != 200 || res.text != "null" {
            failures.push(format!("{label}: status {} body {:?}", res.status, res.text));
        }
    }
    assert!(failures.is_empty(), "get-session did not answer 200 null:\n{}", failures.join("\n"));
    let good = get_with(&app.url, "/api/auth/get-session", &Cred::Cookie(alice.cookie.clone())).await;
    assert_eq!(good.status, 200);
    assert_eq!(good.json["user"]["id"], alice.user["id"], "{}", good.text);
    app.stop().await;
});

on_both_databases!(an_expired_jwt_is_refused, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let alice = person(&app, "Alice").await;
    let (kid, key) = server_key(&app).await;
    let expired = sign_eddsa(&key.d, &kid, &claims(alice.id(), &app.url, &app.url, -3600));
    assert_refused(&app, &Cred::Bearer(expired), "an expired JWT").await;
    app.stop().await;
});

on_both_databases!(a_signed_out_session_is_refused, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let alice = person(&app, "Alice").await;
    assert_accepted(&app, &Cred::Bearer(alice.token.clone()), &alice, "before sign-out").await;
    let out = alice.client.post("/api/auth/sign-out", json!({})).await;
    assert_eq!(out.status, 200, "{}", out.text);
    assert_eq!(app.count(r#"SELECT COUNT(*) FROM "session" WHERE "token" = $1"#, &alice.token).await, 0);
    assert_refused(&app, &Cred::Bearer(alice.token.clone()), "the raw token after sign-out").await;
    assert_refused(&app, &Cred::Cookie(alice.cookie.clone()), "the cookie after sign-out").await;
    // A JWT is not a session (as in Better Auth): it stays valid until it expires.
    assert_accepted(&app, &Cred::Bearer(alice.jwt.clone()), &alice, "the JWT after sign-out").await;
    app.stop().await;
});

// ---- HS256 under a shared secret ----------------------------------------------------------------------

const HS256_SECRET: &str = "shared-hs256-secret-for-the-old-front-end-0123";

async fn hs256_app(backend: Backend) -> TestApp {
    TestApp::start_with(backend, |a| a.jwt_hs256_secret = Some(HS256_SECRET.into())).await
}

on_both_databases!(an_hs256_token_under_the_shared_secret_is_accepted, |backend: Backend| async move {
    let app = hs256_app(backend).await;
    let alice = person(&app, "Alice").await;
    let token = sign_hs256(HS256_SECRET, &json!({ "sub": alice.id(), "exp": now() + 600 }));
    assert_accepted(&app, &Cred::Bearer(token), &alice, "an HS256 token").await;
    // The server's own EdDSA tokens keep working alongside.
    assert_accepted(&app, &Cred::Bearer(alice.jwt.clone()), &alice, "the EdDSA JWT").await;
    app.stop().await;
});

on_both_databases!(an_hs256_token_under_another_secret_is_refused, |backend: Backend| async move {
    let app = hs256_app(backend).await;
    let alice = person(&app, "Alice").await;
    let token = sign_hs256("not-the-shared-secret-0123456789abcdef", &json!({ "sub": alice.id(), "exp": now() + 600 }));
    assert_refused(&app, &Cred::Bearer(token), "HS256 under another secret").await;
    app.stop().await;
});

on_both_databases!(an_expired_hs256_token_is_refused, |backend: Backend| async move {
    let app = hs256_app(backend).await;
    let alice = person(&app, "Alice").await;
    let token = sign_hs256(HS256_SECRET, &json!({ "sub": alice.id(), "iat": now() - 7200, "exp": now() - 3600 }));
    assert_refused(&app, &Cred::Bearer(token), "an expired HS256 token").await;
    app.stop().await;
});

on_both_databases!(an_hs256_token_for_an_unknown_user_is_refused, |backend: Backend| async move {
    let app = hs256_app(backend).await;
    let _alice = person(&app, "Alice").await;
    let token = sign_hs256(HS256_SECRET, &json!({ "sub": crypto::generate_id(), "exp": now() + 600 }));
    assert_refused(&app, &Cred::Bearer(token), "HS256 for nobody").await;
    let no_sub = sign_hs256(HS256_SECRET, &json!({ "exp": now() + 600 }));
    assert_refused(&app, &Cred::Bearer(no_sub), "HS256 without sub").await;
    app.stop().await;
});

// ---- an external Better Auth server's JWKS --------------------------------------------------------------

/// A stand-in for another Better Auth server: serves one Ed25519 key (kid `ext-1`) at /api/auth/jwks and counts
/// how often it is asked.
struct FakeIssuer {
    origin: String,
    key: crypto::Ed25519Jwk,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

async fn fake_issuer() -> FakeIssuer {
    let key = crypto::generate_ed25519();
    let jwks = json!({ "keys": [{ "alg": "EdDSA", "crv": "Ed25519", "x": key.x, "kty": "OKP", "kid": "ext-1" }] });
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let router = axum::Router::new().route(
        "/api/auth/jwks",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                axum::Json(jwks)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake issuer");
    let origin = format!("http://{}", listener.local_addr().expect("local addr"));
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("fake issuer serves");
    });
    FakeIssuer { origin, key, hits, task }
}

on_both_databases!(a_jwt_from_the_external_issuer_is_accepted, |backend: Backend| async move {
    let issuer = fake_issuer().await;
    let jwks_url = format!("{}/api/auth/jwks", issuer.origin);
    let app = TestApp::start_with(backend, |a| a.external_jwks_url = Some(jwks_url)).await;
    let alice = person(&app, "Alice").await;
    let o = issuer.origin.as_str();

    let good = sign_eddsa(&issuer.key.d, "ext-1", &claims(alice.id(), o, o, 900));
    assert_accepted(&app, &Cred::Bearer(good), &alice, "the external issuer's JWT").await;
    assert!(issuer.hits.load(Ordering::SeqCst) >= 1, "taskchat never fetched the external JWKS");

    let wrong_iss = sign_eddsa(&issuer.key.d, "ext-1", &claims(alice.id(), "http://evil.example", o, 900));
    assert_refused(&app, &Cred::Bearer(wrong_iss), "external JWT with the wrong issuer").await;
    // Our own issuer is not the external one's: a token claiming taskchat as issuer under the external key fails.
    let own_iss = sign_eddsa(&issuer.key.d, "ext-1", &claims(alice.id(), &app.url, &app.url, 900));
    assert_refused(&app, &Cred::Bearer(own_iss), "external key with taskchat as issuer").await;
    let wrong_aud = sign_eddsa(&issuer.key.d, "ext-1", &claims(alice.id(), o, "http://evil.example", 900));
    assert_refused(&app, &Cred::Bearer(wrong_aud), "external JWT with the wrong audience").await;
    let expired = sign_eddsa(&issuer.key.d, "ext-1", &claims(alice.id(), o, o, -3600));
    assert_refused(&app, &Cred::Bearer(expired), "an expired external JWT").await;
    let forged = sign_eddsa(&crypto::generate_ed25519().d, "ext-1", &claims(alice.id(), o, o, 900));
    assert_refused(&app, &Cred::Bearer(forged), "another key claiming kid ext-1").await;
    let nobody = sign_eddsa(&issuer.key.d, "ext-1", &claims(&crypto::generate_id(), o, o, 900));
    assert_refused(&app, &Cred::Bearer(nobody), "an external JWT for an unknown user").await;

    app.stop().await;
    issuer.task.abort();
});

on_both_databases!(a_valid_bearer_token_wins_over_a_stale_cookie, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let alice = person(&app, "Alice").await;
    let res = reqwest::Client::new()
        .get(format!("{}/api/tasks", app.url))
        .header("cookie", "better-auth.session_token=stale.value")
        .header("authorization", format!("Bearer {}", alice.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.stop().await;
});
