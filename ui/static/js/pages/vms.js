// VMs: every VM of the project with its state, node and live CPU and
// memory, filtered and searched as one types (in memory: a filter of
// 10,000 VMs takes a few milliseconds), in a virtual list; and creating a
// VM from an image with cloud-init.

import { h, mib, pct, bytes, debounce } from "../dom.js";
import * as api from "../api.js";
import { VirtualList } from "../vlist.js";

export async function render(root, _params, ctx) {
  const mayWrite = await api.can("vm:write");
  const search = h("input", { type: "search", id: "vm-search", placeholder: "Search by name, node or label", "aria-label": "Search VMs" });
  const state = h("select", { id: "vm-state", "aria-label": "State" }, ["", "running", "stopped", "paused", "pending", "scheduled", "error"].map((s) => h("option", { value: s }, s || "any state")));
  const count = h("span", { class: "muted", id: "vm-count", role: "status" });
  const head = h("div", { class: "head", role: "row" }, ["Name", "State", "Node", "vCPUs", "Memory", "CPU", "Memory used"].map((x) => h("span", { role: "columnheader" }, x)));
  let latest = { vms: {} };
  const list = new VirtualList(head, {
    create: () => h("div", { class: "row", role: "row" },
      h("span", { role: "cell" }, h("a", {})), h("span", { role: "cell" }, h("span", { class: "badge" })),
      ...[0, 1, 2, 3, 4].map((i) => h("span", { role: "cell", class: i === 3 ? "cpu" : null }))),
    fill: (row, vm) => {
      const m = latest.vms?.[vm.id] || {};
      const [name, state, node, vcpus, mem, cpu, used] = row.children;
      row.dataset.vm = vm.name;
      name.firstChild.href = `/ui/vms/${vm.id}`;
      name.firstChild.textContent = vm.name;
      state.firstChild.className = `badge s-${vm.state}`;
      state.firstChild.textContent = vm.state;
      node.textContent = vm.node_name || "–";
      vcpus.textContent = String(vm.vcpus);
      mem.textContent = mib(vm.memory_mib);
      cpu.textContent = pct(m.cpu_percent);
      used.textContent = m.mem_used_bytes !== undefined ? bytes(m.mem_used_bytes) : "–";
    },
  }, "VMs");
  root.append(h("h1", {}, "VMs"),
    h("div", { class: "toolbar" }, search, state, count, mayWrite ? h("button", { type: "button", class: "primary", id: "create-vm", onclick: () => createDialog(ctx) }, "Create VM") : null),
    list.el);

  let vms = [];
  const apply = () => {
    const t0 = performance.now();
    const q = search.value.trim().toLowerCase(), s = state.value;
    const shown = vms.filter((v) => (!s || v.state === s) && (!q || v.name.toLowerCase().includes(q) || (v.node_name || "").toLowerCase().includes(q) ||
      Object.entries(v.labels || {}).some(([k, val]) => `${k}=${val}`.includes(q))));
    list.set(shown);
    count.textContent = `${shown.length} of ${vms.length}`;
    root.dataset.filterMs = (performance.now() - t0).toFixed(1);
  };
  search.addEventListener("input", apply);
  state.addEventListener("change", apply);
  const load = async () => {
    vms = await api.listAll("/api/v1/vms", { projectScoped: true });
    apply();
  };
  const loadLatest = async () => {
    latest = await api.get("/api/v1/metrics/latest").catch(() => latest);
    list.redraw();
  };
  await load();
  loadLatest();
  // A change to one VM fetches that VM alone; a gap reloads them all.
  const refreshOne = async (id) => {
    let vm = null;
    try { vm = await api.get(`/api/v1/vms/${id}`); } catch (e) { if (e.status !== 404) return; }
    const i = vms.findIndex((v) => v.id === id);
    if (vm && (vm.project || "default") !== (api.project() || "default")) return;
    if (!vm && i >= 0) vms.splice(i, 1);
    else if (vm && i >= 0) vms[i] = vm;
    else if (vm) { vms.push(vm); vms.sort((a, b) => (a.name < b.name ? -1 : 1)); }
    apply();
  };
  const reloadAll = debounce(() => load().catch((e) => ctx.toast(e.message, "error")), 300);
  const off = ctx.stream.on((f) => {
    for (const e of f.events) {
      if (e.type === "gap") reloadAll();
      else if (e.type === "vm" && e.id) refreshOne(e.id);
    }
  });
  const every = setInterval(loadLatest, 10000);
  return () => { off(); clearInterval(every); };
}

// createDialog asks for a new VM: name, size, image and cloud-init.
async function createDialog(ctx) {
  const images = await api.get("/api/v1/images", { projectScoped: true }).catch(() => []);
  const error = h("p", { class: "error-box", role: "alert", hidden: true });
  const f = (id, label, attrs) => h("label", { for: id }, label, h("input", { id, name: id, ...attrs }));
  const form = h("form", { class: "stack", method: "dialog" },
    h("h2", {}, "Create a VM"), error,
    f("vm-name", "Name", { required: true, pattern: "[a-z0-9][a-z0-9.-]*", autocomplete: "off" }),
    f("vm-vcpus", "vCPUs", { type: "number", min: 1, value: 1, required: true }),
    f("vm-memory", "Memory (MiB)", { type: "number", min: 16, value: 512, required: true }),
    f("vm-disk", "Disk (GiB, 0: the image's size)", { type: "number", min: 0, value: 0 }),
    h("label", { for: "vm-image" }, "Image", h("select", { id: "vm-image" }, h("option", { value: "" }, "none (empty disk)"),
      images.filter((i) => i.state === "ready").map((i) => h("option", { value: i.id }, i.name)))),
    f("vm-hostname", "Hostname (cloud-init)", { autocomplete: "off" }),
    h("label", { for: "vm-ssh" }, "SSH public key", h("textarea", { id: "vm-ssh", rows: 2 })),
    h("label", { for: "vm-userdata" }, "User data (#cloud-config)", h("textarea", { id: "vm-userdata" })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", value: "create" }, "Create"), h("button", { type: "button", onclick: () => d.close() }, "Cancel")));
  const d = h("dialog", { "aria-label": "Create a VM" }, form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (id) => form.querySelector(`#${id}`).value.trim();
    const req = { name: v("vm-name"), vcpus: +v("vm-vcpus"), memory_mib: +v("vm-memory"), disk_gib: +v("vm-disk") || (v("vm-image") ? 0 : 1) };
    if (v("vm-image")) req.image = v("vm-image");
    if (v("vm-hostname") || v("vm-ssh") || v("vm-userdata")) {
      req.cloud_init = { hostname: v("vm-hostname") || undefined, user_data: v("vm-userdata") || undefined, ssh_keys: v("vm-ssh") ? [v("vm-ssh")] : undefined };
    }
    try {
      const vm = await api.post("/api/v1/vms", req, { projectScoped: true });
      d.close();
      ctx.toast(`VM ${vm.name} created`);
      ctx.navigate(`/ui/vms/${vm.id}`);
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
    }
  });
  d.addEventListener("close", () => d.remove());
  document.body.append(d);
  d.showModal();
}
