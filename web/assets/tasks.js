// The task panel beside the chat: pending and done tasks with a checkbox to complete or reopen, an inline
// edit of the title and a delete button. It reloads whenever the assistant touched a task, so both stay in step.

import { addTask, byId, deleteTask, el, icon, listTasks, renameTask, setDone } from "./api.js";

/** @typedef {import("./api.js").Task} Task */

/**
 * @param {{ onError: (e: unknown, retry?: () => void, background?: boolean) => boolean,
 *   announce: (text: string) => void }} hooks onError returns true when it dealt with the error (an ended
 *   session, an offline browser)
 */
export function taskPanel(hooks) {
  const pending = byId("pending-list", HTMLUListElement);
  const done = byId("done-list", HTMLUListElement);
  const errorBox = byId("tasks-error", HTMLElement);
  const badge = byId("tasks-badge", HTMLElement);
  const addForm = byId("add-task", HTMLFormElement);
  const newTask = byId("new-task", HTMLInputElement);
  /** @type {Task[]} */
  let tasks = [];
  let loaded = false;
  let generation = 0;

  /** @param {string} [message] */
  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  /**
   * Runs a change, then reloads; a failure is explained where it happened.
   * @param {() => Promise<unknown>} change
   * @param {string} [said] announced on success
   */
  async function act(change, said) {
    showError();
    try {
      await change();
      if (said) hooks.announce(said);
    } catch (e) {
      if (!hooks.onError(e)) showError(e instanceof Error ? e.message : String(e));
    }
    await refresh();
  }

  async function refresh() {
    const mine = ++generation;
    try {
      const list = await listTasks();
      // A slower, older reload must not overwrite a newer one.
      if (mine !== generation) return;
      tasks = list;
      loaded = true;
      render();
    } catch (e) {
      if (!hooks.onError(e, refresh, true)) showError(e instanceof Error ? e.message : String(e));
    }
  }

  function render() {
    // An edit in progress survives a reload: skip re-rendering its row.
    const editing = document.activeElement instanceof HTMLInputElement && document.activeElement.closest(".task.editing");
    if (editing) return;
    const focusedKey = focusKey();
    const open = tasks.filter((t) => !t.completed).sort((a, b) => a.number - b.number);
    const finished = tasks
      .filter((t) => t.completed)
      .sort((a, b) => (b.completed_at || "").localeCompare(a.completed_at || "") || b.number - a.number);
    pending.replaceChildren(...open.map(row));
    done.replaceChildren(...finished.map(row));
    byId("pending-count", HTMLElement).textContent = open.length ? String(open.length) : "";
    byId("done-count", HTMLElement).textContent = finished.length ? String(finished.length) : "";
    byId("pending-empty", HTMLElement).hidden = !loaded || open.length > 0;
    byId("done-empty", HTMLElement).hidden = !loaded || finished.length > 0;
    badge.textContent = open.length ? String(open.length) : "";
    restoreFocus(focusedKey);
  }

  // Rows are rebuilt on every reload; keep keyboard focus on the same control of the same task.
  function focusKey() {
    const a = document.activeElement;
    if (!(a instanceof HTMLElement)) return null;
    const li = a.closest(".task");
    if (!(li instanceof HTMLElement) || !li.dataset.number) return null;
    return { number: li.dataset.number, role: a.dataset.role || "" };
  }

  /** @param {{ number: string, role: string } | null} key */
  function restoreFocus(key) {
    if (!key) return;
    const target = document.querySelector(`.task[data-number="${key.number}"] [data-role="${key.role}"]`);
    if (target instanceof HTMLElement) target.focus();
  }

  /** @param {Task} t */
  function row(t) {
    const li = el("li", t.completed ? "task done" : "task");
    li.dataset.number = String(t.number);
    const box = el("input");
    box.type = "checkbox";
    box.id = `task-${t.number}`;
    box.checked = t.completed;
    box.dataset.role = "check";
    box.addEventListener("change", () =>
      act(
        () => setDone(t.number, box.checked),
        box.checked ? `Marked task ${t.number} done.` : `Task ${t.number} is pending again.`,
      ),
    );
    const label = el("label", "task-title");
    label.htmlFor = box.id;
    label.append(el("span", "task-num", `#${t.number}`), " ", el("span", "task-text", t.title));
    const edit = el("button", "icon-btn small");
    edit.type = "button";
    edit.dataset.role = "edit";
    edit.setAttribute("aria-label", `Edit task ${t.number}: ${t.title}`);
    edit.title = "Edit";
    edit.append(icon("edit"));
    edit.addEventListener("click", () => startEdit(li, t));
    const del = el("button", "icon-btn small danger");
    del.type = "button";
    del.dataset.role = "delete";
    del.setAttribute("aria-label", `Delete task ${t.number}: ${t.title}`);
    del.title = "Delete";
    del.append(icon("trash"));
    del.addEventListener("click", () => {
      // Focus would be lost with the row: move it to the neighbour first.
      const next = li.nextElementSibling || li.previousElementSibling;
      const to = next && next.querySelector("[data-role=delete]");
      if (to instanceof HTMLElement) to.focus();
      else newTask.focus();
      act(() => deleteTask(t.number), `Deleted task ${t.number}.`);
    });
    li.append(box, label, edit, del);
    return li;
  }

  /**
   * Swaps the title for a text field: Enter saves, Escape cancels.
   * @param {HTMLLIElement} li
   * @param {Task} t
   */
  function startEdit(li, t) {
    li.classList.add("editing");
    const input = el("input", "task-edit");
    input.type = "text";
    input.value = t.title;
    input.maxLength = 200;
    input.dataset.role = "editing";
    input.setAttribute("aria-label", `New title for task ${t.number}`);
    const label = li.querySelector(".task-title");
    if (label) label.replaceWith(input);
    let finished = false;
    /** @param {boolean} save */
    const finish = (save) => {
      if (finished) return;
      finished = true;
      li.classList.remove("editing");
      const title = input.value.trim();
      const after = () => {
        const b = document.querySelector(`.task[data-number="${t.number}"] [data-role=edit]`);
        if (b instanceof HTMLElement) b.focus();
      };
      if (save && title && title !== t.title) {
        input.disabled = true;
        act(() => renameTask(t.number, title), `Renamed task ${t.number}.`).then(after);
      } else {
        render();
        after();
      }
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
    input.addEventListener("blur", () => finish(true));
    input.focus();
    input.select();
  }

  addForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const title = newTask.value.trim();
    if (!title) return;
    newTask.value = "";
    act(() => addTask(title), `Added “${title}”.`);
  });

  return { refresh };
}
