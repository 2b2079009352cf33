// The audit log: every change and every refused request, newest first.

import { h, table, ago } from "../dom.js";
import * as api from "../api.js";
import { listPage } from "./activity.js";

export async function render(root, _params, ctx) {
  return listPage(root, ctx, {
    title: "Audit log", types: ["audit"],
    load: async () => {
      const entries = await api.get("/api/v1/audit", { query: { limit: 200 } });
      if (!entries.length) return h("p", { class: "muted" }, "Nothing recorded that you may read.");
      return table(["When", "Who", "Action", "Object", "Project", "Status", "Message"], entries.map((e) => h("tr", {},
        h("td", {}, ago(e.at)), h("td", {}, `${e.actor || "?"}${e.via ? ` (${e.via})` : ""}`), h("td", {}, e.action), h("td", {}, e.object || ""),
        h("td", {}, e.project || ""), h("td", { class: e.status >= 400 ? "s-error" : "" }, String(e.status)), h("td", {}, e.message || ""))), { id: "audit" });
    },
  });
}
