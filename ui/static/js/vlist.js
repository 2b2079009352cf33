// A virtual list: only the rows in view (and a few around) are in the
// page, so a list of 10,000 VMs scrolls as smoothly as one of ten. Rows
// have a fixed height; render(item) builds one row's element.

import { h } from "./dom.js";

const ROW = 32;
const EXTRA = 10;

export class VirtualList {
  constructor(head, render, label) {
    this.items = [];
    this.render = render;
    this.spacer = h("div", { class: "spacer", role: "presentation" });
    this.rows = h("div", { role: "rowgroup" });
    this.el = h("div", { class: "vlist", role: "table", "aria-label": label, tabindex: "0", onscroll: () => this.paint() }, head, this.rows, this.spacer);
    this.painted = "";
  }

  set(items) {
    this.items = items;
    this.painted = "";
    this.paint();
  }

  paint() {
    const top = this.el.scrollTop, height = this.el.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - EXTRA);
    const last = Math.min(this.items.length, Math.ceil((top + height) / ROW) + EXTRA);
    const key = `${first}:${last}:${this.items.length}`;
    if (key === this.painted) return;
    this.painted = key;
    this.spacer.style.height = `${Math.max(0, (this.items.length - last) * ROW)}px`;
    this.rows.style.paddingTop = `${first * ROW}px`;
    this.rows.replaceChildren(...this.items.slice(first, last).map(this.render));
  }
}
