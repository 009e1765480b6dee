import assert from "node:assert/strict";
import { Secret } from "../../../actors/config/secret.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import type { Store } from "../../../actors/store/mod.ts";
import { createAdminApp } from "../../../transports/http/mod.ts";
import { assertUnauthorized, DEST, TOKEN, withEngine } from "./engine_fixture.ts";

Deno.test("admin answers a missing, malformed or wrong-scheme credential with the same bare 401", async () => {
  await withEngine(async (e) => {
    assertUnauthorized(await e.call("/admin/actors", { auth: null }));
    assertUnauthorized(await e.call("/admin/actors", { auth: `Basic ${btoa(`admin:${TOKEN}`)}` }));
    assertUnauthorized(await e.call("/admin/actors", { auth: `Token ${TOKEN}` }));
    assertUnauthorized(await e.call("/admin/actors", { auth: "Bearer" }));
    assertUnauthorized(await e.call("/admin/actors", { auth: `Bearer ${TOKEN} extra` }));
    assertUnauthorized(await e.call("/admin/actors", { auth: `Bearer ${TOKEN}x` }));
    const r = await e.call("/admin/actors", { auth: null });
    assert.equal(r.headers.get("cache-control"), "no-store");
    // The scheme is case-insensitive.
    assert.equal((await e.call("/admin/actors", { auth: `bearer ${TOKEN}` })).status, 200);
  });
});

Deno.test("admin checks the token before routing, so unknown paths do not reveal what exists", async () => {
  await withEngine(async (e) => {
    for (
      const path of ["/admin", "/admin/", "/admin/nope", "/admin/actors/x/explode", "/admin/logs"]
    ) {
      assertUnauthorized(await e.call(path, { auth: null }));
    }
    assertUnauthorized(
      await e.call(`/admin/actors/${DEST}/pause`, { method: "POST", auth: "Bearer nope" }),
    );
    const known = await e.call("/admin/nope");
    assert.equal(known.status, 404);
    assert.deepEqual(known.json, { error: "no route GET /admin/nope" });
    assert.equal(e.deliverer.sent.length, 0);
  });
});

Deno.test("admin refuses a request with a wrong token and logs it without the token", async () => {
  await withEngine(async (e) => {
    const wrong = "guess-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    assertUnauthorized(await e.call("/admin/logs?status=FAILED", { auth: `Bearer ${wrong}` }));
    assert.equal((await e.call("/admin/actors")).status, 200);
    const denied = e.lines.filter((l) => l.includes("admin.denied"));
    assert.equal(denied.length, 1);
    assert.match(denied[0]!, /WARN/);
    assert.match(denied[0]!, /remote=127\.0\.0\.1:\d+/);
    assert.match(denied[0]!, /path=\/admin\/logs /);
    assert.match(denied[0]!, /why=mismatch/);
    for (const line of e.lines) {
      assert.ok(!line.includes(wrong), `presented token logged: ${line}`);
      assert.ok(!line.includes(TOKEN), `admin token logged: ${line}`);
    }
  });
});

Deno.test("admin keeps its authentication when mounted into a larger app", async () => {
  await withEngine(async (e) => {
    assertUnauthorized(await e.call("/admin/actors", { auth: null }));
    assertUnauthorized(await e.call("/admin/whatever", { auth: null }));
    assert.equal((await e.call("/healthz", { auth: null })).status, 200);
    assert.equal((await e.call("/admin/actors")).status, 200);
  }, { mount: true });
});

Deno.test("admin refuses to start with an empty token", () => {
  assert.throws(
    () =>
      createAdminApp({
        // Only the constructor runs: no supervisor or store is touched.
        supervisor: {
          statuses: () => Promise.resolve([]),
          status: () => Promise.resolve(undefined),
          command: () => Promise.resolve(undefined),
          notify: () => {},
        },
        store: undefined as unknown as Store,
        token: new Secret("", "env:EMPTY"),
        log: memoryLogger(),
      }),
    /env:EMPTY is empty/,
  );
});
