// The task panel beside the chat: pending and done tasks, filtered (All / Today / Upcoming / Overdue / Done, a
// label, a search) and sorted by the server, paged in 100 at a time as the end of a list scrolls into view.
// Rows are patched one at a time: a change made here, by the assistant or anywhere else (the live events)
// touches its own row only, so thousands of tasks stay smooth. Due dates read in the person's time zone.

import { addTask, byId, listLabels, listTasks, patchTask, undoLast } from "./api.js";
import { inDueFilter, labelKey, matchesSearch, orders, words } from "./due.js";
import { formatNumber, t } from "./i18n.js";
import { wireRows } from "./taskedit.js";
import { detailsError, fillRow, makeRow } from "./taskrow.js";

/** @typedef {import("./api.js").Task} Task */
/** @typedef {{ task: Task, li: HTMLLIElement }} Entry */
/**
 * @typedef {{ status: "pending" | "completed", list: HTMLUListElement, count: HTMLElement, empty: HTMLElement,
 *   group: HTMLElement, sentinel: HTMLElement, items: Entry[], rows: Map<number, Entry>, cursor: string | null,
 *   complete: boolean, loading: boolean, loaded: boolean, gen: number, room: number, tail: Task | null,
 *   during: Change[] | null }} Section
 * tail: the last task of the pages loaded, which the cursor continues after; room: how many rows live
 * additions may grow a complete list to before it pages instead; during: the changes seen while a page was on
 * its way, which are at least as new as the page and go back on top of it
 */
/** @typedef {{ kind: string, task: Task }} Change */

const PAGE = 100;
const MAX_LIMIT = 1000;
const msg = (/** @type {unknown} */ e) => (e instanceof Error ? e.message : String(e));

/**
 * @param {{ onError: (e: unknown, retry?: () => void, background?: boolean) => boolean,
 *   announce: (text: string) => void, zone: () => string }} hooks onError returns true when it dealt with the
 *   error (an ended session, an offline browser); zone is the person's time zone
 */
export function taskPanel(hooks) {
  const panel = byId("tasks", HTMLElement);
  const errorBox = byId("tasks-error", HTMLElement);
  const badge = byId("tasks-badge", HTMLElement);
  const addForm = byId("add-task", HTMLFormElement);
  const newTask = byId("new-task", HTMLInputElement);
  const search = byId("task-search", HTMLInputElement);
  const labelSelect = byId("task-label", HTMLSelectElement);
  const sortSelect = byId("task-sort", HTMLSelectElement);
  const dateInput = byId("task-date", HTMLInputElement);
  // on: a day (YYYY-MM-DD) picked in the date box; it stands in for the Today/Upcoming/Overdue views.
  const filters = { view: "all", label: "", q: "", sort: "number", on: "" };

  /** @param {"pending" | "completed"} status @param {string} id */
  const section = (status, id) => /** @type {Section} */ ({
    status,
    list: byId(`${id}-list`, HTMLUListElement),
    count: byId(`${id}-count`, HTMLElement),
    empty: byId(`${id}-empty`, HTMLElement),
    group: byId(`${id}-group`, HTMLElement),
    sentinel: byId(`${id}-more`, HTMLElement),
    items: [],
    rows: new Map(),
    cursor: null,
    complete: false,
    loading: false,
    loaded: false,
    gen: 0,
    room: PAGE,
    tail: null,
    during: null,
  });
  const sections = [section("pending", "pending"), section("completed", "done")];
  const [pending] = sections;
  const pendingHint = pending.empty.textContent || "";

  // The next page loads when the end of a list comes within 400px of the panel's view.
  const io = new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        const s = sections.find((s) => s.sentinel === e.target);
        if (e.isIntersecting && s) more(s);
      }
    },
    { root: panel, rootMargin: "400px 0px" },
  );

  /** @param {string} [message] */
  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  /** @param {Section} s whether the current view shows this section */
  const active = (s) => filters.view === "all" || (filters.view === "done") === (s.status === "completed");
  const dueView = () =>
    filters.on ? `on:${filters.on}` : ["today", "upcoming", "overdue"].includes(filters.view) ? filters.view : "";
  const sortOf = () => orders[filters.sort] || orders.number;

  /** @param {Section} s the list query, as GET /api/tasks takes it */
  function params(s) {
    /** @type {Record<string, string>} */
    const p = { status: s.status, sort: filters.sort };
    if (words(filters.q).length) p.q = filters.q;
    if (filters.label) p.label = filters.label;
    if (dueView()) p.due = dueView();
    return p;
  }

  /**
   * Whether a task belongs in a section under the current filters (what the server would answer).
   * @param {Section} s
   * @param {Task} t
   */
  function matches(s, t) {
    if (t.completed !== (s.status === "completed")) return false;
    if (filters.label && !t.labels.some((l) => labelKey(l) === labelKey(filters.label))) return false;
    if (dueView() && !inDueFilter(dueView(), t, hooks.zone())) return false;
    return !words(filters.q).length || matchesSearch(filters.q, t);
  }

  /** @param {Task} t */
  const entry = (t) => ({ task: t, li: makeRow(t, hooks.zone()) });

  /**
   * Makes a section's list show these tasks, in this order, reusing the rows it has (patched if changed).
   * @param {Section} s
   * @param {Task[]} tasks
   */
  function reconcile(s, tasks) {
    const keep = new Set(tasks.map((t) => t.number));
    for (const e of s.items) if (!keep.has(e.task.number)) e.li.remove();
    s.items = tasks.map((t) => {
      const old = s.rows.get(t.number);
      if (!old) return entry(t);
      if (old.task.updated_at !== t.updated_at || old.li.dataset.due !== undefined) fillRow(old.li, t, hooks.zone());
      old.task = t;
      return old;
    });
    s.rows = new Map(s.items.map((e) => [e.task.number, e]));
    // Insert only what is out of place: rows that stay put keep their focus.
    let at = s.list.firstElementChild;
    for (const e of s.items) {
      if (e.li === at) at = at.nextElementSibling;
      else s.list.insertBefore(e.li, at);
    }
  }

  /** @param {Section} s after a load: counts, room for live additions, the sentinel */
  function settle(s) {
    s.room = Math.max(PAGE, Math.ceil(s.items.length / PAGE) * PAGE);
    io.unobserve(s.sentinel);
    s.sentinel.hidden = s.complete;
    // Observing again reports at once whether the end is still in view (a short page loads the next).
    if (!s.complete && active(s)) io.observe(s.sentinel);
    counts();
  }

  function counts() {
    const filtered = filters.view !== "all" || filters.label || words(filters.q).length;
    pending.empty.textContent = filtered ? t("tasks.noMatch") : pendingHint;
    for (const s of sections) {
      s.group.hidden = !active(s);
      // The number the server's pages held, with a + while more pages are to come.
      const n = s.items.length;
      s.count.textContent = s.loaded && (n || !s.complete) ? (s.complete ? formatNumber(n) : t("tasks.countMore", { count: n })) : "";
      s.empty.hidden = !s.loaded || !s.complete || s.items.length > 0;
    }
    badge.textContent = pending.count.textContent;
  }

  /**
   * Loads a section's first `limit` tasks afresh and shows them (a filter change, a reload, a resync).
   * @param {Section} s
   * @param {number} limit
   */
  async function reload(s, limit) {
    const gen = ++s.gen;
    s.loading = true;
    const during = record(s);
    try {
      const page = await listTasks({ ...params(s), limit: String(limit) });
      if (gen !== s.gen) return;
      reconcile(s, page.tasks);
      s.cursor = page.next_cursor;
      s.complete = !page.next_cursor;
      s.tail = page.tasks[page.tasks.length - 1] || null;
      s.loaded = true;
      replay(s, during);
    } catch (e) {
      if (gen === s.gen && !hooks.onError(e, refresh, true)) showError(msg(e));
    } finally {
      if (gen === s.gen) {
        s.loading = false;
        s.during = null;
        settle(s);
      }
    }
  }

  /**
   * From now on a section keeps the changes it sees, to replay on top of the page on its way.
   * @param {Section} s
   * @returns {Change[]}
   */
  function record(s) {
    return (s.during = []);
  }

  /** @param {Section} s the next page, appended */
  async function more(s) {
    if (s.loading || s.complete || !active(s)) return;
    // No cursor (live additions went past what was loaded): load the lot again, one page longer.
    if (!s.cursor) return reload(s, Math.min(MAX_LIMIT, s.items.length + PAGE));
    const gen = s.gen;
    s.loading = true;
    const during = record(s);
    try {
      const page = await listTasks({ ...params(s), limit: String(PAGE), cursor: s.cursor });
      if (gen !== s.gen) return;
      const fresh = document.createDocumentFragment();
      for (const t of page.tasks) {
        if (s.rows.has(t.number)) continue;
        const e = entry(t);
        s.items.push(e);
        s.rows.set(t.number, e);
        fresh.append(e.li);
      }
      s.list.append(fresh);
      if (page.tasks.length) s.tail = page.tasks[page.tasks.length - 1];
      s.cursor = page.next_cursor;
      s.complete = !page.next_cursor;
      replay(s, during);
    } catch (e) {
      if (gen === s.gen && !hooks.onError(e, () => more(s), true)) showError(msg(e));
    } finally {
      if (gen === s.gen) {
        s.loading = false;
        s.during = null;
        settle(s);
      }
    }
  }

  /** Everything shown, loaded again as far as it was (after the assistant acted, on focus, after a resync). */
  async function refresh() {
    loadLabels();
    await Promise.all(sections.map((s) => (active(s) ? reload(s, Math.min(MAX_LIMIT, Math.max(PAGE, s.items.length))) : null)));
    counts();
  }

  /** The filters changed: each shown list starts again from its first page. */
  function refilter() {
    for (const s of sections) {
      if (active(s)) reload(s, PAGE);
      else {
        s.gen++;
        s.loading = false;
        reconcile(s, []);
        s.loaded = false;
        s.complete = false;
        s.cursor = null;
      }
    }
    counts();
  }

  /**
   * A task changed (here, by the assistant, in another window): its row alone is added, patched, moved or
   * removed, where a reload would put it. One beyond the loaded part of a list is left to its page.
   * @param {string} kind task.created | task.updated | task.deleted
   * @param {Task} task
   */
  function apply(kind, task) {
    const focus = focusKey();
    moving = true;
    for (const s of sections) {
      s.during?.push({ kind, task });
      place(s, kind, task);
    }
    moving = false;
    restoreFocus(focus);
    counts();
    labelsSoon();
  }

  /**
   * A page answered from before the changes made while it was on its way (a rename saved while the list
   * reloaded after the assistant's turn): the changes go back on top, so no row shows an older task.
   * @param {Section} s
   * @param {Change[]} during
   */
  function replay(s, during) {
    if (!during.length) return;
    const focus = focusKey();
    moving = true;
    for (const c of during) place(s, c.kind, c.task);
    moving = false;
    restoreFocus(focus);
  }

  /**
   * One section's part of a change.
   * @param {Section} s
   * @param {string} kind
   * @param {Task} task
   */
  function place(s, kind, task) {
    const old = s.rows.get(task.number);
    // An echo older than what is shown (the PATCH answer came first) changes nothing.
    if (old && kind !== "task.deleted" && old.task.updated_at > task.updated_at) return;
    if (old) s.items.splice(s.items.indexOf(old), 1);
    const fits = kind !== "task.deleted" && s.loaded && active(s) && matches(s, task);
    const order = sortOf();
    let i = 0;
    for (let hi = s.items.length; i < hi; ) {
      const mid = (i + hi) >> 1;
      if (order(s.items[mid].task, task) < 0) i = mid + 1;
      else hi = mid;
    }
    // Past the loaded part (after the cursor's task): its page brings it. Past a complete list that is full:
    // the list pages from there on.
    const past = s.complete ? i === s.items.length && s.items.length >= s.room : !s.tail || order(task, s.tail) > 0;
    if (!fits || past) {
      if (old) {
        old.li.remove();
        s.rows.delete(task.number);
      }
      // The next "page" of a list without a cursor reloads it one page longer.
      if (fits && s.complete) {
        s.complete = false;
        s.cursor = null;
        s.tail = s.items.length ? s.items[s.items.length - 1].task : null;
        settle(s);
      }
      return;
    }
    const e = old || entry(task);
    if (old) fillRow(old.li, task, hooks.zone());
    e.task = task;
    s.items.splice(i, 0, e);
    s.rows.set(task.number, e);
    const next = s.items[i + 1];
    const before = next ? next.li : null;
    if (e.li.parentNode !== s.list || e.li.nextElementSibling !== before) s.list.insertBefore(e.li, before);
  }

  // ---- labels -------------------------------------------------------------------------------------------

  /** @type {number | undefined} */
  let labelTimer;
  const labelsSoon = () => {
    clearTimeout(labelTimer);
    labelTimer = setTimeout(loadLabels, 400);
  };

  async function loadLabels() {
    try {
      const labels = await listLabels();
      const chosen = labelSelect.value;
      const options = labels.map((l) => {
        const o = document.createElement("option");
        o.value = l.name;
        o.textContent = t("tasks.labelOption", { label: l.name, count: l.tasks });
        o.dir = "auto";
        return o;
      });
      if (chosen && !labels.some((l) => l.name === chosen)) options.unshift(Object.assign(new Option(chosen, chosen), { dir: "auto" }));
      labelSelect.replaceChildren(new Option(t("tasks.allLabels"), ""), ...options);
      labelSelect.value = chosen;
    } catch {
      // The filter keeps the labels it had; the task lists say what is wrong.
    }
  }

  // ---- focus --------------------------------------------------------------------------------------------

  let moving = false;

  // A row that moves (or a task that changes list) keeps keyboard focus on the same control of the same task.
  function focusKey() {
    const a = document.activeElement;
    if (!(a instanceof HTMLElement)) return null;
    const li = a.closest(".task");
    if (!(li instanceof HTMLElement) || !li.dataset.number) return null;
    return { number: li.dataset.number, role: a.dataset.role || "" };
  }

  /** @param {{ number: string, role: string } | null} key */
  function restoreFocus(key) {
    if (!key || focusKey()?.number === key.number) return;
    const target = panel.querySelector(`.task[data-number="${key.number}"] [data-role="${key.role}"]`);
    if (target instanceof HTMLElement) target.focus();
  }

  // ---- changes made here --------------------------------------------------------------------------------

  /** @param {number} n */
  const find = (n) => sections.map((s) => s.rows.get(n)).find(Boolean);

  /**
   * Sends a change; the answer patches the row. A refusal is shown in the row's editor when it is open
   * (with what was typed still there), else above the lists.
   * @param {HTMLLIElement} li
   * @param {Parameters<typeof patchTask>[1]} change
   * @param {string} said announced on success
   * @param {HTMLInputElement | null} [field] the field the change came from
   */
  async function save(li, change, said, field = null) {
    const n = Number(li.dataset.number);
    showError();
    detailsError(li);
    try {
      apply("task.updated", await patchTask(n, change));
      hooks.announce(said);
      return true;
    } catch (e) {
      if (!hooks.onError(e) && !detailsError(li, msg(e), field)) showError(msg(e));
      return false;
    }
  }

  /**
   * @param {() => Promise<Task | null>} change
   * @param {string} kind the live event it amounts to
   * @param {string} said
   * @param {Task} [gone] the deleted task
   */
  async function act(change, kind, said, gone) {
    showError();
    try {
      const t = await change();
      apply(kind, t || /** @type {Task} */ (gone));
      hooks.announce(said);
    } catch (e) {
      if (!hooks.onError(e)) showError(msg(e));
    }
  }

  wireRows(panel, { find, save, act, newTask, isMoving: () => moving });

  // Undo: the server reverses the last change (made here, by the assistant, or over MCP) and says what it did.
  const undoButton = byId("undo-change", HTMLButtonElement);
  undoButton.addEventListener("click", async () => {
    showError();
    undoButton.disabled = true;
    try {
      const u = await undoLast();
      for (const c of u.changes) {
        apply(c.undone === "removed" ? "task.deleted" : c.undone === "restored" ? "task.created" : "task.updated", c.task);
      }
      const first = u.changes[0];
      hooks.announce(
        u.count === 1 && first
          ? t("tasks.undoneOne", { number: first.number, title: first.task.title })
          : t("tasks.undoneMany", { count: u.count }),
      );
    } catch (e) {
      if (!hooks.onError(e)) showError(msg(e));
    } finally {
      undoButton.disabled = false;
    }
  });

  // ---- filters and the add form -------------------------------------------------------------------------

  for (const r of panel.querySelectorAll("input[name=task-view]")) {
    r.addEventListener("change", () => {
      filters.view = /** @type {HTMLInputElement} */ (r).value;
      if (filters.on && ["today", "upcoming", "overdue"].includes(filters.view)) {
        filters.on = "";
        dateInput.value = "";
      }
      refilter();
    });
  }
  labelSelect.addEventListener("change", () => {
    filters.label = labelSelect.value;
    refilter();
  });
  dateInput.addEventListener("change", () => {
    filters.on = /^\d{4}-\d{2}-\d{2}$/.test(dateInput.value) ? dateInput.value : "";
    // A day replaces a due view; All or Done stay as they were.
    if (filters.on && !["all", "done"].includes(filters.view)) {
      filters.view = "all";
      const all = panel.querySelector("input[name=task-view][value=all]");
      if (all instanceof HTMLInputElement) all.checked = true;
    }
    refilter();
  });
  sortSelect.addEventListener("change", () => {
    filters.sort = sortSelect.value;
    refilter();
  });
  /** @type {number | undefined} */
  let searchTimer;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      const q = search.value.trim();
      if (q === filters.q) return;
      filters.q = q;
      refilter();
    }, 250);
  });

  addForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const title = newTask.value.trim();
    if (!title) return;
    newTask.value = "";
    act(() => addTask(title), "task.created", t("tasks.added", { title }));
  });

  return { refresh, apply };
}
