/**
 * The data-model writer and control characters: a JSON string may hold any character, HL7 text
 * cannot carry C0 controls raw (VT and FS are MLLP's framing bytes), so they are written as
 * `\Xhh\` hex escapes, and reading the HL7 gives the original characters back.
 */

import assert from "node:assert/strict";
import { hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { encodeMllp } from "../../../codecs/mllp/mod.ts";
import { adt } from "../../helpers/net.ts";

const ZONE = "UTC";

/** The part of a PatientAdmin message the test reads and writes. */
type Named = { Patient: { Demographics: { FirstName: string; LastName: string } } };

Deno.test("JSON → HL7 writes VT and FS in a name as \\X0B\\ and \\X1C\\, and HL7 → JSON reads them back", () => {
  const json = hl7ToJson(adt("CTL1"), { timeZone: ZONE, extensions: false }) as unknown as Named;
  json.Patient.Demographics.FirstName = "A\u000bB";
  json.Patient.Demographics.LastName = "C\u001cD\u0001E";
  const hl7 = jsonToHl7(json as unknown as Parameters<typeof jsonToHl7>[0], { timeZone: ZONE });
  const pid5 = parseHl7(hl7).getRaw("PID-5");
  assert.equal(pid5, "C\\X1C\\D\\X01\\E^A\\X0B\\B");
  // Nothing an MLLP destination would refuse: no 0x0B or 0x1C in the bytes.
  assert.doesNotThrow(() => encodeMllp(hl7));
  const back = hl7ToJson(hl7, { timeZone: ZONE, extensions: false }) as unknown as Named;
  assert.equal(back.Patient.Demographics.FirstName, "A\u000bB");
  assert.equal(back.Patient.Demographics.LastName, "C\u001cD\u0001E");
});
