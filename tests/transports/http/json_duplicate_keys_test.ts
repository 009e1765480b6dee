/**
 * JSON naming a key twice in one object: `JSON.parse` keeps the last value, other receivers of
 * the same bytes the first, so such a body is refused (with the key and its JSON path) by the
 * parser, by `POST /endpoint` and by the FHIR routes. The depth scan's cheap suspicion never
 * misses a repeated key, so skipping the full check when it has none is safe.
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { hl7ToFhir } from "../../../codecs/fhir/mod.ts";
import { JsonDepthScanner } from "../../../transports/http/json_depth.ts";
import { duplicateKeyAt, parseJsonBytes } from "../../../transports/http/json_parse.ts";
import { adt } from "../../helpers/net.ts";
import { withIngress } from "./ingress_fixture.ts";

const enc = new TextEncoder();

/** The scanner's suspicion for `text`, fed whole or `step` bytes at a time. */
function suspects(text: string, step = Infinity): boolean {
  const scanner = new JsonDepthScanner(1000);
  const bytes = enc.encode(text);
  for (let i = 0; i < bytes.length; i += step) scanner.feed(bytes.subarray(i, i + step));
  return scanner.mayRepeatKeys;
}

const refusal = (key: string, path: string) => ({
  ok: false,
  error: `duplicate key ${JSON.stringify(key)} at ${path}: an object names it twice, and ` +
    "receivers differ on which value counts; send each key once",
  path,
});

Deno.test("the JSON parser refuses an object naming a key twice, with the key and its path", () => {
  const cases: [string, string, string][] = [
    ['{"Meta": {"DataModel": "PatientAdmin"}, "Meta": {"DataModel": "Order"}}', "Meta", "$.Meta"],
    [
      '{"Patient": {"Identifiers": [{"ID": "1", "IDType": "MR"}, {"ID": "2", "ID": "3"}]}}',
      "ID",
      "$.Patient.Identifiers[1].ID",
    ],
    // After a nested object, and written with an escape: the same key as JSON.parse reads it.
    ['{"a": {"b": 1}, "c": [], "a": 2}', "a", "$.a"],
    [String.raw`{"x": {"I\u0044": 1, "ID": 2}}`, "ID", "$.x.ID"],
    [String.raw`{"a\"b": 1, "a\u0022b": 2}`, 'a"b', String.raw`$["a\"b"]`],
    ['[0, {"a b": {"é": 1, "é": 2}}]', "é", '$[1]["a b"]["é"]'],
    // An object of many keys (past those compared one by one, and those the scanner tracks).
    [
      `{${Array.from({ length: 200 }, (_, i) => `"k${i}": ${i}`).join(", ")}, "k7": 0}`,
      "k7",
      "$.k7",
    ],
  ];
  for (const [text, key, path] of cases) {
    assert.deepEqual(parseJsonBytes(enc.encode(text)), refusal(key, path), text);
    for (const step of [Infinity, 1, 3]) assert.ok(suspects(text, step), `${text} by ${step}`);
  }
  // A long key is cut in the error and the path (as the depth limit's path cuts it).
  const long = "K".repeat(100);
  const cut = `${"K".repeat(40)}…`;
  assert.deepEqual(
    parseJsonBytes(enc.encode(`{"${long}": 1, "${long}": 2}`)),
    refusal(cut, `$["${cut}"]`),
  );
});

Deno.test("the JSON parser takes the same key in different objects, and keys that only look alike", () => {
  const texts = [
    '{"ID": 1, "Patient": {"ID": 2, "Identifiers": [{"ID": 3}, {"ID": 4}]}, "x": {"ID": 5}}',
    '{"a": "a", "b": ["a", "a"], "c": {"a": {"a": {"a": 1}}}}',
    '{"id": 1, "ID": 2, "I D": 3, "ID ": 4, "\\"ID\\"": 5}',
    `{${Array.from({ length: 200 }, (_, i) => `"k${i}": {"k${i}": ${i}}`).join(", ")}}`,
  ];
  for (const text of texts) {
    const r = parseJsonBytes(enc.encode(text));
    assert.ok(r.ok, text);
    assert.deepEqual(r.value, JSON.parse(text));
  }
  // No key repeated and no escape: the scanner has no suspicion, fed whole or byte by byte.
  for (const text of texts.slice(0, 2)) {
    assert.equal(suspects(text), false, text);
    assert.equal(suspects(text, 1), false, text);
  }
});

/** A key of one character written as a `\\u` escape (see the property below). */
const ONE_CHAR_ESCAPED_KEY = /"\\u[0-9a-f]{4}":/;

/** A JSON value whose objects are lists of members, so that a key may come twice. */
type Value = null | number | string | Value[] | { members: [string, Value][] };

/** `key` as JSON, its characters sometimes written as `\u` escapes. */
const keyText = (key: string, escape: boolean) =>
  escape
    ? `"${[...key].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}"`
    : JSON.stringify(key);

function write(v: Value, escapes: boolean[], at = { i: 0 }): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => write(x, escapes, at)).join(",")}]`;
  return `{${
    v.members.map(([k, x]) =>
      `${keyText(k, escapes[at.i++ % escapes.length] ?? false)}:${write(x, escapes, at)}`
    ).join(",")
  }}`;
}

/** The first repeated key in document order, with its path, as the parser should name it. */
function firstRepeat(v: Value, path = "$"): { key: string; path: string } | undefined {
  if (v === null || typeof v !== "object") return undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const found = firstRepeat(v[i]!, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  const seen = new Set<string>();
  for (const [k, x] of v.members) {
    const at = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k)
      ? `${path}.${k}`
      : `${path}[${JSON.stringify(k)}]`;
    if (seen.has(k)) return { key: k, path: at };
    seen.add(k);
    const found = firstRepeat(x, at);
    if (found) return found;
  }
  return undefined;
}

Deno.test("the repeated-key check agrees with a reference, and the scanner's suspicion never misses one", () => {
  const key = fc.constantFrom("ID", "Id", "a", "b", "é", "a b", '"', "\\", "[", "{}", ",:");
  const { value } = fc.letrec<{ value: Value }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constantFrom<Value>(null, 0, 1.5, "x", "ID", '"]}', "\\"),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.record({ members: fc.array(fc.tuple(key, tie("value")), { maxLength: 5 }) }),
    ),
  }));
  fc.assert(
    fc.property(
      value,
      fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 1, max: 7 }),
      (v, escapes, step) => {
        const text = write(v, escapes);
        const expected = firstRepeat(v);
        assert.deepEqual(duplicateKeyAt(text), expected, text);
        if (expected) {
          assert.ok(suspects(text), text);
          assert.ok(suspects(text, step), `${text} by ${step}`);
        }
        // With the scanner's hint, the parser answers what it answers without it.
        const bytes = enc.encode(text);
        const scanner = new JsonDepthScanner(1000);
        scanner.feed(bytes);
        const hinted = parseJsonBytes(bytes, { keysMayRepeat: scanner.mayRepeatKeys });
        const unhinted = parseJsonBytes(bytes);
        if (ONE_CHAR_ESCAPED_KEY.test(text)) {
          // V8's JSON.parse (Deno 2.9.6) may give a one-character key written as a `\u` escape
          // the key of an earlier object's shape (`{"{}":0,"\u0061":1}` read as `"\\"` after a
          // `{"{}":0,"\\":1}`): the two parses of one text may differ in such a key, not in
          // whether the text is refused.
          assert.equal(hinted.ok, unhinted.ok, text);
          if (!hinted.ok && !unhinted.ok) assert.equal(hinted.error, unhinted.error, text);
        } else assert.deepEqual(hinted, unhinted, text);
      },
    ),
    { numRuns: 2_000 },
  );
});

Deno.test("endpoint refuses JSON naming a key twice with 400, the key and its path, and stores nothing", async () => {
  await withIngress({}, async (e) => {
    const token = await e.secretToken();
    const meta = '{"DataModel": "PatientAdmin", "EventType": "NewPatient", "Test": true}';
    const bodies: [string, string, string][] = [
      [
        `{"Meta": ${meta}, "Patient": {}, "Meta": ${meta.replace("NewPatient", "Arrival")}}`,
        "Meta",
        "$.Meta",
      ],
      [
        `{"Meta": ${meta}, "Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR", ` +
        `"ID": "0000000002"}]}}`,
        "ID",
        "$.Patient.Identifiers[0].ID",
      ],
    ];
    for (const [body, key, path] of bodies) {
      const r = await e.post(body, token);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.deepEqual(r.json, {
        Meta: {
          Errors: [{
            Text: `duplicate key "${key}" at ${path}: an object names it twice, and receivers ` +
              "differ on which value counts; send each key once",
            Path: path,
          }],
        },
      });
      assert.equal(r.headers.get("cache-control"), "no-store");
    }
    assert.equal(e.inbox.requests.length, 0, "nothing reached the inbox");
    assert.equal(
      e.lines.filter((l) => /WARN +endpoint\.invalid .*status=400 .*duplicate key/.test(l)).length,
      2,
      e.lines.join("\n"),
    );
    // The same key in different objects is no repeat.
    const ok = await e.post(
      `{"Meta": ${meta}, "Patient": {"Identifiers": [{"ID": "1", "IDType": "MR"}, ` +
        `{"ID": "2", "IDType": "EHRID"}]}}`,
      token,
    );
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
  });
});

Deno.test("the FHIR routes refuse a Bundle naming a key twice with a 400 OperationOutcome naming it", async () => {
  await withIngress({}, async (e) => {
    const token = await e.secretToken();
    const bundle = hl7ToFhir(adt("DUPKEY1")) as { entry: { resource: { resourceType: string } }[] };
    const text = JSON.stringify(bundle);
    const at = bundle.entry.findIndex((x) => x.resource.resourceType === "Patient");
    // A first birthDate the validator never sees: JSON.parse keeps the second.
    const dup = text.replace('"birthDate":', '"birthDate":"1901-01-01","birthDate":');
    assert.notEqual(dup, text);
    const post = (body: string) =>
      e.fetch(`${e.base}/fhir/R4/Bundle`, {
        method: "POST",
        headers: { "content-type": "application/fhir+json", authorization: `Bearer ${token}` },
        body,
      });
    const r = await post(dup);
    const outcome = await r.json();
    assert.equal(r.status, 400, JSON.stringify(outcome));
    assert.deepEqual(outcome, {
      resourceType: "OperationOutcome",
      issue: [{
        severity: "error",
        code: "invalid",
        diagnostics: `duplicate key "birthDate" at $.entry[${at}].resource.birthDate: an object ` +
          "names it twice, and receivers differ on which value counts; send each key once",
      }],
    });
    assert.equal(e.inbox.requests.length, 0);
    const plain = await post(text);
    assert.equal(plain.status, 200, await plain.text());
    assert.equal(e.inbox.requests.length, 1);
  });
});
