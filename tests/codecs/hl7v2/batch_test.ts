import assert from "node:assert/strict";
import { parseHl7, splitBatch } from "../../../codecs/hl7v2/mod.ts";
import { latin1Decode } from "../../../codecs/text/mod.ts";
import { ADT_A01, ORU_R01, SIU_S12 } from "./fixtures.ts";

const FHS = "FHS|^~\\&|SENDER|FAC|RECV|FAC2|20240101";
const BHS = "BHS|^~\\&|SENDER|FAC|RECV|FAC2|20240101";

Deno.test("splitBatch splits an FHS/BHS file with nested batches and checks counts", () => {
  const text = [
    FHS,
    BHS,
    ADT_A01,
    ORU_R01,
    "BTS|2",
    BHS,
    SIU_S12,
    "BTS|1",
    "FTS|2",
  ].join("\r");
  const b = splitBatch(text);
  assert.deepEqual(b.messages, [ADT_A01, ORU_R01, SIU_S12]);
  assert.equal(b.fileHeader, FHS);
  assert.equal(b.fileTrailer, "FTS|2");
  assert.equal(b.declaredBatchCount, 2);
  assert.equal(b.batches.length, 2);
  assert.deepEqual(
    b.batches.map((x) => [x.header, x.trailer, x.firstMessage, x.messageCount, x.declaredCount]),
    [[BHS, "BTS|2", 0, 2, 2], [BHS, "BTS|1", 2, 1, 1]],
  );
  assert.deepEqual(b.warnings, []);
  assert.equal(parseHl7(b.messages[1] as string).count("OBX"), 3);
});

Deno.test("splitBatch reports count mismatches as warnings, not errors", () => {
  const text = [FHS, BHS, ADT_A01, "BTS|5", "FTS|3"].join("\n");
  const b = splitBatch(text);
  assert.equal(b.messages.length, 1);
  assert.deepEqual(b.warnings.map((w) => w.code), ["COUNT_MISMATCH", "COUNT_MISMATCH"]);
  assert.match(b.warnings[0]?.message ?? "", /BTS-1 on line \d+ says 5 message\(s\), found 1/);
});

Deno.test("splitBatch splits bare concatenated messages at each MSH", () => {
  const b = splitBatch([ADT_A01, ORU_R01, SIU_S12].join("\r"));
  assert.deepEqual(b.messages, [ADT_A01, ORU_R01, SIU_S12]);
  assert.equal(b.fileHeader, undefined);
  assert.equal(b.batches.length, 1);
  assert.equal(b.batches[0]?.messageCount, 3);
  assert.deepEqual(b.warnings, []);
});

Deno.test("splitBatch handles CRLF files with blank lines and trailing whitespace", () => {
  const crlf = (s: string) => s.replaceAll("\r", "\r\n");
  const text = `\r\n${crlf(ADT_A01)}\r\n\r\n   \r\n${crlf(ORU_R01)}  \r\n\t\r\n\r\n`;
  const b = splitBatch(text);
  assert.deepEqual(b.messages, [crlf(ADT_A01), crlf(ORU_R01) + "  "]);
  assert.deepEqual(b.lines, [2, 10]); // ADT spans lines 2-7, then a blank and a spaces line
  for (const m of b.messages) assert.ok(parseHl7(m).controlId);
});

Deno.test("splitBatch handles LF-only files", () => {
  const lf = (s: string) => s.replaceAll("\r", "\n");
  const b = splitBatch([FHS, BHS, lf(ADT_A01), lf(SIU_S12), "BTS|2", "FTS|1", ""].join("\n"));
  assert.deepEqual(b.messages, [lf(ADT_A01), lf(SIU_S12)]);
  assert.deepEqual(b.warnings, []);
});

Deno.test("splitBatch warns about missing trailers and stray segments", () => {
  const text = ["PID|1|orphan", FHS, BHS, ADT_A01, BHS, ORU_R01, "FTS|2"].join("\r");
  const b = splitBatch(text);
  assert.equal(b.messages.length, 2);
  const codes = b.warnings.map((w) => w.code);
  assert.ok(codes.includes("ORPHAN_SEGMENT"));
  assert.ok(codes.includes("MISSING_TRAILER"));
  assert.equal(b.warnings.find((w) => w.code === "ORPHAN_SEGMENT")?.line, 1);
  const noFts = splitBatch([FHS, ADT_A01].join("\r"));
  assert.deepEqual(noFts.warnings.map((w) => w.code), ["MISSING_TRAILER"]);
  const strayBts = splitBatch(["BTS|0"].join("\r"));
  assert.deepEqual(strayBts.warnings.map((w) => w.code), ["UNEXPECTED_TRAILER"]);
});

Deno.test("splitBatch of empty or blank input gives no messages and no crash", () => {
  for (const t of ["", "\r\n\r\n", "   ", undefined as unknown as string]) {
    const b = splitBatch(t);
    assert.deepEqual(b.messages, []);
    assert.deepEqual(b.batches, []);
  }
});

Deno.test("splitBatch reads an FHS/FTS file without BHS as one batch without header", () => {
  const b = splitBatch([FHS, ADT_A01, ORU_R01, "FTS|1"].join("\r"));
  assert.deepEqual(b.messages, [ADT_A01, ORU_R01]);
  assert.equal(b.fileHeader, FHS);
  assert.deepEqual(b.batches, [{ firstMessage: 0, messageCount: 2 }]);
  assert.deepEqual(b.warnings, []);
  const wrong = splitBatch([FHS, ADT_A01, "FTS|2"].join("\r"));
  assert.deepEqual(wrong.warnings.map((w) => [w.code, w.line]), [["COUNT_MISMATCH", 8]]);
});

Deno.test("splitBatch splits LF messages separated by blank lines and reports each MSH line", () => {
  const lf = (s: string) => s.replaceAll("\r", "\n");
  const b = splitBatch(`${lf(ADT_A01)}\n\n${lf(ORU_R01)}\n\n\n${lf(SIU_S12)}\n`);
  assert.deepEqual(b.messages, [lf(ADT_A01), lf(ORU_R01), lf(SIU_S12)]);
  assert.deepEqual(b.lines, [1, 8, 17]);
});

Deno.test("splitBatch takes a capture of MLLP traffic apart without its framing bytes", () => {
  const a = "MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rPID|1||X";
  const b = "MSH|^~\\&|A|B|C|D|2024||ADT^A01|2|P|2.5\rPID|1||Y  ";
  // VT before MSH, FS CR after the last segment; or FS straight before the next VT; or FS at the
  // end of the last segment's line.
  for (
    const text of [
      `\x0b${a}\r\x1c\r\x0b${b}\r\x1c\r`,
      `\x0b${a}\r\x1c\x0b${b}\r\x1c`,
      `${a}\x1c\r\n${b}\r`,
    ]
  ) {
    const batch = splitBatch(text);
    assert.deepEqual(batch.messages, [a, b], JSON.stringify(text));
    assert.deepEqual(batch.warnings, []);
    for (const m of batch.messages) assert.ok(!m.includes("\x0b") && !m.includes("\x1c"), m);
  }
  // A 0x1C inside a segment is content, not framing: the message keeps it (MLLP destinations
  // dead-letter it, naming the byte).
  assert.deepEqual(splitBatch(`${a}\rZZZ|1|p\x1cq\r`).messages, [`${a}\rZZZ|1|p\x1cq`]);
});

Deno.test("splitBatch skips a UTF-8 byte order mark in text read one byte per character", () => {
  const bytes = new Uint8Array([
    0xef,
    0xbb,
    0xbf,
    ...new TextEncoder().encode([FHS, BHS, ADT_A01, ORU_R01, "BTS|2", "FTS|1", ""].join("\r\n")),
  ]);
  const b = splitBatch(latin1Decode(bytes));
  assert.deepEqual(b.warnings, []);
  assert.equal(b.fileHeader, FHS);
  assert.deepEqual(b.messages, [ADT_A01, ORU_R01]);
  // Decoded as UTF-8 the mark is U+FEFF, skipped as well.
  assert.deepEqual(splitBatch(`\ufeff${ADT_A01}`).warnings, []);
});

Deno.test("splitBatch gives where each message is, so it can be cut from the bytes", () => {
  const text = `\x0b${ADT_A01}\r\x1c\r\n\n${FHS}\r${BHS}\r${ORU_R01}\r\nBTS|1\rFTS|1\r`;
  const b = splitBatch(text);
  assert.equal(b.spans.length, 2);
  for (const [i, span] of b.spans.entries()) {
    assert.equal(text.slice(span.start, span.end), b.messages[i]);
  }
  assert.deepEqual(b.messages, [ADT_A01, ORU_R01]);
});
