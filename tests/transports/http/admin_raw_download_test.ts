/**
 * `GET /admin/messages/:id?raw=1` serves the sender's bytes as a download a browser never
 * renders: `Content-Disposition: attachment` with a safe file name, a sandboxing CSP and
 * `nosniff`, whatever the content type guessed for them. And every JSON answer of the admin API
 * (sendJson) carries `nosniff`.
 */

import assert from "node:assert/strict";
import { rawFileName } from "../../../transports/http/present.ts";
import { enc, INBOUND, withEngine } from "./engine_fixture.ts";

const HTML = '<html xmlns="http://www.w3.org/1999/xhtml"><script>alert("upload")</script></html>';

Deno.test("admin raw bytes of an HTML upload come back as an attachment under a sandbox CSP", async () => {
  await withEngine(async (e) => {
    const uploads = [
      { fileName: "page.html", contentType: "application/xml", name: /^[\w]+-page\.html$/ },
      {
        fileName: `../in/"><img src=x onerror=alert(1)>;.hl7`,
        contentType: "text/html",
        name: /^[\w]+-_img_src_x_onerror_alert_1_.hl7$/,
      },
      { fileName: undefined, contentType: "text/html; charset=utf-8", name: /^[\w]+$/ },
      { fileName: "..", contentType: "image/svg+xml", name: /^[\w]+$/ },
    ];
    for (const upload of uploads) {
      const r = await e.store.accept({
        queue: INBOUND,
        origin: { kind: "integration", id: "lab-upload", peer: "127.0.0.1" },
        payload: enc.encode(HTML),
        contentType: upload.contentType,
        ...(upload.fileName !== undefined ? { fileName: upload.fileName } : {}),
        log: { type: "RECEIVE", integrationId: "lab-upload", environment: "dev" },
      });
      assert.equal(r.status, "stored");
      const raw = await e.call(`/admin/messages/${r.messageId}?raw=1`);
      assert.equal(raw.status, 200);
      assert.deepEqual(raw.bytes, enc.encode(HTML));
      // The type stays the record's (scripts rely on it), but nothing renders it.
      assert.equal(raw.headers.get("content-type"), upload.contentType);
      assert.equal(raw.headers.get("content-security-policy"), "sandbox; default-src 'none'");
      assert.equal(raw.headers.get("x-content-type-options"), "nosniff");
      const disposition = raw.headers.get("content-disposition") ?? "";
      const m = /^attachment; filename="([^"]*)"$/.exec(disposition);
      assert.ok(m, disposition);
      assert.match(m[1]!, upload.name, disposition);
      assert.ok(m[1]!.startsWith(r.messageId), disposition);
    }
  });
});

Deno.test("the raw download's file name keeps only safe characters, the id first", () => {
  assert.equal(rawFileName({ id: "000abc" }), "000abc");
  assert.equal(rawFileName({ id: "000abc", fileName: "results/2026/lab.hl7" }), "000abc-lab.hl7");
  assert.equal(rawFileName({ id: "000abc", fileName: "C:\\in\\x y.txt" }), "000abc-x_y.txt");
  assert.equal(rawFileName({ id: "000abc", fileName: ".hidden" }), "000abc-hidden");
  assert.equal(
    rawFileName({ id: "000abc", fileName: '"\r\nSet-Cookie: a=b' }),
    "000abc-_Set-Cookie_a_b",
  );
  assert.equal(rawFileName({ id: "000abc", fileName: "é€.hl7" }), "000abc-_.hl7");
  assert.equal(rawFileName({ id: "000abc", fileName: "x".repeat(500) }).length, 107);
});

Deno.test("every JSON answer of the admin API carries X-Content-Type-Options: nosniff", async () => {
  await withEngine(async (e) => {
    for (
      const [path, auth] of [
        ["/admin/actors", undefined],
        ["/admin/actors", null],
        ["/admin/logs?limit=x", undefined],
        ["/admin/messages/none", undefined],
        ["/admin/nowhere", undefined],
      ] as const
    ) {
      const r = await e.call(path, { auth });
      assert.equal(r.headers.get("content-type"), "application/json", path);
      assert.equal(r.headers.get("x-content-type-options"), "nosniff", `${path} ${r.status}`);
    }
  });
});
