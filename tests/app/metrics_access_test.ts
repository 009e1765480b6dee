/**
 * `GET /metrics` over real HTTP(S) on the composed engine: open by default (the documented
 * contract), behind `Authorization: Bearer <http.metricsToken>` when that is set (a bare 401
 * revealing nothing otherwise), the one startup warning `http.metrics-open` of a production
 * engine without the token, and `X-Content-Type-Options: nosniff` on the app's JSON answers.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../actors/config/mod.ts";
import { configFrom, startEngine } from "../helpers/engine.ts";
import { makePki } from "../helpers/tls.ts";
import { tempDir } from "../helpers/temp.ts";

const ADMIN = "metrics-test-admin-token-0123456789";
const METRICS = "metrics-test-scrape-token-9876543210";
const env = (name: string) => ({ ADMIN_T: ADMIN, METRICS_T: METRICS })[name];

/** A config with one MLLP destination on an internal host (what `/metrics` must not leak). */
function config(kvPath: string, http: Record<string, unknown>) {
  return configFrom({
    kv: { path: kvPath },
    http: { development: true, ...http },
    admin: { token: { env: "ADMIN_T" } },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{
      id: "ehr",
      environment: "dev",
      mllp: { host: "10.9.8.7", port: 2575 },
    }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
  }, env);
}

const get = async (url: string, auth?: string, client?: Deno.HttpClient) => {
  const res = await fetch(url, {
    ...(auth !== undefined ? { headers: { authorization: auth } } : {}),
    ...(client ? { client } : {}),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
};

const warnings = (lines: string[], event: string) =>
  lines.filter((l) => l.includes(` ${event} `) || l.endsWith(` ${event}`));

Deno.test("/metrics with http.metricsToken: 401 revealing nothing without that token, 200 with it", async () => {
  await using dir = await tempDir({ prefix: "metrics-access-" });
  const e = await startEngine(
    config(`${dir.path}/engine.kv`, { metricsToken: { env: "METRICS_T" } }),
    { http: true },
  );
  try {
    const refusals = [
      undefined,
      "Bearer wrong-token-of-some-length",
      `Bearer ${ADMIN}`, // the admin token is not the metrics token
      `Basic ${btoa(`x:${METRICS}`)}`,
      `Bearer ${METRICS} extra`,
      `Bearer ${METRICS.slice(0, -1)}`,
    ];
    for (const auth of refusals) {
      const r = await get(`${e.base}/metrics`, auth);
      assert.equal(r.status, 401, `${auth}`);
      assert.deepEqual(JSON.parse(r.text), { error: "unauthorized" });
      assert.equal(r.headers.get("www-authenticate"), "Bearer");
      assert.equal(r.headers.get("x-content-type-options"), "nosniff");
      assert.doesNotMatch(r.text, /engine_|10\.9\.8\.7|build/);
    }
    const ok = await get(`${e.base}/metrics`, `Bearer ${METRICS}`);
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    // The names and labels are unchanged.
    assert.match(
      ok.text,
      /^engine_build_info\{build="[^"]*",deno="[^"]+",v8="[^"]+",version="[^"]+"\} 1$/m,
    );
    assert.match(
      ok.text,
      /engine_queue_depth\{actor="mllp-out:10\.9\.8\.7:2575",kind="mllp-out"\}/,
    );
    assert.equal((await get(`${e.base}/metrics`, `bearer  ${METRICS} `)).status, 200);
    // Refusals are logged with the reason, never with what was presented.
    const denied = warnings(e.log.lines, "metrics.denied");
    assert.ok(denied.length > 0);
    assert.ok(denied.some((l) => l.includes("mismatch")));
    assert.ok(e.log.lines.every((l) => !l.includes(METRICS) && !l.includes(ADMIN)));
    // With the token set, nothing warns that /metrics is open.
    assert.deepEqual(warnings(e.log.lines, "http.metrics-open"), []);
    // /healthz stays open.
    assert.equal((await get(`${e.base}/healthz`)).status, 200);
  } finally {
    await e.close();
  }
});

Deno.test("a metrics token shorter than 16 characters is a config error at its path", () => {
  const r = parseConfig(
    { http: { development: true, metricsToken: { env: "M" } } },
    { env: () => "short", readFile: () => new Error("-") },
  );
  assert.ok(!r.ok);
  assert.ok(
    r.problems.some((p) => p.path === "$.http.metricsToken" && /too short/.test(p.message)),
    JSON.stringify(r.problems),
  );
  const plain = parseConfig(
    { http: { development: true, metricsToken: "a-token-in-the-config-file" } },
    { env: () => undefined, readFile: () => new Error("-") },
  );
  assert.ok(!plain.ok, "only a reference ({env} or {file}), never the value itself");
});

Deno.test("/metrics without http.metricsToken stays open; JSON answers carry nosniff", async () => {
  await using dir = await tempDir({ prefix: "metrics-open-" });
  const e = await startEngine(config(`${dir.path}/engine.kv`, {}), { http: true });
  try {
    const open = await get(`${e.base}/metrics`);
    assert.equal(open.status, 200);
    assert.match(open.text, /^engine_build_info\{/m);
    assert.equal(open.headers.get("x-content-type-options"), "nosniff");
    // A development listener: no warning.
    assert.deepEqual(warnings(e.log.lines, "http.metrics-open"), []);
    const json = [
      await get(`${e.base}/healthz`),
      await get(`${e.base}/admin/actors`, `Bearer ${ADMIN}`),
      await get(`${e.base}/admin/nodes`, `Bearer ${ADMIN}`),
      await get(`${e.base}/admin/actors`),
      await get(`${e.base}/admin/no-such-route`, `Bearer ${ADMIN}`),
      await get(`${e.base}/endpoint`),
    ];
    for (const r of json) {
      assert.match(r.headers.get("content-type") ?? "", /json/, r.text);
      assert.equal(r.headers.get("x-content-type-options"), "nosniff", r.text);
    }
  } finally {
    await e.close();
  }
});

Deno.test("a production engine (HTTPS) without http.metricsToken warns http.metrics-open once at start", async () => {
  const pki = await makePki();
  await Deno.remove(pki.dir, { recursive: true });
  const files: Record<string, string> = { cert: pki.serverCert, key: pki.serverKey };
  await using dir = await tempDir({ prefix: "metrics-prod-" });
  const parsed = parseConfig({
    kv: { path: `${dir.path}/engine.kv` },
    http: { tls: { cert: { file: "cert" }, key: { file: "key" } } },
    admin: { token: { env: "ADMIN_T" } },
  }, { env, readFile: (p) => files[p] ?? new Error("none") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config, { http: true });
  const client = Deno.createHttpClient({ caCerts: [pki.caCert] });
  try {
    const url = `https://127.0.0.1:${e.servers.http!.port}/metrics`;
    // Still open (the contract), only warned of.
    assert.equal((await get(url, undefined, client)).status, 200);
    assert.equal((await get(url, undefined, client)).status, 200);
    const open = warnings(e.log.lines, "http.metrics-open");
    assert.equal(open.length, 1, e.log.lines.join("\n"));
    assert.match(open[0]!, /WARN/);
    assert.match(open[0]!, /destination hosts and ports/);
    assert.match(open[0]!, /http\.metricsToken/);
  } finally {
    client.close();
    await e.close();
  }
});
