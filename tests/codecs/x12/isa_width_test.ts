/**
 * The ISA is fixed length: each of its 16 elements has one width (106 characters with the
 * terminator). An element of another width is refused with TA1 `R` and the note code of that
 * element, by the whole-text parser and the streaming reader alike; every width the standard
 * allows is still accepted.
 * @module
 */

import assert from "node:assert/strict";
import {
  buildAckInterchange,
  parseX12,
  streamX12,
  ta1Status,
  X12EnvelopeError,
  type X12Issue,
} from "../../../codecs/x12/mod.ts";
import { wrap, X270_BODY } from "./fixtures.ts";

const NOW = new Date("2024-03-15T12:30:00Z");
const GOOD = wrap([X270_BODY]);

/** {@link GOOD} with ISA element `n` (1-16) replaced by `value`. */
function withIsa(n: number, value: string, text = GOOD): string {
  const end = text.indexOf("~");
  const elements = text.slice(0, end).split("*");
  elements[n] = value;
  return elements.join("*") + text.slice(end);
}

function interchangeOf(text: string) {
  return parseX12(text, { strict: false }).interchanges[0]!;
}

/** The interchange issues the streaming reader reports for `text`. */
async function streamedIssues(text: string): Promise<X12Issue[]> {
  const issues: X12Issue[] = [];
  for await (const item of streamX12([text.slice(0, 50), text.slice(50)])) {
    if (item.kind === "interchange") issues.push(...item.interchange.issues);
  }
  return issues;
}

Deno.test("x12 ISA: an element of the wrong width is TA1 R with its note code, naming the element, width and value; the right widths pass", async () => {
  // The fixture's ISA is 106 characters; so is each one the standard allows, and they pass.
  assert.equal(GOOD.indexOf("~") + 1, 106);
  assert.deepEqual(ta1Status(interchangeOf(GOOD)), { code: "A", note: "000" });
  const allowed: [number, string][] = [
    [1, "03"],
    [2, "PASSWORD01"],
    [3, "01"],
    [4, "SECRET  01"],
    [5, "01"],
    [6, "123456789      "],
    [6, "A B C D E F G H"],
    [7, "30"],
    [8, "  LEADINGSPACES"],
    [9, "240229"],
    [10, "2359"],
    [11, "{"],
    [13, "999999999"],
    [14, "0"],
    [15, "P"],
  ];
  for (const [n, value] of allowed) {
    const text = withIsa(n, value);
    const ic = interchangeOf(n === 13 ? text.replace("IEA*1*000000001", `IEA*1*${value}`) : text);
    assert.deepEqual(ic.issues, [], `ISA${n} ${JSON.stringify(value)}`);
    assert.equal(text.indexOf("~") + 1, 106);
  }
  // [element, value, note, expected width, name, form]
  const cases: [number, string, string, number, string, string][] = [
    [1, "0", "010", 2, "authorization information qualifier", "e.g. 00"],
    [2, " ".repeat(9), "011", 10, "authorization information", "padded with spaces"],
    [3, "000", "012", 2, "security information qualifier", "e.g. 00"],
    [4, " ".repeat(11), "013", 10, "security information", "padded with spaces"],
    [5, "Z", "005", 2, "sender ID qualifier", "e.g. ZZ"],
    [6, "SUBMITTERID   ", "006", 15, "sender ID", "padded with spaces"],
    [6, "SUBMITTERID     ", "006", 15, "sender ID", "padded with spaces"],
    [6, "SUBMITTERID", "006", 15, "sender ID", "padded with spaces"],
    [7, "ZZZ", "007", 2, "receiver ID qualifier", "e.g. ZZ"],
    [8, "RECEIVERID", "008", 15, "receiver ID", "padded with spaces"],
    [9, "20061015", "014", 6, "date", "YYMMDD"],
    [10, "102300", "015", 4, "time", "HHMM"],
    [11, "^^", "022", 1, "repetition separator", "e.g. ^"],
    [11, "", "022", 1, "repetition separator", "e.g. ^"],
    [12, "0501", "017", 5, "control version number", "e.g. 00501"],
    [13, "00000001", "018", 9, "control number", "digits, with leading zeros"],
    [13, "0000000001", "018", 9, "control number", "digits, with leading zeros"],
    [14, "01", "019", 1, "acknowledgment requested", "0 or 1"],
    [15, "", "020", 1, "usage indicator", "P, T or I"],
  ];
  for (const [n, value, note, width, name, form] of cases) {
    const id = `ISA${String(n).padStart(2, "0")}`;
    const label = `${id} ${JSON.stringify(value)}`;
    const text = withIsa(n, value);
    // IEA02 repeats a changed ISA13, so that the width is the only problem.
    const ic = interchangeOf(n === 13 ? text.replace("IEA*1*000000001", `IEA*1*${value}`) : text);
    assert.deepEqual(ta1Status(ic), { code: "R", note }, label);
    // One issue for the element: its width (not also its value).
    const issues = ic.issues.filter((i) => i.element === n);
    assert.equal(issues.length, 1, `${label}: ${issues.map((i) => i.message).join(" | ")}`);
    assert.equal(issues[0]!.code, "BAD_ISA_ELEMENT");
    assert.equal(issues[0]!.value, value);
    assert.equal(
      issues[0]!.message,
      `${id} (${name}) must be ${width} character${width === 1 ? "" : "s"} (${form}), got ` +
        `${value.length}: ${JSON.stringify(value)} (segment 1 ISA, element ${n}, offset 0)`,
      label,
    );
    assert.deepEqual((await streamedIssues(text)).map((i) => i.ta1)[0], note, `${label} streamed`);
    // Strict parsing throws, naming it.
    assert.throws(() => parseX12(text), X12EnvelopeError, label);
  }
});

Deno.test("x12 ISA: the TA1 answering a wrong width is R with the note, and its TA101 has 9 digits", () => {
  const short = withIsa(13, "00000001").replace("IEA*1*000000001", "IEA*1*00000001");
  const ack = buildAckInterchange(interchangeOf(short), {
    interchangeControlNumber: 42,
    now: NOW,
  })!;
  assert.match(ack, /~TA1\*000000001\*061015\*1023\*R\*018~/);
  assert.ok(!ack.includes("ST*999"), "a rejected interchange gets no 999");
  const padded = withIsa(6, "SUBMITTERID   ");
  const answer = buildAckInterchange(interchangeOf(padded), {
    interchangeControlNumber: 43,
    now: NOW,
  })!;
  assert.match(answer, /~TA1\*000000001\*061015\*1023\*R\*006~/);
  // The answer's own ISA has every width right.
  assert.equal(answer.indexOf("~") + 1, 106);
  assert.deepEqual(ta1Status(interchangeOf(answer)), { code: "A", note: "000" });
});

Deno.test("x12 ISA: in 00401, ISA11 is the control standards identifier (U): another width is note 016", () => {
  const v4010 = withIsa(12, "00401", withIsa(11, "U"));
  assert.deepEqual(ta1Status(interchangeOf(v4010)), { code: "A", note: "000" });
  const wide = withIsa(11, "UU", v4010);
  const ic = interchangeOf(wide);
  assert.deepEqual(ta1Status(ic), { code: "R", note: "016" });
  assert.match(
    ic.issues[0]!.message,
    /^ISA11 \(control standards identifier\) must be 1 character \(U\), got 2: "UU"/,
  );
});
