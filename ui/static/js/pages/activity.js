// Migrations, operations and failovers share a page shape: a table that
// follows the event stream (see migrations.js, operations.js, failovers.js).

import { h, replace, debounce } from "../dom.js";
import { touches } from "../stream.js";

export async function listPage(root, ctx, { title, load, types }) {
  const body = h("div", {});
  root.append(h("h1", {}, title), body);
  const paint = async () => replace(body, await load());
  await paint();
  const reload = debounce(() => paint().catch((e) => ctx.toast(e.message, "error")), 200);
  return ctx.stream.on((f) => touches(f, ...types) && reload());
}
