/**
 * Console bodies from a hostile client: a form body is capped before anything reads it (sign-in
 * needs no session, and the form parser buffers a body whole: 600 MB of it ended the process), and
 * a body that is not a form is the sender's mistake (400), not the engine's (500).
 * @module
 */

import assert from "node:assert/strict";
import { MAX_FORM_BYTES } from "../../../../transports/http/console/security.ts";
import { signIn, startConsoleEngine, TOKEN } from "./fixture.ts";

/** A body of `bytes` bytes of "a", streamed in 64 KiB chunks (sent chunked, no length). */
function streamed(bytes: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  let left = bytes;
  return new ReadableStream({
    pull(controller) {
      if (left <= 0) return controller.close();
      const n = Math.min(left, chunk.length);
      controller.enqueue(chunk.subarray(0, n));
      left -= n;
    },
  });
}

Deno.test("console: a sign-in body over the form limit is refused with 413, by its length or as it streams, and the engine goes on", async () => {
  const e = await startConsoleEngine();
  try {
    const byLength = await fetch(`${e.base}/console/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "a".repeat(MAX_FORM_BYTES + 1),
    });
    assert.equal(byLength.status, 413);
    assert.match(await byLength.text(), /a console form is at most 65536 bytes/);
    // Chunked, 64 MiB: refused once the limit is passed, not after the whole body was buffered.
    const chunked = await fetch(`${e.base}/console/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: streamed(64 * 1024 * 1024),
      duplex: "half",
    } as RequestInit);
    assert.equal(chunked.status, 413);
    await chunked.body?.cancel();
    const health = await fetch(`${e.base}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    // A form within the limit still signs in.
    const admin = await signIn(e.base, { token: TOKEN });
    assert.ok(admin.cookie.length > 0);
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});

Deno.test("console: a signed-in form body over the limit gets 413; a body that is not a form gets 400, at sign-in and after", async () => {
  const e = await startConsoleEngine();
  try {
    const admin = await signIn(e.base, { token: TOKEN });
    const big = await fetch(`${e.base}/console/actors/x/pause`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: admin.cookie, "content-type": "application/x-www-form-urlencoded" },
      body: `_csrf=${admin.csrf}&reason=${"r".repeat(MAX_FORM_BYTES)}`,
    });
    assert.equal(big.status, 413);
    await big.body?.cancel();
    const broken = "multipart/form-data";
    const login = await fetch(`${e.base}/console/login`, {
      method: "POST",
      headers: { "content-type": broken },
      body: "--zzz\r\nContent-Disposition: form-data\r\n\r\nno end",
    });
    assert.equal(login.status, 400);
    assert.match(await login.text(), /The sign-in form could not be read/);
    const action = await fetch(`${e.base}/console/actors/x/pause`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: admin.cookie, "content-type": broken },
      body: "--zzz\r\nContent-Disposition: form-data\r\n\r\nno end",
    });
    assert.equal(action.status, 400);
    assert.match(await action.text(), /the form could not be read/);
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});
