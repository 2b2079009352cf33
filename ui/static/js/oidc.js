// Sign in through the cluster's identity provider from the browser: the
// authorization code flow with PKCE (a public client, as the CLI is). The
// provider sends the browser back to /ui/?code=...&state=...; the page
// trades the code for an ID token at the provider and the token for a
// session at POST /api/v1/login/oidc. The provider must list
// <this node>/ui/ as a redirect URI of the client and answer the browser's
// token request (CORS), as public clients need.

import * as api from "./api.js";

const KEY = "novacron.oidc";

function random(n) {
  const b = crypto.getRandomValues(new Uint8Array(n));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function challenge(verifier) {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return btoa(String.fromCharCode(...new Uint8Array(d))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function discover(issuer) {
  const r = await fetch(issuer.replace(/\/$/, "") + "/.well-known/openid-configuration");
  if (!r.ok) throw new Error(`the identity provider's configuration: HTTP ${r.status}`);
  return r.json();
}

export async function startOIDC(cfg) {
  const meta = await discover(cfg.issuer);
  const verifier = random(48), state = random(24), nonce = random(24);
  sessionStorage.setItem(KEY, JSON.stringify({ verifier, state, nonce, cfg, token_endpoint: meta.token_endpoint }));
  const u = new URL(meta.authorization_endpoint);
  u.search = new URLSearchParams({
    response_type: "code", client_id: cfg.client_id, redirect_uri: location.origin + "/ui/",
    scope: "openid profile email groups", state, nonce, code_challenge: await challenge(verifier), code_challenge_method: "S256",
  });
  location.assign(u);
}

// finishOIDC completes a sign-in when the page was opened by the provider's
// redirect; it returns false when there is none to complete.
export async function finishOIDC() {
  const q = new URLSearchParams(location.search);
  if (!q.has("code") && !q.has("error")) return false;
  const saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
  sessionStorage.removeItem(KEY);
  history.replaceState(null, "", "/ui/");
  if (q.has("error")) throw new Error(`the identity provider refused: ${q.get("error_description") || q.get("error")}`);
  if (!saved || q.get("state") !== saved.state) throw new Error("this sign-in was not started here (state mismatch): start again");
  const r = await fetch(saved.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code: q.get("code"), redirect_uri: location.origin + "/ui/", client_id: saved.cfg.client_id, code_verifier: saved.verifier }),
  });
  const tok = await r.json();
  if (!r.ok || !tok.id_token) throw new Error(`the identity provider's token answer: ${tok.error_description || tok.error || r.status}`);
  const login = await api.post("/api/v1/login/oidc", { id_token: tok.id_token });
  api.setSession({ token: login.token, expiresAt: login.expires_at });
  return true;
}
