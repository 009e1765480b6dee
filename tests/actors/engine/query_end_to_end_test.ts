/**
 * `POST /query` end to end, with a real token, the engine and real peers: `@medplum/hl7`'s
 * `Hl7Server` answering `QBP^Q22` with `RSP^K22` and `QRY^A19` with `ADR^A19`, an HTTPS receiver
 * on `Deno.serve`, a peer that never answers (504) and a closed port (502).
 */

import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Server } from "@medplum/hl7";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { freePort, startHl7Server } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

const QUERY = {
  Meta: { DataModel: "PatientSearch", EventType: "Query", Destinations: [{ ID: "pdq" }] },
  Patient: {
    Identifiers: [{ ID: "0000123", IDType: "HOSP" }],
    Demographics: { LastName: "BIXBY", FirstName: "TIMOTHY", DOB: "2008-01-06", Sex: "Male" },
  },
};

function to(id: string, body: Record<string, unknown> = QUERY): Record<string, unknown> {
  return { ...body, Meta: { ...(body.Meta as object), Destinations: [{ ID: id }] } };
}

/** An RSP^K22 / ADR^A19 answer to `query`, as a PDQ supplier would send it. */
function answer(query: Hl7Message): Hl7Message {
  const id = query.getSegment("MSH")?.getField(10)?.toString() ?? "";
  const pids = [
    "PID|1||0000123^^^HOSP^MR||BIXBY^TIMOTHY^Q||20080106|M|||4762 HICKORY ST^^MONROE^WI^53566",
    "PID|2||0000456^^^HOSP^MR||BIXBY^TOM||20090101|M",
  ];
  if (query.getSegment("QRD")) {
    return Hl7Message.parse([
      `MSH|^~\\&|ADT|HOSP|ENGINE|X|20250101120000||ADR^A19^ADR_A19|A${id}|P|2.5.1`,
      `MSA|AA|${id}`,
      query.getSegment("QRD")!.toString(),
      "EVN|A19|20250101120000",
      pids[0]!,
      "PV1|1|O",
    ].join("\r"));
  }
  const qpd = query.getSegment("QPD")!;
  return Hl7Message.parse([
    `MSH|^~\\&|PDQ|HOSP|ENGINE|X|20250101120000||RSP^K22^RSP_K21|R${id}|P|2.5.1`,
    `MSA|AA|${id}`,
    `QAK|${qpd.getField(2)?.toString()}|OK|Q22^Find Candidates^HL70471|2`,
    qpd.toString(),
    pids[0]!,
    "PD1||||1234^WELBY^MARCUS",
    "QRI|95",
    pids[1]!,
  ].join("\r"));
}

interface Peers {
  received: string[];
  httpHeaders: Headers[];
  stop(): Promise<void>;
}

async function startPeers(): Promise<{ peers: Peers; ports: Record<string, number> }> {
  const received: string[] = [];
  const httpHeaders: Headers[] = [];
  const pdq = new Hl7Server((connection) => {
    connection.addEventListener("message", ({ message }) => {
      received.push(message.toString());
      connection.send(answer(message));
    });
  });
  const pdqPort = await startHl7Server(pdq);
  const refuser = new Hl7Server((connection) => {
    connection.addEventListener("message", ({ message }) => {
      received.push(message.toString());
      connection.send(message.buildAck({ ackCode: "AR", errSegment: undefined }));
    });
  });
  const refusePort = await startHl7Server(refuser);
  // A receiver that does not answer queries: a plain ACK, no QAK, no PID.
  const acker = new Hl7Server((connection) => {
    connection.addEventListener("message", ({ message }) => {
      received.push(message.toString());
      connection.send(message.buildAck({ ackCode: "AA", errSegment: undefined }));
    });
  });
  const ackPort = await startHl7Server(acker);
  // A PDQ supplier that finds nobody: QAK-2 NF.
  const finder = new Hl7Server((connection) => {
    connection.addEventListener("message", ({ message }) => {
      received.push(message.toString());
      const id = message.getSegment("MSH")?.getField(10)?.toString() ?? "";
      const qpd = message.getSegment("QPD")!;
      connection.send(Hl7Message.parse([
        `MSH|^~\\&|PDQ|HOSP|ENGINE|X|20250101120000||RSP^K22^RSP_K21|R${id}|P|2.5.1`,
        `MSA|AA|${id}`,
        `QAK|${qpd.getField(2)?.toString()}|NF|Q22^Find Candidates^HL70471|0`,
        qpd.toString(),
      ].join("\r")));
    });
  });
  const nfPort = await startHl7Server(finder);
  // Accepts connections and reads, but never answers.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const silentPort = silent.addr.port;
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const c of silent) {
      held.push(c);
      c.readable.pipeTo(new WritableStream()).catch(() => {});
    }
  })().catch(() => {});
  // "/slow" answers only when the peers stop: long after the query timeout, however late that is.
  const { promise: stopping, resolve: releaseSlow } = Promise.withResolvers<void>();
  const http = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (r) => {
    httpHeaders.push(r.headers);
    const body = await r.json();
    const path = new URL(r.url).pathname;
    if (path === "/broken") return new Response("database unavailable", { status: 503 });
    if (path === "/slow") await stopping;
    return Response.json({
      Meta: { DataModel: body.Meta.DataModel, EventType: "QueryResponse" },
      Echo: body.Patient,
    });
  });
  // Nothing listens there: a port free a moment ago is the best a test can name (none of ours).
  const closedPort = freePort();
  return {
    ports: {
      pdq: pdqPort,
      refuse: refusePort,
      ack: ackPort,
      nf: nfPort,
      silent: silentPort,
      closed: closedPort,
      http: http.addr.port,
    },
    peers: {
      received,
      httpHeaders,
      async stop() {
        releaseSlow();
        await pdq.stop({ forceDrainTimeoutMs: 100 });
        await refuser.stop({ forceDrainTimeoutMs: 100 });
        await acker.stop({ forceDrainTimeoutMs: 100 });
        await finder.stop({ forceDrainTimeoutMs: 100 });
        silent.close();
        for (const c of held) {
          try {
            c.close();
          } catch { /* already closed */ }
        }
        await http.shutdown();
      },
    },
  };
}

function configFor(dir: string, ports: Record<string, number>): Config {
  const mllp = (port: number, extra: Record<string, unknown> = {}) => ({
    host: "127.0.0.1",
    port,
    ...extra,
  });
  const https = (path: string) => ({
    url: `http://127.0.0.1:${ports.http}${path}`,
    verificationToken: { env: "HOOK_TOKEN" },
  });
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir}/engine.kv` },
    // 5 s: every query that is answered must be within it, the first one starting the socket
    // thread too (at 1 s, the first MLLP query timed out with two CPU hogs beside the test).
    limits: { queryTimeoutSeconds: 5 },
    environments: [{ id: "dev", type: "development" }, { id: "stage", type: "staging" }],
    sources: [
      { id: "app", environment: "dev", clientId: "app", auth: { secret: { env: "APP_SECRET" } } },
    ],
    destinations: [
      { id: "pdq", environment: "dev", mllp: mllp(ports.pdq!) },
      {
        id: "adt",
        environment: "dev",
        mllp: mllp(ports.pdq!, { query: { message: "QRY^A19", sendingApplication: "ENGINE" } }),
      },
      { id: "refuse", environment: "dev", mllp: mllp(ports.refuse!) },
      { id: "acker", environment: "dev", mllp: mllp(ports.ack!) },
      { id: "nf", environment: "dev", mllp: mllp(ports.nf!) },
      { id: "silent", environment: "dev", mllp: mllp(ports.silent!) },
      { id: "closed", environment: "dev", mllp: mllp(ports.closed!) },
      { id: "api", environment: "dev", https: https("/api") },
      { id: "broken", environment: "dev", https: https("/broken") },
      { id: "slow", environment: "dev", https: https("/slow") },
      { id: "unsubscribed", environment: "dev", mllp: mllp(ports.pdq!) },
      { id: "elsewhere", environment: "stage", mllp: mllp(ports.pdq!) },
    ],
    subscriptions: [{
      from: { source: "app" },
      to: ["pdq", "adt", "refuse", "acker", "nf", "silent", "closed", "api", "broken", "slow"],
    }],
  }, {
    env: (n) => ({ APP_SECRET: "app-s3cret", HOOK_TOKEN: "hook-token" })[n],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

Deno.test("POST /query asks MLLP and HTTPS destinations synchronously and answers or explains", async (t) => {
  await using dir = await tempDir({ prefix: "query-end-to-end-" });
  const { peers, ports } = await startPeers();
  const config = configFor(dir.path, ports);
  const httpSender = new FetchSender();
  const e = await startEngine(config, { httpSender, http: true });
  const { engine } = e;
  const api = apiOf(e);
  const base = api.base;
  try {
    const token = await api.token("app", "app-s3cret");
    const query = async (body: unknown, bearer = token, path = "/query") => {
      const res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      // deno-lint-ignore no-explicit-any -- the assertions read deep into the answers
      let json: Record<string, any> = {};
      try {
        json = JSON.parse(text);
      } catch { /* not JSON: the test says so below */ }
      return { status: res.status, json, text, type: res.headers.get("content-type") };
    };

    await t.step("QBP^Q22 goes out, the RSP^K22 comes back as PatientSearch.Response", async () => {
      const res = await query(QUERY);
      assert.equal(res.status, 200, res.text);
      const sent = peers.received.at(-1)!;
      assert.match(sent, /\|QBP\^Q22\^QBP_Q21\|/);
      assert.match(sent, /QPD\|Q22\^Find Candidates\^HL70471\|[^|]+\|@PID\.3\.1\^0000123~/);
      assert.match(
        sent,
        /@PID\.5\.1\.1\^BIXBY~@PID\.5\.2\^TIMOTHY~@PID\.7\.1\^20080106~@PID\.8\^M/,
      );
      assert.equal(res.json.Meta.DataModel, "PatientSearch");
      assert.equal(res.json.Meta.EventType, "Response");
      assert.deepEqual(res.json.Meta.Errors, []);
      assert.deepEqual(res.json.Meta.Destinations, [{ ID: "pdq" }]);
      // Several matches: Redox's PotentialMatches, and no single Patient.
      assert.equal(res.json.Patient, null);
      assert.equal(res.json.PotentialMatches.length, 2);
      const [first, second] = res.json.PotentialMatches;
      assert.deepEqual(first.Identifiers, [{ ID: "0000123", IDType: "HOSP" }]);
      assert.equal(first.Demographics.LastName, "BIXBY");
      assert.equal(first.Demographics.MiddleName, "Q");
      assert.equal(first.Demographics.Address.City, "MONROE");
      assert.equal(first.PCP.LastName, "WELBY");
      assert.equal(second.Demographics.FirstName, "TOM");
      // Both sides are in the logs, listed under the request.
      assert.equal(res.json.Meta.Logs.length, 2);
      const [request, respond] = await Promise.all(
        res.json.Meta.Logs.map((l: { ID: string }) => engine.store.getLog(l.ID)),
      );
      assert.equal(request?.type, "REQUEST");
      assert.equal(request?.status, "SUCCEEDED");
      assert.equal(request?.destinationId, "pdq");
      assert.equal(request?.attempts.length, 1);
      assert.equal(respond?.type, "RESPOND");
      const listed = await engine.store.logsOfMessage(request!.messageId);
      assert.deepEqual(listed.map((l) => l.type).sort(), ["REQUEST", "RESPOND"]);
      const stored = await engine.store.getMessage(respond!.messageId);
      assert.equal(stored?.contentType, "application/hl7-v2");
      assert.equal(stored?.derivedFrom, request!.messageId);
    });

    await t.step(
      "a destination configured for QRY^A19 gets one and its ADR^A19 is read",
      async () => {
        const res = await query(to("adt"));
        assert.equal(res.status, 200, res.text);
        const sent = peers.received.at(-1)!;
        assert.match(sent, /^MSH\|\^~\\&\|ENGINE\|/);
        assert.match(sent, /\|QRY\^A19\^QRY_A19\|/);
        assert.match(
          sent,
          /\rQRD\|\d+[^|]*\|R\|I\|[^|]+\|\|\|50\^RD\|0000123\^BIXBY\^TIMOTHY\|DEM/,
        );
        assert.deepEqual(res.json.PotentialMatches, []);
        assert.equal(res.json.Patient.Demographics.DOB, "2008-01-06");
      },
    );

    await t.step(
      "a PatientSearch posted to /endpoint, as Redox clients do, is answered the same way",
      async () => {
        const res = await query(to("adt"), token, "/endpoint");
        assert.equal(res.status, 200, res.text);
        assert.match(peers.received.at(-1)!, /\|QRY\^A19\^QRY_A19\|/);
        assert.equal(res.json.Meta.DataModel, "PatientSearch");
        assert.equal(res.json.Patient.Demographics.DOB, "2008-01-06");
        assert.equal(res.json.Meta.Logs.length, 2);
      },
    );

    await t.step(
      "a refusal (MSA AR) is a 200 whose Meta.Errors says so, logged FAILED",
      async () => {
        const res = await query(to("refuse"));
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.Patient, null);
        assert.deepEqual(res.json.PotentialMatches, []);
        assert.equal(res.json.Meta.Errors.length, 1);
        assert.match(res.json.Meta.Errors[0].Text, /refused the query \(MSA-1 AR\)/);
        const request = await engine.store.getLog(res.json.Meta.Logs[0].ID);
        assert.equal(request?.status, "FAILED");
        assert.match(request?.reason ?? "", /MSA-1 AR/);
      },
    );

    await t.step(
      "a plain ACK (no QAK, no PID) is a 502 logged FAILED, not a no match",
      async () => {
        const res = await query(to("acker"));
        assert.equal(res.status, 502, res.text);
        assert.equal(res.json.Patient, undefined);
        assert.match(
          res.json.Meta.Errors[0].Text,
          /^destination acker: the destination answered ACK\^Q22 without a QAK segment \(MSA-1 AA\): it does not seem to answer patient queries$/,
        );
        const { logs } = await engine.store.listLogs({ destinationId: "acker" });
        assert.deepEqual(logs.map((l) => [l.type, l.status]).sort(), [
          ["REQUEST", "FAILED"],
          ["RESPOND", "FAILED"],
        ]);
        assert.match(logs[0]!.reason ?? "", /ACK\^Q22 without a QAK segment \(MSA-1 AA\)/);
      },
    );

    await t.step("QAK-2 NF is a no match: 200, no Patient, no PotentialMatches", async () => {
      const res = await query(to("nf"));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.Patient, null);
      assert.deepEqual(res.json.PotentialMatches, []);
      assert.deepEqual(res.json.Meta.Errors, []);
      const request = await engine.store.getLog(res.json.Meta.Logs[0].ID);
      assert.equal(request?.status, "SUCCEEDED");
      assert.equal(request?.reason, "RSP^K22: 0 patient(s)");
    });

    await t.step("no answer within the query timeout is a 504", async () => {
      const started = Date.now();
      const res = await query(to("silent"));
      assert.equal(res.status, 504, res.text);
      assert.match(res.json.Meta.Errors[0].Text, /did not answer within 5 s/);
      // At the timeout, not much later (without one, the silent peer's query never ends).
      assert.ok(Date.now() - started < 15_000);
      const slow = await query(to("slow"));
      assert.equal(slow.status, 504, slow.text);
    });

    await t.step("a destination that cannot be reached is a 502 naming why", async () => {
      const res = await query(to("closed"));
      assert.equal(res.status, 502, res.text);
      assert.match(
        res.json.Meta.Errors[0].Text,
        /destination closed: cannot connect to 127\.0\.0\.1/,
      );
    });

    await t.step(
      "an HTTPS destination gets the JSON with its token; its body comes back",
      async () => {
        const body = {
          Meta: { DataModel: "Results", EventType: "Query", Destinations: [{ ID: "api" }] },
          Patient: { Identifiers: [{ ID: "42", IDType: "MR" }] },
        };
        const res = await query(body);
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.json, {
          Meta: { DataModel: "Results", EventType: "QueryResponse" },
          Echo: body.Patient,
        });
        const headers = peers.httpHeaders.at(-1)!;
        assert.equal(headers.get("verification-token"), "hook-token");
        assert.equal(headers.get("authorization"), "Bearer hook-token");
        assert.match(headers.get("content-type") ?? "", /^application\/json/);
      },
    );

    await t.step("an HTTPS destination's error status is a 200 with Meta.Errors", async () => {
      const res = await query({
        Meta: { DataModel: "Results", EventType: "Query", Destinations: [{ ID: "broken" }] },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.Meta.EventType, "QueryResponse");
      assert.match(res.json.Meta.Errors[0].Text, /answered HTTP 503: database unavailable/);
    });

    await t.step("bad queries are refused with what is wrong", async () => {
      const twice = await query({
        ...QUERY,
        Meta: { ...QUERY.Meta, Destinations: [{ ID: "pdq" }, { ID: "adt" }] },
      });
      assert.equal(twice.status, 400);
      assert.match(twice.text, /exactly one destination \(found 2\)/);
      const none = await query({
        ...QUERY,
        Meta: { DataModel: "PatientSearch", EventType: "Query" },
      });
      assert.equal(none.status, 400);
      assert.equal(none.json.Meta.Errors[0].Path, "Meta.Destinations");
      assert.equal((await query(to("nowhere"))).status, 404);
      const unsub = await query(to("unsubscribed"));
      assert.equal(unsub.status, 403);
      assert.match(unsub.text, /no subscription of source app sends PatientSearch\.Query/);
      assert.equal((await query(to("elsewhere"))).status, 403);
      const notQuery = await query({
        Meta: { DataModel: "PatientSearch", EventType: "Query", Destinations: [{ ID: "pdq" }] },
        Patient: { Demographics: { DOB: "soon" } },
      });
      assert.equal(notQuery.status, 400);
      assert.deepEqual(
        notQuery.json.Meta.Errors.map((e: { Path: string }) => e.Path).sort(),
        ["Patient.Demographics.DOB"],
      );
      const wrongModel = await query(to("pdq", {
        Meta: { DataModel: "Results", EventType: "Query" },
        Patient: QUERY.Patient,
      }));
      assert.equal(wrongModel.status, 400);
      assert.equal(wrongModel.json.Meta.Errors[0].Path, "Meta.DataModel");
      assert.equal((await query(QUERY, "nope")).status, 401);
      const get = await fetch(`${base}/query`);
      assert.equal(get.status, 405);
      await get.body?.cancel();
    });
  } finally {
    await e.close();
    httpSender.close();
    await peers.stop();
  }
});
