// A virtual list: only the rows in view (and a few around) are in the
// page, so a list of 10,000 VMs scrolls as smoothly as one of ten. Rows
// have a fixed height and their own place (absolutely positioned): a
// scroll moves the rows that leave the view to the places coming into it
// and fills them with their new items (row.create() builds an empty row,
// row.fill(element, item) shows an item in it), so that scrolling builds
// no element and leaves the rows still in view alone.

import { h } from "./dom.js";

const ROW = 32;
const EXTRA = 10;

export class VirtualList {
  constructor(head, row, label) {
    this.items = [];
    this.row = row;
    this.shown = new Map(); // index -> [item, element]
    this.spare = [];
    this.rows = h("div", { role: "rowgroup", class: "rows" });
    this.el = h("div", { class: "vlist", role: "table", "aria-label": label, tabindex: "0", onscroll: () => this.paint() }, head, this.rows);
  }

  // set replaces the items.
  set(items) {
    this.items = items;
    this.paint();
  }

  // redraw fills every row again (the figures they show changed).
  redraw() {
    for (const [i, [, el]] of this.shown) this.row.fill(el, this.items[i]);
  }

  paint() {
    const top = this.el.scrollTop, height = this.el.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - EXTRA);
    const last = Math.min(this.items.length, Math.ceil((top + height) / ROW) + EXTRA);
    this.rows.style.height = `${this.items.length * ROW}px`;
    for (const [i, [item, el]] of this.shown) {
      if (i < first || i >= last || this.items[i] !== item) {
        this.spare.push(el);
        this.shown.delete(i);
      }
    }
    for (let i = first; i < last; i++) {
      if (this.shown.has(i)) continue;
      let el = this.spare.pop();
      if (!el) {
        el = this.row.create();
        this.rows.append(el);
      }
      el.hidden = false;
      this.row.fill(el, this.items[i]);
      el.style.transform = `translateY(${i * ROW}px)`;
      this.shown.set(i, [this.items[i], el]);
    }
    for (const el of this.spare) el.hidden = true;
  }
}
