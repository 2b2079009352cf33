// Sign in: a user's password (POST /api/v1/login) or an API key; with an
// identity provider configured (GET /api/v1/auth/oidc), through it.

import { h } from "../dom.js";
import * as api from "../api.js";
import { startOIDC } from "../oidc.js";

export function loginForm(done) {
  const error = h("p", { class: "error-box", role: "alert", hidden: true });
  const user = h("input", { id: "login-user", name: "user", autocomplete: "username", required: true });
  const password = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const token = h("input", { id: "login-token", name: "token", type: "password", autocomplete: "off" });
  const fail = (e) => { error.hidden = false; error.textContent = e.message; };

  const byPassword = h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    error.hidden = true;
    try {
      api.setSession(null);
      const r = await api.post("/api/v1/login", { user: user.value, password: password.value });
      api.setSession({ token: r.token, user: user.value, expiresAt: r.expires_at });
      done();
    } catch (err) { fail(err); }
  } },
    h("label", { for: "login-user" }, "User", user),
    h("label", { for: "login-password" }, "Password", password),
    h("button", { class: "primary", type: "submit" }, "Sign in"));

  const byKey = h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    error.hidden = true;
    api.setSession({ token: token.value.trim() });
    try {
      const me = await api.get("/api/v1/whoami");
      api.setSession({ token: token.value.trim(), user: me.user || me.name });
      done();
    } catch (err) { api.setSession(null); fail(err); }
  } },
    h("label", { for: "login-token" }, "API key", token),
    h("button", { type: "submit" }, "Sign in with the key"));

  const oidc = h("div", {});
  api.get("/api/v1/auth/oidc").then((cfg) => {
    oidc.append(h("button", { type: "button", dataset: { oidc: "" }, onclick: () => startOIDC(cfg).catch(fail) }, `Sign in with ${new URL(cfg.issuer).host}`));
  }, () => {});

  return h("div", {}, error, byPassword, h("p", { class: "muted" }, "or"), oidc, h("details", {}, h("summary", {}, "Use an API key"), byKey));
}
