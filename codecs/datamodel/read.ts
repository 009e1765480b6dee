/**
 * HL7 v2 → JSON: walks a model's table over the message's segments.
 *
 * Segments are assigned to scopes with a stack: a segment belongs to the innermost open scope
 * that maps it; a group's anchor (or lead) segment opens a new instance of the group. A segment
 * no open scope maps is kept whole as an extension of the innermost scope.
 *
 * Every leaf a rule reads is marked *covered* when writing the JSON value back gives the same
 * text; whatever is left (unmapped fields, components, repetitions, and lossy values) becomes
 * `Extensions.HL7v2.Fields` of the scope, so the writer can restore it.
 *
 * @module
 */

import { escapeHl7, type Hl7Delimiters } from "../hl7v2/mod.ts";
import {
  type CBucket,
  type CConst,
  type CLeaf,
  compileSegment,
  type CRange,
  type CReps,
  type CStructured,
  type Place,
} from "./compile.ts";
import { DataModelError } from "./errors.ts";
import { extensionOf, segmentKey } from "./extensions.ts";
import {
  decodeLeaf,
  encodeTree,
  fieldTree,
  leafInField,
  leafInRep,
  type RawSegment,
  sameDelimiters,
  segmentToStd,
  STD,
} from "./hl7_tree.ts";
import { arrayAt, type JsonObject, setPath } from "./json_path.ts";
import { type Frame, handler, newFrame } from "./scopes.ts";
import { leafKey, uncovered, uncoveredComponents } from "./residue.ts";
import { snComponents } from "./structured.ts";
import {
  type LeafRule,
  parseAddress,
  type ReadContext,
  type ScopeItem,
  type SegmentMap,
  type SegmentView,
} from "./rules.ts";
import { base64Bytes, type LeafValue, sameValue, toHl7Text, toJsonValue } from "./values.ts";

/** What the reader needs. */
export interface ReaderOptions {
  readonly timeZone: string;
  readonly maxEmbeddedFileBytes: number;
  /** Keep unmapped parts as extensions. */
  readonly extensions: boolean;
  readonly trigger: string;
  readonly eventType: string;
}

/** What the reader found besides the JSON: warnings for `Meta.Errors`. */
export interface ReadResult {
  readonly warnings: string[];
}

function getAt(base: JsonObject, scope: JsonObject, at: Place): unknown {
  let v: unknown = at.fromScope ? scope : base;
  const keys = at.keys;
  for (let i = 0; i < keys.length; i++) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as JsonObject)[keys[i] as string];
  }
  return v;
}

function setAt(base: JsonObject, scope: JsonObject, at: Place, value: unknown): void {
  let o = at.fromScope ? scope : base;
  const keys = at.keys;
  const last = keys.length - 1;
  for (let i = 0; i < last; i++) {
    const k = keys[i] as string;
    let next = o[k];
    if (typeof next !== "object" || next === null || Array.isArray(next)) o[k] = next = {};
    o = next as JsonObject;
  }
  o[keys[last] as string] = value;
}

interface Instance {
  readonly seg: RawSegment;
  readonly frame: Frame;
  readonly key: string;
  /** Coverage keys of the leaves read back exactly (few per segment: an array is fastest). */
  readonly covered: number[];
  /** Fields with at least one covered leaf. */
  readonly coveredFields: number[];
  remap?: Map<number, number[]>;
}

interface Deferred {
  readonly inst: Instance;
  readonly base: JsonObject;
  readonly leaf: CLeaf;
}

/** One translation's state. */
class Reader {
  readonly warnings: string[] = [];
  readonly #deferred: Deferred[] = [];
  readonly #instances: Instance[] = [];
  readonly #std: boolean;

  constructor(readonly d: Hl7Delimiters, readonly o: ReaderOptions) {
    this.#std = sameDelimiters(d, STD);
  }

  run(items: readonly ScopeItem[], segments: readonly RawSegment[], root: JsonObject): void {
    const stack: Frame[] = [newFrame(items, root)];
    for (const seg of segments) this.#place(stack, seg);
    // Fallbacks last: they only fill what the primary homes of their properties left unset.
    for (const { inst, base, leaf } of this.#deferred) {
      const field = inst.seg.fields[leaf.f];
      if (field) this.#readLeaf(inst, base, leaf, this.#leaf(field, leaf), leaf.r);
    }
    if (this.o.extensions) { for (const inst of this.#instances) this.#residue(inst); }
  }

  #place(stack: Frame[], seg: RawSegment): void {
    let k = stack.length - 1;
    let item: ScopeItem | undefined;
    for (; k >= 0; k--) {
      item = handler(stack[k] as Frame, seg.name);
      if (item !== undefined) break;
    }
    if (item === undefined) {
      const top = stack[stack.length - 1] as Frame;
      if (this.o.extensions) {
        const ext = top.ext ??= extensionOf(top.obj, true);
        (ext.Segments ??= []).push({ After: top.last, Segment: segmentToStd(seg, this.d) });
      }
      return;
    }
    stack.length = k + 1;
    let frame = stack[k] as Frame;
    if (item.kind === "group") {
      frame.groups.set(item, (frame.groups.get(item) ?? 0) + 1);
      const obj: JsonObject = {};
      let index = 0;
      if (item.many) index = arrayAt(frame.obj, item.j).push(obj) - 1;
      else setPath(frame.obj, item.j, obj);
      frame = newFrame(item.items, obj, item, index);
      stack.push(frame);
      item = handler(frame, seg.name) as SegmentMap;
    }
    if (seg.name === frame.anchor) frame.anchorSeen = true;
    this.#readSegment(frame, item as SegmentMap, seg);
  }

  #readSegment(frame: Frame, sm: SegmentMap, seg: RawSegment): void {
    const occ = (frame.seen.get(seg.name) ?? 0) + 1;
    frame.seen.set(seg.name, occ);
    const key = segmentKey(seg.name, occ);
    frame.last = key;
    const inst: Instance = { seg, frame, key, covered: [], coveredFields: [] };
    this.#instances.push(inst);
    const cs = compileSegment(sm);
    const list = sm.many ? arrayAt(frame.obj, sm.at) : undefined;
    const base: JsonObject = list !== undefined ? {} : frame.obj;
    const fields = seg.fields;
    let view: SegmentView | undefined;
    let ctx: ReadContext | undefined;
    for (const rule of cs.rules) {
      const field = fields[rule.f];
      if (!field) continue;
      if (rule.kind !== "reps") {
        const when = rule.kind === "const" ? rule.when : rule.rule.when;
        if (when !== undefined && !when.read(view ??= segmentView(seg, this.d))) continue;
      }
      switch (rule.kind) {
        case "leaf":
          this.#readLeaf(inst, base, rule, this.#leaf(field, rule), rule.r);
          break;
        case "const":
          ctx ??= {
            index: list !== undefined ? list.length : frame.index,
            trigger: this.o.trigger,
            eventType: this.o.eventType,
          };
          this.#readConst(inst, rule, field, ctx);
          break;
        case "reps":
          this.#readReps(inst, base, rule, field);
          break;
        case "range":
          this.#readRange(inst, base, rule, field);
          break;
        case "structured":
          this.#readStructured(inst, base, rule, field);
          break;
      }
    }
    for (const leaf of cs.fallbacks) {
      const when = leaf.rule.when;
      if (when === undefined || when.read(view ??= segmentView(seg, this.d))) {
        this.#deferred.push({ inst, base, leaf });
      }
    }
    if (list !== undefined) list.push(cs.scalar ? base.$ ?? "" : base);
  }

  #leaf(field: string, l: CLeaf | CConst | CRange): string {
    return leafInField(field, l.r, l.c, l.s, this.d);
  }

  #cover(inst: Instance, f: number, r: number, c: number, s: number): void {
    if (r > 127 || c > 127 || s > 127) return;
    inst.covered.push(leafKey(f, r, c, s));
    if (!inst.coveredFields.includes(f)) inst.coveredFields.push(f);
  }

  /**
   * Reads one leaf (`raw`, in repetition `rep` of field `f`); returns whether it set a JSON
   * value.
   */
  #readLeaf(
    inst: Instance,
    base: JsonObject,
    l: CLeaf,
    raw: string,
    rep: number,
    f = l.f,
  ): boolean {
    if (raw === "") return false;
    const scope = inst.frame.obj;
    const rule = l.rule;
    const existing = getAt(base, scope, l.at);
    if (raw === '""') {
      if (existing === undefined) setAt(base, scope, l.at, null);
      if (existing === undefined || existing === null) this.#cover(inst, f, rep, l.c, l.s);
      return existing === undefined;
    }
    const text = decodeLeaf(raw, this.d);
    const v = toJsonValue(text, rule.t, rule.codes, this.o);
    if (v === undefined) {
      if (rule.t !== "boolean") {
        this.warnings.push(
          `${inst.key}-${f}: ${JSON.stringify(text.slice(0, 40))} is not a valid ${rule.t} ` +
            `for ${l.at.path || "the list"}; kept as an extension`,
        );
      }
      return false;
    }
    if (rule.t === "base64") this.#checkSize(inst, f, text);
    if (existing !== undefined) {
      if (
        existing !== null && rule.fallback !== "read" && rule.fallback !== "kept" &&
        this.#writesBack(rule, existing, v, text, raw)
      ) {
        this.#cover(inst, f, rep, l.c, l.s);
      }
      return false;
    }
    setAt(base, scope, l.at, v);
    // A read-only second home is never written, a kept one only where the extension has it:
    // the extension must keep it.
    if (
      rule.fallback !== "read" && rule.fallback !== "kept" &&
      this.#writesBack(rule, v, v, text, raw)
    ) {
      this.#cover(inst, f, rep, l.c, l.s);
    }
    return true;
  }

  /**
   * Whether writing `value` with `rule` gives back the leaf `raw` whose text reads as `read`
   * (date-times: whether they are the same instant, the offset may be written differently).
   */
  #writesBack(rule: LeafRule, value: unknown, read: LeafValue, text: string, raw: string): boolean {
    if (rule.t === "datetime") return sameValue(read, value, rule.t);
    if (value !== text && toHl7Text(value, rule.t, rule.codes, this.o) !== text) return false;
    return !this.#std || raw.indexOf("\\") === -1 || escapeHl7(text, STD) === raw;
  }

  #checkSize(inst: Instance, f: number, text: string): void {
    const bytes = base64Bytes(text);
    if (bytes > this.o.maxEmbeddedFileBytes) {
      throw new DataModelError(
        "invalid",
        `${inst.key}-${f}: the embedded file is ${bytes} bytes, over the limit of ` +
          `${this.o.maxEmbeddedFileBytes} (maxEmbeddedFileBytes)`,
      );
    }
  }

  #readConst(inst: Instance, c: CConst, field: string, ctx: ReadContext): void {
    const raw = this.#leaf(field, c);
    if (raw === "") return;
    const expected = c.rule.value({ ...ctx, obj: {} });
    if (expected !== undefined && (expected === raw || escapeHl7(expected, STD) === raw)) {
      this.#cover(inst, c.f, c.r, c.c, c.s);
    }
  }

  #readReps(inst: Instance, base: JsonObject, rule: CReps, field: string): void {
    const reps = field.split(this.d.repetition);
    const found = new Map<CBucket, { input: number; value: unknown }[]>();
    for (let i = 0; i < reps.length; i++) {
      const rep = reps[i] as string;
      if (rep === "") continue;
      let view: SegmentView | undefined;
      for (const b of rule.buckets) {
        const got = found.get(b);
        if (!b.bucket.many && got !== undefined) continue;
        const match = b.bucket.match;
        if (match !== undefined && !match(view ??= repView(rep, this.d))) continue;
        const holder: JsonObject = {};
        const before = inst.covered.length;
        let any = false;
        for (const l of b.leaves) {
          const raw = leafInRep(rep, l.c, l.s, this.d);
          if (this.#readLeaf(inst, holder, l, raw, i + 1, rule.f)) any = true;
        }
        const derive = b.bucket.derive;
        let kept = false;
        if (!any) {
          // Nothing to carry: undo the coverage so that the whole repetition stays an extension.
          inst.covered.length = before;
          const derived = derive?.value(view ??= repView(rep, this.d));
          if (derived === undefined || !b.scalar) continue;
          // Read only: the repetition stays in the extension whole (the components the value is
          // built from, and its marks as sent: the writer adds none the message did not have).
          holder.$ = derived;
          kept = true;
        } else if (derive?.value(view ??= repView(rep, this.d)) !== undefined) {
          // Both forms: the extension keeps both, so that the writer can tell an edited value
          // (whose stale components it drops) from the one read.
          inst.covered.length = before;
          kept = true;
        }
        if (!kept) {
          for (const [c, s, value] of b.fill) {
            if (leafInRep(rep, c, s, this.d) === value) this.#cover(inst, rule.f, i + 1, c, s);
          }
        }
        const value = b.scalar ? holder.$ : holder;
        if (got === undefined) found.set(b, [{ input: i + 1, value }]);
        else got.push({ input: i + 1, value });
        break;
      }
    }
    // Output positions: buckets in table order, then the repetitions no bucket took.
    const remap: number[] = new Array(reps.length).fill(0);
    let next = 1;
    for (const b of rule.buckets) {
      const got = found.get(b);
      if (got === undefined) continue;
      for (const g of got) remap[g.input - 1] = next++;
      setAt(base, inst.frame.obj, b.at, b.bucket.many ? got.map((g) => g.value) : got[0]?.value);
    }
    for (let i = 0; i < remap.length; i++) if (remap[i] === 0) remap[i] = next++;
    for (let i = 0; i < remap.length; i++) {
      if (remap[i] !== i + 1) {
        (inst.remap ??= new Map()).set(rule.f, remap);
        break;
      }
    }
  }

  #readRange(inst: Instance, base: JsonObject, rule: CRange, field: string): void {
    const raw = this.#leaf(field, rule);
    if (raw === "" || raw === '""') return;
    const text = decodeLeaf(raw, this.d);
    const range: JsonObject = {};
    const m = RANGE.exec(text);
    if (m !== null) {
      if (m[1] !== undefined) {
        range.Low = Number(m[1]);
        range.High = Number(m[2]);
      } else if (m[3] === ">") range.Low = Number(m[4]);
      else range.High = Number(m[4]);
    }
    range.Text = text;
    setAt(base, inst.frame.obj, rule.at, range);
    if (!this.#std || raw.indexOf("\\") === -1 || escapeHl7(text, STD) === raw) {
      this.#cover(inst, rule.f, rule.r, rule.c, rule.s);
    }
  }

  /**
   * Reads an SN value (components 1-4) as one text; covers them when that text is written back
   * the same. A value that is no SN text is read as component 1 would be by a leaf rule.
   */
  #readStructured(inst: Instance, base: JsonObject, rule: CStructured, field: string): void {
    const raw = [1, 2, 3, 4].map((c) => leafInField(field, 1, c, 1, this.d));
    if (raw.every((c) => c === "")) return;
    const text = raw.map((c) => decodeLeaf(c, this.d)).join("");
    const comps = snComponents(text);
    if (comps !== undefined && raw.every((c, i) => c === (comps[i] ?? ""))) {
      setAt(base, inst.frame.obj, rule.at, text);
      for (let c = 1; c <= comps.length; c++) this.#cover(inst, rule.f, 1, c, 1);
      return;
    }
    const l = plainLeaf(rule);
    this.#readLeaf(inst, base, l, raw[0] as string, 1);
  }

  /** Puts what the rules did not carry into the scope's `Extensions.HL7v2.Fields`. */
  #residue(inst: Instance): void {
    const { seg } = inst;
    const first = seg.name === "MSH" ? 3 : 1;
    const fields = seg.fields;
    for (let f = first; f < fields.length; f++) {
      if (f === 9 && seg.name === "MSH") continue; // the event: see translate.ts
      const raw = fields[f] as string;
      if (raw === "") continue;
      const remap = inst.remap?.get(f);
      let text: string;
      if (remap === undefined && !inst.coveredFields.includes(f)) {
        text = this.#std ? raw : encodeTree(fieldTree(raw, this.d));
      } else if (
        remap === undefined && this.#std && raw.indexOf("~") === -1 && raw.indexOf("&") === -1
      ) {
        text = uncoveredComponents(raw, f, inst.covered);
      } else {
        text = encodeTree(uncovered(fieldTree(raw, this.d), f, inst.covered, remap));
      }
      if (text === "") continue;
      const frame = inst.frame;
      const ext = frame.ext ??= extensionOf(frame.obj, true);
      (ext.Fields ??= {})[`${inst.key}-${f}`] = text;
    }
  }
}

/** Component 1 of a structured rule's field, read or written as text. */
export function plainLeaf(rule: CStructured): CLeaf {
  let l = plainLeaves.get(rule);
  if (l === undefined) {
    const leaf: LeafRule = {
      kind: "leaf",
      j: rule.rule.j,
      h: String(rule.f),
      t: "string",
      ...(rule.rule.when ? { when: rule.rule.when } : {}),
    };
    l = { kind: "leaf", rule: leaf, f: rule.f, r: 1, c: 1, s: 1, at: rule.at };
    plainLeaves.set(rule, l);
  }
  return l;
}

const plainLeaves = new WeakMap<CStructured, CLeaf>();

/** `3.5-5.1`, `>10`, `<0.5` (spaces allowed). */
const RANGE = /^\s*(?:(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)|([<>])=?\s*(-?\d+(?:\.\d+)?))\s*$/;

/** A view of a segment's decoded leaves for conditions. */
function segmentView(seg: RawSegment, d: Hl7Delimiters): SegmentView {
  return {
    text(h: string): string | undefined {
      const a = parseAddress(h);
      const raw = leafInField(seg.fields[a.field] ?? "", a.rep, a.comp, a.sub, d);
      return raw === "" ? undefined : decodeLeaf(raw, d);
    },
  };
}

/** A view of one repetition, addressed `C[.S]`. */
function repView(rep: string, d: Hl7Delimiters): SegmentView {
  return {
    text(h: string): string | undefined {
      const a = parseAddress(`1.${h}`);
      const raw = leafInRep(rep, a.comp, a.sub, d);
      return raw === "" ? undefined : decodeLeaf(raw, d);
    },
  };
}

/** Reads `segments` into `root` following the scope `items`. */
export function readModel(
  items: readonly ScopeItem[],
  segments: readonly RawSegment[],
  root: JsonObject,
  d: Hl7Delimiters,
  options: ReaderOptions,
): ReadResult {
  const reader = new Reader(d, options);
  reader.run(items, segments, root);
  return { warnings: reader.warnings };
}
