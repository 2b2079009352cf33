import { h, badge, table, ago, bytes } from "../dom.js";
import * as api from "../api.js";
import { act } from "../app.js";
import { listPage } from "./activity.js";

export async function render(root, _params, ctx) {
  const mayWrite = await api.can("migration:write");
  return listPage(root, ctx, {
    title: "Migrations", types: ["migration", "vm"],
    load: async () => {
      const ms = await api.get("/api/v1/migrations");
      if (!ms.length) return h("p", { class: "muted" }, "No migration on record.");
      return table(["VM", "Mode", "From", "To", "State", "Progress", "Started", "Why", ""], ms.map((m) => {
        const done = ["completed", "failed", "cancelled"].includes(m.state);
        const p = m.state === "completed" ? 100 : m.progress?.percent || 0;
        return h("tr", { dataset: { migration: m.id, state: m.state } },
          h("td", {}, h("a", { href: `/ui/vms/${m.vm_id}` }, m.vm_name)), h("td", {}, m.mode), h("td", {}, m.source_name || m.source), h("td", {}, m.target_name || m.target),
          h("td", {}, badge(m.state), m.error ? h("div", { class: "muted" }, m.error) : null),
          h("td", { class: "num progress" }, `${Math.round(p)} %`, m.progress?.data_remaining_bytes ? h("div", { class: "muted" }, `${bytes(m.progress.data_remaining_bytes)} left`) : null),
          h("td", {}, ago(m.created_at)), h("td", {}, m.reason),
          h("td", {}, mayWrite && !done && !m.cancel_requested ? h("button", { type: "button", onclick: (e) => act(ctx, e.target, `cancel the migration of ${m.vm_name}`, () => api.post(`/api/v1/migrations/${m.id}/cancel`)) }, "Cancel") : null));
      }), { id: "migrations" });
    },
  });
}
