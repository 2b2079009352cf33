// Overview, the landing page: cluster health (leader, members, quorum),
// capacity and allocation, firing alerts, migrations under way and the
// latest events, kept current by the event stream.

import { h, replace, badge, mib, bar, sizeBars, table, ago, debounce } from "../dom.js";
import * as api from "../api.js";
import { recentEvents, describe } from "./events.js";

export async function render(root, _params, ctx) {
  root.append(h("h1", {}, "Overview"));
  const body = h("div", { id: "overview" });
  root.append(body);
  const load = async () => {
    const [cluster, nodes, alerts, migrations, events] = await Promise.all([
      api.get("/api/v1/cluster"), api.get("/api/v1/nodes").catch(() => []),
      api.get("/api/v1/alerts").catch(() => []), api.get("/api/v1/migrations").catch(() => []),
      recentEvents(15).catch(() => []),
    ]);
    const voters = cluster.members.filter((m) => m.raft_role === "voter");
    const alive = voters.filter((m) => m.status === "alive").length;
    const quorum = Math.floor(voters.length / 2) + 1;
    const cap = { vcpus: 0, memory_mib: 0 }, used = { vcpus: 0, memory_mib: 0 };
    for (const n of nodes) {
      cap.vcpus += n.effective?.vcpus || 0; cap.memory_mib += n.effective?.memory_mib || 0;
      used.vcpus += n.allocated?.vcpus || 0; used.memory_mib += n.allocated?.memory_mib || 0;
    }
    const firing = alerts.filter((a) => a.state === "firing" || a.state === "pending");
    const moving = migrations.filter((m) => !["completed", "failed", "cancelled"].includes(m.state));
    replace(body,
      h("div", { class: "cards" },
        h("div", { class: "card", id: "health" }, h("div", { class: "sub" }, "Leader"), h("div", { class: "big" }, cluster.leader || "none"),
          h("div", { class: "sub" }, `${alive} of ${voters.length} voters alive; quorum ${quorum}: `, alive >= quorum ? badge("ok") : badge("critical"))),
        h("div", { class: "card" }, h("div", { class: "sub" }, "Members"), h("div", { class: "big" }, String(cluster.members.length)),
          h("div", { class: "sub" }, cluster.members.filter((m) => m.status !== "alive").map((m) => `${m.name} ${m.status}`).join(", ") || "all alive")),
        h("div", { class: "card" }, h("div", { class: "sub" }, "vCPUs allocated"), h("div", { class: "big" }, `${used.vcpus} / ${cap.vcpus}`), bar(used.vcpus, cap.vcpus, "vCPUs allocated")),
        h("div", { class: "card" }, h("div", { class: "sub" }, "Memory allocated"), h("div", { class: "big" }, `${mib(used.memory_mib)}`),
          h("div", { class: "sub" }, `of ${mib(cap.memory_mib)}`), bar(used.memory_mib, cap.memory_mib, "memory allocated"))),
      h("h2", {}, `Alerts firing (${firing.length})`),
      firing.length ? table(["Severity", "Alert", "Object", "Since", ""], firing.map((a) => h("tr", { dataset: { alert: a.id } },
        h("td", {}, badge(a.severity)), h("td", {}, a.rule, " ", badge(a.state)), h("td", {}, a.object_name || a.object_id),
        h("td", {}, ago(a.fired_at || a.pending_since)), h("td", {}, h("a", { href: "/ui/alerts" }, "Acknowledge…")))), { id: "firing-alerts" })
        : h("p", { class: "muted", id: "firing-alerts" }, "No alert is firing."),
      h("h2", {}, `Migrations under way (${moving.length})`),
      moving.length ? table(["VM", "From", "To", "State", "Progress"], moving.map((m) => h("tr", {},
        h("td", {}, h("a", { href: `/ui/vms/${m.vm_id}` }, m.vm_name)), h("td", {}, m.source_name || m.source), h("td", {}, m.target_name || m.target),
        h("td", {}, badge(m.state)), h("td", { class: "num" }, `${Math.round(m.progress?.percent || 0)} %`))))
        : h("p", { class: "muted" }, "None."),
      h("h2", {}, "Recent events"),
      h("ul", { class: "feed", id: "recent-events" }, events.reverse().map((f) => f.events.map((e) => h("li", {}, describe(f, e))))));
    sizeBars(body);
  };
  await load();
  const reload = debounce(() => load().catch((e) => ctx.toast(e.message, "error")), 200);
  return ctx.stream.on(reload);
}
