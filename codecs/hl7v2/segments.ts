/**
 * Segment storage behind {@link Hl7Message}: offsets into the original text until the first
 * edit, then per-segment text with the original separators, so that re-encoding is exact.
 *
 * @module
 */

import type { Hl7Delimiters } from "./delimiters.ts";

/** A segment read this many times by scanning is split and cached on the next read. */
const SPLIT_AFTER_READS = 3;

/**
 * What a message is built from; produced by `parseHl7`, not meant to be built by hand.
 * Offsets index `text`; segment i spans `[starts[i], ends[i])` and whatever lies between two
 * segments (CR, LF, CRLF, blank lines) is its separator, kept for the exact round trip.
 */
export interface Hl7MessageInit {
  /** The whole message text. */
  readonly text: string;
  /** Delimiters read from MSH. */
  readonly delimiters: Hl7Delimiters;
  /** Segment start offsets. */
  readonly starts: number[];
  /** Segment end offsets (exclusive; the separator starts there). */
  readonly ends: number[];
  /** Segment IDs. */
  readonly names: string[];
}

/** The segments of one message and their encoding; the path API lives in `Hl7Message`. */
export class SegmentStore {
  /** The message's delimiters (from MSH-1 and MSH-2). */
  readonly delimiters: Hl7Delimiters;
  #text: string;
  #starts: number[];
  #ends: number[];
  #names: string[];
  /** Per segment: the split fields (index 0 is the segment ID), filled on demand. */
  #fields: (string[] | undefined)[] = [];
  /** Set on the first edit: per segment text (undefined = join the fields again). */
  #raw: (string | undefined)[] | undefined;
  /** Set on the first edit: the separator text after each segment. */
  #seps: string[] = [];
  #prefix = "";
  #encoded: string | undefined;
  /** Reads per segment served by scanning (see fieldAt). */
  #hits: Uint8Array | undefined;

  /** Builds the store from scanned offsets; use `parseHl7` instead. */
  constructor(init: Hl7MessageInit) {
    this.delimiters = init.delimiters;
    this.#text = init.text;
    this.#starts = init.starts;
    this.#ends = init.ends;
    this.#names = init.names;
  }

  /** Number of segments (MSH included). */
  get segmentCount(): number {
    return this.#names.length;
  }

  /** The segment IDs in order, e.g. `["MSH", "PID", "OBX", "OBX"]` (a copy). */
  segmentNames(): string[] {
    return this.#names.slice();
  }

  /** How many segments with this ID the message holds. */
  count(segment: string): number {
    let n = 0;
    for (const name of this.#names) if (name === segment) n++;
    return n;
  }

  /** Index of the `rep`-th (1-based) segment named `name`, or -1. */
  protected findSegment(name: string, rep: number): number {
    const names = this.#names;
    for (let i = 0; i < names.length; i++) {
      if (names[i] === name && --rep === 0) return i;
    }
    return -1;
  }

  /** Indexes of all segments named `name`. */
  protected segmentsNamed(name: string): number[] {
    const out: number[] = [];
    const names = this.#names;
    for (let i = 0; i < names.length; i++) if (names[i] === name) out.push(i);
    return out;
  }

  /** Encoded text of segment i. */
  protected segmentText(i: number): string {
    if (this.#raw === undefined) {
      return this.#text.slice(this.#starts[i] as number, this.#ends[i] as number);
    }
    let r = this.#raw[i];
    if (r === undefined) {
      r = (this.#fields[i] as string[]).join(this.delimiters.field);
      this.#raw[i] = r;
    }
    return r;
  }

  #fieldsOf(i: number): string[] {
    let f = this.#fields[i];
    if (f === undefined) {
      f = this.segmentText(i).split(this.delimiters.field);
      this.#fields[i] = f;
    }
    return f;
  }

  /**
   * Field at split index `fi` of segment i (0 = segment ID). The first reads of a segment scan
   * the original text with indexOf and slice only the field; a segment read more often is split
   * once and cached, so that reading many of its fields stays linear.
   */
  protected fieldAt(i: number, fi: number): string | undefined {
    if (this.#fields[i] === undefined && this.#raw === undefined) {
      const hits = this.#hits ??= new Uint8Array(this.#names.length);
      if ((hits[i] as number) < SPLIT_AFTER_READS) {
        hits[i] = (hits[i] as number) + 1;
        const text = this.#text, fs = this.delimiters.field, end = this.#ends[i] as number;
        let s = this.#starts[i] as number;
        for (let k = 0; k < fi; k++) {
          const j = text.indexOf(fs, s);
          if (j === -1 || j >= end) return undefined;
          s = j + 1;
        }
        const j = text.indexOf(fs, s);
        return text.slice(s, j === -1 || j > end ? end : j);
      }
    }
    return this.#fieldsOf(i)[fi];
  }

  /** A private copy of segment i's fields, to be changed and stored with `storeFields`. */
  protected fieldsForEdit(i: number): string[] {
    return this.#fieldsOf(i).slice(); // a copy: clones share the cached arrays
  }

  /** Replaces the fields of segment i. */
  protected storeFields(i: number, fields: string[]): void {
    this.#materialise();
    this.#fields[i] = fields;
    (this.#raw as (string | undefined)[])[i] = undefined;
  }

  /** Replaces the text of segment i (same segment ID, validated by the caller). */
  protected storeSegmentText(i: number, raw: string): void {
    this.#materialise();
    (this.#raw as (string | undefined)[])[i] = raw;
    this.#fields[i] = undefined;
  }

  #materialise(): string[] {
    if (this.#raw === undefined) {
      const text = this.#text, starts = this.#starts, ends = this.#ends;
      const n = starts.length;
      const raw: (string | undefined)[] = new Array(n);
      const seps: string[] = new Array(n);
      for (let i = 0; i < n; i++) {
        raw[i] = text.slice(starts[i] as number, ends[i] as number);
        seps[i] = text.slice(ends[i] as number, i + 1 < n ? starts[i + 1] : text.length);
      }
      this.#prefix = text.slice(0, starts[0]);
      this.#raw = raw;
      this.#seps = seps;
    }
    this.#encoded = undefined;
    return this.#seps;
  }

  /** The separator new segments get: the message's first one, reduced to a single line end. */
  #newSeparator(): string {
    const first = this.#seps[0] ?? "";
    if (first.startsWith("\r\n")) return "\r\n";
    return first === "" ? "\r" : first[0] as string;
  }

  /** Inserts a segment (validated by the caller) at index k (k = count appends). */
  protected insertSegmentAt(k: number, name: string, raw: string): void {
    const seps = this.#materialise();
    const n = this.#names.length;
    const sep = this.#newSeparator();
    let after = sep;
    if (k === n) {
      // Appending: the old trailing text (often nothing or one CR) moves behind the new segment.
      after = seps[n - 1] ?? "";
      seps[n - 1] = sep;
    }
    this.#names.splice(k, 0, name);
    (this.#raw as (string | undefined)[]).splice(k, 0, raw);
    this.#fields.splice(k, 0, undefined);
    seps.splice(k, 0, after);
  }

  /** Removes the segment at index k > 0. */
  protected removeSegmentAt(k: number): void {
    const seps = this.#materialise();
    // Removing the last segment: the one before it inherits the message's trailing text.
    if (k === this.#names.length - 1) seps[k - 1] = seps[k] as string;
    this.#names.splice(k, 1);
    (this.#raw as (string | undefined)[]).splice(k, 1);
    this.#fields.splice(k, 1);
    seps.splice(k, 1);
  }

  /**
   * The message as text. Until the first edit this is the original text, byte for byte. After
   * edits, every segment keeps the separator that followed it (CR, LF, CRLF, blank lines) and
   * the text before MSH is kept; new segments use the message's first separator (else CR).
   */
  encode(): string {
    if (this.#raw === undefined) return this.#text;
    if (this.#encoded === undefined) {
      let s = this.#prefix;
      for (let i = 0; i < this.#names.length; i++) s += this.segmentText(i) + this.#seps[i];
      this.#encoded = s;
    }
    return this.#encoded;
  }

  /** Same as {@link encode}. */
  toString(): string {
    return this.encode();
  }

  /** The constructor input describing this store's current state (for copies). */
  protected snapshot(): Hl7MessageInit {
    return {
      text: this.#text,
      delimiters: this.delimiters,
      starts: this.#starts,
      ends: this.#ends,
      names: this.#names.slice(),
    };
  }

  /** Makes `copy` (built from `snapshot()`) share this store's edit state, copy-on-write. */
  protected copyEditsTo(copy: SegmentStore): void {
    copy.#fields = this.#fields.slice();
    if (this.#raw !== undefined) {
      copy.#raw = this.#raw.slice();
      copy.#seps = this.#seps.slice();
      copy.#prefix = this.#prefix;
      copy.#encoded = this.#encoded;
    }
  }
}
