// Editing in the task panel's rows: the inline title edit, the details editor (due, priority, labels), the
// checkbox and delete. One set of listeners on the panel serves every row, however many are loaded.

import { deleteTask, setDone } from "./api.js";
import { t as tr } from "./i18n.js";
import { makeDetails } from "./taskrow.js";

/** @typedef {import("./api.js").Task} Task */

/**
 * @param {HTMLElement} panel
 * @param {{ find: (n: number) => { task: Task, li: HTMLLIElement } | undefined,
 *   save: (li: HTMLLIElement, change: Parameters<typeof import("./api.js").patchTask>[1], said: string,
 *     field?: HTMLInputElement | null) => Promise<boolean>,
 *   act: (change: () => Promise<Task | null>, kind: string, said: string, gone?: Task) => Promise<void>,
 *   newTask: HTMLInputElement, isMoving: () => boolean }} ctx find: a loaded task and its row; save: a PATCH
 *   whose refusal shows in the row; act: another change; isMoving: whether rows are being moved (a blur then
 *   is not the person leaving the field)
 */
export function wireRows(panel, ctx) {
  const { find, save, act, newTask, isMoving } = ctx;

  /**
   * Swaps the title for a text field: Enter saves, Escape cancels; a refused title stays in the field.
   * @param {HTMLLIElement} li
   * @param {Task} t
   */
  function startEdit(li, t) {
    if (li.classList.contains("editing")) return;
    li.classList.add("editing");
    const label = /** @type {HTMLElement} */ (li.querySelector(".task-title"));
    const input = document.createElement("input");
    input.className = "task-edit";
    input.type = "text";
    input.value = t.title;
    input.maxLength = 200;
    input.dir = "auto";
    input.dataset.role = "editing";
    input.setAttribute("aria-label", tr("row.newTitle", { number: t.number }));
    label.hidden = true;
    label.after(input);
    let busy = false;
    let closed = false;
    const close = () => {
      // Set before the removal: Chromium blurs a focused input as it removes it, while it is still connected,
      // and that blur must not save what an Escape just discarded.
      closed = true;
      input.remove();
      label.hidden = false;
      li.classList.remove("editing");
      /** @type {HTMLElement | null} */ (li.querySelector("[data-role=edit]"))?.focus();
    };
    /** @param {boolean} keep */
    const finish = async (keep) => {
      if (busy || closed || !input.isConnected) return;
      const title = input.value.trim();
      const was = find(t.number)?.task.title ?? t.title;
      if (!keep || !title || title === was) return close();
      busy = true;
      input.disabled = true;
      const ok = await save(li, { title }, tr("said.renamed", { number: t.number }));
      busy = false;
      input.disabled = false;
      if (ok) close();
      else input.focus();
    };
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        finish(true);
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        ev.stopPropagation();
        finish(false);
      }
    });
    input.addEventListener("blur", () => {
      if (!isMoving()) finish(true);
    });
    input.focus();
    input.select();
  }

  /**
   * Opens or closes a row's details editor (due, priority, labels).
   * @param {HTMLLIElement} li
   * @param {Task} t
   * @param {boolean} open
   */
  function details(li, t, open) {
    const button = /** @type {HTMLElement} */ (li.querySelector("[data-role=more]"));
    button.setAttribute("aria-expanded", String(open));
    li.classList.toggle("open", open);
    li.querySelector(".task-details")?.remove();
    if (open) {
      li.append(makeDetails(t));
      /** @type {HTMLElement} */ (li.querySelector("[data-role=due]")).focus();
    } else button.focus();
  }

  // One set of listeners for every row, however many there are.
  panel.addEventListener("click", (ev) => {
    const b = ev.target instanceof Element && ev.target.closest("button[data-role]");
    const li = b && b.closest(".task");
    const e = li instanceof HTMLLIElement && find(Number(li.dataset.number));
    if (!b || !(li instanceof HTMLLIElement) || !e) return;
    const t = e.task;
    const role = /** @type {HTMLElement} */ (b).dataset.role;
    if (role === "edit") startEdit(li, t);
    else if (role === "more") details(li, t, !li.classList.contains("open"));
    else if (role === "delete") {
      // Focus would be lost with the row: move it to the neighbour first.
      const next = li.nextElementSibling || li.previousElementSibling;
      const to = next && next.querySelector("[data-role=delete]");
      if (to instanceof HTMLElement) to.focus();
      else newTask.focus();
      act(() => deleteTask(t.number), "task.deleted", tr("said.deleted", { number: t.number }), t);
    } else if (role === "unlabel") {
      const gone = /** @type {HTMLElement} */ (b).dataset.label;
      /** @type {HTMLElement} */ (li.querySelector("[data-role=label-add]")).focus();
      save(li, { labels: t.labels.filter((l) => l !== gone) }, tr("said.unlabelled", { label: gone || "", number: t.number }));
    }
  });

  panel.addEventListener("change", (ev) => {
    const f = ev.target;
    const li = f instanceof HTMLElement && f.closest(".task");
    const e = li instanceof HTMLLIElement && find(Number(li.dataset.number));
    if (!(f instanceof HTMLInputElement || f instanceof HTMLSelectElement) || !(li instanceof HTMLLIElement) || !e) return;
    const n = e.task.number;
    if (f.dataset.role === "check" && f instanceof HTMLInputElement) {
      const done = f.checked;
      act(() => setDone(n, done), "task.updated", tr(done ? "said.done" : "said.reopened", { number: n }));
    } else if (f.dataset.role === "priority" && f instanceof HTMLSelectElement) {
      const priority = /** @type {Task["priority"]} */ (f.value);
      const said = priority === "none" ? tr("said.noPriority", { number: n }) : tr("said.priority", { number: n, priority: tr(`priority.${priority}`) });
      save(li, { priority }, said).then((ok) => {
        if (!ok) f.value = find(n)?.task.priority || "none";
      });
    } else if (f.dataset.role === "due" && f instanceof HTMLInputElement) saveDue(li, f);
  });

  /**
   * @param {HTMLLIElement} li
   * @param {HTMLInputElement} f
   */
  async function saveDue(li, f) {
    const n = Number(li.dataset.number);
    const t = find(n)?.task;
    const words = f.value.trim();
    if (!t || f.dataset.busy || words === (t.due ? t.due.string : "")) return;
    f.dataset.busy = "1";
    const said = words ? tr("said.due", { number: n, due: words }) : tr("said.noDue", { number: n });
    const ok = await save(li, { due: words || null }, said, f);
    delete f.dataset.busy;
    if (ok) {
      delete f.dataset.dirty;
      const now = find(n)?.task;
      if (now && document.activeElement !== f) f.value = now.due ? now.due.string : "";
    }
  }

  panel.addEventListener("input", (ev) => {
    if (ev.target instanceof HTMLInputElement && ev.target.dataset.role === "due") ev.target.dataset.dirty = "1";
  });

  panel.addEventListener("keydown", (ev) => {
    const f = ev.target;
    const li = f instanceof HTMLElement && f.closest(".task.open");
    const e = li instanceof HTMLLIElement && find(Number(li.dataset.number));
    if (!(li instanceof HTMLLIElement) || !e || !(f instanceof HTMLElement) || !f.closest(".task-details")) return;
    if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      details(li, e.task, false);
    } else if (ev.key === "Enter" && f instanceof HTMLInputElement && f.dataset.role === "due") {
      ev.preventDefault();
      saveDue(li, f);
    } else if (ev.key === "Enter" && f instanceof HTMLInputElement && f.dataset.role === "label-add") {
      ev.preventDefault();
      const name = f.value.trim();
      if (!name) return;
      save(li, { labels: [...e.task.labels, name] }, tr("said.labelled", { number: e.task.number, label: name }), f).then((ok) => {
        if (ok) f.value = "";
      });
    }
  });
}
