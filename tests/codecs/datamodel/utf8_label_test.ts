/**
 * HL7 written from data-model JSON is UTF-8 text: MSH-18 says `UNICODE UTF-8` when it holds more
 * than ASCII (red team F4 c). A UTF-8 label the JSON carries stays; another label (kept from the
 * HL7 the JSON came from, such as `8859/1`) is overridden, since it is not true of the text sent.
 */

import assert from "node:assert/strict";
import { hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";
import { decodeHl7, encodeHl7, parseHl7 } from "../../../codecs/hl7v2/mod.ts";

/** A PatientAdmin arrival with `lastName` and `city`, and `Extensions` MSH fields when given. */
function arrival(lastName: string, city: string, msh18?: string): Record<string, unknown> {
  return {
    Meta: {
      DataModel: "PatientAdmin",
      EventType: "Arrival",
      EventDateTime: "2026-01-01T12:00:00Z",
      Test: true,
    },
    Patient: {
      Identifiers: [{ ID: "MRN1", IDType: "MR" }],
      Demographics: {
        FirstName: "Jo",
        LastName: lastName,
        DOB: "1980-01-01",
        Sex: "Female",
        Address: { StreetAddress: "1 Main St", City: city, State: "ZH", ZIP: "8000" },
      },
    },
    Visit: { PatientClass: "Inpatient" },
    ...(msh18 === undefined ? {} : { Extensions: { HL7v2: { Fields: { "MSH-18": msh18 } } } }),
  };
}

const msh18 = (hl7: string) => parseHl7(hl7).getRaw("MSH-18") ?? "";

Deno.test("HL7 written from JSON holding O’Brien, Zürich and 日本 says MSH-18 UNICODE UTF-8 (pure ASCII: none)", () => {
  const hl7 = jsonToHl7(arrival("O’Brien 日本", "Zürich"), { controlId: "C1" });
  assert.equal(msh18(hl7), "UNICODE UTF-8");
  const m = parseHl7(hl7);
  assert.equal(m.get("PID-5.1"), "O’Brien 日本");
  assert.equal(m.get("PID-11.3"), "Zürich");
  // The fields before MSH-18 are as before, MSH-13..17 empty.
  assert.match(hl7.split("\r", 1)[0]!, /\|C1\|T\|2\.5\.1\|\|\|\|\|\|UNICODE UTF-8$/);
  // A receiver that decodes the UTF-8 bytes by MSH-18 reads the same text.
  assert.equal(decodeHl7(new TextEncoder().encode(hl7)).text, hl7);
  // Pure ASCII needs no label.
  const ascii = jsonToHl7(arrival("OBrien", "Zurich"), { controlId: "C1" });
  assert.equal(msh18(ascii), "");
  assert.match(ascii.split("\r", 1)[0]!, /\|C1\|T\|2\.5\.1$/);
});

Deno.test("a UTF-8 MSH-18 the JSON carries is kept; another one is overridden when the text is not ASCII", () => {
  assert.equal(msh18(jsonToHl7(arrival("Müller", "Zürich", "UNICODE UTF-8"))), "UNICODE UTF-8");
  assert.equal(msh18(jsonToHl7(arrival("Müller", "Zürich", "UTF-8"))), "UTF-8");
  assert.equal(msh18(jsonToHl7(arrival("Müller", "Zürich", "8859/1"))), "UNICODE UTF-8");
  assert.equal(msh18(jsonToHl7(arrival("Müller", "Zürich", "8859/1~ISO IR87"))), "UNICODE UTF-8");
  // ASCII text reads the same in 8859/1: the JSON's label stays.
  assert.equal(msh18(jsonToHl7(arrival("Muller", "Zurich", "8859/1"))), "8859/1");
});

Deno.test("an 8859/1 HL7 message through JSON and back is labelled UTF-8", () => {
  const text = "MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20260101120000||ADT^A01|C9|P|2.5.1||||||8859/1\r" +
    "EVN|A01|20260101120000\rPID|1||MRN1^^^^MR||MÜLLER^JOSÉ||19800101|F\rPV1|1|I\r";
  const received = decodeHl7(encodeHl7(text, "8859/1")).text;
  const json = hl7ToJson(received, { timeZone: "UTC" });
  const back = jsonToHl7(json, { timeZone: "UTC" });
  assert.equal(msh18(back), "UNICODE UTF-8");
  assert.equal(parseHl7(back).get("PID-5.1"), "MÜLLER");
});
