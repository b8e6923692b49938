//! Getting back into an account: password reset, email verification and change of address, through the
//! mail a loopback SMTP server started by each test catches. Links work once and only once, expire, and
//! serve only the account they were mailed for; no answer tells a known address from an unknown one.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Notify, watch};

use crate::common::{Backend, Client, PASSWORD, TestApp};
use crate::on_both_databases;

// ---- a loopback SMTP server ----------------------------------------------------------------------------

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
struct Caught {
    rcpt: Vec<String>,
    /// The AUTH line the client sent, if it authenticated.
    auth: Option<String>,
    data: String,
}

impl Caught {
    /// The text/plain part, quoted-printable decoded.
    fn text(&self) -> String {
        let start = self.data.find("Content-Type: text/plain").expect("a text part");
        let part = &self.data[start..];
        let body_start = part.find("\r\n\r\n").unwrap() + 4;
        let body = &part[body_start..];
        let body = &body[..body.find("\r\n--").unwrap_or(body.len())];
        decode_quoted_printable(body)
    }

    /// The one link in the message.
    fn link(&self) -> String {
        let text = self.text();
        let start = text.find("http").expect("a link");
        text[start..].split_whitespace().next().unwrap().to_string()
    }

    fn header(&self, name: &str) -> Option<String> {
        let head = &self.data[..self.data.find("\r\n\r\n").unwrap_or(self.data.len())];
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

fn decode_quoted_printable(s: &str) -> String {
    let joined = s.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// A tiny SMTP server on 127.0.0.1 that keeps what it is sent. `hold` keeps it from greeting new
/// connections until released, to show that answers never wait on mail.
struct SmtpCatcher {
    port: u16,
    caught: Arc<Mutex<Vec<Caught>>>,
    arrived: Arc<Notify>,
    release: watch::Sender<bool>,
}

impl SmtpCatcher {
    async fn start() -> SmtpCatcher {
        Self::start_held(false).await
    }

    async fn start_held(hold: bool) -> SmtpCatcher {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let caught = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let (release, released) = watch::channel(!hold);
        let (c, a) = (caught.clone(), arrived.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (c, a, mut released) = (c.clone(), a.clone(), released.clone());
                tokio::spawn(async move {
                    let _ = released.wait_for(|r| *r).await;
                    let _ = serve_smtp(stream, c, a).await;
                });
            }
        });
        SmtpCatcher { port, caught, arrived, release }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn release(&self) {
        let _ = self.release.send(true);
    }

    async fn count(&self) -> usize {
        self.caught.lock().await.len()
    }

    /// Waits for message number `n` (0-based) to arrive.
    async fn nth(&self, n: usize) -> Caught {
        let wait = async {
            loop {
                let notified = self.arrived.notified();
                if let Some(m) = self.caught.lock().await.get(n) {
                    return m.clone();
                }
                notified.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait).await.expect("the mail arrives")
    }
}

async fn serve_smtp(
    stream: tokio::net::TcpStream,
    caught: Arc<Mutex<Vec<Caught>>>,
    arrived: Arc<Notify>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 catcher ESMTP\r\n").await?;
    let (mut rcpt, mut auth) = (Vec::new(), None);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-catcher\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("AUTH") {
            auth = Some(line.trim().to_string());
            b"235 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            rcpt.push(line[8..].trim().trim_matches(['<', '>']).to_string());
            b"250 ok\r\n"
        } else if upper.starts_with("DATA") {
            write.write_all(b"354 go on\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
            }
            caught.lock().await.push(Caught { rcpt: std::mem::take(&mut rcpt), auth: auth.clone(), data });
            arrived.notify_waiters();
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 ok\r\n"
        };
        write.write_all(reply).await?;
    }
}

// ---- helpers -------------------------------------------------------------------------------------------

async fn start(backend: Backend, smtp: &SmtpCatcher) -> TestApp {
    let url = smtp.url();
    TestApp::start_with(backend, move |a| a.smtp_url = Some(url)).await
}

/// A client with no cookies (someone who forgot their password, or anyone at all).
fn stranger(app: &TestApp) -> Client {
    app.client()
}

/// The path and query of an absolute link to the app.
fn path_of(app: &TestApp, link: &str) -> String {
    link.strip_prefix(&app.url).unwrap_or_else(|| panic!("{link} is not on {}", app.url)).to_string()
}

async fn request_reset(c: &Client, email: &str) -> crate::common::Reply {
    c.post("/api/auth/request-password-reset", json!({"email": email})).await
}

/// Follows a mailed reset link and returns the token the app's reset page would receive.
async fn token_from_reset_link(app: &TestApp, link: &str) -> String {
    let res = stranger(app).get(&path_of(app, link)).await;
    assert_eq!(res.status, 302, "{}", res.text);
    let location = res.header("location").unwrap().to_string();
    let (page, token) = location.split_once("?token=").unwrap_or_else(|| panic!("no token in {location}"));
    assert_eq!(page, format!("{}/reset-password", app.url));
    token.to_string()
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> crate::common::Reply {
    stranger(app).post("/api/auth/sign-in/email", json!({"email": email, "password": password})).await
}

// ---- password reset ------------------------------------------------------------------------------------

on_both_databases!(a_reset_link_works_once_and_only_once, |backend: Backend| async move {
    let smtp = SmtpCatcher::start().await;
    let app = start(backend, &smtp).await;
    let (signed_in, user) = app.signed_up("Rosa").await;
    let email = user["email"].as_str().unwrap();

    let res = request_reset(&stranger(&app), email).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        res.json,
        json!({"status": true, "message": "If this email exists in our system, check your email for the reset link"})
    );
    let mail = smtp.nth(0).await;
    assert_eq!(mail.rcpt, vec![email.to_string()]);
    assert!(mail.header("subject").unwrap().contains("Reset your taskchat password"));
    assert!(mail.data.contains("Content-Type: text/html"), "HTML too");
    let link = mail.link();
    assert!(link.starts_with(&format!("{}/api/auth/reset-password/", app.url)), "{link}");
    // The database keeps only a hash of the token.
    let token = token_from_reset_link(&app, &link).await;
    assert_eq!(
        app.count(r#"SELECT COUNT(*) FROM "verification" WHERE "identifier" LIKE '%' || $1 || '%'"#, &token).await,
        0
    );

    let new_password = "a brand new passphrase";
    let reset =
        stranger(&app).post("/api/auth/reset-password", json!({"newPassword": new_password, "token": token})).await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    assert_eq!(reset.json, json!({"status": true}));
    // Once only: the same token again, and the mailed link again, are refused.
    let again = stranger(&app)
        .post("/api/auth/reset-password", json!({"newPassword": "yet another one!", "token": token}))
        .await;
    again.assert_json_error(400, "INVALID_TOKEN");
    let relink = stranger(&app).get(&path_of(&app, &link)).await;
    assert_eq!(relink.status, 302);
    assert!(relink.header("location").unwrap().ends_with("/reset-password?error=INVALID_TOKEN"));

    assert_eq!(sign_in(&app, email, PASSWORD).await.status, 401, "the old password no longer works");
    assert_eq!(sign_in(&app, email, new_password).await.status, 200);
    // Whoever was signed in with the old password is signed out.
    assert_eq!(signed_in.get("/api/auth/get-session").await.json, Value::Null);
    app.stop().await;
});

on_both_databases!(the_client_name_forget_password_and_a_token_in_the_query_work_too, |backend: Backend| async move {
    let smtp = SmtpCatcher::start().await;
    let app = start(backend, &smtp).await;
    let (_, user) = app.signed_up("Ada").await;
    let email = user["email"].as_str().unwrap();
    let res = stranger(&app)
        .post("/api/auth/forget-password", json!({"email": email, "redirectTo": "/reset-password?from=mail"}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let link = smtp.nth(0).await.link();
    let follow = stranger(&app).get(&path_of(&app, &link)).await;
    let location = follow.header("location").unwrap();
    assert!(location.starts_with(&format!("{}/reset-password?from=mail&token=", app.url)), "{location}");
    let token = location.rsplit_once("token=").unwrap().1;
    let reset = stranger(&app)
        .post(&format!("/api/auth/reset-password?token={token}"), json!({"newPassword": "query token works"}))
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    assert_eq!(sign_in(&app, email, "query token works").await.status, 200);
    app.stop().await;
});

on_both_databases!(reset_and_verification_links_expire, |backend: Backend| async move {
    let smtp = SmtpCatcher::start().await;
    let app = start(backend, &smtp).await;
    let (c, user) = app.signed_up("Tom").await;
    let email = user["email"].as_str().unwrap();
    request_reset(&stranger(&app), email).await;
    let reset_link = smtp.nth(0).await.link();
    let token = token_from_reset_link(&app, &reset_link).await;
    assert_eq!(c.post("/api/auth/send-verification-email", json!({"email": email})).await.status, 200);
    let verify_link = smtp.nth(1).await.link();

    app.exec(r#"UPDATE "verification" SET "expiresAt" = '2000-01-01T00:00:00.000Z'"#, &[]).await;
    let follow = stranger(&app).get(&path_of(&app, &reset_link)).await;
    assert!(follow.header("location").unwrap().ends_with("?error=INVALID_TOKEN"));
    let reset = stranger(&app)
        .post("/api/auth/reset-password", json!({"newPassword": "too late for this", "token": token}))
        .await;
    reset.assert_json_error(400, "INVALID_TOKEN");
    let verify = c.get(&path_of(&app, &verify_link)).await;
    assert_eq!(verify.status, 302);
    assert_eq!(verify.header("location").unwrap(), format!("{}/?error=TOKEN_EXPIRED", app.url));
    assert_eq!(c.get("/api/auth/get-session").await.json["user"]["emailVerified"], false);
    assert_eq!(sign_in(&app, email, PASSWORD).await.status, 200, "the password is unchanged");
    app.stop().await;
});

on_both_databases!(a_link_serves_only_the_account_it_was_mailed_for, |backend: Backend| async move {
    let smtp = SmtpCatcher::start().await;
    let app = start(backend, &smtp).await;
    let (_, a) = app.signed_up("Alice").await;
    let (bob, b) = app.signed_up("Bob").await;
    let (a_email, b_email) = (a["email"].as_str().unwrap(), b["email"].as_str().unwrap());

    // Alice's reset token, used from Bob's signed-in browser, changes Alice's password and not Bob's.
    request_reset(&stranger(&app), a_email).await;
    let token = token_from_reset_link(&app, &smtp.nth(0).await.link()).await;
    let reset =
        bob.post("/api/auth/reset-password", json!({"newPassword": "alice's new password", "token": token})).await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    assert_eq!(sign_in(&app, b_email, PASSWORD).await.status, 200);
    assert_eq!(sign_in(&app, a_email, "alice's new password").await.status, 200);

    // Alice's verification link, opened by Bob, verifies Alice only.
    assert_eq!(stranger(&app).post("/api/auth/send-verification-email", json!({"email": a_email})).await.status, 200);
    let verify = smtp.nth(1).await;
    assert_eq!(verify.rcpt, vec![a_email.to_string()]);
    assert_eq!(bob.get(&path_of(&app, &verify.link())).await.status, 302);
    assert_eq!(bob.get("/api/auth/get-session").await.json["user"]["emailVerified"], false);
    let alice = sign_in(&app, a_email, "alice's new password").await;
    assert_eq!(alice.json["user"]["emailVerified"], true);

    // A change-of-address link opened in someone else's session changes nothing.
    let (carol, c) = app.signed_up("Carol").await;
    let new_address = format!("carol-new-{}@example.com", taskchat::auth::crypto::generate_id().to_lowercase());
    assert_eq!(carol.post("/api/auth/change-email", json!({"newEmail": new_address})).await.status, 200);
    let change = smtp.nth(2).await;
    let res = bob.get(&path_of(&app, &change.link())).await;
    assert_eq!(res.header("location").unwrap(), format!("{}/?error=INVALID_USER", app.url));
    assert_eq!(carol.get("/api/auth/get-session").await.json["user"]["email"], c["email"]);

    // A reset token is not a verification token, nor the other way round.
    request_reset(&stranger(&app), b_email).await;
    let token = token_from_reset_link(&app, &smtp.nth(3).await.link()).await;
    let res = stranger(&app).get(&format!("/api/auth/verify-email?token={token}")).await;
    res.assert_json_error(401, "INVALID_TOKEN");
    app.stop().await;
});

// ---- enumeration ---------------------------------------------------------------------------------------

on_both_databases!(no_answer_tells_a_known_address_from_an_unknown_one, |backend: Backend| async move {
    // The SMTP server does not even greet until released: answers must not wait on mail.
    let smtp = SmtpCatcher::start_held(true).await;
    let app = start(backend, &smtp).await;
    let (_, user) = app.signed_up("Known").await;
    let known = user["email"].as_str().unwrap();
    let unknown = "nobody-at-all@example.com";
    for (path, key) in [("/api/auth/request-password-reset", "email"), ("/api/auth/send-verification-email", "email")] {
        let k = stranger(&app).post(path, json!({ key: known })).await;
        let u = stranger(&app).post(path, json!({ key: unknown })).await;
        assert_eq!(k.status, 200, "{path}: {}", k.text);
        assert_eq!((k.status, &k.text), (u.status, &u.text), "{path}");
        let headers = |r: &crate::common::Reply| {
            let mut h: Vec<String> =
                r.headers.keys().map(|k| k.to_string()).filter(|k| k != "date" && k != "x-request-id").collect();
            h.sort();
            h
        };
        assert_eq!(headers(&k), headers(&u), "{path}");
    }
    // Both answered while the mail to the known address still waited on the SMTP server.
    assert_eq!(smtp.count().await, 0);
    smtp.release();
    let first = smtp.nth(0).await;
    let second = smtp.nth(1).await;
    assert!([&first, &second].iter().all(|m| m.rcpt == vec![known.to_string()]), "mail only to the known address");

    // Asking to move to an address someone has answers as for a free one, and mails nobody.
    let (mover, _) = app.signed_up("Mover").await;
    let taken = mover.post("/api/auth/change-email", json!({"newEmail": known})).await;
    let free = mover.post("/api/auth/change-email", json!({"newEmail": "free-address@example.com"})).await;
    assert_eq!((taken.status, &taken.text), (free.status, &free.text));
    assert_eq!(smtp.nth(2).await.rcpt, vec!["free-address@example.com".to_string()]);
    app.stop().await;
});

on_both_databases!(mail_routes_are_rate_limited_per_address_and_per_client, |backend: Backend| async move {
    let smtp = SmtpCatcher::start().await;
    let url = smtp.url();
    let app = TestApp::start_with(backend, move |a| {
        a.smtp_url = Some(url);
        a.mail_rate_limit_max = 3;
        a.mail_rate_limit_window = 300;
    })
    .await;
    // One address from three clients: the fourth request for it is refused, whoever sends it.
    let target = "target@example.com";
    for i in 2..5 {
        let c = Client::from_address(&app.url, format!("127.0.0.{i}").parse().unwrap());
        assert_eq!(request_reset(&c, target).await.status, 200);
    }
    let c = Client::from_address(&app.url, "127.0.0.5".parse().unwrap());
    let limited = request_reset(&c, target).await;
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
    // One client, many addresses: its fourth request is refused too.
    let c = Client::from_address(&app.url, "127.0.0.6".parse().unwrap());
    for i in 0..3 {
        assert_eq!(request_reset(&c, &format!("other{i}@example.com")).await.status, 200);
    }
    assert_eq!(request_reset(&c, "other9@example.com").await.status, 429);
    // Verification mail has its own budget.
    assert_eq!(c.post("/api/auth/send-verification-email", json!({"email": "v@example.com"})).await.status, 200);
    app.stop().await;
});

// ---- verification and change of address ----------------------------------------------------------------

on_both_databases!(verifying_an_address_works_once, |backend: Backend| async move {
    let smtp = SmtpCatcher::start().await;
    let app = start(backend, &smtp).await;
    let (c, user) = app.signed_up("Vera").await;
    let email = user["email"].as_str().unwrap();
    let mismatch = c.post("/api/auth/send-verification-email", json!({"email": "someone-else@example.com"})).await;
    mismatch.assert_json_error(400, "EMAIL_MISMATCH");
    let sent =
        c.post("/api/auth/send-verification-email", json!({"email": email, "callbackURL": "/chat?verified=1"})).await;
    assert_eq!(sent.json, json!({"status": true}));
    let mail = smtp.nth(0).await;
    assert!(mail.header("subject").unwrap().contains("Confirm your email"));
    let link = mail.link();
    assert!(link.starts_with(&format!("{}/api/auth/verify-email?token=", app.url)), "{link}");
    let res = c.get(&path_of(&app, &link)).await;
    assert_eq!(res.status, 302);
    assert_eq!(res.header("location").unwrap(), format!("{}/chat?verified=1", app.url));
    assert_eq!(c.get("/api/auth/get-session").await.json["user"]["emailVerified"], true);
    let again = c.get(&path_of(&app, &link)).await;
    assert_eq!(again.header("location").unwrap(), format!("{}/chat?verified=1&error=INVALID_TOKEN", app.url));
    c.post("/api/auth/send-verification-email", json!({"email": email}))
        .await
        .assert_json_error(400, "EMAIL_ALREADY_VERIFIED");
    // Without a callbackURL the answer is JSON, as Better Auth's.
    let bad = c.get("/api/auth/verify-email?token=nonsense").await;
    bad.assert_json_error(401, "INVALID_TOKEN");
    app.stop().await;
});

on_both_databases!(sign_in_can_wait_for_a_verified_address, |backend: Backend| async move {
    let smtp = SmtpCatcher::start().await;
    let url = smtp.url();
    let app = TestApp::start_with(backend, move |a| {
        a.smtp_url = Some(url);
        a.require_email_verification = true;
    })
    .await;
    let c = app.client();
    let email = "waits@example.com";
    let res = c.post("/api/auth/sign-up/email", json!({"name": "W", "email": email, "password": PASSWORD})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.json["token"], Value::Null);
    assert!(res.set_cookies().is_empty(), "no session before the address is verified");
    let refused = sign_in(&app, email, PASSWORD).await;
    refused.assert_json_error(403, "EMAIL_NOT_VERIFIED");
    let wrong = sign_in(&app, email, "not the password").await;
    wrong.assert_json_error(401, "INVALID_EMAIL_OR_PASSWORD");
    let link = smtp.nth(0).await.link();
    assert_eq!(stranger(&app).get(&path_of(&app, &link)).await.status, 302);
    let ok = sign_in(&app, email, PASSWORD).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json["user"]["emailVerified"], true);
    app.stop().await;
});

on_both_databases!(changing_the_address_is_confirmed_from_the_new_one, |backend: Backend| async move {
    let smtp = SmtpCatcher::start().await;
    let app = start(backend, &smtp).await;
    let (c, user) = app.signed_up("Moving").await;
    let old = user["email"].as_str().unwrap().to_string();
    let new = format!("moved-{}@example.com", taskchat::auth::crypto::generate_id().to_lowercase());
    let same = c.post("/api/auth/change-email", json!({"newEmail": old})).await;
    assert_eq!((same.status.as_u16(), &same.json), (400, &json!({"message": "Email is the same"})));
    let res =
        c.post("/api/auth/change-email", json!({"newEmail": new.to_uppercase(), "callbackURL": "/settings"})).await;
    assert_eq!(res.json, json!({"status": true}));
    let mail = smtp.nth(0).await;
    assert_eq!(mail.rcpt, vec![new.clone()], "the link goes to the new address");
    assert_eq!(c.get("/api/auth/get-session").await.json["user"]["email"], old.as_str(), "unchanged until confirmed");
    let res = c.get(&path_of(&app, &mail.link())).await;
    assert_eq!(res.header("location").unwrap(), format!("{}/settings", app.url));
    let session = c.get("/api/auth/get-session").await.json;
    assert_eq!(session["user"]["email"], new.as_str());
    assert_eq!(session["user"]["emailVerified"], true);
    assert_eq!(sign_in(&app, &new, PASSWORD).await.status, 200);
    assert_eq!(sign_in(&app, &old, PASSWORD).await.status, 401);
    assert_eq!(
        c.get(&path_of(&app, &mail.link())).await.header("location").unwrap(),
        format!("{}/settings?error=INVALID_TOKEN", app.url)
    );
    app.stop().await;
});

on_both_databases!(linked_accounts_are_listed_without_secrets, |backend: Backend| async move {
    let smtp = SmtpCatcher::start().await;
    let app = start(backend, &smtp).await;
    let (c, user) = app.signed_up("Lin").await;
    let res = c.get("/api/auth/list-accounts").await;
    assert_eq!(res.status, 200, "{}", res.text);
    let accounts = res.json.as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    let a = &accounts[0];
    assert_eq!(a["providerId"], "credential");
    assert_eq!(a["accountId"], user["id"]);
    assert_eq!(a["userId"], user["id"]);
    assert_eq!(a["scopes"], json!([]));
    assert!(a["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(a.get("password").is_none() && a.get("accessToken").is_none());
    stranger(&app).get("/api/auth/list-accounts").await.assert_json_error(401, "UNAUTHORIZED");
    app.stop().await;
});

// ---- bad input and configuration -----------------------------------------------------------------------

on_both_databases!(bad_requests_get_better_auth_errors_not_500s, |backend: Backend| async move {
    let smtp = SmtpCatcher::start().await;
    let app = start(backend, &smtp).await;
    let s = stranger(&app);
    request_reset(&s, "not-an-address").await.assert_json_error(400, "VALIDATION_ERROR");
    s.post("/api/auth/request-password-reset", json!({})).await.assert_json_error(400, "VALIDATION_ERROR");
    s.post("/api/auth/request-password-reset", json!({"email": 7})).await.assert_json_error(400, "VALIDATION_ERROR");
    s.post("/api/auth/request-password-reset", json!({"email": "a@b.co", "redirectTo": "https://evil.example/x"}))
        .await
        .assert_json_error(403, "INVALID_CALLBACK_URL");
    let text = s.raw(Method::POST, "/api/auth/request-password-reset", Some(("text/plain", "x".into())), &[]).await;
    text.assert_json_error(415, "UNSUPPORTED_MEDIA_TYPE");
    s.post("/api/auth/reset-password", json!({"newPassword": "long enough pw"}))
        .await
        .assert_json_error(400, "INVALID_TOKEN");
    s.post("/api/auth/reset-password", json!({"newPassword": "long enough pw", "token": "x".repeat(5000)}))
        .await
        .assert_json_error(400, "INVALID_TOKEN");
    s.post("/api/auth/reset-password", json!({"token": "abc"})).await.assert_json_error(400, "VALIDATION_ERROR");
    s.post("/api/auth/reset-password", json!({"newPassword": "short", "token": "abc"}))
        .await
        .assert_json_error(400, "PASSWORD_TOO_SHORT");
    let odd = s.get("/api/auth/reset-password/%00%ff?callbackURL=").await;
    assert_eq!(odd.status, 302);
    assert!(odd.header("location").unwrap().ends_with("/reset-password?error=INVALID_TOKEN"));
    s.get("/api/auth/reset-password/abc?callbackURL=https%3A%2F%2Fevil.example")
        .await
        .assert_json_error(403, "INVALID_CALLBACK_URL");
    s.get("/api/auth/verify-email").await.assert_json_error(400, "VALIDATION_ERROR");
    s.get("/api/auth/verify-email?token=%ff%fe").await.assert_json_error(401, "INVALID_TOKEN");
    s.get("/api/auth/verify-email?token=a&callbackURL=//evil.example")
        .await
        .assert_json_error(403, "INVALID_CALLBACK_URL");
    s.post("/api/auth/change-email", json!({"newEmail": "a@b.co"})).await.assert_json_error(401, "UNAUTHORIZED");
    assert_eq!(smtp.count().await, 0);
    app.stop().await;
});

on_both_databases!(smtp_credentials_in_the_url_are_used, |backend: Backend| async move {
    let smtp = SmtpCatcher::start().await;
    let url = format!("smtp://mailer:s3cret@127.0.0.1:{}", smtp.port);
    let app = TestApp::start_with(backend, move |a| {
        a.smtp_url = Some(url);
        a.mail_from = Some("Tasks <tasks@example.org>".into());
    })
    .await;
    let (_, user) = app.signed_up("Cred").await;
    request_reset(&stranger(&app), user["email"].as_str().unwrap()).await;
    let mail = smtp.nth(0).await;
    assert!(mail.auth.as_deref().is_some_and(|a| a.starts_with("AUTH")), "{:?}", mail.auth);
    assert_eq!(mail.header("from").as_deref(), Some("Tasks <tasks@example.org>"));
    app.stop().await;
});

on_both_databases!(without_smtp_mail_is_written_to_the_data_directory, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (_, user) = app.signed_up("Files").await;
    let email = user["email"].as_str().unwrap();
    assert_eq!(request_reset(&stranger(&app), email).await.status, 200);
    let dir = app.data_dir.path().join("mail");
    let eml = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(mut entries) = tokio::fs::read_dir(&dir).await {
                while let Ok(Some(e)) = entries.next_entry().await {
                    if e.file_name().to_string_lossy().ends_with(".eml") {
                        return tokio::fs::read_to_string(e.path()).await.unwrap();
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a .eml file appears");
    let mail = Caught { rcpt: vec![], auth: None, data: eml };
    assert!(mail.header("to").unwrap().contains(email));
    assert!(mail.link().contains("/api/auth/reset-password/"));
    app.stop().await;
});
