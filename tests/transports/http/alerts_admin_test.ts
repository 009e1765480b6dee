/**
 * `GET/PUT /admin/alerts` and `GET /admin/alerts/history` on the composed engine: rules from the
 * config, replaced through the API (every problem answered with its path, nothing changed), and
 * a queue alert on a real stuck destination sent to a real webhook receiver.
 */

import assert from "node:assert/strict";
import { Hl7Client } from "@medplum/hl7";
import { Hl7Message } from "@medplum/core";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { adt, freePort, waitFor } from "../../helpers/net.ts";
import { HOOK_SECRET, startHookReceiver } from "../../actors/alerts/fixture.ts";
import { tempDir } from "../../helpers/temp.ts";

const ADMIN = "admin-token-for-alerts";
const auth = { authorization: `Bearer ${ADMIN}` };

function config(dir: string, hookUrl: string, deadPort: number): Config {
  const parsed = parseConfig({
    kv: { path: `${dir}/engine.kv` },
    admin: { token: { env: "ADMIN_TOKEN" } },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{ id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: deadPort } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
    alerts: {
      channels: [{ id: "ops", webhook: { url: hookUrl, secret: { env: "HOOK_SECRET" } } }],
      rules: [{ id: "failures", kind: "failed-logs", threshold: 10, windowSeconds: 600 }],
    },
  }, {
    env: (n) => ({ ADMIN_TOKEN: ADMIN, HOOK_SECRET } as Record<string, string>)[n],
    readFile: () => new Error("-"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

async function call(
  e: TestEngine,
  path: string,
  init: RequestInit = {},
  // deno-lint-ignore no-explicit-any -- the tests read the answers' JSON freely
): Promise<{ status: number; json: any }> {
  const res = await e.app.request(path, { ...init, headers: { ...auth, ...init.headers } });
  return { status: res.status, json: await res.json() };
}

Deno.test("admin alerts: config rules, a refused PUT with paths, a PUT rule firing on a stuck queue", async () => {
  await using dir = await tempDir({ prefix: "alerts-admin-" });
  const hook = startHookReceiver();
  // Nothing listens on the destination's port: a port free a moment ago is all a test can name.
  const e = await startEngine(config(dir.path, hook.url, freePort()));
  const client = new Hl7Client({ host: "127.0.0.1", port: e.mllpPort });
  try {
    let got = await call(e, "/admin/alerts");
    assert.equal(got.status, 200);
    assert.equal(got.json.source, "config");
    assert.deepEqual(got.json.rules.map((r: { id: string }) => r.id), ["failures"]);
    assert.deepEqual(got.json.channels, [{ id: "ops", type: "webhook", url: hook.url }]);

    const put = (rules: unknown) =>
      call(e, "/admin/alerts", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ rules }),
      });
    got = await put([
      { id: "a", kind: "failed-logs", threshold: 0, windowSeconds: 60 },
      { id: "b", kind: "queue", destination: "nope", maxDepth: 1, channels: ["pager"] },
    ]);
    assert.equal(got.status, 400);
    const paths = got.json.problems.map((p: { path: string }) => p.path);
    assert.deepEqual(paths, ["$.rules[0].threshold"]);
    got = await put([{
      id: "b",
      kind: "queue",
      destination: "nope",
      maxDepth: 1,
      channels: ["pager"],
    }]);
    assert.equal(got.status, 400);
    assert.deepEqual(got.json.problems.map((p: { path: string }) => p.path).sort(), [
      "$.rules[0].channels[0]",
      "$.rules[0].destination",
    ]);
    assert.equal((await call(e, "/admin/alerts")).json.source, "config", "nothing changed");

    got = await put([{ id: "stuck", kind: "queue", destination: "ehr", maxDepth: 0 }]);
    assert.equal(got.status, 200);
    assert.equal((await call(e, "/admin/alerts")).json.source, "admin");

    await client.sendAndWait(Hl7Message.parse(adt("ALERT1")));
    await waitFor(
      "a queued message",
      async () => (await e.engine.supervisor.statuses()).some((a) => a.queueDepth > 0),
    );
    await e.alerts.tick();
    await hook.waitFor(1);
    assert.equal(hook.hooks[0]!.body.event, "firing");
    assert.equal(hook.hooks[0]!.body.rule, "stuck");
    assert.ok(hook.hooks[0]!.signed);
    got = await call(e, "/admin/alerts/history?limit=10");
    assert.equal(got.status, 200);
    assert.equal(got.json.notifications.length, 1);
    assert.equal(got.json.notifications[0].deliveries[0].status, "sent");
    assert.match(got.json.notifications[0].at, /^\d{4}-\d\d-\d\dT/);
    assert.equal((await call(e, "/admin/alerts")).json.firing.length, 1);
    assert.equal((await call(e, "/admin/alerts/history?limit=0")).status, 400);
    const storage = await call(e, "/admin/storage");
    assert.equal(storage.status, 200);
    assert.equal(storage.json.complete, true);
    assert.ok(storage.json.kinds.messages.count >= 1);
    assert.ok(storage.json.kinds.alertHistory.approxBytes > 0);
  } finally {
    client.close();
    await e.close();
    await hook.close();
  }
});

Deno.test("admin alerts: a PUT body over 256 KiB is refused with 413, by its length or as it streams, one naming a key twice with 400, and nothing changes", async () => {
  await using dir = await tempDir({ prefix: "alerts-admin-" });
  const hook = startHookReceiver();
  const e = await startEngine(config(dir.path, hook.url, freePort()));
  try {
    const big = JSON.stringify({ rules: [], pad: "x".repeat(256 * 1024) });
    let got = await call(e, "/admin/alerts", { method: "PUT", body: big });
    assert.deepEqual(got, { status: 413, json: { error: "body over 262144 bytes" } });
    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 65_536) {
          controller.enqueue(bytes.slice(i, i + 65_536));
        }
        controller.close();
      },
    });
    got = await call(e, "/admin/alerts", {
      method: "PUT",
      body: stream,
      duplex: "half",
      headers: { "transfer-encoding": "chunked" },
    } as RequestInit);
    assert.equal(got.status, 413);
    // Rules naming a key twice: refused, not read with the last value.
    got = await call(e, "/admin/alerts", { method: "PUT", body: '{"rules": [], "rules": []}' });
    assert.deepEqual(got, {
      status: 400,
      json: { error: 'not valid: "rules" is named twice at $.rules' },
    });
    got = await call(e, "/admin/alerts");
    assert.equal(got.json.rules.length, 1, "nothing changed");
  } finally {
    await e.close();
    await hook.close();
  }
});
