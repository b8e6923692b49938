// Talking to the taskchat server: accounts (/api/auth), tasks (/api/tasks) and the chat (/chatkit, with its
// server-sent events). Every call carries the session cookie; every failure becomes an ApiError, so the pages
// have one place to tell "signed out", "offline" and "refused" apart.

import { t } from "./i18n.js";

/**
 * @typedef {{ id: string, name: string, email: string, timezone?: string }} User
 * @typedef {{ date: string, time: string | null, at: string | null, timezone: string, string: string }} Due
 * @typedef {"none" | "low" | "medium" | "high" | "urgent"} Priority
 * @typedef {{ id: string, number: number, title: string, description: string | null, completed: boolean,
 *   created_at: string, updated_at: string, completed_at: string | null, due: Due | null, priority: Priority,
 *   labels: string[] }} Task
 * @typedef {{ count: number, tasks: Task[], next_cursor: string | null }} TaskPage
 * @typedef {{ name: string, tasks: number, pending: number }} Label
 * @typedef {{ id: string, title?: string | null, created_at: string, items?: Page<Item> }} Thread
 * @typedef {{ type: string, text?: string }} Content
 * @typedef {{ type: string, title?: string, status_indicator?: string, icon?: string }} WorkflowTask
 * @typedef {{ id: string, thread_id: string, created_at: string, type: string, content?: Content[],
 *   workflow?: { tasks: WorkflowTask[] } }} Item
 * @typedef {{ type: string, [key: string]: any }} StreamEvent
 */

/**
 * @template T
 * @typedef {{ data: T[], has_more: boolean, after?: string | null }} Page
 */

export class ApiError extends Error {
  /**
   * @param {number} status 0 when the server could not be reached
   * @param {string} code
   * @param {string} message
   * @param {number | null} [retryAfter] seconds to wait before trying again, when the server said
   */
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  get offline() {
    return this.status === 0;
  }

  get unauthorized() {
    return this.status === 401;
  }
}


/**
 * @param {string} url
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
async function send(url, init = {}) {
  /** @type {Response} */
  let res;
  try {
    res = await fetch(url, { credentials: "same-origin", ...init });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, "NETWORK", t("net.offline"));
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

/**
 * The server's `{message, code}` body as an error; a bare status otherwise.
 * @param {Response} res
 */
async function errorOf(res) {
  /** @type {any} */
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON (a proxy's page, an empty 404): the status alone speaks.
  }
  const message =
    body && typeof body.message === "string"
      ? body.message
      : res.status >= 500
        ? t("net.server")
        : t("net.failed", { status: res.status });
  const code = body && typeof body.code === "string" ? body.code : `HTTP_${res.status}`;
  const retry = Number.parseInt(res.headers.get("retry-after") ?? "", 10);
  return new ApiError(res.status, code, message, Number.isFinite(retry) && retry > 0 ? retry : null);
}

/**
 * @param {string} method
 * @param {string} url
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function json(method, url, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await send(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// ---- accounts -------------------------------------------------------------------------------------------

/** @returns {Promise<User | null>} */
export async function currentUser() {
  const s = await json("GET", "/api/auth/get-session");
  return s && s.user ? s.user : null;
}

/**
 * @param {string} email
 * @param {string} password
 * @param {boolean} rememberMe
 * @returns {Promise<User>}
 */
export async function signIn(email, password, rememberMe) {
  const r = await json("POST", "/api/auth/sign-in/email", { email, password, rememberMe });
  return r.user;
}

/**
 * @param {string} name
 * @param {string} email
 * @param {string} password
 * @returns {Promise<User>}
 */
export async function signUp(name, email, password) {
  const r = await json("POST", "/api/auth/sign-up/email", { name, email, password });
  return r.user;
}

export async function signOut() {
  await json("POST", "/api/auth/sign-out", {});
}

/**
 * Gives a person still on the default zone (UTC) the browser's zone, once: a localStorage flag remembers it
 * was done (or refused), so a person who later picks UTC on purpose keeps it. Updates `user` in place.
 * @param {User} user
 */
export async function adoptBrowserZone(user) {
  const key = `taskchat:zone-set:${user.id}`;
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    if (localStorage.getItem(key)) return;
  } catch {
    return;
  }
  if (!zone || zone === "UTC" || (user.timezone && user.timezone !== "UTC")) return;
  try {
    await json("POST", "/api/auth/update-user", { timezone: zone });
    user.timezone = zone;
  } catch (e) {
    // Offline: try again next time. Refused (a zone the server doesn't know): don't ask again.
    if (e instanceof ApiError && (e.offline || e.status >= 500 || e.unauthorized)) return;
  }
  try {
    localStorage.setItem(key, "1");
  } catch {
    // Storage disabled: it is asked again next time, which is harmless.
  }
}

// ---- tasks ----------------------------------------------------------------------------------------------

/**
 * One page of tasks: filters, sort, limit and cursor as GET /api/tasks takes them.
 * @param {Record<string, string>} params
 * @returns {Promise<TaskPage>}
 */
export const listTasks = (params) => json("GET", `/api/tasks?${new URLSearchParams(params)}`);

/** @returns {Promise<Label[]>} */
export async function listLabels() {
  const r = await json("GET", "/api/labels");
  return r.labels;
}

/**
 * @param {number} n
 * @param {{ title?: string, due?: string | null, priority?: Priority, labels?: string[] }} change
 * @returns {Promise<Task>}
 */
export const patchTask = (n, change) => json("PATCH", `/api/tasks/${n}`, change);

/**
 * @param {string} title
 * @returns {Promise<Task>}
 */
export const addTask = (title) => json("POST", "/api/tasks", { title });

/**
 * @param {number} n
 * @param {boolean} done
 * @returns {Promise<Task>}
 */
export const setDone = (n, done) => json("POST", `/api/tasks/${n}/${done ? "complete" : "reopen"}`);

/**
 * @param {number} n
 * @param {string} title
 * @returns {Promise<Task>}
 */
export const renameTask = (n, title) => patchTask(n, { title });

/** @param {number} n */
export const deleteTask = (n) => json("DELETE", `/api/tasks/${n}`);

/**
 * Undoes the person's newest change still standing (a whole bulk change at once), from whichever door.
 * @returns {Promise<{ count: number, changes: { number: number, undone: "restored" | "removed" | "reverted", task: Task }[] }>}
 */
export const undoLast = () => json("POST", "/api/activity/undo", {});

// ---- chat (ChatKit) -------------------------------------------------------------------------------------

/**
 * A non-streaming ChatKit request.
 * @param {string} type
 * @param {Record<string, unknown>} params
 * @returns {Promise<any>}
 */
export const chatkit = (type, params) => json("POST", "/chatkit", { type, params });

/**
 * A streaming ChatKit request: resolves once the server accepted it (or throws its refusal), then feeds each
 * event to `onEvent` until the stream ends. Aborting `signal` stops it (an AbortError).
 * @param {string} type
 * @param {Record<string, unknown>} params
 * @param {AbortSignal} signal
 * @param {() => void} onAccepted called once the server took the request
 * @param {(e: StreamEvent) => void} onEvent
 */
export async function chatkitStream(type, params, signal, onAccepted, onEvent) {
  const res = await send("/chatkit", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ type, params }),
    signal,
  });
  onAccepted();
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    /** @type {ReadableStreamReadResult<string>} */
    let chunk;
    try {
      chunk = await reader.read();
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") throw e;
      throw new ApiError(0, "NETWORK", t("net.dropped"));
    }
    if (chunk.done) break;
    buffer += chunk.value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(l.startsWith("data: ") ? 6 : 5))
        .join("\n");
      if (data) onEvent(JSON.parse(data));
    }
  }
}

/**
 * A user message input as ChatKit expects it.
 * @param {string} text
 */
export const input = (text) => ({
  content: [{ type: "input_text", text }],
  attachments: [],
  inference_options: {},
});

// ---- small shared helpers -------------------------------------------------------------------------------

/**
 * The `next` address when it stays on this site (`/x`, never `//host` or `/\host`).
 * @param {string | null} next
 */
export function safeNext(next) {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return null;
  if (/[\u0000-\u001f\\]/.test(next)) return null;
  return next;
}

/**
 * An element by id, typed; a missing one is a bug in the page.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
export function byId(id, type) {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`#${id} is missing`);
  return el;
}

/**
 * Creates an element with a class and text (text only: nothing is ever parsed as HTML).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * An icon from the sprite.
 * @param {string} name
 */
export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(ns, "use");
  use.setAttribute("href", `/assets/icons.svg#${name}`);
  svg.append(use);
  return svg;
}

// Drafts live in localStorage per person and thread, so an ended session or a lost connection loses nothing.
const DRAFT_PREFIX = "taskchat:draft:";

/**
 * @param {string} userId
 * @param {string | null} threadId
 */
const draftKey = (userId, threadId) => `${DRAFT_PREFIX}${userId}:${threadId || "new"}`;

export const drafts = {
  /**
   * @param {string} userId
   * @param {string | null} threadId
   */
  get(userId, threadId) {
    try {
      return localStorage.getItem(draftKey(userId, threadId)) || "";
    } catch {
      return "";
    }
  },
  /**
   * @param {string} userId
   * @param {string | null} threadId
   * @param {string} text
   */
  set(userId, threadId, text) {
    try {
      if (text.trim()) localStorage.setItem(draftKey(userId, threadId), text);
      else localStorage.removeItem(draftKey(userId, threadId));
    } catch {
      // Storage full or disabled: the draft still sits in the message box.
    }
  },
  /** @param {string} userId forgets every draft of this person (on sign-out) */
  clearAll(userId) {
    try {
      for (const k of Object.keys(localStorage)) {
        if (k.startsWith(`${DRAFT_PREFIX}${userId}:`)) localStorage.removeItem(k);
      }
    } catch {
      // Nothing to clear.
    }
  },
};
