/**
 * The admin routes of destinations (`GET /destinations`, `POST /destinations/:id/verify`) through
 * Hono's `app.request`, backed by the real `HttpsDestinations` on an in-memory KV and a real HTTPS
 * receiver that answers verification challenges.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { HttpsDestinations } from "../../../actors/https_out/mod.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/store.ts";
import { createDestinationsApp } from "../../../transports/http/destinations.ts";
import { FetchSender } from "../../../transports/https/fetch_sender.ts";
import { makePki } from "../../helpers/tls.ts";
import { startServer } from "../../actors/https_out/fixtures/server.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

Deno.test("destinations app lists destinations and verifies an HTTPS one by id", async () => {
  const receiver = startServer((req) => {
    const challenge = JSON.parse(req.text).challenge;
    return req.path === "/good" ? Response.json({ challenge }) : new Response("nope");
  }, pki);
  const store = await Store.open({ path: ":memory:", node: "test" });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  const clock = new ManualClock();
  try {
    const parsed = parseConfig({
      environments: [{ id: "prod", type: "production" }, { id: "dev", type: "development" }],
      destinations: [
        {
          id: "ehr",
          name: "EHR webhook",
          environment: "prod",
          https: { url: `${receiver.origin}/good`, verificationToken: { env: "VT" } },
        },
        {
          id: "app",
          environment: "prod",
          https: { url: `${receiver.origin}/bad`, verificationToken: { env: "VT" } },
        },
        {
          id: "dev-app",
          environment: "dev",
          https: { url: "http://127.0.0.1:1/x", verificationToken: { env: "VT" } },
        },
        { id: "lab", environment: "dev", mllp: { host: "10.1.2.3", port: 2575 } },
      ],
    }, { env: () => "token-123", readFile: () => new Error("none") });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const destinations = new HttpsDestinations({
      config: parsed.config,
      records: store.verifications,
      sender,
      clock,
      log: memoryLogger(),
    });
    const app = createDestinationsApp({
      list: () => destinations.list(),
      verify: (id) => destinations.verify(id),
    });

    const listed = await app.request("/destinations");
    assert.equal(listed.status, 200);
    assert.equal(listed.headers.get("cache-control"), "no-store");
    const before = (await listed.json()).destinations;
    assert.deepEqual(before, [
      {
        id: "ehr",
        name: "EHR webhook",
        environment: "prod",
        environmentType: "production",
        type: "https",
        url: `${receiver.origin}/good`,
        auth: "token",
        verificationRequired: true,
        verified: false,
        verifiedAt: null,
      },
      {
        id: "app",
        environment: "prod",
        environmentType: "production",
        type: "https",
        url: `${receiver.origin}/bad`,
        auth: "token",
        verificationRequired: true,
        verified: false,
        verifiedAt: null,
      },
      {
        id: "dev-app",
        environment: "dev",
        environmentType: "development",
        type: "https",
        url: "http://127.0.0.1:1/x",
        auth: "token",
        verificationRequired: false,
        verified: false,
        verifiedAt: null,
      },
      {
        id: "lab",
        environment: "dev",
        environmentType: "development",
        type: "mllp",
        url: "mllp://10.1.2.3:2575",
        verificationRequired: false,
        verified: null,
        verifiedAt: null,
      },
    ]);

    const good = await app.request("/destinations/ehr/verify", { method: "POST" });
    assert.equal(good.status, 200);
    const goodBody = await good.json();
    assert.equal(goodBody.verified, true, goodBody.reason);
    assert.equal(goodBody.destinationId, "ehr");
    assert.equal(goodBody.status, 200);

    const bad = await app.request("/destinations/app/verify", { method: "POST" });
    assert.equal(bad.status, 200);
    const badBody = await bad.json();
    assert.equal(badBody.verified, false);
    assert.equal(badBody.reason, "HTTP 200 but the answer does not echo the challenge: nope");

    for (const id of ["lab", "unknown", "x".repeat(128)]) {
      const res = await app.request(`/destinations/${id}/verify`, { method: "POST" });
      assert.equal(res.status, 404, id);
      assert.equal((await res.json()).error, `no HTTPS destination ${JSON.stringify(id)}`);
    }
    const long = await app.request(`/destinations/${"x".repeat(100 * 1024)}/verify`, {
      method: "POST",
    });
    assert.equal(long.status, 400);
    assert.deepEqual(await long.json(), { error: "id: at most 128 characters; got 102400" });
    assert.equal((await app.request("/destinations/ehr/verify")).status, 404, "GET verifies");

    const after = (await (await app.request("/destinations")).json()).destinations;
    assert.equal(after[0].verified, true);
    assert.equal(after[0].verifiedAt, new Date(clock.now()).toISOString());
    assert.equal(after[0].lastVerification.reason, "HTTP 200; the answer echoes the challenge");
    assert.equal(after[1].verified, false);
    assert.equal(after[1].lastVerification.status, 200);
    assert.ok(!JSON.stringify(after).includes("token-123"), "the verification token is listed");
    assert.equal(receiver.requests.length, 2);
  } finally {
    sender.close();
    store.close();
    await receiver.close();
  }
});

Deno.test("destinations app answers a failing listing with a JSON 500", async () => {
  const app = createDestinationsApp({
    list: () => Promise.reject(new Error("KV is unavailable")),
    verify: () => undefined,
  });
  const res = await app.request("/destinations");
  assert.equal(res.status, 500);
  assert.deepEqual(await res.json(), { error: "destinations: KV is unavailable" });
});
