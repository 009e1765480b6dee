/**
 * X12 and C-CDA end to end through the composed engine, with real peers only: OpenSSH's `sftp`
 * client uploading to the hosted folder, a real HTTP receiver as the HTTPS destination (a
 * development environment allows http://), and `fetch` against `POST /endpoint` and `/query`.
 */

import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import { listLogs, type LogRecord } from "../../../actors/store/mod.ts";
import { parseX12 } from "../../../codecs/x12/mod.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { waitFor } from "../../helpers/net.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { sftpBatch, testKey } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import {
  wrap,
  X270_BODY,
  X271_BODY,
  X276_BODY,
  X837I_BODY,
  X837P_BODY,
} from "../../codecs/x12/fixtures.ts";
import { CCD, documentOf } from "../../codecs/ccda/fixtures.ts";
import { parseCcda } from "../../../codecs/ccda/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { tempDir } from "../../helpers/temp.ts";

const sftpTest = testNeeding("sftp", "ssh-keygen");
const WAIT_MS = 15_000;

/** A JSON receiver on a port the system chose, recording each body. */
function startReceiver(answer?: (req: Request, body: string) => Response) {
  // deno-lint-ignore no-explicit-any -- tests read deep into what they received
  const received: { type: string; body: any; text: string }[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const text = await req.text();
    const type = req.headers.get("content-type") ?? "";
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    received.push({ type, body, text });
    return answer ? answer(req, text) : new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    received,
    stop: () => server.shutdown(),
  };
}

function configOf(value: Record<string, unknown>, secrets: Record<string, string> = {}): Config {
  const parsed = parseConfig({
    node: { id: "x12" },
    environments: [{ id: "dev", type: "development" }, { id: "prod", type: "production" }],
    ...value,
  }, {
    env: (name) => ({ APP_TOKEN: "app-token", ...secrets })[name],
    readFile: () => new Error("no files in these tests"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

async function logsOf(e: TestEngine, filter: Parameters<typeof listLogs>[1]): Promise<LogRecord[]> {
  const { logs } = await listLogs(e.engine.store.kv, { limit: 500, ...filter });
  return logs.reverse();
}

/** The first loop object with `loop` === id, depth first. */
// deno-lint-ignore no-explicit-any
function findLoop(value: any, id: string): any {
  if (value && typeof value === "object") {
    if (!Array.isArray(value) && value.loop === id) return value;
    for (const v of Object.values(value)) {
      const hit = findLoop(v, id);
      if (hit) return hit;
    }
  }
  return undefined;
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

sftpTest(
  "an 837 file put in the hosted SFTP folder is split, routed by transaction set, delivered as JSON over HTTPS, and a 999 waits in the sender's outbox",
  async () => {
    await using dir = await tempDir({ prefix: "x12-e2e-" });
    const [hostKey, billingKey] = await Promise.all([
      testKey("x12_host", { type: "ed25519" }),
      testKey("x12_billing"),
    ]);
    const payer = startReceiver();
    const httpSender = new FetchSender();
    let e: TestEngine | undefined;
    try {
      const config = configOf({
        kv: { path: `${dir.path}/engine.kv` },
        integrations: [{
          id: "claims",
          environment: "dev",
          x12: { acknowledge: true },
        }],
        sftpServer: {
          port: 0,
          hostname: "127.0.0.1",
          hostKey: { env: "HOST_KEY" },
          root: `${dir.path}/sftp`,
          users: [{ name: "billing", publicKeys: [billingKey.publicKey], integration: "claims" }],
        },
        destinations: [{
          id: "payer",
          environment: "dev",
          https: { url: payer.url, verificationToken: { env: "APP_TOKEN" } },
        }],
        subscriptions: [{
          from: { integration: "claims" },
          to: ["payer"],
          x12: { transactionSets: ["837P"], senderIds: ["SUBMITTERID"] },
        }],
      }, { HOST_KEY: hostKey.privateKey });
      e = await startEngine(config, { httpSender });
      const port = e.servers.sftp!.port;

      // Two professional claims and an institutional one, line breaks after terminators.
      const file = wrap([X837P_BODY, X837P_BODY, X837I_BODY], { control: 905, lineBreak: "\n" });
      const local = `${dir.path}/local`;
      await Deno.mkdir(local);
      await Deno.writeTextFile(`${local}/claims-0905.x12`, file);
      const put = await sftpBatch({
        port,
        user: "billing",
        key: billingKey.privatePath,
        commands: ["put claims-0905.x12"],
        cwd: local,
      });
      assert.equal(put.success, true, put.stderr);

      // The 999 is in the outbox once the upload is answered; the sender downloads it.
      const root = await Deno.realPath(`${dir.path}/sftp`);
      assert.deepEqual(await names(`${root}/billing/outbox`), ["claims-0905.999"]);
      const get = await sftpBatch({
        port,
        user: "billing",
        key: billingKey.privatePath,
        commands: ["get outbox/claims-0905.999"],
        cwd: local,
      });
      assert.equal(get.success, true, get.stderr);
      const ack = parseX12(await Deno.readTextFile(`${local}/claims-0905.999`));
      const ic = ack.interchanges[0]!;
      // Addressed back to the sender, answering interchange 905 (ISA14 asked for a TA1).
      assert.equal(ic.sender.id, "RECEIVERID");
      assert.equal(ic.receiver.id, "SUBMITTERID");
      assert.equal(ic.usage, "T");
      assert.deepEqual(ic.ta1.map((s) => s.elements.slice(1, 2).concat(s.elements.slice(4, 6))), [
        ["000000905", "A", "000"],
      ]);
      const groups = ic.groups.map((g) => g.transactions[0]!.segments.map((s) => s.text));
      assert.equal(groups.length, 2, "one 999 per functional group (837P and 837I)");
      assert.ok(groups[0]!.includes("AK9*A*2*2*2"), groups[0]!.join("~"));
      assert.ok(groups[1]!.includes("AK9*A*1*1*1"), groups[1]!.join("~"));

      // Split per transaction set: the two 837P reach the payer as JSON, the 837I is filtered.
      await waitFor("two claims delivered", () => payer.received.length >= 2, WAIT_MS);
      await waitFor("the SEND logs succeeded", async () => {
        const logs = await logsOf(e!, { type: "SEND", status: "SUCCEEDED" });
        return logs.length === 2;
      }, WAIT_MS);
      for (const [i, r] of payer.received.entries()) {
        assert.match(r.type, /^application\/json/);
        assert.equal(r.body.Meta.DataModel, "X12");
        assert.equal(r.body.Meta.EventType, "837");
        assert.deepEqual(r.body.Meta.Source, { ID: "claims" });
        assert.deepEqual(r.body.Meta.Destinations, [{ ID: "payer" }]);
        assert.equal(r.body.type, "837P");
        assert.equal(r.body.controlNumber, String(i + 1).padStart(4, "0"));
        assert.equal(r.body.interchange.controlNumber, "000000905");
        assert.equal(findLoop(r.body.loops, "2010BA").NM1.NM109, "JS00111223333");
      }
      const receive = await logsOf(e, { type: "RECEIVE", integrationId: "claims" });
      assert.deepEqual(
        receive.map((l) => [l.controlId, l.status, l.dataModel, l.eventType]),
        [
          ["000000905/1/0001", "SUCCEEDED", "X12", "837"],
          ["000000905/1/0002", "SUCCEEDED", "X12", "837"],
          ["000000905/2/0003", "FILTERED", "X12", "837"],
        ],
      );
      // Each stored piece is an interchange of its own that reads without an envelope issue.
      const records = await e.engine.store.getMessages(receive.map((l) => l.messageId));
      for (const record of records) {
        assert.equal(record?.contentType, "application/edi-x12");
        assert.equal(record?.fileName, "claims-0905.x12");
        const piece = new TextDecoder().decode(await e.engine.store.getPayload(record!));
        assert.equal(parseX12(piece).interchanges[0]!.groups[0]!.transactions.length, 1);
      }
    } finally {
      await e?.close();
      httpSender.close();
      await payer.stop();
    }
  },
);

/** An engine with HTTP, an API source `clinic` and one HTTPS destination per receiver. */
async function apiEngine(
  dir: string,
  destinations: { id: string; url: string }[],
  subscriptions: unknown[],
  sourceExtra: Record<string, unknown> = {},
  httpSender = new FetchSender(),
) {
  const config = configOf({
    kv: { path: `${dir}/engine.kv` },
    http: { port: 0, development: true },
    sources: [{
      id: "clinic",
      environment: "dev",
      clientId: "clinic",
      auth: { secret: { env: "CLINIC_SECRET" } },
      ...sourceExtra,
    }],
    destinations: destinations.map((d) => ({
      id: d.id,
      environment: "dev",
      https: { url: d.url, verificationToken: { env: "APP_TOKEN" } },
    })),
    subscriptions,
  }, { CLINIC_SECRET: "clinic-secret" });
  const e = await startEngine(config, { httpSender, http: true });
  const token = await apiOf(e).token("clinic", "clinic-secret");
  return { e, token, httpSender };
}

Deno.test("a CCD posted to /endpoint reaches an HTTPS destination as ClinicalSummary JSON", async () => {
  await using dir = await tempDir({ prefix: "ccda-e2e-" });
  const app = startReceiver();
  const { e, token, httpSender } = await apiEngine(dir.path, [{ id: "app", url: app.url }], [{
    from: { source: "clinic" },
    to: ["app"],
    documentTypes: ["CCD"],
  }]);
  try {
    const res = await fetch(`${e.base}/endpoint`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/xml" },
      body: CCD,
    });
    const answer = await res.json();
    assert.equal(res.status, 200, JSON.stringify(answer));
    assert.equal(answer.Meta.DataModel, "Clinical Summary");
    assert.equal(answer.Meta.EventType, "CCD");
    assert.deepEqual(answer.Meta.Destinations, [{ ID: "app" }]);
    assert.equal(answer.Meta.Logs.length, 1);

    await waitFor("the summary delivered", () => app.received.length >= 1, WAIT_MS);
    const got = app.received[0]!;
    assert.match(got.type, /^application\/json/);
    assert.equal(got.body.Meta.DataModel, "Clinical Summary");
    assert.equal(got.body.Meta.DocumentType, "CCD");
    assert.deepEqual(got.body.Meta.Source, { ID: "clinic" });
    assert.deepEqual(got.body.Meta.Destinations, [{ ID: "app" }]);
    // The same summary the codec reads from the document, sections and all.
    const expected = parseCcda(CCD);
    assert.deepEqual(got.body.Patient, expected.Patient);
    assert.deepEqual(got.body.Results, expected.Results);
    assert.ok(got.body.Results.length > 0 && got.body.Allergies.length > 0);
    await waitFor("the SEND log succeeded", async () => {
      const logs = await logsOf(e, { type: "SEND", status: "SUCCEEDED" });
      return logs.length === 1 && logs[0]!.dataModel === "Clinical Summary";
    }, WAIT_MS);

    // A document of another type is stored and filtered; something that is not a C-CDA is 400.
    const note = documentOf("2.16.840.1.113883.10.20.22.1.9", "Progress Note");
    const filtered = await fetch(`${e.base}/endpoint`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/xml" },
      body: note,
    });
    assert.equal(filtered.status, 200);
    assert.deepEqual((await filtered.json()).Meta.Destinations, []);
    const bad = await fetch(`${e.base}/endpoint`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/xml" },
      body: '<!DOCTYPE x [<!ENTITY a "b">]><ClinicalDocument/>',
    });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).Meta.Errors[0].Text, /not a C-CDA: .*DTD|DOCTYPE/i);
  } finally {
    await e.close();
    httpSender.close();
    await app.stop();
  }
});

Deno.test("X12 over /endpoint: split and routed, the 999 answered in the response; ISA15 must fit the environment", async () => {
  await using dir = await tempDir({ prefix: "x12-api-" });
  const payer = startReceiver();
  const { e, token, httpSender } = await apiEngine(
    dir.path,
    [{ id: "payer", url: payer.url }],
    [{ from: { source: "clinic" }, to: ["payer"], x12: { transactionSets: ["837"] } }],
    { x12: { acknowledge: true } },
  );
  try {
    const post = (body: string) =>
      fetch(`${e.base}/endpoint`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/edi-x12" },
        body,
      });
    const res = await post(wrap([X837P_BODY, X837I_BODY], { control: 77 }));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/edi-x12/);
    const ack = parseX12(await res.text()).interchanges[0]!;
    assert.equal(ack.receiver.id, "SUBMITTERID");
    const ak9 = ack.groups.flatMap((g) => g.transactions[0]!.segments.map((s) => s.text))
      .filter((t) => t.startsWith("AK9"));
    assert.deepEqual(ak9, ["AK9*A*1*1*1", "AK9*A*1*1*1"]);
    await waitFor("two sets delivered", () => payer.received.length >= 2, WAIT_MS);
    assert.deepEqual(payer.received.map((r) => r.body.type).sort(), ["837I", "837P"]);

    // A production interchange from a development source is refused, saying why.
    const prod = await post(wrap([X837P_BODY], { usage: "P" }));
    assert.equal(prod.status, 400);
    assert.match(
      (await prod.json()).Meta.Errors[0].Text,
      /ISA15 is "P" \(production\) but source clinic is in environment dev \(development\)/,
    );
  } finally {
    await e.close();
    httpSender.close();
    await payer.stop();
  }
});

Deno.test("a 270 posted to /query goes to the HTTPS payer and its synchronous 271 comes back", async () => {
  await using dir = await tempDir({ prefix: "x12-query-" });
  const reply = wrap([X271_BODY], { sender: "PAYER", receiver: "CLINIC", control: 9 });
  const payer = startReceiver(() =>
    new Response(reply, { headers: { "content-type": "application/edi-x12" } })
  );
  const { e, token, httpSender } = await apiEngine(
    dir.path,
    [{ id: "payer", url: payer.url }],
    [{ from: { source: "clinic" }, to: ["payer"], x12: { transactionSets: ["270"] } }],
  );
  try {
    const query = wrap([X270_BODY], { control: 8 });
    const res = await fetch(`${e.base}/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/edi-x12" },
      body: query,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/edi-x12/);
    assert.equal(await res.text(), reply);
    assert.equal(payer.received.length, 1);
    assert.equal(payer.received[0]!.text, query, "the 270 is sent as it came");
    assert.match(payer.received[0]!.type, /^application\/edi-x12/);

    // A set no subscription sends is refused.
    const other = await fetch(`${e.base}/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/edi-x12" },
      body: wrap([X276_BODY]),
    });
    assert.equal(other.status, 403);
    assert.match((await other.json()).Meta.Errors[0].Text, /no subscription .* X12 276/);
  } finally {
    await e.close();
    httpSender.close();
    await payer.stop();
  }
});
