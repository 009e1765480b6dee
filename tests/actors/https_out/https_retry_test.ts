/**
 * HTTPS delivery failures end to end (real `DeliveryActor`, Store, `FetchSender` and HTTPS
 * receivers, retries driven by a ManualClock): error statuses, timeouts, network errors and
 * redirects each keep the head, record an attempt with a bounded, redacted reason, and retry.
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { makePki } from "../../helpers/tls.ts";
import { freePort, waitFor } from "../../helpers/net.ts";
import {
  json,
  startHttpsOutbound,
  TOKEN,
  tokenConfig,
  waitForBackoff,
} from "./fixtures/https_outbound.ts";
import { gate, startServer } from "./fixtures/server.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

Deno.test("https deliverer retries after a 500 and logs both attempts with status and a bounded snippet", async () => {
  const clock = new ManualClock();
  const longBody = `database busy ${"x".repeat(2000)}`;
  const receiver = startServer(
    () =>
      receiver.requests.length === 1
        ? new Response(longBody, { status: 500 })
        : new Response("stored", { status: 201 }),
    pki,
  );
  const out = await startHttpsOutbound({
    config: tokenConfig(`${receiver.origin}/hook`),
    caCert: pki.caCert,
    clock,
  });
  try {
    await out.enqueue({ key: "a", payload: json(1) }, { key: "b", payload: json(2) });
    await waitForBackoff(out, clock, "a", 1);
    assert.equal(receiver.requests.length, 1, "the message behind the head went out");
    clock.advance(0); // the first retry is immediate
    await waitFor("both delivered", async () => (await out.logOf("b")).status === "SUCCEEDED");
    const log = await out.logOf("a");
    assert.deepEqual(log.attempts.map((a) => a.outcome), ["FAILED", "SUCCEEDED"]);
    const failed = log.attempts[0]?.reason ?? "";
    assert.ok(failed.startsWith("HTTP 500: database busy xxx"), failed);
    assert.equal(failed, `HTTP 500: ${longBody.slice(0, 256)}…`);
    assert.equal(log.attempts[1]?.reason, "HTTP 201");
    assert.deepEqual(receiver.requests.map((r) => r.text), [json(1), json(1), json(2)]);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("https deliverer takes no answer within timeoutSeconds as a failure and retries", async () => {
  const clock = new ManualClock();
  const held = gate();
  const receiver = startServer(
    async () => {
      if (receiver.requests.length === 1) await held.wait;
      return new Response("ok");
    },
    pki,
  );
  const out = await startHttpsOutbound({
    config: tokenConfig(`${receiver.origin}/slow`, { timeoutSeconds: 0.3 }),
    caCert: pki.caCert,
    clock,
  });
  try {
    await out.enqueue({ key: "t", payload: json(1) });
    await waitForBackoff(out, clock, "t", 1);
    const reason = (await out.logOf("t")).attempts[0]?.reason ?? "";
    assert.equal(reason, `no answer from ${receiver.origin}/slow within 0.3 s`);
    held.open(); // the late answer goes to a client that has given up
    clock.advance(0);
    await waitFor("delivered", async () => (await out.logOf("t")).status === "SUCCEEDED");
    assert.equal(receiver.requests.length, 2);
  } finally {
    held.open();
    await out.stop();
    await receiver.close();
  }
});

Deno.test("https deliverer retries after a network error until the receiver is up", async () => {
  const clock = new ManualClock();
  // Chosen ahead, not 0: refused at first, so nothing may listen before the receiver starts.
  const port = freePort();
  const out = await startHttpsOutbound({
    config: tokenConfig(`https://127.0.0.1:${port}/hook`),
    caCert: pki.caCert,
    clock,
  });
  let receiver: ReturnType<typeof Deno.serve> | undefined;
  try {
    await out.enqueue({ key: "n", payload: json(1) });
    await waitForBackoff(out, clock, "n", 1);
    const reason = (await out.logOf("n")).attempts[0]?.reason ?? "";
    assert.ok(
      reason.startsWith(
        `https://127.0.0.1:${port}/hook: client error (Connect): tcp connect error: ` +
          "Connection refused",
      ),
      reason,
    );
    const got: string[] = [];
    receiver = Deno.serve({
      hostname: "127.0.0.1",
      port,
      cert: pki.serverCert,
      key: pki.serverKey,
      onListen: () => {},
    }, async (req) => {
      got.push(await req.text());
      return new Response("ok");
    });
    clock.advance(0);
    await waitFor("delivered", async () => (await out.logOf("n")).status === "SUCCEEDED");
    assert.deepEqual(got, [json(1)]);
  } finally {
    await out.stop();
    await receiver?.shutdown();
  }
});

Deno.test("https deliverer takes a redirect as a failure naming its Location, and does not follow it", async () => {
  const clock = new ManualClock();
  const receiver = startServer(
    (req) =>
      req.path === "/moved"
        ? new Response(null, { status: 308, headers: { location: "/new-home" } })
        : new Response("should not be reached"),
    pki,
  );
  const out = await startHttpsOutbound({
    config: tokenConfig(`${receiver.origin}/moved`),
    caCert: pki.caCert,
    clock,
  });
  try {
    await out.enqueue({ key: "r", payload: json(1) });
    await waitForBackoff(out, clock, "r", 1);
    assert.equal(
      (await out.logOf("r")).attempts[0]?.reason,
      "HTTP 308: redirect to /new-home (redirects are not followed)",
    );
    assert.deepEqual(receiver.requests.map((r) => r.path), ["/moved"]);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("https deliverer keeps tokens a failing receiver echoes back out of the log", async () => {
  const clock = new ManualClock();
  const receiver = startServer(
    (req) =>
      new Response(`rejected: headers were ${JSON.stringify(Object.fromEntries(req.headers))}`, {
        status: 400,
      }),
    pki,
  );
  const out = await startHttpsOutbound({
    config: tokenConfig(`${receiver.origin}/echo`),
    caCert: pki.caCert,
    clock,
  });
  try {
    await out.enqueue({ key: "e", payload: json(1) });
    await waitForBackoff(out, clock, "e", 1);
    const reason = (await out.logOf("e")).attempts[0]?.reason ?? "";
    assert.match(reason, /^HTTP 400: rejected: headers were .*\[redacted\]/);
    assert.ok(!reason.includes(TOKEN), reason);
    assert.ok(!out.log.lines.join("\n").includes(TOKEN));
  } finally {
    await out.stop();
    await receiver.close();
  }
});
