/**
 * A structured numeric result (OBX-2 SN) in the data model: `Value` is the whole value as text
 * (`>^500` is `>500`, `^10^-^20` is `10-20`, `^2^:^3` is `2:3`), written back as components,
 * so HL7 → JSON → HL7 gives the OBX back.
 */

import assert from "node:assert/strict";
import { hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";
import { ZONE } from "./fixtures.ts";

const ORU = [
  "MSH|^~\\&|LAB|FAC|EHR|FAC|20240315103000-0500||ORU^R01^ORU_R01|N1|P|2.5.1",
  "PID|1||MRN1^^^HOSP^MR||DOE^JANE||19800101|F",
  "ORC|RE|P1|F1",
  "OBR|1|P1|F1|GLU^Glucose^L|||20240315103000-0500",
  "OBX|1|SN|2345-7^Glucose^LN||>^500|mg/dL||HH|||F",
  "OBX|2|SN|2345-7^Glucose^LN||<^5|mg/dL|||||F",
  "OBX|3|SN|X^Range^L||^10^-^20|mg/dL|||||F",
  "OBX|4|SN|X^Titer^L||^2^:^3||||||F",
  "OBX|5|SN|X^Plain^L||^7.5|mg/dL|||||F",
  "OBX|6|SN|X^Odd^L||POS^^x||||||F",
].join("\r");

// deno-lint-ignore no-explicit-any -- tests read the JSON loosely
type Json = any;

Deno.test("datamodel: an SN result's Value is the whole structured value as text, and comes back as components", () => {
  const json = hl7ToJson(ORU, { timeZone: ZONE }) as Json;
  const results = json.Orders[0].Results;
  assert.deepEqual(results.map((r: Json) => r.Value), [
    ">500",
    "<5",
    "10-20",
    "2:3",
    "7.5",
    "POS",
  ]);
  // The number is in Value, not only in the extension.
  assert.equal(results[0].Extensions?.HL7v2?.Fields?.["OBX-5"], undefined);
  assert.equal(jsonToHl7(json, { timeZone: ZONE }), ORU);
});

Deno.test("datamodel: an app's Structured Numeric Value '>=5' or '1/128' is written as SN components", () => {
  const json = hl7ToJson(ORU, { timeZone: ZONE }) as Json;
  const results = json.Orders[0].Results;
  for (const r of results) delete r.Extensions;
  results[0].Value = ">=5";
  results[1].Value = "1/128";
  results[2].Value = "not a number";
  const obx = jsonToHl7(json, { timeZone: ZONE }).split("\r").filter((s) => s.startsWith("OBX"));
  assert.deepEqual(obx.slice(0, 3).map((s) => s.split("|")[5]), [
    ">=^5",
    "^1^/^128",
    "not a number",
  ]);
});
