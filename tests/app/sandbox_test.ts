import assert from "node:assert/strict";
import { compose } from "../../app/compose.ts";
import { formatProblems, parseConfig, processSources } from "../../actors/config/mod.ts";
import { createLogger, type Logger } from "../../actors/runtime/log.ts";
import { EVENTS } from "../../codecs/datamodel/mod.ts";
import { freePort, retryOnPortTaken, waitFor } from "../helpers/net.ts";
import { startReceiver } from "../helpers/receivers.ts";
import { ManualClock } from "../../actors/runtime/clock.ts";
import { startSandbox } from "../../app/sandbox.ts";
import { socketMllpConnector } from "../../transports/mllp/client.ts";
import { FetchSender } from "../../transports/https/mod.ts";
import { tempDir } from "../helpers/temp.ts";

/**
 * The sandbox's config on free ports. Chosen ahead (freePort), not 0: the expanded config points
 * destinations at the EHR and echo receivers and the JSON URLs at the HTTP port when it is parsed.
 */
function sandboxConfig(
  dir: string,
  extra: Record<string, unknown> = {},
  settings: Record<string, unknown> = {},
) {
  const result = parseConfig({
    kv: { path: `${dir}/engine.kv` },
    http: { port: freePort(), hostname: "127.0.0.1", development: true },
    admin: { token: { env: "SANDBOX_TEST_ADMIN_TOKEN" } },
    sandbox: {
      feedPort: freePort(),
      echoReturnPort: freePort(),
      ehrPort: freePort(),
      echoPort: freePort(),
      registrySize: 60,
      ...settings,
    },
    ...extra,
  }, {
    ...processSources(dir),
    env: (n) => n === "SANDBOX_TEST_ADMIN_TOKEN" ? "t0ken-0123456789ab" : undefined,
  });
  if (!result.ok) throw new Error(formatProblems("config", result.problems));
  return result.config;
}

/** {@link compose} of {@link sandboxConfig}, on new ports when another test took one. */
function composeSandbox(dir: string, log: Logger) {
  return retryOnPortTaken(() => compose(sandboxConfig(dir), { log }));
}

Deno.test("every event type goes out from the simulated EHR, through the engine and the echo, and back to the EHR over MLLP and as JSON without a validation error", async () => {
  await using dir = await tempDir({ prefix: "sandbox-" });
  const lines: string[] = [];
  const log = createLogger({ level: "info", write: (l) => lines.push(l) });
  const composed = await composeSandbox(dir.path, log);
  try {
    const sandbox = composed.sandbox!;
    const count = EVENTS.length;
    const report = await sandbox.ehr.send({ to: { mllp: sandbox.feed }, event: "all", count });
    assert.equal(report.accepted, count, JSON.stringify(report.errors));
    // Each message comes back twice: as HL7 v2 over MLLP and as JSON over HTTP.
    await sandbox.ehr.receiver.whenReceived(2 * count, AbortSignal.timeout(60_000));
    const counts = sandbox.ehr.receiver.counts();
    assert.equal(counts.accepted, 2 * count, JSON.stringify(sandbox.ehr.receiver.receipts()));
    assert.equal(counts.rejected ?? 0, 0);
    const via = sandbox.ehr.receiver.receipts().map((r) => r.via);
    assert.equal(via.filter((v) => v === "mllp").length, count);
    assert.equal(via.filter((v) => v === "https").length, count);
    // The default connections show up in the admin endpoint like any other.
    const auth = { authorization: "Bearer t0ken-0123456789ab" };
    const actors = await (await composed.app.request("/admin/actors", { headers: auth })).json();
    const ids = JSON.stringify(actors);
    for (
      const id of [
        `mllp-out:127.0.0.1:${sandbox.servers.echo.port}`,
        `mllp-out:127.0.0.1:${sandbox.servers.ehr.port}`,
        "https:sandbox-ehr-https",
      ]
    ) assert.ok(ids.includes(`"id":"${id}"`), id);
    // The feed's HL7 passes through to the echo: routed as it is stored, with no inbound actor,
    // and its messages are in the logs like any integration's.
    const received = await (await composed.app.request(
      "/admin/logs?type=RECEIVE&integration=sandbox-ehr",
      { headers: auth },
    )).json();
    assert.equal(received.logs.length >= count, true, JSON.stringify(received).slice(0, 300));
    const metrics = await (await composed.app.request("/metrics")).text();
    assert.match(metrics, /engine_queue_depth\{actor="https:sandbox-ehr-https"/);
  } finally {
    await composed.close();
  }
});

Deno.test("POST /admin/sandbox/send sends through the engine; /admin/sandbox/misbehave NACKs show as retries", async () => {
  await using dir = await tempDir({ prefix: "sandbox-" });
  const lines: string[] = [];
  const log = createLogger({ level: "info", write: (l) => lines.push(l) });
  const composed = await composeSandbox(dir.path, log);
  try {
    const auth = { authorization: "Bearer t0ken-0123456789ab", "content-type": "application/json" };
    const denied = await composed.app.request("/admin/sandbox/send", {
      method: "POST",
      body: "{}",
    });
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const bad = await composed.app.request("/admin/sandbox/send", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ event: "DFT^P03", count: 1 }),
    });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error, /event: "DFT\^P03"/);
    const sent = await composed.app.request("/admin/sandbox/send", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ dataModel: "PatientAdmin", event: "Arrival", count: 3 }),
    });
    assert.equal(sent.status, 200);
    const report = await sent.json();
    assert.equal(report.accepted, 3);
    assert.deepEqual(report.byLabel, { "ADT^A01": 3 });
    const ehr = composed.sandbox!.ehr;
    await ehr.receiver.whenReceived(6, AbortSignal.timeout(30_000));
    // Now the simulated EHR NACKs everything: the engine keeps the message and retries.
    const mis = await composed.app.request("/admin/sandbox/misbehave", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ nackShare: 1 }),
    });
    assert.equal(mis.status, 200);
    await mis.body?.cancel();
    const oru = await composed.app.request("/admin/sandbox/send", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ event: "ORU^R01", count: 1 }),
    });
    assert.equal((await oru.json()).accepted, 1, "the engine stores it and ACKs");
    await waitFor(
      "a NACK to be logged and retried",
      () => (ehr.receiver.counts().nacked ?? 0) >= 2,
      30_000,
    );
    assert.ok(lines.some((l) => /sandbox\.ehr\.misbehaved .*simulated/.test(l)));
    const state = await (await composed.app.request("/admin/sandbox", { headers: auth })).json();
    assert.equal(state.misbehaviour.nackShare, 1);
    assert.equal(state.patients, 60);
  } finally {
    await composed.close();
  }
});

Deno.test("the sandbox is refused outside a development environment", () => {
  const sources = processSources();
  const onlyProd = parseConfig({
    environments: [{ id: "prod", type: "production" }],
    sandbox: true,
  }, sources);
  assert.ok(!onlyProd.ok);
  assert.match(
    formatProblems("c", onlyProd.problems),
    /\$\.sandbox: the sandbox needs a development/,
  );
  const staging = parseConfig({ sandbox: { environment: "staging" } }, sources);
  assert.ok(!staging.ok);
  assert.match(
    formatProblems("c", staging.problems),
    /\$\.sandbox: the sandbox exists only in a development environment; "staging" is staging/,
  );
  const dev = parseConfig({ sandbox: true }, sources);
  assert.ok(dev.ok);
  assert.equal(dev.config.sandbox?.environment, "development");
  assert.ok(dev.config.destinations.every((d) => d.environment === "development"));
  const off = parseConfig({ sandbox: false }, sources);
  assert.ok(off.ok && off.config.sandbox === undefined && off.config.destinations.length === 0);
});

Deno.test("POST /admin/sandbox/send with format json: the simulated EHR posts to /endpoint as its own API source, with nothing configured, and the messages come back through the echo", async () => {
  await using dir = await tempDir({ prefix: "sandbox-" });
  const lines: string[] = [];
  const log = createLogger({ level: "info", write: (l) => lines.push(l) });
  const composed = await composeSandbox(dir.path, log);
  try {
    const auth = { authorization: "Bearer t0ken-0123456789ab", "content-type": "application/json" };
    const sent = await composed.app.request("/admin/sandbox/send", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        dataModel: "PatientAdmin",
        event: "Arrival",
        count: 3,
        format: "json",
      }),
    });
    assert.equal(sent.status, 200);
    const report = await sent.json();
    assert.equal(report.accepted, 3, JSON.stringify(report.errors));
    // Received from source sandbox-ehr-api, routed to the echo, and back to the EHR both ways.
    const received = await (await composed.app.request(
      "/admin/logs?type=RECEIVE",
      { headers: auth },
    )).json();
    assert.ok(
      received.logs.filter((l: { sourceId?: string }) => l.sourceId === "sandbox-ehr-api")
        .length === 3,
      JSON.stringify(received.logs).slice(0, 500),
    );
    const ehr = composed.sandbox!.ehr;
    await ehr.receiver.whenReceived(6, AbortSignal.timeout(30_000));
    assert.equal(ehr.receiver.counts().rejected ?? 0, 0);
  } finally {
    await composed.close();
  }
});

Deno.test("sandbox.schedule: the simulated EHR sends count messages every interval on its own (manual clock)", async () => {
  const clock = new ManualClock();
  const frames: string[] = [];
  const feed = startReceiver((f) => {
    frames.push(f.controlId);
    return f.ack("AA");
  });
  const lines: string[] = [];
  const log = createLogger({ level: "info", write: (l) => lines.push(l) });
  // The sandbox alone (no engine): its schedule, on the manual clock, sending to `feed`.
  const sandbox = await retryOnPortTaken(() =>
    startSandbox(
      sandboxConfig("/tmp/unused", {}, {
        feedPort: feed.port,
        schedule: { event: "ADT^A04", count: 2, everySeconds: 60 },
      }),
      { log, mllpConnector: socketMllpConnector, httpSender: new FetchSender(), clock },
    )
  );
  try {
    await waitFor("the schedule to wait", () => clock.pending >= 1);
    assert.equal(frames.length, 0);
    clock.advance(60_000);
    await waitFor("round 1", () => frames.length === 2);
    await waitFor("round 1 logged", () => lines.some((l) => /sandbox\.scheduled-round/.test(l)));
    clock.advance(60_000);
    await waitFor("round 2", () => frames.length === 4);
    assert.equal(new Set(frames).size, 4, "every message its own control id");
  } finally {
    await sandbox.close();
    await feed.close();
  }
});

Deno.test("sandbox.schedule is checked at start", () => {
  const bad = parseConfig({ sandbox: { schedule: { count: 0 } } }, processSources());
  assert.ok(!bad.ok);
  const text = formatProblems("c", bad.problems);
  assert.match(text, /\$\.sandbox\.schedule\.count/);
  assert.match(text, /\$\.sandbox\.schedule\.everySeconds/);
});
