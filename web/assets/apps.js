// Connected apps: the OAuth grants the person has made, each with a Disconnect button that ends the app's
// access (its grant and every token issued under it).

import { byId, el } from "./api.js";

/** @type {Record<string, string>} */
const SCOPE_WORDS = {
  "tasks:read": "see tasks",
  "tasks:write": "change tasks",
  chat: "chat",
  offline_access: "stay connected",
};

const list = byId("apps", HTMLUListElement);
const empty = byId("empty", HTMLElement);
const formError = byId("form-error", HTMLElement);

/** @typedef {{ id: string, clientId: string, clientName: string | null, scopes: string[], updatedAt: string }} Grant */

async function load() {
  const r = await fetch("/api/auth/oauth2/get-consents", { credentials: "include" });
  if (r.status === 401) {
    location.assign(`/login?next=${encodeURIComponent("/connected-apps")}`);
    return;
  }
  /** @type {Grant[]} */
  const grants = r.ok ? await r.json() : [];
  list.replaceChildren();
  empty.hidden = grants.length > 0;
  for (const g of grants) {
    const item = el("li", "app-row");
    const name = el("bdi", "app-name", g.clientName || g.clientId);
    const scopes = el("span", "app-scopes", g.scopes.map((s) => SCOPE_WORDS[s] || s).join(", "));
    const button = el("button", "btn", "Disconnect");
    button.type = "button";
    button.addEventListener("click", () => disconnect(g.id));
    item.append(name, " · ", scopes, " ", button);
    list.append(item);
  }
}

/** @param {string} id */
async function disconnect(id) {
  formError.hidden = true;
  const r = await fetch("/api/auth/oauth2/delete-consent", {
    method: "POST",
    credentials: "include",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ id }),
  });
  if (!r.ok) {
    formError.textContent = "That app could not be disconnected. Try again.";
    formError.hidden = false;
  }
  await load();
}

load().catch(() => {
  formError.textContent = "You seem to be offline. Reload to try again.";
  formError.hidden = false;
});
