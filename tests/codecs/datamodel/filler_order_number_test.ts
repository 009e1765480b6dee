/**
 * A Results order identified only by its filler order number (OBR-3, `ApplicationOrderID`), as
 * labs often send it: it is read, written back, and survives FHIR, with OBR-2 (and ORC-2) empty.
 * An order with neither number is refused, naming both.
 */

import assert from "node:assert/strict";
import {
  DataModelValidationError,
  hl7ToJson,
  jsonToHl7,
  validateDataModel,
} from "../../../codecs/datamodel/mod.ts";
import { fhirToHl7, hl7ToFhir } from "../../../codecs/fhir/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";

const FILLER_ONLY = [
  "MSH|^~\\&|LAB|ACME|EHR|HOSP|20240102030405||ORU^R01^ORU_R01|C1|P|2.5.1",
  "PID|1||MRN1^^^HOSP^MR||DOE^JANE||19800101|F",
  "OBR|1||FILL-77|CBC^Complete blood count^L|||20240102010000",
  "OBX|1|NM|WBC^White cells^L||7.1|10*9/L|4-11|N|||F",
].join("\r");

const NEITHER =
  "needs ID (OBR-2, placer order number) or ApplicationOrderID (OBR-3, filler order number)";

/** OBR-2, OBR-3, ORC-2 and ORC-3 of the first order of an HL7 text. */
function orderNumbers(text: string) {
  const m = parseHl7(text);
  return {
    obr2: m.get("OBR-2") ?? "",
    obr3: m.get("OBR-3") ?? "",
    orc2: m.get("ORC-2") ?? "",
    orc3: m.get("ORC-3") ?? "",
  };
}

Deno.test("HL7 with only a filler order number → JSON → HL7 gives OBR-3 back, OBR-2 empty", () => {
  const json = hl7ToJson(FILLER_ONLY, { timeZone: "UTC" });
  const order = (json.Orders as Record<string, unknown>[])[0];
  assert.equal(order?.ApplicationOrderID, "FILL-77");
  assert.equal(order?.ID, undefined);
  const back = jsonToHl7(json, { timeZone: "UTC" });
  assert.deepEqual(orderNumbers(back), { obr2: "", obr3: "FILL-77", orc2: "", orc3: "FILL-77" });
});

Deno.test("HL7 with only a filler order number → FHIR → HL7 gives OBR-3 back, OBR-2 empty", () => {
  const bundle = JSON.parse(JSON.stringify(hl7ToFhir(FILLER_ONLY, { timeZone: "UTC" })));
  const back = fhirToHl7(bundle, { timeZone: "UTC" });
  assert.deepEqual(orderNumbers(back), { obr2: "", obr3: "FILL-77", orc2: "", orc3: "FILL-77" });
});

Deno.test("a Results JSON order with only ApplicationOrderID is valid and written to OBR-3", () => {
  const json = {
    Meta: { DataModel: "Results", EventType: "New" },
    Patient: { Identifiers: [{ ID: "MRN1", IDType: "MR" }] },
    Orders: [{ ApplicationOrderID: "FILL-9", Results: [{ Code: "WBC", Value: "7.1" }] }],
  };
  assert.equal(validateDataModel(json).ok, true);
  const hl7 = jsonToHl7(json, { timeZone: "UTC" });
  assert.deepEqual(orderNumbers(hl7), { obr2: "", obr3: "FILL-9", orc2: "", orc3: "FILL-9" });
});

Deno.test("a Results order with neither ID nor ApplicationOrderID is refused, naming both", () => {
  const json = {
    Meta: { DataModel: "Results", EventType: "New" },
    Patient: { Identifiers: [{ ID: "MRN1" }] },
    Orders: [
      { ID: "P1", Results: [{ Code: "A" }] },
      { ID: "", ApplicationOrderID: null, Results: [{ Code: "B" }] },
    ],
  };
  const r = validateDataModel(json);
  assert.deepEqual(r.ok ? [] : r.issues, [{ path: "Orders[1]", rule: NEITHER }]);
  assert.throws(
    () => jsonToHl7(json, { timeZone: "UTC" }),
    (e) => e instanceof DataModelValidationError && e.message === `Orders[1]: ${NEITHER}`,
  );
});
