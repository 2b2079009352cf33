// The live feed of every change the caller may see, as it happens, and
// the helpers other pages use to show recent events.

import { h, replace } from "../dom.js";
import * as api from "../api.js";

// recentEvents reads the newest n frames (of one object, if given).
export async function recentEvents(n, object) {
  const data = await api.get("/api/v1/events", { query: { follow: "false", limit: n, object } });
  if (!data) return [];
  if (typeof data === "object") return [data]; // one line is one JSON value
  return data.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

// describe is one event as a line: time, index, what, which.
export function describe(frame, e) {
  const at = new Date(frame.time).toLocaleTimeString();
  const what = e.message || `${e.type} ${e.action}`;
  const which = e.name || e.id || "";
  return `${at}  #${frame.index}  ${what}${which && !what.includes(which) ? `  ${which}` : ""}${e.project && e.project !== "default" ? `  (${e.project})` : ""}`;
}

export async function render(root, _params, ctx) {
  const list = h("ul", { class: "feed", id: "event-feed", "aria-live": "polite" });
  const status = h("p", { class: "muted", role: "status" });
  root.append(h("h1", {}, "Events"), status, list);
  const frames = await recentEvents(100);
  const add = (f, top) => {
    for (const e of f.events) {
      const li = h("li", { dataset: { index: String(f.index), type: e.type } }, describe(f, e));
      top ? list.prepend(li) : list.append(li);
    }
    while (list.children.length > 500) list.lastChild.remove();
  };
  for (const f of frames.reverse()) add(f, false);
  const off = ctx.stream.on((f) => add(f, true));
  const offStatus = ctx.stream.onStatus((s, st) => replace(status, s === "live" ? `Following live from event ${st.last ?? "?"}.` : `Disconnected: reconnecting, and resuming after event ${st.last ?? "?"}.`));
  return () => { off(); offStatus(); };
}
