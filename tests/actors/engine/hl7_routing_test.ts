/**
 * The routing plan of an HL7 v2 message without I/O: which destinations its integration's
 * subscriptions select, in which form.
 */

import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import { hl7TypeOf, planHl7Routes } from "../../../actors/engine/hl7_routing.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";

Deno.test("a sendIf filter is applied per integration, and a new config's filter at once", () => {
  const build = (filtered: boolean): Config => {
    const parsed = parseConfig({
      environments: [{ id: "dev", type: "development" }],
      integrations: [
        { id: "a", environment: "dev", mllp: { port: 0, allowedIps: ["127.0.0.1"] } },
        { id: "b", environment: "dev", mllp: { port: 1, allowedIps: ["127.0.0.1"] } },
      ],
      destinations: [{ id: "out", environment: "dev", mllp: { host: "127.0.0.1", port: 2 } }],
      subscriptions: [
        {
          id: "from-a",
          from: { integration: "a" },
          to: ["out"],
          ...(filtered
            ? {
              filter: { sendIf: [{ path: "Patient.Demographics.Sex", op: "in", values: ["F"] }] },
            }
            : {}),
        },
        { id: "from-b", from: { integration: "b" }, to: ["out"] },
      ],
    }, { env: () => undefined, readFile: () => new Error("-") });
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
    return parsed.config;
  };
  const male = parseHl7(
    "MSH|^~\\&|EHR|HOSP|ENGINE|CLINIC|20240315123000||ADT^A01|M1|P|2.5.1\rEVN|A01\r" +
      "PID|1||123^^^HOSP^MR||DOE^JOHN||19800101|M\rPV1|1|I",
  );
  const plan = (config: Config, integrationId: string) =>
    planHl7Routes({
      config,
      integration: config.integrations.find((i) => i.id === integrationId),
      integrationId,
      message: male,
    }).routes.map((r) => r.destination.id);
  const open = build(false), filtered = build(true);
  // The same message, planned in turn: what one integration or config needs is not the other's.
  assert.deepEqual(plan(open, "a"), ["out"]);
  assert.deepEqual(plan(filtered, "a"), [], "a's filter (Sex in F) holds the male patient back");
  assert.deepEqual(plan(filtered, "b"), ["out"], "b has no filter");
  assert.deepEqual(plan(open, "a"), ["out"], "the old config still has none");
});

Deno.test("hl7TypeOf joins MSH-9's type and trigger, or gives either alone", () => {
  const of = (msh9: string) => hl7TypeOf(parseHl7(`MSH|^~\\&|A|B|C|D|2024||${msh9}|1|P|2.5`));
  assert.equal(of("ADT^A01^ADT_A01"), "ADT^A01");
  assert.equal(of("ACK"), "ACK");
  assert.equal(of("^A01"), "A01");
  assert.equal(of(""), "");
});
