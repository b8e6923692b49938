// Shared by the browser tests: the browser as run.sh starts it (Debian's headless Chromium through
// playwright-core), the pages under test, and small helpers. Run by run.sh, which passes TASKCHAT_URL,
// TASKCHAT_DB, CHROMIUM and SCREENSHOT_DIR.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, request } from "playwright-core";

export const BASE = process.env.TASKCHAT_URL || "http://127.0.0.1:8080";
export const DB = process.env.TASKCHAT_DB || "";
export const SHOTS = process.env.SCREENSHOT_DIR || fileURLToPath(new URL("../../docs/screenshots", import.meta.url));
export const WEB = fileURLToPath(new URL("../../web", import.meta.url));
const EXECUTABLE = process.env.CHROMIUM || "/usr/bin/chromium";
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--disable-quic",
  "--disable-default-apps",
  "--disable-extensions",
];
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const T = 30_000;


/** Every request any page made that did not go to the test server. */
export const foreign = [];
/** Uncaught errors in any page. */
export const pageErrors = [];
/** Temp profile dirs to remove at the end. */
export const profiles = [];
/** Contexts still open at the end. */
export const open = new Set();

/**
 * A browser with its own profile: cookies persist in it, so closing and relaunching it with the same dir is
 * a browser restart.
 */
export async function launch(dir = mkdtempSync(join(tmpdir(), "taskchat-profile-")), options = {}) {
  if (!profiles.includes(dir)) profiles.push(dir);
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: EXECUTABLE,
    args: ARGS,
    headless: true,
    viewport: DESKTOP,
    colorScheme: "light",
    reducedMotion: "reduce",
    ...options,
  });
  context.setDefaultTimeout(T);
  context.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(`${BASE}/`) && !u.startsWith("data:")) foreign.push(u);
  });
  context.on("page", watch);
  for (const p of context.pages()) watch(p);
  open.add(context);
  return { context, dir, page: context.pages()[0] || (await context.newPage()) };
}

/** @param {import("playwright-core").Page} page */
function watch(page) {
  page.on("pageerror", (e) => pageErrors.push(`${page.url()}: ${e.message}`));
}

export async function close(context) {
  open.delete(context);
  await context.close();
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  // No hover effects in the picture; let transitions settle into a stable frame.
  await page.mouse.move(0, 0);
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(SHOTS, name) });
}

export const composer = (page) => page.getByRole("textbox", { name: "Message" });
export const pendingList = (page) => page.locator("#pending-list");
export const doneList = (page) => page.locator("#done-list");
export const lastAnswer = (page) => page.locator(".msg.assistant:not(.streaming) .msg-body").last();

/** Sends a message with the keyboard and waits for the finished answer. */
export async function ask(page, text) {
  const before = await page.locator(".msg.assistant").count();
  await composer(page).fill(text);
  await composer(page).press("Enter");
  await page.locator(".msg.assistant:not(.streaming)").nth(before).waitFor();
  await page.locator("#send").waitFor({ state: "visible" });
  return (await lastAnswer(page).innerText()).trim();
}

export async function signIn(page, who, next = "") {
  await page.goto(`${BASE}/login${next}`);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/chat/);
}

/** A thread id from the page's URL. */
export const threadOf = (page) => new URL(page.url()).searchParams.get("thread");

/** Closes what is still open and removes the temp profiles. */
export async function cleanup() {
  for (const c of [...open]) await c.close().catch(() => {});
  for (const d of profiles) rmSync(d, { recursive: true, force: true });
}

/**
 * Signs a new person up through the API (no browser), with a zone if given; returns a request context
 * holding their session.
 * @param {{ name: string, email: string, password: string }} who
 * @param {string} [timezone]
 */
export async function apiPerson(who, timezone) {
  const api = await request.newContext({ baseURL: BASE, extraHTTPHeaders: { origin: BASE } });
  const res = await api.post("/api/auth/sign-up/email", { data: who });
  if (!res.ok()) throw new Error(`sign-up: ${res.status()} ${await res.text()}`);
  if (timezone) {
    const z = await api.post("/api/auth/update-user", { data: { timezone } });
    if (!z.ok()) throw new Error(`update-user: ${z.status()} ${await z.text()}`);
  }
  return api;
}

/**
 * The date `days` from today on a zone's calendar, YYYY-MM-DD.
 * @param {string} zone
 * @param {number} [days]
 */
export function zoneDate(zone, days = 0) {
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  return new Date(Date.parse(`${today}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}
