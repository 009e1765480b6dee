import assert from "node:assert/strict";
import { DataModelError, hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import {
  MDM_MEDIA,
  MDM_NOTES,
  message,
  msh,
  ORM_O01,
  ORU_R01,
  seg,
  SIU_S12,
  ZONE,
} from "./fixtures.ts";

type Obj = Record<string, unknown>;

function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(
    Object.entries(v).filter(([k]) => k !== "Extensions").map(([k, x]) => [k, strip(x)]),
  );
}

Deno.test("ORU^R01: orders with their results, notes at each level, encapsulated data", () => {
  const json = strip(hl7ToJson(ORU_R01, { timeZone: ZONE })) as Obj;
  assert.deepEqual((json.Patient as Obj).Notes, ["Patient note"]);
  const orders = json.Orders as Obj[];
  assert.equal(orders.length, 2);
  const [first, second] = orders as [Obj, Obj];
  assert.equal(first.ID, "ORD1");
  assert.equal(first.ApplicationOrderID, "FIL1");
  assert.deepEqual(first.Procedure, { Code: "58410-2", Description: "CBC panel", Codeset: "LN" });
  assert.equal(first.CollectionDateTime, "2024-03-15T14:00:00Z");
  assert.equal(first.CompletionDateTime, "2024-03-15T16:30:00Z");
  assert.equal(first.ResultsStatus, "Final");
  assert.deepEqual(first.Notes, ["Order note"]);
  const results = first.Results as Obj[];
  assert.deepEqual(results[0], {
    ValueType: "Numeric",
    Code: "718-7",
    Description: "Hemoglobin",
    Codeset: "LN",
    Value: "13.2",
    Units: "g/dL",
    ReferenceRange: { Low: 12, High: 17.5, Text: "12.0-17.5" },
    AbnormalFlag: "Normal",
    Status: "Final",
    ObservedDateTime: "2024-03-15T16:00:00Z",
    Notes: ["Result note with & ampersand"],
  });
  assert.deepEqual(results[2], {
    ValueType: "Encapsulated Data",
    Code: "PDF",
    Description: "Report",
    Codeset: "L",
    Value: "SGVsbG8gV29ybGQ=",
    FileType: "PDF",
    Status: "Final",
  });
  assert.equal(second.ID, "ORD2");
  assert.equal(second.ResultsStatus, "Preliminary");
  assert.deepEqual((second.Results as Obj[])[0]?.AbnormalFlag, "High Panic");
});

Deno.test("an unmapped segment inside a result stays with that result", () => {
  const json = hl7ToJson(ORU_R01, { timeZone: ZONE });
  const third = ((json.Orders as Obj[])[0]?.Results as Obj[])[2] as Obj;
  assert.deepEqual((third.Extensions as { HL7v2: Obj }).HL7v2.Segments, [
    { After: "OBX", Segment: "SPM|1|S1||BLD^Blood" },
  ]);
});

Deno.test("an embedded file over the limit is refused with the limit named", () => {
  assert.throws(
    () => hl7ToJson(ORU_R01, { timeZone: ZONE, maxEmbeddedFileBytes: 10 }),
    (e: unknown) => {
      assert.ok(e instanceof DataModelError);
      assert.equal(e.code, "invalid");
      assert.match(e.message, /OBX-5: the embedded file is 11 bytes, over the limit of 10/);
      return true;
    },
  );
  assert.doesNotThrow(() => hl7ToJson(ORU_R01, { timeZone: ZONE, maxEmbeddedFileBytes: 11 }));
});

Deno.test("a code with two spellings comes back as sent (CWE stays CWE), edits win", () => {
  const text = message(
    msh("ORU^R01^ORU_R01", "R1"),
    seg("PID", { 3: "1" }),
    seg("OBR", { 1: "1", 2: "O1", 4: "X^Y" }),
    seg("OBX", { 1: "1", 2: "CWE", 3: "C^Coded", 5: "POS^Positive^L" }),
  );
  const json = hl7ToJson(text, { timeZone: ZONE });
  const result = ((json.Orders as Obj[])[0]?.Results as Obj[])[0] as Obj;
  assert.equal(result.ValueType, "Coded Entry");
  assert.equal(result.Value, "POS");
  const back = parseHl7(jsonToHl7(json, { timeZone: ZONE }));
  assert.equal(back.get("OBX-2"), "CWE");
  assert.equal(back.get("OBX-5"), "POS^Positive^L");
  result.ValueType = "String";
  assert.equal(parseHl7(jsonToHl7(json, { timeZone: ZONE })).get("OBX-2"), "ST");
});

Deno.test("Results JSON from an application becomes a complete ORU^R01", () => {
  const json = {
    Meta: { DataModel: "Results", EventType: "New", EventDateTime: "2024-03-15T17:30:00Z" },
    Patient: { Identifiers: [{ ID: "P1", IDType: "MR" }], Notes: ["n1"] },
    Orders: [
      {
        ID: "O1",
        Procedure: { Code: "CBC" },
        Notes: ["order note"],
        Results: [
          { Code: "A", Value: "1", ValueType: "Numeric", ReferenceRange: { Low: 1, High: 2 } },
          {
            Code: "B",
            Value: "SGk=",
            ValueType: "Encapsulated Data",
            FileType: "PDF",
            Notes: ["x"],
          },
        ],
      },
      { ID: "O2", Results: [{ Code: "C", Value: "pos" }] },
    ],
  };
  const out = jsonToHl7(json, { timeZone: "UTC", controlId: "C1" });
  assert.deepEqual(out.split("\r").slice(1), [
    "PID|1||P1^^^MR",
    "NTE|1||n1",
    "ORC|RE|O1",
    "OBR|1|O1||CBC",
    "NTE|1||order note",
    "OBX|1|NM|A||1||1-2",
    "OBX|2|ED|B||^AP^PDF^Base64^SGk=",
    "NTE|1||x",
    "ORC|RE|O2",
    "OBR|2|O2",
    "OBX|1||C||pos",
  ]);
  assert.equal(
    out.split("\r")[0],
    "MSH|^~\\&|||||20240315173000+0000||ORU^R01^ORU_R01|C1|P|2.5.1",
  );
});

Deno.test("SIU: each trigger is its Scheduling event; the appointment fills Visit", () => {
  const json = strip(hl7ToJson(SIU_S12, { timeZone: ZONE })) as Obj;
  assert.deepEqual(json.Visit, {
    VisitNumber: "APT1",
    Reason: "Checkup",
    Duration: 30,
    DurationUnits: "MIN",
    VisitDateTime: "2024-03-20T14:30:00Z",
    Status: "Booked",
    Instructions: ["Bring insurance card"],
    PatientClass: "Outpatient",
    Location: { Department: "CLINIC", Room: "101", Facility: "HOSP" },
    VisitProvider: { ID: "1234", LastName: "DOC", FirstName: "DANA" },
  });
  for (
    const [trigger, event] of [
      ["S12", "New"],
      ["S13", "Reschedule"],
      ["S14", "Modification"],
      ["S15", "Cancel"],
      ["S26", "NoShow"],
    ]
  ) {
    const text = SIU_S12.replace("SIU^S12^SIU_S12", `SIU^${trigger}^SIU_S12`);
    const j = hl7ToJson(text, { timeZone: ZONE });
    assert.equal(j.Meta.EventType, event);
    assert.equal(jsonToHl7(j, { timeZone: ZONE }), text);
  }
});

Deno.test("SIU without SCH-11 takes the time from AIS-4 and the location from AIL", () => {
  const text = message(
    msh("SIU^S12^SIU_S12", "S2"),
    seg("SCH", { 1: "A9" }),
    seg("PID", { 3: "1" }),
    seg("AIS", { 1: "1", 4: "20240320093000-0500" }),
    seg("AIL", { 1: "1", 3: "ROOM^7^^SITE" }),
  );
  const visit = hl7ToJson(text, { timeZone: ZONE }).Visit as Obj;
  assert.equal(visit.VisitDateTime, "2024-03-20T14:30:00Z");
  assert.deepEqual(visit.Location, { Department: "ROOM", Room: "7", Facility: "SITE" });
  assert.equal(
    jsonToHl7(hl7ToJson(text, { timeZone: ZONE }), { timeZone: ZONE }).split("\r").at(-1),
    "AIL|1||ROOM^7^^SITE",
  );
});

Deno.test("ORM: ORC-1 decides New, Update or Cancel; OML^O21 reads the same", () => {
  const json = strip(hl7ToJson(ORM_O01, { timeZone: ZONE })) as Obj;
  const order = json.Order as Obj;
  assert.equal(order.ID, "ORD9");
  assert.equal(order.Priority, "Stat");
  assert.equal(order.TransactionDateTime, "2024-03-15T15:00:00Z");
  assert.equal(order.Comments, "Fasting");
  assert.deepEqual(order.Diagnoses, [{ Code: "R73.9", Name: "Hyperglycemia", Codeset: "I10" }]);
  assert.deepEqual(order.ClinicalInfo, [
    { Code: "Q1", Description: "Fasting?", Codeset: "LOCAL", Value: "Yes" },
  ]);
  assert.deepEqual((json.Visit as Obj).Insurances, [{
    Plan: { ID: "BCBS", Name: "Blue Cross" },
    Company: { ID: "123" },
  }]);
  for (
    const [code, event] of [["NW", "New"], ["XO", "Update"], ["CA", "Cancel"], ["OC", "Cancel"], [
      "DC",
      "Cancel",
    ]]
  ) {
    for (const type of ["ORM^O01^ORM_O01", "OML^O21^OML_O21"]) {
      const text = ORM_O01.replace("ORM^O01^ORM_O01", type).replace("ORC|NW", `ORC|${code}`);
      const j = hl7ToJson(text, { timeZone: ZONE });
      assert.equal(j.Meta.DataModel, "Order");
      assert.equal(j.Meta.EventType, event, `${type} ${code}`);
      assert.equal(jsonToHl7(j, { timeZone: ZONE }), text, `${type} ${code} round trip`);
    }
  }
  assert.throws(
    () => hl7ToJson(ORM_O01.replace("ORC|NW", "ORC|ZZ")),
    /ORC-1 "ZZ" is not a supported order control for ORM\^O01 \(supported: NW, XO/,
  );
});

Deno.test("an Order event changed in JSON writes its own ORC-1 code", () => {
  const json = hl7ToJson(ORM_O01.replace("ORC|NW", "ORC|OC"), { timeZone: ZONE });
  assert.equal(parseHl7(jsonToHl7(json, { timeZone: ZONE })).get("ORC-1"), "OC");
  json.Meta.EventType = "Update";
  assert.equal(parseHl7(jsonToHl7(json, { timeZone: ZONE })).get("ORC-1"), "XO");
  const fresh = {
    Meta: { DataModel: "Order", EventType: "Cancel" },
    Patient: { Identifiers: [{ ID: "1" }] },
    Order: { ID: "O7", Procedure: { Code: "X" } },
  };
  const m = parseHl7(jsonToHl7(fresh));
  assert.deepEqual([m.get("MSH-9"), m.get("ORC-1"), m.get("ORC-2"), m.get("OBR-2")], [
    "ORM^O01^ORM_O01",
    "CA",
    "O7",
    "O7",
  ]);
});

Deno.test("MDM^T02 with text is Notes, with an ED file is Media", () => {
  const notes = strip(hl7ToJson(MDM_NOTES, { timeZone: ZONE })) as Obj;
  assert.equal((notes.Meta as Obj).DataModel, "Notes");
  assert.deepEqual(notes.Note, {
    DocumentType: "CN",
    ServiceDateTime: "2024-03-15T17:00:00Z",
    Provider: { ID: "1234", LastName: "DOC", FirstName: "DANA" },
    DocumentationDateTime: "2024-03-15T17:10:00Z",
    DocumentID: "DOC123",
    FileName: "note.txt",
    Status: "AU",
    Availability: "Available",
    Components: [
      { ID: "NOTE", Name: "Note", Value: "Line one" },
      { ID: "NOTE", Name: "Note", Value: "Line two | with bar" },
    ],
  });
  const media = strip(hl7ToJson(MDM_MEDIA, { timeZone: ZONE })) as Obj;
  assert.equal((media.Meta as Obj).DataModel, "Media");
  assert.deepEqual(media.Media, {
    DocumentType: "DS",
    DocumentID: "DOC124",
    FileName: "discharge.pdf",
    Status: "LA",
    DocumentDescription: "Discharge summary",
    FileType: "PDF",
    FileContents: "JVBERi0xLjQK",
  });
  const fresh = {
    Meta: { DataModel: "Media", EventType: "New" },
    Patient: { Identifiers: [{ ID: "1" }] },
    Media: { FileType: "PDF", FileContents: "AAAA", DocumentID: "D1" },
  };
  const m = parseHl7(jsonToHl7(fresh));
  assert.equal(m.get("MSH-9"), "MDM^T02^MDM_T02");
  assert.equal(m.get("TXA-12"), "D1");
  assert.equal(m.getRaw("OBX-5"), "^AP^PDF^Base64^AAAA");
  assert.equal(m.get("OBX-2"), "ED");
});
