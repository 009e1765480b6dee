/**
 * The console's pages without a browser: a file name carrying XSS payloads stays text on the log
 * page and downloads under a safe name; a SEND log of a translation shows the translation it
 * delivered; `STATE_CHANGING_ROUTES` is every POST route the console has; the admin API's
 * destination verification is audited.
 * @module
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../../actors/runtime/clock.ts";
import { STATE_CHANGING_ROUTES } from "../../../../transports/http/console/mod.ts";
import { adt } from "../../../helpers/net.ts";
import { sendHl7, signIn, startConsoleEngine, TOKEN } from "./fixture.ts";

const XSS_FILE = `"><img src=x onerror="window.__xss=4"><script>window.__xss=5</script>.hl7`;
const XSS_PEER = `javascript:window.__xss=6`;

Deno.test("console: a file name with XSS payloads is text on the log page and a safe download name", async () => {
  const e = await startConsoleEngine();
  try {
    const store = e.engine.store;
    const stored = await store.accept({
      queue: "sftp-in:feed",
      origin: { kind: "integration", id: "feed", peer: XSS_PEER },
      payload: new TextEncoder().encode(`<script>window.__xss=7</script>`),
      contentType: "text/plain",
      fileName: XSS_FILE,
      log: { type: "RECEIVE", integrationId: "feed" },
      deliveries: [],
    });
    assert.equal(stored.status, "stored");
    if (stored.status !== "stored") return;
    const admin = await signIn(e.base, { token: TOKEN });
    const page = await fetch(`${e.base}/console/logs/${stored.logId}`, {
      headers: { cookie: admin.cookie },
    });
    assert.equal(page.status, 200);
    const html = await page.text();
    // The file name is shown, escaped: no markup of the sender's reaches the page.
    assert.ok(html.includes("&lt;img src=x onerror="), "the file name is shown as text");
    assert.ok(html.includes("&lt;script&gt;window.__xss=5&lt;/script&gt;"));
    assert.ok(!html.includes("<img"), "no img element");
    assert.ok(!/<script>window/.test(html), "no script element of the sender's");
    assert.ok(!/href="javascript:/i.test(html), "no javascript: link");
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);

    const raw = await fetch(`${e.base}/console/messages/${stored.messageId}/raw`, {
      headers: { cookie: admin.cookie },
    });
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get("content-type"), "application/octet-stream");
    assert.match(raw.headers.get("content-disposition")!, /^attachment; filename="[\w.\-]+"$/);
    assert.match(raw.headers.get("content-security-policy")!, /sandbox/);
    assert.equal(await raw.text(), `<script>window.__xss=7</script>`, "the bytes as received");
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});

Deno.test("console: a SEND log of a translation shows the translation it delivered", async () => {
  const e = await startConsoleEngine();
  try {
    const store = e.engine.store;
    const encoder = new TextEncoder();
    const originalId = store.newId();
    const prepared = await store.prepareDerived(
      originalId,
      encoder.encode(JSON.stringify({ patient: { name: "DOE^JANE" }, marker: "TRANSLATED-1" })),
      "application/json",
    );
    const translated = prepared.id;
    const stored = await store.accept({
      messageId: originalId,
      queue: "mllp-in:feed",
      origin: { kind: "integration", id: "feed" },
      payload: encoder.encode("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|CTL-T1|P|2.5.1\rPID|1"),
      contentType: "application/hl7-v2",
      controlId: "CTL-T1",
      log: { type: "RECEIVE", integrationId: "feed" },
      // A queue no actor reads: the entry stays, as a delivery's does until it is sent.
      deliveries: [{
        queue: "test:translated",
        destinationId: "lab",
        messageId: translated,
        originalId,
        log: { integrationId: "feed", controlId: "CTL-T1" },
      }],
      derived: [prepared],
    });
    assert.equal(stored.status, "stored");
    if (stored.status !== "stored") return;
    const sendLogId = stored.sendLogIds![0]!;
    // The log names the payload delivered, which outlives the queue entry.
    assert.equal((await store.getLog(sendLogId))?.deliveredId, translated);

    const admin = await signIn(e.base, { token: TOKEN });
    const html = await (await fetch(`${e.base}/console/logs/${sendLogId}`, {
      headers: { cookie: admin.cookie },
    })).text();
    const section = /<section id="delivered" data-message-id="([^"]+)">([\s\S]*?)<\/section>/
      .exec(html);
    assert.ok(section, "a Translation delivered section");
    assert.equal(section[1], translated);
    assert.ok(section[2]!.includes("TRANSLATED-1"), "the translation's content is shown");
    assert.ok(section[2]!.includes(`/console/messages/${translated}/raw`), "and downloadable");
    assert.ok(html.includes("MSH"), "beside the message as received");

    // The RECEIVE log of the same message has no delivered translation.
    const receive = await (await fetch(`${e.base}/console/logs/${stored.logId}`, {
      headers: { cookie: admin.cookie },
    })).text();
    assert.ok(!receive.includes('id="delivered"'));
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});

/** `/a/:x{p|q}` → `/a/:x` made concrete per alternative: `/a/p`, `/a/q`… kept as `:x` names. */
function expand(path: string): string[] {
  const m = /^(.*):(\w+)\{([^}]+)\}(.*)$/.exec(path);
  if (!m) return [path];
  return m[3]!.split("|").flatMap((alt) => expand(`${m[1]}${alt}${m[4]}`));
}

Deno.test("console: STATE_CHANGING_ROUTES lists every POST route the console registers", async () => {
  const e = await startConsoleEngine();
  try {
    const registered = new Set(
      e.app.routes
        .filter((r) => r.path.startsWith("/console") && r.method !== "ALL" && r.method !== "GET")
        .flatMap((r) => expand(r.path).map((p) => `${r.method} ${p}`)),
    );
    // Signing in needs no session yet, and any signed-in user may end their own session (it
    // still needs the CSRF token): neither needs a role.
    const exempt = ["POST /console/login", "POST /console/logout"];
    for (const x of exempt) assert.ok(registered.has(x), x);
    const listed = new Set(STATE_CHANGING_ROUTES.flatMap((r) => expand(r.path)));
    const unlisted = [...registered].filter((r) =>
      !exempt.includes(r) && !listed.has(r.replace(/^POST /, ""))
    );
    assert.deepEqual(unlisted, [], "state-changing routes missing from STATE_CHANGING_ROUTES");
    for (const path of listed) assert.ok(registered.has(`POST ${path}`), `${path} is registered`);
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});

Deno.test("admin API: POST /admin/destinations/:id/verify is audited", async () => {
  const e = await startConsoleEngine();
  try {
    const verify = await fetch(`${e.base}/admin/destinations/hook/verify`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(verify.status, 200);
    assert.equal((await verify.json()).verified, false, "the hook refuses connections");
    const missing = await fetch(`${e.base}/admin/destinations/nope/verify`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(missing.status, 404);
    await missing.text();

    const audit = await fetch(`${e.base}/admin/audit`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const entries = (await audit.json()).entries as Record<string, unknown>[];
    const hook = entries.find((x) => x.target === "destination:hook");
    assert.ok(hook, JSON.stringify(entries));
    assert.equal(hook.action, "verify");
    assert.equal(hook.by, "admin");
    assert.equal(hook.via, "api");
    assert.equal(hook.ok, false);
    assert.match(String(hook.message), /^not verified/);
    assert.equal(hook.address, "127.0.0.1");
    const nope = entries.find((x) => x.target === "destination:nope");
    assert.equal(nope?.ok, false);
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});

Deno.test("console: viewers share one scan of the metrics data for 5 s, then see new logs", async () => {
  // Ahead of the wall clock the store stamps records with: a record received a second or two
  // after the clock was made (the engine's start) is inside the chart's hour, even when the
  // wall clock crossed into the next minute meanwhile (it came out 0 then).
  const clock = new ManualClock(Date.now() + 120_000);
  const e = await startConsoleEngine({ clock });
  try {
    const receive = () =>
      e.engine.store.accept({
        queue: "mllp-in:feed",
        origin: { kind: "integration", id: "feed" },
        payload: new TextEncoder().encode("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X|P|2.5.1"),
        contentType: "application/hl7-v2",
        log: { type: "RECEIVE", integrationId: "feed" },
        deliveries: [],
      });
    const admin = await signIn(e.base, { token: TOKEN });
    const received = async () => {
      // In-process (no socket): the charts' JSON as the page's script gets it.
      const r = await e.app.request("/console/metrics/data.json?range=hour", {
        headers: { cookie: admin.cookie },
      });
      const data = await r.json() as { charts: { series: { values: number[] }[] }[] };
      return data.charts[0]!.series.flatMap((s) => s.values).reduce((a, b) => a + b, 0);
    };
    await receive();
    assert.equal(await received(), 1);
    await receive();
    clock.advance(4_999);
    assert.equal(await received(), 1, "the same data within 5 s");
    clock.advance(1);
    assert.equal(await received(), 2, "a new scan after 5 s");
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});

Deno.test("console: a search by an MSH-10 a sender reused within the dedupe window finds every message it named", async () => {
  const e = await startConsoleEngine();
  try {
    // A sender whose counter restarted twice: three messages under one MSH-10.
    for (const patient of ["", " SMITH", " JONES"]) await sendHl7(e.mllpPort, adt("R77", patient));
    const { logs } = await e.engine.store.listLogs({ type: "RECEIVE", limit: 10 });
    assert.equal(logs.length, 3);
    const admin = await signIn(e.base, { token: TOKEN });
    const page = await fetch(`${e.base}/console/logs?q=R77`, { headers: { cookie: admin.cookie } });
    assert.equal(page.status, 200);
    const html = await page.text();
    for (const log of logs) assert.ok(html.includes(`data-log-id="${log.id}"`), log.id);
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});
