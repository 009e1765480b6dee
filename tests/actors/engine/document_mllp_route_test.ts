/**
 * X12 and C-CDA never go to an MLLP destination (it carries HL7 v2 only): the route fails at
 * intake with the reason, the other destinations are served, and nothing is sent on the MLLP
 * connection. Through the composed engine with real peers: OpenSSH's `sftp` uploading to the
 * hosted folder, a real HTTP receiver, a real MLLP receiver, and `fetch` against `POST /endpoint`.
 */

import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import { listLogs, type LogRecord } from "../../../actors/store/mod.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { waitFor } from "../../helpers/net.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { type RawReceiver, startReceiver as startMllpReceiver } from "../../helpers/receivers.ts";
import { sftpBatch, testKey } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { apiOf } from "../../helpers/api.ts";
import { tempDir } from "../../helpers/temp.ts";
import { wrap, X837P_BODY } from "../../codecs/x12/fixtures.ts";
import { CCD } from "../../codecs/ccda/fixtures.ts";

const sftpTest = testNeeding("sftp", "ssh-keygen");
const WAIT_MS = 15_000;
const X12_REASON = "destination ward is MLLP: it carries HL7 v2 only, not X12";
const CCDA_REASON = "destination ward is MLLP: it carries HL7 v2 only, not a C-CDA document";

/** An HTTP receiver on a port the system chose, counting the bodies it got. */
function startHttpReceiver() {
  const received: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    received.push(await req.text());
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    received,
    stop: () => server.shutdown(),
  };
}

/** The peers: an HTTPS destination `app` and an MLLP destination `ward` (which must get nothing). */
function peers() {
  const app = startHttpReceiver();
  const ward: RawReceiver = startMllpReceiver(() => {});
  return { app, ward };
}

function configOf(value: Record<string, unknown>, app: string, ward: RawReceiver): Config {
  const parsed = parseConfig({
    node: { id: "docs" },
    environments: [{ id: "dev", type: "development" }],
    destinations: [
      { id: "app", environment: "dev", https: { url: app, verificationToken: { env: "TOKEN" } } },
      { id: "ward", environment: "dev", mllp: { host: "127.0.0.1", port: ward.port } },
    ],
    ...value,
  }, {
    env: (name) => ({ TOKEN: "t", ...extraEnv })[name],
    readFile: () => new Error("no files in these tests"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}
let extraEnv: Record<string, string> = {};

async function sendLogs(e: TestEngine, destinationId: string): Promise<LogRecord[]> {
  const { logs } = await listLogs(e.engine.store.kv, { limit: 100, type: "SEND" });
  return logs.filter((l) => l.destinationId === destinationId);
}

/** Uploads `name` holding `text` to the hosted folder; the engine stores and routes it. */
async function uploadCase(name: string, text: string, reason: string) {
  await using dir = await tempDir({ prefix: "doc-mllp-" });
  const [hostKey, userKey] = await Promise.all([
    testKey("doc_mllp_host", { type: "ed25519" }),
    testKey("doc_mllp_user"),
  ]);
  const { app, ward } = peers();
  const httpSender = new FetchSender();
  let e: TestEngine | undefined;
  try {
    extraEnv = { HOST_KEY: hostKey.privateKey };
    const config = configOf(
      {
        kv: { path: `${dir.path}/engine.kv` },
        integrations: [{ id: "files", environment: "dev" }],
        sftpServer: {
          port: 0,
          hostname: "127.0.0.1",
          hostKey: { env: "HOST_KEY" },
          root: `${dir.path}/sftp`,
          users: [{ name: "clinic", publicKeys: [userKey.publicKey], integration: "files" }],
        },
        subscriptions: [{ from: { integration: "files" }, to: ["ward", "app"] }],
      },
      app.url,
      ward,
    );
    e = await startEngine(config, { httpSender });
    const local = `${dir.path}/local`;
    await Deno.mkdir(local);
    await Deno.writeTextFile(`${local}/${name}`, text);
    const put = await sftpBatch({
      port: e.servers.sftp!.port,
      user: "clinic",
      key: userKey.privatePath,
      commands: [`put ${name}`],
      cwd: local,
    });
    assert.equal(put.success, true, put.stderr);

    await waitFor("the HTTPS destination served", () => app.received.length >= 1, WAIT_MS);
    await waitFor(
      "the MLLP route failed",
      async () => (await sendLogs(e!, "ward")).some((l) => l.status === "FAILED"),
      WAIT_MS,
    );
    const [failed] = await sendLogs(e, "ward");
    assert.equal(failed!.status, "FAILED");
    assert.match(failed!.reason ?? "", new RegExp(reason.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    // Failed by the inbound actor at intake, not by the MLLP actor after trying the message.
    const lines = e.log.lines.join("\n");
    assert.match(lines, /inbound\.destination-failed/);
    assert.doesNotMatch(lines, /not an HL7 v2 message/);
    assert.equal(ward.accepted, 0, "nothing is sent on the MLLP connection");
    assert.equal(ward.frames.length, 0);
    await waitFor(
      "the HTTPS SEND succeeded",
      async () => (await sendLogs(e!, "app"))[0]?.status === "SUCCEEDED",
      WAIT_MS,
    );
  } finally {
    await e?.close();
    httpSender.close();
    await app.stop();
    await ward.close();
    extraEnv = {};
  }
}

sftpTest(
  "an X12 file uploaded to the hosted folder: the MLLP route fails at intake with the reason, the HTTPS destination gets it, nothing goes on the MLLP connection",
  () => uploadCase("claim.x12", wrap([X837P_BODY], { control: 31 }), X12_REASON),
);

sftpTest(
  "a C-CDA file uploaded to the hosted folder: the MLLP route fails at intake with the reason, the HTTPS destination gets it, nothing goes on the MLLP connection",
  () => uploadCase("summary.xml", CCD, CCDA_REASON),
);

/** An engine with an API source `clinic` subscribed to `ward` (MLLP) and `app` (HTTPS). */
async function apiCase(
  dir: string,
  run: (
    post: (type: string, body: string) => Promise<Response>,
    e: TestEngine,
    app: { received: string[] },
  ) => Promise<void>,
) {
  const { app, ward } = peers();
  const httpSender = new FetchSender();
  extraEnv = { CLINIC_SECRET: "clinic-secret" };
  const config = configOf(
    {
      kv: { path: `${dir}/engine.kv` },
      http: { port: 0, development: true },
      sources: [{
        id: "clinic",
        environment: "dev",
        clientId: "clinic",
        auth: { secret: { env: "CLINIC_SECRET" } },
      }],
      subscriptions: [{ from: { source: "clinic" }, to: ["ward", "app"] }],
    },
    app.url,
    ward,
  );
  const e = await startEngine(config, { httpSender, http: true });
  try {
    const token = await apiOf(e).token("clinic", "clinic-secret");
    const post = (type: string, body: string) =>
      fetch(`${e.base}/endpoint`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": type },
        body,
      });
    await run(post, e, app);
    assert.equal(ward.accepted, 0, "nothing is sent on the MLLP connection");
    assert.ok((await sendLogs(e, "ward")).length === 0, "no SEND to the MLLP destination");
    assert.doesNotMatch(e.log.lines.join("\n"), /not an HL7 v2 message/);
  } finally {
    await e.close();
    httpSender.close();
    await app.stop();
    await ward.close();
    extraEnv = {};
  }
}

Deno.test("an X12 posted to /endpoint: the answer names only the HTTPS destination and gives the MLLP one's reason; nothing goes to MLLP", async () => {
  await using dir = await tempDir({ prefix: "doc-mllp-api-" });
  await apiCase(dir.path, async (post, e, app) => {
    const res = await post("application/edi-x12", wrap([X837P_BODY], { control: 41 }));
    const answer = await res.json();
    assert.equal(res.status, 200, JSON.stringify(answer));
    assert.deepEqual(answer.Meta.Messages[0].Destinations, [{ ID: "app" }]);
    assert.deepEqual(answer.Meta.Errors, [{
      Text: X12_REASON,
      Type: "routing",
      Module: "routing",
    }]);
    await waitFor(
      "the HTTPS SEND succeeded",
      async () => (await sendLogs(e, "app"))[0]?.status === "SUCCEEDED",
      WAIT_MS,
    );
    assert.equal(app.received.length, 1);
  });
});

Deno.test("a C-CDA posted to /endpoint for an MLLP destination is refused 400 with the reason, as any failed route of a document is", async () => {
  await using dir = await tempDir({ prefix: "doc-mllp-api-" });
  await apiCase(dir.path, async (post) => {
    const res = await post("application/xml", CCD);
    const answer = await res.json();
    assert.equal(res.status, 400, JSON.stringify(answer));
    assert.equal(answer.Meta.Errors[0].Text, CCDA_REASON);
  });
});
