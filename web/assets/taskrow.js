// One task row of the panel, and its details editor (due, priority, labels). Rows are built once and then
// patched in place (fillRow) when the task changes, so a live change never costs more than its own row and
// never takes the focus or a half-typed value away from the person.

import { el, icon } from "./api.js";
import { describeDue } from "./due.js";
import { t as tr } from "./i18n.js";

/** @typedef {import("./api.js").Task} Task */

export const PRIORITIES = /** @type {const} */ (["none", "low", "medium", "high", "urgent"]);

/**
 * @param {string} role
 * @param {string} name the icon
 * @param {string} [extra] more classes
 */
function iconButton(role, name, extra = "") {
  const b = el("button", `icon-btn small ${extra}`.trim());
  b.type = "button";
  b.dataset.role = role;
  b.append(icon(name));
  return b;
}

/**
 * A new row for a task, filled.
 * @param {Task} t
 * @param {string} zone the person's time zone
 */
export function makeRow(t, zone) {
  const li = el("li", "task");
  li.dataset.number = String(t.number);
  const box = el("input");
  box.type = "checkbox";
  box.id = `task-${t.number}`;
  box.dataset.role = "check";
  const label = el("label", "task-title");
  label.htmlFor = box.id;
  const text = el("span", "task-text");
  text.dir = "auto";
  label.append(el("span", "task-num", `#${t.number}`), " ", text);
  const main = el("div", "task-main");
  main.append(label, el("div", "task-meta"));
  const more = iconButton("more", "more");
  more.setAttribute("aria-expanded", "false");
  more.setAttribute("aria-controls", `details-${t.number}`);
  more.title = tr("row.detailsTitle");
  const edit = iconButton("edit", "edit");
  edit.title = tr("row.edit");
  const del = iconButton("delete", "trash", "danger");
  del.title = tr("row.delete");
  li.append(box, main, edit, more, del);
  fillRow(li, t, zone);
  return li;
}

/**
 * Brings a row up to date with its task: only what shows it, never a field being edited.
 * @param {HTMLLIElement} li
 * @param {Task} t
 * @param {string} zone
 */
export function fillRow(li, t, zone) {
  li.classList.toggle("done", t.completed);
  const box = /** @type {HTMLInputElement} */ (li.querySelector("[data-role=check]"));
  box.checked = t.completed;
  const text = li.querySelector(".task-text");
  if (text) text.textContent = t.title;
  /** @type {[string, string][]} */
  const names = [
    ["edit", "row.editTask"],
    ["more", "row.detailsOf"],
    ["delete", "row.deleteTask"],
  ];
  for (const [role, key] of names) {
    li.querySelector(`[data-role=${role}]`)?.setAttribute("aria-label", tr(key, { number: t.number, title: t.title }));
  }
  const meta = /** @type {HTMLElement} */ (li.querySelector(".task-meta"));
  const parts = [];
  if (t.due) {
    const d = describeDue(t.due, zone, t.completed);
    const due = el("span", d.overdue ? "due overdue" : "due", d.text);
    due.title = tr("row.due", { when: d.full });
    li.dataset.due = d.text;
    parts.push(el("span", "sr-only", tr("row.dueSr")), due);
  } else {
    delete li.dataset.due;
  }
  if (t.priority !== "none") {
    const flag = el("span", `flag p-${t.priority}`);
    const name = tr(`priority.${t.priority}`);
    flag.title = tr("row.priorityTitle", { priority: name });
    flag.append(icon("flag"), el("span", "", name), el("span", "sr-only", tr("row.prioritySr")));
    parts.push(flag);
  }
  for (const l of t.labels) parts.push(Object.assign(el("span", "chip", l), { dir: "auto" }));
  meta.replaceChildren(...parts);
  meta.hidden = parts.length === 0;
  const details = li.querySelector(".task-details");
  if (details instanceof HTMLElement) fillDetails(details, t);
}

/**
 * The details editor of a row: a due field that takes words ("tomorrow 5pm") or a date and time, a priority
 * menu, and label chips with a field to add one. Each change is its own PATCH (the panel wires them).
 * @param {Task} t
 */
export function makeDetails(t) {
  const n = t.number;
  const d = el("div", "task-details");
  d.id = `details-${n}`;
  d.setAttribute("role", "group");
  d.setAttribute("aria-label", tr("row.details", { number: n }));

  const dueLabel = el("label", "", tr("row.dueField"));
  dueLabel.htmlFor = `due-${n}`;
  const due = el("input", "detail-due");
  due.type = "text";
  due.id = `due-${n}`;
  due.dataset.role = "due";
  due.maxLength = 100;
  due.autocomplete = "off";
  due.dir = "auto";
  due.placeholder = tr("row.duePlaceholder");
  due.setAttribute("aria-describedby", `due-hint-${n} error-${n}`);
  const hint = el("span", "sr-only", tr("row.dueHint"));
  hint.id = `due-hint-${n}`;

  const prioLabel = el("label", "", tr("row.priority"));
  prioLabel.htmlFor = `priority-${n}`;
  const prio = el("select");
  prio.id = `priority-${n}`;
  prio.dataset.role = "priority";
  for (const p of PRIORITIES) {
    const o = el("option", "", tr(p === "none" ? "priority.none" : `priorityOption.${p}`));
    o.value = p;
    prio.append(o);
  }

  const labelsTitle = el("span", "detail-name", tr("row.labels"));
  labelsTitle.id = `labels-${n}`;
  const chips = el("ul", "chips");
  chips.setAttribute("aria-labelledby", labelsTitle.id);
  const add = el("input", "detail-label");
  add.type = "text";
  add.dataset.role = "label-add";
  add.maxLength = 40;
  add.autocomplete = "off";
  add.dir = "auto";
  add.placeholder = tr("row.labelPlaceholder");
  add.setAttribute("aria-label", tr("row.addLabel", { number: n }));
  add.setAttribute("aria-describedby", `error-${n}`);

  const error = el("p", "field-error");
  error.id = `error-${n}`;
  error.dataset.role = "error";
  error.setAttribute("role", "alert");
  error.hidden = true;

  const row = (/** @type {Node[]} */ ...kids) => {
    const r = el("div", "detail-row");
    r.append(...kids);
    return r;
  };
  d.append(row(dueLabel, due, hint), row(prioLabel, prio), row(labelsTitle, chips, add), error);
  fillDetails(d, t);
  return d;
}

/**
 * @param {HTMLElement} d
 * @param {Task} t
 */
export function fillDetails(d, t) {
  const due = /** @type {HTMLInputElement} */ (d.querySelector("[data-role=due]"));
  // What the person is typing stays; otherwise the field shows the due as it was set.
  if (document.activeElement !== due && !due.dataset.dirty) due.value = t.due ? t.due.string : "";
  /** @type {HTMLSelectElement} */ (d.querySelector("[data-role=priority]")).value = t.priority;
  const chips = /** @type {HTMLUListElement} */ (d.querySelector(".chips"));
  chips.replaceChildren(
    ...t.labels.map((l) => {
      const li = el("li", "chip");
      const name = el("span", "", l);
      name.dir = "auto";
      li.append(name);
      const x = iconButton("unlabel", "close");
      x.dataset.label = l;
      x.setAttribute("aria-label", tr("row.removeLabel", { label: l, number: t.number }));
      li.append(x);
      return li;
    }),
  );
}

/**
 * Shows (or, without a message, hides) the details editor's error, tying it to the field it is about.
 * @param {HTMLElement} li
 * @param {string} [message]
 * @param {HTMLInputElement | null} [field]
 */
export function detailsError(li, message, field) {
  const box = li.querySelector("[data-role=error]");
  if (!(box instanceof HTMLElement)) return false;
  box.textContent = message || "";
  box.hidden = !message;
  for (const f of li.querySelectorAll(".task-details input")) f.removeAttribute("aria-invalid");
  if (message && field) field.setAttribute("aria-invalid", "true");
  return true;
}
