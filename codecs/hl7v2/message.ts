/**
 * The lazily parsed HL7 v2 message: reads by path without re-parsing, edits with escaping, and
 * re-encodes byte for byte when nothing was changed.
 *
 * @module
 */

import { Hl7PathError, Hl7ValueError } from "./errors.ts";
import { escapeHl7, unescapeHl7 } from "./escape.ts";
import { type Hl7Path, parseHl7Path } from "./path.ts";
import { type Hl7MessageInit, SegmentStore } from "./segments.ts";
import { isSegmentIdAt, nthPart, replacePart } from "./structure.ts";

export type { Hl7MessageInit } from "./segments.ts";

/**
 * How an HL7 null (the two characters `""` on the wire, meaning "delete this value") reads: `get`
 * returns exactly this string, which is distinct from the empty string `""` returned for an empty
 * value. Writing it with `set` writes a null. Use {@link Hl7Message.isNull} to test for it.
 */
export const HL7_NULL = '""';

/** Segment IDs that belong to batch envelopes, never inside a message. */
export const ENVELOPE_SEGMENTS: ReadonlySet<string> = new Set(["FHS", "BHS", "BTS", "FTS"]);

/** Options of the multi-value readers. */
export interface ReadOptions {
  /** Return encoded text as on the wire instead of decoding escape sequences. Default false. */
  readonly raw?: boolean;
}

/** Options of {@link Hl7Message.setRepetitions}. */
export interface WriteOptions {
  /** The values are already encoded (not escaped again, but checked). Default false. */
  readonly raw?: boolean;
}

/**
 * One HL7 v2 message. Obtain it from `parseHl7`/`tryParseHl7`.
 *
 * Reading: {@link get} decodes escape sequences, {@link getRaw} returns encoded text. Both take a
 * path (`SEG[segRep]-field[fieldRep].component.subcomponent`, see `parseHl7Path`) and return
 * `undefined` when the addressed part is absent (missing segment, or fewer fields, repetitions,
 * components or subcomponents than addressed), `""` when it is present but empty, and
 * {@link HL7_NULL} (`'""'`) for an HL7 null. A path that stops at a level returns that level's
 * whole text, so `get("PID-5")` gives `"SMITH^JOHN"`: inner delimiters stay, escape sequences are
 * decoded. Address leaves (`PID-5.1`) or use `getRaw` when a value must be split unambiguously.
 * A field path without `[n]` reads the first repetition; {@link getRepetitions} reads them all.
 *
 * Segments are split into fields only when first read, and escape sequences are decoded only in
 * values that contain the escape character.
 *
 * Encoding: {@link encode} returns the original text untouched until the first edit. After edits
 * every segment keeps the separator that followed it (CR, LF, CRLF or blank lines) and the text
 * before the MSH; new segments use the message's first separator (CR if it has none).
 */
export class Hl7Message extends SegmentStore {
  /** Builds a message from scanned offsets; use `parseHl7` instead. */
  constructor(init: Hl7MessageInit) {
    super(init);
  }

  // ---- reading --------------------------------------------------------------------------

  /** Encoded text of the part `p` in segment i, or undefined if absent. */
  #locate(p: Hl7Path, i: number): string | undefined {
    if (p.field === undefined) return this.segmentText(i);
    const f = this.#wholeField(p, i);
    if (f === undefined) return undefined;
    if (p.segment === "MSH" && p.field <= 2) {
      // MSH-1 and MSH-2 are the delimiters themselves: atomic, never split.
      const atomic = p.fieldRep === 1 && (p.component ?? 1) === 1 && (p.subcomponent ?? 1) === 1;
      return atomic ? f : undefined;
    }
    const rep = p.fieldRep === 1 && f.indexOf(this.delimiters.repetition) === -1
      ? f
      : nthPart(f, this.delimiters.repetition, p.fieldRep);
    return rep === undefined ? undefined : this.#inRepetition(p, rep);
  }

  /** The whole field (all repetitions) addressed by `p` in segment i. */
  #wholeField(p: Hl7Path, i: number): string | undefined {
    const field = p.field as number;
    if (p.segment !== "MSH") return this.fieldAt(i, field);
    return field === 1 ? this.delimiters.field : this.fieldAt(i, field - 1);
  }

  /** The component/subcomponent of `p` within one field repetition. */
  #inRepetition(p: Hl7Path, rep: string): string | undefined {
    if (p.component === undefined) return rep;
    const comp = nthPart(rep, this.delimiters.component, p.component);
    if (comp === undefined || p.subcomponent === undefined) return comp;
    return nthPart(comp, this.delimiters.subcomponent, p.subcomponent);
  }

  #decode(p: Hl7Path, raw: string): string {
    // MSH-1/2 and whole segments are returned as written: decoding them has no meaning.
    if (p.field === undefined || (p.field <= 2 && p.segment === "MSH")) return raw;
    return raw.indexOf(this.delimiters.escape) === -1 ? raw : unescapeHl7(raw, this.delimiters);
  }

  /**
   * The decoded value at `path`, `undefined` if absent, {@link HL7_NULL} for an HL7 null.
   * A segment-only path (`"PID"`, `"OBX[2]"`) returns the segment's raw text.
   *
   * @throws {Hl7PathError} if the path is malformed.
   */
  get(path: string): string | undefined {
    const p = parseHl7Path(path);
    const i = this.findSegment(p.segment, p.segmentRep);
    if (i === -1) return undefined;
    const raw = this.#locate(p, i);
    return raw === undefined ? undefined : this.#decode(p, raw);
  }

  /** The encoded text at `path` exactly as on the wire, or `undefined` if absent. */
  getRaw(path: string): string | undefined {
    const p = parseHl7Path(path);
    const i = this.findSegment(p.segment, p.segmentRep);
    return i === -1 ? undefined : this.#locate(p, i);
  }

  /**
   * MSH-`n` (n ≥ 3) exactly as on the wire, every repetition, or `undefined` when the MSH has
   * fewer fields: `getRaw` and `getRepetitions` without a path to read, for code that copies
   * header fields for every message (an ACK).
   */
  mshField(n: number): string | undefined {
    if (!(n >= 3)) throw new Hl7PathError("BAD_PATH", `MSH-${n}`, "mshField reads MSH-3 on");
    const i = this.findSegment("MSH", 1);
    return i === -1 ? undefined : this.fieldAt(i, n - 1);
  }

  /** Whether the value at `path` is an HL7 null (`""` on the wire). */
  isNull(path: string): boolean {
    return this.getRaw(path) === HL7_NULL;
  }

  /**
   * The value at `path` in every occurrence of its segment, in message order: `getAll("OBX-5")`
   * has one entry per OBX (`undefined` where that OBX lacks the field), so it lines up with
   * `getAll("OBX-3")`. The path must not give a segment repetition.
   */
  getAll(path: string, options: ReadOptions = {}): (string | undefined)[] {
    const p = parseHl7Path(path);
    if (p.segmentRepGiven) {
      throw new Hl7PathError("BAD_PATH", path, "getAll reads every occurrence; drop the [n]");
    }
    const out: (string | undefined)[] = [];
    for (const i of this.segmentsNamed(p.segment)) {
      const raw = this.#locate(p, i);
      out.push(raw === undefined || options.raw ? raw : this.#decode(p, raw));
    }
    return out;
  }

  /**
   * Every repetition of a field (`"PID-3"`), or the given component/subcomponent of every
   * repetition (`"PID-3.1"`). Empty or absent fields give `[]`. The path must not give a field
   * repetition.
   */
  getRepetitions(path: string, options: ReadOptions = {}): string[] {
    const p = parseHl7Path(path);
    if (p.field === undefined || p.fieldRepGiven) {
      throw new Hl7PathError("BAD_PATH", path, "getRepetitions needs a field without [n]");
    }
    const i = this.findSegment(p.segment, p.segmentRep);
    if (i === -1) return [];
    const whole = this.#wholeField(p, i);
    if (whole === undefined || whole === "") return [];
    if (p.segment === "MSH" && p.field <= 2) {
      const v = this.#locate(p, i);
      return v === undefined ? [] : [v];
    }
    const out: string[] = [];
    for (const rep of whole.split(this.delimiters.repetition)) {
      const raw = this.#inRepetition(p, rep);
      if (raw !== undefined) out.push(options.raw ? raw : this.#decode(p, raw));
    }
    return out;
  }

  // ---- convenience getters --------------------------------------------------------------

  /** MSH-9.1, e.g. `ADT`. */
  get messageType(): string | undefined {
    return this.get("MSH-9.1");
  }
  /** MSH-9.2, e.g. `A01`. */
  get triggerEvent(): string | undefined {
    return this.get("MSH-9.2");
  }
  /** MSH-9.3, e.g. `ADT_A01`. */
  get messageStructure(): string | undefined {
    return this.get("MSH-9.3");
  }
  /** MSH-10, the message control ID. */
  get controlId(): string | undefined {
    return this.get("MSH-10");
  }
  /** MSH-11.1, the processing ID (`P`, `T`, `D`). */
  get processingId(): string | undefined {
    return this.get("MSH-11.1");
  }
  /** MSH-12.1, the version ID, e.g. `2.5.1`. */
  get version(): string | undefined {
    return this.get("MSH-12.1");
  }
  /** MSH-15, accept acknowledgment type (`AL`, `NE`, `ER`, `SU`). */
  get acceptAckType(): string | undefined {
    return this.get("MSH-15");
  }
  /** MSH-16, application acknowledgment type (`AL`, `NE`, `ER`, `SU`). */
  get applicationAckType(): string | undefined {
    return this.get("MSH-16");
  }
  /** MSH-18 first repetition, the character set, e.g. `UNICODE UTF-8` or `8859/1`. */
  get charset(): string | undefined {
    return this.get("MSH-18[1]");
  }

  // ---- editing --------------------------------------------------------------------------

  #checkSegment(raw: string): string {
    const fs = this.delimiters.field;
    if (typeof raw !== "string" || !isSegmentIdAt(raw, 0, raw.length, fs)) {
      throw new Hl7ValueError(
        "BAD_SEGMENT",
        `Segment ${JSON.stringify(String(raw).slice(0, 20))} must start with a segment ID ` +
          `(3 upper-case letters/digits) followed by ${JSON.stringify(fs)}`,
      );
    }
    if (/[\r\n]/.test(raw)) {
      throw new Hl7ValueError("BAD_SEGMENT", "A segment must not contain CR or LF");
    }
    const name = raw.slice(0, 3);
    if (name === "MSH" || ENVELOPE_SEGMENTS.has(name)) {
      throw new Hl7ValueError("BAD_SEGMENT", `A message cannot get another ${name} segment`);
    }
    return name;
  }

  /** Appends a segment given as encoded text (e.g. `"ZPI|1|abc"`); returns this. */
  appendSegment(raw: string): this {
    const name = this.#checkSegment(raw);
    this.insertSegmentAt(this.segmentCount, name, raw);
    return this;
  }

  /** Inserts a segment given as encoded text before the segment at `path`; returns this. */
  insertSegmentBefore(path: string, raw: string): this {
    const p = parseHl7Path(path);
    const i = this.findSegment(p.segment, p.segmentRep);
    if (i === -1) throw new Hl7PathError("NO_SUCH_SEGMENT", path, "no such segment");
    if (i === 0) throw new Hl7PathError("READ_ONLY", path, "nothing can precede MSH");
    this.insertSegmentAt(i, this.#checkSegment(raw), raw);
    return this;
  }

  /** Removes the segment at `path` (e.g. `"NTE[2]"`); returns whether one was removed. */
  removeSegment(path: string): boolean {
    const p = parseHl7Path(path);
    if (p.field !== undefined) {
      throw new Hl7PathError("BAD_PATH", path, "removeSegment takes a segment path like OBX[2]");
    }
    if (p.segment === "MSH") throw new Hl7PathError("READ_ONLY", path, "MSH cannot be removed");
    const k = this.findSegment(p.segment, p.segmentRep);
    if (k === -1) return false;
    this.removeSegmentAt(k);
    return true;
  }

  /** Index of the segment a write goes to, creating it when it is the next occurrence. */
  #segmentForWrite(p: Hl7Path): number {
    const i = this.findSegment(p.segment, p.segmentRep);
    if (i !== -1) return i;
    const have = this.count(p.segment);
    if (p.segmentRep !== have + 1) {
      throw new Hl7PathError(
        "NO_SUCH_SEGMENT",
        p.text,
        `the message has ${have} ${p.segment} segment(s); only ${p.segment}[${
          have + 1
        }] can be added`,
      );
    }
    if (ENVELOPE_SEGMENTS.has(p.segment)) {
      throw new Hl7PathError("BAD_PATH", p.text, `${p.segment} is a batch segment`);
    }
    // New occurrences go right after the last one of the same ID, else at the end.
    const last = have === 0 ? -1 : this.findSegment(p.segment, have);
    this.insertSegmentAt(last === -1 ? this.segmentCount : last + 1, p.segment, p.segment);
    return last === -1 ? this.segmentCount - 1 : last + 1;
  }

  #write(p: Hl7Path, encoded: string): void {
    const field = p.field;
    if (field === undefined) {
      throw new Hl7PathError("BAD_PATH", p.text, "a write needs a field, e.g. PID-3");
    }
    if (p.segment === "MSH" && field <= 2) {
      throw new Hl7PathError("READ_ONLY", p.text, "MSH-1 and MSH-2 are the delimiters");
    }
    const i = this.#segmentForWrite(p);
    const d = this.delimiters;
    const fields = this.fieldsForEdit(i);
    const fi = p.segment === "MSH" ? field - 1 : field;
    while (fields.length <= fi) fields.push("");
    const { component, subcomponent } = p;
    fields[fi] = replacePart(
      fields[fi] as string,
      d.repetition,
      p.fieldRep,
      (rep) =>
        component === undefined
          ? encoded
          : replacePart(rep, d.component, component, (comp) =>
            subcomponent === undefined
              ? encoded
              : replacePart(comp, d.subcomponent, subcomponent, () =>
                encoded)),
    );
    this.storeFields(i, fields);
  }

  /** Rejects raw values that would change the structure above the addressed level. */
  #checkRaw(p: Hl7Path, raw: string): void {
    const d = this.delimiters;
    const forbidden = [d.field, "\r", "\n"];
    if (p.subcomponent !== undefined) forbidden.push(d.repetition, d.component, d.subcomponent);
    else if (p.component !== undefined) forbidden.push(d.repetition, d.component);
    else forbidden.push(d.repetition);
    for (const ch of forbidden) {
      if (typeof raw !== "string" || raw.includes(ch)) {
        throw new Hl7ValueError(
          "BAD_VALUE",
          `Raw value for ${p.text} must not contain ${JSON.stringify(ch)} at that level`,
        );
      }
    }
  }

  /**
   * Writes a text value at `path`, escaping delimiters (and CR/LF) so that it reads back
   * unchanged. Missing fields, repetitions, components and subcomponents are added; a missing
   * segment is added if it is the next occurrence (`OBX[4]` when there are 3), placed after the
   * last one of its kind or at the end. `set(path, HL7_NULL)` writes an HL7 null. Returns this.
   *
   * @throws {Hl7PathError} `BAD_PATH`, `READ_ONLY` (MSH-1/MSH-2) or `NO_SUCH_SEGMENT`.
   */
  set(path: string, value: string): this {
    const p = parseHl7Path(path);
    if (typeof value !== "string") {
      throw new Hl7ValueError("BAD_VALUE", `Value for ${path} must be a string`);
    }
    this.#write(p, escapeHl7(value, this.delimiters));
    return this;
  }

  /**
   * Writes already-encoded text at `path` (no escaping). The value may hold delimiters of lower
   * levels only (a field repetition may hold components). A segment path replaces the whole
   * segment, which must keep its segment ID.
   *
   * @throws {Hl7ValueError} `BAD_VALUE` if it holds a delimiter of its own or a higher level.
   */
  setRaw(path: string, raw: string): this {
    const p = parseHl7Path(path);
    if (p.field === undefined) {
      const i = this.findSegment(p.segment, p.segmentRep);
      if (i === -1) throw new Hl7PathError("NO_SUCH_SEGMENT", path, "no such segment");
      if (i === 0 || this.#checkSegment(raw) !== p.segment) {
        throw new Hl7ValueError("BAD_SEGMENT", `Replacement for ${path} must be a ${p.segment}`);
      }
      this.storeSegmentText(i, raw);
      return this;
    }
    this.#checkRaw(p, raw);
    this.#write(p, raw);
    return this;
  }

  /**
   * Replaces a whole field with the given repetitions (path like `"PID-3"`, no `[n]`, no
   * component). Values are escaped unless `options.raw`. An empty list empties the field.
   */
  setRepetitions(path: string, values: readonly string[], options: WriteOptions = {}): this {
    const p = parseHl7Path(path);
    if (p.field === undefined || p.fieldRepGiven || p.component !== undefined) {
      throw new Hl7PathError("BAD_PATH", path, "setRepetitions needs a field without [n]");
    }
    const d = this.delimiters;
    const encoded = values.map((v) => {
      if (options.raw) {
        this.#checkRaw(p, v);
        return v;
      }
      return escapeHl7(v, d);
    });
    const field = p.field;
    if (p.segment === "MSH" && field <= 2) {
      throw new Hl7PathError("READ_ONLY", path, "MSH-1 and MSH-2 are the delimiters");
    }
    const i = this.#segmentForWrite(p);
    const fields = this.fieldsForEdit(i);
    const fi = p.segment === "MSH" ? field - 1 : field;
    while (fields.length <= fi) fields.push("");
    fields[fi] = encoded.join(d.repetition);
    this.storeFields(i, fields);
    return this;
  }

  /** An independent copy; edits to either do not affect the other. */
  clone(): Hl7Message {
    const copy = new Hl7Message(this.snapshot());
    this.copyEditsTo(copy);
    return copy;
  }
}
