// Cluster settings: placement strategy, overcommit, migration limits and
// the rebalancing mode.

import { h, replace } from "../dom.js";
import * as api from "../api.js";

export async function render(root, _params, ctx) {
  const s = await api.get("/api/v1/settings");
  const mayWrite = await api.can("settings:write", "");
  const error = h("p", { class: "error-box", role: "alert", hidden: true });
  const sel = (id, value, options) => h("select", { id, disabled: !mayWrite }, options.map((o) => h("option", { value: o, selected: o === value }, o)));
  const num = (id, value, step) => h("input", { id, type: "number", step, value, disabled: !mayWrite });
  const fields = {
    strategy: sel("set-strategy", s.strategy, ["spread", "binpack"]),
    cpu: num("set-cpu", s.cpu_overcommit, "0.1"), mem: num("set-mem", s.memory_overcommit, "0.1"),
    perHost: num("set-per-host", s.max_migrations_per_host, "1"), perCluster: num("set-per-cluster", s.max_migrations_per_cluster, "1"),
    rebalance: sel("set-rebalance", s.rebalance?.mode, ["off", "recommend", "automatic"]),
  };
  const form = h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    error.hidden = true;
    const next = { ...s, strategy: fields.strategy.value, cpu_overcommit: +fields.cpu.value, memory_overcommit: +fields.mem.value,
      max_migrations_per_host: +fields.perHost.value, max_migrations_per_cluster: +fields.perCluster.value, rebalance: { ...s.rebalance, mode: fields.rebalance.value } };
    try { await api.put("/api/v1/settings", next); ctx.toast("settings saved"); } catch (err) { error.hidden = false; error.textContent = err.message; }
  } },
    error,
    h("label", { for: "set-strategy" }, "Placement strategy", fields.strategy),
    h("label", { for: "set-cpu" }, "CPU overcommit", fields.cpu),
    h("label", { for: "set-mem" }, "Memory overcommit", fields.mem),
    h("label", { for: "set-per-host" }, "Migrations at once per host", fields.perHost),
    h("label", { for: "set-per-cluster" }, "Migrations at once in the cluster", fields.perCluster),
    h("label", { for: "set-rebalance" }, "Rebalancing", fields.rebalance),
    mayWrite ? h("button", { type: "submit", class: "primary" }, "Save") : h("p", { class: "muted" }, "Only cluster admins change these."));
  replace(root, h("h1", {}, "Settings"), form);
}
