import assert from "node:assert/strict";
import {
  formatKeys,
  parseSelector,
  readSelector,
  selectAll,
  SelectorError,
} from "../../../codecs/modifiers/mod.ts";
import { patientAdmin, results } from "./fixtures.ts";

const paths = (root: unknown, s: string, forWrite = false) =>
  selectAll(root, parseSelector(s), forWrite).map((m) => formatKeys(m.keys));

Deno.test("selector: plain names, $ prefix, index, [*], predicates", () => {
  const pa = patientAdmin(), r = results();
  assert.deepEqual(paths(pa, "Patient.Demographics.Sex"), ["Patient.Demographics.Sex"]);
  assert.deepEqual(paths(pa, "$.Patient.Demographics.Sex"), ["Patient.Demographics.Sex"]);
  assert.deepEqual(paths(pa, "Patient.Identifiers[1].ID"), ["Patient.Identifiers[1].ID"]);
  assert.deepEqual(paths(pa, "Patient.Identifiers[5].ID"), []);
  assert.deepEqual(paths(r, "Orders[*].Results[*].Code"), [
    "Orders[0].Results[0].Code",
    "Orders[0].Results[1].Code",
    "Orders[1].Results[0].Code",
    "Orders[1].Results[1].Code",
  ]);
  assert.deepEqual(paths(pa, 'Patient.Identifiers[?IDType=="MR"].ID'), [
    "Patient.Identifiers[0].ID",
  ]);
  assert.deepEqual(paths(pa, "Patient.Identifiers[?IDType!='MR'].ID"), [
    "Patient.Identifiers[1].ID",
  ]);
  assert.deepEqual(paths(r, "Orders[*].Results[?Codeset==null]"), ["Orders[1].Results[1]"]);
  assert.deepEqual(paths(pa, "Extensions.HL7v2.Fields.PID-2"), ["Extensions.HL7v2.Fields.PID-2"]);
});

Deno.test("selector: a read of absent paths finds nothing; a write passes through absent names", () => {
  const pa = patientAdmin();
  assert.deepEqual(paths(pa, "Patient.Contact.Phone"), []);
  assert.deepEqual(paths(pa, "Patient.Contact.Phone", true), ["Patient.Contact.Phone"]);
  // A write never goes through an array step that does not exist, nor into a string.
  assert.deepEqual(paths(pa, "Patient.Contacts[*].Phone", true), []);
  assert.deepEqual(paths(pa, "Patient.Demographics.Sex.Code", true), []);
});

Deno.test("selector: readSelector gives a value, the first predicate match, or a list for [*]", () => {
  const pa = patientAdmin(), r = results();
  assert.equal(readSelector(pa, parseSelector("Patient.Demographics.Sex")), "1");
  assert.equal(
    readSelector(pa, parseSelector('Patient.Identifiers[?IDType=="SSA"].ID')),
    "987654321",
  );
  assert.deepEqual(readSelector(r, parseSelector("Orders[*].ID")), ["ORD1", "ORD2"]);
  assert.equal(readSelector(pa, parseSelector("Patient.Nope")), undefined);
  // Inherited properties are not data.
  assert.equal(readSelector({}, parseSelector("constructor")), undefined);
});

Deno.test("selector: malformed selectors are refused saying where", () => {
  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["Patient..Sex", /expected a name at character 9/],
    ["Patient.Identifiers[", /expected "\*", an index or "\?"/],
    ["Patient.Identifiers[*", /expected "\]"/],
    ['Patient.Identifiers[?(IDType=="MR")]', /without parentheses/],
    ["Patient.Identifiers[?IDType=MR]", /expected "==" or "!="/],
    ['Patient.Identifiers[?IDType=="MR]', /unterminated string/],
    ["$Patient", /expected "\." after "\$"/],
    ["$", /at least one step/],
    ["a".repeat(600), /at most 512/],
    [Array.from({ length: 40 }, () => "a").join("."), /more than 32 steps/],
  ];
  for (const [s, why] of bad) {
    assert.throws(() => parseSelector(s), (e: unknown) => {
      assert.ok(e instanceof SelectorError, s);
      assert.match((e as Error).message, why, s);
      return true;
    });
  }
});
