import assert from "node:assert/strict";
import { EVENTS, hl7ToQueryResponse, queryToHl7 } from "../../../codecs/datamodel/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { Simulator } from "../../../codecs/synthetic/mod.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { createLogger } from "../../../actors/runtime/log.ts";
import { EngineEcho, SimulatedHealthSystem } from "../../../actors/sandbox/mod.ts";
import { socketMllpConnector } from "../../../transports/mllp/client.ts";
import { type MllpServer, serveMllp } from "../../../transports/mllp/server.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { createSandboxApp } from "../../../transports/http/sandbox.ts";
import { waitFor } from "../../helpers/net.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: "debug", write: (l: string) => lines.push(l) }) };
}

/** A health system with its MLLP receiver on a real port. */
async function start(options: { clock?: ManualClock } = {}) {
  const { lines, log } = capture();
  const http = new FetchSender();
  const ehr = new SimulatedHealthSystem({
    seed: "test",
    registrySize: 80,
    connector: socketMllpConnector,
    http,
    log,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const server: MllpServer = await serveMllp({
    port: 0,
    hostname: "127.0.0.1",
    inbox: ehr.receiver,
    log,
  });
  return {
    ehr,
    lines,
    log,
    http,
    server,
    target: { host: "127.0.0.1", port: server.port },
    async close() {
      ehr.stop();
      await server.close();
      http.close();
    },
  };
}

/** One exchange on a connection of its own. */
async function exchange(port: number, text: string) {
  const conn = await socketMllpConnector.connect({ host: "127.0.0.1", port }, {
    timeoutMs: 5000,
    signal: AbortSignal.timeout(10_000),
  });
  try {
    await conn.send(encoder.encode(text));
    return await conn.receive(AbortSignal.timeout(10_000));
  } finally {
    conn.close();
  }
}

async function ackOf(port: number, text: string) {
  const got = await exchange(port, text);
  assert.equal(got.type, "frame");
  return parseHl7(decoder.decode((got as { payload: Uint8Array }).payload));
}

Deno.test("the simulated EHR accepts every supported event over MLLP and rejects what the data model refuses", async () => {
  const s = await start();
  try {
    const sim = new Simulator({ seed: "into-ehr" });
    for (const spec of EVENTS) {
      const m = sim.event(spec);
      const ack = await ackOf(s.server.port, m.hl7);
      assert.equal(ack.get("MSA-1"), "AA", `${m.label} ${spec.eventType}: ${ack.get("ERR-8")}`);
      assert.equal(ack.get("MSA-2"), m.controlId);
    }
    assert.equal(s.ehr.receiver.counts().accepted, EVENTS.length);
    // No PID: the data model cannot read it; the ERR says why and where.
    const bad = await ackOf(
      s.server.port,
      "MSH|^~\\&|X|Y|SIMEHR||20250101||ADT^A01^ADT_A01|BAD1|P|2.5.1\rEVN|A01\rPV1|1|I",
    );
    assert.equal(bad.get("MSA-1"), "AE");
    assert.match(bad.get("ERR-8") ?? "", /requires a PID segment/);
    const unmapped = await ackOf(
      s.server.port,
      "MSH|^~\\&|X|Y|SIMEHR||20250101||DFT^P03^DFT_P03|BAD2|P|2.5.1\rPID|1||1",
    );
    assert.equal(unmapped.get("MSA-1"), "AE");
    assert.match(unmapped.get("ERR-8") ?? "", /no data model maps DFT\^P03/);
    const junk = await ackOf(s.server.port, "hello");
    assert.equal(junk.get("MSA-1"), "AR");
    assert.ok(s.lines.some((l) => /sandbox\.ehr\.rejected .*BAD1.*requires a PID/.test(l)));
  } finally {
    await s.close();
  }
});

Deno.test("the simulated EHR answers QBP^Q22 and QRY^A19 with one, several or no patients", async () => {
  const s = await start();
  try {
    const twin = s.ehr.registry.patients[12]!;
    const one = s.ehr.registry.patients[3]!;
    for (const style of ["QBP^Q22", "QRY^A19"] as const) {
      const ask = async (patient: Record<string, unknown>) => {
        const q = { Meta: { DataModel: "PatientSearch", EventType: "Query" }, Patient: patient };
        const got = await exchange(s.server.port, queryToHl7(q, { style, controlId: "Q1" }));
        assert.equal(got.type, "frame");
        return hl7ToQueryResponse(decoder.decode((got as { payload: Uint8Array }).payload));
      };
      const single = await ask({ Identifiers: [{ ID: one.mrn }] });
      assert.equal(
        (single.Patient as { Demographics: { LastName: string } }).Demographics.LastName,
        one.lastName,
      );
      const many = await ask({ Demographics: { LastName: twin.lastName } });
      assert.ok(many.PotentialMatches.length >= 2, style);
      const none = await ask({ Demographics: { LastName: "Nobody" } });
      assert.equal(none.Patient, null);
      assert.deepEqual(none.PotentialMatches, []);
    }
  } finally {
    await s.close();
  }
});

Deno.test("the health system sends every event type over MLLP and as JSON over HTTP; the receiver validates both", async () => {
  const s = await start();
  const app = createSandboxApp({ ehr: s.ehr.receiver });
  const httpServer = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
  try {
    const url = `http://127.0.0.1:${httpServer.addr.port}/sandbox/ehr/endpoint`;
    const viaMllp = await s.ehr.send({
      to: { mllp: s.target },
      event: "all",
      count: EVENTS.length,
    });
    assert.equal(viaMllp.accepted, EVENTS.length, JSON.stringify(viaMllp.errors));
    const viaJson = await s.ehr.send({
      to: { https: { url } },
      event: "all",
      count: EVENTS.length,
    });
    assert.equal(viaJson.accepted, EVENTS.length, JSON.stringify(viaJson.errors));
    const stream = await s.ehr.send({ to: { mllp: s.target }, count: 60 });
    assert.equal(stream.accepted, 60, JSON.stringify(stream.errors));
    assert.ok(Object.keys(stream.byLabel).length > 4);
    // Invalid JSON and a message the data model refuses: 400 and 422 naming the path.
    const bad = await fetch(url, { method: "POST", body: "{" });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    const invalid = await fetch(url, {
      method: "POST",
      body: JSON.stringify({
        Meta: { DataModel: "PatientAdmin", EventType: "Arrival" },
        Patient: { Identifiers: [], Demographics: { DOB: "yesterday" } },
      }),
    });
    assert.equal(invalid.status, 422);
    const body = await invalid.json();
    assert.ok(body.issues.some((i: { path: string }) => i.path === "Patient.Demographics.DOB"));
    const query = await fetch(url.replace("endpoint", "query"), {
      method: "POST",
      body: JSON.stringify({
        Meta: { DataModel: "PatientSearch", EventType: "Query" },
        Patient: { Demographics: { LastName: s.ehr.registry.patients[12]!.lastName } },
      }),
    });
    assert.equal(query.status, 200);
    assert.ok((await query.json()).PotentialMatches.length >= 2);
  } finally {
    await httpServer.shutdown();
    await s.close();
  }
});

Deno.test("misbehaviour: NACKs, dropped connections and duplicates as requested, each logged", async () => {
  const s = await start();
  try {
    s.ehr.misbehave({ nackShare: 1 });
    const nacked = await s.ehr.send({ to: { mllp: s.target }, event: "ADT^A01", count: 3 });
    assert.equal(nacked.refused, 3);
    assert.match(nacked.errors[0] ?? "", /AE.*simulated NACK/);
    s.ehr.misbehave({ nackShare: 0, dropShare: 1 });
    const dropped = await s.ehr.send({ to: { mllp: s.target }, event: "ADT^A01", count: 2 });
    assert.equal(dropped.failed, 2);
    assert.match(dropped.errors[0] ?? "", /connection closed/);
    s.ehr.misbehave({ dropShare: 0, duplicateShare: 1 });
    const before = s.ehr.receiver.total;
    const twice = await s.ehr.send({ to: { mllp: s.target }, event: "ORU^R01", count: 4 });
    assert.equal(twice.duplicates, 4);
    assert.equal(twice.sent, 8);
    assert.equal(twice.accepted, 8);
    assert.equal(s.ehr.receiver.total - before, 8);
    assert.ok(s.lines.some((l) => /sandbox\.ehr\.misbehaved .*simulated NACK/.test(l)));
    assert.ok(s.lines.some((l) => /sandbox\.ehr\.misbehaved .*dropped connection/.test(l)));
    assert.ok(s.lines.some((l) => /sandbox\.send-failed /.test(l)));
    assert.throws(
      () => s.ehr.misbehave({ nackShare: 2 }),
      /nackShare: must be a number between 0 and 1/,
    );
    await assert.rejects(s.ehr.send({ to: { mllp: s.target }, count: 0 }), /count: must be/);
    await assert.rejects(
      s.ehr.send({ to: { mllp: s.target }, event: "DFT^P03", count: 1 }),
      /event: "DFT\^P03" names no supported event/,
    );
  } finally {
    await s.close();
  }
});

Deno.test("misbehaviour: a slow ACK waits on the clock", async () => {
  const clock = new ManualClock();
  const s = await start({ clock });
  try {
    s.ehr.misbehave({ slowShare: 1, slowAckMs: 60_000 });
    const m = new Simulator({ seed: "slow" }).event(EVENTS[0]!);
    const answered = exchange(s.server.port, m.hl7);
    await waitFor("the receiver to sleep", () => clock.pending > 0);
    clock.advance(59_999);
    assert.equal(clock.pending, 1, "not answered before its time");
    clock.advance(1);
    const got = await answered;
    assert.equal(got.type, "frame");
  } finally {
    await s.close();
  }
});

Deno.test("the rate paces sends on the clock", async () => {
  const clock = new ManualClock();
  const s = await start({ clock });
  try {
    const run = s.ehr.send({
      to: { mllp: s.target },
      event: "SIU^S12",
      count: 3,
      ratePerSecond: 2,
    });
    await s.ehr.receiver.whenReceived(1);
    await waitFor("the sender to wait for its slot", () => clock.pending > 0);
    assert.equal(s.ehr.receiver.total, 1);
    clock.advance(500);
    await s.ehr.receiver.whenReceived(2);
    await waitFor("the next slot", () => clock.pending > 0);
    clock.advance(500);
    const report = await run;
    assert.equal(report.accepted, 3);
  } finally {
    await s.close();
  }
});

Deno.test("the engine echo answers AA to anything and sends it back, in order", async () => {
  const s = await start();
  const { log, lines } = capture();
  const echo = new EngineEcho({ connector: socketMllpConnector, log, returnMllp: s.target });
  const echoServer = await serveMllp({ port: 0, hostname: "127.0.0.1", inbox: echo, log });
  try {
    const sim = new Simulator({ seed: "echo" });
    const sent = sim.take(10);
    for (const m of sent) {
      const ack = await ackOf(echoServer.port, m.hl7);
      assert.equal(ack.get("MSA-1"), "AA");
    }
    assert.equal((await ackOf(echoServer.port, "not hl7 at all")).get("MSA-1"), "AA");
    await s.ehr.receiver.whenReceived(11, AbortSignal.timeout(10_000));
    const back = s.ehr.receiver.receipts().map((r) => r.controlId);
    assert.deepEqual(back.slice(0, 10), sent.map((m) => m.controlId));
    // The junk came back too and the simulated EHR refused it.
    await waitFor(
      "the echo's failure to be logged",
      () => lines.some((l) => /sandbox\.echo\.return-failed .*AR/.test(l)),
    );
  } finally {
    echo.stop();
    await echoServer.close();
    await s.close();
  }
});
