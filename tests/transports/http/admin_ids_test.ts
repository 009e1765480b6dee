/**
 * Over-long ids in admin paths are refused with 400 naming the parameter and the limit before
 * any lookup (KV keys are at most 2 KiB), over the engine's own HTTP server.
 * @module
 */

import assert from "node:assert/strict";
import { withEngine } from "./engine_fixture.ts";

Deno.test("admin refuses ids over 256 characters with 400 naming id and the limit, for every route", async () => {
  await withEngine(async (e) => {
    // 10 KB fits the 16 KiB request-line limit, so the app sees it; 100 KB gets 431 before
    // (slow_clients_test.ts).
    const id = "x".repeat(10 * 1024);
    const routes: [string, string][] = [
      ["GET", `/admin/actors/${id}`],
      ["GET", `/admin/actors/${id}/dead-letters`],
      ["POST", `/admin/actors/${id}/pause`],
      ["GET", `/admin/logs/${id}`],
      ["POST", `/admin/logs/${id}/reprocess`],
      ["GET", `/admin/messages/${id}`],
    ];
    for (const [method, path] of routes) {
      const r = await e.call(path, { method });
      assert.equal(r.status, 400, `${method} ${path.slice(0, 30)}`);
      assert.deepEqual(r.json, { error: `id: at most 256 characters; got ${id.length}` });
    }
    // At the limit, the lookup happens and finds nothing.
    assert.equal((await e.call(`/admin/logs/${"x".repeat(256)}`)).status, 404);
    assert.ok(!e.lines.some((l) => l.includes("admin.failed")), "no internal error");
  });
});
