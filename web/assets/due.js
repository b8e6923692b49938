// Due dates as the person sees them ("today 17:00", "Friday", "overdue by 2 days"), reckoned on the clock of
// their profile's time zone, not the browser's: someone travelling still sees their own "today". Also the
// server's due filters and sort orders, so a change that arrives live lands where a reload would put it.

import { lang, locale, t as tr } from "./i18n.js";

/** @typedef {import("./api.js").Task} Task */
/** @typedef {import("./api.js").Due} Due */

/** @type {Map<string, Intl.DateTimeFormat>} */
const clocks = new Map();

/** @param {string} zone an IANA name; an unknown one reads as UTC */
function clock(zone) {
  let f = clocks.get(zone);
  if (!f) {
    const opts = /** @type {const} */ ({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    try {
      f = new Intl.DateTimeFormat("en-CA", { ...opts, timeZone: zone });
    } catch {
      f = new Intl.DateTimeFormat("en-CA", { ...opts, timeZone: "UTC" });
    }
    clocks.set(zone, f);
  }
  return f;
}

/**
 * The wall-clock date (YYYY-MM-DD) and time (HH:MM) of an instant in a zone.
 * @param {Date} instant
 * @param {string} zone
 */
export function wallClock(instant, zone) {
  /** @type {Record<string, string>} */
  const p = {};
  for (const part of clock(zone).formatToParts(instant)) p[part.type] = part.value;
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour === "24" ? "00" : p.hour}:${p.minute}` };
}

/** @param {string} date YYYY-MM-DD, as a Date at UTC midnight (for calendar arithmetic and names) */
const utcDay = (date) => new Date(`${date}T00:00:00Z`);

const weekday = new Intl.DateTimeFormat(locale, { weekday: "long", timeZone: "UTC" });
const short = new Intl.DateTimeFormat(locale, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
const shortYear = new Intl.DateTimeFormat(locale, { weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
const long = new Intl.DateTimeFormat(locale, { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });

/** "Thu 24 Dec" (in English the parts in this order whatever the locale data says; other languages in their
 * own order), with the year when not this one. */
function shortDate(/** @type {string} */ date, /** @type {string} */ today) {
  if (lang !== "en") {
    const withYear = date.slice(0, 4) === today.slice(0, 4) ? short : shortYear;
    return withYear.format(utcDay(date));
  }
  /** @type {Record<string, string>} */
  const p = {};
  for (const part of short.formatToParts(utcDay(date))) p[part.type] = part.value;
  const year = date.slice(0, 4) === today.slice(0, 4) ? "" : ` ${date.slice(0, 4)}`;
  return `${p.weekday} ${p.day} ${p.month}${year}`;
}

/**
 * How a due reads in a task row, relative to now on the person's clock.
 * @param {Due} due
 * @param {string} zone the person's time zone
 * @param {boolean} [completed] a finished task is never overdue
 * @param {Date} [now]
 * @returns {{ text: string, overdue: boolean, full: string }} full: the whole date, for a tooltip and screen readers
 */
export function describeDue(due, zone, completed = false, now = new Date()) {
  const today = wallClock(now, zone).date;
  // A due with a time is an instant: shown on the person's clock today, even if they set it in another zone.
  const local = due.at ? wallClock(new Date(due.at), zone) : { date: due.date, time: due.time };
  const days = Math.round((utcDay(local.date).getTime() - utcDay(today).getTime()) / 86_400_000);
  const time = local.time ? ` ${local.time}` : "";
  const full = `${long.format(utcDay(local.date))}${time}`;
  if (!Number.isFinite(days)) return { text: due.string, overdue: false, full: due.string };
  const overdue = !completed && (days < 0 || (days === 0 && !!due.at && new Date(due.at) < now));
  /** @param {string} day */
  const at = (day) => (local.time ? tr("due.withTime", { day, time: local.time }) : day);
  let text;
  if (overdue) text = days < 0 ? tr("due.overdueBy", { count: -days }) : tr("due.overdue");
  else if (days === 0) text = at(tr("due.today"));
  else if (days === 1) text = at(tr("due.tomorrow"));
  else if (days === -1) text = at(tr("due.yesterday"));
  else if (days > 1 && days < 7) text = at(weekday.format(utcDay(local.date)));
  else text = at(shortDate(local.date, today));
  return { text, overdue, full };
}

/** The key the server sorts dues by: `YYYY-MM-DD HH:MM`, `YYYY-MM-DD ~` (no time: after the day's times), `~` (none). */
export const dueKey = (/** @type {Task} */ t) => (t.due ? `${t.due.date} ${t.due.time || "~"}` : "~");

/**
 * Whether a task falls in one of the server's due filters, as it reckons them (on the stored date and time).
 * @param {string} filter today | overdue | upcoming | on:YYYY-MM-DD
 * @param {Task} t
 * @param {string} zone
 */
export function inDueFilter(filter, t, zone) {
  const now = wallClock(new Date(), zone);
  const k = dueKey(t);
  if (filter === "today") return k >= `${now.date} ` && k <= `${now.date} ~`;
  if (filter === "overdue") return !t.completed && k < `${now.date} ${now.time}`;
  if (filter === "upcoming") return k >= `${now.date} ` && k < "~";
  if (filter.startsWith("on:")) return k.startsWith(`${filter.slice(3)} `);
  return true;
}

const rank = { none: 0, low: 1, medium: 2, high: 3, urgent: 4 };
/** @param {string} a @param {string} b */
const text = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** The server's orders (ORDER BY of each `sort`), for placing a task among those already shown. */
/** @type {Record<string, (a: Task, b: Task) => number>} */
export const orders = {
  number: (a, b) => a.number - b.number,
  created: (a, b) => b.number - a.number,
  due: (a, b) => text(dueKey(a), dueKey(b)) || a.number - b.number,
  priority: (a, b) => rank[b.priority] - rank[a.priority] || text(dueKey(a), dueKey(b)) || a.number - b.number,
  updated: (a, b) => text(b.updated_at, a.updated_at) || b.number - a.number,
};

/** Search words as the server splits them: lower-case runs of letters and digits. */
export const words = (/** @type {string} */ s) => s.normalize("NFC").toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);

/**
 * Whether every word of a search is the start of a word of the task (the server's prefix match).
 * @param {string} q
 * @param {Task} t
 */
export function matchesSearch(q, t) {
  const have = words(`${t.title} ${t.description || ""} ${t.labels.join(" ")}`);
  return words(q).every((w) => have.some((h) => h.startsWith(w)));
}

/** A label as the server compares them: trimmed, without a leading #, lower-case. */
export const labelKey = (/** @type {string} */ l) => l.normalize("NFC").trim().replace(/^#+/, "").trim().toLowerCase();
