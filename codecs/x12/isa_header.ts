/**
 * The ISA header (see `envelope.ts`): an interchange opened from its ISA segment, with every
 * element checked — the count of elements, each one's fixed width (with the TA1 note code that
 * answers a wrong one), then the values: qualifiers, IDs, date, time, version, control number,
 * acknowledgment request, usage indicator and repetition separator.
 * @module
 */

import { isDigits, isValidDate, isValidTime } from "./element_values.ts";
import type { X12Interchange } from "./envelope_types.ts";
import { makeIssue } from "./issue.ts";
import { element, type X12Segment } from "./segment.ts";

/** The interchange ID qualifiers ISA05 and ISA07 may hold. */
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

/**
 * The interchange `seg` (an ISA) opens, empty, its header's problems among its issues
 * (`BAD_ISA_ELEMENT`, each with its TA1 note code).
 */
export function openInterchange(seg: X12Segment): X12Interchange {
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
  return ic;
}
