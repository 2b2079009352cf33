// The dashboard's shell: navigation, the header (project, user, live
// status, logout), the router, the login prompt and messages. Pages are
// modules under pages/: render(root, params, ctx) fills root and may return
// a function that undoes what it started (timers, subscriptions).

import { h, replace } from "./dom.js";
import * as api from "./api.js";
import { EventStream } from "./stream.js";
import { loginForm } from "./pages/login.js";

const routes = [
  ["/ui/", "overview"], ["/ui/overview", "overview"],
  ["/ui/nodes", "nodes"], ["/ui/nodes/:id", "node"],
  ["/ui/vms", "vms"], ["/ui/vms/:id", "vm"],
  ["/ui/migrations", "migrations"], ["/ui/operations", "operations"], ["/ui/failovers", "failovers"],
  ["/ui/alerts", "alerts"], ["/ui/events", "events"], ["/ui/audit", "audit"],
  ["/ui/settings", "settings"], ["/ui/admin", "admin"],
];

const nav = [
  ["/ui/", "Overview"], ["/ui/nodes", "Nodes"], ["/ui/vms", "VMs"], ["/ui/migrations", "Migrations"],
  ["/ui/operations", "Operations"], ["/ui/failovers", "Failovers"], ["/ui/alerts", "Alerts"],
  ["/ui/events", "Events"], ["/ui/audit", "Audit log"], ["/ui/settings", "Settings"], ["/ui/admin", "Users & projects"],
];

function match(path) {
  for (const [pattern, page] of routes) {
    const p = pattern.split("/"), a = path.replace(/\/+$/, "").split("/");
    if (pattern === "/ui/" && (path === "/ui/" || path === "/ui")) return { page, params: {} };
    if (p.length !== a.length) continue;
    const params = {};
    if (p.every((seg, i) => (seg.startsWith(":") ? ((params[seg.slice(1)] = decodeURIComponent(a[i])), true) : seg === a[i]))) return { page, params };
  }
  return null;
}

export class App {
  constructor(root) {
    this.root = root;
    this.stream = new EventStream();
    this.cleanup = null;
    api.hooks.onUnauthenticated = (msg) => this.askLogin(msg);
    addEventListener("popstate", () => this.show());
    document.addEventListener("click", (e) => {
      const a = e.target.closest("a[href^='/ui']");
      if (!a || e.ctrlKey || e.metaKey || e.shiftKey || a.target) return;
      e.preventDefault();
      this.navigate(a.getAttribute("href"));
    });
  }

  async start() {
    if (!api.session()) return this.showLogin();
    try {
      this.me = await api.get("/api/v1/whoami");
    } catch (e) {
      if (e.status === 401) return this.showLogin(e.message);
      this.me = { name: "?" };
    }
    this.layout();
    this.stream.start();
    this.show();
  }

  showLogin(message) {
    this.stream.stop();
    replace(this.root, h("div", { class: "login" }, h("h1", {}, "NovaCron"),
      message ? h("p", { class: "error-box", role: "alert" }, message) : null,
      loginForm(() => this.start())));
    this.root.querySelector("input")?.focus();
  }

  // askLogin shows the login over the page when the session ends mid-use;
  // once logged in again the page reloads its data.
  askLogin(message) {
    if (this.dialog?.open) return;
    this.dialog = h("dialog", { "aria-label": "Sign in again" },
      h("h2", {}, "Your session has ended"),
      h("p", { class: "muted" }, message || "Sign in again to go on."),
      loginForm(() => { this.dialog.close(); this.dialog.remove(); api.forgetRights(); this.stream.stop(); this.stream.start(); this.show(); }));
    document.body.append(this.dialog);
    this.dialog.showModal();
  }

  layout() {
    this.main = h("main", { id: "main", tabindex: "-1" });
    this.banner = h("div", { class: "banner offline", role: "status", hidden: true });
    this.conn = h("span", { class: "conn", role: "status", "aria-live": "polite" }, "connecting");
    this.projectSelect = h("select", { id: "project", "aria-label": "Project", onchange: (e) => { api.setProject(e.target.value); api.forgetRights(); this.show(); } },
      h("option", { value: "" }, "default"));
    this.navLinks = nav.map(([href, label]) => h("a", { href }, label));
    replace(this.root,
      h("div", { class: "shell" },
        h("header", { class: "top" },
          h("span", { class: "brand" }, "NovaCron"),
          h("label", { for: "project" }, "Project"), this.projectSelect,
          this.conn,
          h("span", { class: "user" }, this.me.user || this.me.name || ""),
          h("button", { type: "button", onclick: () => this.logout() }, "Sign out")),
        h("nav", { class: "side", "aria-label": "Sections" }, this.navLinks),
        h("div", {}, this.banner, this.main)),
      h("div", { class: "toasts", "aria-live": "assertive" }));
    this.stream.onStatus((s, st) => {
      this.conn.textContent = s === "live" ? "live" : s;
      this.conn.className = `conn ${s === "live" ? "live" : "down"}`;
      this.banner.hidden = s === "live";
      this.banner.textContent = s === "live" ? "" : `Reconnecting to the cluster… changes after event ${st.last ?? "?"} will be shown once it is back.`;
    });
    this.loadProjects();
  }

  async loadProjects() {
    try {
      const projects = await api.get("/api/v1/projects");
      const cur = api.project();
      replace(this.projectSelect, projects.map((p) => h("option", { value: p.name === "default" ? "" : p.name, selected: (p.name === "default" ? "" : p.name) === cur }, p.name)));
    } catch { /* a user who may list no project keeps "default" */ }
  }

  async logout() {
    try { await api.post("/api/v1/logout"); } catch { /* an API key has no session to end */ }
    api.setSession(null);
    api.forgetRights();
    this.showLogin("Signed out.");
  }

  navigate(href) {
    history.pushState(null, "", href);
    this.show();
  }

  async show() {
    if (!this.main) return;
    const m = match(location.pathname) || { page: "overview", params: {} };
    for (const a of this.navLinks) {
      const href = a.getAttribute("href");
      const here = href === "/ui/" ? m.page === "overview" : location.pathname.startsWith(href);
      here ? a.setAttribute("aria-current", "page") : a.removeAttribute("aria-current");
    }
    if (this.cleanup) { this.cleanup(); this.cleanup = null; }
    this.main.dataset.page = ""; // set once the page is drawn with its data ("error" if it failed)
    const mod = await import(`./pages/${m.page}.js`);
    replace(this.main);
    const ctx = { app: this, stream: this.stream, navigate: (x) => this.navigate(x), toast: (t, kind) => this.toast(t, kind) };
    try {
      this.cleanup = (await mod.render(this.main, m.params, ctx)) || null;
      performance.mark(`novacron:rendered:${m.page}`); // when the page had its data: the first-load figure
      this.main.dataset.page = m.page;
    } catch (e) {
      this.main.append(h("p", { class: "error-box", role: "alert" }, e.message));
      this.main.dataset.page = "error";
    }
  }

  toast(text, kind = "info") {
    const t = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
    this.root.querySelector(".toasts")?.append(t);
    setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
  }
}

// act runs an action for a button: disabled while it runs, its outcome
// told in a message, the API's error shown as it came.
export async function act(ctx, button, what, fn) {
  button.disabled = true;
  try {
    await fn();
    ctx.toast(`${what}: done`);
  } catch (e) {
    ctx.toast(`${what}: ${e.message}`, "error");
  } finally {
    button.disabled = false;
  }
}
