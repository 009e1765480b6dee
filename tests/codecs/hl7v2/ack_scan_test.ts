/**
 * The glance at an ACK (`scanAck`) that the socket thread decides on, held to the full reading
 * (`readAck`) the delivery actor made before: it may be unsure, never wrong.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { readAck, scanAck } from "../../../codecs/hl7v2/mod.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const MSH = "MSH|^~\\&|RECV|FAC|ENGINE|FAC|20260101120000||ACK^A01^ACK|ACK1|P|2.5.1";

Deno.test("scanAck: an AA or CA naming the message is an accept; a plain other MSA-2 is another message's", () => {
  assert.deepEqual(scanAck(bytes(`${MSH}\rMSA|AA|C1`), "C1"), { kind: "accept", code: "AA" });
  assert.deepEqual(scanAck(bytes(`${MSH}\rMSA|CA|C1|fine\r`), "C1"), {
    kind: "accept",
    code: "CA",
  });
  assert.deepEqual(scanAck(bytes(`${MSH}\r\nMSA|AA|C1\r\n`), "C1"), { kind: "accept", code: "AA" });
  assert.deepEqual(scanAck(bytes(`${MSH}\rMSA|AA|C2`), "C1"), { kind: "other" });
  assert.deepEqual(scanAck(bytes(`${MSH}\rMSA|AE|C2`), "C1"), { kind: "other" });
});

Deno.test("scanAck: a reject, escapes or components, no MSA, or not HL7 are left to the full reading", () => {
  for (
    const text of [
      `${MSH}\rMSA|AE|C1|bad`,
      `${MSH}\rMSA|AR|C1`,
      `${MSH}\rMSA|AA|C\\T\\1`,
      `${MSH}\rMSA|AA|C1^X`,
      `${MSH}\rMSA|A^A|C1`,
      `${MSH}\rMSA|AA|`,
      `${MSH}\rPID|1`,
      "not HL7 at all",
      "",
    ]
  ) {
    assert.deepEqual(scanAck(bytes(text), "C1"), { kind: "unsure" }, JSON.stringify(text));
  }
});

Deno.test("scanAck never disagrees with readAck: its accept is readAck's accept (or a reply readAck cannot read), its other is readAck's uncorrelated", () => {
  const id = fc.constantFrom("C1", "C2", "", "C\\T\\1", "C1^2", "C&1", "c1", "C1 ");
  const code = fc.constantFrom("AA", "CA", "AE", "AR", "CE", "CR", "", "A", "AA^X", "ZZ");
  const eol = fc.constantFrom("\r", "\n", "\r\n");
  const extra = fc.constantFrom(
    "",
    "ERR|||207",
    "PID|1||X",
    "MSA|AE|C1",
    "MSA|AA|C1",
    "NTE|1|\\E\\",
    "msa|AA|C1",
    "MSH|^~\\&|X",
  );
  const msh = fc.constantFrom(MSH, "MSH|^~\\&#|A", "MSH#^~\\&#A#B", "MSH|", "XYZ|^~\\&|A");
  fc.assert(
    fc.property(
      msh,
      code,
      id,
      eol,
      extra,
      extra,
      id,
      (head, c, answered, nl, before, after, ask) => {
        const sep = head[3] ?? "|";
        const segments = [head, before, `MSA${sep}${c}${sep}${answered}`, after].filter((s) => s);
        const payload = bytes(segments.join(nl));
        const scan = scanAck(payload, ask);
        const full = readAck(payload, ask);
        // Its accept is readAck's, or one readAck could not read at all (a short MSH, say).
        if (
          scan.kind === "accept" &&
          !(full.kind === "uncorrelated" && /^unreadable/.test(full.detail))
        ) {
          assert.deepEqual(full, { kind: "accept", code: scan.code });
        }
        if (scan.kind === "other") assert.equal(full.kind, "uncorrelated");
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("scanAck takes a plain accept in a reply whose MSH is short, as a sloppy receiver means it", () => {
  const short = bytes("MSH|^~\\&|RECV\rMSA|AA|C1");
  assert.equal(readAck(short, "C1").kind, "uncorrelated");
  assert.deepEqual(scanAck(short, "C1"), { kind: "accept", code: "AA" });
});
