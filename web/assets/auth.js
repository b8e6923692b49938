// The sign-in and sign-up pages: one form each, checked as the person types, the server's refusals shown in
// place in plain words, and on success a return to where they were headed (?next=).

import { ApiError, byId, el, safeNext, signIn, signUp } from "./api.js";

const form = byId("auth-form", HTMLFormElement);
const mode = form.dataset.mode === "signup" ? "signup" : "login";
const email = byId("email", HTMLInputElement);
const password = byId("password", HTMLInputElement);
const name = mode === "signup" ? byId("name", HTMLInputElement) : null;
const remember = mode === "login" ? byId("remember", HTMLInputElement) : null;
const submit = byId("submit", HTMLButtonElement);
const formError = byId("form-error", HTMLElement);

const params = new URLSearchParams(location.search);
const next = safeNext(params.get("next"));

// Keep the destination when switching between the two pages.
if (next) {
  const other = byId("switch-link", HTMLAnchorElement);
  other.href = `${other.pathname}?next=${encodeURIComponent(next)}`;
}

if (params.get("reason") === "expired") {
  const notice = byId("notice", HTMLElement);
  notice.textContent = "Your session has ended. Sign in again to continue — your message is kept.";
  notice.hidden = false;
}

const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** @type {Record<string, (v: string) => string>} what is wrong with each field's value, or "" */
const checks = {
  name: (v) => (v.trim() ? (v.length > 100 ? "Please use at most 100 characters." : "") : "Please tell us your name."),
  email: (v) =>
    !v.trim() ? "Please enter your email." : EMAIL_SHAPE.test(v.trim()) ? "" : "That doesn't look like an email address.",
  password: (v) =>
    !v
      ? "Please enter your password."
      : v.length < 8
        ? "Passwords have at least 8 characters."
        : v.length > 128
          ? "Passwords have at most 128 characters."
          : "",
};

/**
 * Shows (or clears) a field's message; returns whether the field is fine.
 * @param {HTMLInputElement} input
 * @param {string} [message] forced message (from the server); else the field's own check
 */
function showField(input, message) {
  const problem = message ?? checks[input.name](input.value);
  const out = byId(`${input.id}-error`, HTMLElement);
  out.textContent = problem;
  out.hidden = !problem;
  input.setAttribute("aria-invalid", problem ? "true" : "false");
  return !problem;
}

const fields = [name, email, password].filter((f) => f !== null);
for (const f of fields) {
  // Judge a field once the person leaves it, then keep the verdict current as they fix it.
  f.addEventListener("blur", () => {
    if (f.value) showField(f);
  });
  f.addEventListener("input", () => {
    if (f.getAttribute("aria-invalid") === "true") showField(f);
    hideFormError();
  });
}

function hideFormError() {
  formError.hidden = true;
  formError.replaceChildren();
}

/**
 * @param {string} text
 * @param {{ href: string, label: string }} [link]
 */
function showFormError(text, link) {
  formError.replaceChildren(text);
  if (link) {
    formError.append(" ");
    const a = el("a", "", link.label);
    a.href = link.href;
    formError.append(a);
  }
  formError.hidden = false;
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  hideFormError();
  const bad = fields.filter((f) => !showField(f));
  if (bad.length) {
    bad[0].focus();
    return;
  }
  const label = submit.textContent;
  submit.disabled = true;
  submit.textContent = mode === "signup" ? "Creating your account…" : "Signing in…";
  form.setAttribute("aria-busy", "true");
  try {
    if (mode === "signup" && name) await signUp(name.value.trim(), email.value.trim(), password.value);
    else await signIn(email.value.trim(), password.value, remember ? remember.checked : true);
    location.replace(next || "/chat");
    return;
  } catch (e) {
    explain(e);
  } finally {
    submit.disabled = false;
    submit.textContent = label;
    form.removeAttribute("aria-busy");
  }
});

/** @param {unknown} e */
function explain(e) {
  if (!(e instanceof ApiError)) {
    showFormError("Something unexpected happened. Please try again.");
    return;
  }
  switch (e.code) {
    case "INVALID_EMAIL_OR_PASSWORD":
      // Never say which one was wrong.
      showFormError("That email and password don't match an account. Check both and try again.");
      password.select();
      password.focus();
      return;
    case "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL":
    case "USER_ALREADY_EXISTS":
      showField(email, "There's already an account with this email.");
      showFormError("Is it yours? You can sign in instead.", {
        href: `/login${next ? `?next=${encodeURIComponent(next)}` : ""}`,
        label: "Sign in",
      });
      email.focus();
      return;
    case "INVALID_EMAIL":
      showField(email, "That doesn't look like an email address.");
      email.focus();
      return;
    case "PASSWORD_TOO_SHORT":
    case "PASSWORD_TOO_LONG":
      showField(password, e.message.endsWith(".") ? e.message : `${e.message}.`);
      password.focus();
      return;
  }
  if (e.status === 429) {
    const wait =
      e.retryAfter === null
        ? "a few seconds"
        : e.retryAfter < 90
          ? `${e.retryAfter} second${e.retryAfter === 1 ? "" : "s"}`
          : `${Math.ceil(e.retryAfter / 60)} minutes`;
    showFormError(`Too many attempts in a row. Please wait ${wait} and try again.`);
  } else showFormError(e.message);
}
