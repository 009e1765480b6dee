/**
 * Phone numbers sent the v2.5 way (XTN-1 empty; country code XTN-5, area code XTN-6, local
 * number XTN-7, extension XTN-8) reach `PhoneNumber.Home/Mobile/Office` (and so FHIR's
 * `telecom`), and HL7 → JSON → HL7 still gives the field back as it was: the writer adds no
 * XTN-1 (nor an XTN-4 to an e-mail address sent in XTN-1) that the message did not have.
 */

import assert from "node:assert/strict";
import { hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";
import { hl7ToFhir } from "../../../codecs/fhir/mod.ts";
import { ZONE } from "./fixtures.ts";

const MSH = "MSH|^~\\&|SEND|FAC|RECV|RFAC|20240315103000-0500||ADT^A01^ADT_A01|MSG1|P|2.5.1";

function adt(pid13: string, pid14 = "", nk1 = "", after: string[] = []): string {
  return [
    MSH,
    "EVN|A01|20240315103000-0500",
    `PID|1||MRN1^^^HOSP^MR||DOE^JANE||19800101|F|||||${pid13}${pid14 ? `|${pid14}` : ""}`,
    ...(nk1 ? [nk1] : []),
    "PV1|1|I",
    ...after,
  ].join("\r");
}

function pidField(hl7: string, f: number): string | undefined {
  return hl7.split("\r").find((s) => s.startsWith("PID|"))?.split("|")[f];
}

// deno-lint-ignore no-explicit-any -- tests read the JSON loosely
type Json = any;

Deno.test("datamodel: v2.5 phone numbers (XTN-5/6/7/8) reach PhoneNumber and FHIR telecom, and come back unchanged", () => {
  const text = adt(
    "^PRN^PH^^1^312^5551212^12~^PRN^CP^^^312^5550000~^NET^Internet^jane@x.org",
    "^WPN^PH^^^312^5559999",
    "NK1|1|DOE^JOHN|SPO||^PRN^PH^^^608^5554444|^WPN^PH^^^608^5553333",
    [
      "GT1|1||DOE^JOHN|||^PRN^PH^^^608^5552222|^WPN^PH^^^608^5551111",
      "IN1|1|PLAN1|INS1|ACME|||^WPN^PH^^^800^5550101",
    ],
  );
  const json = hl7ToJson(text, { timeZone: ZONE }) as Json;
  assert.deepEqual(json.Patient.Demographics.PhoneNumber, {
    Home: "+1 (312)555-1212X12",
    Mobile: "(312)555-0000",
    Office: "(312)555-9999",
  });
  assert.deepEqual(json.Patient.Demographics.EmailAddresses, ["jane@x.org"]);
  assert.deepEqual(json.Patient.Contacts[0].PhoneNumber, {
    Home: "(608)555-4444",
    Office: "(608)555-3333",
  });
  assert.deepEqual(json.Visit.Guarantor.PhoneNumber, {
    Home: "(608)555-2222",
    Business: "(608)555-1111",
  });
  assert.equal(json.Visit.Insurances[0].Company.PhoneNumber, "(800)555-0101");
  assert.equal(jsonToHl7(json, { timeZone: ZONE }), text);

  const bundle = hl7ToFhir(text, { timeZone: ZONE }) as Json;
  const patient = bundle.entry.map((e: Json) => e.resource).find((r: Json) =>
    r.resourceType === "Patient"
  );
  assert.deepEqual(patient.telecom.filter((t: Json) => t.system === "phone"), [
    { system: "phone", use: "home", value: "+1 (312)555-1212X12" },
    { system: "phone", use: "mobile", value: "(312)555-0000" },
    { system: "phone", use: "work", value: "(312)555-9999" },
  ]);
});

Deno.test("datamodel: HL7 → JSON → HL7 keeps an e-mail address in XTN-1 and phones in both forms as sent", () => {
  for (
    const p13 of [
      "jane@x.org^NET^Internet",
      "jane@x.org^NET^Internet^jane@x.org",
      "(312)555-1212^PRN^PH^^1^312^5551212",
      "+1 (312)555-1212^PRN^PH^^1^312^5551212",
      "^PRN^PH^^^312^5551212~^PRN^CP^^^312^5550000",
      "^^^^^312^5551212",
      "(312)555-1212^^^^^312^5551212",
    ]
  ) {
    const text = adt(p13);
    assert.equal(jsonToHl7(hl7ToJson(text, { timeZone: ZONE }), { timeZone: ZONE }), text, p13);
  }
});

Deno.test("datamodel: an edited phone number or e-mail address replaces the kept v2.5 components instead of contradicting them", () => {
  const json = hl7ToJson(
    adt("^PRN^PH^^1^312^5551212~old@x.org^NET^Internet", "^WPN^PH^^^312^5559999"),
    { timeZone: ZONE },
  ) as Json;
  assert.equal(json.Patient.Demographics.PhoneNumber.Home, "+1 (312)555-1212");
  json.Patient.Demographics.PhoneNumber.Home = "(608)555-0000";
  json.Patient.Demographics.PhoneNumber.Office = "(608)555-1111";
  json.Patient.Demographics.EmailAddresses = ["new@x.org"];
  const out = jsonToHl7(json, { timeZone: ZONE });
  assert.equal(pidField(out, 13), "(608)555-0000^PRN^PH~^NET^Internet^new@x.org");
  assert.equal(pidField(out, 14), "(608)555-1111^WPN^PH");

  json.Patient.Demographics.PhoneNumber.Home = null;
  assert.match(pidField(jsonToHl7(json, { timeZone: ZONE }), 13) ?? "", /^""\^PRN\^PH~/);
});
