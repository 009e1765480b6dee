import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DataModelError,
  DataModelValidationError,
  hl7ToModel,
  mappedEvent,
  modelToHl7,
  supportedModels,
  validateModel,
} from "../../../codecs/datamodel/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { ADT_A01, message, msh, ORU_R01, seg } from "./fixtures.ts";

Deno.test("hl7ToModel returns the JSON, or an unmapped/invalid error instead of throwing", () => {
  const ok = hl7ToModel(parseHl7(ADT_A01), {
    timeZone: "America/Chicago",
    source: { ID: "adt", Name: "ADT feed" },
  });
  assert.ok(ok.ok);
  assert.equal(ok.value.Meta.EventType, "Arrival");
  assert.deepEqual(ok.value.Meta.Source, { ID: "adt", Name: "ADT feed" });

  const unmapped = hl7ToModel(parseHl7(message(msh("QRY^A19", "Q1"))), { timeZone: "UTC" });
  assert.ok(!unmapped.ok);
  assert.equal(unmapped.error.code, "unmapped");
  assert.match(unmapped.error.message, /no data model maps QRY\^A19/);

  const big = hl7ToModel(parseHl7(ORU_R01), { timeZone: "UTC", maxEmbeddedBytes: 4 });
  assert.ok(!big.ok);
  assert.equal(big.error.code, "invalid");
  assert.match(big.error.message, /OBX-5: the embedded file is 11 bytes, over the limit of 4/);

  const zone = hl7ToModel(parseHl7(ADT_A01), { timeZone: "Mars/Olympus_Mons" });
  assert.ok(!zone.ok);
  assert.equal(zone.error.code, "invalid");
  assert.match(zone.error.message, /Unknown time zone "Mars\/Olympus_Mons"/);
});

Deno.test("modelToHl7 returns a parsed message, or the validation problems", () => {
  const json = {
    Meta: { DataModel: "PatientAdmin", EventType: "Registration" },
    Patient: { Identifiers: [{ ID: "42", IDType: "MR" }], Demographics: { LastName: "DOE" } },
  };
  const ok = modelToHl7(json, {
    timeZone: "UTC",
    controlId: "X1",
    sendingApplication: "ENGINE",
    now: new Date("2024-03-16T04:30:00Z"),
  });
  assert.ok(ok.ok);
  assert.equal(
    ok.message.encode(),
    "MSH|^~\\&|ENGINE||||20240316043000+0000||ADT^A04^ADT_A01|X1|P|2.5.1\r" +
      "EVN|A04|20240316043000+0000\rPID|1||42^^^MR||DOE",
  );
  const bad = modelToHl7({ ...json, Patient: { Identifiers: [{ ID: 42 }] } }, { timeZone: "UTC" });
  assert.ok(!bad.ok);
  assert.ok(bad.error instanceof DataModelValidationError);
  assert.deepEqual(bad.error.issues, [{ path: "Patient.Identifiers[0].ID", rule: "not a string" }]);
  const zone = modelToHl7(json, { timeZone: "Nowhere/Else" });
  assert.ok(!zone.ok && zone.error instanceof DataModelError && zone.error.code === "invalid");
});

Deno.test("validateModel names path and rule, and never throws on any input", () => {
  const r = validateModel({
    Meta: { DataModel: "PatientAdmin", EventType: "Arrival" },
    Patient: { Identifiers: [{ ID: "1" }], Demographics: { DOB: "tomorrow" } },
  });
  assert.deepEqual(r, {
    ok: false,
    problems: [{ path: "Patient.Demographics.DOB", rule: "not a date" }],
  });
  fc.assert(
    fc.property(fc.anything({ withNullPrototype: true, withMap: true, withSet: true }), (v) => {
      const out = validateModel(v);
      assert.equal(typeof out.ok, "boolean");
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(
      fc.record({
        DataModel: fc.constantFrom("PatientAdmin", "Results", "Order"),
        EventType: fc.constantFrom("Arrival", "New"),
      }),
      fc.anything({ withNullPrototype: true }),
      fc.anything({ withNullPrototype: true }),
      (meta, patient, rest) => {
        validateModel({ Meta: meta, Patient: patient, Orders: rest, Order: rest, Visit: rest });
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("mappedEvent tells the router the model and event before translating", () => {
  assert.deepEqual(mappedEvent("ADT", "A01"), { dataModel: "PatientAdmin", eventType: "Arrival" });
  assert.deepEqual(mappedEvent("ADT", "A13"), { dataModel: "PatientAdmin", eventType: "Cancel" });
  assert.deepEqual(mappedEvent("ADT", "A34"), {
    dataModel: "PatientAdmin",
    eventType: "PatientMerge",
  });
  assert.deepEqual(mappedEvent("ORU", "R01"), { dataModel: "Results", eventType: "New" });
  assert.deepEqual(mappedEvent("SIU", "S26"), { dataModel: "Scheduling", eventType: "NoShow" });
  assert.deepEqual(mappedEvent("OML", "O21"), { dataModel: "Order", eventType: "New" });
  assert.deepEqual(mappedEvent("MDM", "T02"), { dataModel: "Notes", eventType: "New" });
  assert.equal(mappedEvent("ADT", "A60"), undefined);
  assert.equal(mappedEvent("", ""), undefined);
});

Deno.test("supportedModels lists every model with its events", () => {
  assert.deepEqual(supportedModels(), [
    {
      dataModel: "PatientAdmin",
      eventTypes: [
        "Arrival",
        "Transfer",
        "Discharge",
        "Registration",
        "PreAdmit",
        "VisitUpdate",
        "PatientUpdate",
        "Cancel",
        "NewPatient",
        "PatientMerge",
      ],
    },
    { dataModel: "Results", eventTypes: ["New"] },
    {
      dataModel: "Scheduling",
      eventTypes: ["New", "Reschedule", "Modification", "Cancel", "NoShow"],
    },
    { dataModel: "Order", eventTypes: ["New", "Update", "Cancel"] },
    { dataModel: "Notes", eventTypes: ["New"] },
    { dataModel: "Media", eventTypes: ["New"] },
  ]);
});

Deno.test("23:30 in New York is the next day in UTC, and comes back as 23:30 -0400", () => {
  const text = message(
    msh("ADT^A08^ADT_A01", "NY1", { 7: "202407042330" }),
    seg("PID", { 1: "1", 3: "1", 7: "20240704" }),
  );
  const r = hl7ToModel(parseHl7(text), { timeZone: "America/New_York" });
  assert.ok(r.ok);
  assert.equal(r.value.Meta.EventDateTime, "2024-07-05T03:30:00Z");
  assert.equal(
    ((r.value.Patient as Record<string, unknown>).Demographics as Record<string, unknown>).DOB,
    "2024-07-04",
  );
  const back = modelToHl7(r.value, { timeZone: "America/New_York" });
  assert.ok(back.ok);
  assert.equal(back.message.get("MSH-7"), "20240704233000-0400");
});
