/**
 * Nothing is silently dropped on the way to HL7: for generated payloads of every model and
 * event, filled with every property the model maps plus Redox fields it does not, every non-null
 * leaf comes back at its path after JSON → HL7 → JSON, or is a documented not-mapped field.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { EVENTS, hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";
import type { DataModelName } from "../../../codecs/datamodel/mod.ts";
import { MAPPED_ELSEWHERE, notMapped } from "../../../codecs/datamodel/not_mapped.ts";
import type { ValueType } from "../../../codecs/datamodel/rules.ts";
import { mappedFields } from "../../../codecs/datamodel/validate.ts";
import { REDOX_FIELDS } from "./redox_fields.ts";
import { at, leaves } from "../../helpers/json_leaves.ts";

/** A small seeded generator, so that one fast-check seed gives one payload. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

const CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 |^~&\\";

function valueOf(t: ValueType, rnd: () => number): unknown {
  const int = (n: number) => Math.floor(rnd() * n);
  switch (t) {
    case "number":
      return 1 + int(999);
    case "boolean":
      return rnd() < 0.5;
    case "base64":
      return btoa(`file ${int(1e6)}`);
    case "date":
      return `${1950 + int(70)}-0${1 + int(9)}-1${int(9)}`;
    case "datetime":
      return new Date(Date.UTC(1990 + int(40), int(12), 1 + int(28), int(24), int(60), int(60)))
        .toISOString().replace(".000Z", "Z");
    default: {
      // "v" first: no value collides with an HL7 code a table would translate.
      let s = "v";
      for (let i = int(10); i >= 0; i--) s += CHARS[int(CHARS.length)];
      return s.trimEnd() + "z";
    }
  }
}

/** Sets `value` at a path with `[]` (each array gets `n` elements). */
function place(obj: Record<string, unknown>, keys: string[], n: number, make: () => unknown): void {
  const [head, ...rest] = keys as [string, ...string[]];
  const array = head.endsWith("[]");
  const k = array ? head.slice(0, -2) : head;
  if (!array) {
    if (rest.length === 0) obj[k] = make();
    else place((obj[k] ??= {}) as Record<string, unknown>, rest, n, make);
    return;
  }
  const list = (obj[k] ??= []) as unknown[];
  for (let i = 0; i < n; i++) {
    if (rest.length === 0) list[i] = make();
    else place((list[i] ??= {}) as Record<string, unknown>, rest, n, make);
  }
}

/** Paths the writer only fills under a condition the generated values do not meet. */
const CONDITIONAL = new Set([
  "Orders[].Results[].FileType", // written for ValueType "Encapsulated Data" only
  "Note.Components[].FileType", // a note's own file (notes_body.ts)
  "Note.Components[].FileContents",
]);

function payload(model: DataModelName, eventType: string, seed: number): Record<string, unknown> {
  const rnd = prng(seed);
  const n = 1 + Math.floor(rnd() * 2);
  const root: Record<string, unknown> = {};
  for (const f of mappedFields(model)) {
    if (CONDITIONAL.has(f.path) || f.path.includes("ReferenceRange")) continue;
    place(root, f.path.split("."), n, () => valueOf(f.t, rnd));
  }
  // A range is written from its text; Low and High are read back from it.
  const results = (root.Orders as { Results?: Record<string, unknown>[] }[] | undefined) ?? [];
  for (const o of results) {
    for (const r of o.Results ?? []) {
      const low = 1 + Math.floor(rnd() * 50), high = low + 1 + Math.floor(rnd() * 50);
      r.ReferenceRange = { Low: low, High: high, Text: `${low}-${high}` };
    }
  }
  if (model === "Notes") {
    const note = root.Note as Record<string, unknown>;
    note.ContentType = "Plain Text";
    note.FileContents = `${valueOf("string", rnd)}\n${valueOf("string", rnd)}`;
  }
  // Redox fields the engine does not map ride along: accepted, documented, not in the HL7.
  for (const path of REDOX_FIELDS[model] ?? []) {
    if (path.startsWith("Meta.") || notMapped(model, path) === undefined) continue;
    if (path.endsWith("Race") || path.endsWith("Ethnicity")) continue; // mapped as strings
    try {
      place(root, path.split("."), n, () => valueOf("string", rnd));
    } catch { /* a path through a mapped scalar: skip */ }
  }
  root.Meta = {
    DataModel: model,
    EventType: eventType,
    ...(model === "PatientAdmin" && eventType === "Cancel" ? { CanceledEvent: "Arrival" } : {}),
    EventDateTime: valueOf("datetime", rnd),
    Test: rnd() < 0.5,
    FacilityCode: valueOf("string", rnd),
    Source: { ID: "7ce6f387-c33c-417d-8682-81e83628cbd9", Name: "Redox Dev Tools" },
  };
  return root;
}

const models = [...new Set(EVENTS.map((e) => e.dataModel))];

for (const model of models) {
  Deno.test(`${model}: every non-null leaf of a generated payload reaches HL7 or is documented`, () => {
    const events = [
      ...new Set(EVENTS.filter((e) => e.dataModel === model).map((e) => e.eventType)),
    ];
    const elsewhere = new Set([...MAPPED_ELSEWHERE["*"]!, ...(MAPPED_ELSEWHERE[model] ?? [])]);
    fc.assert(
      fc.property(fc.constantFrom(...events), fc.integer({ min: 1 }), (eventType, seed) => {
        const json = payload(model, eventType, seed);
        const back = hl7ToJson(jsonToHl7(json, { timeZone: "UTC" }), { timeZone: "UTC" });
        let checked = 0;
        for (const [path, generic, value] of leaves(json)) {
          if (notMapped(model, generic) !== undefined) continue;
          checked++;
          assert.ok(
            !generic.startsWith("Meta.") || elsewhere.has(generic),
            `${model} ${generic}: an undocumented Meta field`,
          );
          assert.deepEqual(at(back, path), value, `${model}.${eventType} ${path} was lost`);
        }
        assert.ok(checked > 60, `only ${checked} leaves checked`);
      }),
      { numRuns: 40 },
    );
  });
}
