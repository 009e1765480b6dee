/**
 * The fetch-based sender against real `Deno.serve` servers on 127.0.0.1: trust of a test CA,
 * bounded reads that cancel the rest of the stream, one deadline for the whole exchange, aborts,
 * redirects returned instead of followed, and network errors that never show the query string.
 * Answers whose body does not end come from a raw TLS listener that writes the exact bytes.
 */

import assert from "node:assert/strict";
import { HttpSendError } from "../../../actors/https_out/mod.ts";
import { FetchSender, IncompleteAnswerError } from "../../../transports/https/fetch_sender.ts";
import { freePort, waitFor } from "../../helpers/net.ts";
import { makePki } from "../../helpers/tls.ts";
import { gate, startServer } from "../../actors/https_out/fixtures/server.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

async function sendError(promise: Promise<unknown>): Promise<HttpSendError> {
  const error = await promise.then(() => assert.fail("no error"), (e) => e);
  assert.ok(error instanceof HttpSendError, String(error));
  return error;
}

Deno.test("fetch sender trusts the CA it is given and refuses an unknown issuer without it", async () => {
  const server = startServer(
    (req) => new Response(`got ${req.text}`, { status: req.path === "/fail" ? 500 : 200 }),
    pki,
  );
  const trusting = new FetchSender({ caCerts: [pki.caCert] });
  const plain = new FetchSender();
  try {
    const res = await trusting.send({
      url: `${server.origin}/x`,
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "hello",
      timeoutMs: 5000,
    });
    assert.deepEqual([res.status, res.body, res.truncated], [200, "got hello", false]);
    // A delivery drops the body of a success unread, but reads the body of a failure.
    for (const [path, expected] of [["/x", ""], ["/fail", "got bad"]] as const) {
      const r = await trusting.send({
        url: `${server.origin}${path}`,
        method: "POST",
        headers: {},
        body: path === "/x" ? "hello" : "bad",
        timeoutMs: 5000,
        discardSuccessBody: true,
      });
      assert.equal(r.body, expected, path);
    }
    const error = await sendError(
      plain.send({ url: `${server.origin}/x`, method: "GET", headers: {}, timeoutMs: 5000 }),
    );
    assert.equal(error.kind, "network");
    assert.match(error.message, /certificate/i);
    assert.equal(server.requests.length, 3);
  } finally {
    trusting.close();
    plain.close();
    await server.close();
  }
});

Deno.test("fetch sender reads at most maxBodyBytes and cancels the rest of an endless body", async () => {
  let cancelled = false;
  let chunks = 0;
  const chunk = new TextEncoder().encode("y".repeat(16 * 1024));
  const server = startServer(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          chunks++;
          controller.enqueue(chunk);
        },
        cancel() {
          cancelled = true;
        },
      }),
    ), pki);
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const res = await sender.send({
      url: `${server.origin}/endless`,
      method: "GET",
      headers: {},
      timeoutMs: 5000,
      maxBodyBytes: 40_000,
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 40_000);
    assert.equal(res.truncated, true);
    await waitFor("the server's stream to be cancelled", () => cancelled, 5000);
    assert.ok(chunks < 200, `${chunks} chunks were produced`);
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("fetch sender times out when no answer comes, and names the status when the body stalls", async () => {
  const held = gate();
  const server = startServer(async (req) => {
    if (req.path.startsWith("/silent?")) {
      await held.wait;
      return new Response("late");
    }
    // Headers and a first piece at once, then nothing until the test ends.
    return new Response(
      new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode("partial"));
          await held.wait;
          controller.close();
        },
      }),
    );
  }, pki);
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    for (const path of ["/silent", "/stall"]) {
      const t0 = performance.now();
      const error = await sendError(
        sender.send({
          url: `${server.origin}${path}?token=s3cret`,
          method: "GET",
          headers: {},
          // 1 s, not less: for "/stall", the TLS handshake and the headers must come within it
          // (on a loaded machine they can take a few hundred ms, and the error is then "no answer").
          timeoutMs: 1000,
        }),
      );
      const took = performance.now() - t0;
      assert.equal(error.kind, "timeout");
      assert.equal(
        error.message,
        path === "/silent"
          ? `no answer from ${server.origin}${path} within 1 s`
          : `HTTP 200 from ${server.origin}${path}, but its body did not end within 1 s ` +
            `(7 bytes read: "partial"), so it is not taken as a success: ` +
            `the receiver may not have finished`,
      );
      // A sender without the deadline waits until the test ends (the server holds both answers).
      // Measured 1,002-1,006 ms, 1,057 ms beside two CPU hogs: 8 s leaves a slow, busy machine
      // its pauses (4 s was under 4x that) and still fails a deadline timer set 10x too long.
      assert.ok(took >= 990 && took < 8000, `${path} took ${took} ms`);
    }
  } finally {
    held.open();
    sender.close();
    await server.close();
  }
});

Deno.test("fetch sender stops at once when the caller's signal aborts", async () => {
  const held = gate();
  const server = startServer(async () => {
    await held.wait;
    return new Response("late");
  }, pki);
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const abort = new AbortController();
    const sending = sender.send({
      url: `${server.origin}/wait`,
      method: "POST",
      headers: {},
      body: "x",
      timeoutMs: 30_000,
      signal: abort.signal,
    });
    await waitFor("the request to arrive", () => server.requests.length === 1);
    abort.abort();
    const error = await sendError(sending);
    assert.equal(error.kind, "aborted");
    const already = await sendError(
      sender.send({
        url: `${server.origin}/wait`,
        method: "GET",
        headers: {},
        timeoutMs: 1000,
        signal: abort.signal,
      }),
    );
    assert.equal(already.kind, "aborted");
    assert.equal(server.requests.length, 1);
  } finally {
    held.open();
    sender.close();
    await server.close();
  }
});

Deno.test("fetch sender returns a redirect as it is and does not follow it", async () => {
  const server = startServer(
    (req) =>
      req.path === "/old"
        ? new Response(null, { status: 302, headers: { location: `${server.origin}/new` } })
        : new Response("followed"),
    pki,
  );
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const res = await sender.send({
      url: `${server.origin}/old`,
      method: "POST",
      headers: { authorization: "Bearer must-not-travel" },
      body: "{}",
      timeoutMs: 5000,
    });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), `${server.origin}/new`);
    assert.deepEqual(server.requests.map((r) => r.path), ["/old"]);
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("fetch sender reports a refused connection as a network error without the query", async () => {
  // Nothing listens there: a port free a moment ago is the best a test can name.
  const port = freePort();
  const sender = new FetchSender();
  try {
    const url = `http://127.0.0.1:${port}/hook?verification-token=s3cret&challenge=c`;
    const error = await sendError(
      sender.send({ url, method: "GET", headers: {}, timeoutMs: 5000 }),
    );
    assert.equal(error.kind, "network");
    assert.match(
      error.message,
      new RegExp(`^http://127\\.0\\.0\\.1:${port}/hook: .*Connection refused`),
    );
    assert.ok(!error.message.includes("s3cret"), error.message);
    sender.close();
    const closed = await sendError(
      sender.send({ url, method: "GET", headers: {}, timeoutMs: 5000 }),
    );
    assert.equal(closed.kind, "aborted");
  } finally {
    sender.close();
  }
});

const encoder = new TextEncoder();

/** A raw TLS server on 127.0.0.1: reads each request's head, then lets `answer` write bytes. */
interface RawServer {
  readonly origin: string;
  /** Resolves when {@link close} is called: an answer that stays silent waits on it. */
  readonly closing: Promise<void>;
  /** Stops listening, drops every connection and waits for the answers to end. */
  close(): Promise<void>;
}

function rawTlsServer(answer: (conn: Deno.Conn, server: RawServer) => Promise<void>): RawServer {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.serverCert,
    key: pki.serverKey,
  });
  const conns = new Set<Deno.Conn>();
  const answers: Promise<void>[] = [];
  const closing = gate();
  const server: RawServer = {
    origin: `https://127.0.0.1:${listener.addr.port}`,
    closing: closing.wait,
    async close() {
      closing.open();
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await accepting;
      await Promise.allSettled(answers);
    },
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        answers.push(
          readHead(conn).then(() => answer(conn, server)).catch(() => {
            // The client went away, or the test closed the server: nothing to answer.
          }),
        );
      }
    } catch { /* the listener was closed */ }
  })();
  return server;
}

/** Reads until the end of a request's head (at most 64 KiB). */
async function readHead(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  let size = 0;
  while (!new TextDecoder().decode(buf.subarray(0, size)).includes("\r\n\r\n")) {
    const n = await conn.read(buf.subarray(size));
    if (n === null) throw new Error("the client closed before its request ended");
    size += n;
  }
}

/** Writes all of `text`. */
async function writeAll(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

Deno.test("fetch sender names the status and the bytes read when a 500's body stops before its content-length", async () => {
  const server = rawTlsServer(async (conn, srv) => {
    await writeAll(conn, "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 100\r\n\r\nhello");
    await srv.closing;
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    for (const discardSuccessBody of [false, true]) {
      const t0 = performance.now();
      const error = await sendError(
        sender.send({
          url: `${server.origin}/in?token=s3cret`,
          method: "POST",
          headers: {},
          body: "MSH|...",
          // 1 s: the TLS handshake and the status must come within it, on a loaded machine too.
          timeoutMs: 1000,
          discardSuccessBody,
        }),
      );
      const took = performance.now() - t0;
      assert.equal(error.kind, "timeout");
      assert.equal(
        error.message,
        `HTTP 500 from ${server.origin}/in, but its body did not end within 1 s ` +
          `(5 bytes read: "hello")`,
      );
      // Measured 1,002-1,026 ms, 1,055 ms beside two CPU hogs (see the test above).
      assert.ok(took >= 990 && took < 8000, `took ${took} ms`);
      assert.ok(error instanceof IncompleteAnswerError);
      assert.deepEqual(
        [error.response.status, error.response.body, error.response.truncated],
        [500, "hello", true],
      );
      assert.equal(error.response.headers.get("content-length"), "100");
    }
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("fetch sender does not take a 200 whose body never ends as a success, even when it drops success bodies", async () => {
  const server = rawTlsServer(async (conn, srv) => {
    await writeAll(conn, "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nok");
    await srv.closing;
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    for (const discardSuccessBody of [true, false]) {
      const error = await sendError(
        sender.send({
          url: `${server.origin}/in`,
          method: "POST",
          headers: {},
          body: "x",
          // 1 s: the TLS handshake and the status must come within it, on a loaded machine too.
          timeoutMs: 1000,
          discardSuccessBody,
        }),
      );
      assert.equal(error.kind, "timeout", `discardSuccessBody ${discardSuccessBody}`);
      assert.equal(
        error.message,
        `HTTP 200 from ${server.origin}/in, but its body did not end within 1 s ` +
          `(2 bytes read: "ok"), so it is not taken as a success: ` +
          `the receiver may not have finished`,
      );
    }
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("fetch sender reports the status and the bytes read of a body trickled past the deadline", async () => {
  let written = 0;
  const server = rawTlsServer(async (conn) => {
    await writeAll(conn, "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 1000\r\n\r\n");
    // One byte every 50 ms, at most 200 (10 s): the client's deadline comes long before.
    for (let i = 0; i < 200; i++) {
      await conn.write(encoder.encode("x"));
      written++;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const error = await sendError(
      // 1 s: the handshake, the status and two of the bytes 50 ms apart must come within it, on a
      // loaded machine too (at 0.3 s they had 200 ms of slack).
      sender.send({ url: `${server.origin}/in`, method: "GET", headers: {}, timeoutMs: 1000 }),
    );
    assert.equal(error.kind, "timeout");
    const m = error.message.match(
      /^HTTP 500 from (\S+), but its body did not end within 1 s \((\d+) bytes read: "(x+)"\)$/,
    );
    assert.ok(m, error.message);
    assert.equal(m[1], `${server.origin}/in`);
    const count = Number(m[2]);
    assert.equal(m[3]?.length, count);
    // Several bytes came one by one before the deadline, and none is lost.
    assert.ok(count >= 2 && count <= written, `${count} bytes read, ${written} written`);
    assert.ok(error instanceof IncompleteAnswerError);
    assert.equal(error.response.body, "x".repeat(count));
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("fetch sender still says no answer when no status came within the deadline", async () => {
  const server = rawTlsServer(async (_conn, srv) => {
    await srv.closing;
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const error = await sendError(
      sender.send({
        url: `${server.origin}/in`,
        method: "POST",
        headers: {},
        body: "x",
        timeoutMs: 300,
      }),
    );
    assert.equal(error.kind, "timeout");
    assert.equal(error.message, `no answer from ${server.origin}/in within 0.3 s`);
    assert.ok(!(error instanceof IncompleteAnswerError));
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("fetch sender names the status and the bytes read when the connection breaks mid-body, without the credentials quoted", async () => {
  const server = rawTlsServer(async (conn) => {
    await writeAll(
      conn,
      "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 1000\r\n\r\n" +
        "upstream refused Bearer tok-s3cret-123 for   you",
    );
    conn.close();
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const error = await sendError(
      sender.send({
        url: `${server.origin}/in`,
        method: "POST",
        headers: { authorization: "Bearer tok-s3cret-123" },
        body: "x",
        timeoutMs: 30_000,
      }),
    );
    assert.equal(error.kind, "network");
    assert.match(
      error.message,
      new RegExp(
        `^HTTP 502 from ${server.origin.replaceAll(".", "\\.")}/in, but its body did not end: ` +
          `.+ \\(48 bytes read: "upstream refused \\[redacted\\] for you"\\)$`,
      ),
    );
    assert.ok(!error.message.includes("tok-s3cret"), error.message);
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("fetch sender keeps a body exactly maxBodyBytes long whole and truncates one byte longer", async () => {
  const server = startServer((req) => new Response("z".repeat(Number(req.path.slice(1)))), pki);
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    for (const [length, truncated] of [[1000, false], [1001, true], [0, false]] as const) {
      const res = await sender.send({
        url: `${server.origin}/${length}`,
        method: "GET",
        headers: {},
        timeoutMs: 5000,
        maxBodyBytes: 1000,
      });
      assert.deepEqual(
        [res.status, res.body.length, res.truncated],
        [200, Math.min(length, 1000), truncated],
        `${length} bytes`,
      );
    }
  } finally {
    sender.close();
    await server.close();
  }
});
