// The web app in a real browser: Debian's headless Chromium driven by playwright-core against the running
// binary (builtin assistant, SQLite in a temp dir). Run by run.sh, which starts the server and passes
// TASKCHAT_URL, TASKCHAT_DB, CHROMIUM and SCREENSHOT_DIR. The tests run in order and share the accounts.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  ask,
  BASE,
  cleanup,
  close,
  composer,
  DB,
  doneList,
  foreign,
  lastAnswer,
  launch,
  pageErrors,
  pendingList,
  PHONE,
  shot,
  signIn,
  threadOf,
  WEB,
  zoneDate,
} from "./browser.mjs";

// Fixed addresses (each run has a fresh database) keep the screenshots the same from run to run.
const ada = { name: "Ada Lovelace", email: "ada@example.com", password: "correct horse battery" };
const bob = { name: "Bob Brown", email: "bob@example.com", password: "another long secret" };


describe("taskchat in the browser", { timeout: 300_000 }, () => {
  /** Ada's browser: a persistent profile so it can be restarted. */
  let a;
  let adaThread = "";

  before(async () => {
    a = await launch();
  });

  after(cleanup);

  test("/ sends a visitor to the sign-in page; it has labelled fields, inline checks and a link to sign up", async () => {
    const { page } = a;
    await page.goto(BASE);
    assert.match(page.url(), /\/login$/);
    await assert.doesNotReject(page.getByLabel("Email").waitFor());
    await page.getByLabel("Email").fill("not-an-email");
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("That doesn't look like an email address.").waitFor();
    await page.getByText("Passwords have at least 8 characters.").waitFor();
    assert.equal(await page.getByLabel("Email").getAttribute("aria-invalid"), "true");
    // A wrong password does not say which part was wrong.
    await page.getByLabel("Email").fill("nobody@example.com");
    await page.getByLabel("Password").fill("wrong password here");
    await page.getByRole("button", { name: "Sign in" }).click();
    const err = page.getByRole("alert");
    await err.getByText("don't match an account").waitFor();
    const text = (await err.innerText()).toLowerCase();
    assert.ok(!text.includes("wrong password") && !text.includes("no account"), text);
    // Guessing on: past 5 wrong passwords the account is locked for a doubling delay, and the page says how long.
    let locked = "";
    for (let i = 0; i < 12 && !locked; i++) {
      const answer = page.waitForResponse((r) => r.url().endsWith("/api/auth/sign-in/email"));
      await page.getByRole("button", { name: "Sign in" }).click();
      if ((await answer).status() === 429) {
        await err.getByText("Too many attempts").waitFor();
        locked = await err.innerText();
      }
    }
    assert.match(locked, /Please wait \d+ seconds? and try again/);
    await page.getByLabel("Email").fill("");
    await page.getByLabel("Password").fill("");
    await page.goto(`${BASE}/login`);
    await shot(page, "login.png");
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.waitForURL(/\/signup$/);
  });

  test("sign up shows the welcome state with example requests, the person's name and an empty task list", async () => {
    const { page } = a;
    await page.getByLabel("Name").fill(ada.name);
    await page.getByLabel("Email").fill(ada.email);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByText("Passwords have at least 8 characters.").waitFor();
    await page.getByLabel("Password").fill(ada.password);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL(`${BASE}/chat`);
    await page.getByRole("heading", { name: "What needs doing?" }).waitFor();
    assert.ok(await page.getByRole("button", { name: "Add a task to buy milk" }).isVisible());
    await page.locator("#user-name", { hasText: ada.name }).waitFor();
    await page.getByText("Nothing pending.").waitFor();
    assert.equal(await page.locator("#thread-list li").count(), 0);
    await assert.doesNotReject(composer(page).waitFor());
    assert.ok(await composer(page).evaluate((e) => e === document.activeElement), "the message box has focus");
    await shot(page, "chat-empty.png");
  });

  test("a taken email is refused kindly, with a way to sign in", async () => {
    const { context } = a;
    const page = await context.newPage();
    await page.goto(`${BASE}/signup`);
    // Signed in: the sign-up page sends Ada to the chat instead.
    assert.match(page.url(), /\/chat$/);
    await page.close();
    const other = await launch();
    const p = other.page;
    await p.goto(`${BASE}/signup`);
    await p.getByLabel("Name").fill("Someone");
    await p.getByLabel("Email").fill(ada.email);
    await p.getByLabel("Password").fill("yet another password");
    await p.getByRole("button", { name: "Create account" }).click();
    await p.getByText("There's already an account with this email.").waitFor();
    assert.ok(await p.getByRole("alert").getByRole("link", { name: "Sign in" }).isVisible());
    await close(other.context);
  });

  test("“add a task to buy milk”: the answer streams, the tool activity shows, the task appears in the panel", async () => {
    const { page } = a;
    const streamed = page.waitForResponse((r) => r.url() === `${BASE}/chatkit` && r.request().postData()?.includes("threads.create"));
    const answer = await ask(page, "add a task to buy milk");
    const res = await streamed;
    assert.match(res.headers()["content-type"], /^text\/event-stream/);
    assert.match(answer, /buy milk/i);
    await page.locator(".activity").getByText("Added task 1: buy milk").waitFor();
    await pendingList(page).getByText("buy milk").waitFor();
    adaThread = threadOf(page) || "";
    assert.ok(adaThread, "the new thread is in the URL");
    // The thread is listed with its title, selected.
    const link = page.locator(`#thread-list a[aria-current="page"]`);
    await link.waitFor();
    assert.ok((await link.innerText()).trim().length > 0);
    assert.equal(await page.locator(".msg.user .msg-body").first().innerText(), "add a task to buy milk");
  });

  test("the answer appears word by word, and the stop button aborts a reply", async () => {
    const { page } = a;
    // Slow the stream down in the page (one event every 120 ms) to watch it arrive.
    await page.evaluate(() => {
      const real = window.fetch;
      window.fetch = async (input, init) => {
        const res = await real(input, init);
        const type = res.headers.get("content-type") || "";
        if (!type.startsWith("text/event-stream") || !res.body) return res;
        const text = await res.text();
        const events = text.split("\n\n").filter(Boolean);
        const signal = init && init.signal;
        const body = new ReadableStream({
          async pull(ctrl) {
            const next = events.shift();
            if (next === undefined) return ctrl.close();
            await new Promise((r) => setTimeout(r, 120));
            if (signal && signal.aborted) return ctrl.error(new DOMException("aborted", "AbortError"));
            ctrl.enqueue(new TextEncoder().encode(`${next}\n\n`));
          },
        });
        return new Response(body, { status: res.status, headers: res.headers });
      };
    });
    await composer(page).fill("what's still pending?");
    await composer(page).press("Enter");
    await page.locator("#stop").waitFor({ state: "visible" });
    assert.ok(await composer(page).isDisabled(), "the box is disabled while a reply streams");
    const streaming = page.locator(".msg.assistant.streaming .msg-body");
    await streaming.waitFor();
    const lengths = new Set();
    for (let i = 0; i < 12 && (await streaming.count()); i++) {
      lengths.add((await streaming.innerText().catch(() => "")).length);
      await page.waitForTimeout(100);
    }
    assert.ok(lengths.size >= 3, `the text grew in steps: ${[...lengths]}`);
    await page.locator(".msg.assistant:not(.streaming)").nth(1).waitFor();
    // Now stop one mid-way.
    await composer(page).fill("what's still pending?");
    await composer(page).press("Enter");
    await page.locator("#stop").waitFor({ state: "visible" });
    await page.locator(".msg.assistant.streaming").waitFor();
    await page.locator("#stop").click();
    await page.locator(".messages .stopped").waitFor();
    assert.ok(!(await composer(page).isDisabled()), "the box is usable again");
    assert.ok(await page.locator("#send").isVisible());
    await page.reload();
  });

  test("ticking the task done in the panel is seen by the assistant", async () => {
    const { page } = a;
    await pendingList(page).getByText("buy milk").waitFor();
    await page.getByRole("checkbox", { name: /buy milk/ }).check();
    await doneList(page).getByText("buy milk").waitFor();
    assert.equal(await pendingList(page).getByText("buy milk").count(), 0);
    const answer = await ask(page, "what's done?");
    assert.match(answer, /buy milk/i);
  });

  test("the panel edits a title inline, reopens, deletes, and the assistant's changes show at once", async () => {
    const { page } = a;
    await ask(page, "add a task to call the plumber");
    await pendingList(page).getByText("call the plumber").waitFor();
    await page.getByRole("button", { name: /Edit task 2/ }).click();
    const edit = page.getByRole("textbox", { name: "New title for task 2" });
    await edit.fill("call the plumber about the sink");
    await edit.press("Enter");
    await pendingList(page).getByText("call the plumber about the sink").waitFor();
    // Escape cancels an edit.
    await page.getByRole("button", { name: /Edit task 2/ }).click();
    await page.getByRole("textbox", { name: "New title for task 2" }).fill("nope");
    await page.getByRole("textbox", { name: "New title for task 2" }).press("Escape");
    await pendingList(page).getByText("call the plumber about the sink").waitFor();
    // Nothing was saved either (the input's blur as Escape removes it once saved what was typed).
    await page.waitForTimeout(200);
    const kept = await (await page.request.get(`${BASE}/api/tasks/2`)).json();
    assert.equal(kept.title, "call the plumber about the sink");
    // Reopen the done one, then finish it again.
    await page.getByRole("checkbox", { name: /buy milk/ }).uncheck();
    await pendingList(page).getByText("buy milk").waitFor();
    await page.getByRole("checkbox", { name: /buy milk/ }).check();
    await doneList(page).getByText("buy milk").waitFor();
    // Added here, deleted here.
    await page.getByLabel("New task").fill("water the plants");
    await page.getByLabel("New task").press("Enter");
    await pendingList(page).getByText("water the plants").waitFor();
    await page.getByRole("button", { name: /Delete task 3/ }).click();
    await pendingList(page).getByText("water the plants").waitFor({ state: "detached" });
    // Undo brings it back under its number; deleting it again keeps the story below as it was.
    await page.getByRole("button", { name: "Undo" }).click();
    await pendingList(page).getByText("water the plants").waitFor();
    await page.getByRole("button", { name: /Delete task 3/ }).waitFor();
    await page.getByRole("button", { name: /Delete task 3/ }).click();
    await pendingList(page).getByText("water the plants").waitFor({ state: "detached" });
    await ask(page, "add a task to book the dentist");
    await pendingList(page).getByText("book the dentist").waitFor();
  });

  test("a refresh keeps the person signed in, in the same thread, with the same tasks", async () => {
    const { page } = a;
    await page.reload();
    assert.equal(threadOf(page), adaThread);
    await page.locator(".msg.user").first().waitFor();
    assert.ok((await page.locator(".msg.assistant").count()) >= 3);
    await page.locator(".activity").getByText("Added task 1: buy milk").waitFor();
    await doneList(page).getByText("buy milk").waitFor();
    await pendingList(page).getByText("book the dentist").waitFor();
  });

  test("a browser restart keeps the person signed in", async () => {
    await close(a.context);
    a = await launch(a.dir);
    const { page } = a;
    await page.goto(BASE);
    assert.equal(new URL(page.url()).pathname, "/chat", `still signed in after the restart (at ${page.url()})`);
    await page.locator("#user-name", { hasText: ada.name }).waitFor();
    await page.locator("#thread-list a").first().click();
    await page.waitForURL(new RegExp(`thread=${adaThread}`));
    await page.locator(".activity").getByText("Added task 1: buy milk").waitFor();
  });

  test("changes made elsewhere (another tab, the REST API) show up live", async () => {
    const { page, context } = a;
    const res = await context.request.post(`${BASE}/api/tasks`, {
      data: { title: "water the ferns" },
      headers: { origin: BASE },
    });
    assert.equal(res.status(), 201);
    await pendingList(page).getByText("water the ferns").waitFor();
  });

  test("a change made while the page is still connecting its live updates is not missed", async () => {
    const { context } = a;
    const page = await context.newPage();
    // The event stream connects late; a task is added meanwhile, after the page has started loading.
    /** @type {() => void} */
    let release = () => {};
    const held = new Promise((resolve) => (release = () => resolve(undefined)));
    await page.route("**/api/events", async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${BASE}/chat`);
    await page.locator("#user-name").waitFor();
    const res = await context.request.post(`${BASE}/api/tasks`, {
      data: { title: "repot the basil" },
      headers: { origin: BASE },
    });
    assert.equal(res.status(), 201);
    release();
    await pendingList(page).getByText("repot the basil").waitFor();
    await page.close();
  });

  test("at phone width the sidebar collapses into a drawer, and the task panel too", async () => {
    const phone = await launch(a.dir + "-phone", { viewport: PHONE, isMobile: true, hasTouch: true });
    const { page } = phone;
    await signIn(page, ada, `?next=${encodeURIComponent(`/chat?thread=${adaThread}`)}`);
    assert.equal(threadOf(page), adaThread);
    await page.locator(".msg.assistant").first().waitFor();
    assert.ok(!(await page.locator("#sidebar").isVisible()), "the sidebar is hidden");
    assert.ok(!(await page.locator("#tasks").isVisible()), "the task panel is hidden");
    await page.getByRole("button", { name: "Conversations" }).click();
    await page.locator("#sidebar").waitFor({ state: "visible" });
    await page.keyboard.press("Escape");
    await page.locator("#sidebar").waitFor({ state: "hidden" });
    await page.getByRole("button", { name: /Tasks/ }).click();
    await page.locator("#tasks").waitFor({ state: "visible" });
    await pendingList(page).getByText("book the dentist").waitFor();
    await page.keyboard.press("Escape");
    await page.locator("#tasks").waitFor({ state: "hidden" });
    await close(phone.context);
  });

  test("the dark theme follows the system", async () => {
    const dark = await launch(a.dir + "-dark", { colorScheme: "dark" });
    const { page } = dark;
    await signIn(page, ada, `?next=${encodeURIComponent(`/chat?thread=${adaThread}`)}`);
    await page.locator(".msg.assistant").first().waitFor();
    await doneList(page).getByText("buy milk").waitFor();
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 120, `dark background, got ${bg}`);
    await page.goto(`${BASE}/login`).catch(() => {});
    await close(dark.context);
  });

  test("a second person in another browser sees none of it", async () => {
    const b = await launch();
    const { page } = b;
    await page.goto(`${BASE}/signup`);
    await page.getByLabel("Name").fill(bob.name);
    await page.getByLabel("Email").fill(bob.email);
    await page.getByLabel("Password").fill(bob.password);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL(`${BASE}/chat`);
    await page.getByText("Nothing pending.").waitFor();
    assert.equal(await page.locator("#thread-list li").count(), 0);
    assert.equal(await page.locator(".task").count(), 0);
    // Ada's thread by its address: not found, nothing shown.
    await page.goto(`${BASE}/chat?thread=${adaThread}`);
    await page.getByText("This conversation doesn't exist").waitFor();
    assert.equal(await page.locator(".msg").count(), 0);
    assert.equal(await page.locator("#messages, #tasks").getByText("buy milk").count(), 0);
    await close(b.context);
  });

  test("two windows of one person stay in step; another person's window receives nothing", async () => {
    const { page: first, context } = a;
    const second = await launch();
    const bobs = await launch();
    await signIn(second.page, ada);
    await signIn(bobs.page, bob);
    await bobs.page.getByText("Nothing pending.").waitFor();
    const res = await context.request.post(`${BASE}/api/tasks`, {
      data: { title: "feed the cat" },
      headers: { origin: BASE },
    });
    assert.equal(res.status(), 201);
    await pendingList(first).getByText("feed the cat").waitFor();
    await pendingList(second.page).getByText("feed the cat").waitFor();
    // Completed in the second window: the first shows it done, without a refresh.
    const started = Date.now();
    await second.page.getByRole("checkbox", { name: /feed the cat/ }).check();
    await doneList(first).getByText("feed the cat").waitFor({ timeout: 5_000 });
    console.log(`# the first window showed the change ${Date.now() - started} ms after the click in the second`);
    assert.equal(await pendingList(first).getByText("feed the cat").count(), 0);
    // Bob's window, open all along, never saw any of Ada's tasks.
    assert.equal(await bobs.page.locator(".task").count(), 0);
    assert.equal(await bobs.page.getByText("feed the cat").count(), 0);
    await close(second.context);
    await close(bobs.context);
  });

  test("thread rename and delete (with a confirmation that Escape cancels)", async () => {
    const { page } = a;
    await page.goto(`${BASE}/chat`);
    await ask(page, "add a task to renew the passport");
    const id = threadOf(page);
    assert.ok(id && id !== adaThread);
    await page.locator("#thread-list li").nth(1).waitFor();
    // The newest thread is first.
    assert.equal(await page.locator("#thread-list a").first().getAttribute("aria-current"), "page");
    await page.locator("#thread-list li").first().hover();
    await page.locator("#thread-list li").first().getByRole("button", { name: /^Rename/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Title").fill("Passport errands");
    await dialog.getByRole("button", { name: "Rename" }).click();
    await page.locator("#thread-list a", { hasText: "Passport errands" }).waitFor();
    assert.equal(await page.locator("#thread-title").innerText(), "Passport errands");
    // Delete: Escape closes the dialog and keeps the thread.
    await page.locator("#thread-list li").first().getByRole("button", { name: /^Delete/ }).click();
    await dialog.waitFor();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    assert.equal(await page.locator("#thread-list a", { hasText: "Passport errands" }).count(), 1);
    await page.locator("#thread-list li").first().getByRole("button", { name: /^Delete/ }).click();
    await dialog.getByRole("button", { name: "Delete" }).click();
    await page.locator("#thread-list a", { hasText: "Passport errands" }).waitFor({ state: "detached" });
    assert.equal(new URL(page.url()).search, "");
    await page.getByRole("heading", { name: "What needs doing?" }).waitFor();
    // Its task stays.
    await pendingList(page).getByText("renew the passport").waitFor();
  });

  test("keyboard only: sign in, then send a message (visible focus, Enter sends, Shift+Enter adds a line)", async () => {
    const k = await launch();
    const { page } = k;
    await page.goto(`${BASE}/chat`);
    await page.waitForURL(/\/login\?next=%2Fchat$/);
    const focused = () => page.evaluate(() => document.activeElement && document.activeElement.id);
    const ring = () => page.evaluate(() => getComputedStyle(/** @type {Element} */ (document.activeElement)).outlineStyle);
    assert.equal(await focused(), "email");
    await page.keyboard.type(ada.email);
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "password");
    assert.notEqual(await ring(), "none", "focus is visible");
    await page.keyboard.type(ada.password);
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "remember");
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "submit");
    assert.notEqual(await ring(), "none", "focus is visible on the button");
    await page.keyboard.press("Enter");
    await page.waitForURL(`${BASE}/chat`);
    await page.getByRole("heading", { name: "What needs doing?" }).waitFor();
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === "composer-input");
    await page.keyboard.type("add a task to");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("fix the bike");
    assert.equal(await composer(page).inputValue(), "add a task to\nfix the bike");
    await page.keyboard.press("Enter");
    await page.locator(".msg.assistant:not(.streaming)").first().waitFor();
    await pendingList(page).getByText("fix the bike").waitFor();
    // Focus came back to the box for the next message.
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === "composer-input");
    await close(k.context);
  });

  test("a session that ended server-side while typing: the draft survives signing in again", async () => {
    const { page } = a;
    await page.goto(`${BASE}/chat?thread=${adaThread}`);
    await page.locator(".msg.assistant").first().waitFor();
    const draft = "add a task to pick up the dry cleaning";
    await composer(page).fill(draft);
    // The session expires in the database (as if its week ran out).
    execFileSync("sqlite3", [
      DB,
      `UPDATE "session" SET "expiresAt" = '2000-01-01T00:00:00.000Z' WHERE "userId" = (SELECT "id" FROM "user" WHERE "email" = '${ada.email}');`,
    ]);
    await composer(page).press("Enter");
    await page.getByText("Your session has ended. Sign in again to continue — your message is kept.").waitFor();
    assert.equal(await composer(page).inputValue(), draft);
    await page.getByRole("link", { name: "Sign in" }).click();
    await page.waitForURL(/\/login\?/);
    await page.getByText("your message is kept").waitFor();
    await page.getByLabel("Email").fill(ada.email);
    await page.getByLabel("Password").fill(ada.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${BASE}/chat?thread=${adaThread}`);
    await page.locator(".msg.assistant").first().waitFor();
    assert.equal(await composer(page).inputValue(), draft);
    await ask(page, draft);
    await pendingList(page).getByText("pick up the dry cleaning").waitFor();
    assert.equal(await composer(page).inputValue(), "");
  });

  test("a network failure shows a retry and keeps the draft", async () => {
    const { page, context } = a;
    await context.setOffline(true);
    await composer(page).fill("add a task to buy stamps");
    await composer(page).press("Enter");
    await page.getByText("Couldn't reach taskchat").waitFor();
    assert.equal(await composer(page).inputValue(), "add a task to buy stamps");
    await context.setOffline(false);
    await page.getByRole("button", { name: "Retry" }).click();
    await pendingList(page).getByText("buy stamps").waitFor();
    assert.equal(await composer(page).inputValue(), "");
  });

  test("Markdown is rendered safely: text is never interpreted as HTML", async () => {
    const { page } = a;
    await ask(page, 'add a task to check <img src=x onerror="window.__pwned=1"> **now**');
    const pwned = await page.evaluate(() => /** @type {any} */ (window).__pwned);
    assert.equal(pwned, undefined);
    assert.equal(await page.locator(".messages img").count(), 0);
    await page.locator(".task-text", { hasText: "<img src=x" }).first().waitFor();
    // A task's own text is echoed as written, never as Markdown: no bold, and a link stays words.
    const answer = await ask(page, "add a task to read [the docs](https://evil.example) _today_ **now**");
    assert.ok(answer.includes("[the docs](https://evil.example) _today_ **now**"), answer);
    assert.equal(await lastAnswer(page).locator("a, strong, em").count(), 0);
  });

  test("sign out, then /chat sends to /login", async () => {
    const { page } = a;
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${BASE}/login`);
    await page.goto(`${BASE}/chat`);
    assert.equal(page.url(), `${BASE}/login?next=%2Fchat`);
    const res = await page.request.get(`${BASE}/api/tasks`);
    assert.equal(res.status(), 401);
  });

  test("screenshots of a tidy conversation: desktop, phone, dark", async () => {
    const maya = { name: "Maya Patel", email: "maya@example.com", password: "screenshots only" };
    const m = await launch();
    let page = m.page;
    await page.goto(`${BASE}/signup`);
    await page.getByLabel("Name").fill(maya.name);
    await page.getByLabel("Email").fill(maya.email);
    await page.getByLabel("Password").fill(maya.password);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL(`${BASE}/chat`);
    await ask(page, "add a task to buy milk");
    await ask(page, "add a task to call the plumber about the sink");
    await ask(page, "add a task to renew my passport");
    await ask(page, "mark 1 done");
    await ask(page, "what's still pending?");
    await doneList(page).getByText("buy milk").waitFor();
    await page.getByRole("button", { name: "New chat" }).click();
    await ask(page, "add a task to plan the weekend trip");
    // Dues, priorities and labels, set through the REST API; the panel shows them live. (Maya's zone is UTC.)
    const patch = async (n, data) => {
      const res = await m.context.request.patch(`${BASE}/api/tasks/${n}`, { data, headers: { origin: BASE } });
      assert.equal(res.status(), 200, await res.text());
    };
    await patch(2, { due: { date: zoneDate("UTC", 1), time: "09:00" }, priority: "high", labels: ["home"] });
    await patch(3, { due: zoneDate("UTC", -2), priority: "urgent", labels: ["errands"] });
    await patch(4, { due: zoneDate("UTC", 0), priority: "low", labels: ["travel", "fun"] });
    await pendingList(page).locator(".chip", { hasText: "fun" }).waitFor();
    await page.locator("#thread-list a").nth(1).click();
    await page.locator(".msg.assistant").nth(4).waitFor();
    const url = page.url();
    await shot(page, "chat-tasks-desktop.png");
    await close(m.context);
    for (const [name, options] of [
      ["chat-dark.png", { colorScheme: "dark" }],
      ["chat-phone.png", { viewport: PHONE, isMobile: true, hasTouch: true }],
    ]) {
      const v = await launch(m.dir, options);
      page = v.page;
      await page.goto(url);
      await page.locator(".msg.assistant").nth(4).waitFor();
      await pendingList(page).getByText("renew my passport").waitFor({ state: "attached" });
      await shot(page, name);
      if (name === "chat-phone.png") {
        await page.getByRole("button", { name: /Tasks/ }).click();
        await page.locator("#tasks").waitFor({ state: "visible" });
        await shot(page, "chat-tasks-phone.png");
      }
      await close(v.context);
    }
  });

  test("no page error, every request to the server itself, and the app under 200 KB (three languages' catalogs included)", () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(foreign, []);
    let total = 0;
    const walk = (d) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else total += statSync(p).size;
      }
    };
    walk(WEB);
    console.log(`web/ is ${total} bytes (${(total / 1024).toFixed(1)} KB)`);
    // 128 KB before the language catalogs (i18n.js, about 31 KB: Urdu takes two bytes a letter).
    assert.ok(total < 200 * 1024, `web/ is ${total} bytes`);
  });
});
