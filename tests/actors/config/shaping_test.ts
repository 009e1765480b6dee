/**
 * Config modifiers, HL7 edits and translation sets are validated at start, each problem with its
 * full JSON path; a valid config compiles them once.
 */

import assert from "node:assert/strict";
import { type ConfigSources, parseConfig } from "../../../actors/config/mod.ts";
import { shapingOf } from "../../../actors/config/shaping.ts";

const lenient: ConfigSources = { env: (name) => `value-of-${name}`, readFile: (p) => `pem:${p}` };

function config(extra: { sub?: object; dest?: object; top?: object }) {
  return {
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 9960, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [
      { id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: 9961 }, ...extra.dest },
    ],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"], ...extra.sub }],
    ...extra.top,
  };
}

Deno.test("config: modifier, edit and translation-set problems carry their full path", () => {
  const result = parseConfig(
    config({
      top: {
        translationSets: {
          localSex: { entries: { "1": "F" }, onMissing: "fail" },
          bad: { onMissing: "x" },
        },
      },
      sub: {
        modifiers: [
          {
            flavor: "put",
            selector: "A",
            schema: { if: { operator: "equal", value: 1 }, then: {} },
          },
          { flavor: "put", selector: "A", schema: { translate: "nope" } },
        ],
      },
      dest: { hl7Edits: [{ op: "translate", path: "PID-8", set: "localSex" }, { op: "delete" }] },
    }),
    lenient,
  );
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(result.problems.map((p) => `${p.path}: ${p.message}`), [
    "$.translationSets.bad.onMissing: unknown (known: pass, default, fail)",
    "$.subscriptions[0].modifiers[0].schema.if.operator: unknown (known: equals, notEquals, in, exists, matches, and, or, not)",
    "$.subscriptions[0].modifiers[1].schema.translate: unknown translation set (declared: localSex, bad)",
    "$.destinations[0].hl7Edits[1].path: delete needs either path or segments",
  ]);
});

Deno.test("config: valid shaping compiles once per config", () => {
  const result = parseConfig(
    config({
      top: { translationSets: { localSex: { entries: { "1": "F" } } } },
      sub: { modifiers: [{ flavor: "delete", selector: "Patient.Demographics.SSN" }] },
      dest: { hl7Edits: [{ op: "translate", path: "PID-8", set: "localSex" }] },
    }),
    lenient,
  );
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  const shaping = shapingOf(result.config);
  assert.equal(shapingOf(result.config), shaping);
  const sub = result.config.subscriptions[0]!;
  assert.ok(shaping.modifiers.get(sub.modifiers!));
  assert.ok(shaping.edits.get(result.config.destinations[0]!.hl7Edits!));
  assert.equal(shaping.sets.get("localSex")?.entries.get("1"), "F");
});
