import assert from "node:assert/strict";
import fc from "fast-check";
import {
  buildAck,
  buildAckText,
  buildNakForUnparsable,
  encodeSegment,
  encodingCharacters,
  escapeHl7,
  formatHl7Timestamp,
  type Hl7Delimiters,
  Hl7ParseError,
  parseHl7,
  splitBatch,
  tryParseHl7,
  unescapeHl7,
} from "../../../codecs/hl7v2/mod.ts";

const DELIMITER_SETS: Hl7Delimiters[] = [
  { field: "|", component: "^", repetition: "~", escape: "\\", subcomponent: "&" },
  { field: "|", component: "^", repetition: "~", escape: "\\", subcomponent: "&", truncation: "#" },
  { field: "#", component: "*", repetition: "@", escape: "!", subcomponent: "%" },
];

const RUNS = { numRuns: 300 };

/** Text built from pieces that stress the codec: every delimiter, escapes, CR/LF, non-ASCII. */
const tricky = fc.array(
  fc.oneof(
    fc.constantFrom("|", "^", "~", "\\", "&", "#", "*", "@", "!", "%", "\r", "\n", '"', " "),
    fc.constantFrom("\\H\\", "\\.br\\", "\\E\\", "\\X41\\", "\\F\\", "!S!", "\\Zz\\", '""'),
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    fc.string({ maxLength: 4 }),
  ),
  { maxLength: 12 },
).map((parts) => parts.join(""));

function header(d: Hl7Delimiters): string {
  const f = d.field;
  return ["MSH", encodingCharacters(d), "A", "B", "C", "D", "20240101", "", `ADT${d.component}A01`]
    .concat(["1", "P", "2.5"]).join(f);
}

Deno.test("property: escape then unescape is the identity for any text", () => {
  fc.assert(
    fc.property(tricky, fc.constantFrom(...DELIMITER_SETS), (s, d) => {
      assert.equal(unescapeHl7(escapeHl7(s, d), d), s);
      const e = escapeHl7(s, d);
      for (const ch of [d.field, d.component, d.repetition, d.subcomponent, "\r", "\n"]) {
        assert.ok(!e.includes(ch), `escaped text contains ${JSON.stringify(ch)}`);
      }
    }),
    RUNS,
  );
});

Deno.test("property: values set at any level read back the same after encode and re-parse", () => {
  const level = fc.record({
    field: fc.integer({ min: 1, max: 6 }),
    rep: fc.integer({ min: 1, max: 3 }),
    component: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    sub: fc.integer({ min: 1, max: 3 }),
    deep: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.constantFrom(...DELIMITER_SETS), level, tricky, (d, l, value) => {
      let path = `ZZ1-${l.field}[${l.rep}]`;
      if (l.component !== undefined) path += `.${l.component}` + (l.deep ? `.${l.sub}` : "");
      const m = parseHl7(header(d) + `\rPID${d.field}1${d.field}${d.field}x`);
      m.set(path, value);
      assert.equal(m.get(path), value);
      const again = parseHl7(m.encode());
      assert.equal(again.get(path), value);
      assert.equal(again.get("PID-3"), "x");
    }),
    RUNS,
  );
});

Deno.test("property: many subcomponents set independently all read back", () => {
  const cell = fc.tuple(
    fc.integer({ min: 1, max: 4 }),
    fc.integer({ min: 1, max: 2 }),
    fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: 1, max: 3 }),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...DELIMITER_SETS),
      fc.uniqueArray(fc.tuple(cell, tricky), { selector: ([c]) => c.join("."), maxLength: 12 }),
      (d, cells) => {
        const m = parseHl7(header(d));
        const path = ([f, r, c, s]: number[]) => `PID-${f}[${r}].${c}.${s}`;
        for (const [c, v] of cells) m.set(path(c), v);
        const again = parseHl7(m.encode());
        for (const [c, v] of cells) assert.equal(again.get(path(c)), v, path(c));
      },
    ),
    { numRuns: 200 },
  );
});

/** A structurally valid message: random names, nested content, random segment separators. */
const wellFormed = fc.constantFrom(...DELIMITER_SETS).chain((d) => {
  const e = d.escape;
  const leaf = fc.array(
    fc.oneof(
      fc.constantFrom("a", "Z", "0", " ", "é", "李", "\u{1F600}", '""', "-", "."),
      fc.constantFrom(`${e}F${e}`, `${e}H${e}`, `${e}X0D${e}`, `${e}.br${e}`, e),
    ),
    { maxLength: 5 },
  ).map((p) => p.join(""));
  const join = (arb: fc.Arbitrary<string>, sep: string, max: number) =>
    fc.array(arb, { minLength: 1, maxLength: max }).map((a) => a.join(sep));
  const field = join(join(join(leaf, d.subcomponent, 2), d.component, 3), d.repetition, 2);
  const name = fc.stringMatching(/^[A-Z][A-Z0-9]{2}$/).filter((n) =>
    !["MSH", "FHS", "BHS", "BTS", "FTS"].includes(n)
  );
  const segment = fc.tuple(name, fc.array(field, { maxLength: 6 })).map(([n, fs]) =>
    [n, ...fs].join(d.field)
  );
  const sep = fc.constantFrom("\r", "\n", "\r\n", "\r\r", "\r\n\r\n");
  return fc.tuple(
    fc.array(fc.tuple(segment, sep), { maxLength: 8 }),
    fc.constantFrom("", "\r", "\n", "\r\n"),
    fc.constantFrom("", "\r\n", "\uFEFF"),
    sep,
  ).map(([segs, trailing, prefix, first]) => ({
    d,
    text: prefix + header(d) + (segs.length ? first : "") +
      segs.map(([s, p], i) => s + (i < segs.length - 1 ? p : "")).join("") +
      (segs.length ? trailing : ""),
    count: segs.length + 1,
  }));
});

Deno.test("property: parse then encode is the identity for well-formed messages", () => {
  fc.assert(
    fc.property(wellFormed, ({ text, count }) => {
      const m = parseHl7(text);
      assert.equal(m.segmentCount, count);
      for (let i = 1; i <= 3; i++) m.getAll(`ZZ${i}-1`); // reads never change the text
      assert.equal(m.encode(), text);
      assert.equal(m.clone().encode(), text);
    }),
    RUNS,
  );
});

Deno.test("property: rewriting any subcomponent with its own raw text keeps the bytes", () => {
  fc.assert(
    fc.property(wellFormed, fc.nat(), fc.nat(), ({ text }, a, b) => {
      const m = parseHl7(text);
      const names = m.segmentNames();
      const k = 1 + (a % Math.max(1, names.length - 1));
      if (k >= names.length) return;
      const name = names[k] as string;
      const rep = names.slice(0, k + 1).filter((n) => n === name).length;
      const fields = (m.getRaw(`${name}[${rep}]`) as string).split(m.delimiters.field).length - 1;
      if (fields === 0) return;
      const path = `${name}[${rep}]-${1 + (b % fields)}.1.1`;
      const raw = m.getRaw(path);
      if (raw === undefined) return;
      m.setRaw(path, raw);
      assert.equal(m.encode(), text);
    }),
    RUNS,
  );
});

/** Text made of HL7 fragments, delimiters, control characters and random strings. */
const garbage = fc.array(
  fc.oneof(
    fc.constantFrom("MSH", "MSH|^~\\&", "MSH|^~\\&#|", "MSH*@!$%*", "FHS|^~\\&", "BHS|^~\\&"),
    fc.constantFrom("BTS|1", "FTS|1", "PID|", "OBX|1|", "|", "^", "~", "\\", "&", "#", '""'),
    fc.constantFrom("\r", "\n", "\r\n", "\uFEFF", "\u000b", "\u001c", "\u0000", " "),
    fc.string({ maxLength: 4 }),
    fc.string({ unit: "binary", maxLength: 3 }),
  ),
  { maxLength: 30 },
).map((parts) => parts.join(""));

Deno.test("property: any text parses, or fails with Hl7ParseError, and nothing else throws", () => {
  const valid = "MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5";
  fc.assert(
    fc.property(garbage, fc.boolean(), (tail, withHeader) => {
      const text = withHeader ? `${valid}\r${tail}` : tail;
      try {
        const m = parseHl7(text, { minMshFields: 2 });
        assert.equal(m.encode(), text);
        m.get("PID-3[2].1.1");
        m.getAll("OBX-5");
      } catch (e) {
        assert.ok(e instanceof Hl7ParseError, String(e));
        assert.match(e.message, /segment \d+, line \d+, offset \d+/);
      }
      assert.equal(typeof tryParseHl7(text).ok, "boolean");
      for (const msg of splitBatch(text).messages) assert.ok(msg.startsWith("MSH"));
      const nak = buildNakForUnparsable({ reason: tail, raw: text });
      assert.equal(nak.get("MSA-3") ?? "", tail);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("property: an ACK with any error text and location parses and answers MSH-10", () => {
  fc.assert(
    fc.property(wellFormed, garbage, garbage, fc.constantFrom("AE", "AR", "CE", "CR"), (
      { text },
      reason,
      location,
      code,
    ) => {
      const original = parseHl7(text);
      original.set("MSH-10", reason);
      const ack = buildAck(original, { code, error: { text: reason, location } });
      assert.equal(ack.get("MSA-1"), code);
      assert.equal(ack.get("MSA-2") ?? "", reason);
      assert.equal(ack.get("ERR-8") ?? "", reason);
      assert.deepEqual(parseHl7(ack.encode()).segmentNames(), ["MSH", "MSA", "ERR"]);
    }),
    RUNS,
  );
});

Deno.test("property: mshField(n) reads MSH-n as getRaw (its first repetition) and getRepetitions (all) do", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...DELIMITER_SETS),
      fc.array(fc.array(fc.constantFrom("a", "B", "1", " ", "x"), { maxLength: 3 }), {
        maxLength: 20,
      }),
      fc.array(fc.nat({ max: 3 }), { minLength: 20, maxLength: 20 }),
      (d, letters, kinds) => {
        // Field values mixing text with the component, repetition and subcomponent delimiters.
        const inner = [d.component, d.repetition, d.subcomponent, ""];
        const fields = letters.map((l, i) => l.join(inner[kinds[i]!]!));
        const text = ["MSH", encodingCharacters(d), ...fields].join(d.field) + `\rPID${d.field}1\r`;
        const msg = parseHl7(text, { minMshFields: 2 });
        for (let n = 3; n <= fields.length + 4; n++) {
          const whole = msg.mshField(n);
          const first = whole === undefined ? undefined : whole.split(d.repetition)[0];
          assert.equal(first, msg.getRaw(`MSH-${n}`), `MSH-${n} of ${JSON.stringify(text)}`);
          assert.deepEqual(
            whole ? whole.split(d.repetition) : [],
            msg.getRepetitions(`MSH-${n}`, { raw: true }),
          );
        }
      },
    ),
    RUNS,
  );
});

/** The ACK's MSH and MSA as `encodeSegment` makes them from field values (the reference). */
function referenceAckHead(
  original: ReturnType<typeof parseHl7>,
  o: { code: string; controlId: string; now: Date; text?: string; processingId?: string },
): string {
  const d = original.delimiters;
  const header = (n: number) => {
    const whole = original.mshField(n);
    if (!whole) return undefined;
    const first = n === 18 ? whole : whole.split(d.repetition)[0]!;
    return first === "" ? undefined : first;
  };
  const h = (n: number) => {
    const v = header(n);
    return v === undefined ? null : { raw: v };
  };
  const trigger = header(9)?.split(d.repetition)[0]?.split(d.component)[1];
  const version = header(12);
  const msh = encodeSegment("MSH", [
    h(5),
    h(6),
    h(3),
    h(4),
    formatHl7Timestamp(o.now),
    null,
    trigger ? ["ACK", { raw: trigger.split(d.subcomponent)[0] ?? "" }, "ACK"] : "ACK",
    o.controlId,
    o.processingId ?? (header(11) ? { raw: header(11)! } : "P"),
    version === undefined ? null : { raw: version },
    null,
    null,
    null,
    null,
    null,
    h(18),
  ], { delimiters: d });
  const negative = o.code !== "AA" && o.code !== "CA";
  const msaText = o.text ?? (negative ? o.text ?? "Application internal error" : undefined);
  return msh + "\r" + encodeSegment("MSA", [o.code, h(10), msaText], { delimiters: d }) + "\r";
}

Deno.test("property: an ACK's MSH and MSA are what encodeSegment makes of the same fields", () => {
  const field = fc.array(fc.constantFrom("a", "Z", "1", " ", "^", "~", "&", "\\", "#"), {
    maxLength: 6,
  }).map((c) => c.join(""));
  fc.assert(
    fc.property(
      fc.constantFrom(...DELIMITER_SETS),
      fc.array(field, { minLength: 16, maxLength: 18 }),
      fc.constantFrom("AA", "CA", "AE", "AR"),
      fc.option(tricky, { nil: undefined }),
      fc.option(fc.constantFrom("P", "T", "D^T"), { nil: undefined }),
      tricky,
      (d, raw, code, text, processingId, controlId) => {
        // The default set's characters become the message's own delimiters.
        const own = (v: string) =>
          v.replace(
            /[\^~&\\#]/g,
            (c) =>
              ({
                "^": d.component,
                "~": d.repetition,
                "&": d.subcomponent,
                "\\": d.escape,
                "#": "x",
              })[
                c
              ]!,
          );
        const fields = raw.map(own);
        const text0 = ["MSH", encodingCharacters(d), ...fields].join(d.field);
        const original = parseHl7(`${text0}\rPID${d.field}1\r`, { minMshFields: 2 });
        const now = new Date(Date.UTC(2026, 11, 5, 12, 30, 1));
        const options = {
          code,
          controlId: controlId.replace(/[\r\n]/g, " "),
          now,
          ...(text !== undefined ? { text } : {}),
          ...(processingId !== undefined ? { processingId } : {}),
        } as const;
        const built = buildAckText(original, options);
        const head = built.split("\r").slice(0, 2).join("\r") + "\r";
        assert.equal(head, referenceAckHead(original, options));
      },
    ),
    RUNS,
  );
});
