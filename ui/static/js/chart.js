// Charts of a VM's or a node's metrics history (uPlot), over an hour, a
// day, a week or a year, redrawn every sample interval while shown.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { h, replace, bytes } from "./dom.js";
import * as api from "./api.js";

const ranges = [["1h", "Hour"], ["24h", "Day"], ["168h", "Week"], ["8760h", "Year"]];

// metricsPanel returns a section with one chart per [field, title] of
// path's history and range buttons; it refreshes itself while in the page.
export function metricsPanel(path, fields) {
  let since = "1h";
  const charts = h("div", {});
  const tabs = h("div", { class: "tabs", role: "group", "aria-label": "Time range" });
  const section = h("section", { "aria-label": "Metrics" }, h("h2", {}, "Metrics"), tabs, charts);
  const draw = async () => {
    let res;
    try {
      res = await api.get(path, { query: { since } });
    } catch (e) {
      replace(charts, h("p", { class: "muted" }, e.message));
      return;
    }
    const xs = res.points.map((p) => new Date(p.at).getTime() / 1000);
    replace(charts);
    for (const [field, title] of fields) {
      const i = res.fields.indexOf(field);
      const ys = res.points.map((p) => (i >= 0 && p.avg[i] !== null ? p.avg[i] : null));
      const drawn = ys.filter((y) => y !== null).length;
      const box = h("div", { class: "chart", role: "img", "aria-label": `${title}: ${drawn} points`, dataset: { field, points: String(drawn) } }, h("strong", {}, title));
      charts.append(box);
      const width = Math.max(300, (charts.clientWidth || 800) - 20);
      const isBytes = field.endsWith("_bytes");
      new uPlot({
        width, height: 160, legend: { show: false },
        scales: { x: { time: true } },
        axes: [{}, { values: (_, vals) => vals.map((v) => (isBytes ? bytes(v) : v)), size: isBytes ? 70 : 50 }],
        series: [{}, { label: title, stroke: "#2457c5", width: 1.5, spanGaps: false }],
      }, [xs, ys], box);
    }
  };
  for (const [value, label] of ranges) {
    tabs.append(h("button", { type: "button", "aria-pressed": String(value === since), onclick: (e) => {
      since = value;
      for (const b of tabs.children) b.setAttribute("aria-pressed", String(b === e.target));
      draw();
    } }, label));
  }
  draw();
  const timer = setInterval(() => { if (!section.isConnected) clearInterval(timer); else draw(); }, 10000);
  return section;
}
