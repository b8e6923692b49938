// The sign-in and sign-up pages: one form each, checked as the person types, the server's refusals shown in
// place in plain words, and on success a return to where they were headed (?next=).

import { ApiError, byId, el, safeNext, signIn, signUp } from "./api.js";
import { languagePicker, localize, t } from "./i18n.js";

localize();
languagePicker(byId("language", HTMLSelectElement));

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
  notice.textContent = t("auth.expired");
  notice.hidden = false;
}

const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** @type {Record<string, (v: string) => string>} what is wrong with each field's value, or "" */
const checks = {
  name: (v) => (v.trim() ? (v.length > 100 ? t("check.nameLong") : "") : t("check.nameMissing")),
  email: (v) => (!v.trim() ? t("check.emailMissing") : EMAIL_SHAPE.test(v.trim()) ? "" : t("check.emailShape")),
  password: (v) =>
    !v
      ? t("check.passwordMissing")
      : v.length < 8
        ? t("check.passwordShort")
        : v.length > 128
          ? t("check.passwordLong")
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
  submit.textContent = t(mode === "signup" ? "signup.busy" : "login.busy");
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
    showFormError(t("auth.unexpected"));
    return;
  }
  switch (e.code) {
    case "INVALID_EMAIL_OR_PASSWORD":
      // Never say which one was wrong.
      showFormError(t("auth.mismatch"));
      password.select();
      password.focus();
      return;
    case "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL":
    case "USER_ALREADY_EXISTS":
      showField(email, t("auth.exists"));
      showFormError(t("auth.existsHint"), {
        href: `/login${next ? `?next=${encodeURIComponent(next)}` : ""}`,
        label: t("signup.switchLink"),
      });
      email.focus();
      return;
    case "INVALID_EMAIL":
      showField(email, t("check.emailShape"));
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
        ? t("wait.few")
        : e.retryAfter < 90
          ? t("wait.seconds", { count: e.retryAfter })
          : t("wait.minutes", { count: Math.ceil(e.retryAfter / 60) });
    showFormError(t("auth.tooMany", { wait }));
  } else showFormError(e.message);
}
