/**
 * The body of a large HL7v2 delivery, made a step at a time (`hl7Utf8`), is byte for byte what
 * `hl7Utf8InOneGo` (the small body) gives: `decodeHl7`'s text as UTF-8, but for MSH-18 saying
 * `UNICODE UTF-8` where it changed; for every charset choice (BOM, MSH-18, strict UTF-8, the
 * fallback), any step size (cutting multi-byte characters and surrogate pairs), and the same error
 * for an unknown fallback charset.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeHl7,
  encodeHl7,
  Hl7CharsetError,
  msh18Field,
  UTF8_LABEL,
} from "../../../codecs/hl7v2/mod.ts";
import { hl7Utf8, hl7Utf8InOneGo } from "../../../actors/https_out/hl7_body.ts";

const encoder = new TextEncoder();

/** What the deliverer sends a small payload: decoded, labelled and encoded in one go. */
function inOneGo(bytes: Uint8Array, fallbackCharset: string): Uint8Array | Hl7CharsetError {
  try {
    return hl7Utf8InOneGo(bytes, fallbackCharset);
  } catch (error) {
    if (error instanceof Hl7CharsetError) return error;
    throw error;
  }
}

async function inSteps(
  bytes: Uint8Array,
  fallbackCharset: string,
  stepBytes: number,
): Promise<Uint8Array | Hl7CharsetError> {
  try {
    return await hl7Utf8(bytes, { fallbackCharset, stepBytes });
  } catch (error) {
    if (error instanceof Hl7CharsetError) return error;
    throw error;
  }
}

/** An MSH segment with `charset` in MSH-18 (none when undefined). */
function msh(charset: string | undefined): string {
  const fields = [
    "MSH",
    "^~\\&",
    "LAB",
    "HOSP",
    "ENGINE",
    "CLINIC",
    "20240315123000",
    "",
    "ORU^R01",
  ];
  fields.push("C1", "P", "2.5.1", "", "", "", "", "");
  if (charset !== undefined) fields.push(charset);
  return fields.join("|");
}

/** `message` in its declared charset where `encodeHl7` can write it, else UTF-8. */
function declaredBytes(message: string, charset: string | undefined): Uint8Array {
  try {
    if (charset !== undefined) return encodeHl7(message, charset);
  } catch {
    // not a charset encodeHl7 writes (iso-2022-jp, an unknown one)
  }
  return encoder.encode(message);
}

const CHARSETS = [
  undefined,
  "UNICODE UTF-8",
  "ASCII",
  "8859/1",
  "8859/5",
  "UNICODE UTF-16",
  "ISO IR87",
  "GB 18030-2000",
  "BIG-5",
  "KS X 1001",
  "not-a-charset",
];
const FALLBACKS = ["windows-1252", "iso-8859-5", "ascii", "shift_jis", "not-a-charset"];

/** Message bytes: text in some charset (or with a BOM, or BOM-less UTF-16), maybe with noise. */
const messages = fc.record({
  charset: fc.constantFrom(...CHARSETS),
  text: fc.string({ unit: "binary", maxLength: 200 }),
  form: fc.constantFrom(
    "utf-8",
    "declared",
    "one-byte",
    "utf-8-bom",
    "utf-16le-bom",
    "utf-16be-bom",
    "utf-16le",
  ),
  noise: fc.uint8Array({ maxLength: 8 }),
}).map(({ charset, text, form, noise }) => {
  const message = `${msh(charset)}\rNTE|1||${text}\r`;
  let bytes: Uint8Array;
  switch (form) {
    case "utf-8":
      bytes = encoder.encode(message);
      break;
    case "declared":
      bytes = declaredBytes(message, charset);
      break;
    case "one-byte":
      bytes = Uint8Array.from(message, (c) => c.charCodeAt(0) & 0xff);
      break;
    case "utf-8-bom":
      bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode(message)]);
      break;
    default: {
      const le = form !== "utf-16be-bom";
      const units = new Uint8Array(message.length * 2);
      for (let i = 0; i < message.length; i++) {
        const u = message.charCodeAt(i);
        units[2 * i + (le ? 0 : 1)] = u & 0xff;
        units[2 * i + (le ? 1 : 0)] = u >> 8;
      }
      const bom = form === "utf-16le" ? [] : le ? [0xff, 0xfe] : [0xfe, 0xff];
      bytes = new Uint8Array([...bom, ...units]);
    }
  }
  return noise.length ? new Uint8Array([...bytes, ...noise]) : bytes;
});

/**
 * `decodeHl7`'s text of `bytes`, as UTF-8 with MSH-18 replaced by (or padded out to)
 * `UNICODE UTF-8` when `labelled`: what the body must be, but for whether MSH-18 changes.
 */
function plainOrLabelled(bytes: Uint8Array, fallbackCharset: string, labelled: boolean): string {
  const text = decodeHl7(bytes, { fallbackCharset }).text;
  if (!labelled) return text;
  const f = msh18Field(text)!;
  return text.slice(0, f.start) + f.separator.repeat(f.pad) + UTF8_LABEL + text.slice(f.end);
}

Deno.test("hl7Utf8 gives the bytes hl7Utf8InOneGo gives, decodeHl7's text but for MSH-18, whatever the charset and the step", async () => {
  await fc.assert(
    fc.asyncProperty(
      messages,
      fc.constantFrom(...FALLBACKS),
      fc.integer({ min: 1, max: 64 }),
      async (bytes, fallback, step) => {
        const want = inOneGo(bytes, fallback);
        const got = await inSteps(bytes, fallback, step);
        if (want instanceof Hl7CharsetError) {
          assert.ok(got instanceof Hl7CharsetError, "an unknown fallback charset is an error");
          assert.equal(got.message, want.message);
          assert.equal(got.code, want.code);
        } else {
          assert.ok(got instanceof Uint8Array, String(got));
          assert.deepEqual(got, want);
          const sent = new TextDecoder().decode(got);
          const labelled = msh18Field(sent)?.raw === UTF8_LABEL;
          assert.equal(sent, plainOrLabelled(bytes, fallback, labelled));
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("hl7Utf8 sends valid UTF-8 as it is, and a cut-off sequence at the end as decodeHl7 does", async () => {
  const valid = encoder.encode(`${msh("UNICODE UTF-8")}\rPID|1||1||Zoë^😀\r`);
  assert.equal(await hl7Utf8(valid, { stepBytes: 3 }), valid);
  const cut = valid.subarray(0, valid.length - 3); // in the middle of the emoji
  assert.deepEqual(await hl7Utf8(cut, { stepBytes: 5 }), inOneGo(cut, "windows-1252"));
});

Deno.test("hl7Utf8 stops with the signal's reason when it is aborted", async () => {
  const control = new AbortController();
  const reason = new Error("skipped");
  control.abort(reason);
  await assert.rejects(
    hl7Utf8(encoder.encode(msh(undefined)), { signal: control.signal }),
    (e) => e === reason,
  );
});
