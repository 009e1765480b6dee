/**
 * The fetch-based sender against real `Deno.serve` servers on 127.0.0.1: trust of a test CA,
 * bounded reads that cancel the rest of the stream, one deadline for the whole exchange, aborts,
 * redirects returned instead of followed, and network errors that never show the query string.
 */

import assert from "node:assert/strict";
import { HttpSendError } from "../../../actors/https_out/mod.ts";
import { FetchSender } from "../../../transports/https/fetch_sender.ts";
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

Deno.test("fetch sender times out when no answer comes, and when the body stalls", async () => {
  const held = gate();
  const server = startServer(async (req) => {
    if (req.path === "/silent") {
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
          timeoutMs: 250,
        }),
      );
      const took = performance.now() - t0;
      assert.equal(error.kind, "timeout");
      assert.equal(error.message, `no answer from ${server.origin}${path} within 0.25 s`);
      assert.ok(took >= 240 && took < 3000, `${path} took ${took} ms`);
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
