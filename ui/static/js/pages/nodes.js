// Nodes: status, capacity, allocation and live CPU and memory (the newest
// samples, GET /api/v1/metrics/latest, every 10 s and on each change).

import { h, replace, badge, mib, pct, bytes, bar, sizeBars, table, debounce } from "../dom.js";
import * as api from "../api.js";
import { touches } from "../stream.js";

export async function render(root, _params, ctx) {
  root.append(h("h1", {}, "Nodes"));
  const body = h("div", {});
  root.append(body);
  let latest = { nodes: {} };
  const load = async () => {
    const [nodes, l] = await Promise.all([api.get("/api/v1/nodes"), api.get("/api/v1/metrics/latest").catch(() => latest)]);
    latest = l;
    replace(body, table(["Name", "Status", "VMs", "vCPUs", "Memory", "CPU", "Memory used", "Maintenance"], nodes.map((n) => {
      const m = latest.nodes?.[n.id] || {};
      return h("tr", { dataset: { node: n.name } },
        h("td", {}, h("a", { href: `/ui/nodes/${n.id}` }, n.name)), h("td", {}, badge(n.status)),
        h("td", { class: "num" }, String(n.vms ?? 0)),
        h("td", { class: "num" }, `${n.allocated?.vcpus ?? 0} / ${n.effective?.vcpus ?? 0}`),
        h("td", { class: "num" }, `${mib(n.allocated?.memory_mib)} / ${mib(n.effective?.memory_mib)}`, bar(n.allocated?.memory_mib || 0, n.effective?.memory_mib || 0, `memory allocated on ${n.name}`)),
        h("td", { class: "num cpu" }, pct(m.cpu_percent)),
        h("td", { class: "num mem" }, m.mem_used_bytes !== undefined ? `${bytes(m.mem_used_bytes)} / ${bytes(m.mem_total_bytes)}` : "–"),
        h("td", {}, n.maintenance ? badge("draining") : ""));
    }), { id: "nodes" }));
    sizeBars(body);
  };
  await load();
  const reload = debounce(() => load().catch((e) => ctx.toast(e.message, "error")), 200);
  const off = ctx.stream.on((f) => touches(f, "node", "vm") && reload());
  const every = setInterval(reload, 10000);
  return () => { off(); clearInterval(every); };
}
