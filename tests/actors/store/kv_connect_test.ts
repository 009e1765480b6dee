/**
 * The store and the engine over KV Connect, for real: Deno's own KV client talks to the test
 * KV Connect server (tests/helpers/kv_connect_server.ts), which keeps a self-hosted denokv's
 * 10-check limit and bearer-token auth.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { Store } from "../../../actors/store/mod.ts";
import { startEngine } from "../../helpers/engine.ts";
import { startKvConnectServer } from "../../helpers/kv_connect_server.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { controlIds, startReceiver } from "../../helpers/receivers.ts";

const TOKEN = "kv-connect-test-token-0123";

const message = (id: string) => ({
  origin: { kind: "integration" as const, id: "feed" },
  payload: new TextEncoder().encode(adt(id)),
  contentType: "x-application/hl7-v2+er7",
  controlId: id,
  dedupe: { scope: "feed", key: id, ack: `ACK ${id}`, windowMs: 3_600_000 },
  log: { type: "RECEIVE" as const, integrationId: "feed" },
});

Deno.test("KV Connect: a wrong access token is refused at the metadata exchange", async () => {
  const server = await startKvConnectServer({ accessToken: TOKEN });
  const store = await Store.open({ path: server.url, accessToken: "not-the-token-000", node: "x" })
    .catch((e) => e as Error);
  try {
    // Deno's client refuses every operation once the metadata exchange got a 4xx.
    if (store instanceof Store) {
      await assert.rejects(() => store.depth("q"), /metadata|access token/i);
    } else assert.match(store.message, /metadata|access token/i);
    assert.ok(server.stats.unauthorized >= 1);
    assert.equal(server.stats.reads + server.stats.writes, 0);
  } finally {
    if (store instanceof Store) store.close();
    await server.close();
  }
});

Deno.test("KV Connect: accept (deduplicated), route and complete through Deno's remote client", async () => {
  const server = await startKvConnectServer({ accessToken: TOKEN });
  const store = await Store.open({ path: server.url, accessToken: TOKEN, node: "n1" });
  try {
    const first = await store.accept({ queue: "in:feed", ...message("M1") });
    assert.equal(first.status, "stored");
    const again = await store.accept({ queue: "in:feed", ...message("M1") });
    assert.equal(again.status, "duplicate", "the dedupe check holds over KV Connect");
    assert.equal(await store.depth("in:feed"), 1);
    const [head] = await store.peek("in:feed");
    assert.ok(head);
    const routed = await store.route(head, [{
      queue: "mllp-out:h:1",
      destinationId: "ehr",
      messageId: head.entry.messageId,
      originalId: head.entry.messageId,
      log: {},
    }], { status: "SUCCEEDED" });
    assert.equal(routed, true);
    assert.equal(await store.route(head, [], { status: "SUCCEEDED" }), false, "taken once");
    const [out] = await store.peek("mllp-out:h:1");
    assert.ok(out);
    assert.equal(await store.complete(out, { at: 1, outcome: "SUCCEEDED", durationMs: 1 }), true);
    assert.equal(await store.depth("mllp-out:h:1"), 0);
    const send = (await store.logsOfMessage(out.entry.messageId)).find((l) => l.type === "SEND");
    assert.equal(send?.status, "SUCCEEDED");
  } finally {
    store.close();
    await server.close();
  }
});

Deno.test("KV Connect: concurrent accepts share atomics of at most 10 checks each", async () => {
  const server = await startKvConnectServer({ accessToken: TOKEN });
  const store = await Store.open({ path: server.url, accessToken: TOKEN, node: "n1" });
  try {
    // 45 deduplicated accepts at once: one check each, so a batch of them would carry 45.
    const ids = Array.from({ length: 45 }, (_, i) => `C${i}`);
    const results = await Promise.all(
      ids.map((id) => store.accept({ queue: "q", ...message(id) })),
    );
    assert.ok(results.every((r) => r.status === "stored"));
    assert.equal(await store.depth("q"), 45);
    assert.equal(server.stats.tooManyChecks, 0, "no atomic over 10 checks reached the server");
    assert.equal(server.stats.maxChecksSeen, 10, "batches were split at 10 checks");
    assert.ok(store.commitStats.batches < 45, "writes still shared commits");
  } finally {
    store.close();
    await server.close();
  }
});

Deno.test("KV Connect: the engine with kv.path http://… and an access token delivers end to end", async () => {
  const server = await startKvConnectServer({ accessToken: TOKEN });
  const receiver = startReceiver((f) => f.ack("AA"));
  const parsed = parseConfig({
    node: { id: "kvc" },
    kv: { path: server.url, accessToken: { env: "KVC_TOKEN" } },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{
      id: "ehr",
      environment: "dev",
      mllp: { host: "127.0.0.1", port: receiver.port },
    }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
  }, { env: (n) => (n === "KVC_TOKEN" ? TOKEN : undefined), readFile: () => new Error("none") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const engine = await startEngine(parsed.config);
  try {
    const sender = await RawMllpSender.connect(engine.mllpPort);
    try {
      for (const id of ["E1", "E2", "E1"]) {
        const ack = summarizeAck(await sender.request(adt(id), 10_000));
        assert.equal(ack.code, "AA", id);
      }
    } finally {
      await sender.close();
    }
    await waitFor("both delivered", () => controlIds(receiver).length >= 2, 15_000);
    assert.deepEqual(controlIds(receiver), ["E1", "E2"], "in order, the repeat deduplicated");
    assert.ok(server.stats.writes > 0 && server.stats.tooManyChecks === 0);
  } finally {
    await engine.close();
    await receiver.close();
    await server.close();
  }
});
