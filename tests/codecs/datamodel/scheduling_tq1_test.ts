/**
 * HL7 v2.5+ SIUs give the appointment's start in TQ1-7 (SCH-11 is kept for backward
 * compatibility only): the Scheduling model reads it as `Visit.VisitDateTime` when SCH-11.4 is
 * empty, and writes it back into TQ1-7 of messages that had it.
 */

import assert from "node:assert/strict";
import { hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";
import { fhirToHl7, hl7ToFhir } from "../../../codecs/fhir/mod.ts";
import { message, msh, seg, ZONE } from "./fixtures.ts";

type Obj = Record<string, unknown>;

/** A v2.5.1 SIU^S12 (MSH SCH TQ1 PID RGS AIS) with the given SCH and TQ1 fields. */
function siu(sch: Record<number, string>, tq1: Record<number, string>): string {
  return message(
    msh("SIU^S12^SIU_S12", "TQ1MSG"),
    seg("SCH", { 1: "APT7", 2: "FIL7", 7: "^Follow-up", 25: "Booked", ...sch }),
    seg("TQ1", { 1: "1", ...tq1 }),
    seg("PID", { 1: "1", 3: "100001^^^HOSP^MR", 5: "DOE^JANE" }),
    seg("RGS", { 1: "1" }),
    seg("AIS", { 1: "1", 3: "99213^Office visit^CPT" }),
  );
}

const TQ1_ONLY = siu({}, { 7: "20240320093000-0500", 8: "20240320100000-0500" });

function segmentOf(hl7: string, name: string): string | undefined {
  return hl7.split("\r").find((s) => s.startsWith(`${name}|`));
}

Deno.test("an SIU^S12 with the start only in TQ1-7 reads Visit.VisitDateTime; with neither it is refused", () => {
  const visit = hl7ToJson(TQ1_ONLY, { timeZone: ZONE }).Visit as Obj;
  assert.equal(visit.VisitDateTime, "2024-03-20T14:30:00Z");
  // TQ1 without TQ1-7 and no SCH-11.4: no start, refused on the way back as before.
  const neither = hl7ToJson(siu({}, { 8: "20240320100000-0500" }), { timeZone: ZONE });
  assert.equal((neither.Visit as Obj).VisitDateTime, undefined);
  assert.throws(() => jsonToHl7(neither, { timeZone: ZONE }), /Visit\.VisitDateTime: required/);
});

Deno.test("an SIU with the start only in TQ1-7 goes HL7 → JSON → HL7 with its TQ1 as read (none added)", () => {
  const back = jsonToHl7(hl7ToJson(TQ1_ONLY, { timeZone: ZONE }), { timeZone: ZONE });
  assert.equal(segmentOf(back, "TQ1"), "TQ1|1||||||20240320093000-0500|20240320100000-0500");
  // SCH-11.4 is the model's first home: receivers still on SCH-11 get the start too.
  assert.equal(
    segmentOf(back, "SCH"),
    "SCH|APT7|FIL7|||||^Follow-up||||^^^20240320093000-0500||||||||||||||Booked",
  );
  // An SIU that had no TQ1 gets none.
  const noTq1 = TQ1_ONLY.split("\r").filter((s) => !s.startsWith("TQ1|")).join("\r")
    .replace("^Follow-up|", "^Follow-up||||^^^20240320093000-0500|");
  const noTq1Back = jsonToHl7(hl7ToJson(noTq1, { timeZone: ZONE }), { timeZone: ZONE });
  assert.equal(segmentOf(noTq1Back, "TQ1"), undefined);
});

Deno.test("an SIU with the start only in TQ1-7 goes HL7 → FHIR → HL7 with the Appointment's start", () => {
  const bundle = hl7ToFhir(TQ1_ONLY, { timeZone: ZONE }) as { entry: { resource: Obj }[] };
  const appointment = bundle.entry.map((e) => e.resource).find((r) =>
    r.resourceType === "Appointment"
  );
  assert.equal(appointment?.start, "2024-03-20T14:30:00Z");
  const back = fhirToHl7(JSON.parse(JSON.stringify(bundle)), { timeZone: ZONE });
  assert.equal(segmentOf(back, "TQ1"), "TQ1|1||||||20240320093000-0500|20240320100000-0500");
  assert.match(segmentOf(back, "SCH") ?? "", /\|\^\^\^20240320093000-0500\|/);
});

Deno.test("SCH-11.4 wins over TQ1-7, and an edited start is written to both", () => {
  const text = siu({ 11: "^^^20240320093000-0500" }, { 7: "20240320110000-0500" });
  const json = hl7ToJson(text, { timeZone: ZONE });
  const visit = json.Visit as Obj;
  assert.equal(visit.VisitDateTime, "2024-03-20T14:30:00Z");
  visit.VisitDateTime = "2024-03-21T15:00:00Z";
  const back = jsonToHl7(json, { timeZone: ZONE });
  assert.equal(segmentOf(back, "TQ1"), "TQ1|1||||||20240321100000-0500");
  assert.match(segmentOf(back, "SCH") ?? "", /\|\^\^\^20240321100000-0500\|/);
  // The same start in both comes back in both as it was.
  const same = siu({ 11: "^^^20240320093000-0500" }, { 7: "20240320093000-0500" });
  const sameBack = jsonToHl7(hl7ToJson(same, { timeZone: ZONE }), { timeZone: ZONE });
  for (const name of ["SCH", "TQ1"]) assert.equal(segmentOf(sameBack, name), segmentOf(same, name));
});
