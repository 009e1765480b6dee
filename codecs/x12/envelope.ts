/**
 * The envelope state machine: ISA/IEA, GS/GE and ST/SE read one segment at a time, with control
 * numbers, counts and header elements checked. Problems become {@link X12Issue}s carrying the
 * TA1, AK9 or IK5 code that answers them; nothing is thrown here, so that a bad envelope can
 * still be acknowledged. Used both by the whole-text parser and by the streaming reader.
 *
 * @module
 */

import {
  describeLocation,
  type X12Issue,
  type X12IssueCode,
  type X12IssueLevel,
} from "./errors.ts";
import { element, type X12Segment, type X12Separators } from "./segment.ts";

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

/** Receives what the {@link EnvelopeReader} completes. */
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

const SENDER_QUALIFIERS = new Set([
  "01",
  "02",
  "03",
  "04",
  "07",
  "08",
  "09",
  "10",
  "11",
  "12",
  "13",
  "14",
  "15",
  "16",
  "17",
  "18",
  "19",
  "20",
  "21",
  "22",
  "23",
  "24",
  "25",
  "26",
  "27",
  "28",
  "29",
  "30",
  "31",
  "32",
  "33",
  "34",
  "35",
  "36",
  "37",
  "38",
  "AM",
  "NR",
  "SA",
  "SN",
  "ZZ",
]);

/**
 * The fixed width of each ISA element (ISA01 … ISA16; the segment is 106 characters with its
 * terminator) and the TA1 note code (TA105) answering an element of another width: the code of
 * the element's own "invalid value" where the standard has one, 022 (invalid control structure)
 * for ISA11 in 00501 (the repetition separator), 016 for it in 00401 (the control standards
 * identifier), 027 for ISA16 (the component element separator).
 */
const ISA_ELEMENT_WIDTHS: readonly {
  /** Characters, exactly. */
  readonly width: number;
  /** TA105 when the width is wrong. */
  readonly ta1: string;
  /** What the element is. */
  readonly name: string;
  /** How it is written to that width. */
  readonly form: string;
}[] = [
  { width: 2, ta1: "010", name: "authorization information qualifier", form: "e.g. 00" },
  { width: 10, ta1: "011", name: "authorization information", form: "padded with spaces" },
  { width: 2, ta1: "012", name: "security information qualifier", form: "e.g. 00" },
  { width: 10, ta1: "013", name: "security information", form: "padded with spaces" },
  { width: 2, ta1: "005", name: "sender ID qualifier", form: "e.g. ZZ" },
  { width: 15, ta1: "006", name: "sender ID", form: "padded with spaces" },
  { width: 2, ta1: "007", name: "receiver ID qualifier", form: "e.g. ZZ" },
  { width: 15, ta1: "008", name: "receiver ID", form: "padded with spaces" },
  { width: 6, ta1: "014", name: "date", form: "YYMMDD" },
  { width: 4, ta1: "015", name: "time", form: "HHMM" },
  { width: 1, ta1: "022", name: "repetition separator", form: "e.g. ^" },
  { width: 5, ta1: "017", name: "control version number", form: "e.g. 00501" },
  { width: 9, ta1: "018", name: "control number", form: "digits, with leading zeros" },
  { width: 1, ta1: "019", name: "acknowledgment requested", form: "0 or 1" },
  { width: 1, ta1: "020", name: "usage indicator", form: "P, T or I" },
  { width: 1, ta1: "027", name: "component element separator", form: "e.g. :" },
];

function isDigits(s: string, min: number, max: number): boolean {
  return s.length >= min && s.length <= max && /^\d+$/.test(s);
}

/** Whether `yymmdd` / `ccyymmdd` is a calendar date. */
export function isValidDate(s: string): boolean {
  if (!/^(\d{6}|\d{8})$/.test(s)) return false;
  const full = s.length === 6 ? "20" + s : s;
  const y = Number(full.slice(0, 4));
  const m = Number(full.slice(4, 6));
  const d = Number(full.slice(6, 8));
  if (m < 1 || m > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days;
}

/** Whether `hhmm[ss[d..]]` is a time of day. */
export function isValidTime(s: string): boolean {
  if (!/^\d{4}(\d{2}\d*)?$/.test(s)) return false;
  return Number(s.slice(0, 2)) < 24 && Number(s.slice(2, 4)) < 60 &&
    (s.length < 6 || Number(s.slice(4, 6)) < 60);
}

interface IssueInit {
  readonly code: X12IssueCode;
  readonly level: X12IssueLevel;
  readonly seg: X12Segment | { index: number; offset: number; id?: string };
  readonly detail: string;
  readonly element?: number;
  readonly ta1?: string;
  readonly ak9?: string;
  readonly ik5?: string;
  readonly ik3?: string;
  readonly ik4?: string;
  readonly value?: string;
  readonly loop?: string;
  readonly positionInSet?: number;
}

/** Builds an issue with its location and message. */
export function makeIssue(init: IssueInit): X12Issue {
  const where = {
    segmentIndex: init.seg.index,
    offset: init.seg.offset,
    segmentId: init.seg.id,
    element: init.element,
  };
  const issue: Record<string, unknown> = {
    code: init.code,
    level: init.level,
    segmentIndex: where.segmentIndex,
    offset: where.offset,
    message: describeLocation(init.detail, where),
  };
  for (
    const k of [
      "ta1",
      "ak9",
      "ik5",
      "ik3",
      "ik4",
      "value",
      "loop",
      "positionInSet",
      "element",
    ] as const
  ) {
    if (init[k] !== undefined) issue[k] = init[k];
  }
  if (init.seg.id !== undefined) issue.segmentId = init.seg.id;
  return issue as unknown as X12Issue;
}

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
        this.#openInterchange(seg);
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

  #openInterchange(seg: X12Segment): void {
    const e = (n: number) => element(seg, n);
    const ic: X12Interchange = {
      header: seg,
      separators: seg.separators,
      sender: { qualifier: e(5), id: e(6).trimEnd() },
      receiver: { qualifier: e(7), id: e(8).trimEnd() },
      controlNumber: e(13),
      version: e(12),
      usage: e(15),
      ackRequested: e(14) === "1",
      groups: [],
      ta1: [],
      trailer: undefined,
      issues: [],
    };
    this.#ic = ic;
    const bad = (n: number, ta1: string, detail: string) =>
      ic.issues.push(makeIssue({
        code: "BAD_ISA_ELEMENT",
        level: "interchange",
        seg,
        element: n,
        detail,
        ta1,
        value: e(n),
      }));
    if (seg.elements.length !== 17) {
      bad(16, "022", `ISA has ${seg.elements.length - 1} elements, expected 16`);
    }
    // Fixed widths first: an element of another width gets that one issue, not its value's too.
    const wrongWidth = new Set<number>();
    const v4010 = e(12) === "00401";
    ISA_ELEMENT_WIDTHS.forEach(({ width, ta1, name, form }, i) => {
      const n = i + 1;
      const value = e(n);
      if (n >= seg.elements.length || value.length === width) return;
      wrongWidth.add(n);
      // ISA11 is the control standards identifier (`U`) in 00401.
      const [code, what, how] = n === 11 && v4010
        ? ["016", "control standards identifier", "U"]
        : [ta1, name, form];
      bad(
        n,
        code,
        `ISA${String(n).padStart(2, "0")} (${what}) must be ${width} ` +
          `character${width === 1 ? "" : "s"} (${how}), got ${value.length}: ` +
          JSON.stringify(value),
      );
    });
    const check = (n: number, ok: boolean, ta1: string, detail: string) => {
      if (!ok && !wrongWidth.has(n)) bad(n, ta1, detail);
    };
    check(1, ["00", "03"].includes(e(1)), "010", "ISA01 must be 00 or 03");
    check(3, ["00", "01"].includes(e(3)), "012", "ISA03 must be 00 or 01");
    check(
      5,
      SENDER_QUALIFIERS.has(e(5)),
      "005",
      `ISA05 ${JSON.stringify(e(5))} is not a qualifier`,
    );
    check(6, e(6).trim() !== "", "006", "ISA06 sender ID is empty");
    check(
      7,
      SENDER_QUALIFIERS.has(e(7)),
      "007",
      `ISA07 ${JSON.stringify(e(7))} is not a qualifier`,
    );
    check(8, e(8).trim() !== "", "008", "ISA08 receiver ID is empty");
    check(9, isValidDate(e(9)) && e(9).length === 6, "014", "ISA09 is not a date YYMMDD");
    check(10, isValidTime(e(10)) && e(10).length === 4, "015", "ISA10 is not a time HHMM");
    if (!isDigits(e(12), 5, 5)) check(12, false, "017", "ISA12 is not a 5-digit version");
    else if (e(12) !== "00501" && !v4010) {
      bad(12, "003", `ISA12 version ${e(12)} is not supported (00501, 00401)`);
    }
    check(13, isDigits(e(13), 9, 9), "018", "ISA13 is not a 9-digit control number");
    check(14, ["0", "1"].includes(e(14)), "019", "ISA14 must be 0 or 1");
    check(15, ["P", "T", "I"].includes(e(15)), "020", "ISA15 must be P, T or I");
    check(
      11,
      e(12) !== "00501" || seg.separators.repetition !== undefined,
      "022",
      "ISA11 must be a repetition separator in version 00501",
    );
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
    const count = element(seg, 1);
    if (count !== String(ic.groups.length) && Number(count) !== ic.groups.length) {
      ic.issues.push(makeIssue({
        code: "COUNT_MISMATCH",
        level: "interchange",
        seg,
        element: 1,
        detail: `IEA01 says ${count} functional groups, the interchange has ${ic.groups.length}`,
        ta1: "021",
        value: count,
      }));
    }
    if (element(seg, 2) !== ic.controlNumber) {
      ic.issues.push(makeIssue({
        code: "CONTROL_NUMBER_MISMATCH",
        level: "interchange",
        seg,
        element: 2,
        detail: `IEA02 ${element(seg, 2)} differs from ISA13 ${ic.controlNumber}`,
        ta1: "001",
        value: element(seg, 2),
      }));
    }
    this.#ic = undefined;
    this.#sink.interchange?.(ic);
  }

  #gsOpen(seg: X12Segment): void {
    const ic = this.#ic;
    if (!ic) return this.#unexpected(seg, "GS outside an interchange");
    if (this.#gs) this.#closeGroup(seg, "the next GS starts");
    const e = (n: number) => element(seg, n);
    const gs: X12Group = {
      header: seg,
      functionalId: e(1),
      sender: e(2),
      receiver: e(3),
      controlNumber: e(6),
      version: e(8),
      transactions: [],
      transactionCount: 0,
      acceptedCount: 0,
      trailer: undefined,
      issues: [],
    };
    this.#gs = gs;
    this.#stIds.clear();
    ic.groups.push(gs);
    const bad = (n: number, ak9: string, detail: string) =>
      gs.issues.push(makeIssue({
        code: "BAD_HEADER_ELEMENT",
        level: "group",
        seg,
        element: n,
        detail,
        ak9,
        value: e(n),
      }));
    if (!/^[A-Z]{2}$/.test(e(1))) bad(1, "1", "GS01 is not a functional identifier code");
    if (!isDigits(e(6), 1, 9)) bad(6, "6", "GS06 is not a 1-9 digit control number");
    if (e(8) === "") bad(8, "2", "GS08 version is empty");
    if (!isValidDate(e(4)) || e(4).length !== 8) bad(4, "1", "GS04 is not a date CCYYMMDD");
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
    const count = element(seg, 1);
    if (Number(count) !== gs.transactionCount || !/^\d+$/.test(count)) {
      gs.issues.push(makeIssue({
        code: "COUNT_MISMATCH",
        level: "group",
        seg,
        element: 1,
        detail: `GE01 says ${count} transaction sets, the group has ${gs.transactionCount}`,
        ak9: "5",
        value: count,
      }));
    }
    if (element(seg, 2) !== gs.controlNumber) {
      gs.issues.push(makeIssue({
        code: "CONTROL_NUMBER_MISMATCH",
        level: "group",
        seg,
        element: 2,
        detail: `GE02 ${element(seg, 2)} differs from GS06 ${gs.controlNumber}`,
        ak9: "4",
        value: element(seg, 2),
      }));
    }
    this.#gs = undefined;
    this.#sink.group?.(gs, this.#ic!);
  }

  #stOpen(seg: X12Segment): void {
    const gs = this.#gs;
    if (!gs) return this.#unexpected(seg, "ST outside a functional group");
    if (this.#tx) this.#closeTransaction(seg, "the next ST starts");
    const e = (n: number) => element(seg, n);
    const tx: X12Transaction = {
      setId: e(1),
      controlNumber: e(2),
      implementation: e(3) || gs.version,
      segments: [seg],
      trailer: undefined,
      issues: [],
    };
    this.#tx = tx;
    const bad = (
      n: number,
      ik5: string,
      detail: string,
      code: X12IssueCode = "BAD_HEADER_ELEMENT",
    ) =>
      tx.issues.push(makeIssue({
        code,
        level: "transaction",
        seg,
        element: n,
        detail,
        ik5,
        value: e(n),
        positionInSet: 1,
      }));
    if (!isDigits(e(1), 3, 3)) bad(1, "6", "ST01 is not a 3-digit transaction set identifier");
    if (!/^[A-Za-z0-9]{4,9}$/.test(e(2))) bad(2, "7", "ST02 is not a 4-9 character control number");
    else if (this.#stIds.has(e(2))) {
      bad(
        2,
        "23",
        `ST02 ${e(2)} is used twice in group ${gs.controlNumber}`,
        "DUPLICATE_CONTROL_NUMBER",
      );
    }
    this.#stIds.add(e(2));
    if (e(3) !== "" && gs.version !== "" && e(3) !== gs.version) {
      bad(3, "19", `ST03 ${e(3)} differs from GS08 ${gs.version}`);
    }
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
    const count = element(seg, 1);
    const pos = tx.segments.length;
    if (Number(count) !== tx.segments.length || !/^\d+$/.test(count)) {
      tx.issues.push(makeIssue({
        code: "COUNT_MISMATCH",
        level: "transaction",
        seg,
        element: 1,
        detail: `SE01 says ${count} segments, the transaction set has ${tx.segments.length}`,
        ik5: "4",
        value: count,
        positionInSet: pos,
      }));
    }
    if (element(seg, 2) !== tx.controlNumber) {
      tx.issues.push(makeIssue({
        code: "CONTROL_NUMBER_MISMATCH",
        level: "transaction",
        seg,
        element: 2,
        detail: `SE02 ${element(seg, 2)} differs from ST02 ${tx.controlNumber}`,
        ik5: "3",
        value: element(seg, 2),
        positionInSet: pos,
      }));
    }
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
