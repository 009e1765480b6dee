import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeX12, parseX12, streamX12, transactionsOf } from "../../../codecs/x12/mod.ts";
import { type SetBody, wrap } from "./fixtures.ts";

const RUNS = { numRuns: 200 };
const PUNCTUATION = ["*", "|", "^", ":", "~", "!", ">", "<", "{", "}", "\\", "'", "`", "@", "+"];

/** Four distinct separators: element, repetition, component, terminator (sometimes a newline). */
const separators = fc.uniqueArray(fc.constantFrom(...PUNCTUATION), { minLength: 4, maxLength: 4 })
  .chain((s) => fc.constantFrom(s[3]!, "\n").map((t) => [s[0]!, s[1]!, s[2]!, t] as const));

/** A raw element value: text without the separators (added later), spaces, digits, accents. */
const value = fc.array(
  fc.constantFrom("A", "Z", "0", "9", " ", ".", "-", "É", "ß", "#", "&", "(", ")", "\u00a0"),
  { maxLength: 6 },
).map((a) => a.join(""));

/** A body segment written with `*` `^` `:` placeholders, which wrap() maps to the separators. */
const segment = fc.tuple(
  fc.constantFrom("NM1", "REF", "DTP", "N3", "N4", "HI", "SV1", "CLM", "EB", "LX", "AMT", "ZZ9"),
  fc.array(
    fc.oneof(
      value,
      fc.tuple(value, value).map(([a, b]) => `${a}:${b}`),
      fc.tuple(value, value).map(([a, b]) => `${a}^${b}`),
    ),
    { maxLength: 8 },
  ),
).map(([id, els]) => [id, ...els].join("*"));

const body: fc.Arbitrary<SetBody> = fc.record({
  setId: fc.constantFrom("837", "835", "270", "834", "999"),
  implementation: fc.constantFrom("005010X222A1", "005010X221A1", "005010X279A1"),
  functionalId: fc.constantFrom("HC", "HP", "HS"),
  body: fc.array(segment, { maxLength: 12 }),
});

const file = fc.array(
  fc.record({
    sets: fc.array(body, { minLength: 1, maxLength: 4 }),
    separators,
    lineBreak: fc.constantFrom("", "\n", "\r\n", "\r"),
    usage: fc.constantFrom("P", "T"),
    control: fc.integer({ min: 0, max: 999_999_999 }),
  }),
  { minLength: 1, maxLength: 3 },
).map((ics) =>
  ics.map((ic) =>
    wrap(ic.sets, {
      ...ic,
      lineBreak: ic.separators[3] === "\n" ? "" : ic.lineBreak,
    })
  ).join("")
);

Deno.test("property: X12 parse then encode is the identity, and the envelopes are valid", () => {
  fc.assert(
    fc.property(file, fc.constantFrom("", " \n", "\uFEFF"), (text, edge) => {
      const input = edge === "\uFEFF" ? edge + text : text + edge;
      const doc = parseX12(input);
      assert.equal(encodeX12(doc), input);
      assert.deepEqual(doc.issues, []);
    }),
    RUNS,
  );
});

Deno.test("property: streaming in random chunks yields the segments of a whole parse", async () => {
  await fc.assert(
    fc.asyncProperty(file, fc.integer({ min: 1, max: 300 }), async (text, size) => {
      const want = [...transactionsOf(parseX12(text))].map((t) =>
        t.transaction.segments.map((s) => s.elements.join("\u0000") + s.end)
      );
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      const got: string[][] = [];
      for await (const item of streamX12(chunks)) {
        if (item.kind === "transaction") {
          got.push(item.transaction.segments.map((s) => s.elements.join("\u0000") + s.end));
        }
      }
      assert.deepEqual(got, want);
    }),
    { numRuns: 100 },
  );
});

Deno.test("property: a changed SE01, GE01 or IEA01 count is always reported with its ack code", () => {
  fc.assert(
    fc.property(
      body,
      fc.integer({ min: 1, max: 9 }),
      fc.constantFrom("SE", "GE", "IEA"),
      (b, d, which) => {
        const text = wrap([b]);
        const re = new RegExp(`${which}\\*(\\d+)\\*`);
        const n = Number(re.exec(text)![1]);
        const bad = text.replace(re, `${which}*${n + d}*`);
        const doc = parseX12(bad, { strict: false });
        assert.equal(doc.issues.length, 1);
        const issue = doc.issues[0]!;
        assert.equal(issue.code, "COUNT_MISMATCH");
        assert.equal(issue.segmentId, which);
        const code = which === "SE" ? issue.ik5 : which === "GE" ? issue.ak9 : issue.ta1;
        assert.equal(code, which === "SE" ? "4" : which === "GE" ? "5" : "021");
      },
    ),
    RUNS,
  );
});
