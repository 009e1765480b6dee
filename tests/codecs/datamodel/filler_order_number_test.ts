/**
 * An order identified only by its filler order number (`ApplicationOrderID`: OBR-3 of a Results
 * order, as labs often send it; ORC-3 of an Order message, as HL7 allows): it is read, written
 * back, and survives FHIR, with the placer number empty. An order with neither number is refused,
 * naming both.
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

/** ORC-1, ORC-2, ORC-3, OBR-2 and OBR-3 of an HL7 text (`fields`: the ones compared). */
function orderNumbers(text: string, fields: readonly string[] = ["obr2", "obr3", "orc2", "orc3"]) {
  const m = parseHl7(text);
  const all: Record<string, string> = {
    orc1: m.get("ORC-1") ?? "",
    orc2: m.get("ORC-2") ?? "",
    orc3: m.get("ORC-3") ?? "",
    obr2: m.get("OBR-2") ?? "",
    obr3: m.get("OBR-3") ?? "",
  };
  return Object.fromEntries(fields.map((f) => [f, all[f]]));
}

const RESULTS_FILLER_ONLY = [
  "MSH|^~\\&|LAB|ACME|EHR|HOSP|20240102030405||ORU^R01^ORU_R01|C1|P|2.5.1",
  "PID|1||MRN1^^^HOSP^MR||DOE^JANE||19800101|F",
  "OBR|1||FILL-77|CBC^Complete blood count^L|||20240102010000",
  "OBX|1|NM|WBC^White cells^L||7.1|10*9/L|4-11|N|||F",
].join("\r");

const RESULTS_NEITHER =
  "needs ID (OBR-2, placer order number) or ApplicationOrderID (OBR-3, filler order number)";

Deno.test("HL7 with only a filler order number → JSON → HL7 gives OBR-3 back, OBR-2 empty", () => {
  const json = hl7ToJson(RESULTS_FILLER_ONLY, { timeZone: "UTC" });
  const order = (json.Orders as Record<string, unknown>[])[0];
  assert.equal(order?.ApplicationOrderID, "FILL-77");
  assert.equal(order?.ID, undefined);
  const back = jsonToHl7(json, { timeZone: "UTC" });
  assert.deepEqual(orderNumbers(back), { obr2: "", obr3: "FILL-77", orc2: "", orc3: "FILL-77" });
});

Deno.test("HL7 with only a filler order number → FHIR → HL7 gives OBR-3 back, OBR-2 empty", () => {
  const bundle = JSON.parse(JSON.stringify(hl7ToFhir(RESULTS_FILLER_ONLY, { timeZone: "UTC" })));
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
  assert.deepEqual(r.ok ? [] : r.issues, [{ path: "Orders[1]", rule: RESULTS_NEITHER }]);
  assert.throws(
    () => jsonToHl7(json, { timeZone: "UTC" }),
    (e) => e instanceof DataModelValidationError && e.message === `Orders[1]: ${RESULTS_NEITHER}`,
  );
});

/** The numbers an Order message's checks compare. */
const ORDER_FIELDS = ["orc1", "orc2", "orc3", "obr2", "obr3"];

const ORDER_FILLER_ONLY = [
  "MSH|^~\\&|EHR|HOSP|LAB|ACME|20240102030405||ORM^O01^ORM_O01|C1|P|2.5.1",
  "PID|1||MRN1^^^HOSP^MR||DOE^JANE||19800101|F",
  "ORC|NW||FILL-77||SC",
  "OBR|1||FILL-77|CBC^Complete blood count^L|||20240102010000",
].join("\r");

const ORDER_NEITHER =
  "needs ID (ORC-2, placer order number) or ApplicationOrderID (ORC-3, filler order number)";

/** An Order message in JSON with the given order. */
function orderJson(order: Record<string, unknown>, event = "New") {
  return {
    Meta: { DataModel: "Order", EventType: event },
    Patient: { Identifiers: [{ ID: "MRN1", IDType: "MR" }] },
    Order: { ...order, Procedure: { Code: "CBC" } },
  };
}

Deno.test("ORM with only a filler order number → JSON → HL7 gives ORC-3 back, ORC-2 empty", () => {
  const json = hl7ToJson(ORDER_FILLER_ONLY, { timeZone: "UTC" });
  const order = json.Order as Record<string, unknown>;
  assert.equal(order.ApplicationOrderID, "FILL-77");
  assert.equal(order.ID, undefined);
  const back = jsonToHl7(json, { timeZone: "UTC" });
  assert.deepEqual(orderNumbers(back, ORDER_FIELDS), {
    orc1: "NW",
    orc2: "",
    orc3: "FILL-77",
    obr2: "",
    obr3: "FILL-77",
  });
});

Deno.test("ORM with only a filler order number → FHIR → HL7 gives ORC-3 back, ORC-2 empty", () => {
  const bundle = JSON.parse(JSON.stringify(hl7ToFhir(ORDER_FILLER_ONLY, { timeZone: "UTC" })));
  const back = fhirToHl7(bundle, { timeZone: "UTC" });
  assert.deepEqual(orderNumbers(back, ORDER_FIELDS), {
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
    assert.deepEqual(orderNumbers(hl7, ORDER_FIELDS), {
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
  assert.deepEqual(r.ok ? [] : r.issues, [{ path: "Order", rule: ORDER_NEITHER }]);
  assert.throws(
    () => jsonToHl7(json, { timeZone: "UTC" }),
    (e) => e instanceof DataModelValidationError && e.message === `Order: ${ORDER_NEITHER}`,
  );

  // The placer number alone is still enough, and a message with no Order at all says so.
  const placer = orderJson({ ID: "PLC-1" });
  assert.equal(validateDataModel(placer).ok, true);
  assert.equal(parseHl7(jsonToHl7(placer, { timeZone: "UTC" })).get("ORC-2"), "PLC-1");
  const { Order: _, ...noOrder } = placer;
  const missing = validateDataModel(noOrder);
  assert.deepEqual(missing.ok ? [] : missing.issues, [{ path: "Order", rule: "required" }]);
});
