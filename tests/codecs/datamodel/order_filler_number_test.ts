/**
 * An Order message (ORM^O01) identified only by its filler order number (ORC-3,
 * `Order.ApplicationOrderID`), as HL7 allows: it is read, written back, and survives FHIR, with
 * ORC-2 empty. An order with neither number is refused, naming both.
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
  "MSH|^~\\&|EHR|HOSP|LAB|ACME|20240102030405||ORM^O01^ORM_O01|C1|P|2.5.1",
  "PID|1||MRN1^^^HOSP^MR||DOE^JANE||19800101|F",
  "ORC|NW||FILL-77||SC",
  "OBR|1||FILL-77|CBC^Complete blood count^L|||20240102010000",
].join("\r");

const NEITHER =
  "needs ID (ORC-2, placer order number) or ApplicationOrderID (ORC-3, filler order number)";

/** ORC-1, ORC-2, ORC-3, OBR-2 and OBR-3 of an HL7 text. */
function orderNumbers(text: string) {
  const m = parseHl7(text);
  return {
    orc1: m.get("ORC-1") ?? "",
    orc2: m.get("ORC-2") ?? "",
    orc3: m.get("ORC-3") ?? "",
    obr2: m.get("OBR-2") ?? "",
    obr3: m.get("OBR-3") ?? "",
  };
}

/** An Order message in JSON with the given order. */
function orderJson(order: Record<string, unknown>, event = "New") {
  return {
    Meta: { DataModel: "Order", EventType: event },
    Patient: { Identifiers: [{ ID: "MRN1", IDType: "MR" }] },
    Order: { ...order, Procedure: { Code: "CBC" } },
  };
}

Deno.test("ORM with only a filler order number → JSON → HL7 gives ORC-3 back, ORC-2 empty", () => {
  const json = hl7ToJson(FILLER_ONLY, { timeZone: "UTC" });
  const order = json.Order as Record<string, unknown>;
  assert.equal(order.ApplicationOrderID, "FILL-77");
  assert.equal(order.ID, undefined);
  const back = jsonToHl7(json, { timeZone: "UTC" });
  assert.deepEqual(orderNumbers(back), {
    orc1: "NW",
    orc2: "",
    orc3: "FILL-77",
    obr2: "",
    obr3: "FILL-77",
  });
});

Deno.test("ORM with only a filler order number → FHIR → HL7 gives ORC-3 back, ORC-2 empty", () => {
  const bundle = JSON.parse(JSON.stringify(hl7ToFhir(FILLER_ONLY, { timeZone: "UTC" })));
  const back = fhirToHl7(bundle, { timeZone: "UTC" });
  assert.deepEqual(orderNumbers(back), {
    orc1: "NW",
    orc2: "",
    orc3: "FILL-77",
    obr2: "",
    obr3: "FILL-77",
  });
});

Deno.test("an Order JSON with only ApplicationOrderID is valid for New, Update and Cancel", () => {
  for (const [event, control] of [["New", "NW"], ["Update", "XO"], ["Cancel", "CA"]]) {
    const json = orderJson({ ApplicationOrderID: "FILL-9" }, event);
    assert.equal(validateDataModel(json).ok, true, event);
    const hl7 = jsonToHl7(json, { timeZone: "UTC" });
    assert.deepEqual(orderNumbers(hl7), {
      orc1: control,
      orc2: "",
      orc3: "FILL-9",
      obr2: "",
      obr3: "FILL-9",
    });
  }
});

Deno.test("an Order with neither ID nor ApplicationOrderID is refused naming both; ID alone is valid", () => {
  const json = orderJson({ ID: "", ApplicationOrderID: null });
  const r = validateDataModel(json);
  assert.deepEqual(r.ok ? [] : r.issues, [{ path: "Order", rule: NEITHER }]);
  assert.throws(
    () => jsonToHl7(json, { timeZone: "UTC" }),
    (e) => e instanceof DataModelValidationError && e.message === `Order: ${NEITHER}`,
  );

  // The placer number alone is still enough, and a message with no Order at all says so.
  const placer = orderJson({ ID: "PLC-1" });
  assert.equal(validateDataModel(placer).ok, true);
  assert.equal(parseHl7(jsonToHl7(placer, { timeZone: "UTC" })).get("ORC-2"), "PLC-1");
  const { Order: _, ...noOrder } = placer;
  const missing = validateDataModel(noOrder);
  assert.deepEqual(missing.ok ? [] : missing.issues, [{ path: "Order", rule: "required" }]);
});
