/**
 * Acknowledgments: TA1 (interchange envelope) and 999 (implementation acknowledgment, one per
 * functional group, 005010X231A1), built from what the parser and the validator found, and
 * wrapped in an interchange addressed back to the sender.
 *
 * @module
 */

import type { X12Group, X12Interchange, X12Transaction } from "./envelope.ts";
import type { X12Issue } from "./errors.ts";
import { validateTransaction } from "./validate.ts";

/** TA1-04 interchange acknowledgment code. */
export type Ta1Code = "A" | "E" | "R";
/** IK5-01 / AK9-01 acknowledgment code. */
export type Ack999Code = "A" | "E" | "P" | "R";

/** The TA1 answer for an interchange: accepted (`A`, note `000`) or rejected with a note code. */
export function ta1Status(ic: X12Interchange): { code: Ta1Code; note: string } {
  const first = ic.issues.find((i) => i.ta1 !== undefined);
  return first ? { code: "R", note: first.ta1! } : { code: "A", note: "000" };
}

/**
 * The TA1 segment (without terminator) answering an interchange. TA101 is ISA13 as received,
 * brought to its 9 digits when it is a shorter number (an ISA refused for that width).
 */
export function buildTa1Segment(ic: X12Interchange): string {
  const el = ic.separators.element;
  const { code, note } = ta1Status(ic);
  const h = ic.header.elements;
  const ctrl = /^\d{1,8}$/.test(ic.controlNumber)
    ? ic.controlNumber.padStart(9, "0")
    : ic.controlNumber;
  return ["TA1", ctrl, h[9] ?? "", h[10] ?? "", code, note].join(el);
}

/** What happens to a transaction set with syntax errors in its content (not its envelope). */
export type ContentErrorPolicy = "reject" | "accept-with-errors";

/** Options of {@link build999} and {@link buildAckInterchange}. */
export interface Ack999Options {
  /** Content errors (IK3/IK4) reject the set (`reject`, default) or accept it with errors. */
  readonly contentErrors?: ContentErrorPolicy;
  /** ST02 of the 999 (default `0001`). */
  readonly controlNumber?: string;
}

/** The verdict on one transaction set. */
export interface TransactionVerdict {
  /** The transaction set. */
  readonly transaction: X12Transaction;
  /** IK5-01. */
  readonly code: "A" | "E" | "R";
  /** Envelope and content issues. */
  readonly issues: readonly X12Issue[];
}

/** The verdict on a functional group: one per transaction set, and AK9 figures. */
export interface GroupVerdict {
  /** AK9-01. */
  readonly code: Ack999Code;
  /** Per transaction set. */
  readonly transactions: readonly TransactionVerdict[];
  /** AK9-02: sets the GE says the group holds (the count read when GE is missing). */
  readonly included: number;
  /** AK9-03: sets received. */
  readonly received: number;
  /** AK9-04: sets accepted (with or without errors). */
  readonly accepted: number;
  /** AK9-05...: group syntax error codes. */
  readonly codes: readonly string[];
}

/** Judges every transaction set of a group (envelope issues, loops and elements). */
export function judgeGroup(group: X12Group, options: Ack999Options = {}): GroupVerdict {
  const policy = options.contentErrors ?? "reject";
  const transactions = group.transactions.map((tx): TransactionVerdict => {
    const content = validateTransaction(tx);
    const issues = [...tx.issues, ...content];
    const envelopeBad = tx.issues.some((i) => i.ik5 !== undefined);
    const code = envelopeBad || (content.length > 0 && policy === "reject")
      ? "R"
      : content.length > 0
      ? "E"
      : "A";
    return { transaction: tx, code, issues };
  });
  const received = transactions.length;
  const accepted = transactions.filter((t) => t.code !== "R").length;
  const codes = unique(group.issues.map((i) => i.ak9).filter((c): c is string => c !== undefined));
  const ge = group.trailer?.elements[1];
  const included = ge !== undefined && /^\d+$/.test(ge) ? Number(ge) : received;
  let code: Ack999Code;
  if (codes.length > 0 || accepted === 0) code = "R";
  else if (accepted < received) code = "P";
  else if (transactions.some((t) => t.code === "E")) code = "E";
  else code = "A";
  return { code, transactions, included, received, accepted, codes };
}

function unique(codes: readonly string[]): string[] {
  return [...new Set(codes)];
}

/**
 * The 999 transaction set (ST ... SE, segments joined with `end`) answering one functional group:
 * AK1, then per set AK2, IK3/IK4 for each segment in error, IK5; then AK9.
 */
export function build999(
  group: X12Group,
  interchange: X12Interchange,
  options: Ack999Options = {},
): string {
  const { element: el, component: comp } = interchange.separators;
  const end = interchange.separators.segment;
  const verdict = judgeGroup(group, options);
  const st02 = options.controlNumber ?? "0001";
  const segs: string[][] = [["ST", "999", st02, "005010X231A1"]];
  segs.push(["AK1", group.functionalId, group.controlNumber, group.version]);
  for (const t of verdict.transactions) {
    const tx = t.transaction;
    const st03 = tx.segments[0]!.elements[3];
    segs.push(["AK2", tx.setId, tx.controlNumber, ...(st03 ? [st03] : [])]);
    // One IK3 per segment in error (IK4s under it), at most 20 per set as payers commonly cap.
    const bySegment = new Map<string, X12Issue[]>();
    for (const i of t.issues) {
      if (i.ik3 === undefined) continue;
      const key = `${i.positionInSet}:${i.segmentId}:${i.ik3}:${i.loop ?? ""}`;
      const list = bySegment.get(key) ?? [];
      list.push(i);
      bySegment.set(key, list);
    }
    for (const list of [...bySegment.values()].slice(0, 20)) {
      const i = list[0]!;
      segs.push(["IK3", i.segmentId ?? "", String(i.positionInSet ?? ""), i.loop ?? "", i.ik3!]);
      for (const e of list) {
        if (e.ik4 === undefined) continue;
        segs.push(["IK4", String(e.element ?? ""), "", e.ik4, clean(e.value ?? "", el, comp, end)]);
      }
    }
    const codes = unique(t.issues.map((i) => i.ik5).filter((c): c is string => c !== undefined));
    segs.push(["IK5", t.code, ...codes.slice(0, 5)]);
  }
  segs.push([
    "AK9",
    verdict.code,
    String(verdict.included),
    String(verdict.received),
    String(verdict.accepted),
    ...verdict.codes.slice(0, 5),
  ]);
  segs.push(["SE", String(segs.length + 1), st02]);
  return segs.map((s) => trimEmpty(s).join(el)).join(end) + end;
}

/** A copy of bad data must not contain separators (it is dropped rather than corrupt the 999). */
function clean(value: string, ...seps: string[]): string {
  const v = value.slice(0, 99);
  return seps.some((s) => v.includes(s)) ? "" : v;
}

function trimEmpty(elements: string[]): string[] {
  let n = elements.length;
  while (n > 1 && elements[n - 1] === "") n--;
  return elements.slice(0, n);
}

/** Options of {@link buildAckInterchange}. */
export interface AckInterchangeOptions extends Ack999Options {
  /** ISA13 of the acknowledgment interchange (a number up to 9 digits). */
  readonly interchangeControlNumber: number;
  /** GS06 of the first 999 group (each further group adds one). Default: the ISA13 value. */
  readonly groupControlNumber?: number;
  /** Include a TA1 (default: when ISA14 asks for one or the interchange has an issue). */
  readonly ta1?: boolean;
  /** Include a 999 per functional group (default `true`). */
  readonly ack999?: boolean;
  /** Date and time written in ISA09/10 and GS04/05 (default now, UTC). */
  readonly now?: Date;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/**
 * A whole interchange answering a received one, addressed back to its sender (ISA05-08 and
 * GS02-03 swapped), with the received separators and line style: a TA1 when asked or needed, then
 * one functional group (GS01 `FA`) holding one 999 per received group. Returns `undefined` when
 * there is nothing to send (no TA1 wanted and no group to answer).
 */
export function buildAckInterchange(
  ic: X12Interchange,
  options: AckInterchangeOptions,
): string | undefined {
  const s = ic.separators;
  const el = s.element;
  const end = ic.header.end || s.segment;
  const now = options.now ?? new Date();
  const yymmdd = now.toISOString().slice(2, 10).replaceAll("-", "");
  const ccyymmdd = now.toISOString().slice(0, 10).replaceAll("-", "");
  const hhmm = now.toISOString().slice(11, 16).replace(":", "");
  const h = ic.header.elements;
  const wantTa1 = options.ta1 ?? (ic.ackRequested || ic.issues.some((i) => i.ta1 !== undefined));
  const interchangeRejected = ic.issues.some((i) => i.ta1 !== undefined);
  const groups = options.ack999 === false || interchangeRejected ? [] : ic.groups;
  if (!wantTa1 && groups.length === 0) return undefined;
  const ctrl = pad(options.interchangeControlNumber % 1_000_000_000, 9);
  const isa = [
    "ISA",
    "00",
    " ".repeat(10),
    "00",
    " ".repeat(10),
    h[7] ?? "ZZ",
    (h[8] ?? "").padEnd(15).slice(0, 15),
    h[5] ?? "ZZ",
    (h[6] ?? "").padEnd(15).slice(0, 15),
    yymmdd,
    hhmm,
    s.repetition ?? "U",
    ic.version === "00401" ? "00401" : "00501",
    ctrl,
    "0",
    ["P", "T", "I"].includes(ic.usage) ? ic.usage : "P",
    s.component,
  ].join(el);
  const out: string[] = [isa + end];
  if (wantTa1) out.push(buildTa1Segment(ic) + end);
  let gsCtrl = options.groupControlNumber ?? options.interchangeControlNumber;
  for (const g of groups) {
    const n = String(gsCtrl++ % 1_000_000_000);
    out.push(
      ["GS", "FA", g.receiver, g.sender, ccyymmdd, hhmm, n, "X", "005010X231A1"].join(el) + end,
    );
    out.push(build999(g, ic, options).split(s.segment).filter((x) => x !== "").join(end) + end);
    out.push(["GE", "1", n].join(el) + end);
  }
  out.push(["IEA", String(groups.length), ctrl].join(el) + end);
  return out.join("");
}
