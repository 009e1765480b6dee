/**
 * Finding the messages about one patient (PID-3) in `GET /admin/logs?patient=` and on
 * `/console/logs?patient=`: through the real app over HTTP, on a real KV, with inline,
 * dictionary-deflated and chunked payloads, the scan's byte bound and its continuation.
 * @module
 */

import assert from "node:assert/strict";
import type { Store } from "../../../actors/store/mod.ts";
import { signIn, startConsoleEngine, TOKEN } from "./console/fixture.ts";

const enc = new TextEncoder();
const auth = { authorization: `Bearer ${TOKEN}` };

/** An ADT^A01 with `pid3` as PID-3 and `obx` OBX segments of padding (~70 bytes each). */
function adt(control: string, pid3: string, obx = 0): Uint8Array {
  const padding = Array.from(
    { length: obx },
    (_, i) => `OBX|${i + 1}|NM|2345-${i % 90}^GLUCOSE^LN||${90 + i % 40}|mg/dL|70-110|N|||F\r`,
  ).join("");
  return enc.encode(
    `MSH|^~\\&|ADT|HOSP|EHR|HOSP|20261201120000||ADT^A01|${control}|P|2.5.1\r` +
      `PID|1||${pid3}||DOE^JANE||19800101|F\r${padding}`,
  );
}

async function receive(store: Store, payload: Uint8Array): Promise<string> {
  const stored = await store.accept({
    queue: "mllp-in:feed",
    origin: { kind: "integration", id: "feed", peer: "127.0.0.1" },
    payload,
    contentType: "application/hl7-v2",
    messageType: "ADT^A01",
    log: { type: "RECEIVE", integrationId: "feed" },
    deliveries: [],
  });
  assert.equal(stored.status, "stored");
  return stored.status === "stored" ? stored.logId : "";
}

async function adminLogs(base: string, query: string) {
  const r = await fetch(`${base}/admin/logs?${query}`, { headers: auth });
  return { status: r.status, body: await r.json() };
}

async function withEngine(
  run: (e: Awaited<ReturnType<typeof startConsoleEngine>>) => Promise<void>,
): Promise<void> {
  const e = await startConsoleEngine();
  try {
    await run(e);
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
}

Deno.test("patient search: a patient's messages are found among others' in the admin API and the console", async () => {
  await withEngine(async (e) => {
    const store = e.engine.store;
    const first = await receive(store, adt("C1", "P100^^^HOSP^MR"));
    await receive(store, adt("C2", "P200^^^HOSP^MR"));
    const second = await receive(store, adt("C3", "X9^^^OTHER~P100^^^HOSP^MR"));
    await receive(store, enc.encode(`{"resourceType":"Patient","id":"P100"}`));
    await receive(store, enc.encode("MSH|^~\\&|A|B|C|D|2026||ADT^A08|C5|P|2.5\rEVN|A08"));

    const found = await adminLogs(e.base, "patient=P100");
    assert.equal(found.status, 200);
    assert.deepEqual(found.body.logs.map((l: { id: string }) => l.id), [second, first]);
    assert.equal(found.body.next, null);
    assert.equal(found.body.scan.cut, null);
    assert.ok(found.body.scan.logs >= 5);

    const admin = await signIn(e.base, { token: TOKEN });
    const page = await fetch(`${e.base}/console/logs?patient=P100`, {
      headers: { cookie: admin.cookie },
    });
    assert.equal(page.status, 200);
    const html = await page.text();
    const rows = [...html.matchAll(/data-log-id="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(rows, [second, first]);
    assert.match(html, /Messages about patient <strong>P100<\/strong>: 2 found/);
    assert.ok(!html.includes("data-live"), "a scan's result is not refreshed live");
  });
});

Deno.test("patient search: the assigning authority must match when given", async () => {
  await withEngine(async (e) => {
    const store = e.engine.store;
    const hosp = await receive(store, adt("C1", "P100^^^HOSP&1.2.3&ISO^MR"));
    const nhs = await receive(store, adt("C2", "P100^^^NHS^NH"));
    const byHosp = await adminLogs(e.base, "patient=" + encodeURIComponent("P100^^^HOSP"));
    assert.deepEqual(byHosp.body.logs.map((l: { id: string }) => l.id), [hosp]);
    const byOid = await adminLogs(e.base, "patient=" + encodeURIComponent("P100^^^1.2.3"));
    assert.deepEqual(byOid.body.logs.map((l: { id: string }) => l.id), [hosp]);
    const byNhs = await adminLogs(e.base, "patient=" + encodeURIComponent("P100^^^NHS"));
    assert.deepEqual(byNhs.body.logs.map((l: { id: string }) => l.id), [nhs]);
    const none = await adminLogs(e.base, "patient=" + encodeURIComponent("P100^^^ELSEWHERE"));
    assert.equal(none.status, 200);
    assert.deepEqual(none.body.logs, []);
  });
});

Deno.test("patient search: dictionary-deflated and large chunked payloads are searched", async () => {
  await withEngine(async (e) => {
    const store = e.engine.store;
    await receive(store, adt("C0", "P0^^^HOSP", 20)); // makes the sender's dictionary
    await store.dictionaries.settled();
    const deflated = await receive(store, adt("C1", "P300^^^HOSP", 20));
    const large = await receive(store, adt("C2", "P300^^^HOSP", 3000)); // ~200 KB
    const deflatedRecord = await store.getMessage((await store.getLog(deflated))!.messageId);
    assert.ok(deflatedRecord?.dictionary, "stored after a dictionary");
    const largeRecord = await store.getMessage((await store.getLog(large))!.messageId);
    assert.ok(largeRecord!.chunks > 1, "stored in chunks");
    const found = await adminLogs(e.base, "patient=P300");
    assert.deepEqual(found.body.logs.map((l: { id: string }) => l.id), [large, deflated]);
  });
});

Deno.test("patient search: a scan stopped by its byte bound gives a cursor that finds older matches", async () => {
  await withEngine(async (e) => {
    const store = e.engine.store;
    const oldest = await receive(store, adt("C0", "P400^^^HOSP"));
    // Three messages of ~12 MiB each: the 32 MiB bound stops the scan after two.
    for (let i = 1; i <= 3; i++) await receive(store, adt(`C${i}`, `Q${i}`, 240_000));
    const first = await adminLogs(e.base, "patient=P400");
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.logs, []);
    assert.equal(first.body.scan.cut, "bytes");
    assert.ok(typeof first.body.next === "string");
    const more = await adminLogs(e.base, `patient=P400&cursor=${first.body.next}`);
    assert.deepEqual(more.body.logs.map((l: { id: string }) => l.id), [oldest]);

    const admin = await signIn(e.base, { token: TOKEN });
    const page = await (await fetch(`${e.base}/console/logs?patient=P400`, {
      headers: { cookie: admin.cookie },
    })).text();
    assert.match(page, /data-patient-scan="bytes"/);
    const older = /href="([^"]+)" rel="next">Older/.exec(page)?.[1]?.replaceAll("&amp;", "&");
    assert.ok(older?.includes("patient=P400"), older);
    const next = await (await fetch(`${e.base}${older}`, { headers: { cookie: admin.cookie } }))
      .text();
    assert.ok(next.includes(`data-log-id="${oldest}"`));
  });
});

Deno.test("patient search: a bad patient value gets 400 naming the parameter", async () => {
  await withEngine(async (e) => {
    for (const bad of ["", "A|B", "P1^^HOSP", "P1^x^^HOSP", "x".repeat(201)]) {
      const r = await adminLogs(e.base, `patient=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, bad);
      assert.match(r.body.error, /^patient: expected a patient identifier/);
    }
    const twice = await adminLogs(e.base, "patient=A&patient=B");
    assert.equal(twice.status, 400);
    assert.match(twice.body.error, /^patient: given more than once/);
    const send = await adminLogs(e.base, "patient=A&type=SEND");
    assert.equal(send.status, 400);
    assert.match(send.body.error, /^patient: finds RECEIVE logs only/);
    // The console refuses a repeated value as the admin API does (it used the first, silently).
    const admin = await signIn(e.base, { token: TOKEN });
    const page = await (await fetch(`${e.base}/console/logs?patient=A&patient=B`, {
      headers: { cookie: admin.cookie },
    })).text();
    assert.match(page, /role="alert">patient: given more than once</);
  });
});

Deno.test("patient search: HTML in PID-3 is shown inert on the console", async () => {
  await withEngine(async (e) => {
    const xss = `<img src=x onerror=alert(1)>`;
    const logId = await receive(e.engine.store, adt("C1", `${xss}^^^HOSP`));
    const admin = await signIn(e.base, { token: TOKEN });
    const r = await fetch(`${e.base}/console/logs?patient=${encodeURIComponent(xss)}`, {
      headers: { cookie: admin.cookie },
    });
    const html = await r.text();
    assert.ok(html.includes(`data-log-id="${logId}"`), "the message is found");
    assert.ok(html.includes("&lt;img src=x onerror=alert(1)&gt;"), "shown as text");
    assert.ok(!html.includes("<img"), "no img element");
  });
});
