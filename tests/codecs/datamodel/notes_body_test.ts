/**
 * `Note.FileContents` (Redox's note body) reaches HL7: plain text as TX OBX lines, a base64 file
 * as one ED OBX; a declared base64 body that is not base64, or is over the limit, is refused.
 */

import assert from "node:assert/strict";
import { hl7ToJson, jsonToHl7, validateDataModel } from "../../../codecs/datamodel/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";

function note(over: Record<string, unknown>): Record<string, unknown> {
  return {
    Meta: { DataModel: "Notes", EventType: "New", EventDateTime: "2024-03-15T17:30:00Z" },
    Patient: { Identifiers: [{ ID: "0000000001", IDType: "MR" }] },
    Note: {
      DocumentType: "Consult Note",
      DocumentID: "b169267c-10c9-4fe3-91ae-9ckf5703e90l",
      ServiceDateTime: "2024-03-15T17:00:00Z",
      ...over,
    },
  };
}

Deno.test("a plain-text Note.FileContents becomes one TX OBX per line, and reads back", () => {
  const json = note({
    ContentType: "Plain Text",
    FileName: "consult.txt",
    FileContents: "Patient seen today.\nBP 120/80 | stable\n\nFollow up in 2 weeks.",
    Components: [{ ID: "LOC", Name: "Location", Value: "Clinic A" }],
  });
  const hl7 = parseHl7(jsonToHl7(json));
  assert.deepEqual(hl7.getAll("OBX-2"), ["TX", "TX", "TX", "TX", "TX"]);
  assert.deepEqual(hl7.getAll("OBX-1"), ["1", "2", "3", "4", "5"]);
  assert.deepEqual(hl7.getAll("OBX-5"), [
    "Patient seen today.",
    "BP 120/80 | stable",
    undefined, // the empty line: an OBX without a value
    "Follow up in 2 weeks.",
    "Clinic A",
  ]);
  assert.equal(hl7.get("TXA-16"), "consult.txt");
  const back = hl7ToJson(hl7.toString()) as unknown as { Note: Record<string, unknown> };
  assert.equal(back.Note.ContentType, "Plain Text");
  assert.equal(back.Note.FileContents, (json.Note as Record<string, unknown>).FileContents);
  assert.deepEqual(back.Note.Components, [{ ID: "LOC", Name: "Location", Value: "Clinic A" }]);
});

Deno.test("a base64 Note.FileContents becomes one ED OBX with its FileType", () => {
  const pdf = btoa("%PDF-1.4\n%fake\n");
  const json = note({ ContentType: "Base64 Encoded", FileType: "PDF", FileContents: pdf });
  const hl7 = parseHl7(jsonToHl7(json));
  assert.equal(hl7.get("OBX-2"), "ED");
  assert.equal(hl7.get("OBX-5.2"), "AP");
  assert.equal(hl7.get("OBX-5.3"), "PDF");
  assert.equal(hl7.get("OBX-5.4"), "Base64");
  assert.equal(hl7.get("OBX-5.5"), pdf);
  // An MDM carrying a file reads as Media (README: data model differences).
  const back = hl7ToJson(hl7.toString()) as unknown as {
    Meta: { DataModel: string };
    Media: unknown;
  };
  assert.equal(back.Meta.DataModel, "Media");
  assert.deepEqual((back.Media as Record<string, unknown>).FileContents, pdf);
});

Deno.test("a declared base64 note body that is not base64, or too large, is refused", () => {
  const bad = validateDataModel(
    note({ ContentType: "Base64 Encoded", FileContents: "<insert file here>" }),
  );
  assert.deepEqual(bad.ok ? [] : bad.issues, [{ path: "Note.FileContents", rule: "not base64" }]);
  const big = validateDataModel(
    note({ ContentType: "Base64 Encoded", FileContents: btoa("x".repeat(300)) }),
    { maxEmbeddedFileBytes: 100 },
  );
  assert.match(big.ok ? "" : big.issues[0]!.rule, /over the limit of 100/);
  const type = validateDataModel(note({ ContentType: "text/html", FileContents: "x" }));
  assert.deepEqual(type.ok ? [] : type.issues.map((i) => i.path), ["Note.ContentType"]);
  // Plain text may hold anything.
  assert.ok(validateDataModel(note({ FileContents: "<insert file here>" })).ok);
});
