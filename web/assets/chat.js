// The chat page: threads on the left, the conversation in the middle (streamed over ChatKit), tasks on the
// right. The selected thread is in the URL (?thread=), drafts are kept per thread, and an ended session or a
// lost connection never loses what the person typed.

import {
  adoptBrowserZone,
  ApiError,
  byId,
  chatkit,
  chatkitStream,
  currentUser,
  drafts,
  el,
  icon,
  input as userInput,
  signOut,
} from "./api.js";
import { languagePicker, localize, t, tn } from "./i18n.js";
import { renderMarkdown } from "./markdown.js";
import { taskPanel } from "./tasks.js";

/** @typedef {import("./api.js").Thread} Thread */
/** @typedef {import("./api.js").Item} Item */
/** @typedef {import("./api.js").StreamEvent} StreamEvent */
/** @typedef {import("./api.js").User} User */

localize();

const ui = {
  app: byId("app", HTMLElement),
  sidebar: byId("sidebar", HTMLElement),
  tasks: byId("tasks", HTMLElement),
  scrim: byId("scrim", HTMLElement),
  threadList: byId("thread-list", HTMLUListElement),
  threadsEmpty: byId("threads-empty", HTMLElement),
  title: byId("thread-title", HTMLElement),
  banner: byId("banner", HTMLElement),
  scroller: byId("scroller", HTMLElement),
  welcome: byId("welcome", HTMLElement),
  messages: byId("messages", HTMLElement),
  composer: byId("composer", HTMLFormElement),
  input: byId("composer-input", HTMLTextAreaElement),
  send: byId("send", HTMLButtonElement),
  stop: byId("stop", HTMLButtonElement),
  announcer: byId("announcer", HTMLElement),
  openSidebar: byId("open-sidebar", HTMLButtonElement),
  openTasks: byId("open-tasks", HTMLButtonElement),
  dialog: byId("dialog", HTMLDialogElement),
};

const state = {
  /** @type {User | null} */
  user: null,
  /** @type {Thread[]} */
  threads: [],
  /** @type {string | null} */
  threadId: null,
  /** @type {AbortController | null} */
  stream: null,
  sessionEnded: false,
  /** When this page's last answer ended (ms): its own live echoes are not news. */
  streamEnded: 0,
  /** Whether the banner only reports a failed background reload. */
  bannerIsBackground: false,
};

// ---- announcements, banner, errors ----------------------------------------------------------------------

/** @param {string} text read out by screen readers (the visible log is not live, to avoid word-by-word chatter) */
function announce(text) {
  const p = el("p", "", text);
  ui.announcer.append(p);
  while (ui.announcer.childElementCount > 3) ui.announcer.firstElementChild?.remove();
}

/**
 * @param {string} text
 * @param {{ label: string, href?: string, run?: () => void }} [action]
 * @param {"error" | "info"} [kind]
 */
function showBanner(text, action, kind = "error") {
  ui.banner.className = `banner ${kind}`;
  ui.banner.replaceChildren(icon("alert"), el("span", "banner-text", text));
  if (action && action.href) {
    const a = el("a", "btn primary small", action.label);
    a.href = action.href;
    ui.banner.append(a);
  } else if (action && action.run) {
    const b = el("button", "btn primary small", action.label);
    b.type = "button";
    const run = action.run;
    b.addEventListener("click", () => {
      hideBanner();
      run();
    });
    ui.banner.append(b);
  }
  ui.banner.hidden = false;
  state.bannerIsBackground = false;
}

function hideBanner() {
  state.bannerIsBackground = false;
  ui.banner.hidden = true;
  ui.banner.replaceChildren();
}

function signInAgainHref() {
  const here = state.threadId ? `/chat?thread=${encodeURIComponent(state.threadId)}` : "/chat";
  return `/login?reason=expired&next=${encodeURIComponent(here)}`;
}

/**
 * Deals with the errors every call may meet: an ended session and a lost connection.
 * @param {unknown} e
 * @param {() => void} [retry]
 * @param {boolean} [background] a reload nobody asked for: it never hides a banner already shown (such as the
 *   retry of an unsent message), and it is retried by itself when the connection comes back
 * @returns {boolean} whether it was one of those
 */
function handleCommonError(e, retry, background = false) {
  if (!(e instanceof ApiError)) return false;
  if (e.unauthorized) {
    sessionEnded();
    return true;
  }
  if (e.offline) {
    if (background && !ui.banner.hidden) return true;
    showBanner(e.message, retry ? { label: t("chat.retry"), run: retry } : undefined);
    state.bannerIsBackground = background;
    return true;
  }
  return false;
}

function sessionEnded() {
  saveDraft();
  state.sessionEnded = true;
  showBanner(t("auth.expired"), {
    label: t("chat.signIn"),
    href: signInAgainHref(),
  });
}

// ---- drafts ---------------------------------------------------------------------------------------------

function saveDraft() {
  if (state.user) drafts.set(state.user.id, state.threadId, ui.input.value);
}

function restoreDraft() {
  ui.input.value = state.user ? drafts.get(state.user.id, state.threadId) : "";
  fitComposer();
}

function fitComposer() {
  ui.input.style.height = "auto";
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 200)}px`;
}

// ---- threads --------------------------------------------------------------------------------------------

/** @param {Thread} th */
const titleOf = (th) => (th.title && th.title.trim()) || t("chat.untitled");

function renderThreads() {
  ui.threadList.replaceChildren(
    ...state.threads.map((th) => {
      const li = el("li", "thread");
      li.dataset.id = th.id;
      const a = el("a", "thread-link", titleOf(th));
      a.dir = "auto";
      a.href = `/chat?thread=${encodeURIComponent(th.id)}`;
      if (th.id === state.threadId) a.setAttribute("aria-current", "page");
      a.addEventListener("click", (ev) => {
        if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0) return;
        ev.preventDefault();
        closeDrawers();
        go(th.id);
      });
      const rename = el("button", "icon-btn small");
      rename.type = "button";
      rename.setAttribute("aria-label", t("chat.renameThread", { title: titleOf(th) }));
      rename.title = t("chat.rename");
      rename.append(icon("edit"));
      rename.addEventListener("click", () => renameThread(th, rename));
      const del = el("button", "icon-btn small danger");
      del.type = "button";
      del.setAttribute("aria-label", t("chat.deleteThread", { title: titleOf(th) }));
      del.title = t("chat.delete");
      del.append(icon("trash"));
      del.addEventListener("click", () => deleteThread(th, del));
      li.append(a, el("span", "thread-actions"));
      li.lastElementChild?.append(rename, del);
      return li;
    }),
  );
  ui.threadsEmpty.hidden = state.threads.length > 0;
}

async function loadThreads() {
  try {
    const page = await chatkit("threads.list", { limit: 100, order: "desc" });
    state.threads = page.data;
    renderThreads();
  } catch (e) {
    if (!handleCommonError(e, loadThreads, true)) showBanner(errorText(e));
  }
}

/** @param {Thread} t */
function upsertThread(t) {
  const old = state.threads.find((x) => x.id === t.id);
  state.threads = [{ ...old, ...t }, ...state.threads.filter((x) => x.id !== t.id)];
  renderThreads();
  if (t.id === state.threadId) setTitle(titleOf(t));
}

/** @param {string} text */
function setTitle(text) {
  ui.title.textContent = text;
  document.title = `${text} · taskchat`;
}

/**
 * Opens a thread (or the new-chat state for null), updating the URL.
 * @param {string | null} id
 * @param {boolean} [push]
 */
async function go(id, push = true) {
  // Leaving a thread while it answers stops the answer (the server keeps what was said).
  state.stream?.abort();
  hideBanner();
  state.threadId = id;
  const url = id ? `/chat?thread=${encodeURIComponent(id)}` : "/chat";
  if (push && location.pathname + location.search !== url) history.pushState(null, "", url);
  renderThreads();
  restoreDraft();
  ui.messages.replaceChildren();
  if (!id) {
    setTitle(t("chat.newChat"));
    showWelcome();
    ui.input.focus();
    return;
  }
  ui.welcome.hidden = true;
  const known = state.threads.find((t) => t.id === id);
  setTitle(known ? titleOf(known) : t("chat.loading"));
  ui.messages.setAttribute("aria-busy", "true");
  try {
    const thread = await chatkit("threads.get_by_id", { thread_id: id });
    if (state.threadId !== id) return;
    /** @type {Item[]} */
    const items = [...thread.items.data];
    let page = thread.items;
    while (page.has_more && page.after) {
      page = await chatkit("items.list", { thread_id: id, order: "asc", after: page.after, limit: 100 });
      items.push(...page.data);
    }
    if (state.threadId !== id) return;
    setTitle(titleOf(thread));
    for (const item of items) renderItem(item);
    scrollToEnd(true);
  } catch (e) {
    if (state.threadId !== id) return;
    if (e instanceof ApiError && e.status === 404) {
      setTitle(t("chat.notFound"));
      showBanner(t("chat.notFoundText"), { label: t("chat.startNew"), run: () => go(null) }, "info");
    } else if (!handleCommonError(e, () => go(id, false))) {
      showBanner(errorText(e));
    }
  } finally {
    ui.messages.removeAttribute("aria-busy");
  }
}

function showWelcome() {
  ui.welcome.hidden = ui.messages.childElementCount > 0;
}

/**
 * @param {Thread} th
 * @param {HTMLElement} from
 */
async function renameThread(th, from) {
  const title = await ask({
    title: t("chat.renameTitle"),
    field: { label: t("chat.titleField"), value: titleOf(th) },
    ok: t("chat.rename"),
    from,
  });
  if (title === null || !title.trim()) return;
  try {
    upsertThread(await chatkit("threads.update", { thread_id: th.id, title: title.trim() }));
    announce(t("chat.renamed"));
    const again = ui.threadList.querySelector(`li[data-id="${CSS.escape(th.id)}"] .thread-link`);
    if (again instanceof HTMLElement) again.focus();
  } catch (e) {
    if (!handleCommonError(e)) showBanner(errorText(e));
  }
}

/**
 * @param {Thread} th
 * @param {HTMLElement} from
 */
async function deleteThread(th, from) {
  const ok = await ask({
    title: t("chat.deleteTitle"),
    text: tn("chat.deleteText", { title: titleOf(th) }),
    ok: t("chat.delete"),
    danger: true,
    from,
  });
  if (ok === null) return;
  try {
    await chatkit("threads.delete", { thread_id: th.id });
    state.threads = state.threads.filter((x) => x.id !== th.id);
    if (state.user) drafts.set(state.user.id, th.id, "");
    announce(t("chat.deleted"));
    if (state.threadId === th.id) await go(null);
    else renderThreads();
    const first = ui.threadList.querySelector("a");
    (first instanceof HTMLElement ? first : byId("new-chat", HTMLButtonElement)).focus();
  } catch (e) {
    if (!handleCommonError(e)) showBanner(errorText(e));
  }
}

// ---- the dialog -----------------------------------------------------------------------------------------

/**
 * A modal question. Resolves to the field's value ("" without a field) when confirmed, null when cancelled
 * (Cancel, Escape). Focus goes back to `from`.
 * @param {{ title: string, text?: Node[], field?: { label: string, value: string }, ok: string,
 *   danger?: boolean, from: HTMLElement }} q
 * @returns {Promise<string | null>}
 */
function ask(q) {
  const d = ui.dialog;
  byId("dialog-title", HTMLElement).textContent = q.title;
  const text = byId("dialog-text", HTMLElement);
  text.replaceChildren(...(q.text || []));
  text.hidden = !q.text;
  const field = byId("dialog-field", HTMLElement);
  const inputEl = byId("dialog-input", HTMLInputElement);
  field.hidden = !q.field;
  if (q.field) {
    byId("dialog-label", HTMLLabelElement).textContent = q.field.label;
    inputEl.value = q.field.value;
  }
  const ok = byId("dialog-ok", HTMLButtonElement);
  ok.textContent = q.ok;
  ok.className = q.danger ? "btn danger-fill" : "btn primary";
  d.returnValue = "";
  return new Promise((resolve) => {
    const cancel = byId("dialog-cancel", HTMLButtonElement);
    const onCancel = () => d.close("");
    cancel.addEventListener("click", onCancel);
    d.addEventListener(
      "close",
      () => {
        cancel.removeEventListener("click", onCancel);
        if (q.from.isConnected) q.from.focus();
        resolve(d.returnValue === "ok" ? (q.field ? inputEl.value : "") : null);
      },
      { once: true },
    );
    d.showModal();
    if (q.field) {
      inputEl.focus();
      inputEl.select();
    } else {
      cancel.focus();
    }
  });
}

// ---- messages -------------------------------------------------------------------------------------------

/** @param {boolean} [force] scroll even when the person scrolled up to read */
function scrollToEnd(force = false) {
  const s = ui.scroller;
  const nearEnd = s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  if (force || nearEnd) s.scrollTop = s.scrollHeight;
}

/**
 * @param {"user" | "assistant"} who
 * @param {string} [id]
 */
function bubble(who, id) {
  const row = el("article", `msg ${who}`);
  if (id) row.dataset.id = id;
  row.setAttribute("aria-label", t(who === "user" ? "chat.youSaid" : "chat.assistantSaid"));
  const body = el("div", "msg-body");
  body.dir = "auto";
  row.append(body);
  ui.messages.append(row);
  ui.welcome.hidden = true;
  return { row, body };
}

/**
 * @param {HTMLElement} body
 * @param {string} text
 */
function setUserText(body, text) {
  body.replaceChildren(...text.split("\n").flatMap((l, i) => (i ? [el("br"), l] : [l])));
}

/**
 * The tool activity of one answer ("Added task 3: buy milk").
 * @param {string} id
 */
function activity(id) {
  const existing = ui.messages.querySelector(`[data-id="${CSS.escape(id)}"]`);
  if (existing instanceof HTMLElement) return existing;
  const box = el("div", "activity");
  box.dataset.id = id;
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", t("chat.activity"));
  box.append(el("ul", "activity-list"));
  ui.messages.append(box);
  ui.welcome.hidden = true;
  return box;
}

/**
 * @param {HTMLElement} box
 * @param {number} index
 * @param {{ title?: string, status_indicator?: string }} task
 */
function setActivityTask(box, index, task) {
  const list = box.querySelector("ul");
  if (!list) return;
  let li = list.children[index];
  if (!li) {
    li = el("li");
    list.append(li);
  }
  const loading = task.status_indicator === "loading";
  li.className = loading ? "loading" : "complete";
  const mark = loading ? el("span", "spinner") : icon("check");
  mark.setAttribute("aria-hidden", "true");
  const what = el("span", "", task.title || "");
  what.dir = "auto";
  li.replaceChildren(mark, what);
}

/** @param {Item} item */
function renderItem(item) {
  if (item.type === "user_message") {
    const text = (item.content || []).map((c) => c.text || "").join(" ");
    setUserText(bubble("user", item.id).body, text);
  } else if (item.type === "assistant_message") {
    const text = (item.content || []).map((c) => c.text || "").join("");
    bubble("assistant", item.id).body.append(renderMarkdown(text));
  } else if (item.type === "workflow" && item.workflow) {
    const box = activity(item.id);
    item.workflow.tasks.forEach((t, i) => setActivityTask(box, i, t));
  }
}

// ---- sending and streaming ------------------------------------------------------------------------------

/**
 * Sends a message (or re-runs the answer after `retryItem`, a user message id) and streams the answer.
 * @param {string} text
 * @param {string} [retryItem]
 */
async function send(text, retryItem) {
  if (state.stream || (!text.trim() && !retryItem)) return;
  hideBanner();
  const controller = new AbortController();
  state.stream = controller;
  const hadFocus = document.activeElement === ui.input;
  setStreaming(true, hadFocus);
  const threadAtStart = state.threadId;
  /** The thread this answer belongs to (known once the server created it). */
  let myThread = state.threadId;
  /** @type {{ row: HTMLElement, body: HTMLElement } | null} */
  let pending = null;
  if (!retryItem) {
    pending = bubble("user");
    pending.row.classList.add("pending");
    setUserText(pending.body, text);
    ui.input.value = "";
    fitComposer();
    scrollToEnd(true);
  }
  /** The answer being streamed (an object, so the closures below and the catch see the same one). */
  const live = { answer: /** @type {{ id: string, body: HTMLElement, text: string, frame: number } | null} */ (null) };
  let accepted = false;
  let touchedTasks = false;

  const paint = () => {
    if (!live.answer) return;
    live.answer.frame = 0;
    live.answer.body.replaceChildren(renderMarkdown(live.answer.text));
    scrollToEnd();
  };

  /** @param {StreamEvent} ev */
  const onEvent = (ev) => {
    switch (ev.type) {
      case "thread.created":
        state.threadId = ev.thread.id;
        myThread = ev.thread.id;
        history.replaceState(null, "", `/chat?thread=${encodeURIComponent(ev.thread.id)}`);
        upsertThread(ev.thread);
        break;
      case "thread.updated":
        upsertThread(ev.thread);
        break;
      case "thread.item.added":
        if (ev.item.type === "assistant_message") {
          const b = bubble("assistant", ev.item.id);
          b.row.classList.add("streaming");
          live.answer = { id: ev.item.id, body: b.body, text: "", frame: 0 };
        } else if (ev.item.type === "workflow") {
          activity(ev.item.id);
        }
        break;
      case "thread.item.updated": {
        const u = ev.update;
        if (u.type === "assistant_message.content_part.text_delta" && live.answer) {
          live.answer.text += u.delta;
          // Render at most once a frame, however fast the words come.
          if (!live.answer.frame) live.answer.frame = requestAnimationFrame(paint);
        } else if (u.type === "assistant_message.content_part.done" && live.answer) {
          live.answer.text = u.content.text;
        } else if (u.type === "workflow.task.added" || u.type === "workflow.task.updated") {
          setActivityTask(activity(ev.item_id), u.task_index, u.task);
          scrollToEnd();
          if (u.task.status_indicator === "complete") {
            touchedTasks = true;
            announce(u.task.title);
            tasks.refresh();
          }
        }
        break;
      }
      case "thread.item.done":
        if (ev.item.type === "user_message") {
          if (pending) {
            pending.row.dataset.id = ev.item.id;
            pending.row.classList.remove("pending");
          }
        } else if (ev.item.type === "assistant_message") {
          const text = (ev.item.content || []).map((/** @type {{text?: string}} */ c) => c.text || "").join("");
          if (!live.answer || live.answer.id !== ev.item.id) {
            const b = bubble("assistant", ev.item.id);
            live.answer = { id: ev.item.id, body: b.body, text, frame: 0 };
          }
          if (live.answer.frame) cancelAnimationFrame(live.answer.frame);
          live.answer.text = text;
          paint();
          live.answer.body.parentElement?.classList.remove("streaming");
          announce(text);
        } else if (ev.item.type === "workflow") {
          const box = activity(ev.item.id);
          ev.item.workflow.tasks.forEach((/** @type {any} */ t, /** @type {number} */ i) => setActivityTask(box, i, t));
        }
        break;
      case "error":
        streamError(ev.message || t("chat.answerFailed"), ev.allow_retry ? retryTarget(pending, retryItem) : null);
        break;
      case "notice":
        showBanner(ev.message, undefined, ev.level === "danger" ? "error" : "info");
        break;
    }
  };

  const params = retryItem
    ? { thread_id: state.threadId, item_id: retryItem }
    : state.threadId
      ? { thread_id: state.threadId, input: userInput(text) }
      : { input: userInput(text) };
  const type = retryItem ? "threads.retry_after_item" : state.threadId ? "threads.add_user_message" : "threads.create";
  try {
    await chatkitStream(
      type,
      params,
      controller.signal,
      () => {
        accepted = true;
        // The server has the message now: the draft has done its job.
        if (state.user && !retryItem) drafts.set(state.user.id, threadAtStart, "");
      },
      onEvent,
    );
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") {
      if (state.threadId !== myThread) {
        // The person went to another thread: nothing to show here.
      } else if (live.answer) {
        if (live.answer.frame) cancelAnimationFrame(live.answer.frame);
        paint();
        live.answer.body.parentElement?.classList.remove("streaming");
        live.answer.body.append(el("p", "stopped", t("chat.stopped")));
      } else {
        ui.messages.append(el("p", "stopped note", t("chat.stopped")));
      }
      announce(t("chat.stopped"));
    } else if (!accepted) {
      // Nothing reached the server: take the message back into the box so nothing is lost.
      pending?.row.remove();
      if (!retryItem) {
        ui.input.value = text;
        fitComposer();
        saveDraft();
      }
      showWelcome();
      if (!handleCommonError(e, () => send(ui.input.value, retryItem))) showBanner(errorText(e));
    } else if (e instanceof ApiError && e.offline) {
      const id = state.threadId;
      showBanner(e.message, { label: t("chat.reload"), run: () => go(id, false) });
    } else {
      streamError(errorText(e), null);
    }
  } finally {
    if (live.answer && live.answer.frame) cancelAnimationFrame(live.answer.frame);
    state.stream = null;
    state.streamEnded = Date.now();
    setStreaming(false, hadFocus || document.activeElement === ui.stop || document.activeElement === document.body);
    if (touchedTasks || accepted) tasks.refresh();
    // The answered thread is now the newest.
    const current = state.threads.find((t) => t.id === state.threadId);
    if (current) upsertThread(current);
  }
}

/**
 * What a retry of a failed answer re-runs: the answer after this user message.
 * @param {{ row: HTMLElement } | null} pending
 * @param {string} [retryItem]
 */
function retryTarget(pending, retryItem) {
  const id = retryItem || (pending && pending.row.dataset.id);
  return id ? () => send("", id) : null;
}

/**
 * An inline, friendly failure of one answer, with a retry when it makes sense.
 * @param {string} message
 * @param {(() => void) | null} retry
 */
function streamError(message, retry) {
  const box = el("div", "msg-error");
  box.setAttribute("role", "alert");
  box.append(icon("alert"), el("span", "", message));
  if (retry) {
    const b = el("button", "btn ghost small", t("chat.tryAgain"));
    b.type = "button";
    b.addEventListener("click", () => {
      box.remove();
      retry();
    });
    box.append(b);
  }
  ui.messages.append(box);
  scrollToEnd(true);
}

/**
 * @param {boolean} on
 * @param {boolean} keepFocus move focus between the box and the stop button
 */
function setStreaming(on, keepFocus) {
  ui.input.disabled = on;
  ui.send.hidden = on;
  ui.stop.hidden = !on;
  ui.messages.setAttribute("aria-busy", on ? "true" : "false");
  if (keepFocus) (on ? ui.stop : ui.input).focus();
}

/** @param {unknown} e */
function errorText(e) {
  return e instanceof Error ? e.message : t("error.generic");
}

// ---- drawers (phone and tablet widths) ------------------------------------------------------------------

/** @param {"sidebar" | "tasks" | null} which */
function openDrawer(which) {
  ui.app.classList.toggle("show-sidebar", which === "sidebar");
  ui.app.classList.toggle("show-tasks", which === "tasks");
  ui.openSidebar.setAttribute("aria-expanded", String(which === "sidebar"));
  ui.openTasks.setAttribute("aria-expanded", String(which === "tasks"));
  ui.scrim.hidden = which === null;
  const drawer = which === "sidebar" ? ui.sidebar : which === "tasks" ? ui.tasks : null;
  byId("main", HTMLElement).inert = drawer !== null && isDrawer(drawer);
  if (drawer) {
    const first = drawer.querySelector("button, a, input");
    if (first instanceof HTMLElement) first.focus();
  }
}

/** @param {HTMLElement} e whether it is shown as a drawer at this width (else it is a column) */
const isDrawer = (e) => getComputedStyle(e).position === "fixed";

function closeDrawers() {
  const was = ui.app.classList.contains("show-sidebar") ? ui.openSidebar : ui.app.classList.contains("show-tasks") ? ui.openTasks : null;
  openDrawer(null);
  if (was && was.offsetParent !== null) was.focus();
}

// ---- wiring ---------------------------------------------------------------------------------------------

languagePicker(byId("language", HTMLSelectElement));

const tasks = taskPanel({ onError: handleCommonError, announce, zone: () => state.user?.timezone || "UTC" });
// Back online: reload what may have been missed; a banner about a failed reload has done its job.
window.addEventListener("online", () => {
  if (state.bannerIsBackground) hideBanner();
  if (!state.sessionEnded) {
    tasks.refresh();
    loadThreads();
  }
});

ui.composer.addEventListener("submit", (ev) => {
  ev.preventDefault();
  send(ui.input.value);
});
ui.input.addEventListener("keydown", (ev) => {
  // Enter sends, Shift+Enter adds a line; an IME composing text keeps its Enter.
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    send(ui.input.value);
  }
});
ui.input.addEventListener("input", () => {
  fitComposer();
  saveDraft();
});
ui.stop.addEventListener("click", () => state.stream?.abort());
byId("new-chat", HTMLButtonElement).addEventListener("click", () => {
  closeDrawers();
  go(null);
});
byId("sign-out", HTMLButtonElement).addEventListener("click", async () => {
  try {
    await signOut();
  } catch (e) {
    if (e instanceof ApiError && e.offline) {
      showBanner(e.message);
      return;
    }
  }
  if (state.user) drafts.clearAll(state.user.id);
  location.replace("/login");
});
for (const b of ui.welcome.querySelectorAll("button.example")) {
  b.addEventListener("click", () => send(b.textContent || ""));
}
ui.openSidebar.addEventListener("click", () => openDrawer("sidebar"));
ui.openTasks.addEventListener("click", () => {
  if (isDrawer(ui.tasks)) openDrawer(ui.app.classList.contains("show-tasks") ? null : "tasks");
  else byId("new-task", HTMLInputElement).focus();
});
byId("close-sidebar", HTMLButtonElement).addEventListener("click", closeDrawers);
byId("close-tasks", HTMLButtonElement).addEventListener("click", closeDrawers);
ui.scrim.addEventListener("click", closeDrawers);
document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape" || ui.dialog.open) return;
  if (ui.app.classList.contains("show-sidebar") || ui.app.classList.contains("show-tasks")) closeDrawers();
  else if (state.stream && document.activeElement === ui.stop) state.stream.abort();
});
window.addEventListener("resize", () => {
  const open = ui.app.classList.contains("show-sidebar") ? ui.sidebar : ui.app.classList.contains("show-tasks") ? ui.tasks : null;
  if (open && !isDrawer(open)) openDrawer(null);
});
window.addEventListener("popstate", () => go(new URLSearchParams(location.search).get("thread"), false));
// Another tab or device may have changed tasks meanwhile.
window.addEventListener("focus", () => {
  if (!state.sessionEnded) tasks.refresh();
});

async function start() {
  const id = new URLSearchParams(location.search).get("thread");
  state.threadId = id;
  try {
    state.user = await currentUser();
  } catch (e) {
    if (e instanceof ApiError && e.offline) {
      showBanner(e.message, { label: t("chat.retry"), run: start });
      return;
    }
    throw e;
  }
  if (!state.user) {
    location.replace(signInAgainHref().replace("reason=expired&", ""));
    return;
  }
  const u = state.user;
  byId("user-name", HTMLElement).textContent = u.name || u.email;
  byId("user-email", HTMLElement).textContent = u.email;
  byId("avatar", HTMLElement).textContent = (u.name || u.email).trim().charAt(0).toUpperCase();
  // Before the tasks load: "today" is reckoned in the person's zone.
  await adoptBrowserZone(u);
  // The lists load once the event stream is listening, so a change made in between is either in the list or
  // arrives as an event, never missed; the conversation itself need not wait.
  const live = listen();
  await Promise.all([live.then(() => Promise.all([loadThreads(), tasks.refresh()])), go(id, false)]);
  ui.input.focus();
}

/**
 * Live updates (GET /api/events): another tab, device or door (MCP, REST) changed a task or a thread. The
 * browser reconnects by itself; `ready` after a reconnect and `resync` mean "reload, something was missed".
 * Resolves when the stream first says `ready` (or fails, or 2 s pass: the lists must load regardless).
 * @returns {Promise<void>}
 */
function listen() {
  const events = new EventSource("/api/events");
  /** @type {() => void} */
  let listening = () => {};
  /** @type {Promise<void>} */
  const ready = new Promise((resolve) => {
    listening = resolve;
    setTimeout(resolve, 2000);
  });
  /** @type {Record<string, number>} */
  const timers = {};
  /**
   * @param {string} key
   * @param {() => void} fn
   */
  const soon = (key, fn) => {
    clearTimeout(timers[key]);
    timers[key] = setTimeout(fn, 150);
  };
  const reloadAll = () => {
    soon("tasks", tasks.refresh);
    soon("threads", loadThreads);
  };
  let opened = false;
  events.addEventListener("ready", () => {
    if (opened) reloadAll();
    opened = true;
    listening();
  });
  events.addEventListener("resync", reloadAll);
  // A task event carries the task: its row alone is patched.
  for (const kind of ["task.created", "task.updated", "task.deleted"]) {
    events.addEventListener(kind, (ev) => {
      /** @type {{ task?: import("./api.js").Task }} */
      const data = JSON.parse(/** @type {MessageEvent} */ (ev).data || "{}");
      if (data.task) tasks.apply(kind, data.task);
      else soon("tasks", tasks.refresh);
    });
  }
  for (const kind of ["thread.created", "thread.updated", "thread.deleted", "thread.message"]) {
    events.addEventListener(kind, (ev) => {
      soon("threads", loadThreads);
      /** @type {{ thread?: { id?: string } }} */
      const data = JSON.parse(/** @type {MessageEvent} */ (ev).data || "{}");
      const id = data.thread && data.thread.id;
      if (!id || id !== state.threadId || state.stream || Date.now() - state.streamEnded < 3000) return;
      if (kind === "thread.deleted") {
        showBanner(t("chat.deletedElsewhere"), { label: t("chat.startNew"), run: () => go(null) }, "info");
      } else if (kind === "thread.message") {
        // Continued on another device: show the new messages.
        soon("thread", () => {
          if (!state.stream && state.threadId === id) go(id, false);
        });
      }
    });
  }
  // A signed-out page stops listening (the stream answers 401 and the browser gives up by itself).
  events.addEventListener("error", () => {
    listening();
    if (state.sessionEnded) events.close();
  });
  return ready;
}

start();
