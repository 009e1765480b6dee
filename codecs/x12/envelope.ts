/**
 * The envelope state machine: ISA/IEA, GS/GE and ST/SE read one segment at a time, with control
 * numbers, counts and header elements checked. Problems become `X12Issue`s (errors.ts) carrying the
 * TA1, AK9 or IK5 code that answers them; nothing is thrown here, so that a bad envelope can
 * still be acknowledged. Used both by the whole-text parser and by the streaming reader.
 *
 * The parts, each in a module of its own: `envelope_types.ts` (the envelopes and the sink),
 * `isa_header.ts` (an interchange opened from its ISA, every element checked),
 * `group_headers.ts` (GS and ST), `trailers.ts` (IEA, GE and SE counts and control numbers),
 * `issue.ts` (building an issue) and `element_values.ts` (digits, dates, times). This module
 * keeps {@link EnvelopeReader}: which envelope is open, what closes it, what is out of place.
 *
 * @module
 */

import type { EnvelopeSink, X12Group, X12Interchange, X12Transaction } from "./envelope_types.ts";
import { openGroup, openTransaction } from "./group_headers.ts";
import { openInterchange } from "./isa_header.ts";
import { makeIssue } from "./issue.ts";
import type { X12Segment } from "./segment.ts";
import { checkGroupTrailer, checkInterchangeTrailer, checkTransactionTrailer } from "./trailers.ts";

export type { EnvelopeSink, X12Group, X12Interchange, X12Transaction } from "./envelope_types.ts";
export { isValidDate, isValidTime } from "./element_values.ts";
export { makeIssue } from "./issue.ts";

/**
 * Reads segments in order and tracks the envelopes. With `keepTransactions` false (streaming),
 * groups do not hold their transaction sets once handed to the sink.
 */
export class EnvelopeReader {
  #sink: EnvelopeSink;
  #keep: boolean;
  #ic: X12Interchange | undefined;
  #gs: X12Group | undefined;
  #tx: X12Transaction | undefined;
  #stIds = new Set<string>();
  #last: X12Segment | undefined;

  /** Creates a reader that reports completed envelopes to `sink`. */
  constructor(sink: EnvelopeSink, options: { keepTransactions?: boolean } = {}) {
    this.#sink = sink;
    this.#keep = options.keepTransactions ?? true;
  }

  /** Reads one segment. */
  feed(seg: X12Segment): void {
    this.#last = seg;
    switch (seg.id) {
      case "ISA":
        if (this.#ic) this.#closeInterchange(seg, "the next ISA starts");
        this.#ic = openInterchange(seg);
        return;
      case "IEA":
        return this.#iea(seg);
      case "GS":
        return this.#gsOpen(seg);
      case "GE":
        return this.#ge(seg);
      case "ST":
        return this.#stOpen(seg);
      case "SE":
        return this.#se(seg);
      case "TA1":
        if (this.#ic && !this.#gs) {
          this.#ic.ta1.push(seg);
          return;
        }
    }
    if (this.#tx) {
      this.#tx.segments.push(seg);
      return;
    }
    this.#unexpected(seg, `${seg.id} outside a transaction set (ST ... SE)`);
  }

  /** Ends the input: every envelope still open is closed with its trailer reported missing. */
  end(): void {
    const at = this.#last ?? { index: 0, offset: 0 };
    if (this.#ic) this.#closeInterchange(at, "the input ends");
  }

  #unexpected(seg: X12Segment, detail: string): void {
    if (this.#gs && this.#ic) {
      // Inside a group but outside a transaction set: the group's content is not valid.
      this.#gs.issues.push(makeIssue({
        code: "UNEXPECTED_SEGMENT",
        level: "group",
        seg,
        detail,
        ak9: "1",
      }));
      return;
    }
    const issue = makeIssue({
      code: "UNEXPECTED_SEGMENT",
      level: "interchange",
      seg,
      detail,
      ta1: "024",
    });
    if (this.#ic) this.#ic.issues.push(issue);
    else this.#sink.orphan?.(issue);
  }

  #closeInterchange(at: { index: number; offset: number }, why: string): void {
    const ic = this.#ic!;
    if (this.#gs) this.#closeGroup(at, why);
    ic.issues.push(makeIssue({
      code: "MISSING_IEA",
      level: "interchange",
      seg: at,
      detail: `Interchange ${ic.controlNumber} has no IEA: ${why}`,
      ta1: "023",
    }));
    this.#ic = undefined;
    this.#sink.interchange?.(ic);
  }

  #iea(seg: X12Segment): void {
    const ic = this.#ic;
    if (!ic) return this.#unexpected(seg, "IEA without ISA");
    if (this.#gs) this.#closeGroup(seg, "IEA comes first");
    ic.trailer = seg;
    checkInterchangeTrailer(seg, ic);
    this.#ic = undefined;
    this.#sink.interchange?.(ic);
  }

  #gsOpen(seg: X12Segment): void {
    const ic = this.#ic;
    if (!ic) return this.#unexpected(seg, "GS outside an interchange");
    if (this.#gs) this.#closeGroup(seg, "the next GS starts");
    const gs = openGroup(seg);
    this.#gs = gs;
    this.#stIds.clear();
    ic.groups.push(gs);
  }

  #closeGroup(at: { index: number; offset: number }, why: string): void {
    const gs = this.#gs!;
    if (this.#tx) this.#closeTransaction(at, why);
    gs.issues.push(makeIssue({
      code: "MISSING_GE",
      level: "group",
      seg: at,
      detail: `Functional group ${gs.controlNumber} has no GE: ${why}`,
      ak9: "3",
    }));
    this.#gs = undefined;
    this.#sink.group?.(gs, this.#ic!);
  }

  #ge(seg: X12Segment): void {
    const gs = this.#gs;
    if (!gs) return this.#unexpected(seg, "GE without GS");
    if (this.#tx) this.#closeTransaction(seg, "GE comes first");
    gs.trailer = seg;
    checkGroupTrailer(seg, gs);
    this.#gs = undefined;
    this.#sink.group?.(gs, this.#ic!);
  }

  #stOpen(seg: X12Segment): void {
    const gs = this.#gs;
    if (!gs) return this.#unexpected(seg, "ST outside a functional group");
    if (this.#tx) this.#closeTransaction(seg, "the next ST starts");
    this.#tx = openTransaction(seg, gs, this.#stIds);
  }

  #closeTransaction(at: { index: number; offset: number }, why: string): void {
    const tx = this.#tx!;
    tx.issues.push(makeIssue({
      code: "MISSING_SE",
      level: "transaction",
      seg: at,
      detail: `Transaction set ${tx.controlNumber} has no SE: ${why}`,
      ik5: "2",
    }));
    this.#finishTransaction();
  }

  #se(seg: X12Segment): void {
    const tx = this.#tx;
    if (!tx) return this.#unexpected(seg, "SE without ST");
    tx.segments.push(seg);
    tx.trailer = seg;
    checkTransactionTrailer(seg, tx);
    this.#finishTransaction();
  }

  #finishTransaction(): void {
    const tx = this.#tx!;
    const gs = this.#gs!;
    gs.transactionCount++;
    if (tx.issues.length === 0) gs.acceptedCount++;
    if (this.#keep) gs.transactions.push(tx);
    this.#tx = undefined;
    this.#sink.transaction?.(tx, gs, this.#ic!);
  }
}
