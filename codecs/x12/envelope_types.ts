/**
 * The shapes of X12 envelopes (see `envelope.ts`): a transaction set (ST ... SE), a functional
 * group (GS ... GE) and an interchange (ISA ... IEA) as the envelope reader builds them, each with
 * its issues, and the sink the reader hands completed envelopes to. Types only: `envelope.ts`
 * re-exports them.
 * @module
 */

import type { X12Issue } from "./errors.ts";
import type { X12Segment, X12Separators } from "./segment.ts";

/** One transaction set: its segments from ST to SE inclusive. */
export interface X12Transaction {
  /** Transaction set identifier code (ST01), e.g. `837`. */
  readonly setId: string;
  /** Transaction set control number (ST02). */
  readonly controlNumber: string;
  /** Implementation convention reference: ST03, or GS08 when ST03 is empty. */
  readonly implementation: string;
  /** ST then every segment up to SE (inclusive when present). */
  readonly segments: X12Segment[];
  /** The SE segment, when present. */
  trailer: X12Segment | undefined;
  /** Problems of this transaction set (IK5 codes). */
  readonly issues: X12Issue[];
}

/** One functional group (GS ... GE). */
export interface X12Group {
  /** The GS segment. */
  readonly header: X12Segment;
  /** Functional identifier code (GS01), e.g. `HC`. */
  readonly functionalId: string;
  /** Application sender's code (GS02). */
  readonly sender: string;
  /** Application receiver's code (GS03). */
  readonly receiver: string;
  /** Group control number (GS06). */
  readonly controlNumber: string;
  /** Version / release / industry identifier code (GS08), e.g. `005010X222A1`. */
  readonly version: string;
  /** The transaction sets (empty when streaming: they are handed out one by one). */
  readonly transactions: X12Transaction[];
  /** How many transaction sets were read (also when they are not kept). */
  transactionCount: number;
  /** How many of them had no issue. */
  acceptedCount: number;
  /** The GE segment, when present. */
  trailer: X12Segment | undefined;
  /** Problems of the group itself (AK9 codes). */
  readonly issues: X12Issue[];
}

/** One interchange (ISA ... IEA). */
export interface X12Interchange {
  /** The ISA segment. */
  readonly header: X12Segment;
  /** The separators ISA declares. */
  readonly separators: X12Separators;
  /** Interchange sender ID qualifier and ID (ISA05, ISA06 without padding). */
  readonly sender: { readonly qualifier: string; readonly id: string };
  /** Interchange receiver ID qualifier and ID (ISA07, ISA08 without padding). */
  readonly receiver: { readonly qualifier: string; readonly id: string };
  /** Interchange control number (ISA13). */
  readonly controlNumber: string;
  /** Interchange control version number (ISA12), e.g. `00501`. */
  readonly version: string;
  /** Usage indicator (ISA15): `P` production, `T` test, `I` information. */
  readonly usage: string;
  /** Acknowledgment requested (ISA14): `1` when the sender asks for a TA1. */
  readonly ackRequested: boolean;
  /** The functional groups. */
  readonly groups: X12Group[];
  /** TA1 segments carried directly in the interchange (an acknowledgment interchange). */
  readonly ta1: X12Segment[];
  /** The IEA segment, when present. */
  trailer: X12Segment | undefined;
  /** Problems of the interchange envelope (TA1 note codes). */
  readonly issues: X12Issue[];
}

/** Receives what the `EnvelopeReader` (envelope.ts) completes. */
export interface EnvelopeSink {
  /** A transaction set ended (at SE, or at whatever closed it). */
  transaction?(tx: X12Transaction, group: X12Group, interchange: X12Interchange): void;
  /** A functional group ended. */
  group?(group: X12Group, interchange: X12Interchange): void;
  /** An interchange ended. */
  interchange?(interchange: X12Interchange): void;
  /** An issue outside any interchange (a segment after IEA that is not ISA). */
  orphan?(issue: X12Issue): void;
}
