/**
 * `endpoint.too-large` is throttled per client address (as the MLLP refusals are): a client that
 * sends one over-size body after another gets each refused `413`, and the log gets one line.
 * @module
 */

import assert from "node:assert/strict";
import { withIngress } from "./ingress_fixture.ts";
import { readResponse } from "./raw_http.ts";

const enc = new TextEncoder();
const LIMIT = 64 * 1024;

Deno.test("endpoint.too-large is logged once per address however many over-size bodies it sends in a burst", async () => {
  await withIngress({ limits: { maxJsonBytes: LIMIT } }, async (e) => {
    const token = await e.secretToken();
    for (let i = 0; i < 10; i++) {
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: e.port,
        caCerts: [e.pki.caCert],
      });
      try {
        await conn.write(enc.encode(
          `POST /endpoint HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`,
        ));
        assert.equal((await readResponse(conn, 5_000)).status, 413, `request ${i + 1}`);
      } finally {
        conn.close();
      }
    }
    const lines = e.lines.filter((l) => l.includes("endpoint.too-large"));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0]!, /WARN +endpoint\.too-large ip=127\.0\.0\.1 .*declared=65537 refused=1/);
  });
});
