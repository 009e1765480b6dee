import assert from "node:assert/strict";
import {
  applyModifiers,
  compileModifiers,
  diffJson,
  formatProblems,
  ModifierFailure,
} from "../../../codecs/modifiers/mod.ts";
import { compiled, patientAdmin, results, set } from "./fixtures.ts";

Deno.test("flavor delete: a field, array elements by predicate, every [*] match", () => {
  const input = patientAdmin();
  const before = structuredClone(input);
  const r = applyModifiers(
    compiled([
      { flavor: "delete", selector: "Patient.Demographics.SSN" },
      { flavor: "delete", selector: 'Patient.Identifiers[?IDType=="SSA"]' },
      { flavor: "delete", selector: "Patient.Nope" },
    ]),
    input,
  );
  assert.ok(r.ok);
  const v = r.value as ReturnType<typeof patientAdmin>;
  const p = v.Patient as { Identifiers: unknown[]; Demographics: Record<string, unknown> };
  assert.equal("SSN" in p.Demographics, false);
  assert.deepEqual(p.Identifiers, [{ ID: "123456", IDType: "MR" }]);
  assert.deepEqual(r.runs.map((x) => [x.matched, x.changed]), [
    [1, ["Patient.Demographics.SSN"]],
    [1, ["Patient.Identifiers[1]"]],
    [0, []],
  ]);
  // The input is never changed (copy on write), and untouched branches are shared.
  assert.deepEqual(input, before);
  assert.equal(v.Visit, input.Visit);

  const many = applyModifiers(
    compiled([{ flavor: "delete", selector: "Orders[*].Results[*]" }]),
    results(),
  );
  assert.ok(many.ok);
  const orders = (many.value as { Orders: { Results: unknown[] }[] }).Orders;
  assert.deepEqual(orders.map((o) => o.Results), [[], []]);
  assert.deepEqual(many.runs[0]?.changed, [
    "Orders[0].Results[0]",
    "Orders[0].Results[1]",
    "Orders[1].Results[0]",
    "Orders[1].Results[1]",
  ]);
});

Deno.test("flavor put: creates missing objects, replaces, reports only real changes", () => {
  const r = applyModifiers(
    compiled([
      { flavor: "put", selector: "Meta.Extensions.Route.Name", schema: { constant: "A" } },
      { flavor: "put", selector: "Visit.PatientClass", schema: { constant: "Inpatient" } },
      {
        flavor: "put",
        selector: 'Patient.Identifiers[?IDType=="MR"].IDType',
        schema: { constant: "MRN" },
      },
      {
        flavor: "put",
        selector: 'Patient.Identifiers[?IDType=="XX"].ID',
        schema: { constant: "no match" },
      },
      { flavor: "put", selector: "Patient.Identifiers[*].ID", schema: { get: "$.Nope" } },
    ]),
    patientAdmin(),
  );
  assert.ok(r.ok);
  const v = r.value as { Meta: { Extensions: unknown }; Patient: { Identifiers: unknown[] } };
  assert.deepEqual(v.Meta.Extensions, { Route: { Name: "A" } });
  assert.deepEqual(v.Patient.Identifiers, [{ IDType: "MRN" }, { IDType: "SSA" }]);
  assert.deepEqual(r.runs.map((x) => x.changed), [
    ["Meta.Extensions.Route.Name"],
    [], // same value: no change
    ["Patient.Identifiers[0].IDType"],
    [],
    ["Patient.Identifiers[0].ID", "Patient.Identifiers[1].ID"], // an absent result removes
  ]);
});

Deno.test("a modifier's if skips it when its condition does not hold", () => {
  const list = compiled([{
    flavor: "delete",
    selector: "Patient.Demographics.SSN",
    if: { operator: "equals", get: "Meta.FacilityCode", value: "HOSP_B" },
  }]);
  const r = applyModifiers(list, patientAdmin());
  assert.ok(r.ok);
  assert.deepEqual(r.runs[0], {
    index: 0,
    flavor: "delete",
    selector: "Patient.Demographics.SSN",
    matched: 0,
    changed: [],
    skipped: true,
  });
  const b = patientAdmin();
  (b.Meta as Record<string, unknown>).FacilityCode = "HOSP_B";
  const r2 = applyModifiers(list, b);
  assert.ok(r2.ok);
  assert.deepEqual(r2.runs[0]?.changed, ["Patient.Demographics.SSN"]);
});

Deno.test("a put that writes what another put read does not alias it", () => {
  const r = applyModifiers(
    compiled([
      { flavor: "put", selector: "Copy", schema: { get: "$.Patient.Demographics" } },
      { flavor: "put", selector: "Copy.Sex", schema: { constant: "X" } },
    ]),
    patientAdmin(),
  );
  assert.ok(r.ok);
  const v = r.value as { Copy: { Sex: string }; Patient: { Demographics: { Sex: string } } };
  assert.equal(v.Copy.Sex, "X");
  assert.equal(v.Patient.Demographics.Sex, "1");
});

Deno.test("a failing modifier stops the list, naming it, the keyword and the path, not the value", () => {
  const list = compiled([
    { flavor: "delete", selector: "Patient.Demographics.SSN" },
    {
      name: "sex codes",
      flavor: "put",
      selector: "Patient.Demographics.Sex",
      schema: { translate: "localSex" },
    },
  ], ["localSex"]);
  const sets = new Map([["localSex", set("localSex", { M: "Male" }, "fail")]]);
  const r = applyModifiers(list, patientAdmin(), { translationSets: sets });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.ok(r.failure instanceof ModifierFailure);
  assert.equal(r.failure.index, 1);
  assert.equal(r.failure.modifierName, "sex codes");
  assert.equal(r.failure.at, "schema.translate");
  assert.equal(r.failure.target, "Patient.Demographics.Sex");
  assert.equal(
    r.failure.message,
    "modifier [1] (sex codes) schema.translate at Patient.Demographics.Sex: no entry in translation set localSex (onMissing: fail)",
  );
  assert.ok(!r.failure.message.includes('"1"'));
  assert.equal(r.runs.length, 1);
  // A set named but not loaded fails the same way.
  const r2 = applyModifiers(list, patientAdmin());
  assert.ok(!r2.ok && /translation set localSex is not loaded/.test(r2.failure.reason));
});

Deno.test("validation: every problem with its path relative to the list", () => {
  const c = compileModifiers([
    { flavor: "put", selector: "A", schema: { if: { operator: "equal", value: 1 }, then: {} } },
    { flavor: "patch", selector: "A[" },
    { flavor: "delete", selector: "A", schema: { constant: 1 } },
    { flavor: "put", selector: "A" },
    {
      flavor: "put",
      selector: "A",
      schema: {
        constnt: 1,
        get: "B..C",
        use: "nope",
        translate: "missingSet",
        properties: { X: { pipe: [] } },
        concat: { parts: [{ constant: 1 }], separator: 1 },
        switch: { cases: [{ when: { operator: "matches", pattern: "(a" } }] },
        else: {},
      },
    },
    {
      flavor: "put",
      selector: "A",
      schema: {
        if: { operator: "and", conditions: [{ operator: "in", values: "x" }, { operator: "not" }] },
        then: {},
      },
      extra: 1,
    },
    "not an object",
  ], { translationSets: new Set(["localSex"]), inputs: new Set(["environment"]) });
  assert.equal(c.ok, false);
  if (c.ok) return;
  assert.deepEqual(formatProblems(c.problems, "subscriptions[2].modifiers"), [
    "subscriptions[2].modifiers[0].schema.if.operator: unknown (known: equals, notEquals, in, exists, matches, and, or, not)",
    "subscriptions[2].modifiers[1].flavor: unknown (known: put, delete)",
    'subscriptions[2].modifiers[1].selector: expected "*", an index or "?" after "[" at character 3',
    "subscriptions[2].modifiers[2].schema: delete takes no schema",
    "subscriptions[2].modifiers[3].schema: missing (put needs a schema)",
    "subscriptions[2].modifiers[4].schema.constnt: unknown keyword (known: omit, constant, use, get, properties, if, concat, switch, pipe, default, translate, comment, then, else)",
    "subscriptions[2].modifiers[4].schema.use: unknown input (known: value, environment)",
    "subscriptions[2].modifiers[4].schema.get: bad path: expected a name at character 3",
    "subscriptions[2].modifiers[4].schema.properties.X.pipe: pipe needs a non-empty list of schemas",
    "subscriptions[2].modifiers[4].schema.else: only allowed with if",
    "subscriptions[2].modifiers[4].schema.concat.separator: must be a string",
    "subscriptions[2].modifiers[4].schema.switch.cases[0].then: missing",
    'subscriptions[2].modifiers[4].schema.switch.cases[0].when.pattern: missing ")" at character 3',
    "subscriptions[2].modifiers[4].schema.translate: unknown translation set (declared: localSex)",
    "subscriptions[2].modifiers[5].extra: unknown (known: flavor, selector, schema, name, if, comment)",
    "subscriptions[2].modifiers[5].schema.if.conditions[0].values: in needs a list of values",
    "subscriptions[2].modifiers[5].schema.if.conditions[1].condition: not needs a condition",
    "subscriptions[2].modifiers[6]: must be an object {flavor, selector, schema}",
  ]);
  assert.deepEqual(compileModifiers({}), {
    ok: false,
    problems: [{ path: "", message: "must be a list of modifiers" }],
  });
});

Deno.test("the try diff names the paths added, removed and changed", () => {
  const before = patientAdmin();
  const r = applyModifiers(
    compiled([
      { flavor: "delete", selector: "Patient.Demographics.SSN" },
      { flavor: "put", selector: "Patient.Demographics.Sex", schema: { constant: "Female" } },
      { flavor: "put", selector: "Visit.Location.Facility", schema: { constant: "H" } },
    ]),
    before,
  );
  assert.ok(r.ok);
  assert.deepEqual(diffJson(before, r.value), [
    { path: "Patient.Demographics.Sex", change: "changed" },
    { path: "Patient.Demographics.SSN", change: "removed" },
    { path: "Visit.Location", change: "added" },
  ]);
  assert.deepEqual(diffJson(before, before), []);
});
