import assert from "node:assert/strict";
import { applyModifiers } from "../../../codecs/modifiers/mod.ts";
import { compiled, patientAdmin, results, set } from "./fixtures.ts";

const SETS = new Map([
  ["localSex", set("localSex", { "1": "Female", "2": "Male" }, "fail", { version: 3 })],
  ["labLoinc", set("labLoinc", { HGB: "718-7", GLU: "2345-7" }, "pass")],
]);

/** Applies one put at `selector` with `schema` and returns the value written there. */
function put(schema: unknown, selector = "Out", payload: unknown = patientAdmin()): unknown {
  const r = applyModifiers(
    compiled([{ flavor: "put", selector, schema }], ["localSex", "labLoinc"]),
    payload,
    { translationSets: SETS, inputs: { env: "production" } },
  );
  if (!r.ok) throw r.failure;
  return (r.value as Record<string, unknown>)[selector];
}

Deno.test("keyword omit: true removes the target; a condition removes it when it holds", () => {
  const r = applyModifiers(
    compiled([
      { flavor: "put", selector: "Patient.Demographics.SSN", schema: { omit: true } },
      {
        flavor: "put",
        selector: "Visit.VisitNumber",
        schema: { omit: { operator: "equals", value: "V2" } },
      },
    ]),
    patientAdmin(),
  );
  assert.ok(r.ok);
  const v = r.value as ReturnType<typeof patientAdmin>;
  assert.equal(Object.hasOwn((v.Patient as { Demographics: object }).Demographics, "SSN"), false);
  assert.equal((v.Visit as { VisitNumber: string }).VisitNumber, "V1");
});

Deno.test("keyword constant: any JSON value", () => {
  assert.equal(put({ constant: "HOSP" }), "HOSP");
  assert.deepEqual(put({ constant: { a: [1, null] } }), { a: [1, null] });
  assert.equal(put({ constant: null }), null);
});

Deno.test("keyword use: the value so far, or a named input", () => {
  assert.equal(put({ use: "env" }), "production");
  assert.deepEqual(put({ use: "value" }, "Visit"), patientAdmin().Visit);
  assert.equal(put({ constant: 5, pipe: [{ use: "value" }] }), 5);
});

Deno.test("keyword get: from the root, relative to the holder, list for [*], required", () => {
  assert.equal(put({ get: "$.Patient.Demographics.LastName" }), "SMITH");
  assert.deepEqual(put({ get: "$.Patient.Identifiers[*].IDType" }), ["MR", "SSA"]);
  assert.equal(put({ get: '$.Patient.Identifiers[?IDType=="SSA"].ID' }), "987654321");
  // Relative: from the object holding the target (here the root).
  assert.equal(put({ get: "Visit.VisitNumber" }), "V1");
  // Relative inside an array element: the sibling field.
  const r = applyModifiers(
    compiled([{
      flavor: "put",
      selector: "Patient.Identifiers[*].Label",
      schema: { get: "IDType" },
    }]),
    patientAdmin(),
  );
  assert.ok(r.ok);
  const ids = (r.value as { Patient: { Identifiers: { Label: string }[] } }).Patient.Identifiers;
  assert.deepEqual(ids.map((i) => i.Label), ["MR", "SSA"]);
  // Absent and not required: the target stays absent.
  assert.equal(put({ get: "$.Nope" }), undefined);
  assert.throws(
    () => put({ get: { path: "$.Patient.Nope", required: true } }),
    /modifier \[0\] schema\.get at Out: required path \$\.Patient\.Nope is absent/,
  );
});

Deno.test("keyword properties: builds an object, each property from the value's own", () => {
  const out = put(
    {
      properties: {
        ID: { get: "$.Extensions.HL7v2.Fields.PID-2" },
        IDType: { constant: "MR" },
        Missing: { get: "$.Nope" },
        Kept: { use: "value" },
      },
    },
    "Out",
    { ...patientAdmin(), Out: { Kept: "k", Dropped: "d" } },
  );
  assert.deepEqual(out, { ID: "MRN77", IDType: "MR", Kept: "k" });
});

Deno.test("keyword if: then / else, and every operator", () => {
  const cond = (c: unknown) =>
    put({
      get: "$.Patient.Demographics.Sex",
      if: c,
      then: { constant: "yes" },
      else: { constant: "no" },
    });
  assert.equal(cond({ operator: "equals", value: "1" }), "yes");
  assert.equal(cond({ operator: "equals", value: 1 }), "yes"); // numbers equal their text
  assert.equal(cond({ operator: "notEquals", value: "1" }), "no");
  assert.equal(cond({ operator: "in", values: ["2", "1"] }), "yes");
  assert.equal(cond({ operator: "exists" }), "yes");
  assert.equal(cond({ operator: "exists", get: "$.Patient.Nope" }), "no");
  assert.equal(cond({ operator: "matches", pattern: "^[12]$" }), "yes");
  assert.equal(cond({ operator: "matches", pattern: "^F", flags: "i" }), "no");
  assert.equal(cond({ operator: "equals", use: "env", value: "production" }), "yes");
  const one = { operator: "equals", value: "1" }, two = { operator: "equals", value: "2" };
  assert.equal(cond({ operator: "and", conditions: [one, { operator: "exists" }] }), "yes");
  assert.equal(cond({ operator: "and", conditions: [one, two] }), "no");
  assert.equal(cond({ operator: "or", conditions: [two, one] }), "yes");
  assert.equal(cond({ operator: "not", condition: two }), "yes");
  // Without else the value is unchanged.
  assert.equal(
    put({ constant: "x", if: { operator: "equals", value: "y" }, then: { constant: "z" } }),
    "x",
  );
});

Deno.test("keyword concat: text joined skipping empties, lists spread", () => {
  assert.equal(
    put({
      concat: {
        parts: [{ get: "$.Patient.Demographics.FirstName" }, { get: "$.Nope" }, { constant: "" }, {
          get: "$.Patient.Demographics.LastName",
        }],
        separator: " ",
      },
    }),
    "JOHN SMITH",
  );
  assert.equal(put({ concat: [{ constant: "A" }, { constant: 1 }, { constant: true }] }), "A1true");
  // A list part makes a list: append an identifier.
  const ids = put(
    {
      concat: [{ use: "value" }, {
        properties: { ID: { get: "$.Extensions.HL7v2.Fields.PID-2" }, IDType: { constant: "MRN" } },
      }],
    },
    "Patient",
    { ...patientAdmin(), Patient: [{ ID: "1" }] },
  );
  assert.deepEqual(ids, [{ ID: "1" }, { ID: "MRN77", IDType: "MRN" }]);
});

Deno.test("keyword switch: the first case whose condition holds, else otherwise, else unchanged", () => {
  const sw = (v: string, otherwise?: unknown) =>
    put({
      constant: v,
      switch: {
        cases: [
          { when: { operator: "in", values: ["1", "F"] }, then: { constant: "Female" } },
          { when: { operator: "in", values: ["2", "M"] }, then: { constant: "Male" } },
        ],
        ...(otherwise ? { otherwise } : {}),
      },
    });
  assert.equal(sw("F"), "Female");
  assert.equal(sw("2"), "Male");
  assert.equal(sw("9"), "9");
  assert.equal(sw("9", { constant: "Unknown" }), "Unknown");
});

Deno.test("keyword pipe: each schema takes the previous one's result", () => {
  assert.equal(
    put({
      pipe: [{ get: "$.Patient.Demographics.Sex" }, { translate: "localSex" }, {
        concat: [{ use: "value" }, { constant: "!" }],
      }],
    }),
    "Female!",
  );
});

Deno.test("keyword default: for absent, null and empty values only", () => {
  assert.equal(put({ get: "$.Nope", default: "U" }), "U");
  assert.equal(put({ constant: null, default: "U" }), "U");
  assert.equal(put({ constant: "", default: "U" }), "U");
  assert.equal(put({ constant: 0, default: "U" }), 0);
});

Deno.test("keyword translate: a set, per-use onMissing and default, lists element by element", () => {
  assert.equal(put({ get: "$.Patient.Demographics.Sex", translate: "localSex" }), "Female");
  assert.equal(put({ constant: "2", translate: { set: "localSex" } }), "Male");
  assert.throws(
    () => put({ constant: "9", translate: "localSex" }),
    /schema\.translate at Out: no entry in translation set localSex \(onMissing: fail\)/,
  );
  assert.equal(put({ constant: "9", translate: { set: "localSex", onMissing: "pass" } }), "9");
  assert.equal(
    put({
      constant: "9",
      translate: { set: "localSex", onMissing: "default", default: "Unknown" },
    }),
    "Unknown",
  );
  assert.deepEqual(put({ constant: ["HGB", "X"], translate: "labLoinc" }), ["718-7", "X"]);
  assert.equal(put({ get: "$.Nope", translate: "localSex" }), undefined);
  assert.throws(
    () => put({ constant: { a: 1 }, translate: "localSex" }),
    /translate needs a code, found an object/,
  );
});

Deno.test("keyword comment: accepted anywhere and ignored", () => {
  assert.equal(
    put({ comment: "why", constant: "x", translate: { set: "labLoinc", comment: "c" } }),
    "x",
  );
});

Deno.test("keywords apply in the fixed order whatever order they are written in", () => {
  // Written backwards: translate, default, get, constant. Applied: constant, get, default, translate.
  assert.equal(put({ translate: "localSex", default: "2", get: "$.Nope", constant: "1" }), "Male");
  assert.equal(put({ default: "1", translate: "localSex" }), "Female");
  // omit wins over everything after it.
  assert.equal(put({ translate: "localSex", constant: "1", omit: true }), undefined);
});

Deno.test("keywords on every result of a Results message (a [*] selector)", () => {
  const r = applyModifiers(
    compiled([
      { flavor: "put", selector: "Orders[*].Results[*].Code", schema: { translate: "labLoinc" } },
      {
        flavor: "put",
        selector: "Orders[*].Results[*].Codeset",
        schema: {
          if: { operator: "in", get: "Code", values: ["718-7", "2345-7"] },
          then: { constant: "LOINC" },
        },
      },
    ], ["labLoinc"]),
    results(),
    { translationSets: SETS },
  );
  assert.ok(r.ok);
  const orders =
    (r.value as { Orders: { Results: { Code: string; Codeset?: string }[] }[] }).Orders;
  assert.deepEqual(orders[0]?.Results.map((x) => [x.Code, x.Codeset]), [["718-7", "LOINC"], [
    "2345-7",
    "LOINC",
  ]]);
  assert.deepEqual(orders[1]?.Results.map((x) => [x.Code, x.Codeset]), [["NA", "L"], [
    "XX",
    undefined,
  ]]);
  assert.deepEqual(r.runs.map((x) => x.changed), [
    ["Orders[0].Results[0].Code", "Orders[0].Results[1].Code"],
    ["Orders[0].Results[0].Codeset", "Orders[0].Results[1].Codeset"],
  ]);
  assert.deepEqual(r.translationSets, [{ name: "labLoinc", version: 0 }]);
});
