/**
 * The `AE` a stopping listener answers with gives back MSH-10 byte for byte in MSA-2, whatever the
 * charset of the message: its bytes are read one per character, not as windows-1252.
 */

import assert from "node:assert/strict";
import { stopAnswer } from "../../../transports/mllp/inbound_connection.ts";

const enc = new TextEncoder();

/** The bytes of MSA-2 in an ACK's bytes (segments end with CR, fields split by `|`). */
function msa2(ack: Uint8Array): Uint8Array {
  const msa = ack.findIndex((_, i) =>
    ack[i] === 0x4d && ack[i + 1] === 0x53 && ack[i + 2] === 0x41 && ack[i + 3] === 0x7c
  );
  assert.ok(msa >= 0, "no MSA segment");
  const start = ack.indexOf(0x7c, msa + 4) + 1;
  let end = start;
  while (end < ack.length && ack[end] !== 0x7c && ack[end] !== 0x0d) end++;
  return ack.subarray(start, end);
}

Deno.test("stopAnswer gives MSH-10 back byte for byte in MSA-2, bytes 0x80-0xFF included", () => {
  // windows-1252 `…` `’` and `é`, and UTF-8 `–`: none may change on the way back.
  const id = new Uint8Array([0x49, 0x44, 0x85, 0x92, 0xe9, ...enc.encode("–7")]);
  const message = new Uint8Array([
    ...enc.encode("MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240315123000||ADT^A01|"),
    ...id,
    ...enc.encode("|P|2.5.1\rPID|1||X\r"),
  ]);
  const ack = stopAnswer(message);
  assert.deepEqual(msa2(ack), id);
  assert.match(new TextDecoder().decode(ack), /\|AE\|/);
});
