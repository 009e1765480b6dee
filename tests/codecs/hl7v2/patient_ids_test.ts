/**
 * Reading PID-3 from stored message bytes: every repetition with its assigning authority,
 * escapes undone, other delimiters honoured; anything without an HL7 v2 PID gives undefined.
 * @module
 */

import assert from "node:assert/strict";
import { readPatientIds } from "../../../codecs/hl7v2/patient_ids.ts";

const enc = new TextEncoder();

Deno.test("PID-3: every repetition's id with its authority's namespace and universal ids", () => {
  const ids = readPatientIds(
    enc.encode(
      "MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.5\r\nEVN|A01\nPID|1||12\\F\\3^^^HOSP&1.2&ISO^MR~X9||DOE",
    ),
  );
  assert.deepEqual(ids, [
    { id: "12|3", authorities: ["HOSP", "1.2"] },
    { id: "X9", authorities: [] },
  ]);
});

Deno.test("PID-3: a message's own delimiters are honoured", () => {
  const ids = readPatientIds(enc.encode("MSH#*@!%#A\rPID#1##77***AUTH@55"));
  assert.deepEqual(ids, [{ id: "77", authorities: ["AUTH"] }, { id: "55", authorities: [] }]);
});

Deno.test("PID-3: not HL7 v2, or no PID segment, gives undefined", () => {
  assert.equal(readPatientIds(enc.encode(`{"resourceType":"Patient"}`)), undefined);
  assert.equal(
    readPatientIds(enc.encode("MSH|^~\\&|A|B|C|D|2026||ADT^A08|1|P|2.5\rEVN|A08")),
    undefined,
  );
  assert.equal(readPatientIds(enc.encode("hello\rMSH|^~\\&|A\rPID|1||1")), undefined);
  assert.equal(readPatientIds(new Uint8Array()), undefined);
});
