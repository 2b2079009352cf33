// A VM's serial console in the page (xterm.js over the console WebSocket,
// binary messages both ways). Loaded only when a console is opened.

import * as api from "./api.js";

let cssLoaded = false;

export async function openConsole(box, vmID, onClose) {
  const [{ Terminal }, { FitAddon }] = await Promise.all([import("../vendor/xterm/xterm.mjs"), import("../vendor/xterm/addon-fit.mjs")]);
  if (!cssLoaded) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = "/ui/vendor/xterm/xterm.css";
    document.head.append(link);
    cssLoaded = true;
  }
  const term = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, scrollback: 5000 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  const url = new URL(`/api/v1/vms/${encodeURIComponent(vmID)}/console`, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url, ["novacron.v1", `novacron.bearer.${api.session().token}`]);
  ws.binaryType = "arraybuffer";
  const enc = new TextEncoder();
  ws.onopen = () => { term.focus(); ws.send(enc.encode("\r")); };
  ws.onmessage = (m) => term.write(new Uint8Array(m.data));
  ws.onclose = (e) => { term.write(`\r\n[console closed${e.reason ? `: ${e.reason}` : ""}]\r\n`); onClose?.(); };
  term.onData((d) => ws.readyState === WebSocket.OPEN && ws.send(enc.encode(d)));
  // The text the console shows, for tests and screen readers: xterm draws
  // on a canvas or in rows of spans, and its buffer is the truth.
  box.textOf = () => {
    const b = term.buffer.active, lines = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) || "");
    return lines.join("\n");
  };
  return () => { ws.close(); term.dispose(); };
}
