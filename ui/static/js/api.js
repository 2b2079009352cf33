// The API client: every request carries the session's secret; an answer's
// error is thrown as ApiError with the API's own message, which pages show.

const SESSION_KEY = "novacron.session";
const PROJECT_KEY = "novacron.project";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// session is {token, user, expiresAt} or null. It lives in sessionStorage:
// it ends with the tab, and no other site can send it (no cookie).
export function session() {
  try { return JSON.parse(sessionStorage.getItem(SESSION_KEY)); } catch { return null; }
}

export function setSession(s) {
  if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION_KEY);
}

export function project() { return sessionStorage.getItem(PROJECT_KEY) || ""; }
export function setProject(p) { p ? sessionStorage.setItem(PROJECT_KEY, p) : sessionStorage.removeItem(PROJECT_KEY); }

// onUnauthenticated is set by the app: a 401 means the session expired or
// was revoked, and the app asks for a login without leaving the page.
export const hooks = { onUnauthenticated: () => {} };

// request sends method path (with query, an object) and body (JSON); it
// resolves with the decoded answer (null for an empty one).
export async function request(method, path, { query, body, signal, projectScoped, withHeaders } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  if (projectScoped && project() && !url.searchParams.has("project")) url.searchParams.set("project", project());
  const headers = { Accept: "application/json" };
  const s = session();
  if (s) headers.Authorization = `Bearer ${s.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: "no-store" });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "unreachable", `the node does not answer (${e.message})`);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!resp.ok) {
    const err = data && data.error ? data.error : { code: String(resp.status), message: typeof data === "string" ? data : resp.statusText };
    if (resp.status === 401 && s) hooks.onUnauthenticated(err.message);
    throw new ApiError(resp.status, err.code, err.message);
  }
  return withHeaders ? { data, headers: resp.headers } : data;
}

export const get = (path, opts) => request("GET", path, opts);
export const post = (path, body, opts) => request("POST", path, { ...opts, body });
export const put = (path, body, opts) => request("PUT", path, { ...opts, body });
export const del = (path, opts) => request("DELETE", path, opts);

// listAll follows a list's pages (each names the next in its Link header)
// up to max items.
export async function listAll(path, { query, projectScoped, max = 20000, pageSize = 5000 } = {}) {
  const out = [];
  let next = path;
  let q = { ...query, limit: pageSize };
  while (next && out.length < max) {
    const { data, headers } = await request("GET", next, { query: q, projectScoped, withHeaders: true });
    out.push(...data);
    const link = /<([^>]+)>;\s*rel="next"/.exec(headers.get("Link") || "");
    next = link ? link[1] : null;
    q = undefined; // the next page's URL holds every parameter
  }
  return out;
}

// can asks whether the caller may do perm ("vm:write") in project; the
// answers are kept until the session or project changes.
const canCache = new Map();
export async function can(perm, proj = project()) {
  const key = `${perm}@${proj}`;
  if (!canCache.has(key)) {
    canCache.set(key, get("/api/v1/auth/can-i", { query: { perm, project: proj } }).then((r) => r.allowed, () => false));
  }
  return canCache.get(key);
}
export function forgetRights() { canCache.clear(); }
