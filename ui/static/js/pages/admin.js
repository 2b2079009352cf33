// Users, projects, roles and API keys, for those who may manage them.

import { h, replace, table, ago, badge } from "../dom.js";
import * as api from "../api.js";
import { act } from "../app.js";

export async function render(root, _params, ctx) {
  root.append(h("h1", {}, "Users & projects"));
  const sections = h("div", {});
  root.append(sections);
  const paint = async () => {
    const [users, projects, roles, keys] = await Promise.all([
      api.get("/api/v1/users").catch((e) => e), api.get("/api/v1/projects").catch((e) => e),
      api.get("/api/v1/roles").catch((e) => e), api.get("/api/v1/tokens").catch((e) => e),
    ]);
    const [mayUsers, mayProjects] = await Promise.all([api.can("user:write", ""), api.can("project:write", "")]);
    const shown = (x, fn) => (x instanceof Error ? h("p", { class: "muted" }, x.message) : fn(x));
    replace(sections,
      h("h2", {}, "Users"),
      shown(users, (us) => table(["Name", "Role", "State", "Since", ""], us.map((u) => h("tr", {},
        h("td", {}, u.name), h("td", {}, u.role), h("td", {}, u.disabled ? badge("disabled") : badge("ok")), h("td", {}, ago(u.created_at)),
        h("td", {}, mayUsers ? h("button", { type: "button", class: "danger", onclick: (e) => confirm(`Delete user ${u.name}?`) && act(ctx, e.target, `delete ${u.name}`, async () => { await api.del(`/api/v1/users/${encodeURIComponent(u.name)}`); paint(); }) }, "Delete") : null))))),
      mayUsers ? createForm("user", [["name", "Name"], ["password", "Password", "password"], ["role", "Role (cluster-wide; empty: none)"]],
        (v) => api.post("/api/v1/users", { name: v.name, password: v.password, role: v.role || undefined }), ctx, paint) : null,
      h("h2", {}, "Projects"),
      shown(projects, (ps) => table(["Name", "Description", "VMs", "vCPUs", "Memory (MiB)", ""], ps.map((p) => h("tr", {},
        h("td", {}, p.name), h("td", {}, p.description || ""), h("td", { class: "num" }, `${p.usage?.vms ?? 0}${p.quota?.vms ? ` / ${p.quota.vms}` : ""}`),
        h("td", { class: "num" }, `${p.usage?.vcpus ?? 0}${p.quota?.vcpus ? ` / ${p.quota.vcpus}` : ""}`), h("td", { class: "num" }, `${p.usage?.memory_mib ?? 0}${p.quota?.memory_mib ? ` / ${p.quota.memory_mib}` : ""}`),
        h("td", {}, mayProjects && p.name !== "default" ? h("button", { type: "button", class: "danger", onclick: (e) => confirm(`Delete project ${p.name}?`) && act(ctx, e.target, `delete ${p.name}`, async () => { await api.del(`/api/v1/projects/${encodeURIComponent(p.name)}`); paint(); }) }, "Delete") : null))))),
      mayProjects ? createForm("project", [["name", "Name"], ["description", "Description"]], (v) => api.post("/api/v1/projects", { name: v.name, description: v.description, quota: {} }), ctx, paint) : null,
      h("h2", {}, "Roles"),
      shown(roles, (rs) => table(["Role", "Permissions"], rs.map((r) => h("tr", {}, h("td", {}, r.name), h("td", {}, (r.permissions || []).join(", ")))))),
      h("h2", {}, "API keys"),
      shown(keys, (ks) => table(["Name", "User", "Role", "Project", "Expires", ""], ks.map((k) => h("tr", {},
        h("td", {}, k.name), h("td", {}, k.user || ""), h("td", {}, k.role || ""), h("td", {}, k.project || ""), h("td", {}, k.expires_at ? ago(k.expires_at) : "never"),
        h("td", {}, h("button", { type: "button", class: "danger", onclick: (e) => confirm(`Revoke key ${k.name}?`) && act(ctx, e.target, `revoke ${k.name}`, async () => { await api.del(`/api/v1/tokens/${k.id}`); paint(); }) }, "Revoke")))))),
      createForm("key", [["name", "Name"], ["role", "Role (empty: yours)"], ["project", "Project (empty: cluster-wide)"]], async (v) => {
        const t = await api.post("/api/v1/tokens", { name: v.name, role: v.role || undefined, project: v.project || undefined });
        alert(`The key's secret, shown once:\n\n${t.secret || t.token}`);
      }, ctx, paint));
  };
  await paint();
}

function createForm(what, fields, submit, ctx, done) {
  const inputs = fields.map(([name, label, type]) => [name, label, h("input", { id: `new-${what}-${name}`, type: type || "text", autocomplete: "off" })]);
  return h("details", {}, h("summary", {}, `New ${what}`), h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    const v = Object.fromEntries(inputs.map(([n, , i]) => [n, i.value.trim()]));
    try { await submit(v); ctx.toast(`${what} ${v.name} created`); done(); } catch (err) { ctx.toast(err.message, "error"); }
  } }, inputs.map(([, label, i]) => h("label", { for: i.id }, label, i)), h("button", { type: "submit", class: "primary" }, `Create the ${what}`)));
}
