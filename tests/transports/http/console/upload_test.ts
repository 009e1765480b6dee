/**
 * `/console/upload` through the engine's HTTP server: an X12 file posted as a form is split per
 * transaction set, routed and delivered as JSON over HTTPS (a real local receiver), its 999 shown
 * on the page and the upload audited; the same file again stores nothing; a C-CDA posted raw
 * (`X-CSRF-Token`) travels whole; a file name with markup is sanitised and the page stays inert;
 * MLLP integrations, an empty file and a body over the limit (before the CSRF check reads it)
 * are refused.
 * @module
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../../actors/config/mod.ts";
import { parseX12 } from "../../../../codecs/x12/mod.ts";
import { FetchSender } from "../../../../transports/https/mod.ts";
import { startEngine } from "../../../helpers/engine.ts";
import { waitFor } from "../../../helpers/net.ts";
import { wrap, X837I_BODY, X837P_BODY } from "../../../codecs/x12/fixtures.ts";
import { CCD } from "../../../codecs/ccda/fixtures.ts";
import { testKey } from "../../../helpers/sshd.ts";
import { testNeeding } from "../../../helpers/system_tools.ts";
import { signIn, TOKEN } from "./fixture.ts";
import { tempDir } from "../../../helpers/temp.ts";

// The file-fed integration is the hosted SFTP folder's (the config needs a way in for it).
const keyedTest = testNeeding("ssh-keygen");

const LIMIT = 256 * 1024;

/** An HTTP receiver on a port the system chose, recording each JSON body. */
function startJsonReceiver() {
  // deno-lint-ignore no-explicit-any -- tests read deep into what they received
  const received: any[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    received.push(JSON.parse(await req.text()));
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    received,
    stop: () => server.shutdown(),
  };
}

async function uploadEngine(dir: string, url: string) {
  const [hostKey, userKey] = await Promise.all([
    testKey("upload_host", { type: "ed25519" }),
    testKey("upload_user", { type: "ed25519" }),
  ]);
  const parsed = parseConfig({
    node: { id: "upload" },
    kv: { path: `${dir}/engine.kv` },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    admin: { token: { env: "CONSOLE_TEST_TOKEN" } },
    limits: { maxHl7Bytes: LIMIT },
    environments: [{ id: "dev", type: "development" }],
    integrations: [
      { id: "claims", environment: "dev", x12: { acknowledge: true } },
      { id: "feed", environment: "dev", mllp: { port: 0, allowedIps: ["127.0.0.1"] } },
    ],
    sftpServer: {
      port: 0,
      hostname: "127.0.0.1",
      hostKey: { env: "HOST_KEY" },
      root: `${dir}/sftp`,
      users: [{ name: "billing", publicKeys: [userKey.publicKey], integration: "claims" }],
    },
    destinations: [
      { id: "payer", environment: "dev", https: { url, verificationToken: { env: "APP" } } },
      { id: "charts", environment: "dev", https: { url, verificationToken: { env: "APP" } } },
    ],
    subscriptions: [
      { from: { integration: "claims" }, to: ["payer"], x12: { transactionSets: ["837P"] } },
      { from: { integration: "claims" }, to: ["charts"], documentTypes: ["CCD"] },
    ],
  }, {
    env: (name) =>
      ({ CONSOLE_TEST_TOKEN: TOKEN, APP: "app-token", HOST_KEY: hostKey.privateKey })[name],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const httpSender = new FetchSender();
  const e = await startEngine(parsed.config, { http: true, httpSender });
  return Object.assign(e, { httpSender });
}

function form(csrf: string, fields: Record<string, string>, file?: [string, string]): FormData {
  const body = new FormData();
  body.set("_csrf", csrf);
  for (const [k, v] of Object.entries(fields)) body.set(k, v);
  if (file) body.set("file", new File([file[1]], file[0]));
  return body;
}

keyedTest(
  "console upload: an X12 file is split, routed, acknowledged on the page and audited; C-CDA raw; refusals",
  async () => {
    await using dir = await tempDir({ prefix: "console-upload-" });
    const receiver = startJsonReceiver();
    const e = await uploadEngine(dir.path, receiver.url);
    try {
      const admin = await signIn(e.base, { token: TOKEN });
      const post = (body: BodyInit, headers: Record<string, string> = {}, query = "") =>
        fetch(`${e.base}/console/upload${query}`, {
          method: "POST",
          headers: { cookie: admin.cookie, ...headers },
          body,
        });

      // The page offers the file-fed integration only, with the CSRF token in the form.
      const get = await fetch(`${e.base}/console/upload`, { headers: { cookie: admin.cookie } });
      const empty = await get.text();
      assert.equal(get.status, 200);
      assert.match(empty, /enctype="multipart\/form-data"/);
      assert.ok(empty.includes(`name="_csrf" value="${admin.csrf}"`));
      assert.ok(empty.includes(`<option value="claims">`) && !empty.includes(`value="feed"`));

      // Two 837P and an 837I: three messages, two delivered to the payer, a 999 per group shown.
      const x12 = wrap([X837P_BODY, X837P_BODY, X837I_BODY], { control: 907 });
      const xssName = `../"><img src=x onerror=alert(1)>claims.x12`;
      const r = await post(form(admin.csrf, { integration: "claims", reason: "resend" }, [
        xssName,
        x12,
      ]));
      const html = await r.text();
      assert.equal(r.status, 200, html);
      assert.match(html, /application\/edi-x12/);
      assert.match(html, /3 \(3 stored, 0 already stored\)/);
      assert.ok(!html.includes("<img"), "the file name is no markup");
      const ackText = /<pre data-acknowledgment="true">([^<]*)<\/pre>/.exec(html)![1]!.replaceAll(
        "\n",
        "",
      );
      const ack = parseX12(ackText).interchanges[0]!;
      assert.equal(ack.receiver.id, "SUBMITTERID");
      assert.deepEqual(ack.ta1.map((s) => s.elements[1]), ["000000907"]);
      const groups = ack.groups.map((g) => g.transactions[0]!.segments.map((s) => s.text));
      assert.ok(groups[0]!.includes("AK9*A*2*2*2"), groups[0]!.join("~"));
      assert.ok(groups[1]!.includes("AK9*A*1*1*1"), groups[1]!.join("~"));
      await waitFor("two claims delivered", () => receiver.received.length >= 2, 15_000);
      assert.deepEqual(receiver.received.map((b) => [b.type, b.Meta.Destinations[0].ID]), [
        ["837P", "payer"],
        ["837P", "payer"],
      ]);

      // The same file again: recognised, nothing stored twice (still acknowledged).
      const again = await post(form(admin.csrf, { integration: "claims" }, ["claims.x12", x12]));
      assert.match(await again.text(), /3 \(0 stored, 3 already stored\)/);

      // A C-CDA as the raw body: one message, no acknowledgment, routed by document type.
      const raw = await post(
        CCD,
        { "x-csrf-token": admin.csrf, "content-type": "application/xml" },
        "?integration=claims&name=summary.xml",
      );
      const rawHtml = await raw.text();
      assert.equal(raw.status, 200, rawHtml);
      assert.match(rawHtml, /1 \(1 stored, 0 already stored\)/);
      assert.match(rawHtml, /No acknowledgment/);
      await waitFor("the summary delivered", () => receiver.received.length >= 3, 15_000);
      assert.equal(receiver.received[2].Meta.DataModel, "Clinical Summary");

      // Refused: an MLLP integration, an empty file, a body over the limit without a CSRF token
      // (the size is checked before anything reads the body).
      const mllp = await post(form(admin.csrf, { integration: "feed" }, ["a.hl7", "MSH|"]));
      assert.equal(mllp.status, 404);
      assert.match(await mllp.text(), /no file-fed integration feed/);
      const none = await post(form(admin.csrf, { integration: "claims" }, ["a.x12", ""]));
      assert.equal(none.status, 400);
      await none.body?.cancel();
      const big = await post(new Uint8Array(LIMIT + 128 * 1024), {
        "content-type": "application/octet-stream",
      });
      assert.equal(big.status, 413);
      await big.body?.cancel();
      const noCsrf = await post(form("", { integration: "claims" }, ["a.x12", x12]));
      assert.equal(noCsrf.status, 403);
      await noCsrf.body?.cancel();

      // Audited: who, what, where to, why, and what became of it.
      const audit = await fetch(`${e.base}/admin/audit`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const entries = (await audit.json()).entries as {
        action: string;
        target: string;
        reason: string;
        ok: boolean;
        message: string;
      }[];
      const uploads = entries.filter((x) => x.action === "upload");
      assert.equal(uploads.length, 5, JSON.stringify(uploads));
      const first = uploads.find((x) => x.reason === "resend")!;
      assert.equal(first.target, "integration:claims");
      assert.equal(first.ok, true);
      // The name as the multipart parser gave it, reduced to letters, digits, `.`, `-` and `_`.
      assert.match(first.message, /^[\w.\-]+ \(application\/edi-x12/);
      assert.match(first.message, /3 messages, 3 stored, 0 duplicates; answered with .*\.999/);
      assert.ok(uploads.some((x) => !x.ok && /no file-fed integration feed/.test(x.message)));
    } finally {
      await e.close();
      e.httpSender.close();
      await receiver.stop();
    }
  },
);
