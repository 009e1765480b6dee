/**
 * UUID v5 ids (codecs/fhir/uuid.ts) against RFC 9562 as `node:crypto`'s SHA-1 computes it: the
 * RFC's own example, and any name (ASCII, non-ASCII, empty, past one and two SHA-1 blocks).
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { ID_NAMESPACE, uuidV5 } from "../../../codecs/fhir/uuid.ts";

/** The reference: SHA-1 by node:crypto, then the version and variant bits. */
function reference(name: string, namespace: string): string {
  const ns = Uint8Array.from(namespace.replaceAll("-", "").match(/../g)!, (h) => parseInt(h, 16));
  const b = createHash("sha1").update(ns).update(new TextEncoder().encode(name)).digest();
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

Deno.test("uuidV5: the RFC 9562 example (DNS namespace, www.example.com)", () => {
  assert.equal(
    uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
    "2ed6657d-e927-568b-95e1-2665a8aea6a2",
  );
});

Deno.test("uuidV5 equals SHA-1 by node:crypto for any name, in any order of calls", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.string({ unit: "grapheme", maxLength: 60 }),
        fc.constantFrom("", "x".repeat(39), "x".repeat(40), "x".repeat(48), "é".repeat(300)),
      ),
      fc.constantFrom(ID_NAMESPACE, "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
      (name, ns) => {
        assert.equal(uuidV5(name, ns), reference(name, ns));
      },
    ),
    { numRuns: 500 },
  );
});
