/**
 * Every time in every admin answer is ISO 8601 UTC: the real engine (with its sandbox, so there
 * are receipts, logs, messages, actors and an HTTPS destination) is asked every admin route, and
 * each JSON answer is walked for a number under a time-like property.
 * @module
 */

import assert from "node:assert/strict";
import { compose } from "../../app/compose.ts";
import { formatProblems, parseConfig, processSources } from "../../actors/config/mod.ts";
import { createLogger } from "../../actors/runtime/log.ts";
import { TIME_KEYS } from "../../transports/http/present.ts";
import { freePort, retryOnPortTaken } from "../helpers/net.ts";
import { tempDir } from "../helpers/temp.ts";

const TOKEN = "t0ken-0123456789ab";
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

/**
 * The sandbox on free ports (its config points destinations at them when it is parsed), also
 * written to `engine.json` so that the engine has a config file (`GET /admin/config`).
 */
async function sandboxConfig(dir: string) {
  const raw = {
    kv: { path: `${dir}/engine.kv` },
    http: { port: freePort(), hostname: "127.0.0.1", development: true },
    admin: { token: { env: "ISO_TEST_ADMIN_TOKEN" } },
    sandbox: {
      feedPort: freePort(),
      echoReturnPort: freePort(),
      ehrPort: freePort(),
      echoPort: freePort(),
      registrySize: 20,
    },
  };
  await Deno.writeTextFile(`${dir}/engine.json`, JSON.stringify(raw));
  const result = parseConfig(raw, {
    ...processSources(dir),
    env: (n) => n === "ISO_TEST_ADMIN_TOKEN" ? TOKEN : undefined,
  });
  if (!result.ok) throw new Error(formatProblems("config", result.problems));
  return result.config;
}

/** A property that names a time: one `isoTimes` converts, or one named like a time. */
const timeLike = (key: string): boolean =>
  TIME_KEYS.has(key) || /At$/.test(key) || key === "until" || key === "lastSeen";

/** `path: value` of every number under a time-like property of `value`. */
function epochTimes(value: unknown, path = "$"): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => epochTimes(v, `${path}[${i}]`));
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) =>
    typeof v === "number" && timeLike(k) ? [`${path}.${k}: ${v}`] : epochTimes(v, `${path}.${k}`)
  );
}

Deno.test("every time in every admin answer (sandbox, actors, logs, messages, destinations, alerts, config, storage, nodes, translation sets) is ISO 8601, never an epoch number", async () => {
  await using dir = await tempDir({ prefix: "admin-iso-" });
  const log = createLogger({ level: "error", write: () => {} });
  const composed = await retryOnPortTaken(async () =>
    compose(await sandboxConfig(dir.path), { log, configFile: `${dir.path}/engine.json` })
  );
  try {
    const app = composed.app;
    const answers: Record<string, unknown> = {};
    const ask = async (path: string, init: RequestInit = {}) => {
      const r = await app.request(path, { headers: auth, ...init });
      const text = await r.text();
      assert.ok(r.status < 300, `${init.method ?? "GET"} ${path}: ${r.status} ${text}`);
      const json = JSON.parse(text);
      answers[`${init.method ?? "GET"} ${path}`] = json;
      return json;
    };
    const post = (path: string, body: unknown) =>
      ask(path, { method: "POST", body: JSON.stringify(body) });

    await post("/admin/sandbox/send", { event: "ADT^A01", count: 2 });
    // Both come back to the EHR (over MLLP and as JSON): receipts with their time.
    await composed.sandbox!.ehr.receiver.whenReceived(4, AbortSignal.timeout(30_000));
    await post("/admin/sandbox/misbehave", {});
    const sandbox = await ask("/admin/sandbox");
    assert.ok(sandbox.receipts.length >= 4, JSON.stringify(sandbox));

    const actors = await ask("/admin/actors");
    const list: { id: string }[] = Array.isArray(actors) ? actors : actors.actors;
    for (const a of list) {
      await ask(`/admin/actors/${encodeURIComponent(a.id)}`);
      await ask(`/admin/actors/${encodeURIComponent(a.id)}/dead-letters`);
    }
    const logs = await ask("/admin/logs");
    const entries: { id: string; messageId?: string }[] = Array.isArray(logs) ? logs : logs.logs;
    assert.ok(entries.length > 0, JSON.stringify(logs));
    await ask(`/admin/logs/${encodeURIComponent(entries[0]!.id)}`);
    const messageId = entries.find((l) => l.messageId)?.messageId;
    assert.ok(messageId, JSON.stringify(entries[0]));
    await ask(`/admin/messages/${encodeURIComponent(messageId)}`);
    const destinations = await ask("/admin/destinations");
    const https = (destinations.destinations as { id: string; type: string }[])
      .filter((d) => d.type === "https");
    assert.ok(https.length > 0, JSON.stringify(destinations));
    for (const d of https) {
      await post(`/admin/destinations/${encodeURIComponent(d.id)}/verify`, {});
    }
    for (
      const path of [
        "/admin/alerts",
        "/admin/alerts/history",
        "/admin/config",
        "/admin/storage",
        "/admin/nodes",
        "/admin/translation-sets",
      ]
    ) await ask(path);

    const epoch = Object.entries(answers).flatMap(([route, json]) =>
      epochTimes(json).map((t) => `${route} ${t}`)
    );
    assert.deepEqual(epoch, [], "times given as epoch numbers");
    // And the receipts' times are ISO 8601 UTC to the millisecond.
    for (const r of sandbox.receipts) {
      assert.match(r.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  } finally {
    await composed.close();
  }
});
