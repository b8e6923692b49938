// The task panel's rich tasks in a real browser: due dates in the person's zone, the zone taken from the
// browser once, filters/search/sort as the server answers them, inline edits of due, priority and labels,
// paging through 1,200 tasks, and live changes patching their row. Run by run.sh (see browser.mjs).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiPerson, BASE, cleanup, close, foreign, launch, pageErrors, signIn, zoneDate } from "./browser.mjs";

const AUCKLAND = "Pacific/Auckland";
const kiri = { name: "Kiri Tane", email: "kiri@example.com", password: "kia ora koutou katoa" };
const nia = { name: "Nia Young", email: "nia@example.com", password: "empire state of mind" };
const pat = { name: "Pat Many", email: "pat@example.com", password: "twelve hundred tasks" };

const rows = (page) => page.locator("#pending-list .task");
const row = (page, n) => page.locator(`.task[data-number="${n}"]`);
/** The task numbers the pending list shows, in order. */
const shown = (page) => page.$$eval("#pending-list .task", (lis) => lis.map((li) => Number(li.getAttribute("data-number"))));

/** Task numbers the server lists for these filters (every page). */
async function listed(api, params) {
  const out = [];
  let cursor = "";
  for (;;) {
    const q = new URLSearchParams({ ...params, limit: "1000", ...(cursor ? { cursor } : {}) });
    const r = await (await api.get(`/api/tasks?${q}`)).json();
    out.push(...r.tasks.map((t) => t.number));
    if (!r.next_cursor) return out;
    cursor = r.next_cursor;
  }
}

async function create(api, data) {
  const res = await api.post("/api/tasks", { data });
  assert.equal(res.status(), 201, await res.text());
  return (await res.json()).number;
}

const task = async (api, n) => (await api.get(`/api/tasks/${n}`)).json();

/** Waits until the pending list shows exactly these numbers, in this order. */
async function expectShown(page, numbers) {
  await page.waitForFunction(
    (want) => [...document.querySelectorAll("#pending-list .task")].map((li) => li.getAttribute("data-number")).join() === want.join(),
    numbers,
  ).catch(() => {});
  assert.deepEqual(await shown(page), numbers);
}

describe("rich tasks in the panel", { timeout: 300_000 }, () => {
  let api;
  let page;
  let context;
  /** Kiri's tasks by name. */
  const n = {};

  before(async () => {
    api = await apiPerson(kiri, AUCKLAND);
    const z = (d) => zoneDate(AUCKLAND, d);
    n.today = await create(api, { title: "pay the rent", due: z(0), labels: ["home"] });
    n.tomorrow = await create(api, { title: "water the garden", due: { date: z(1), time: "09:00" }, priority: "high", labels: ["home", "garden"] });
    n.overdue = await create(api, { title: "file the taxes", due: z(-2), priority: "urgent" });
    n.soon = await create(api, { title: "call grandma", due: `${z(3)} 18:30`, priority: "low" });
    n.later = await create(api, { title: "book the flights", due: z(12), priority: "medium", labels: ["travel"] });
    n.none = await create(api, { title: "read a novel" });
    n.done = await create(api, { title: "renew the library card", due: z(-1) });
    await api.post(`/api/tasks/${n.done}/complete`);
    // The browser runs on Los Angeles time: 21 hours from Auckland, so most of the day their "today"s differ.
    ({ context, page } = await launch(undefined, { timezoneId: "America/Los_Angeles" }));
    await signIn(page, kiri);
    await rows(page).nth(5).waitFor();
  });

  after(async () => {
    await api.dispose();
    await cleanup();
  });

  test("dues read in the person's zone (Pacific/Auckland, not the browser's); priority flags and label chips", async () => {
    const due = (k) => row(page, n[k]).locator(".due").innerText();
    assert.equal(await due("today"), "today");
    assert.equal(await due("tomorrow"), "tomorrow 09:00");
    assert.equal(await due("overdue"), "overdue by 2 days");
    assert.ok(await row(page, n.overdue).locator(".due.overdue").isVisible(), "overdue is marked");
    const red = await row(page, n.overdue).locator(".due").evaluate((e) => getComputedStyle(e).color);
    const [r, g, b] = red.match(/\d+/g).map(Number);
    assert.ok(r > 150 && g < 80 && b < 80, `overdue is red, got ${red}`);
    const weekday = new Intl.DateTimeFormat("en-GB", { weekday: "long", timeZone: "UTC" }).format(new Date(`${zoneDate(AUCKLAND, 3)}T00:00:00Z`));
    assert.equal(await due("soon"), `${weekday} 18:30`);
    const later = new Date(`${zoneDate(AUCKLAND, 12)}T00:00:00Z`);
    const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" }).formatToParts(later).map((x) => [x.type, x.value]));
    const year = later.getUTCFullYear() === Number(zoneDate(AUCKLAND).slice(0, 4)) ? "" : ` ${later.getUTCFullYear()}`;
    assert.equal(await due("later"), `${p.weekday} ${p.day} ${p.month}${year}`);
    assert.equal(await row(page, n.none).locator(".due").count(), 0);
    // A finished task is never overdue.
    assert.equal(await row(page, n.done).locator(".due.overdue").count(), 0);
    assert.equal(await row(page, n.overdue).locator(".flag.p-urgent").textContent(), "urgent priority");
    assert.equal(await row(page, n.tomorrow).locator(".flag.p-high").count(), 1);
    assert.equal(await row(page, n.none).locator(".flag").count(), 0);
    assert.deepEqual(await row(page, n.tomorrow).locator(".task-meta .chip").allInnerTexts(), ["home", "garden"]);
    // Kiri chose her zone: the browser's does not replace it.
    const s = await (await page.request.get(`${BASE}/api/auth/get-session`)).json();
    assert.equal(s.user.timezone, AUCKLAND);
  });

  test("filters, search and sort: the request carries them and the list is what the server answers", async () => {
    const view = async (name, params) => {
      const req = page.waitForRequest((r) => r.url().includes("/api/tasks?") && r.url().includes("status=pending"));
      await page.locator(".views label", { hasText: name }).click();
      const url = new URL((await req).url());
      for (const [k, v] of Object.entries(params)) assert.equal(url.searchParams.get(k), v, `${k} in ${url}`);
      await expectShown(page, await listed(api, { status: "pending", sort: "number", ...params }));
    };
    await view("Today", { due: "today" });
    assert.deepEqual(await shown(page), [n.today]);
    assert.ok(await page.locator("#done-group").isHidden(), "Today shows pending tasks only");
    await view("Overdue", { due: "overdue" });
    assert.deepEqual(await shown(page), [n.overdue]);
    await view("Upcoming", { due: "upcoming" });
    assert.deepEqual(await shown(page), [n.today, n.tomorrow, n.soon, n.later]);
    await page.locator(".views label", { hasText: "Done" }).click();
    await page.locator("#done-list .task").first().waitFor();
    assert.ok(await page.locator("#pending-group").isHidden());
    assert.deepEqual(await page.locator("#done-list .task").evaluateAll((l) => l.map((e) => Number(e.getAttribute("data-number")))), [n.done]);
    await view("All", {});
    // A day picked in the date box: due on that day in Kiri's zone (on:YYYY-MM-DD).
    const day = zoneDate(AUCKLAND, 3);
    const dayReq = page.waitForRequest((r) => r.url().includes("/api/tasks?") && r.url().includes("status=pending"));
    await page.getByLabel("Due on").fill(day);
    assert.equal(new URL((await dayReq).url()).searchParams.get("due"), `on:${day}`);
    await expectShown(page, await listed(api, { status: "pending", sort: "number", due: `on:${day}` }));
    assert.deepEqual(await shown(page), [n.soon]);
    // A due view replaces the day.
    await view("Today", { due: "today" });
    assert.equal(await page.getByLabel("Due on").inputValue(), "");
    await view("All", {});
    // A label, from /api/labels with its count.
    await page.getByLabel("Label", { exact: true }).selectOption("home");
    assert.match(await page.locator("#task-label option:checked").innerText(), /^home \(2\)$/);
    await expectShown(page, await listed(api, { status: "pending", sort: "number", label: "home" }));
    assert.deepEqual(await shown(page), [n.today, n.tomorrow]);
    await page.getByLabel("Label", { exact: true }).selectOption("");
    // The search box (debounced: one request for the whole word).
    const searches = [];
    const onReq = (r) => r.url().includes("q=") && searches.push(new URL(r.url()).searchParams.get("q"));
    page.on("request", onReq);
    await page.getByRole("searchbox", { name: "Search tasks" }).pressSequentially("garden", { delay: 30 });
    await expectShown(page, await listed(api, { status: "pending", sort: "number", q: "garden" }));
    assert.deepEqual(await shown(page), [n.tomorrow]);
    assert.ok(searches.includes("garden") && !searches.includes("g"), `debounced: ${searches}`);
    page.off("request", onReq);
    await page.getByRole("searchbox", { name: "Search tasks" }).fill("");
    // Sort by priority: the server's order.
    await page.getByLabel("Sort by").selectOption("priority");
    await expectShown(page, await listed(api, { status: "pending", sort: "priority" }));
    assert.deepEqual((await shown(page)).slice(0, 2), [n.overdue, n.tomorrow]);
    await page.getByLabel("Sort by").selectOption("number");
    await expectShown(page, await listed(api, { status: "pending", sort: "number" }));
    assert.equal(await page.locator("#pending-count").innerText(), "6");
  });

  test("due, priority and labels edit inline, each a PATCH the REST API shows", async () => {
    const k = n.none;
    const more = page.getByRole("button", { name: `Due, priority and labels of task ${k}: read a novel` });
    await more.click();
    assert.equal(await more.getAttribute("aria-expanded"), "true");
    const details = page.getByRole("group", { name: `Details of task ${k}` });
    const dueField = details.getByLabel("Due");
    assert.ok(await dueField.evaluate((e) => e === document.activeElement), "the due field has focus");
    await dueField.fill(`${zoneDate(AUCKLAND, 1)} 17:00`);
    await dueField.press("Enter");
    await row(page, k).locator(".due", { hasText: "tomorrow 17:00" }).waitFor();
    assert.deepEqual((await task(api, k)).due.date, zoneDate(AUCKLAND, 1));
    assert.equal((await task(api, k)).due.time, "17:00");
    await details.getByLabel("Priority").selectOption("urgent");
    await row(page, k).locator(".flag.p-urgent").waitFor();
    assert.equal((await task(api, k)).priority, "urgent");
    const add = details.getByRole("textbox", { name: `Add a label to task ${k}` });
    await add.fill("books");
    await add.press("Enter");
    await row(page, k).locator(".task-meta .chip", { hasText: "books" }).waitFor();
    await add.fill("winter");
    await add.press("Enter");
    await details.locator(".chips .chip", { hasText: "winter" }).waitFor();
    assert.equal(await add.inputValue(), "");
    assert.deepEqual((await task(api, k)).labels, ["books", "winter"]);
    await details.getByRole("button", { name: `Remove label books from task ${k}` }).click();
    await details.locator(".chips .chip", { hasText: "books" }).waitFor({ state: "detached" });
    assert.deepEqual((await task(api, k)).labels, ["winter"]);
    // An empty due clears it.
    await dueField.fill("");
    await dueField.press("Enter");
    await row(page, k).locator(".due").waitFor({ state: "detached" });
    assert.equal((await task(api, k)).due, null);
    // Escape closes the editor; focus goes back to its button.
    await dueField.press("Escape");
    await details.waitFor({ state: "detached" });
    assert.ok(await more.evaluate((e) => e === document.activeElement), "focus is back on the button");
    assert.equal(await more.getAttribute("aria-expanded"), "false");
  });

  test("a due the server can't read shows its message inline; what was typed stays and the task is unchanged", async () => {
    const k = n.tomorrow;
    const before = await task(api, k);
    await page.getByRole("button", { name: `Due, priority and labels of task ${k}: water the garden` }).click();
    const details = page.getByRole("group", { name: `Details of task ${k}` });
    const dueField = details.getByLabel("Due");
    await dueField.fill("the second blursday of smarch");
    await dueField.press("Enter");
    const alert = details.getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.innerText(), /blursday of smarch/);
    assert.equal(await dueField.inputValue(), "the second blursday of smarch");
    assert.equal(await dueField.getAttribute("aria-invalid"), "true");
    assert.deepEqual(await task(api, k), before);
    assert.equal(await row(page, k).locator(".due").innerText(), "tomorrow 09:00");
    await dueField.press("Escape");
  });

  test("a list reload answered from before a change made meanwhile does not bring the old task back", async () => {
    const k = n.none;
    // Hold the next list answers: each is fetched at once (a snapshot from before the rename), delivered later.
    /** @type {() => void} */
    let release = () => {};
    const held = new Promise((r) => (release = () => r(undefined)));
    let fetched = 0;
    await page.route(/\/api\/tasks\?/, async (route) => {
      const res = await route.fetch();
      fetched++;
      await held;
      await route.fulfill({ response: res });
    });
    // What reloads the panel after an assistant's turn, after a resync or on coming back online.
    await page.evaluate(() => window.dispatchEvent(new Event("online")));
    await page.waitForFunction(() => true);
    for (let i = 0; i < 100 && fetched < 1; i++) await page.waitForTimeout(20);
    assert.ok(fetched >= 1, "the reload's list request was made");
    await row(page, k).locator("[data-role=edit]").click();
    const edit = page.getByRole("textbox", { name: `New title for task ${k}` });
    await edit.fill("read a long novel");
    await edit.press("Enter");
    await row(page, k).locator(".task-text", { hasText: "read a long novel" }).waitFor();
    const delivered = page.waitForResponse((r) => r.url().includes("/api/tasks?"));
    release();
    await delivered;
    await page.unroute(/\/api\/tasks\?/);
    await page.waitForTimeout(200);
    assert.equal(await row(page, k).locator(".task-text").innerText(), "read a long novel", "the stale page's title came back");
    assert.equal((await task(api, k)).title, "read a long novel");
  });

  test("a due and priority change made through the REST API shows live, patching that row alone", async () => {
    const k = n.soon;
    // Mark every row element: a re-rendered list would lose the marks.
    await page.$$eval(".task", (lis) => lis.forEach((li) => (/** @type {any} */ (li).__mark = 1)));
    const res = await api.patch(`/api/tasks/${k}`, { data: { due: { date: zoneDate(AUCKLAND, 1), time: "08:15" }, priority: "high" } });
    assert.equal(res.status(), 200);
    await row(page, k).locator(".due", { hasText: "tomorrow 08:15" }).waitFor({ timeout: 5_000 });
    await row(page, k).locator(".flag.p-high").waitFor();
    const marks = await page.$$eval(".task", (lis) => lis.map((li) => /** @type {any} */ (li).__mark === 1));
    assert.ok(marks.length >= 6 && marks.every(Boolean), `every row element was kept: ${marks}`);
    // Completed elsewhere: the row moves to Done.
    await api.post(`/api/tasks/${k}/complete`);
    await page.locator(`#done-list .task[data-number="${k}"]`).waitFor({ timeout: 5_000 });
    assert.equal(await page.locator(`#pending-list .task[data-number="${k}"]`).count(), 0);
    await close(context);
  });

  test("on first sign-in the browser's time zone becomes the person's, once", async () => {
    const niaApi = await apiPerson(nia);
    const zoneNow = async () => (await (await niaApi.get("/api/auth/get-session")).json()).user.timezone;
    assert.equal(await zoneNow(), "UTC");
    const b = await launch(undefined, { timezoneId: "America/New_York" });
    await signIn(b.page, nia);
    await b.page.getByText("Nothing pending.").waitFor();
    for (let i = 0; i < 50 && (await zoneNow()) !== "America/New_York"; i++) await b.page.waitForTimeout(100);
    assert.equal(await zoneNow(), "America/New_York");
    // She sets UTC herself later: the app does not set it again.
    await niaApi.post("/api/auth/update-user", { data: { timezone: "UTC" } });
    await b.page.reload();
    await b.page.getByText("Nothing pending.").waitFor();
    await b.page.waitForTimeout(300);
    assert.equal(await zoneNow(), "UTC");
    await niaApi.dispose();
    await close(b.context);
  });

  test("1,200 tasks page in 100 at a time as the list scrolls; all 1,200 at the end", async () => {
    const patApi = await apiPerson(pat);
    const started = Date.now();
    let next = 1;
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        while (next <= 1200) {
          const i = next++;
          const res = await patApi.post("/api/tasks", { data: { title: `bulk task ${i}`, labels: i % 10 ? [] : ["tenth"] } });
          assert.equal(res.status(), 201);
        }
      }),
    );
    console.log(`# created 1,200 tasks in ${Date.now() - started} ms`);
    const b = await launch();
    const cursors = [];
    b.page.on("request", (r) => r.url().includes("cursor=") && cursors.push(r.url()));
    await signIn(b.page, pat);
    await b.page.locator("#pending-count", { hasText: "100+" }).waitFor();
    assert.equal(await rows(b.page).count(), 100, "the first load holds one page");
    const scrolled = Date.now();
    for (let i = 0; i < 40; i++) {
      if ((await b.page.locator("#pending-count").innerText()) === "1200") break;
      await b.page.locator("#tasks").evaluate((e) => e.scrollTo(0, e.scrollHeight));
      await b.page.waitForTimeout(150);
    }
    assert.equal(await b.page.locator("#pending-count").innerText(), "1200");
    assert.equal(await rows(b.page).count(), 1200);
    assert.ok(cursors.length >= 11, `pages after the first came by cursor: ${cursors.length}`);
    console.log(`# scrolled through 1,200 tasks in ${Date.now() - scrolled} ms`);
    const numbers = await shown(b.page);
    assert.deepEqual(numbers, Array.from({ length: 1200 }, (_, i) => i + 1));
    await patApi.dispose();
    await close(b.context);
  });

  test("no page error and every request to the server itself", () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(foreign, []);
  });
});
