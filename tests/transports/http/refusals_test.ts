/**
 * How `POST /endpoint` refuses what it cannot take, over the real TLS ingress: a body whose
 * chunked framing is broken gets a `400` that says so (then the connection closes, and the next
 * connection is served); a compressed body a `415` naming its `Content-Encoding`; and every
 * refusal of the message itself leaves one bounded `endpoint.invalid` line naming the source and
 * the problem.
 */

import assert from "node:assert/strict";
import { type Ingress, withIngress } from "./ingress_fixture.ts";
import { readResponse, readUntilClosed } from "./raw_http.ts";
import { waitFor } from "../../helpers/net.ts";

const enc = new TextEncoder();

async function connect(e: Ingress): Promise<Deno.TlsConn> {
  return await Deno.connectTls({ hostname: "127.0.0.1", port: e.port, caCerts: [e.pki.caCert] });
}

/** The `endpoint.invalid` lines logged after line `from`. */
const invalidLines = (e: Ingress, from: number) =>
  e.lines.slice(from).filter((l) => / endpoint\.invalid /.test(l));

Deno.test("endpoint answers 400 with Connection: close to a body whose chunked framing is broken, and serves the next connection", async (t) => {
  await withIngress({}, async (e) => {
    const token = await e.secretToken();
    const head =
      `POST /endpoint HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    const cases: [string, string][] = [
      ["a chunk size that is no hex number", 'zz\r\n{"a":1}\r\n0\r\n\r\n'],
      ["no CRLF after a chunk's data", '7\r\n{"a":1}XX0\r\n\r\n'],
      ["a chunk size too large to be one", 'ffffffffffffffffff\r\n{"a":1}'],
    ];
    for (const [name, body] of cases) {
      await t.step(name, async () => {
        const from = e.lines.length;
        const conn = await connect(e);
        try {
          await conn.write(enc.encode(head + body));
          const r = await readResponse(conn, 5_000);
          assert.equal(r.status, 400, r.body);
          assert.equal(r.headers.get("connection"), "close");
          assert.deepEqual(JSON.parse(r.body), {
            Meta: {
              Errors: [{
                Text: "the body could not be read to its end: malformed chunked encoding",
              }],
            },
          });
          // Then the server closes the connection (it cannot tell where a next request starts).
          await readUntilClosed(conn, 5_000);
        } finally {
          conn.close();
        }
        const lines = e.lines.slice(from).join("\n");
        assert.match(
          lines,
          /WARN +endpoint\.body-failed .*source=lab-secret .*error="malformed chunked encoding"/,
        );
        assert.match(lines, /WARN +http\.client-error .*body="malformed chunked encoding"/);
        assert.equal(e.inbox.requests.length, 0);
        // The engine goes on serving: a well-formed chunked body on a new connection is taken.
        const next = await connect(e);
        try {
          await next.write(enc.encode(head + '7\r\n{"a":1}\r\n0\r\n\r\n'));
          const ok = await readResponse(next, 5_000);
          assert.equal(ok.status, 200, ok.body);
        } finally {
          next.close();
        }
        assert.equal(e.inbox.requests.length, 1);
        e.inbox.requests.length = 0;
      });
    }
  });
});

Deno.test("endpoint answers 415 naming a Content-Encoding it does not take, and logs it", async () => {
  await withIngress({}, async (e) => {
    const token = await e.secretToken();
    const from = e.lines.length;
    const gzipped = await new Response(
      new Blob(['{"Meta":{}}']).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer();
    const r = await e.post(gzipped, token, { "content-encoding": "gzip" });
    assert.equal(r.status, 415);
    assert.deepEqual(r.json, {
      Meta: {
        Errors: [{ Text: "Content-Encoding gzip is not supported; send the body uncompressed" }],
      },
    });
    assert.equal(e.inbox.requests.length, 0);
    const lines = invalidLines(e, from);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0]!,
      /WARN +endpoint\.invalid .*source=lab-secret .*status=415 problem="Content-Encoding gzip is not supported/,
    );
    // identity is no encoding at all: the body is read as it is.
    const plain = await e.post("{}", token, { "content-encoding": "identity" });
    assert.equal(plain.status, 200, JSON.stringify(plain.json));
  });
});

Deno.test("endpoint logs each refusal of the message with its source and problem, and never a huge line", async (t) => {
  await withIngress({}, async (e) => {
    const token = await e.secretToken();

    await t.step("invalid JSON: the parser's problem, not the body", async () => {
      const from = e.lines.length;
      const r = await e.post('{"Patient": "DOE^JANE", oops}', token);
      assert.equal(r.status, 400);
      const lines = invalidLines(e, from);
      assert.equal(lines.length, 1, e.lines.slice(from).join("\n"));
      assert.match(
        lines[0]!,
        /WARN +endpoint\.invalid .*source=lab-secret route=\/endpoint status=400 problem="invalid JSON at line 1, column 25/,
      );
      assert.ok(!lines[0]!.includes("DOE^JANE"), lines[0]);
    });

    await t.step("a 415 Content-Type", async () => {
      const from = e.lines.length;
      const r = await e.post("<x/>", token, { "content-type": "text/plain" });
      assert.equal(r.status, 415);
      const lines = invalidLines(e, from);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /status=415 problem="Content-Type must be application\/json/);
    });

    await t.step("the engine's validation problems: the first, and how many", async () => {
      const from = e.lines.length;
      e.inbox.refusal = {
        ok: false,
        status: 400,
        error: "the message does not match the PatientAdmin.Arrival schema",
        problems: [
          { path: "Patient.Demographics.DOB", rule: "expected a date (YYYY-MM-DD)" },
          { path: "Meta.EventType", rule: "required (a string)" },
        ],
      };
      const r = await e.post("{}", token);
      assert.equal(r.status, 400);
      assert.equal(r.json.Meta.Errors.length, 2);
      const lines = invalidLines(e, from);
      assert.equal(lines.length, 1);
      assert.match(
        lines[0]!,
        /status=400 problem="Patient\.Demographics\.DOB: expected a date \(YYYY-MM-DD\)" problems=2$/,
      );
    });

    await t.step("a problem quoting a huge value is cut in the log line", async () => {
      const from = e.lines.length;
      const huge = "x".repeat(200_000);
      e.inbox.refusal = {
        ok: false,
        status: 404,
        error: `no destination ${huge}`,
      };
      const r = await e.post("{}", token);
      assert.equal(r.status, 404);
      const lines = invalidLines(e, from);
      assert.equal(lines.length, 1);
      assert.ok(lines[0]!.length < 1_000, `a line of ${lines[0]!.length} characters`);
      assert.match(lines[0]!, /status=404 problem="no destination x+… \(200015 characters\)"/);
      e.inbox.refusal = undefined;
    });

    await t.step("a huge Content-Type is cut in the answer and the log line", async () => {
      const from = e.lines.length;
      const r = await e.post("{}", token, { "content-type": `text/${"y".repeat(10_000)}` });
      assert.equal(r.status, 415);
      assert.ok(JSON.stringify(r.json).length < 1_000);
      const lines = invalidLines(e, from);
      assert.equal(lines.length, 1);
      assert.ok(lines[0]!.length < 1_000, `a line of ${lines[0]!.length} characters`);
    });

    await t.step("a refusal before the token is checked stays the 401's own line", async () => {
      const from = e.lines.length;
      const r = await e.post("{}", null);
      assert.equal(r.status, 401);
      await waitFor("the 401 logged", () => e.lines.length > from);
      assert.equal(invalidLines(e, from).length, 0);
      assert.match(e.lines.slice(from).join("\n"), /WARN +endpoint\.unauthorized /);
    });
  });
});

Deno.test("a wrong method on /endpoint is logged once; a FHIR body with broken chunked framing gets 400 and a close", async () => {
  await withIngress({}, async (e) => {
    const token = await e.secretToken();
    const from = e.lines.length;
    const get = await fetch(`https://127.0.0.1:${e.port}/endpoint`, {
      client: Deno.createHttpClient({ caCerts: [e.pki.caCert] }),
    });
    assert.equal(get.status, 405);
    await get.body?.cancel();
    await waitFor("the 405 logged", () => invalidLines(e, from).length > 0);
    assert.match(
      invalidLines(e, from)[0]!,
      /route=\/endpoint status=405 problem="use POST, not GET"/,
    );

    const conn = await connect(e);
    try {
      await conn.write(enc.encode(
        `POST /fhir/R4/Bundle HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
          "Content-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n" +
          'zz\r\n{"a":1}\r\n0\r\n\r\n',
      ));
      const r = await readResponse(conn, 5_000);
      assert.equal(r.status, 400, r.body);
      assert.equal(r.headers.get("connection"), "close");
      assert.match(r.body, /the body could not be read to its end: malformed chunked encoding/);
      await readUntilClosed(conn, 5_000);
    } finally {
      conn.close();
    }
  });
});
