/**
 * Which integrations are routed in the commit that stores their messages: decided from the
 * config alone, and only when nothing of the application step (a JSON form, a modifier, an HL7
 * edit, an application ACK) applies to any message of the integration.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { routesWithoutApplicationStep } from "../../../actors/engine/hl7_routing.ts";

function eligible(extra: {
  mllp?: Record<string, unknown>;
  destination?: Record<string, unknown>;
  subscription?: Record<string, unknown>;
} = {}): boolean {
  const result = parseConfig({
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 2575, allowedIps: ["127.0.0.1"], ...extra.mllp },
    }],
    destinations: [
      { id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: 9 }, ...extra.destination },
      {
        id: "app",
        environment: "dev",
        https: { url: "http://127.0.0.1:9/in", verificationToken: { env: "T" } },
      },
    ],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"], ...extra.subscription }],
  }, { env: () => "t", readFile: () => new Error("none") });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  return routesWithoutApplicationStep(result.config, result.config.integrations[0]!);
}

Deno.test("HL7 passed through to an MLLP destination is routed at intake", () => {
  assert.equal(eligible(), true);
  assert.equal(eligible({ subscription: { eventTypes: ["A01"], format: "hl7v2" } }), true);
});

Deno.test("anything of the application step keeps an integration on its inbound queue", () => {
  assert.equal(eligible({ mllp: { ackMode: "enhanced" } }), false, "application ACKs");
  assert.equal(eligible({ subscription: { to: ["ehr", "app"] } }), false, "JSON to HTTPS");
  assert.equal(eligible({ subscription: { to: ["app"], format: "json" } }), false, "JSON asked");
  assert.equal(
    eligible({ subscription: { modifiers: [{ flavor: "delete", selector: "Patient" }] } }),
    false,
    "a subscription's modifiers",
  );
  assert.equal(
    eligible({ destination: { hl7Edits: [{ op: "delete", segments: ["NTE"] }] } }),
    false,
    "a destination's HL7 edits",
  );
});
