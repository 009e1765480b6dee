/**
 * HL7 v2 input the translator must refuse or read without inventing anything: a final segment
 * terminator, an order control no model reads, a message missing a segment its model needs.
 */

import assert from "node:assert/strict";
import { DataModelError, hl7ToJson } from "../../../codecs/datamodel/mod.ts";
import {
  ADT_A01,
  ADT_A40,
  FIXTURES,
  MDM_MEDIA,
  MDM_NOTES,
  ORM_O01,
  ORU_R01,
  SIU_S12,
  ZONE,
} from "./fixtures.ts";

/** Every `Extensions.HL7v2.Segments` entry anywhere in `json`. */
function extensionSegments(json: unknown): { After: string; Segment: string }[] {
  const out: { After: string; Segment: string }[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    const ext = (o.Extensions as Record<string, { Segments?: typeof out }> | undefined)?.HL7v2;
    if (ext?.Segments) out.push(...ext.Segments);
    for (const x of Object.values(o)) walk(x);
  };
  walk(json);
  return out;
}

/** The DataModelError `hl7ToJson(text)` throws. */
function refusal(text: string): DataModelError {
  try {
    hl7ToJson(text, { timeZone: ZONE });
  } catch (error) {
    assert.ok(error instanceof DataModelError, String(error));
    return error;
  }
  assert.fail(`translated without an error: ${text.slice(0, 60)}`);
}

/** `text` without its segments named `id`. */
function without(text: string, id: string): string {
  return text.split("\r").filter((s) => !s.startsWith(`${id}|`)).join("\r");
}

Deno.test("a final segment terminator adds no empty extension segment", () => {
  for (const [name, text] of Object.entries(FIXTURES)) {
    for (const end of ["\r", "\r\n", "\n", "\r\r"]) {
      const json = hl7ToJson(text + end, { timeZone: ZONE });
      const empty = extensionSegments(json).filter((s) => s.Segment === "");
      assert.deepEqual(empty, [], `${name} ending ${JSON.stringify(end)}`);
      assert.deepEqual(json, hl7ToJson(text, { timeZone: ZONE }), `${name} ${JSON.stringify(end)}`);
    }
  }
  // A real unmapped segment is still kept.
  const z = hl7ToJson(`${ORU_R01}\rZLB|1|x\r`, { timeZone: ZONE });
  const kept = extensionSegments(z).map((s) => s.Segment);
  assert.equal(kept.at(-1), "ZLB|1|x");
  assert.ok(!kept.includes(""), kept.join(", "));
});

Deno.test("an order control no model reads names ORC-1, its value and the supported ones", () => {
  for (const type of ["ORM^O01^ORM_O01", "OML^O21^OML_O21"]) {
    const text = ORM_O01.replace("ORM^O01^ORM_O01", type).replace("ORC|NW", "ORC|RE");
    const e = refusal(text);
    const key = type.split("^").slice(0, 2).join("^");
    assert.equal(e.code, "unmapped");
    assert.equal(
      e.message,
      `ORC-1 "RE" is not a supported order control for ${key} ` +
        "(supported: NW, XO, XX, SC, CA, OC, DC, OD)",
    );
    assert.deepEqual(e.hl7, { condition: "201", location: "ORC-1" });
  }
});

Deno.test("an unmapped message type, trigger or empty MSH-9 says which, in table 0357 terms", () => {
  const dft = refusal(ADT_A01.replace("ADT^A01^ADT_A01", "DFT^P03^DFT_P03"));
  assert.match(dft.message, /^no data model maps DFT\^P03 \(supported: ADT\^A01, /);
  assert.deepEqual(dft.hl7, { condition: "200", location: "MSH-9.1" });
  const a60 = refusal(ADT_A01.replace("ADT^A01^ADT_A01", "ADT^A60^ADT_A60"));
  assert.match(a60.message, /^no data model maps ADT\^A60 /);
  assert.deepEqual(a60.hl7, { condition: "201", location: "MSH-9.2" });
  const empty = refusal(ADT_A01.replace("ADT^A01^ADT_A01", ""));
  assert.equal(empty.message, "MSH-9 (message type) is empty");
  assert.deepEqual(empty.hl7, { condition: "101", location: "MSH-9" });
});

Deno.test("segments joined by spaces leave no PID: refused, naming the segment", () => {
  const text = ADT_A01.replaceAll("\r", " ");
  const e = refusal(text);
  assert.equal(e.code, "incomplete");
  assert.equal(e.message, "ADT^A01 requires a PID segment; none found");
  assert.deepEqual(e.hl7, { condition: "100", location: "PID" });
});

Deno.test("each data model refuses a message without the segment it cannot do without", () => {
  const cases: [string, string, string][] = [
    [ADT_A01, "PID", "ADT^A01 requires a PID segment; none found"],
    [ADT_A40, "MRG", "ADT^A40 requires an MRG segment; none found"],
    [ORU_R01, "PID", "ORU^R01 requires a PID segment; none found"],
    [ORU_R01, "OBR", "ORU^R01 requires an OBR segment; none found"],
    [SIU_S12, "SCH", "SIU^S12 requires an SCH segment; none found"],
    [SIU_S12, "PID", "SIU^S12 requires a PID segment; none found"],
    [ORM_O01, "ORC", "ORM^O01 requires an ORC segment; none found"],
    [MDM_NOTES, "TXA", "MDM^T02 requires a TXA segment; none found"],
    [MDM_MEDIA, "PID", "MDM^T02 requires a PID segment; none found"],
  ];
  for (const [text, id, message] of cases) {
    assert.ok(text.includes(`\r${id}|`), `the fixture has ${id}`);
    const e = refusal(without(text, id));
    assert.equal(e.message, message);
    assert.deepEqual(e.hl7, { condition: "100", location: id });
  }
  // Segments the models can do without (EVN, PV1, a Media's TXA) are not required.
  const optional: [string, string][] = [[ADT_A01, "EVN"], [ADT_A01, "PV1"], [MDM_MEDIA, "TXA"]];
  for (const [text, id] of optional) {
    assert.ok(text.includes(`\r${id}|`), `the fixture has ${id}`);
    hl7ToJson(without(text, id), { timeZone: ZONE });
  }
});
