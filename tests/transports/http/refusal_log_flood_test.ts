/**
 * Lines a client causes once per request before it authenticates (over its rate, a bad token, a
 * wrong client secret) are throttled per address: a client repeating one in a loop over real
 * HTTPS connections gets every refusal answered, and the log a bounded number of lines.
 * @module
 */

import assert from "node:assert/strict";
import { AUTH_LOG_BURST, PEER_LOG_INTERVAL_MS } from "../../../transports/http/peer_log.ts";
import { BEARER_FAILURE_LIMIT } from "../../../transports/http/auth.ts";
import { withEngine } from "./engine_fixture.ts";
import { withIngress } from "./ingress_fixture.ts";

const linesOf = (lines: string[], event: string) => lines.filter((l) => l.includes(` ${event} `));
const refusedOf = (line: string) => Number(/ refused=(\d+)/.exec(line)?.[1] ?? NaN);
/** Throttle intervals begun within `elapsedMs` (the wall clock runs: no manual clock here). */
const intervals = (elapsedMs: number) => 1 + Math.floor(elapsedMs / PEER_LOG_INTERVAL_MS);

Deno.test("endpoint: 200 requests from one address past its rate write one endpoint.rate-limited line per interval, and a few endpoint.unauthorized", async () => {
  await withIngress({ limits: { rateLimitPerIp: 5, rateLimitWindowSeconds: 600 } }, async (e) => {
    const started = performance.now();
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) statuses.push((await e.post("{}", null)).status);
    const elapsed = performance.now() - started;
    // Every request is still answered: the first 5 are unauthorized, the rest over the rate.
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.ok(statuses.slice(5).every((s) => s === 429));
    const unauthorized = linesOf(e.lines, "endpoint.unauthorized");
    assert.equal(unauthorized.length, 5);
    const limited = linesOf(e.lines, "endpoint.rate-limited");
    assert.ok(limited.length >= 1 && limited.length <= intervals(elapsed), limited.join("\n"));
    assert.match(limited[0]!, /WARN +endpoint\.rate-limited ip=127\.0\.0\.1 limit=5 refused=1$/);
    assert.ok(limited.reduce((n, l) => n + refusedOf(l), 0) <= 195);
  });
});

Deno.test("token endpoint: 200 wrong client secrets from one address write a bounded number of token.refused lines", async () => {
  await withIngress({}, async (e) => {
    const started = performance.now();
    for (let i = 0; i < 200; i++) {
      const r = await e.tokenRequest({
        grant_type: "client_credentials",
        client_id: "lab-secret-client",
        client_secret: `wrong-${i}`,
      });
      assert.equal(r.status, 401);
    }
    const elapsed = performance.now() - started;
    const refused = linesOf(e.lines, "token.refused");
    assert.ok(refused.length >= AUTH_LOG_BURST, refused.join("\n"));
    assert.ok(refused.length <= AUTH_LOG_BURST * intervals(elapsed), `${refused.length} lines`);
    assert.ok(refused.slice(0, AUTH_LOG_BURST).every((l) => refusedOf(l) === 1));
    // A good client is still served.
    assert.ok((await e.secretToken()).length > 0);
  });
});

Deno.test("admin: 200 requests with a wrong token from one address: 20 answered 401 and logged, the rest 429 with a bounded number of admin.throttled lines", async () => {
  await withEngine(async (e) => {
    const started = performance.now();
    const statuses: number[] = [];
    let retryAfter = "";
    for (let i = 0; i < 200; i++) {
      const r = await e.call("/admin/actors", { auth: `Bearer wrong-${i}` });
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get("retry-after") ?? "";
    }
    const elapsed = performance.now() - started;
    assert.deepEqual(
      statuses.slice(0, BEARER_FAILURE_LIMIT),
      Array(BEARER_FAILURE_LIMIT).fill(401),
    );
    assert.ok(statuses.slice(BEARER_FAILURE_LIMIT).every((s) => s === 429), String(statuses));
    assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 62, `Retry-After ${retryAfter}`);
    const denied = linesOf(e.lines, "admin.denied");
    assert.equal(denied.length, Math.min(AUTH_LOG_BURST, BEARER_FAILURE_LIMIT), denied.join("\n"));
    assert.match(
      denied[0]!,
      /WARN +admin\.denied remote=127\.0\.0\.1:\d+ .*why=mismatch refused=1$/,
    );
    const throttled = linesOf(e.lines, "admin.throttled");
    assert.ok(
      throttled.length >= 1 && throttled.length <= intervals(elapsed),
      throttled.join("\n"),
    );
    assert.match(
      throttled[0]!,
      /WARN +admin\.throttled remote=127\.0\.0\.1 method=GET path=\/admin\/actors failures=20 windowSeconds=60 refused=1$/,
    );
    assert.ok(throttled.reduce((n, l) => n + refusedOf(l), 0) <= 180);
  });
});
