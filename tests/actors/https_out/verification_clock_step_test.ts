/**
 * A production HTTPS destination's verified state is read again from KV every 10 s (another
 * process may have revoked it), counted on the monotonic clock: a wall clock stepped back an hour
 * does not make the deliverer trust its cached "verified" for that hour. Real HTTPS server, KV
 * file; a ManualClock plays the step.
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { makePki } from "../../helpers/tls.ts";
import { waitFor } from "../../helpers/net.ts";
import {
  json,
  startHttpsOutbound,
  tokenConfig,
  waitForBackoff,
} from "./fixtures/https_outbound.ts";
import { startServer } from "./fixtures/server.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

Deno.test("https deliverer: a verification revoked meanwhile is noticed 10 s later though the wall clock stepped back an hour", async () => {
  const clock = new ManualClock();
  const receiver = startServer((req) => {
    if (req.text.includes('"challenge"')) {
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
    const result = await out.destinations.verify("ehr");
    assert.equal(result?.verified, true, result?.reason);
    await out.enqueue({ key: "a", payload: json(1) });
    await waitFor("a delivered", async () => (await out.logOf("a")).status === "SUCCEEDED");
    // Another process (or an operator) found the destination unverified.
    await out.store.verifications.set("ehr", {
      verified: false,
      url: `${receiver.origin}/prod`,
      checkedAt: clock.now(),
      reason: "revoked",
    });
    clock.stepWall(-3_600_000);
    clock.advance(10_000);
    await out.enqueue({ key: "b", payload: json(2) });
    await waitForBackoff(out, clock, "b", 1);
    assert.equal(
      (await out.logOf("b")).attempts[0]?.reason,
      "destination ehr is not verified (POST /admin/destinations/ehr/verify)",
    );
    assert.equal(receiver.requests.filter((r) => r.text === json(2)).length, 0);
  } finally {
    await out.stop();
    await receiver.close();
  }
});
