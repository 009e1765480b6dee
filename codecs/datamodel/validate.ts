/**
 * Validation of incoming JSON against its data model and event type. The schema is derived
 * from the mapping tables (each rule gives its property a type), plus `Meta`, the extension
 * format, and the required properties of each model. Unknown properties are allowed (the
 * hosted platforms' models have many the engine does not map); wrong types are not.
 *
 * @module
 */

import { CANCELED_EVENTS, type DataModelName, dataModels, eventFor, eventTypes } from "./events.ts";
import type { ValidationIssue } from "./errors.ts";
import { FIELD_KEY, HL7_EXTENSION, SEGMENT_KEY } from "./extensions.ts";
import { isObject, keysOf } from "./json_path.ts";
import { MODELS, REQUIRED, type RequiredChoice } from "./models/mod.ts";
import { isNoteFile, NOTE_CONTENT_TYPES } from "./notes_body.ts";
import type { LeafRule, ScopeItem, ValueType } from "./rules.ts";
import { BASE64, base64Bytes, DATE } from "./values.ts";
import { tryIsoToHl7 } from "../time/mod.ts";

/** Options of {@link validateDataModel}. */
export interface ValidateOptions {
  /** Largest embedded file (decoded bytes of a base64 value). Default 10 MB. */
  readonly maxEmbeddedFileBytes?: number;
}

/** Result of {@link validateDataModel}. */
export type ValidationResult =
  | { readonly ok: true; readonly dataModel: DataModelName; readonly eventType: string }
  | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

/** The default limit of embedded files: 10 MB. */
export const DEFAULT_MAX_EMBEDDED_FILE_BYTES = 10_000_000;

interface ObjectNode {
  kind: "object";
  props: Map<string, Node>;
  scope: boolean;
  /** `props`' keys and nodes, in order, once the schema is built: walked per message. */
  keys?: string[];
  nodes?: Node[];
}

type Node =
  | ObjectNode
  | { kind: "array"; of: Node }
  | { kind: "value"; t: ValueType }
  | { kind: "range" };

function objectNode(scope = false): ObjectNode {
  return { kind: "object", props: new Map(), scope };
}

/** The object node at a dotted path below `node`, created as needed. */
function objectAt(node: ObjectNode, path: string): ObjectNode {
  let n = node;
  for (const k of keysOf(path)) {
    let next = n.props.get(k);
    if (next === undefined) {
      next = objectNode();
      n.props.set(k, next);
    }
    if (next.kind !== "object") throw new Error(`mapping table: ${path} is both object and value`);
    n = next;
  }
  return n;
}

/** Puts `child` at a dotted path (the last key) below `node`. */
function put(node: ObjectNode, path: string, child: Node): void {
  const keys = keysOf(path);
  const parent = objectAt(node, keys.slice(0, -1).join("."));
  const last = keys[keys.length - 1] as string;
  const had = parent.props.get(last);
  if (had !== undefined && had.kind !== child.kind) {
    throw new Error(`mapping table: ${path} has two shapes`);
  }
  if (had === undefined) parent.props.set(last, child);
}

function leafInto(obj: ObjectNode, scope: ObjectNode, r: LeafRule) {
  if (r.j.startsWith("/")) put(scope, r.j.slice(1), { kind: "value", t: r.t });
  else put(obj, r.j, { kind: "value", t: r.t });
}

function buildScope(items: readonly ScopeItem[], scope: ObjectNode): void {
  for (const item of items) {
    if (item.kind === "group") {
      const inner = objectNode(true);
      put(scope, item.j, item.many ? { kind: "array", of: inner } : inner);
      buildScope(item.items, inner);
      continue;
    }
    const scalar = item.rules.find((r): r is LeafRule => r.kind === "leaf" && r.j === "");
    let obj: ObjectNode;
    if (item.many) {
      if (scalar !== undefined) {
        put(scope, item.at, { kind: "array", of: { kind: "value", t: scalar.t } });
        continue;
      }
      obj = objectNode();
      put(scope, item.at, { kind: "array", of: obj });
    } else obj = objectAt(scope, item.at);
    for (const r of item.rules) {
      if (r.kind === "leaf") leafInto(obj, scope, r);
      else if (r.kind === "range") put(obj, r.j, { kind: "range" });
      else if (r.kind === "structured") put(obj, r.j, { kind: "value", t: "string" });
      else if (r.kind === "reps") {
        for (const b of r.buckets) {
          const only = b.leaves.every((l) => l.j === "") ? b.leaves[0] : undefined;
          let el: Node;
          if (only !== undefined) el = { kind: "value", t: only.t };
          else {
            const o = objectNode();
            for (const lr of b.leaves) leafInto(o, scope, lr);
            el = o;
          }
          put(obj, b.j, b.many ? { kind: "array", of: el } : el);
        }
      }
    }
  }
}

const schemas = new Map<string, ObjectNode>();

/** The schema of a data model (built once from its table). */
function schemaOf(model: DataModelName): ObjectNode {
  const known = schemas.get(model);
  if (known !== undefined) return known;
  const s = objectNode(true);
  buildScope(MODELS[model], s);
  s.props.delete("Meta"); // checked by checkMeta, with the engine's properties
  listProps(s);
  schemas.set(model, s);
  return s;
}

/** Fills in `keys` and `nodes` of every object node below `node` (a built schema). */
function listProps(node: Node): void {
  if (node.kind === "array") return listProps(node.of);
  if (node.kind !== "object") return;
  node.keys = [...node.props.keys()];
  node.nodes = [...node.props.values()];
  for (const child of node.nodes) listProps(child);
}

const NUMBER: Node = { kind: "value", t: "number" };
const STRING: Node = { kind: "value", t: "string" };

const RULES: Record<ValueType, string> = {
  string: "not a string",
  date: "not a date",
  datetime: "not a date-time",
  number: "not a number",
  boolean: "not a boolean",
  base64: "not base64",
};

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/**
 * At most this many problems are listed; past it one more says how many were left out. A body
 * wrong at every element (300,000 numbers where objects go) is then answered at once, in a few
 * KB, instead of in minutes with megabytes of errors.
 */
export const MAX_LISTED_ISSUES = 100;

/**
 * What the last listed problem adds when `more` were left out past {@link MAX_LISTED_ISSUES}
 * (`noun`: what the answer calls them), e.g. `; and 39899 more problems after this one, not
 * listed (only the first 100 are)`.
 */
export function notListedNote(more: number, noun: string): string {
  return `; and ${more} more ${noun} after this one, not listed (only the first ` +
    `${MAX_LISTED_ISSUES} are)`;
}

class Checker {
  readonly #listed: ValidationIssue[] = [];
  // `path \n rule` of every problem found: two required paths below one missing object report
  // it once. A set, not a scan of the list: a scan per problem made wide bodies quadratic.
  readonly #seen = new Set<string>();
  #unlisted = 0;
  #firstUnlisted: ValidationIssue | undefined;
  constructor(readonly maxFile: number) {}

  /** The problems found, the first {@link MAX_LISTED_ISSUES}, then one counting the rest. */
  get issues(): ValidationIssue[] {
    const first = this.#firstUnlisted;
    if (first === undefined) return this.#listed;
    return [...this.#listed, {
      path: first.path,
      rule: this.#unlisted === 1
        ? first.rule
        : first.rule + notListedNote(this.#unlisted - 1, "problems"),
    }];
  }

  add(path: string, rule: string): void {
    const key = `${path}\n${rule}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    if (this.#listed.length < MAX_LISTED_ISSUES) this.#listed.push({ path, rule });
    else if (this.#unlisted++ === 0) this.#firstUnlisted = { path, rule };
  }

  /** Checks a value of type `t`, reporting a problem at `path`. */
  value(t: ValueType, v: unknown, path: string): void {
    const rule = this.#verdict(t, v);
    if (rule !== undefined) this.add(path, rule);
  }

  /** What is wrong with `v` as a value of type `t`, or undefined when nothing is. */
  #verdict(t: ValueType, v: unknown): string | undefined {
    let ok: boolean;
    switch (t) {
      case "string":
        ok = typeof v === "string";
        break;
      case "number":
        ok = typeof v === "number" && Number.isFinite(v);
        break;
      case "boolean":
        ok = typeof v === "boolean";
        break;
      case "date":
        ok = typeof v === "string" && DATE.test(v) && tryIsoToHl7(v).ok;
        break;
      case "datetime":
        ok = typeof v === "string" && /^\d{4}/.test(v) && tryIsoToHl7(v, { timeZone: "UTC" }).ok;
        break;
      case "base64":
        ok = typeof v === "string" && v.length % 4 === 0 && BASE64.test(v);
        if (ok && base64Bytes(v as string) > this.maxFile) {
          return `embedded file of ${base64Bytes(v as string)} bytes is over the limit of ` +
            `${this.maxFile}`;
        }
        break;
    }
    return ok ? undefined : RULES[t];
  }

  // Where the walk of {@link node} is: its starting path, then the keys (a number: an array's
  // index) below it. A path string is built only for a problem: most values have none, and
  // building one per value was most of what validating a message allocated.
  #base = "";
  readonly #keys: (string | number)[] = [];

  /** The path where the walk is. */
  #here(): string {
    let path = this.#base;
    for (const k of this.#keys) path = typeof k === "number" ? `${path}[${k}]` : join(path, k);
    return path;
  }

  /** Checks `v` against the schema node `n`, reporting problems below `path`. */
  node(n: Node, v: unknown, path: string): void {
    this.#base = path;
    this.#keys.length = 0;
    this.#walk(n, v);
  }

  #walk(n: Node, v: unknown): void {
    if (v === undefined || v === null) return;
    switch (n.kind) {
      case "value": {
        const rule = this.#verdict(n.t, v);
        if (rule !== undefined) this.add(this.#here(), rule);
        return;
      }
      case "array":
        if (!Array.isArray(v)) return this.add(this.#here(), "not an array");
        for (let i = 0; i < v.length; i++) this.#below(i, n.of, v[i]);
        return;
      case "range":
        if (!isObject(v)) return this.add(this.#here(), "not an object");
        this.#below("Low", NUMBER, v.Low);
        this.#below("High", NUMBER, v.High);
        this.#below("Text", STRING, v.Text);
        return;
      case "object": {
        if (!isObject(v)) return this.add(this.#here(), "not an object");
        const keys = n.keys!, nodes = n.nodes!;
        for (let i = 0; i < keys.length; i++) this.#below(keys[i]!, nodes[i]!, v[keys[i]!]);
        const extensions = v.Extensions;
        if (n.scope && extensions !== undefined && extensions !== null) {
          this.extensions(extensions, join(this.#here(), "Extensions"));
        }
        return;
      }
    }
  }

  /** Walks `v` (at `key` below where the walk is) against `n`; an absent value costs nothing. */
  #below(key: string | number, n: Node, v: unknown): void {
    if (v === undefined || v === null) return;
    this.#keys.push(key);
    this.#walk(n, v);
    this.#keys.pop();
  }

  extensions(v: unknown, path: string): void {
    if (v === undefined || v === null) return;
    if (!isObject(v)) return this.add(path, "not an object");
    const h = v[HL7_EXTENSION];
    const p = join(path, HL7_EXTENSION);
    if (h === undefined || h === null) return;
    if (!isObject(h)) return this.add(p, "not an object");
    if (h.Fields !== undefined) {
      if (!isObject(h.Fields)) this.add(join(p, "Fields"), "not an object");
      else {
        for (const [key, raw] of Object.entries(h.Fields)) {
          const kp = join(join(p, "Fields"), key);
          if (!FIELD_KEY.test(key)) this.add(kp, "not a field key like PID-13 or NK1[2]-5");
          else if (typeof raw !== "string") this.add(kp, "not a string");
          else if (/[\r\n|]/.test(raw)) this.add(kp, "must not contain line breaks or |");
        }
      }
    }
    if (h.Segments !== undefined) {
      if (!Array.isArray(h.Segments)) return this.add(join(p, "Segments"), "not an array");
      h.Segments.forEach((s, i) => {
        const sp = `${join(p, "Segments")}[${i}]`;
        if (!isObject(s)) return this.add(sp, "not an object");
        if (typeof s.After !== "string" || !(s.After === "" || SEGMENT_KEY.test(s.After))) {
          this.add(join(sp, "After"), "not a segment key like PID or OBX[2]");
        }
        if (typeof s.Segment !== "string" || !/^[A-Z][A-Z0-9]{2}(\|[^\r\n]*)?$/.test(s.Segment)) {
          this.add(join(sp, "Segment"), "not one HL7 segment (ID, then |-separated fields)");
        } else if (/^(MSH|FHS|BHS|BTS|FTS)/.test(s.Segment)) {
          this.add(join(sp, "Segment"), "must not be a header or batch segment");
        }
      });
    }
  }

  required(value: unknown, keys: readonly string[], i: number, path: string): void {
    if (i === keys.length || !isObject(value)) return;
    const raw = keys[i] as string;
    const each = raw.endsWith("[]");
    const k = each ? raw.slice(0, -2) : raw;
    const v = value[k];
    const p = join(path, k);
    if (v === undefined || v === null || v === "") return this.add(p, "required");
    if (Array.isArray(v)) {
      if (v.length === 0 && i === keys.length - 1) return this.add(p, "must not be empty");
      if (each) v.forEach((el, n) => this.required(el, keys, i + 1, `${p}[${n}]`));
      return;
    }
    this.required(v, keys, i + 1, p);
  }

  /**
   * Each object at `keys` (from `i`) needs one of `choice.keys`. A missing object on the way is
   * not reported here: a required path says so when it matters.
   */
  choice(
    value: unknown,
    keys: readonly string[],
    i: number,
    path: string,
    choice: RequiredChoice,
  ): void {
    if (!isObject(value)) return;
    if (i === keys.length) {
      const has = (k: string) => value[k] !== undefined && value[k] !== null && value[k] !== "";
      if (!choice.keys.some(has)) this.add(path, choice.rule);
      return;
    }
    const raw = keys[i] as string;
    const each = raw.endsWith("[]");
    const k = each ? raw.slice(0, -2) : raw;
    const v = value[k];
    const p = join(path, k);
    if (Array.isArray(v)) {
      if (each) v.forEach((el, n) => this.choice(el, keys, i + 1, `${p}[${n}]`, choice));
      return;
    }
    this.choice(v, keys, i + 1, p, choice);
  }
}

/** Checks Meta; returns the model and event when they are known. */
function checkMeta(c: Checker, meta: unknown): [DataModelName, string] | undefined {
  if (meta === undefined || meta === null) {
    c.add("Meta", "required");
    return undefined;
  }
  if (!isObject(meta)) {
    c.add("Meta", "not an object");
    return undefined;
  }
  const model = meta.DataModel, event = meta.EventType;
  const known = dataModels();
  if (typeof model !== "string" || model === "") {
    c.add("Meta.DataModel", model === undefined || model === "" ? "required" : "not a string");
    return undefined;
  }
  if (!known.includes(model)) {
    c.add(
      "Meta.DataModel",
      `unknown data model ${JSON.stringify(model)} (known: ${known.join(", ")})`,
    );
    return undefined;
  }
  const events = eventTypes(model);
  if (typeof event !== "string" || event === "") {
    c.add("Meta.EventType", event === undefined || event === "" ? "required" : "not a string");
    return undefined;
  }
  if (!events.includes(event)) {
    c.add(
      "Meta.EventType",
      `unknown event type ${JSON.stringify(event)} for ${model} (known: ${events.join(", ")})`,
    );
    return undefined;
  }
  const canceled = meta.CanceledEvent;
  if (
    canceled !== undefined && canceled !== null && model === "PatientAdmin" && event === "Cancel"
  ) {
    if (typeof canceled !== "string" || eventFor(model, event, canceled) === undefined) {
      c.add("Meta.CanceledEvent", `must be one of ${CANCELED_EVENTS.join(", ")}`);
    }
  }
  if (meta.EventDateTime !== undefined && meta.EventDateTime !== null) {
    c.value("datetime", meta.EventDateTime, "Meta.EventDateTime");
  }
  if (meta.Test !== undefined && meta.Test !== null) c.value("boolean", meta.Test, "Meta.Test");
  if (meta.FacilityCode !== undefined && meta.FacilityCode !== null) {
    c.value("string", meta.FacilityCode, "Meta.FacilityCode");
  }
  const ref = (v: unknown, path: string, keys: readonly string[]) => {
    if (!isObject(v)) return c.add(path, "not an object");
    for (const k of keys) {
      const x = v[k];
      if (x !== undefined && x !== null && typeof x !== "string" && typeof x !== "number") {
        c.add(join(path, k), "not a string");
      }
    }
  };
  if (meta.Source !== undefined && meta.Source !== null) {
    ref(meta.Source, "Meta.Source", ["ID", "Name"]);
  }
  for (
    const [k, keys] of [["Destinations", ["ID", "Name"]], ["Logs", ["ID", "AttemptID"]]] as const
  ) {
    const v = meta[k];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) c.add(`Meta.${k}`, "not an array");
    else v.forEach((el, i) => ref(el, `Meta.${k}[${i}]`, keys));
  }
  if (meta.Errors !== undefined && meta.Errors !== null && !Array.isArray(meta.Errors)) {
    c.add("Meta.Errors", "not an array");
  }
  return [model as DataModelName, event];
}

/**
 * `Note.FileContents` and the properties that say how to read it (notes_body.ts): a declared
 * base64 file must be base64 within the embedded-file limit, as `Media.FileContents` is.
 */
function checkNoteBody(c: Checker, note: unknown): void {
  if (!isObject(note)) return;
  const type = note.ContentType;
  if (type !== undefined && type !== null && !NOTE_CONTENT_TYPES.includes(type as string)) {
    c.add(
      "Note.ContentType",
      `must be one of ${NOTE_CONTENT_TYPES.map((t) => JSON.stringify(t)).join(", ")}`,
    );
  }
  if (note.FileType !== undefined && note.FileType !== null) {
    c.value("string", note.FileType, "Note.FileType");
  }
  const body = note.FileContents;
  if (body === undefined || body === null) return;
  c.value(isNoteFile(note) ? "base64" : "string", body, "Note.FileContents");
}

/**
 * Checks a JSON message against the schema of its `Meta.DataModel` and `Meta.EventType`.
 * Every problem is reported with its JSON path (`Patient.Demographics.DOB: not a date`); an
 * unknown model or event type is one such problem, never an exception.
 */
export function validateDataModel(json: unknown, options: ValidateOptions = {}): ValidationResult {
  const c = new Checker(options.maxEmbeddedFileBytes ?? DEFAULT_MAX_EMBEDDED_FILE_BYTES);
  if (!isObject(json)) {
    c.add("", "not a JSON object");
    return { ok: false, issues: c.issues };
  }
  const found = checkMeta(c, json.Meta);
  if (found === undefined) return { ok: false, issues: c.issues };
  const [model, event] = found;
  c.node(schemaOf(model), json, "");
  if (model === "Notes") checkNoteBody(c, json.Note);
  const req = REQUIRED[model];
  for (const r of [...(req["*"] ?? []), ...(req[event] ?? [])]) {
    if (typeof r === "string") c.required(json, r.split("."), 0, "");
    else c.choice(json, r.path.split("."), 0, "", r);
  }
  return c.issues.length === 0
    ? { ok: true, dataModel: model, eventType: event }
    : { ok: false, issues: c.issues };
}

/**
 * Type-checks the objects of `json` against the shapes `model`'s tables give them, without
 * `Meta` and without required properties: a query's `Patient` is checked with PatientAdmin's.
 */
export function checkModelShape(
  model: DataModelName,
  json: Record<string, unknown>,
  options: ValidateOptions = {},
): ValidationIssue[] {
  const c = new Checker(options.maxEmbeddedFileBytes ?? DEFAULT_MAX_EMBEDDED_FILE_BYTES);
  c.node(schemaOf(model), json, "");
  return c.issues;
}

/**
 * Every JSON property the tables of `model` map, as paths with `[]` after an array
 * (`Patient.Identifiers[].ID`, `Patient.Demographics.EmailAddresses[]`), `Meta` excluded.
 */
export function mappedPaths(model: DataModelName): string[] {
  return mappedFields(model).map((f) => f.path);
}

/** {@link mappedPaths} with the value type of each (`range` parts are numbers and text). */
export function mappedFields(model: DataModelName): { path: string; t: ValueType }[] {
  const out: { path: string; t: ValueType }[] = [];
  const walk = (n: Node, path: string): void => {
    switch (n.kind) {
      case "value":
        out.push({ path, t: n.t });
        return;
      case "range":
        out.push({ path: join(path, "Low"), t: "number" });
        out.push({ path: join(path, "High"), t: "number" });
        out.push({ path: join(path, "Text"), t: "string" });
        return;
      case "array":
        return walk(n.of, `${path}[]`);
      case "object":
        for (const [k, child] of n.props) walk(child, join(path, k));
    }
  };
  walk(schemaOf(model), "");
  return out;
}
