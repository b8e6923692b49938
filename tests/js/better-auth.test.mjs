// The real Better Auth browser client (better-auth@1.7.25) against a running
// taskchat server: proves the Rust implementation of /api/auth is a drop-in.
//
// Run through ./scripts/test.sh, or by hand against a server:
//   TASKCHAT_URL=http://127.0.0.1:8080 node --test tests/js/
// The server must trust the origin http://localhost:3000 and must not
// rate-limit these few sign-ups/sign-ins (TASKCHAT_RATE_LIMIT_MAX=1000).
//
// Expected behaviour: /work/shared/reference/better-auth-contract.md.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";

const BASE = (process.env.TASKCHAT_URL ?? "").replace(/\/+$/, "");
if (!BASE) throw new Error("TASKCHAT_URL is not set (run ./scripts/test.sh)");
const AUTH = `${BASE}/api/auth`;
const TRUSTED_ORIGIN = "http://localhost:3000";
const EVIL_ORIGIN = "http://evil.example";
const SESSION_COOKIE = "better-auth.session_token";
const PASSWORD = "correct horse battery staple";
// Unique per run, so the tests also pass against a database that has data.
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
const T = { timeout: 30_000 };

// ---------------------------------------------------------------------------
// A simulated browser: a cookie jar plus an Origin header, plugged into the
// real client through fetchOptions.customFetchImpl (Node's fetch keeps no
// cookies and sends no Origin of its own).
// ---------------------------------------------------------------------------

function parseSetCookie(line) {
  const [pair, ...parts] = line.split(";");
  const eq = pair.indexOf("=");
  const attrs = {};
  for (const part of parts) {
    const i = part.indexOf("=");
    const key = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    if (key) attrs[key] = i < 0 ? true : part.slice(i + 1).trim();
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attrs };
}

class Browser {
  constructor(origin = TRUSTED_ORIGIN) {
    this.origin = origin;
    this.cookies = new Map();
    /** Set-Cookie lines of the most recent response, parsed. */
    this.lastSetCookies = [];
    this.fetch = this.fetch.bind(this);
    this.client = createAuthClient({
      baseURL: BASE,
      plugins: [jwtClient()],
      fetchOptions: { customFetchImpl: this.fetch },
    });
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  setCookie(name) {
    return this.lastSetCookies.find((c) => c.name === name);
  }

  async fetch(input, init = {}) {
    const url = input instanceof Request ? input.url : String(input);
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    if (this.origin) headers.set("origin", this.origin);
    if (this.cookies.size) headers.set("cookie", this.cookieHeader());
    const res = await fetch(url, {
      method: init.method ?? (input instanceof Request ? input.method : "GET"),
      headers,
      body: init.body,
      signal: init.signal,
    });
    this.lastSetCookies = res.headers.getSetCookie().map(parseSetCookie);
    for (const c of this.lastSetCookies) {
      const maxAge = c.attrs["max-age"];
      const expires = typeof c.attrs.expires === "string" ? Date.parse(c.attrs.expires) : NaN;
      const expired = (maxAge !== undefined && Number(maxAge) <= 0) || expires <= Date.now();
      if (expired) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    return res;
  }
}

/** A raw request with no client in between, for checks the client can't make. */
async function raw(method, path, headers = {}, body) {
  const res = await fetch(`${AUTH}${path}`, { method, headers, body });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON; tests that care look at .text
  }
  return { status: res.status, headers: res.headers, text, json };
}

function assertNoError(error, what) {
  assert.equal(error, null, `${what} failed: ${JSON.stringify(error)}`);
}

function assertApiError(error, status, code, message) {
  assert.ok(error, `expected an error ${status} ${code}, got success`);
  assert.equal(error.status, status, `status (error: ${JSON.stringify(error)})`);
  assert.equal(error.code, code, `code (error: ${JSON.stringify(error)})`);
  if (message !== undefined) assert.equal(error.message, message);
}

function assertSessionCookie(browser, token) {
  const c = browser.setCookie(SESSION_COOKIE);
  assert.ok(c, `no ${SESSION_COOKIE} Set-Cookie; got ${JSON.stringify(browser.lastSetCookies)}`);
  assert.equal(c.attrs.httponly, true, "HttpOnly");
  assert.equal(String(c.attrs.samesite).toLowerCase(), "lax", "SameSite=Lax");
  assert.equal(c.attrs.path, "/", "Path=/");
  assert.equal(c.attrs["max-age"], "604800", "Max-Age=604800");
  // value = encodeURIComponent(token + "." + base64(HMAC-SHA256(secret, token)))
  const value = decodeURIComponent(c.value);
  const dot = value.lastIndexOf(".");
  assert.equal(value.slice(0, dot), token, "cookie carries the session token");
  assert.match(value.slice(dot + 1), /^[A-Za-z0-9+/]{43}=$/, "cookie signature is padded base64 of 32 bytes");
}

function assertIsDate(value, what) {
  // The client's JSON parser turns ISO-8601 strings with milliseconds into Dates.
  assert.ok(value instanceof Date && !Number.isNaN(value.getTime()), `${what} should be an ISO date, got ${value}`);
}

const jwks = createRemoteJWKSet(new URL(`${AUTH}/jwks`));

async function assertValidJwt(jwt, user) {
  assert.equal(typeof jwt, "string", "JWT is a string");
  const header = decodeProtectedHeader(jwt);
  assert.equal(header.alg, "EdDSA");
  assert.ok(header.kid, "JWT header has a kid");
  const { payload } = await jwtVerify(jwt, jwks, { issuer: BASE, audience: BASE });
  assert.equal(payload.sub, user.id);
  assert.equal(payload.id, user.id);
  assert.equal(payload.email, user.email);
  assert.equal(payload.name, user.name);
  assert.equal(payload.emailVerified, false);
  assert.equal(payload.exp - payload.iat, 900, "JWT lives 15 minutes");
  assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 300, "iat is now");
  return header;
}

// ---------------------------------------------------------------------------
// Alice: sign up, sign in, session, JWT, sign out. Tests run in file order
// and later ones use what earlier ones stored here.
// ---------------------------------------------------------------------------

const alice = {
  email: `Alice.${RUN}@Example.COM`, // mixed case on purpose
  name: "Alice",
  user: null, // from sign-up
  browser: null, // signed in via sign-in
  token: null, // session token from sign-in
};

function needs(value, what) {
  assert.ok(value, `precondition: ${what} (an earlier test failed)`);
}

test("sign-up creates the user with a lower-cased email and sets a session cookie", T, async () => {
  const b = new Browser();
  const { data, error } = await b.client.signUp.email({ name: alice.name, email: alice.email, password: PASSWORD });
  assertNoError(error, "signUp.email");
  assert.equal(data.user.email, alice.email.toLowerCase());
  assert.equal(data.user.name, alice.name);
  assert.equal(data.user.emailVerified, false);
  assert.equal(data.user.image, null);
  assert.equal(typeof data.user.id, "string");
  assert.ok(data.user.id.length > 0);
  assertIsDate(data.user.createdAt, "user.createdAt");
  assertIsDate(data.user.updatedAt, "user.updatedAt");
  assert.match(data.token, /^[A-Za-z0-9]{32}$/, "session token is 32 alphanumerics");
  assertSessionCookie(b, data.token);
  alice.user = data.user;

  // The cookie from sign-up is a working session.
  const s = await b.client.getSession();
  assertNoError(s.error, "getSession after sign-up");
  assert.equal(s.data.user.id, alice.user.id);
  assert.equal(s.data.session.token, data.token);
});

test("sign-up with an existing email is refused with 422, whatever its case", T, async () => {
  needs(alice.user, "alice signed up");
  for (const email of [alice.email, alice.email.toUpperCase(), alice.email.toLowerCase()]) {
    const b = new Browser();
    const { data, error } = await b.client.signUp.email({ name: "Mallory", email, password: PASSWORD });
    assert.equal(data, null);
    assertApiError(error, 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.");
    assert.equal(b.setCookie(SESSION_COOKIE), undefined, "no session cookie on a refused sign-up");
  }
});

test("sign-up with a password under 8 characters is refused with 400", T, async () => {
  const b = new Browser();
  const { data, error } = await b.client.signUp.email({
    name: "Shorty",
    email: `shorty.${RUN}@example.com`,
    password: "1234567",
  });
  assert.equal(data, null);
  assertApiError(error, 400, "PASSWORD_TOO_SHORT", "Password too short: use at least 8 characters");
  assert.equal(b.cookies.size, 0);
});

test("sign-in with a wrong password and with an unknown email fail identically", T, async () => {
  needs(alice.user, "alice signed up");
  const b = new Browser();
  const wrong = await b.client.signIn.email({ email: alice.email, password: "not the password" });
  assert.equal(wrong.data, null);
  assertApiError(wrong.error, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");

  const unknown = await b.client.signIn.email({ email: `nobody.${RUN}@example.com`, password: PASSWORD });
  assert.equal(unknown.data, null);
  assertApiError(unknown.error, wrong.error.status, wrong.error.code, wrong.error.message);
  assert.equal(b.cookies.size, 0, "no cookie after failed sign-ins");
});

test("sign-in with the right password returns the user and a new session", T, async () => {
  needs(alice.user, "alice signed up");
  const b = new Browser();
  // Mixed case again: sign-in lower-cases the email before looking it up.
  const { data, error } = await b.client.signIn.email({ email: alice.email, password: PASSWORD });
  assertNoError(error, "signIn.email");
  assert.equal(data.redirect, false);
  assert.match(data.token, /^[A-Za-z0-9]{32}$/);
  assert.equal(data.user.id, alice.user.id);
  assert.equal(data.user.email, alice.email.toLowerCase());
  assertSessionCookie(b, data.token);
  alice.browser = b;
  alice.token = data.token;
});

test("getSession returns the session, the user and a set-auth-jwt header", T, async () => {
  needs(alice.browser, "alice signed in");
  let response;
  const { data, error } = await alice.browser.client.getSession({
    fetchOptions: {
      onSuccess(ctx) {
        response = ctx.response;
      },
    },
  });
  assertNoError(error, "getSession");
  assert.equal(data.user.id, alice.user.id);
  assert.equal(data.user.email, alice.email.toLowerCase());
  assert.equal(data.session.userId, alice.user.id);
  assert.equal(data.session.token, alice.token);
  assertIsDate(data.session.expiresAt, "session.expiresAt");
  const week = 7 * 24 * 3600 * 1000;
  assert.ok(Math.abs(data.session.expiresAt.getTime() - (Date.now() + week)) < 5 * 60 * 1000, "expires in 7 days");

  assert.ok(response, "onSuccess saw the response");
  assert.match(response.headers.get("cache-control") ?? "", /no-store/);
  const jwt = response.headers.get("set-auth-jwt");
  assert.ok(jwt, "set-auth-jwt header present");
  await assertValidJwt(jwt, data.user);
  // A cross-origin browser app can only read the header if it is exposed.
  assert.equal(response.headers.get("access-control-allow-origin"), TRUSTED_ORIGIN);
  assert.equal(response.headers.get("access-control-allow-credentials"), "true");
  assert.match(response.headers.get("access-control-expose-headers") ?? "", /set-auth-jwt/i);
});

test("token() returns an EdDSA JWT that verifies against the JWKS", T, async () => {
  needs(alice.browser, "alice signed in");
  const { data, error } = await alice.browser.client.token();
  assertNoError(error, "token()");
  const header = await assertValidJwt(data.token, alice.user);

  // jwtClient's jwks() action, as a backend would fetch it.
  const keys = await alice.browser.client.jwks();
  assertNoError(keys.error, "jwks()");
  const key = keys.data.keys.find((k) => k.kid === header.kid);
  assert.ok(key, `kid ${header.kid} is in the JWKS`);
  assert.equal(key.kty, "OKP");
  assert.equal(key.crv, "Ed25519");
  assert.equal(key.alg, "EdDSA");
  assert.match(key.x, /^[A-Za-z0-9_-]{43}$/, "x is 32 bytes, base64url");
  assert.equal(key.d, undefined, "no private key material in the JWKS");
});

test("signOut() ends the session: getSession is then null and the old cookie is dead", T, async () => {
  needs(alice.browser, "alice signed in");
  const b = alice.browser;
  const oldCookie = b.cookieHeader();
  const { data, error } = await b.client.signOut();
  assertNoError(error, "signOut");
  assert.deepEqual(data, { success: true });
  const cleared = b.setCookie(SESSION_COOKIE);
  assert.ok(cleared, "sign-out expires the session cookie");
  assert.equal(cleared.attrs["max-age"], "0");
  assert.equal(b.cookies.has(SESSION_COOKIE), false);

  const after = await b.client.getSession();
  assertNoError(after.error, "getSession after sign-out");
  assert.equal(after.data, null);

  // Replaying the old cookie does not work: the session row is gone.
  const replay = await raw("GET", "/token", { cookie: oldCookie });
  assert.equal(replay.status, 401);
  assert.equal(replay.json?.code, "UNAUTHORIZED");
  const replaySession = await raw("GET", "/get-session", { cookie: oldCookie });
  assert.equal(replaySession.status, 200);
  assert.equal(replaySession.text.trim(), "null");
});

// ---------------------------------------------------------------------------
// CSRF: a cookie-bearing POST needs a trusted Origin.
// ---------------------------------------------------------------------------

test("a cookie-bearing POST without a trusted Origin is refused with 403", T, async () => {
  const b = new Browser();
  const signUp = await b.client.signUp.email({ name: "Bob", email: `bob.${RUN}@example.com`, password: PASSWORD });
  assertNoError(signUp.error, "signUp.email (bob)");
  const cookie = b.cookieHeader();
  const json = { "content-type": "application/json" };

  const noOrigin = await raw("POST", "/sign-out", { ...json, cookie }, "{}");
  assert.equal(noOrigin.status, 403, noOrigin.text);
  assert.equal(noOrigin.json?.code, "MISSING_OR_NULL_ORIGIN");

  const evil = await raw("POST", "/sign-out", { ...json, cookie, origin: EVIL_ORIGIN }, "{}");
  assert.equal(evil.status, 403, evil.text);
  assert.equal(evil.json?.code, "INVALID_ORIGIN");

  // Neither attempt signed Bob out.
  const s = await b.client.getSession();
  assertNoError(s.error, "getSession (bob)");
  assert.equal(s.data?.user?.id, signUp.data.user.id, "bob is still signed in");
});

// ---------------------------------------------------------------------------
// CORS: Better Auth leaves it to the host; taskchat answers preflights for
// trusted origins only, with credentials.
// ---------------------------------------------------------------------------

test("CORS preflight from a trusted origin is allowed with credentials", T, async () => {
  const get = await raw("OPTIONS", "/get-session", {
    origin: TRUSTED_ORIGIN,
    "access-control-request-method": "GET",
  });
  assert.ok(get.status >= 200 && get.status < 300, `preflight status ${get.status}`);
  assert.equal(get.headers.get("access-control-allow-origin"), TRUSTED_ORIGIN);
  assert.equal(get.headers.get("access-control-allow-credentials"), "true");

  // The client POSTs JSON, which needs content-type allowed.
  const post = await raw("OPTIONS", "/sign-in/email", {
    origin: TRUSTED_ORIGIN,
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type",
  });
  assert.ok(post.status >= 200 && post.status < 300, `preflight status ${post.status}`);
  assert.equal(post.headers.get("access-control-allow-origin"), TRUSTED_ORIGIN);
  assert.equal(post.headers.get("access-control-allow-credentials"), "true");
  assert.match(post.headers.get("access-control-allow-methods") ?? "", /POST/i);
  assert.match(post.headers.get("access-control-allow-headers") ?? "", /content-type/i);
});

test("CORS preflight from an untrusted origin gets no Access-Control-Allow-Origin", T, async () => {
  const res = await raw("OPTIONS", "/get-session", {
    origin: EVIL_ORIGIN,
    "access-control-request-method": "GET",
  });
  assert.equal(res.headers.get("access-control-allow-origin"), null);
});
