//! The OAuth authorization server refuses what the RFCs say to refuse, each with the RFC's error: missing or
//! plain PKCE, a wrong verifier, a reused code or refresh token (which revokes what it bought), a redirect URI
//! that is not registered, a token for another resource, an expired token, scope escalation, and a client
//! metadata document on a private address (refused before any connection).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{Client, Reply, TestApp};
use crate::on_both_databases;

const REDIRECT: &str = "http://127.0.0.1:43111/cb";

fn pkce() -> (String, String) {
    let verifier = format!("{}{}", taskchat::auth::crypto::generate_id(), taskchat::auth::crypto::generate_id());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// The query parameters of a URL.
fn query(url: &str) -> std::collections::HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// A public client (PKCE only), registered with `extra` metadata.
async fn register(app: &TestApp, extra: Value) -> String {
    let mut body = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "client_name": "Tester"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let res = Client::new(&app.url).post("/api/auth/oauth2/register", body).await;
    assert_eq!(res.status, 201, "{}", res.text);
    res.json["client_id"].as_str().unwrap().to_string()
}

/// GET /authorize as `person` with the given parameters (beside client_id and redirect_uri).
async fn authorize(person: &Client, client_id: &str, params: &[(&str, &str)]) -> Reply {
    let mut pairs =
        vec![("response_type", "code"), ("client_id", client_id), ("redirect_uri", REDIRECT), ("state", "st8")];
    pairs.extend_from_slice(params);
    person.get(&format!("/api/auth/oauth2/authorize?{}", form(&pairs))).await
}

/// Signs in-person consent to a PKCE request for `scope` and `resource`; the code.
async fn code_for(person: &Client, client_id: &str, challenge: &str, scope: &str, resource: &str) -> String {
    let res = authorize(
        person,
        client_id,
        &[("code_challenge", challenge), ("code_challenge_method", "S256"), ("scope", scope), ("resource", resource)],
    )
    .await;
    assert_eq!(res.status, 302, "{}", res.text);
    let location = res.header("location").unwrap().to_string();
    let url = if let Some(signed) = location.strip_prefix("/oauth/consent?") {
        let res = person.post("/api/auth/oauth2/consent", json!({"accept": true, "oauth_query": signed})).await;
        assert_eq!(res.status, 200, "{}", res.text);
        res.json["url"].as_str().unwrap().to_string()
    } else {
        location
    };
    assert!(url.starts_with(REDIRECT), "{url}");
    let q = query(&url);
    assert_eq!(q["state"], "st8");
    q["code"].clone()
}

async fn token(app: &TestApp, pairs: &[(&str, &str)]) -> Reply {
    Client::new(&app.url)
        .raw(Method::POST, "/api/auth/oauth2/token", Some(("application/x-www-form-urlencoded", form(pairs))), &[])
        .await
}

async fn exchange(app: &TestApp, client_id: &str, code: &str, verifier: &str) -> Reply {
    token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await
}

fn mcp(app: &TestApp) -> String {
    format!("{}/mcp", app.url)
}

fn api(app: &TestApp) -> String {
    format!("{}/api", app.url)
}

/// A tools/list on /mcp with a bearer token: its status.
async fn mcp_status(app: &TestApp, token: &str) -> Reply {
    Client::with_bearer(&app.url, token)
        .raw(
            Method::POST,
            "/mcp",
            Some(("application/json", json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string())),
            &[("accept", "application/json, text/event-stream")],
        )
        .await
}

/// A person, a client and a fresh token pair for `/mcp`.
async fn connected(app: &TestApp, scope: &str, resource: &str) -> (Client, String, Value) {
    let (person, _) = app.signed_up("Ada").await;
    let client_id = register(app, json!({"grant_types": ["authorization_code", "refresh_token"]})).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&person, &client_id, &challenge, scope, resource).await;
    let res = exchange(app, &client_id, &code, &verifier).await;
    assert_eq!(res.status, 200, "{}", res.text);
    (person, client_id, res.json)
}

fn assert_oauth_error(res: &Reply, status: u16, error: &str) {
    assert_eq!(res.status.as_u16(), status, "{}", res.text);
    assert_eq!(res.json["error"], error, "{}", res.text);
}

on_both_databases!(metadata_names_the_server_and_its_endpoints, |backend| async move {
    let app = TestApp::start(backend).await;
    let c = app.client();
    let m = c.get("/.well-known/oauth-authorization-server").await.json;
    assert_eq!(m["issuer"], app.url);
    assert_eq!(m["authorization_endpoint"], format!("{}/api/auth/oauth2/authorize", app.url));
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    assert_eq!(m["client_id_metadata_document_supported"], true);
    let prm = c.get("/.well-known/oauth-protected-resource/mcp").await.json;
    assert_eq!(prm["resource"], mcp(&app));
    assert_eq!(prm["authorization_servers"], json!([app.url]));
    let res = Client::new(&app.url).post("/mcp", json!({})).await;
    assert_eq!(res.status, 401);
    let challenge = res.header("www-authenticate").unwrap();
    assert!(challenge.contains("resource_metadata=") && challenge.contains("scope=\"tasks:read tasks:write\""));
    app.stop().await;
});

on_both_databases!(pkce_is_required_and_only_s256, |backend| async move {
    let app = TestApp::start(backend).await;
    let (person, _) = app.signed_up("Ada").await;
    let client_id = register(&app, json!({})).await;
    let (_, challenge) = pkce();
    for params in [vec![], vec![("code_challenge", challenge.as_str()), ("code_challenge_method", "plain")]] {
        let res = authorize(&person, &client_id, &params).await;
        assert_eq!(res.status, 302);
        let q = query(res.header("location").unwrap());
        assert!(res.header("location").unwrap().starts_with(REDIRECT));
        assert_eq!(q["error"], "invalid_request");
        assert_eq!(q["state"], "st8");
        assert_eq!(q["iss"], app.url);
        assert!(!q.contains_key("code"));
    }
    app.stop().await;
});

on_both_databases!(a_wrong_verifier_spends_the_code, |backend| async move {
    let app = TestApp::start(backend).await;
    let (person, _) = app.signed_up("Ada").await;
    let client_id = register(&app, json!({})).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&person, &client_id, &challenge, "tasks:read", &mcp(&app)).await;
    let (other, _) = pkce();
    assert_oauth_error(&exchange(&app, &client_id, &code, &other).await, 400, "invalid_grant");
    assert_oauth_error(&exchange(&app, &client_id, &code, &verifier).await, 400, "invalid_grant");
    // No verifier at all is a malformed request.
    let code = code_for(&person, &client_id, &challenge, "tasks:read", &mcp(&app)).await;
    let res = token(&app, &[("grant_type", "authorization_code"), ("code", &code), ("client_id", &client_id)]).await;
    assert_oauth_error(&res, 400, "invalid_request");
    app.stop().await;
});

on_both_databases!(a_reused_code_is_refused_and_revokes_its_tokens, |backend| async move {
    let app = TestApp::start(backend).await;
    let (person, _) = app.signed_up("Ada").await;
    let client_id = register(&app, json!({})).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&person, &client_id, &challenge, "tasks:read tasks:write", &mcp(&app)).await;
    let first = exchange(&app, &client_id, &code, &verifier).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let access = first.json["access_token"].as_str().unwrap();
    assert_eq!(mcp_status(&app, access).await.status, 200);
    assert_oauth_error(&exchange(&app, &client_id, &code, &verifier).await, 400, "invalid_grant");
    assert_eq!(mcp_status(&app, access).await.status, 401);
    app.stop().await;
});

on_both_databases!(a_reused_refresh_token_revokes_the_family, |backend| async move {
    let app = TestApp::start(backend).await;
    let (_, client_id, tokens) = connected(&app, "tasks:read tasks:write", &mcp(&app)).await;
    let old = tokens["refresh_token"].as_str().unwrap().to_string();
    let refresh = |t: String| {
        let (app, client_id) = (&app, client_id.clone());
        async move { token(app, &[("grant_type", "refresh_token"), ("refresh_token", &t), ("client_id", &client_id)]).await }
    };
    let rotated = refresh(old.clone()).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new_refresh = rotated.json["refresh_token"].as_str().unwrap().to_string();
    let new_access = rotated.json["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, old);
    assert_eq!(mcp_status(&app, &new_access).await.status, 200);
    // The spent token again: refused, and everything of this grant with it.
    assert_oauth_error(&refresh(old).await, 400, "invalid_grant");
    assert_oauth_error(&refresh(new_refresh).await, 400, "invalid_grant");
    assert_eq!(mcp_status(&app, &new_access).await.status, 401);
    app.stop().await;
});

on_both_databases!(a_redirect_uri_that_is_not_registered_is_shown_not_followed, |backend| async move {
    let app = TestApp::start(backend).await;
    let (person, _) = app.signed_up("Ada").await;
    let client_id = register(&app, json!({})).await;
    let (_, challenge) = pkce();
    for evil in ["http://127.0.0.1:43111/cb/extra", "https://evil.example/cb", "http://127.0.0.1:43112/cb"] {
        let path = format!(
            "/api/auth/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
            enc(evil)
        );
        let res = person.raw(Method::GET, &path, None, &[("accept", "application/json")]).await;
        assert_oauth_error(&res, 400, "invalid_request");
        assert!(res.header("location").is_none());
    }
    // An unknown client is shown too.
    let res = authorize(&person, "no-such-client", &[]).await;
    assert_eq!(res.status, 400);
    assert!(res.header("location").is_none());
    // Registration refuses redirect URIs that cannot be one.
    for bad in ["javascript:alert(1)", "http://evil.example/cb", "https://x.example/cb#frag"] {
        let res = Client::new(&app.url).post("/api/auth/oauth2/register", json!({"redirect_uris": [bad]})).await;
        assert_oauth_error(&res, 400, "invalid_redirect_uri");
    }
    app.stop().await;
});

on_both_databases!(a_token_works_only_for_its_own_resource, |backend| async move {
    let app = TestApp::start(backend).await;
    let (_, _, for_mcp) = connected(&app, "tasks:read tasks:write", &mcp(&app)).await;
    let mcp_token = for_mcp["access_token"].as_str().unwrap();
    assert_eq!(mcp_status(&app, mcp_token).await.status, 200);
    let res = Client::with_bearer(&app.url, mcp_token).get("/api/tasks").await;
    assert_oauth_error(&res, 401, "invalid_token");
    assert!(res.header("www-authenticate").unwrap().contains("oauth-protected-resource/api"));

    let (_, _, for_api) = connected(&app, "tasks:read", &api(&app)).await;
    let api_token = for_api["access_token"].as_str().unwrap();
    assert_eq!(Client::with_bearer(&app.url, api_token).get("/api/tasks").await.status, 200);
    assert_eq!(mcp_status(&app, api_token).await.status, 401);
    // Read-only on the API: writing is 403 insufficient_scope.
    let res = Client::with_bearer(&app.url, api_token).post("/api/tasks", json!({"title": "x"})).await;
    assert_oauth_error(&res, 403, "insufficient_scope");
    assert!(res.header("www-authenticate").unwrap().contains("error=\"insufficient_scope\""));

    // A resource that is not ours cannot be asked for.
    let (person, _) = app.signed_up("Bob").await;
    let client_id = register(&app, json!({})).await;
    let (_, challenge) = pkce();
    let res = authorize(
        &person,
        &client_id,
        &[("code_challenge", &challenge), ("code_challenge_method", "S256"), ("resource", "https://evil.example/mcp")],
    )
    .await;
    assert_eq!(query(res.header("location").unwrap())["error"], "invalid_target");
    app.stop().await;
});

on_both_databases!(an_expired_token_is_refused, |backend| async move {
    let app = TestApp::start_with(backend, |args| args.oauth_access_token_ttl = 0).await;
    let (_, _, tokens) = connected(&app, "tasks:read", &mcp(&app)).await;
    let res = mcp_status(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_oauth_error(&res, 401, "invalid_token");
    assert!(res.header("www-authenticate").unwrap().contains("error=\"invalid_token\""));
    app.stop().await;
});

on_both_databases!(scopes_cannot_be_widened, |backend| async move {
    let app = TestApp::start(backend).await;
    let (person, _) = app.signed_up("Ada").await;
    let (_, challenge) = pkce();
    let pkce_params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    // A scope we do not offer, and one the client did not register for.
    let client_id = register(&app, json!({"scope": "tasks:read"})).await;
    for scope in ["tasks:admin", "tasks:read tasks:write"] {
        let mut params = pkce_params.to_vec();
        params.push(("scope", scope));
        let res = authorize(&person, &client_id, &params).await;
        assert_eq!(query(res.header("location").unwrap())["error"], "invalid_scope", "{scope}");
    }
    // The consent may narrow, never widen.
    let open_client = register(&app, json!({})).await;
    let mut params = pkce_params.to_vec();
    params.push(("scope", "tasks:read"));
    let res = authorize(&person, &open_client, &params).await;
    let signed = res.header("location").unwrap().strip_prefix("/oauth/consent?").unwrap().to_string();
    let res = person
        .post(
            "/api/auth/oauth2/consent",
            json!({"accept": true, "scope": "tasks:read tasks:write", "oauth_query": signed}),
        )
        .await;
    assert_oauth_error(&res, 400, "invalid_scope");
    // A tampered consent query is refused.
    let res = person
        .post(
            "/api/auth/oauth2/consent",
            json!({"accept": true, "oauth_query": signed.replace("tasks%3Aread", "chat")}),
        )
        .await;
    assert_oauth_error(&res, 400, "invalid_request");
    // A refresh cannot widen the grant.
    let (_, client_id, tokens) = connected(&app, "tasks:read", &mcp(&app)).await;
    let res = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client_id),
            ("scope", "tasks:read tasks:write"),
        ],
    )
    .await;
    assert_oauth_error(&res, 400, "invalid_scope");
    app.stop().await;
});

on_both_databases!(a_metadata_document_on_a_private_address_is_never_fetched, |backend| async move {
    let app = TestApp::start(backend).await;
    let (person, _) = app.signed_up("Ada").await;
    // Something listening where the client id points: it must never see a connection.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (_, challenge) = pkce();
    for client_id in [format!("https://127.0.0.1:{port}/client.json"), format!("https://localhost:{port}/client.json")]
    {
        let path = format!(
            "/api/auth/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
            enc(&client_id),
            enc(REDIRECT)
        );
        let res = person.raw(Method::GET, &path, None, &[("accept", "application/json")]).await;
        assert_oauth_error(&res, 400, "invalid_client");
        assert!(res.json["error_description"].as_str().unwrap().contains("private"), "{}", res.text);
    }
    assert_eq!(listener.accept().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    app.stop().await;
});

on_both_databases!(signing_in_first_and_denying_go_back_to_the_client, |backend| async move {
    let app = TestApp::start(backend).await;
    let client_id = register(&app, json!({})).await;
    let (_, challenge) = pkce();
    let params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let stranger = app.client();
    let res = authorize(&stranger, &client_id, &params).await;
    let location = res.header("location").unwrap();
    assert!(location.starts_with("/login?next=%2Fapi%2Fauth%2Foauth2%2Fauthorize%3F"), "{location}");
    let (person, _) = app.signed_up("Ada").await;
    let res = authorize(&person, &client_id, &params).await;
    let signed = res.header("location").unwrap().strip_prefix("/oauth/consent?").unwrap().to_string();
    assert_eq!(person.get(&format!("/oauth/consent?{signed}")).await.status, 200);
    let res = person.post("/api/auth/oauth2/consent", json!({"accept": false, "oauth_query": signed})).await;
    let q = query(res.json["url"].as_str().unwrap());
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st8");
    assert_eq!(q["iss"], app.url);
    app.stop().await;
});

on_both_databases!(disconnecting_an_app_ends_its_tokens, |backend| async move {
    let app = TestApp::start(backend).await;
    let (person, client_id, tokens) = connected(&app, "tasks:read", &mcp(&app)).await;
    let access = tokens["access_token"].as_str().unwrap();
    let apps = person.get("/api/auth/oauth2/get-consents").await;
    assert_eq!(apps.status, 200, "{}", apps.text);
    assert_eq!(apps.json[0]["clientId"], client_id.as_str());
    assert_eq!(apps.json[0]["clientName"], "Tester");
    assert_eq!(apps.json[0]["scopes"], json!(["tasks:read"]));
    // Someone else cannot disconnect it.
    let (other, _) = app.signed_up("Eve").await;
    let id = apps.json[0]["id"].as_str().unwrap();
    assert_eq!(other.post("/api/auth/oauth2/delete-consent", json!({"id": id})).await.status, 404);
    assert_eq!(mcp_status(&app, access).await.status, 200);
    assert_eq!(person.post("/api/auth/oauth2/delete-consent", json!({"id": id})).await.status, 200);
    assert_eq!(mcp_status(&app, access).await.status, 401);
    let res = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_oauth_error(&res, 400, "invalid_grant");
    app.stop().await;
});
