/**
 * Wrong bearer tokens on `/admin` are counted per client address: past the limit that address is
 * answered 429 with `Retry-After` (the right token too, so that a correct guess cannot be told
 * apart), while another address, a missing header and the right token before the limit are not
 * held back. Over real HTTP from two loopback addresses, on the composed engine with users.
 * @module
 */

import assert from "node:assert/strict";
import { Hono } from "hono";
import { Secret } from "../../../actors/config/secret.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import {
  BEARER_FAILURE_LIMIT,
  BearerFailures,
  requireBearer,
} from "../../../transports/http/auth.ts";
import { ADMIN, assertNoSecrets, OTTO, withUsersEngine } from "./admin_users_fixture.ts";

Deno.test("admin: 20 wrong tokens from one address, then 429 with Retry-After there, even for the right token; another address is served", async () => {
  await withUsersEngine(async (e) => {
    // A missing header guesses nothing: not counted.
    for (let i = 0; i < BEARER_FAILURE_LIMIT + 5; i++) {
      assert.equal((await e.call("/admin/actors", { token: null })).status, 401);
    }
    // The right token is never counted either.
    for (let i = 0; i < 5; i++) {
      assert.equal((await e.call("/admin/actors", { token: OTTO })).status, 200);
    }
    for (let i = 0; i < BEARER_FAILURE_LIMIT; i++) {
      const r = await e.call("/admin/actors", { token: `wrong-guess-${i}` });
      assert.equal(r.status, 401, `guess ${i}`);
    }
    const limited = await e.call("/admin/actors", { token: "wrong-guess-last" });
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 62, `Retry-After ${retryAfter}`);
    assert.match(limited.json.error, /too many requests with a wrong token/);
    // The same address with the right token: held back too (else a hit would show).
    assert.equal((await e.call("/admin/actors", { token: OTTO })).status, 429);
    // Every admin mount of the engine shares the budget (here /admin/nodes, admin token only).
    assert.equal((await e.call("/admin/nodes", { token: ADMIN })).status, 429);
    // Another address is not held back by these failures.
    assert.equal((await e.call("/admin/actors", { token: OTTO, from: "v6" })).status, 200);
    assert.equal((await e.call("/admin/actors", { token: "wrong", from: "v6" })).status, 401);

    const throttled = e.lines.filter((l) => l.includes(" admin.throttled "));
    assert.equal(throttled.length, 1, throttled.join("\n"));
    assert.match(
      throttled[0]!,
      /WARN +admin\.throttled remote=::ffff:127\.0\.0\.1 method=GET path=\/admin\/actors failures=20 windowSeconds=60 refused=1$/,
    );
    assertNoSecrets(e.lines);
  });
});

Deno.test("admin: the failures of at most maxAddresses addresses are tracked", async () => {
  const failures = new BearerFailures(memoryLogger(), { limit: 1, maxAddresses: 3 });
  const app = new Hono().use(
    requireBearer({
      token: new Secret("the-right-token-123", "test"),
      log: memoryLogger(),
      failures,
    }),
  ).get("/admin", (c) => c.text("ok"));
  for (let i = 0; i < 50; i++) {
    const res = await app.fetch(
      new Request("http://engine/admin", { headers: { authorization: "Bearer wrong" } }),
      { remoteAddr: { hostname: `10.0.0.${i}`, port: 1 } },
    );
    assert.equal(res.status, 401);
    assert.ok(failures.size <= 3, `${failures.size} addresses tracked`);
  }
  // The last address is still counted: its next attempt is refused.
  const again = await app.fetch(
    new Request("http://engine/admin", { headers: { authorization: "Bearer wrong" } }),
    { remoteAddr: { hostname: "10.0.0.49", port: 1 } },
  );
  assert.equal(again.status, 429);
});
