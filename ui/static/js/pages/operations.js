import { h, badge, table, ago } from "../dom.js";
import * as api from "../api.js";
import { act } from "../app.js";
import { listPage } from "./activity.js";

export async function render(root, _params, ctx) {
  return listPage(root, ctx, {
    title: "Operations", types: ["vm", "migration", "image", "volume", "node"],
    load: async () => {
      const ops = await api.get("/api/v1/operations");
      if (!ops.length) return h("p", { class: "muted" }, "Nothing under way.");
      return table(["Kind", "Object", "State", "Progress", "Started", ""], ops.map((o) => h("tr", { dataset: { operation: o.id } },
        h("td", {}, o.kind), h("td", {}, o.object?.name || o.object?.id || ""), h("td", {}, badge(o.state), o.error ? h("div", { class: "muted" }, o.error) : null),
        h("td", { class: "num" }, `${Math.round(o.progress || 0)} %`), h("td", {}, ago(o.created)),
        h("td", {}, o.may_cancel ? h("button", { type: "button", onclick: (e) => act(ctx, e.target, `cancel ${o.kind}`, () => api.del(`/api/v1/operations/${encodeURIComponent(o.id)}`)) }, "Cancel") : null))), { id: "operations" });
    },
  });
}
