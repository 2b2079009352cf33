// Small DOM helpers. Every value from the API reaches the page as text
// (textContent, attributes), never as markup: h() has no innerHTML.

// h builds an element: h("a", {href: "/ui/vms", class: "x", onclick: fn}, child, ...).
// Children are nodes, strings (as text), arrays, or null (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// replace empties el and fills it with children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function badge(state) {
  return h("span", { class: `badge s-${state || "unknown"}` }, state || "unknown");
}

export function bytes(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function mib(n) { return bytes((n || 0) * 1024 * 1024); }

export function pct(v) {
  return v === undefined || v === null || Number.isNaN(v) ? "–" : `${v.toFixed(1)} %`;
}

export function ago(t) {
  if (!t || t.startsWith("0001")) return "–";
  const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}

export function bar(used, total, label) {
  const p = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  return h("div", { class: "bar", role: "meter", "aria-label": label, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(p) },
    h("span", { style: null, dataset: { pct: p.toFixed(0) } }));
}

// sizeBars sets each bar's width once it is in the page (no inline style
// attributes: the page's policy refuses them, script may set them).
export function sizeBars(root) {
  for (const s of root.querySelectorAll(".bar > span[data-pct]")) s.style.width = `${s.dataset.pct}%`;
}

export function table(headers, rows, attrs) {
  return h("table", attrs || {},
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col", class: /^(CPU|Memory|vCPUs|Disk|Progress|VMs)/.test(x) ? "num" : null }, x)))),
    h("tbody", {}, rows));
}

export function debounce(fn, ms) {
  let t = null;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}
