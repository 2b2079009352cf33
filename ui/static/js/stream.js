// The live event stream (GET /api/v1/events over a WebSocket). A browser
// cannot set headers on a WebSocket, so the session's secret travels as a
// subprotocol (novacron.bearer.<secret>), which the server reads and never
// echoes. The stream remembers the last index it saw (frames and
// heartbeats carry it) and, when the connection drops, reconnects with
// ?after=<index>: nothing is missed, nothing comes twice. A "gap" event
// means the node no longer keeps what was missed: the pages reload.

import { session } from "./api.js";

export class EventStream {
  constructor() {
    this.last = null;     // the last index seen
    this.listeners = new Set();
    this.statusListeners = new Set();
    this.status = "connecting";
    this.retry = 500;
    this.closed = false;
  }

  // on calls fn(frame) for each frame with events; it returns the unsubscribe.
  on(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  onStatus(fn) { this.statusListeners.add(fn); fn(this.status, this); return () => this.statusListeners.delete(fn); }

  setStatus(s) {
    if (this.status === s) return;
    this.status = s;
    for (const fn of this.statusListeners) fn(s, this);
  }

  start() {
    this.closed = false;
    this.connect();
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close();
  }

  connect() {
    const s = session();
    if (!s || this.closed) return;
    const url = new URL("/api/v1/events", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (this.last !== null) url.searchParams.set("after", this.last);
    const ws = new WebSocket(url, ["novacron.v1", `novacron.bearer.${s.token}`]);
    this.ws = ws;
    ws.onmessage = (m) => {
      let frame;
      try { frame = JSON.parse(m.data); } catch { return; }
      this.retry = 500;
      this.setStatus("live");
      this.last = frame.index;
      if (frame.events && frame.events.length) for (const fn of this.listeners) fn(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws || this.closed) return;
      this.setStatus("reconnecting");
      this.timer = setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 5000);
    };
  }
}

// touches reports whether frame has an event of one of types.
export function touches(frame, ...types) {
  return frame.events.some((e) => types.includes(e.type) || e.type === "gap");
}
