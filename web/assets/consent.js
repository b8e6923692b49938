// The consent page: what an app connecting through OAuth asks for (its name, where it sends the person
// back, the scopes), and Allow / Deny, answered to the server with the signed request this page was given.

import { byId, el } from "./api.js";

/** @type {Record<string, string>} */
const SCOPE_WORDS = {
  "tasks:read": "See your tasks",
  "tasks:write": "Add, change, complete and delete your tasks",
  chat: "Talk to your assistant and read your conversations",
  offline_access: "Stay connected when you are away",
};

const oauthQuery = location.search.slice(1);
const params = new URLSearchParams(oauthQuery);
const formError = byId("form-error", HTMLElement);

/** @param {string} message */
function showError(message) {
  formError.textContent = message;
  formError.hidden = false;
}

try {
  byId("redirect-host", HTMLElement).textContent = new URL(params.get("redirect_uri") || "").host || "the app";
} catch {
  byId("redirect-host", HTMLElement).textContent = "the app";
}
const list = byId("scopes", HTMLUListElement);
for (const scope of (params.get("scope") || "tasks:read tasks:write").split(" ").filter(Boolean)) {
  list.append(el("li", "", SCOPE_WORDS[scope] || scope));
}

const clientId = params.get("client_id") || "";
fetch(`/api/auth/oauth2/public-client?client_id=${encodeURIComponent(clientId)}`, { credentials: "include" })
  .then((r) => (r.ok ? r.json() : null))
  .then((c) => {
    if (c && c.client_name) byId("client-name", HTMLElement).textContent = c.client_name;
  })
  .catch(() => {});

/** @param {boolean} accept */
async function answer(accept) {
  formError.hidden = true;
  try {
    const r = await fetch("/api/auth/oauth2/consent", {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ accept, oauth_query: oauthQuery }),
    });
    const body = await r.json().catch(() => ({}));
    if (r.ok && typeof body.url === "string") {
      location.assign(body.url);
      return;
    }
    showError(body.error_description || body.message || "This request could not be completed. Start again from the app.");
  } catch {
    showError("You seem to be offline. Try again.");
  }
}

byId("allow", HTMLButtonElement).addEventListener("click", () => answer(true));
byId("deny", HTMLButtonElement).addEventListener("click", () => answer(false));
