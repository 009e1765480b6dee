import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DataModelError,
  DataModelValidationError,
  formatIssue,
  jsonToHl7,
  validateDataModel,
  type ValidationIssue,
} from "../../../codecs/datamodel/mod.ts";

function issues(json: unknown, options = {}): ValidationIssue[] {
  const r = validateDataModel(json, options);
  return r.ok ? [] : [...r.issues];
}

function admit(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Meta: { DataModel: "PatientAdmin", EventType: "Arrival" },
    Patient: { Identifiers: [{ ID: "1", IDType: "MR" }] },
    ...extra,
  };
}

Deno.test("a well-formed message validates and says its model and event", () => {
  assert.deepEqual(validateDataModel(admit()), {
    ok: true,
    dataModel: "PatientAdmin",
    eventType: "Arrival",
  });
});

Deno.test("a bad value is named by its JSON path and the rule it breaks", () => {
  const json = admit();
  (json.Patient as Record<string, unknown>).Demographics = { DOB: "01/02/1980", Sex: "Female" };
  const found = issues(json);
  assert.deepEqual(found, [{ path: "Patient.Demographics.DOB", rule: "not a date" }]);
  assert.equal(formatIssue(found[0] as ValidationIssue), "Patient.Demographics.DOB: not a date");
});

Deno.test("types are checked everywhere the tables map a property", () => {
  const json = {
    Meta: { DataModel: "Results", EventType: "New", Test: "yes", EventDateTime: "yesterday" },
    Patient: { Identifiers: [{ ID: "1" }, { ID: 2 }], Demographics: { Address: "1 Main St" } },
    Visit: { Location: { Bed: ["B"] } },
    Orders: [{
      ID: "O1",
      CollectionDateTime: "2024-13-01T00:00:00Z",
      Results: [{ Code: "C", ReferenceRange: { Low: "1", High: 2 }, Notes: "n" }],
    }],
  };
  assert.deepEqual(issues(json), [
    { path: "Meta.EventDateTime", rule: "not a date-time" },
    { path: "Meta.Test", rule: "not a boolean" },
    { path: "Patient.Identifiers[1].ID", rule: "not a string" },
    { path: "Patient.Demographics.Address", rule: "not an object" },
    { path: "Visit.Location.Bed", rule: "not a string" },
    { path: "Orders[0].CollectionDateTime", rule: "not a date-time" },
    { path: "Orders[0].Results[0].ReferenceRange.Low", rule: "not a number" },
    { path: "Orders[0].Results[0].Notes", rule: "not an array" },
  ]);
});

Deno.test("an unknown data model or event type is a clear problem, not a crash", () => {
  assert.deepEqual(issues({ Meta: { DataModel: "Claims", EventType: "New" } }), [{
    path: "Meta.DataModel",
    rule:
      'unknown data model "Claims" (known: PatientAdmin, Results, Scheduling, Order, Notes, Media)',
  }]);
  assert.deepEqual(issues({ Meta: { DataModel: "Results", EventType: "Arrival" } }), [{
    path: "Meta.EventType",
    rule: 'unknown event type "Arrival" for Results (known: New)',
  }]);
  assert.deepEqual(issues({ Patient: {} }), [{ path: "Meta", rule: "required" }]);
  assert.deepEqual(issues({ Meta: { EventType: "New" } }), [{
    path: "Meta.DataModel",
    rule: "required",
  }]);
  assert.deepEqual(issues({ Meta: "x" }), [{ path: "Meta", rule: "not an object" }]);
  for (const v of [null, [], "text", 3]) {
    assert.deepEqual(issues(v), [{ path: "", rule: "not a JSON object" }]);
  }
});

Deno.test("required properties of each model are reported, arrays must not be empty", () => {
  assert.deepEqual(issues({ Meta: { DataModel: "Results", EventType: "New" } }), [
    { path: "Patient", rule: "required" },
    { path: "Orders", rule: "required" },
  ]);
  assert.deepEqual(
    issues({
      Meta: { DataModel: "Results", EventType: "New" },
      Patient: { Identifiers: [] },
      Orders: [{ Results: [{ Code: "A" }, { Value: "1" }] }],
    }),
    [
      { path: "Patient.Identifiers", rule: "must not be empty" },
      {
        path: "Orders[0]",
        rule:
          "needs ID (OBR-2, placer order number) or ApplicationOrderID (OBR-3, filler order number)",
      },
      { path: "Orders[0].Results[1].Code", rule: "required" },
    ],
  );
  assert.deepEqual(
    issues({
      Meta: { DataModel: "PatientAdmin", EventType: "Cancel" },
      Patient: { Identifiers: [{ ID: "1" }] },
    }),
    [
      { path: "Meta.CanceledEvent", rule: "required" },
    ],
  );
  assert.deepEqual(
    issues({
      Meta: { DataModel: "PatientAdmin", EventType: "Cancel", CanceledEvent: "Registration" },
      Patient: { Identifiers: [{ ID: "1" }] },
    }),
    [{ path: "Meta.CanceledEvent", rule: "must be one of Arrival, Transfer, Discharge" }],
  );
  assert.deepEqual(
    issues({
      Meta: { DataModel: "PatientAdmin", EventType: "PatientMerge" },
      Patient: { Identifiers: [{ ID: "1" }] },
    }),
    [
      { path: "Patient.PreviousIdentifiers", rule: "required" },
    ],
  );
});

Deno.test("unknown properties and nulls are allowed", () => {
  const json = admit({
    Visit: { PatientClass: null, Duration: 3, Whatever: { a: 1 } },
    Custom: [1],
  });
  (json.Meta as Record<string, unknown>).Message = { ID: 12 };
  assert.deepEqual(issues(json), []);
});

Deno.test("extensions must be well-formed: field keys, one-line values, no header segments", () => {
  const json = admit({
    Extensions: {
      Other: { anything: true },
      HL7v2: {
        Fields: { "PID-12": "US", "pid-3": "x", "PID-13": "a\rb", "PID-14": 5 },
        Segments: [
          { After: "PID", Segment: "ZPI|1" },
          { After: "PID", Segment: "MSH|^~\\&|X" },
          { After: "nope", Segment: "ZZZ|1" },
          { After: "PID", Segment: "ZZZ|1\rPID|2" },
        ],
      },
    },
  });
  assert.deepEqual(issues(json), [
    { path: "Extensions.HL7v2.Fields.pid-3", rule: "not a field key like PID-13 or NK1[2]-5" },
    { path: "Extensions.HL7v2.Fields.PID-13", rule: "must not contain line breaks or |" },
    { path: "Extensions.HL7v2.Fields.PID-14", rule: "not a string" },
    { path: "Extensions.HL7v2.Segments[1].Segment", rule: "must not be a header or batch segment" },
    { path: "Extensions.HL7v2.Segments[2].After", rule: "not a segment key like PID or OBX[2]" },
    {
      path: "Extensions.HL7v2.Segments[3].Segment",
      rule: "not one HL7 segment (ID, then |-separated fields)",
    },
  ]);
});

Deno.test("embedded files: base64 only, and within the size limit", () => {
  const media = (contents: unknown) => ({
    Meta: { DataModel: "Media", EventType: "New" },
    Patient: { Identifiers: [{ ID: "1" }] },
    Media: { FileType: "PDF", FileContents: contents },
  });
  assert.deepEqual(issues(media("not base64!")), [{
    path: "Media.FileContents",
    rule: "not base64",
  }]);
  assert.deepEqual(issues(media("AAAAAAAA"), { maxEmbeddedFileBytes: 5 }), [{
    path: "Media.FileContents",
    rule: "embedded file of 6 bytes is over the limit of 5",
  }]);
  assert.deepEqual(issues(media("AAAAAAAA"), { maxEmbeddedFileBytes: 6 }), []);
});

Deno.test("jsonToHl7 refuses invalid JSON with a 400-style error listing every issue", () => {
  const json = admit({ Visit: { VisitDateTime: "soon" } });
  (json.Patient as Record<string, unknown>).Demographics = { DOB: "x" };
  assert.throws(() => jsonToHl7(json), (e: unknown) => {
    assert.ok(e instanceof DataModelValidationError);
    assert.ok(e instanceof DataModelError);
    assert.equal(e.code, "invalid");
    assert.equal(e.status, 400);
    assert.equal(
      e.message,
      "Patient.Demographics.DOB: not a date; Visit.VisitDateTime: not a date-time",
    );
    assert.equal(e.issues.length, 2);
    return true;
  });
});

Deno.test("property: any JSON value gets a verdict, never an exception", () => {
  const meta = fc.record({
    DataModel: fc.constantFrom("PatientAdmin", "Results", "Scheduling", "Order", "Notes", "Media"),
    EventType: fc.constantFrom("New", "Arrival", "Cancel", "PatientMerge", "Update"),
  });
  const anyJson = fc.oneof(
    fc.jsonValue(),
    fc.record({
      Meta: meta,
      Patient: fc.jsonValue(),
      Visit: fc.jsonValue(),
      Orders: fc.jsonValue(),
    }),
    fc.record({
      Meta: meta,
      Patient: fc.record({ Identifiers: fc.array(fc.record({ ID: fc.jsonValue() })) }),
      Extensions: fc.record({ HL7v2: fc.jsonValue() }),
      Order: fc.jsonValue(),
    }),
  );
  fc.assert(
    fc.property(anyJson, (v) => {
      const r = validateDataModel(v);
      if (r.ok) {
        // What validates must also translate.
        assert.equal(typeof jsonToHl7(v), "string");
      } else {
        assert.ok(r.issues.length > 0);
        assert.throws(() => jsonToHl7(v), DataModelValidationError);
      }
    }),
    { numRuns: 400 },
  );
});

Deno.test("jsonToHl7 validates the JSON unless told what validating it just said", () => {
  const message = admit({ Patient: { Identifiers: [{ ID: "1", IDType: "MR" }] } });
  const validated = validateDataModel(message);
  assert.ok(validated.ok);
  // A caller writing one message for several destinations validates it once, then says so.
  const wrong = admit({
    Patient: { Identifiers: [{ ID: "1", IDType: "MR" }], Demographics: { FirstName: 5 } },
  });
  assert.throws(() => jsonToHl7(wrong), DataModelValidationError);
  const written = jsonToHl7(wrong, { validated, controlId: "C1", now: new Date(0) });
  assert.match(written, /^MSH\|\^~\\&\|/);
  assert.equal(written, jsonToHl7(message, { controlId: "C1", now: new Date(0) }));
});
