// One VM: state and actions, charts over an hour to a year, the serial
// console, volumes and snapshots, why it was placed where it is, and its
// migrations and events, all current as the cluster changes.

import { h, replace, badge, mib, table, ago, debounce } from "../dom.js";
import * as api from "../api.js";
import { act } from "../app.js";
import { metricsPanel } from "../chart.js";
import { openConsole } from "../console.js";
import { recentEvents, describe } from "./events.js";

const actionsByState = {
  running: ["stop", "restart", "pause", "migrate", "snapshot"],
  paused: ["resume", "stop", "migrate", "snapshot"],
  stopped: ["start", "migrate", "snapshot"],
  error: ["start", "stop"],
};

export async function render(root, params, ctx) {
  let vm = await api.get(`/api/v1/vms/${encodeURIComponent(params.id)}`);
  const mayWrite = await api.can("vm:write", vm.project === "default" ? "" : vm.project);
  const title = h("h1", {});
  const facts = h("div", { class: "cards" });
  const actions = h("div", { class: "actions", role: "toolbar", "aria-label": "VM actions" });
  const consoleBox = h("div", { class: "term", id: "console", hidden: true });
  const storage = h("section", {});
  const history = h("section", {});
  root.append(title, facts, actions,
    metricsPanel(`/api/v1/vms/${vm.id}/metrics`, [["cpu_percent", "CPU %"], ["mem_used_bytes", "Memory used"]]),
    h("h2", {}, "Console"), h("div", { class: "actions" }, h("button", { type: "button", id: "open-console", onclick: (e) => toggleConsole(e.target) }, "Open the serial console")), consoleBox,
    storage, history);

  let closeConsole = null;
  const toggleConsole = async (button) => {
    if (closeConsole) { closeConsole(); closeConsole = null; consoleBox.hidden = true; replace(consoleBox); button.textContent = "Open the serial console"; return; }
    consoleBox.hidden = false;
    button.textContent = "Close the console";
    try { closeConsole = await openConsole(consoleBox, vm.id); } catch (e) { ctx.toast(e.message, "error"); }
  };

  const paint = async () => {
    replace(title, `VM ${vm.name} `, badge(vm.state));
    title.dataset.state = vm.state;
    replace(facts,
      h("div", { class: "card" }, h("div", { class: "sub" }, "Node"), h("div", { class: "big" }, vm.node ? h("a", { href: `/ui/nodes/${vm.node}` }, vm.node_name || vm.node) : "–")),
      h("div", { class: "card" }, h("div", { class: "sub" }, "Size"), h("div", { class: "big" }, `${vm.vcpus} vCPU, ${mib(vm.memory_mib)}`), h("div", { class: "sub" }, `disk ${vm.disk_gib} GiB${vm.image_name ? `, from ${vm.image_name}` : ""}`)),
      h("div", { class: "card" }, h("div", { class: "sub" }, "Project"), h("div", { class: "big" }, vm.project)),
      h("div", { class: "card", id: "placement" }, h("div", { class: "sub" }, "Why here"), h("div", {}, vm.placement_reason || vm.state_reason || "–")),
      vm.error ? h("div", { class: "card error-box" }, vm.error) : null);
    replace(actions, mayWrite ? [...(actionsByState[vm.state] || []).map((a) => actionButton(a)),
      h("button", { type: "button", class: "danger", id: "action-delete", onclick: (e) => {
        if (confirm(`Delete VM ${vm.name}? Its disks go with it.`)) act(ctx, e.target, `delete ${vm.name}`, async () => { await api.del(`/api/v1/vms/${vm.id}`); ctx.navigate("/ui/vms"); });
      } }, "Delete")] : h("span", { class: "muted" }, "You may look at this VM but not change it."));
    const [volumes, snapshots, migrations, events] = await Promise.all([
      api.get(`/api/v1/vms/${vm.id}/volumes`).catch(() => []), api.get(`/api/v1/vms/${vm.id}/snapshots`).catch(() => []),
      api.get("/api/v1/migrations", { query: { vm: vm.id } }).catch(() => []), recentEvents(30, vm.id).catch(() => []),
    ]);
    replace(storage,
      h("h2", {}, "Volumes"), volumes.length ? table(["Name", "Size", "Device"], volumes.map((v) => h("tr", {}, h("td", {}, v.name), h("td", { class: "num" }, `${v.size_gib} GiB`), h("td", {}, v.device || v.attachment || "")))) : h("p", { class: "muted" }, "Only its root disk."),
      h("h2", {}, "Snapshots"), snapshots.length ? table(["Name", "Memory", "Taken", ""], snapshots.map((s) => h("tr", {}, h("td", {}, s.name), h("td", {}, s.memory ? "yes" : "no"), h("td", {}, ago(s.created_at)),
        h("td", {}, mayWrite ? h("button", { type: "button", onclick: (e) => act(ctx, e.target, `revert to ${s.name}`, () => api.post(`/api/v1/vms/${vm.id}/snapshots/${encodeURIComponent(s.name)}/revert`)) }, "Revert") : null)))) : h("p", { class: "muted" }, "None."));
    replace(history,
      h("h2", {}, "Migrations"), migrations.length ? table(["When", "From", "To", "State", "Progress"], migrations.map((m) => h("tr", { dataset: { migration: m.id } }, h("td", {}, ago(m.created_at)),
        h("td", {}, m.source_name || m.source), h("td", {}, m.target_name || m.target), h("td", {}, badge(m.state), m.error ? h("div", { class: "muted" }, m.error) : null), h("td", { class: "num progress" }, `${Math.round(m.state === "completed" ? 100 : m.progress?.percent || 0)} %`)))) : h("p", { class: "muted" }, "Never moved."),
      h("h2", {}, "Events"), h("ul", { class: "feed" }, events.reverse().map((f) => f.events.map((e) => h("li", {}, describe(f, e))))));
  };

  const actionButton = (a) => h("button", { type: "button", id: `action-${a}`, onclick: (e) => {
    if (a === "migrate") return migrateDialog(ctx, vm);
    if (a === "snapshot") {
      const name = prompt("Snapshot name");
      if (name) act(ctx, e.target, `snapshot ${name}`, () => api.post(`/api/v1/vms/${vm.id}/snapshots`, { name }));
      return;
    }
    act(ctx, e.target, `${a} ${vm.name}`, () => api.post(`/api/v1/vms/${vm.id}/${a}`));
  } }, a[0].toUpperCase() + a.slice(1));

  await paint();
  const reload = debounce(async () => {
    try { vm = await api.get(`/api/v1/vms/${vm.id}`); await paint(); } catch (e) { if (e.status === 404) replace(title, `VM ${vm.name} was deleted`); }
  }, 150);
  const off = ctx.stream.on((f) => f.events.some((e) => e.type === "gap" || e.id === vm.id || e.vm === vm.id || (e.type === "migration" && e.name === vm.name)) && reload());
  return () => { off(); if (closeConsole) closeConsole(); };
}

async function migrateDialog(ctx, vm) {
  const nodes = (await api.get("/api/v1/nodes")).filter((n) => n.id !== vm.node && n.status === "alive" && !n.maintenance);
  const target = h("select", { id: "migrate-target" }, h("option", { value: "" }, "let the scheduler choose"), nodes.map((n) => h("option", { value: n.name }, n.name)));
  const mode = h("select", { id: "migrate-mode" }, [["live", "live (the guest keeps running)"], ["warm", "warm (paused while it moves)"], ["cold", "cold (stopped, then started there)"]].map(([v, l]) => h("option", { value: v }, l)));
  const error = h("p", { class: "error-box", role: "alert", hidden: true });
  const d = h("dialog", { "aria-label": `Migrate ${vm.name}` }, h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api.post(`/api/v1/vms/${vm.id}/migrate`, { target: target.value || undefined, mode: mode.value });
      d.close();
      ctx.toast(`migrating ${vm.name}`);
    } catch (err) { error.hidden = false; error.textContent = err.message; }
  } }, h("h2", {}, `Migrate ${vm.name}`), error, h("label", { for: "migrate-target" }, "To", target), h("label", { for: "migrate-mode" }, "How", mode),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "migrate-go" }, "Migrate"), h("button", { type: "button", onclick: () => d.close() }, "Cancel"))));
  d.addEventListener("close", () => d.remove());
  document.body.append(d);
  d.showModal();
}
