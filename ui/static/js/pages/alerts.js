// Alerts: what is firing, pending, acknowledged or resolved, with
// acknowledge and silence; and the silences in force.

import { h, replace, badge, table, ago, debounce } from "../dom.js";
import * as api from "../api.js";
import { act } from "../app.js";
import { touches } from "../stream.js";

export async function render(root, _params, ctx) {
  const mayWrite = await api.can("alert:write");
  const body = h("div", {});
  root.append(h("h1", {}, "Alerts"), body);
  const load = async () => {
    const [alerts, silences] = await Promise.all([api.get("/api/v1/alerts"), api.get("/api/v1/silences").catch(() => [])]);
    replace(body,
      alerts.length ? table(["Severity", "Rule", "Object", "State", "Since", "Message", ""], alerts.map((a) => h("tr", { dataset: { alert: a.id, state: a.state } },
        h("td", {}, badge(a.severity)), h("td", {}, a.rule), h("td", {}, a.object_name || a.object_id), h("td", {}, badge(a.state), a.silenced ? " silenced" : ""),
        h("td", {}, ago(a.fired_at || a.pending_since)), h("td", {}, a.message || ""),
        h("td", {}, mayWrite && (a.state === "firing" || a.state === "pending") ? [
          h("button", { type: "button", class: "ack", "aria-label": `Acknowledge ${a.rule} on ${a.object_name || a.object_id}`, onclick: (e) => act(ctx, e.target, "acknowledge", () => api.post(`/api/v1/alerts/${encodeURIComponent(a.id)}/ack`)) }, "Acknowledge"),
          " ",
          h("button", { type: "button", "aria-label": `Silence ${a.rule} on ${a.object_name || a.object_id} for an hour`, onclick: (e) => act(ctx, e.target, "silence for 1 h", () => api.post("/api/v1/silences", { rule: a.rule, object: a.object_id, project: a.project || undefined, duration: "1h", comment: "from the dashboard" })) }, "Silence 1 h"),
        ] : null))), { id: "alerts" }) : h("p", { class: "muted", id: "alerts" }, "No alert."),
      h("h2", {}, "Silences"),
      silences.length ? table(["Matches", "Until", "By", ""], silences.map((s) => h("tr", {},
        h("td", {}, [s.rule, s.object, s.project].filter(Boolean).join(" ") || "everything"), h("td", {}, new Date(s.ends_at).toLocaleString()), h("td", {}, s.created_by || ""),
        h("td", {}, mayWrite ? h("button", { type: "button", onclick: (e) => act(ctx, e.target, "end the silence", () => api.del(`/api/v1/silences/${s.id}`)) }, "End") : null))))
        : h("p", { class: "muted" }, "None."));
  };
  await load();
  const reload = debounce(() => load().catch((e) => ctx.toast(e.message, "error")), 200);
  return ctx.stream.on((f) => touches(f, "alert", "silence") && reload());
}
