/**
 * The bundles `hl7ToFhir` makes of the data-model fixtures (one per data model), and the HL7
 * `fhirToHl7` makes of them, byte for byte: SHA-256 of the JSON and of the HL7, pinned from the
 * code before the conversion's performance work (UUID v5 ids, compiled table paths, residue diff),
 * which must not change a byte. A change of the mapping on purpose updates the pins (the test
 * prints the new ones).
 */

import { equal } from "node:assert/strict";
import { createHash } from "node:crypto";
import { fhirToHl7, hl7ToFhir } from "../../../codecs/fhir/mod.ts";
import { FIXTURES, ZONE } from "../datamodel/fixtures.ts";

const PINS: Record<string, readonly [bundle: string, hl7: string]> = {
  ADT_A01: [
    "a1758a025c43be31df904bac6edc11b3d5276f6a0583cd0d9754d490b6f0eb7a",
    "c2d850bd0b1e6eac5b3cbd3ba856a35d8cc43652db6d91f3e2e5508c6d055ba5",
  ],
  ORU_R01: [
    "6c1cee87b597b3fb72ac58acbe39333847c1ec56e7f8864e1cd08f0cfb68c570",
    "bce4602c30c7552ae88da52223dc690319663b57d1fa4ac4d500050f61fdacf5",
  ],
  SIU_S12: [
    "4f7ecd3a5a5aa8a44cff4a10997434a39b4372e915f15c62d5a6ca6c1a423450",
    "56153db1dad3f262963bb9406abfee76ed3b7801d785b4792055396342f0d52e",
  ],
  ORM_O01: [
    "30d77d97044c84fdd3fb8d9af62fa8e6426549b1a0bdb22ac6f9399355c0b84b",
    "b494c5398ee6dd14ef01cab4c29ca827a5b4d7c35cf895bdebab0a7cc0244e88",
  ],
  MDM_NOTES: [
    "edb5aacad43c7b419d2081fef7606d72eb86df1405d86d0fb7f173292cb4b7c5",
    "c13f6595e65d2900a99f3663d5e50fa9300e3f80edc2f0ec230e5964089c47da",
  ],
  MDM_MEDIA: [
    "6520a3eeadc013e00f6ea12442fbe918c6fc6405c2e039d8d95422b45302cd9f",
    "49e9628d37dd132066728d1a9464a1c39ca8a01697de03cdac3b6a82a69c3564",
  ],
  ADT_A40: [
    "8ebbe0b9edf5b9ff84ef3ea0e3df16d9d159482131df962b9d2573444f492dfa",
    "e56e32d3ec444b8303c7473094140f1b95098c95731791c648b9cb388dd1238d",
  ],
};

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

Deno.test("hl7ToFhir and fhirToHl7 give every fixture's pinned bytes", () => {
  equal(Object.keys(PINS).sort().join(), Object.keys(FIXTURES).sort().join());
  for (const [name, text] of Object.entries(FIXTURES)) {
    const json = JSON.stringify(hl7ToFhir(text, { timeZone: ZONE }));
    const hl7 = fhirToHl7(JSON.parse(json), { timeZone: ZONE });
    const [bundlePin, hl7Pin] = PINS[name] as readonly [string, string];
    equal(sha256(json), bundlePin, `${name}: the bundle changed (now ${sha256(json)})`);
    equal(sha256(hl7), hl7Pin, `${name}: the HL7 back changed (now ${sha256(hl7)})`);
  }
});
