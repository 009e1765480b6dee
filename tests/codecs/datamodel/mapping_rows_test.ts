/**
 * Every mapping row of every data model, in both directions. The rows are enumerated from the
 * tables themselves, so a row added later is tested without touching this file: for each leaf
 * (and each repetition bucket leaf, and each range) a message holding only that value (plus
 * the group anchors it needs) is translated to JSON, the value is checked at its JSON path,
 * then JSON is translated back and the value is checked at its HL7 leaf.
 */

import assert from "node:assert/strict";
import { EVENTS, hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";
import { MODELS, REQUIRED_SEGMENTS } from "../../../codecs/datamodel/models/mod.ts";
import type {
  Bucket,
  LeafRule,
  ScopeItem,
  SegmentMap,
  SegmentView,
} from "../../../codecs/datamodel/rules.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { message, msh, seg } from "./fixtures.ts";

const ZONE = "America/Chicago";

/** One row to test. */
interface Row {
  model: string;
  name: string;
  /** The message: MSH, then these segments. */
  segments: string[];
  /** Where the value lands in JSON. */
  jsonPath: (string | number)[];
  json: unknown;
  /** Where it is written back: segment, field, component, subcomponent, expected text. */
  hl7: { seg: string; f: number; c: number; s: number; text: string };
}

/** Segment content a model needs to be recognised (ORC-1 for orders, OBX-2 for media). */
const CONTEXT: Record<string, Record<string, Record<number, string>>> = {
  Order: { ORC: { 1: "NW" } },
  Media: { OBX: { 2: "ED" } },
  // With a code in OBX-3 a line stays a component (a bare line is Note.FileContents).
  Notes: { OBX: { 2: "TX", 3: "NOTE" } },
  Results: {},
  PatientAdmin: {},
  Scheduling: {},
};

/** Segments a model needs besides the row's own (a Media message has an OBX of type ED). */
const EXTRA: Record<string, string[]> = { Media: ["OBX|1|ED"] };

/** The least a JSON message of each model needs to validate, merged under the row's JSON. */
const BASE: Record<string, Record<string, unknown>> = {
  PatientAdmin: { Patient: { Identifiers: [{ ID: "P1" }] } },
  Results: {
    Patient: { Identifiers: [{ ID: "P1" }] },
    Orders: [{ ID: "O1", Results: [{ Code: "C1" }] }],
  },
  Scheduling: {
    Patient: { Identifiers: [{ ID: "P1" }] },
    Visit: { VisitDateTime: "2024-01-01T00:00:00Z" },
  },
  Order: { Patient: { Identifiers: [{ ID: "P1" }] }, Order: { ID: "O1" } },
  Notes: { Patient: { Identifiers: [{ ID: "P1" }] }, Note: { DocumentID: "D1" } },
  Media: {
    Patient: { Identifiers: [{ ID: "P1" }] },
    Media: { FileContents: "AAAA", FileType: "PDF" },
  },
};

function merge(base: unknown, over: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(over)) {
    return over.map((v, i) => i < base.length ? merge(base[i], v) : v);
  }
  if (isPlain(base) && isPlain(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = k in base ? merge(base[k], v) : v;
    return out;
  }
  return over === undefined ? base : over;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function dropExtensions(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropExtensions);
  if (!isPlain(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (k !== "Extensions") out[k] = dropExtensions(x);
  return out;
}

/** A sample value of a rule: the HL7 text and the JSON value it reads as. */
function sample(rule: LeafRule, n: number): { hl7: string; json: unknown; back: string } {
  if (rule.codes !== undefined) {
    const json = rule.codes.values()[0] as string | boolean;
    const hl7 = rule.codes.toHl7(json) as string;
    return { hl7, json, back: hl7 };
  }
  switch (rule.t) {
    case "date":
      return { hl7: "20240229", json: "2024-02-29", back: "20240229" };
    case "datetime":
      return {
        hl7: "202403151230-0500",
        json: "2024-03-15T17:30:00Z",
        back: "20240315123000-0500",
      };
    case "number":
      return { hl7: "42.5", json: 42.5, back: "42.5" };
    case "base64":
      return { hl7: "SGVsbG8=", json: "SGVsbG8=", back: "SGVsbG8=" };
    default: {
      // Delimiters in the value: escaped in HL7, plain in JSON.
      const json = `V${n} a|b^c&d~e`;
      return {
        hl7: `V${n} a\\F\\b\\S\\c\\T\\d\\R\\e`,
        json,
        back: `V${n} a\\F\\b\\S\\c\\T\\d\\R\\e`,
      };
    }
  }
}

function keys(path: string): string[] {
  return path === "" ? [] : path.split(".");
}

/** Segment field values that make a rule's condition hold, if it has one. */
function conditionFields(
  rule: { when?: { read(v: SegmentView): boolean } },
): Record<number, string> {
  if (rule.when === undefined) return {};
  for (const candidate of [{ 2: "ED" }, { 2: "NM" }] as Record<number, string>[]) {
    const view: SegmentView = { text: (h) => candidate[Number(h)] };
    if (rule.when.read(view)) return candidate;
  }
  throw new Error("no field values satisfy a rule's condition");
}

/** Builds the segment text with `fields` (field → [component, subcomponent, text] or text). */
function fieldsText(
  name: string,
  base: Record<number, string>,
  f: number,
  c: number,
  s: number,
  text: string,
): string {
  const comps: string[] = [];
  for (let k = 1; k < c; k++) comps.push("");
  const subs: string[] = [];
  for (let k = 1; k < s; k++) subs.push("");
  comps.push([...subs, text].join("&"));
  return seg(name, { ...base, [f]: comps.join("^") });
}

function collect(): Row[] {
  const rows: Row[] = [];
  let n = 0;
  for (const [model, items] of Object.entries(MODELS)) {
    const ev = EVENTS.find((e) => e.dataModel === model);
    if (ev === undefined) throw new Error(`no event for ${model}`);
    const ctx = CONTEXT[model] ?? {};
    const walk = (
      list: readonly ScopeItem[],
      prefix: (string | number)[],
      anchors: { anchor: string; lead: readonly string[] }[],
    ) => {
      for (const item of list) {
        if (item.kind === "group") {
          walk(item.items, [...prefix, ...keys(item.j), ...(item.many ? [0] : [])], [
            ...anchors,
            { anchor: item.anchor, lead: item.lead ?? [] },
          ]);
          continue;
        }
        for (const rule of item.rules) {
          if (item.seg === "MSH") continue; // MSH rows: see the Meta tests
          const around = (text: string): string[] => {
            const out: string[] = [];
            anchors.forEach((a, i) => {
              const last = i === anchors.length - 1;
              if (last && (a.anchor === item.seg || a.lead.includes(item.seg))) return;
              out.push(seg(a.anchor, ctx[a.anchor] ?? {}));
            });
            const inner = anchors[anchors.length - 1];
            // A lead segment comes before its anchor.
            if (inner !== undefined && inner.lead.includes(item.seg)) {
              out.push(text, seg(inner.anchor, ctx[inner.anchor] ?? {}));
            } else out.push(text);
            return out;
          };
          const segPath = [...prefix, ...keys(item.at), ...(item.many ? [0] : [])];
          const ctxFields = { ...(ctx[item.seg] ?? {}) };
          // A note's embedded file is only written: an MDM with an ED OBX reads as Media
          // (tested in notes_body_test.ts).
          if (
            model === "Notes" && rule.kind === "leaf" &&
            rule.when?.read({ text: (h) => h === "2" ? "ED" : undefined })
          ) continue;
          if (rule.kind === "leaf") {
            const v = sample(rule, ++n);
            const a = rule.h.split(".").map(Number) as [number, number?, number?];
            const base = { ...ctxFields, ...conditionFields(rule) };
            const jsonPath = rule.j.startsWith("/")
              ? [...prefix, ...keys(rule.j.slice(1))]
              : [...segPath, ...keys(rule.j)];
            rows.push({
              model,
              name: `${model} ${item.seg}-${rule.h} ⇄ ${jsonPath.join(".")}` +
                (rule.fallback ? " (fallback)" : ""),
              segments: around(fieldsText(item.seg, base, a[0], a[1] ?? 1, a[2] ?? 1, v.hl7)),
              jsonPath,
              json: v.json,
              hl7: {
                seg: item.seg,
                f: a[0],
                c: a[1] ?? 1,
                s: a[2] ?? 1,
                // Read-only and kept second homes: not written from JSON without extensions.
                text: rule.fallback === "read" || rule.fallback === "kept" ? "" : v.back,
              },
            });
          } else if (rule.kind === "reps") {
            for (const b of rule.buckets) {
              rows.push(
                ...bucketRows(model, item, rule.f, b, segPath, around, ctxFields, () => ++n),
              );
            }
          } else if (rule.kind === "range") {
            const f = Number(rule.h);
            rows.push({
              model,
              name: `${model} ${item.seg}-${rule.h} ⇄ ${[...segPath, rule.j].join(".")}`,
              segments: around(seg(item.seg, { ...ctxFields, [f]: "3.5-5.1" })),
              jsonPath: [...segPath, ...keys(rule.j)],
              json: { Low: 3.5, High: 5.1, Text: "3.5-5.1" },
              hl7: { seg: item.seg, f, c: 1, s: 1, text: "3.5-5.1" },
            });
          }
        }
      }
    };
    walk(items, [], []);
  }
  return rows;
}

function bucketRows(
  model: string,
  item: SegmentMap,
  f: number,
  b: Bucket,
  segPath: (string | number)[],
  around: (text: string) => string[],
  ctxFields: Record<number, string>,
  next: () => number,
): Row[] {
  const rows: Row[] = [];
  for (const l of b.leaves) {
    const v = sample(l, next());
    const c = Number(l.h.split(".")[0]);
    const comps: string[] = [];
    for (const [k, val] of Object.entries(b.fill ?? {})) comps[Number(k) - 1] = val;
    comps[c - 1] = v.hl7;
    for (let i = 0; i < comps.length; i++) comps[i] ??= "";
    const jsonPath = [...segPath, ...keys(b.j), ...(b.many ? [0] : []), ...keys(l.j)];
    rows.push({
      model,
      name: `${model} ${item.seg}-${f}.${l.h} (${b.j}) ⇄ ${jsonPath.join(".")}`,
      segments: around(seg(item.seg, { ...ctxFields, [f]: comps.join("^") })),
      jsonPath,
      json: v.json,
      // A read-only second home (e-mail in XTN-1) is read but never written.
      hl7: { seg: item.seg, f, c, s: 1, text: l.fallback === "read" ? "" : v.back },
    });
  }
  return rows;
}

function at(v: unknown, path: (string | number)[]): unknown {
  let x = v;
  for (const k of path) {
    if (typeof x !== "object" || x === null) return undefined;
    x = (x as Record<string | number, unknown>)[k];
  }
  return x;
}

/** The canonical MSH-9 of each model's first event. */
const ROWS_MSH9: Record<string, string> = Object.fromEntries(
  Object.keys(MODELS).map((m) => {
    const e = EVENTS.find((x) => x.dataModel === m);
    return [m, e ? `${e.messageType}^${e.trigger}^${e.structure}` : ""];
  }),
);

const ROWS = collect();

Deno.test("the mapping tables have a row for every property the issue names", () => {
  // A floor, so that a walker that silently found nothing cannot pass.
  assert.ok(ROWS.length > 250, `only ${ROWS.length} rows found`);
  const names = ROWS.map((r) => r.jsonPath.join("."));
  for (
    const expected of [
      "Patient.Identifiers.0.ID",
      "Patient.Demographics.DOB",
      "Patient.Demographics.SSN",
      "Patient.Demographics.PhoneNumber.Mobile",
      "Patient.Demographics.EmailAddresses.0",
      "Patient.Demographics.Language",
      "Patient.Contacts.0.RelationToPatient",
      "Patient.Diagnoses.0.Code",
      "Patient.Allergies.0.Reaction.0.Name",
      "Patient.PCP.ID",
      "Visit.AccountNumber",
      "Visit.Location.Bed",
      "Visit.Guarantor.LastName",
      "Visit.Insurances.0.MemberNumber",
      "Patient.PreviousIdentifiers.0.ID",
      "Orders.0.Results.0.ObservedDateTime",
      "Orders.0.Results.0.FileType",
      "Orders.0.Results.0.ReferenceRange",
      "Orders.0.Results.0.Notes.0",
      "Visit.Duration",
      "Order.Diagnoses.0.Code",
      "Order.ClinicalInfo.0.Value",
      "Note.Components.0.Value",
      "Media.FileContents",
    ]
  ) assert.ok(names.includes(expected), `no row maps ${expected}`);
});

for (const model of Object.keys(MODELS)) {
  Deno.test(`every ${model} mapping row works in both directions`, async (t) => {
    const rows = ROWS.filter((r) => r.model === model);
    assert.ok(rows.length > 10, `${model}: only ${rows.length} rows`);
    for (const row of rows) await t.step(row.name, () => checkRow(row));
  });
}

/** Segment IDs in the order a model's table lists them (group leads before their anchor). */
function segmentOrder(items: readonly ScopeItem[]): string[] {
  return items.flatMap((i) =>
    i.kind === "segment" ? [i.seg] : [...(i.lead ?? []), ...segmentOrder(i.items)]
  );
}

/** The row's segments with the (empty) segments its model requires put in their place. */
function withRequired(model: string, segments: readonly string[]): string[] {
  const order = segmentOrder(MODELS[model as keyof typeof MODELS]);
  const rank = (s: string) => order.indexOf(s.slice(0, 3));
  const out = [...segments];
  const table = REQUIRED_SEGMENTS[model as keyof typeof REQUIRED_SEGMENTS];
  for (const id of table["*"] ?? []) {
    if (out.some((s) => s.slice(0, 3) === id)) continue;
    const text = id === "ORC" ? "ORC|NW" : id;
    const at = out.findIndex((s) => rank(s) > rank(id));
    out.splice(at === -1 ? out.length : at, 0, text);
  }
  return out;
}

function checkRow(row: Row): void {
  const extra = (EXTRA[row.model] ?? []).filter((x) =>
    !row.segments.some((s) => s.startsWith(x.slice(0, 4)))
  );
  const text = message(
    msh(ROWS_MSH9[row.model] as string, "ROW1", { 7: "" }),
    ...withRequired(row.model, [...row.segments, ...extra]),
  );
  const json = hl7ToJson(text, { timeZone: ZONE });
  assert.deepEqual(at(json, row.jsonPath), row.json, `HL7 → JSON: ${text}`);
  const input = merge(BASE[row.model], dropExtensions(json));
  const back = parseHl7(jsonToHl7(input, { timeZone: ZONE }));
  const path = `${row.hl7.seg}-${row.hl7.f}.${row.hl7.c}.${row.hl7.s}`;
  assert.equal(back.getRaw(path) ?? "", row.hl7.text, `JSON → HL7 wrote ${back.encode()}`);
}
