/**
 * Every destination a subscription selects gets a SEND log: one that wants JSON of a message no
 * data model maps gets a FAILED one with the reason and a dead letter (reprocessable), while the
 * other subscribers get the message. Real MLLP listener and receiver, real HTTP server, KV file.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import type { Engine } from "../../../actors/engine/engine.ts";
import { listLogs, type LogRecord } from "../../../actors/store/mod.ts";
import { startEngine } from "../../helpers/engine.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { type RawReceiver, startReceiver } from "../../helpers/receivers.ts";
import { tempDir } from "../../helpers/temp.ts";

const DFT = [
  "MSH|^~\\&|BILLING|HOSP|ENGINE|CLINIC|20240315123000||DFT^P03^DFT_P03|DFT1|P|2.5.1",
  "EVN|P03|20240315123000",
  "PID|1||P100^^^HOSP^MR||DOE^JANE||19800101|F",
  "FT1|1|||20240315|20240315|CG|99213^Office visit^CPT|||1",
].join("\r") + "\r";

/** The peers the engine delivers to: they outlive an engine restart. */
interface Peers {
  /** Bodies the HTTPS (JSON) destination received. */
  posted: string[];
  mllp: RawReceiver;
  app: Deno.HttpServer<Deno.NetAddr>;
}

function startPeers(): Peers {
  const posted: string[] = [];
  const app = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    posted.push(await req.text());
    return new Response("ok");
  });
  return { posted, app, mllp: startReceiver((f) => f.ack("AA")) };
}

/** An engine on `dir`'s KV with an MLLP and an HTTPS subscriber, composed as main.ts does. */
async function startBilling(dir: string, peers: Peers, port = 0, appFormat?: "hl7v2") {
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir}/engine.kv` },
    admin: { token: { env: "ADMIN_T" } },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "billing",
      environment: "dev",
      mllp: { port, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [
      { id: "ledger", environment: "dev", mllp: { host: "127.0.0.1", port: peers.mllp.port } },
      {
        id: "app",
        environment: "dev",
        https: {
          url: `http://127.0.0.1:${peers.app.addr.port}/hook`,
          verificationToken: { env: "APP_TOKEN" },
        },
      },
    ],
    subscriptions: [
      { from: { integration: "billing" }, to: ["ledger"] },
      {
        from: { integration: "billing" },
        to: ["app"],
        ...(appFormat ? { format: appFormat } : {}),
      },
    ],
  }, {
    env: (n) =>
      ({ APP_TOKEN: "tok", ADMIN_T: "admin-token-0123456789" } as Record<string, string>)[n],
    readFile: () => new Error("-"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const running = await startEngine(parsed.config);
  const reprocess = (logId: string) =>
    running.app.request(`/admin/logs/${logId}/reprocess`, {
      method: "POST",
      headers: { authorization: "Bearer admin-token-0123456789" },
      body: JSON.stringify({ by: "ops", reason: "try again" }),
    });
  return { ...running, reprocess, stop: () => running.close() };
}

/** The one SEND log of destination `app` once it is FAILED. */
async function failedSendLog(engine: Engine): Promise<LogRecord> {
  let failed: LogRecord | undefined;
  await waitFor("the JSON destination's SEND log failed", async () => {
    const { logs } = await listLogs(engine.store.kv, { type: "SEND", destinationId: "app" });
    failed = logs.find((l) => l.status === "FAILED");
    return failed !== undefined;
  });
  return failed!;
}

Deno.test("a JSON destination of an unmapped DFT^P03 gets a FAILED SEND log and a dead letter; the MLLP one gets the message", async () => {
  await using dir = await tempDir({ prefix: "unmapped-destination-" });
  const peers = startPeers();
  const { mllp, posted } = peers;
  const { engine, log, reprocess, stop, mllpPort } = await startBilling(dir.path, peers);
  const sender = await RawMllpSender.connect(mllpPort);
  try {
    const ack = summarizeAck(await sender.request(DFT));
    assert.equal(ack.code, "AA");

    // The MLLP destination gets the message as received.
    await waitFor("the MLLP destination got it", () => mllp.frames.length === 1);
    assert.equal(mllp.frames[0]!.controlId, "DFT1");

    // The JSON destination: a FAILED SEND log naming the reason, and a dead letter.
    const reason = /^destination app wants JSON: no data model maps DFT\^P03 \(supported: /;
    const failed = await failedSendLog(engine);
    assert.match(failed.reason ?? "", reason);
    assert.match(failed.deadLetter?.reason ?? "", reason);
    const queue = failed.deadLetter!.queue!;
    const dead = await engine.store.deadLetters(queue);
    assert.deepEqual(dead.map((d) => d.logId), [failed.id]);
    assert.equal(dead[0]!.destinationId, "app");
    assert.ok(
      log.lines.some((l) => l.includes("inbound.destination-failed") && l.includes("DFT^P03")),
      "one log line for the operator",
    );

    // Both SEND logs exist; the RECEIVE log is routed and says what failed. The MLLP one is
    // completed in the background once its ACK came back: wait for that commit.
    let sends = (await listLogs(engine.store.kv, { type: "SEND" })).logs;
    await waitFor("the MLLP delivery completed", async () => {
      sends = (await listLogs(engine.store.kv, { type: "SEND" })).logs;
      return sends.some((l) => l.destinationId === "ledger" && l.status !== "PENDING");
    });
    assert.deepEqual(
      sends.map((l) => [l.destinationId, l.status]).sort(),
      [
        ["app", "FAILED"],
        ["ledger", "SUCCEEDED"],
      ].sort(),
    );
    const [receive] = (await listLogs(engine.store.kv, { type: "RECEIVE" })).logs;
    assert.equal(receive!.status, "SUCCEEDED");
    assert.match(receive!.reason ?? "", reason);

    // Reprocess through the admin path: the form still cannot be made, so it fails again with
    // the same reason, dead-lettered once more; nothing reaches the JSON destination.
    const failedId = failed.id;
    const res = await reprocess(failedId);
    assert.equal(res.status, 200, await res.clone().text());
    let again: LogRecord | null = null;
    await waitFor("failed again after reprocess", async () => {
      again = await engine.store.getLog(failedId);
      return again?.status === "FAILED" && again.reprocessed?.count === 1;
    });
    assert.match(again!.reason ?? "", reason);
    assert.equal((await engine.store.deadLetters(queue)).length, 1);
    assert.equal(posted.length, 0);
    assert.equal(mllp.frames.length, 1, "the MLLP destination got it once");
  } finally {
    await sender.close();
    await stop();
    await mllp.close();
    await peers.app.shutdown();
  }
});

Deno.test("an ADT^A01 without PID fails its JSON destination naming the segment; reprocessed after the subscription asks for HL7, it is delivered under a new SEND log", async () => {
  await using dir = await tempDir({ prefix: "unmapped-destination-" });
  const peers = startPeers();
  // Segments joined by spaces: one long MSH, no PID.
  const joined = adt("NOPID").replaceAll("\r", " ");
  let running = await startBilling(dir.path, peers);
  try {
    const sender = await RawMllpSender.connect(running.mllpPort);
    try {
      assert.equal(summarizeAck(await sender.request(joined)).code, "AA");
    } finally {
      await sender.close();
    }
    const failed = await failedSendLog(running.engine);
    assert.equal(
      failed.reason,
      "destination app wants JSON: ADT^A01 requires a PID segment; none found",
    );
    await waitFor("the MLLP destination got it", () => peers.mllp.frames.length === 1);

    // The operator changes the subscription to HL7 and reprocesses the dead letter.
    // The same port again: an MLLP integration's queue is named after its port (mllp-in:<port>).
    const port = running.mllpPort;
    await running.stop();
    running = await startBilling(dir.path, peers, port, "hl7v2");
    const res = await running.reprocess(failed.id);
    assert.equal(res.status, 200, await res.clone().text());
    await waitFor("the HTTPS destination got the HL7", () => peers.posted.length === 1);
    assert.equal(peers.posted[0], joined);
    const { engine } = running;
    let logs: LogRecord[] = [];
    await waitFor("a new SEND log succeeded", async () => {
      logs = (await listLogs(engine.store.kv, { type: "SEND", destinationId: "app" })).logs;
      return logs.some((l) => l.id !== failed.id && l.status === "SUCCEEDED");
    });
    const old = logs.find((l) => l.id === failed.id)!;
    assert.equal(old.status, "SUCCEEDED");
    assert.match(old.reason ?? "", /a new SEND log carries the delivery to app/);
    assert.equal(old.deadLetter, undefined);
    assert.equal(peers.mllp.frames.length, 1, "the MLLP destination got it once");
  } finally {
    await running.stop();
    await peers.mllp.close();
    await peers.app.shutdown();
  }
});
