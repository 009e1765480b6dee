/**
 * HTTPS delivery end to end: a real `DeliveryActor` with the `HttpsDeliverer` that
 * `HttpsDestinations` builds, a real Store on a KV file, the real `FetchSender`, and real
 * `Deno.serve` receivers over HTTPS with a test CA: headers and bodies, FIFO with one in flight,
 * OAuth tokens in delivery, and production destinations held back until verified.
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { makePki } from "../../helpers/tls.ts";
import { waitFor } from "../../helpers/net.ts";
import { startAuthServer } from "./fixtures/auth_server.ts";
import { httpsDestinationConfig } from "./fixtures/config.ts";
import {
  json,
  startHttpsOutbound,
  TOKEN,
  tokenConfig,
  waitForBackoff,
} from "./fixtures/https_outbound.ts";
import { startServer } from "./fixtures/server.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

Deno.test("https deliverer posts JSON in order, one in flight, with the verification-token and bearer headers", async () => {
  let inFlight = 0;
  let most = 0;
  const receiver = startServer(async () => {
    inFlight++;
    most = Math.max(most, inFlight);
    // Answer a moment later, so a second request sent without waiting would overlap this one.
    await new Promise((r) => setTimeout(r, 2));
    inFlight--;
    return Response.json({ received: true });
  }, pki);
  const out = await startHttpsOutbound({
    config: tokenConfig(`${receiver.origin}/hook?tenant=a`),
    caCert: pki.caCert,
    deferStart: true,
  });
  try {
    const messages = Array.from({ length: 20 }, (_, i) => ({ key: `m${i}`, payload: json(i) }));
    await out.enqueue(...messages.slice(0, 10));
    out.start();
    await out.enqueue(...messages.slice(10));
    await waitFor("20 deliveries", async () => (await out.logOf("m19")).status === "SUCCEEDED");
    assert.deepEqual(receiver.requests.map((r) => r.text), messages.map((m) => m.payload));
    assert.equal(most, 1, "two requests were in flight at once");
    for (const r of receiver.requests) {
      assert.equal(r.method, "POST");
      assert.equal(r.path, "/hook?tenant=a");
      assert.equal(r.headers.get("verification-token"), TOKEN);
      assert.equal(r.headers.get("authorization"), `Bearer ${TOKEN}`);
      assert.equal(r.headers.get("content-type"), "application/json");
    }
    for (const m of messages) {
      const log = await out.logOf(m.key);
      assert.equal(log.attemptCount, 1);
      assert.equal(log.attempts[0]?.reason, "HTTP 200");
    }
    const status = await out.actor.status();
    assert.equal(status.kind, "https");
    assert.deepEqual(
      { ...status.detail, lastAt: undefined },
      {
        url: `${receiver.origin}/hook?tenant=a`,
        auth: "token",
        verificationRequired: false,
        lastStatus: 200,
        lastOutcome: "succeeded",
        lastAt: undefined,
      },
    );
    assert.ok(!JSON.stringify(status).includes(TOKEN), "the status shows the token");
    assert.ok(!out.log.lines.join("\n").includes(TOKEN), "the token was logged");
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("https deliverer sends HL7v2 as UTF-8 text, decoded from its own charset", async () => {
  const receiver = startServer(() => new Response("ok"), pki);
  const out = await startHttpsOutbound({
    config: tokenConfig(`${receiver.origin}/hl7`),
    caCert: pki.caCert,
  });
  try {
    const hl7 =
      "MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240315||ORU^R01|C1|P|2.5.1\rPID|1||42||MÜLLER^JOSÉ";
    // windows-1252 bytes without MSH-18: the fallback charset reads them.
    const cp1252 = Uint8Array.from(hl7, (c) => c.charCodeAt(0));
    await out.enqueue({ key: "hl7", payload: cp1252, contentType: "application/hl7-v2" });
    await waitFor("delivered", async () => (await out.logOf("hl7")).status === "SUCCEEDED");
    const r = receiver.requests[0]!;
    assert.equal(r.headers.get("content-type"), "text/plain; charset=utf-8");
    // Sent as UTF-8, so MSH-18 (absent, MSH-13 to MSH-17 empty) says so.
    assert.equal(r.text, hl7.replace("2.5.1", "2.5.1||||||UNICODE UTF-8"));
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("https deliverer fetches a new OAuth token once after a 401 and then delivers", async () => {
  const clock = new ManualClock(Date.now());
  const server = startAuthServer({
    pki,
    checkTokenRequest: (req, form) =>
      req.headers.get("authorization") === `Basic ${btoa("engine:pw")}` &&
        form.get("grant_type") === "client_credentials"
        ? { ok: true, clientId: "engine" }
        : { ok: false, status: 401, error: "invalid_client", description: "bad client" },
  });
  const config = httpsDestinationConfig({
    https: {
      url: server.resourceUrl,
      verificationToken: { env: "VT" },
      auth: {
        type: "oauth2",
        tokenUrl: server.tokenUrl,
        clientId: "engine",
        clientSecret: { env: "PW" },
      },
    },
    env: { VT: TOKEN, PW: "pw" },
  }).config;
  const out = await startHttpsOutbound({ config, caCert: pki.caCert, clock });
  try {
    await out.enqueue({ key: "one", payload: json(1) });
    await waitFor("first", async () => (await out.logOf("one")).status === "SUCCEEDED");
    // The token is revoked early (the API now answers 401 to it).
    server.revokeAll();
    await out.enqueue({ key: "two", payload: json(2) });
    await waitForBackoff(out, clock, "two", 1);
    assert.match((await out.logOf("two")).attempts[0]?.reason ?? "", /^HTTP 401: /);
    assert.equal(server.tokenRequests.length, 1, "re-fetched before the next attempt");
    clock.advance(0);
    await waitFor("second", async () => (await out.logOf("two")).status === "SUCCEEDED");
    assert.equal(server.tokenRequests.length, 2, "not exactly one new token");
    assert.equal(server.refused.length, 1);
    assert.deepEqual(server.resourceRequests.map((r) => r.text), [json(1), json(2)]);
    for (const r of server.resourceRequests) {
      assert.equal(r.headers.get("verification-token"), TOKEN);
    }
    const status = await out.actor.status();
    const detail = status.detail ?? {};
    assert.equal(detail.auth, "oauth2");
    assert.equal(typeof detail.tokenExpiresAt, "number");
    for (const t of server.tokens) assert.ok(!JSON.stringify(status).includes(t.token));
  } finally {
    await out.stop();
    await server.close();
  }
});

Deno.test("https deliverer whose token endpoint refuses sends nothing and logs the endpoint's answer", async () => {
  const clock = new ManualClock(Date.now());
  const server = startAuthServer({
    pki,
    checkTokenRequest: () => ({
      ok: false,
      status: 401,
      error: "invalid_client",
      description: "unknown client",
    }),
  });
  const config = httpsDestinationConfig({
    https: {
      url: server.resourceUrl,
      verificationToken: { env: "VT" },
      auth: {
        type: "oauth2",
        tokenUrl: server.tokenUrl,
        clientId: "x",
        clientSecret: { env: "PW" },
        secretIn: "body",
      },
    },
    env: { VT: TOKEN, PW: "pw" },
  }).config;
  const out = await startHttpsOutbound({ config, caCert: pki.caCert, clock });
  try {
    await out.enqueue({ key: "c", payload: json(1) });
    await waitForBackoff(out, clock, "c", 1);
    assert.equal(
      (await out.logOf("c")).attempts[0]?.reason,
      `credentials: token endpoint ${server.tokenUrl} answered HTTP 401: invalid_client: unknown client`,
    );
    assert.equal(server.resourceRequests.length + server.refused.length, 0);
  } finally {
    await out.stop();
    await server.close();
  }
});

Deno.test("https deliverer to an unverified production destination sends nothing until it is verified", async () => {
  const clock = new ManualClock();
  const receiver = startServer((req) => {
    if (
      req.headers.get("content-type") === "application/json" && req.text.includes('"challenge"')
    ) {
      return Response.json({ challenge: JSON.parse(req.text).challenge });
    }
    return new Response("ok");
  }, pki);
  const out = await startHttpsOutbound({
    config: tokenConfig(`${receiver.origin}/prod`, {}, "production"),
    caCert: pki.caCert,
    clock,
  });
  try {
    await out.enqueue({ key: "p", payload: json(1) });
    await waitForBackoff(out, clock, "p", 1);
    clock.advance(0);
    await waitForBackoff(out, clock, "p", 2);
    assert.equal(receiver.requests.length, 0, "an unverified production destination got a message");
    const log = await out.logOf("p");
    assert.equal(
      log.attempts[1]?.reason,
      "destination ehr is not verified (POST /admin/destinations/ehr/verify)",
    );
    assert.equal((await out.actor.status()).detail?.verified, false);

    const result = await out.destinations.verify("ehr");
    assert.equal(result?.verified, true, result?.reason);
    const retry = await out.actor.command("retry", "ops", "verified");
    assert.equal(retry.ok, true, retry.message);
    await waitFor("delivered", async () => (await out.logOf("p")).status === "SUCCEEDED");
    assert.equal(receiver.requests.length, 2);
    assert.equal(receiver.requests[1]?.text, json(1));
    const detail = (await out.actor.status()).detail ?? {};
    assert.equal(detail.verified, true);
    assert.equal(detail.verificationRequired, true);
  } finally {
    await out.stop();
    await receiver.close();
  }
});
