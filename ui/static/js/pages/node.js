// One node: its charts, VMs, status history, failover plan, and drain and
// undrain with the drain's live progress.

import { h, replace, badge, mib, table, ago, debounce } from "../dom.js";
import * as api from "../api.js";
import { act } from "../app.js";
import { touches } from "../stream.js";
import { metricsPanel } from "../chart.js";

export async function render(root, params, ctx) {
  const n = await api.get(`/api/v1/nodes/${encodeURIComponent(params.id)}`);
  const mayWrite = await api.can("node:write", "");
  root.append(h("h1", {}, `Node ${n.name} `, badge(n.status)));
  const actions = h("div", { class: "actions" });
  const drain = h("section", { "aria-label": "Drain" });
  const vms = h("section", {});
  const plan = h("section", {});
  root.append(actions, drain,
    metricsPanel(`/api/v1/nodes/${n.id}/metrics`, [["cpu_percent", "CPU %"], ["mem_used_bytes", "Memory used"], ["load1", "Load (1 min)"]]),
    h("h2", {}, "VMs"), vms, h("h2", {}, "Status history"),
    h("ul", { class: "timeline" }, (n.status_history || []).slice().reverse().map((s) => h("li", {}, badge(s.status), ` ${ago(s.at)}: ${s.cause}`))),
    h("h2", {}, "Failover plan"), plan);

  const load = async () => {
    const [node, list, d] = await Promise.all([
      api.get(`/api/v1/nodes/${n.id}`), api.get("/api/v1/vms", { query: { node: n.id, limit: 500 } }).catch(() => []),
      api.get(`/api/v1/nodes/${n.id}/drain`).catch(() => null),
    ]);
    replace(actions, !mayWrite ? null : node.maintenance
      ? h("button", { type: "button", id: "undrain", onclick: (e) => act(ctx, e.target, `undrain ${node.name}`, () => api.post(`/api/v1/nodes/${node.id}/undrain`)) }, "Undrain")
      : h("button", { type: "button", id: "drain", class: "danger", onclick: (e) => act(ctx, e.target, `drain ${node.name}`, () => api.post(`/api/v1/nodes/${node.id}/drain`, {})) }, "Drain"));
    replace(drain, d && d.maintenance ? h("div", { class: "card", id: "drain-status" },
      h("strong", {}, d.done ? "Drained: no VM is left on this node." : `Draining: ${d.vms.length} VM(s) still here.`),
      d.vms.length ? h("ul", {}, d.vms.map((v) => h("li", {}, `${v.name}: `, v.migration ? [badge(v.migration.state), ` ${Math.round(v.migration.percent || 0)} %`] : "waiting to move"))) : null,
      d.unmovable?.length ? h("p", {}, `Cannot move: ${d.unmovable.map((u) => `${u.name || u.vm_id} (${u.reason})`).join("; ")}`) : null) : null);
    replace(vms, list.length ? table(["Name", "State", "vCPUs", "Memory"], list.map((v) => h("tr", {},
      h("td", {}, h("a", { href: `/ui/vms/${v.id}` }, v.name)), h("td", {}, badge(v.state)), h("td", { class: "num" }, String(v.vcpus)), h("td", { class: "num" }, mib(v.memory_mib)))))
      : h("p", { class: "muted" }, "No VM runs here."));
    try {
      const p = await api.get(`/api/v1/nodes/${n.id}/failover-plan`);
      replace(plan, (p.vms || []).length ? table(["VM", "Restarts on"], p.vms.map((x) => h("tr", {}, h("td", {}, x.name || x.vm_id), h("td", {}, x.target_name || x.target || x.reason || "nowhere"))))
        : h("p", { class: "muted" }, "No HA VM would need a new host."));
    } catch (e) { replace(plan, h("p", { class: "muted" }, e.message)); }
  };
  await load();
  const reload = debounce(() => load().catch((e) => ctx.toast(e.message, "error")), 200);
  return ctx.stream.on((f) => touches(f, "node", "vm", "migration") && reload());
}
