// Failovers: each host failure as a timeline of its steps, from the last
// lease renewal to the VMs restarted elsewhere.

import { h, ago } from "../dom.js";
import * as api from "../api.js";
import { listPage } from "./activity.js";

const at = (t) => (t && !t.startsWith("0001") ? new Date(t).toLocaleTimeString() : null);

export async function render(root, _params, ctx) {
  return listPage(root, ctx, {
    title: "Failovers", types: ["failover", "node"],
    load: async () => {
      const fs = await api.get("/api/v1/failovers");
      if (!fs.length) return h("p", { class: "muted" }, "No host has failed.");
      return h("div", {}, fs.map((f) => h("section", { class: "card", dataset: { failover: f.id } },
        h("h2", {}, `${f.node_name || f.node}: ${f.cause}`, h("span", { class: "muted" }, ` (${ago(f.detected_at)})`)),
        h("ol", { class: "timeline" },
          f.last_renewal ? h("li", {}, `${at(f.last_renewal)} last lease renewal`) : null,
          h("li", {}, `${at(f.detected_at)} failure detected (+${f.detected_after_ms} ms)`),
          at(f.fenced_at) ? h("li", {}, `${at(f.fenced_at)} host fenced (+${f.fenced_after_ms} ms)`) : null,
          at(f.restarted_at) ? h("li", {}, `${at(f.restarted_at)} VMs restarted (+${f.restarted_after_ms} ms)`) : null,
          (f.vms || []).map((v) => h("li", {}, `VM ${v.vm_name || v.vm_id} → ${v.node_name || v.node || "nowhere"} ${v.error || ""}`)),
          (f.left_behind || []).map((v) => h("li", { class: "s-error" }, `VM ${v.vm_name || v.vm_id} left behind: ${v.reason || v.error || ""}`)),
          f.completed_at ? h("li", {}, `${at(f.completed_at)} completed`) : h("li", {}, "under way")))));
    },
  });
}
