/**
 * An HTTPS destination with `format: "hl7v2"` sends the message's text as UTF-8, so MSH-18 of the
 * body says `UNICODE UTF-8` where the payload's said another charset or nothing (red team F4 a):
 * end to end through the real `DeliveryActor`, `HttpsDeliverer` and `FetchSender` to a
 * `Deno.serve` HTTPS receiver, for a small body and for a large one (the time-sliced path); and the
 * two paths give the same bytes for a few charsets.
 */

import assert from "node:assert/strict";
import { decodeHl7, encodeHl7, msh18Field } from "../../../codecs/hl7v2/mod.ts";
import { hl7Utf8, hl7Utf8InOneGo } from "../../../actors/https_out/hl7_body.ts";
import { deliveryBody } from "../../../actors/https_out/request_body.ts";
import { LARGE_BODY_BYTES } from "../../../actors/https_out/large_body.ts";
import { makePki } from "../../helpers/tls.ts";
import { waitFor } from "../../helpers/net.ts";
import { startHttpsOutbound, tokenConfig } from "./fixtures/https_outbound.ts";
import { startServer } from "./fixtures/server.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

const MSH_17 = "MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240315123000||ORU^R01|C1|P|2.5.1|||||";

/** An ORU with MSH-18 = `charset` (none when undefined) and MSH-19, of about `bytes` characters. */
function oru(charset: string | undefined, bytes: number): string {
  const msh = charset === undefined ? MSH_17.slice(0, -5) : `${MSH_17}|${charset}|ENG`;
  let text = `${msh}\rPID|1||42^^^HOSP^MR||MÜLLER^JOSÉ\r`;
  for (let i = 1; text.length < bytes; i++) text += `OBX|${i}|TX|NOTE||Résultat ${i} ü é\r`;
  return text;
}

/** `text` with MSH-18 replaced by `UNICODE UTF-8` (MSH-19 kept). */
function labelled(text: string): string {
  const f = msh18Field(text)!;
  return text.slice(0, f.start) + f.separator.repeat(f.pad) + "UNICODE UTF-8" + text.slice(f.end);
}

/** Delivers `payload` as HL7v2 to a real HTTPS receiver; the body the receiver got. */
async function delivered(payload: Uint8Array): Promise<{ body: Uint8Array; type: string }> {
  const receiver = startServer(() => new Response("ok"), pki);
  const out = await startHttpsOutbound({
    config: tokenConfig(`${receiver.origin}/hl7`, { timeoutSeconds: 60 }),
    caCert: pki.caCert,
  });
  try {
    await out.enqueue({ key: "m", payload, contentType: "application/hl7-v2" });
    await waitFor("delivered", async () => (await out.logOf("m")).status === "SUCCEEDED", 60_000);
    const r = receiver.requests[0]!;
    return { body: r.body, type: r.headers.get("content-type") ?? "" };
  } finally {
    await out.stop();
    await receiver.close();
  }
}

for (const [what, size] of [["small", 2000], ["large (time-sliced)", 1_000_000]] as const) {
  Deno.test(`an 8859/1 HL7v2 message (${what}) reaches an HTTPS receiver as UTF-8 whose MSH-18 says UNICODE UTF-8`, async () => {
    const text = oru("8859/1", size);
    const payload = encodeHl7(text, "8859/1", { unmappable: "throw" });
    assert.equal(payload.length < LARGE_BODY_BYTES, size < LARGE_BODY_BYTES);
    const { body, type } = await delivered(payload);
    assert.equal(type, "text/plain; charset=utf-8");
    const sent = new TextDecoder("utf-8", { fatal: true }).decode(body);
    assert.equal(msh18Field(sent)?.raw, "UNICODE UTF-8");
    assert.equal(sent, labelled(text), "only MSH-18 changed");
    assert.equal(sent.split("\r", 1)[0], `${MSH_17}|UNICODE UTF-8|ENG`);
    // What a receiver that trusts MSH-18 reads is the text the sender meant.
    assert.equal(decodeHl7(body).text, labelled(text));
    assert.ok(decodeHl7(body).text.includes("MÜLLER^JOSÉ"));
  });
}

Deno.test("an unlabelled windows-1252 HL7v2 message (large, time-sliced) reaches an HTTPS receiver with MSH-18 added", async () => {
  const text = oru(undefined, 600_000).replace("MÜLLER", "O’BRIEN");
  const payload = encodeHl7(text, "windows-1252", { unmappable: "throw" });
  const { body } = await delivered(payload);
  const sent = new TextDecoder("utf-8", { fatal: true }).decode(body);
  assert.equal(sent.split("\r", 1)[0], `${MSH_17}|UNICODE UTF-8`);
  assert.equal(sent, labelled(text));
});

/** Payload bytes of `text` in a few forms: declared charsets, the fallback, BOMs, UTF-8. */
function forms(size: number): [string, Uint8Array, string][] {
  const bom = (b: number[], bytes: Uint8Array) => new Uint8Array([...b, ...bytes]);
  const utf16le = (s: string) => {
    const out = new Uint8Array(s.length * 2);
    for (let i = 0; i < s.length; i++) {
      out[2 * i] = s.charCodeAt(i) & 0xff;
      out[2 * i + 1] = s.charCodeAt(i) >> 8;
    }
    return out;
  };
  const latin = oru("8859/1", size);
  const cyrillic = oru("8859/5", size).replaceAll("Résultat", "Результат").replaceAll(
    "ü é",
    "ж",
  ).replace("MÜLLER^JOSÉ", "ИВАНОВ");
  const sjis = oru("SHIFT_JIS", size).replaceAll("Résultat", "結果").replaceAll("ü é", "日本")
    .replace("MÜLLER^JOSÉ", "山田");
  const none = oru(undefined, size);
  const utf8 = oru("UNICODE UTF-8", size);
  const ascii = oru("ASCII", size);
  const enc = new TextEncoder();
  return [
    ["8859/1", encodeHl7(latin, "8859/1"), labelled(latin)],
    ["8859/5", encodeHl7(cyrillic, "8859/5"), labelled(cyrillic)],
    ["shift_jis", encodeHl7(sjis, "shift_jis"), labelled(sjis)],
    ["fallback windows-1252", encodeHl7(none, "windows-1252"), labelled(none)],
    ["UTF-8 with a BOM", bom([0xef, 0xbb, 0xbf], enc.encode(latin)), labelled(latin)],
    ["UTF-16LE with a BOM", bom([0xff, 0xfe], utf16le(latin)), labelled(latin)],
    ["UTF-8 unlabelled", enc.encode(none), labelled(none)],
    ["UTF-8 labelled ASCII", enc.encode(ascii), labelled(ascii)],
    ["UTF-8 labelled UTF-8", enc.encode(utf8), utf8],
  ];
}

Deno.test("the small and the time-sliced HL7v2 bodies are the same bytes, labelled UTF-8, for a few charsets", async () => {
  for (const size of [3000, LARGE_BODY_BYTES + 1000]) {
    for (const [name, payload, want] of forms(size)) {
      const oneGo = hl7Utf8InOneGo(payload);
      const sliced = await hl7Utf8(payload, { stepBytes: 4093 });
      assert.deepEqual(sliced, oneGo, `${name}, ${size}`);
      assert.equal(new TextDecoder().decode(oneGo), want, `${name}, ${size}`);
      const { body } = await deliveryBody({ contentType: "application/hl7-v2" }, payload);
      assert.deepEqual(body, oneGo, `${name}, ${size}: deliveryBody`);
      if (want === new TextDecoder().decode(payload)) {
        assert.deepEqual(oneGo, payload, `${name}, ${size}: the payload's own bytes`);
      }
    }
  }
});
