// Languages and directions in a real browser: Urdu text people write reads right to left inside the English
// (left-to-right) page; the menu switches the app's own words to Spanish and the choice survives a reload;
// Urdu turns the whole page right to left. Run by run.sh (see browser.mjs).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiPerson, ask, BASE, cleanup, composer, foreign, launch, pageErrors, signIn } from "./browser.mjs";

const sana = { name: "ثنا خان", email: "sana@example.com", password: "chai aur samosay" };
const URDU_TITLE = "دودھ خریدنا ہے";
const URDU_MESSAGE = "میرے کام دکھائیں";

const rtl = (locator) => locator.evaluate((e) => getComputedStyle(e).direction === "rtl" && e.matches(":dir(rtl)"));

describe("languages and right-to-left text", { timeout: 180_000 }, () => {
  let api;
  let page;

  before(async () => {
    api = await apiPerson(sana);
    const res = await api.post("/api/tasks", { data: { title: URDU_TITLE, labels: ["گھر"] } });
    assert.equal(res.status(), 201, await res.text());
    ({ page } = await launch());
    await signIn(page, sana);
    await page.locator("#pending-list .task").first().waitFor();
  });

  after(async () => {
    await api.dispose();
    await cleanup();
  });

  test("English by default; an Urdu task title, label and chat message read right to left in the LTR page", async () => {
    assert.equal(await page.locator("html").getAttribute("dir"), "ltr");
    assert.equal(await page.locator("html").getAttribute("lang"), "en");
    assert.equal(await page.locator("#tasks-title").innerText(), "Your tasks");
    const title = page.locator("#pending-list .task-text").first();
    assert.equal(await title.innerText(), URDU_TITLE);
    assert.ok(await rtl(title), "the Urdu title is right to left");
    assert.ok(await rtl(page.locator("#pending-list .task-meta .chip").first()), "the Urdu label is right to left");
    assert.ok(!(await rtl(page.locator("#pending-list .task-num").first())), "the number beside it stays left to right");
    assert.ok(!(await rtl(page.locator("#tasks-title"))), "the app's own heading stays left to right");
    await composer(page).fill(URDU_MESSAGE);
    assert.ok(await rtl(composer(page)), "the message box follows what is typed");
    await ask(page, URDU_MESSAGE);
    const mine = page.locator(".msg.user .msg-body").last();
    assert.equal((await mine.innerText()).trim(), URDU_MESSAGE);
    assert.ok(await rtl(mine), "the Urdu message is right to left");
    assert.ok(await rtl(page.locator("#user-name")), "the Urdu name is right to left");
  });

  test("the language menu switches to Spanish, and the choice survives a reload", async () => {
    await page.locator("#language").selectOption("es");
    await page.waitForFunction(() => document.documentElement.lang === "es");
    const spanish = async () => {
      assert.equal(await page.locator("#tasks-title").innerText(), "Tus tareas");
      assert.equal(await page.locator("#new-chat").innerText(), "Nuevo chat");
      assert.equal(await page.locator("#composer-input").getAttribute("placeholder"), "Escribe a taskchat…");
      assert.equal(await page.locator("#undo-change").innerText(), "Deshacer");
      assert.equal(await page.locator(".views label", { hasText: "Hoy" }).count(), 1);
      assert.equal(await page.getByRole("button", { name: "Cerrar sesión" }).count(), 1);
      assert.equal(await page.locator("#language").inputValue(), "es");
      assert.equal(await page.locator("html").getAttribute("dir"), "ltr");
    };
    await spanish();
    await page.reload();
    await page.locator("#pending-list .task").first().waitFor();
    await spanish();
    assert.equal(await page.locator("#pending-list [data-role=edit]").first().getAttribute("title"), "Editar");
  });

  test("Urdu turns the page right to left, the sign-in page too", async () => {
    await page.locator("#language").selectOption("ur");
    await page.waitForFunction(() => document.documentElement.lang === "ur");
    assert.equal(await page.locator("html").getAttribute("dir"), "rtl");
    assert.equal(await page.locator("#tasks-title").innerText(), "آپ کے کام");
    assert.ok(await rtl(page.locator("#tasks-title")));
    await page.goto(`${BASE}/login`);
    // Signed in: the sign-in page sends Sana back to the chat, still in Urdu.
    await page.waitForURL(/\/chat/);
    assert.equal(await page.locator("html").getAttribute("dir"), "rtl");
    // Back to English for whoever uses this profile next.
    await page.locator("#language").selectOption("en");
    await page.waitForFunction(() => document.documentElement.lang === "en");
    assert.equal(await page.locator("#tasks-title").innerText(), "Your tasks");
  });

  test("nothing was loaded from elsewhere and no page threw", () => {
    assert.deepEqual(foreign, []);
    assert.deepEqual(pageErrors, []);
  });
});
