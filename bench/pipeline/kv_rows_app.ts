/**
 * The HTTP peers' storing handler: a bare Hono app answering `POST /endpoint` once the body and
 * `rows() - 1` small rows (as kv-limit-server's kvN mode) are committed to KV through a group
 * commit (one atomic per batch of concurrent requests). With one row, it is the issue's "bare Hono
 * handler that stores one KV row per request with a group commit".
 * @module
 */

import { Hono } from "hono";
import { GroupCommitter } from "../../actors/store/mod.ts";

/**
 * The app, storing into `kv`.
 *
 * @example
 * ```ts ignore
 * const kv = await Deno.openKv(`${dir}/kv-row.kv`);
 * Deno.serve({ port: 0, hostname: "127.0.0.1" }, kvRowsApp(kv, () => 1).fetch);
 * ```
 */
export function kvRowsApp(kv: Deno.Kv, rows: () => number): Hono {
  const committer = new GroupCommitter(kv);
  let next = 0;
  const app = new Hono();
  app.post("/endpoint", async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    const id = `${Date.now().toString(36)}-${(next++).toString(36)}`;
    const at = Date.now();
    const sets: { key: Deno.KvKey; value: unknown }[] = [{ key: ["msg", id], value: body }];
    for (let i = 1; i < rows(); i++) {
      sets.push({ key: ["x", id, i], value: { id, i, at, status: "PENDING", note: "row" } });
    }
    await committer.commit({ sets, bytes: body.length });
    return c.json({ ok: true, id });
  });
  return app;
}
