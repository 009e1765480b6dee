/**
 * JSON → HL7 v2: walks a model's table over a (validated) JSON message and emits segments in
 * table order, with the standard delimiters.
 *
 * Extensions are put back leaf by leaf: an extension leaf fills a leaf that no JSON property
 * wrote; where a property did write, the extension's text wins only if it reads back as the
 * same value (so `19800101120000` comes back as written, but an edited DOB is not undone).
 *
 * @module
 */

import { escapeHl7 } from "../hl7v2/mod.ts";
import { extensionOf, type ExtensionSegment, fieldsBySegment, segmentKey } from "./extensions.ts";
import {
  decodeLeaf,
  encodeTree,
  type FieldTree,
  fieldTree,
  forEachLeaf,
  getLeaf,
  setLeaf,
  STD,
} from "./hl7_tree.ts";
import { getPath, isObject, type JsonObject, keysOf } from "./json_path.ts";
import {
  type Derivation,
  type LeafAddress,
  type LeafRule,
  parseAddress,
  type RangeRule,
  type ReadContext,
  type RepsRule,
  type ScopeItem,
  type SegmentMap,
  type SegmentView,
  type StructuredRule,
  type WriteContext,
} from "./rules.ts";
import { snComponents } from "./structured.ts";
import { sameValue, toHl7Text, toJsonValue } from "./values.ts";

/** What the writer needs. */
export interface WriterOptions {
  readonly timeZone: string;
  readonly trigger: string;
  readonly eventType: string;
  /** Called with each segment's fields (index = field number) before it is encoded. */
  readonly finish?: (name: string, fields: FieldTree[]) => void;
}

/** Whether an extension leaf may replace what a rule wrote. */
type Check = (raw: string) => boolean;

/**
 * The keys of path `j` under `prefix` (a `/` path: of the scope object), by prefix then path: the
 * tables' strings are looked up as they are, instead of a path joined and hashed afresh for every
 * rule of every message.
 */
const joined = new Map<string, Map<string, readonly string[]>>();

function keysUnder(prefix: string, j: string): readonly string[] {
  let paths = joined.get(prefix);
  if (paths === undefined) joined.set(prefix, paths = new Map());
  let keys = paths.get(j);
  if (keys === undefined) {
    if (j.charCodeAt(0) === 47 /* "/" */) keys = keysOf(j.slice(1));
    else keys = keysOf(prefix === "" ? j : j === "" ? prefix : `${prefix}.${j}`);
    paths.set(j, keys);
  }
  return keys;
}

/** Reads values of a segment's JSON object, or of the scope object for `/` paths. */
function lookup(base: unknown, prefix: string, scope: JsonObject, j: string): unknown {
  const keys = keysUnder(prefix, j);
  let v: unknown = j.charCodeAt(0) === 47 /* "/" */ ? scope : base;
  for (let i = 0; i < keys.length; i++) {
    if (!isObject(v)) return undefined;
    v = v[keys[i]!];
  }
  return v;
}

/** A component's address within a repetition (`1.<h>`), parsed once per table string. */
const inRepetition = new Map<string, LeafAddress>();

function repetitionAddress(h: string): LeafAddress {
  let a = inRepetition.get(h);
  if (a === undefined) inRepetition.set(h, a = parseAddress(`1.${h}`));
  return a;
}

/** What a leaf's check is when the segment has no extension fields to lay over it: unused. */
const UNCHECKED: Check = () => true;

/** A repetition a bucket with a derivation wrote its value in (see {@link Bucket.derive}). */
interface DerivedRep {
  readonly f: number;
  readonly r: number;
  /** The value written (`null`: `""`, the value deleted). */
  readonly value: string | null;
  readonly derive: Derivation;
  /** The leaves (component, subcomponent) the bucket wrote the value in. */
  readonly own: readonly LeafAddress[];
  /** The leaves the bucket's fill wrote (marks of its class). */
  readonly fill: readonly LeafAddress[];
}

/** Decoded text of the leaves of repetition `r` of a tree, addressed `C[.S]`. */
function treeRepView(t: FieldTree, r: number): SegmentView {
  return {
    text(h: string): string | undefined {
      const a = repetitionAddress(h);
      const raw = getLeaf(t, r, a.comp, a.sub);
      return raw === "" || raw === '""' ? undefined : decodeLeaf(raw, STD);
    },
  };
}

class SegmentWriter {
  readonly trees: FieldTree[] = [];
  readonly claims = new Map<string, Check>();
  readonly derived: DerivedRep[] = [];
  content = false;

  /** `overlaid`: extension fields are laid over this segment, so each leaf's claim is kept. */
  constructor(readonly o: WriterOptions, readonly overlaid: boolean) {}

  tree(f: number): FieldTree {
    let t = this.trees[f];
    if (t === undefined) this.trees[f] = t = [[[""]]];
    return t;
  }

  put(f: number, r: number, c: number, s: number, enc: string, check: Check): void {
    setLeaf(this.tree(f), r, c, s, enc);
    if (this.overlaid) this.claims.set(`${f}.${r}.${c}.${s}`, check);
  }

  /** Writes a leaf rule's value; returns whether it wrote. */
  leaf(rule: LeafRule, v: unknown, f: number, r: number, c: number, s: number): boolean {
    if (v === undefined) return false;
    if (v === null) {
      this.put(f, r, c, s, '""', (raw) => raw === '""');
      return true;
    }
    const text = toHl7Text(v, rule.t, rule.codes, this.o);
    if (text === undefined || text === "") return false;
    // A kept second home is checked as a primary one: the extension's text stays only if it is
    // the same value (an edited property is written over it).
    const unchecked = !this.overlaid || (rule.fallback !== undefined && rule.fallback !== false &&
      rule.fallback !== "kept");
    const check: Check = unchecked ? UNCHECKED : (raw) =>
      raw !== '""' &&
      sameValue(toJsonValue(decodeLeaf(raw, STD), rule.t, rule.codes, this.o), v, rule.t);
    this.put(f, r, c, s, escapeHl7(text, STD), check);
    return true;
  }

  reps(rule: RepsRule, base: unknown, prefix: string, scope: JsonObject): void {
    let r = 0;
    for (const b of rule.buckets) {
      const v = lookup(base, prefix, scope, b.j);
      const elements = b.many ? (Array.isArray(v) ? v : []) : v === undefined ? [] : [v];
      for (const el of elements) {
        r++;
        let wrote = false;
        const own: LeafAddress[] = [];
        for (const lr of b.leaves) {
          if (lr.fallback === "read" || lr.fallback === "kept") continue;
          const a = repetitionAddress(lr.h);
          const value = lr.j === "" ? el : lookup(el, "", scope, lr.j);
          if (this.leaf(lr, value, rule.f, r, a.comp, a.sub)) {
            wrote = true;
            own.push(a);
          }
        }
        if (!wrote) {
          r--; // nothing in this element: leave no empty repetition behind
          continue;
        }
        if (b.derive !== undefined && this.overlaid && (typeof el === "string" || el === null)) {
          const fill = Object.keys(b.fill ?? {}).map(repetitionAddress);
          this.derived.push({ f: rule.f, r, value: el, derive: b.derive, own, fill });
        }
        this.content = true;
        for (const [comp, value] of Object.entries(b.fill ?? {})) {
          const a = repetitionAddress(comp);
          this.put(rule.f, r, a.comp, a.sub, value, UNCHECKED);
        }
      }
    }
  }

  range(rule: RangeRule, v: unknown): void {
    if (!isObject(v)) return;
    let text: string | undefined;
    if (typeof v.Text === "string") text = v.Text;
    else if (typeof v.Low === "number" && typeof v.High === "number") text = `${v.Low}-${v.High}`;
    else if (typeof v.Low === "number") text = `>${v.Low}`;
    else if (typeof v.High === "number") text = `<${v.High}`;
    if (text === undefined || text === "") return;
    const a = parseAddress(rule.h);
    const written = text;
    this.put(
      a.field,
      a.rep,
      a.comp,
      a.sub,
      escapeHl7(text, STD),
      (raw) => decodeLeaf(raw, STD) === written,
    );
    this.content = true;
  }

  /**
   * An SN text as components 1-4 of field `f` (`>500` → `>^500`); any other text in
   * component 1.
   */
  structured(rule: StructuredRule, v: unknown): void {
    if (v === undefined) return;
    const comps = typeof v === "string" ? snComponents(v) : undefined;
    if (comps === undefined) {
      const plain: LeafRule = { kind: "leaf", j: rule.j, h: String(rule.f), t: "string" };
      if (this.leaf(plain, v, rule.f, 1, 1, 1)) this.content = true;
      return;
    }
    comps.forEach((text, i) => {
      if (text !== "") {
        this.put(rule.f, 1, i + 1, 1, text, (raw) => decodeLeaf(raw, STD) === text);
      }
    });
    this.content = true;
  }

  /** Lays extension fields over what the rules wrote (see the module doc). */
  overlay(fields: readonly [number, string][]): void {
    for (const [f, raw] of fields) {
      const t = fieldTree(raw, STD);
      const out = this.tree(f);
      forEachLeaf(t, (r, c, s, v) => {
        if (getLeaf(out, r, c, s) === "" || this.claims.get(`${f}.${r}.${c}.${s}`)?.(v)) {
          setLeaf(out, r, c, s, v);
        }
      });
      for (const d of this.derived) if (d.f === f) this.settle(d, t, out);
    }
  }

  /**
   * A bucket value written where the extension kept the components it is derived from: the
   * same value leaves the bucket's own leaf out (it was not in the message read); an edited one
   * drops those components, which would contradict it.
   */
  settle(d: DerivedRep, ext: FieldTree, out: FieldTree): void {
    const kept = d.derive.value(treeRepView(ext, d.r));
    if (kept === undefined) return;
    const extOwn = d.own.filter((a) => getLeaf(ext, d.r, a.comp, a.sub) !== "");
    const same = extOwn.length === 0 ? kept === d.value : extOwn.some((a) => {
      const raw = getLeaf(ext, d.r, a.comp, a.sub);
      return d.value === null ? raw === '""' : decodeLeaf(raw, STD) === d.value;
    });
    if (same) {
      // The repetition as read (the extension kept it whole): no leaf it did not have.
      for (const a of [...(extOwn.length === 0 ? d.own : []), ...d.fill]) {
        if (getLeaf(ext, d.r, a.comp, a.sub) === "") setLeaf(out, d.r, a.comp, a.sub, "");
      }
      return;
    }
    for (const h of d.derive.from) {
      const a = repetitionAddress(h);
      if (getLeaf(out, d.r, a.comp, a.sub) !== "") setLeaf(out, d.r, a.comp, a.sub, "");
    }
  }
}

/** One JSON message's writing state. */
class Writer {
  readonly out: string[] = [];

  constructor(readonly o: WriterOptions) {}

  /** Writes one scope; `index` is its position in its group's array (set IDs). */
  scope(items: readonly ScopeItem[], obj: JsonObject, index: number): void {
    const ext = extensionOf(obj);
    const fields = fieldsBySegment(ext);
    const pending: ExtensionSegment[] = (ext?.Segments ?? []).filter((s) =>
      isObject(s) && typeof s.Segment === "string"
    );
    const anchors = new Set(pending.map((s) => s.After));
    const counts = new Map<string, number>();
    const emit = (name: string, build: (key: string) => string | undefined): void => {
      const occ = (counts.get(name) ?? 0) + 1;
      const key = segmentKey(name, occ);
      const text = build(key);
      if (text === undefined) return;
      counts.set(name, occ);
      this.out.push(text);
      for (let i = 0; i < pending.length; i++) {
        const p = pending[i] as ExtensionSegment;
        if (p.After === key) {
          this.out.push(p.Segment);
          pending.splice(i--, 1);
        }
      }
    };
    for (const item of items) {
      if (item.kind === "group") {
        const v = getPath(obj, item.j);
        const list = item.many ? (Array.isArray(v) ? v : []) : isObject(v) ? [v] : [];
        list.forEach((el, i) => {
          if (isObject(el)) this.scope(item.items, el, i);
        });
        continue;
      }
      if (item.many) {
        const v = getPath(obj, item.at);
        if (!Array.isArray(v)) continue;
        v.forEach((el, i) =>
          emit(item.seg, (key) => this.segment(item, el, "", obj, i, fields.get(key), true))
        );
      } else {
        emit(item.seg, (key) =>
          this.segment(
            item,
            obj,
            item.at,
            obj,
            index,
            fields.get(key),
            item.required === true || anchors.has(key),
          ));
      }
    }
    for (const p of pending) this.out.push(p.Segment);
  }

  /** Encodes one segment, or `undefined` when nothing feeds it. */
  segment(
    sm: SegmentMap,
    base: unknown,
    prefix: string,
    scope: JsonObject,
    index: number,
    ext: readonly [number, string][] | undefined,
    force: boolean,
  ): string | undefined {
    const w = new SegmentWriter(this.o, ext !== undefined);
    const self = lookup(base, prefix, scope, "");
    const ctx: WriteContext = {
      obj: isObject(self) ? self : {},
      index,
      trigger: this.o.trigger,
      eventType: this.o.eventType,
    };
    const readCtx: ReadContext = { index, trigger: this.o.trigger, eventType: this.o.eventType };
    for (const rule of sm.rules) {
      if (rule.kind !== "reps" && rule.when !== undefined && !rule.when.write(ctx)) continue;
      switch (rule.kind) {
        case "leaf": {
          if (rule.fallback === "read") break;
          const a = parseAddress(rule.h);
          if (rule.fallback === "kept" && !extHasLeaf(ext, a)) break;
          const v = lookup(base, prefix, scope, rule.j);
          if (w.leaf(rule, v, a.field, a.rep, a.comp, a.sub)) w.content = true;
          break;
        }
        case "const": {
          const v = rule.value(ctx);
          if (v === undefined) break;
          const a = parseAddress(rule.h);
          const accepts = rule.accepts;
          w.put(
            a.field,
            a.rep,
            a.comp,
            a.sub,
            escapeHl7(v, STD),
            w.overlaid && accepts !== undefined
              ? (raw) => accepts(decodeLeaf(raw, STD), readCtx)
              : UNCHECKED,
          );
          break;
        }
        case "reps":
          w.reps(rule, base, prefix, scope);
          break;
        case "range":
          w.range(rule, lookup(base, prefix, scope, rule.j));
          break;
        case "structured":
          w.structured(rule, lookup(base, prefix, scope, rule.j));
          break;
      }
    }
    if (!w.content && !force && ext === undefined) return undefined;
    if (ext !== undefined) w.overlay(ext);
    this.o.finish?.(sm.seg, w.trees);
    return encodeSegment(sm.seg, w.trees);
  }
}

/** Whether the extension fields of a segment hold leaf `a` (a kept second home was read there). */
function extHasLeaf(ext: readonly [number, string][] | undefined, a: LeafAddress): boolean {
  const raw = ext?.find(([f]) => f === a.field)?.[1];
  if (raw === undefined) return false;
  const leaf = getLeaf(fieldTree(raw, STD), a.rep, a.comp, a.sub);
  return leaf !== "" && leaf !== '""';
}

/** `SEG|f1|f2…` (MSH: `MSH|^~\&|f3…`), trailing empty fields dropped. */
function encodeSegment(name: string, trees: FieldTree[]): string {
  const first = name === "MSH" ? 3 : 1;
  const parts: string[] = [];
  for (let f = first; f < trees.length; f++) {
    const t = trees[f];
    parts.push(t === undefined ? "" : encodeTree(t));
  }
  let n = parts.length;
  while (n > 0 && parts[n - 1] === "") n--;
  const head = name === "MSH" ? "MSH|^~\\&" : name;
  return n === 0 ? head : `${head}|${parts.slice(0, n).join("|")}`;
}

/** Writes `root` following the scope `items`; returns the segments in order. */
export function writeModel(
  items: readonly ScopeItem[],
  root: JsonObject,
  options: WriterOptions,
): string[] {
  const writer = new Writer(options);
  writer.scope(items, root, 0);
  return writer.out;
}
