/**
 * `sectionChanges`: what a reload changes besides the delivery actors, one line each, so that
 * `config.applied` says what a filter change, a removed integration or new alert rules did
 * (before, a subscription's filter change logged `applied=[]`).
 */

import assert from "node:assert/strict";
import { sectionChanges } from "../../../actors/engine/reconfigure.ts";
import { configFrom } from "../../helpers/engine.ts";

function config(o: { integrations: string[]; eventTypes?: string[]; unnamed?: boolean }) {
  return configFrom({
    environments: [{ id: "dev", type: "development" }],
    integrations: o.integrations.map((id, i) => ({
      id,
      environment: "dev",
      mllp: { port: 9960 + i, allowedIps: ["127.0.0.1"] },
    })),
    destinations: [{ id: "lab", environment: "dev", mllp: { host: "127.0.0.1", port: 9970 } }],
    subscriptions: [
      {
        id: "feed-to-lab",
        from: { integration: "feed" },
        to: ["lab"],
        ...(o.eventTypes ? { eventTypes: o.eventTypes } : {}),
      },
      ...(o.unnamed ? [{ from: { integration: "feed" }, to: ["lab"] }] : []),
    ],
  });
}

Deno.test("sectionChanges names the integrations and subscriptions a reload adds, removes or changes", () => {
  const running = config({ integrations: ["feed", "old"] });
  assert.deepEqual(sectionChanges(running, running), []);
  assert.deepEqual(
    sectionChanges(running, config({ integrations: ["feed", "new"], eventTypes: ["A01"] })),
    [
      "added integration new",
      "removed integration old",
      "changed subscription feed-to-lab",
    ],
  );
  assert.deepEqual(
    sectionChanges(running, config({ integrations: ["feed", "old"], unnamed: true })),
    ["added subscription #2"],
  );
});
