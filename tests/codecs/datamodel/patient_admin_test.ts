import assert from "node:assert/strict";
import {
  DataModelError,
  type DataModelMessage,
  hl7ToJson,
  identifyHl7,
  jsonToHl7,
} from "../../../codecs/datamodel/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { ADT_A01, ADT_A40, message, msh, seg, ZONE } from "./fixtures.ts";

type Obj = Record<string, unknown>;

function withoutExtensions(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutExtensions);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(
    Object.entries(v).filter(([k]) => k !== "Extensions").map((
      [k, x],
    ) => [k, withoutExtensions(x)]),
  );
}

function fields(json: DataModelMessage): Record<string, string> {
  const ext = json.Extensions as { HL7v2?: { Fields?: Record<string, string> } } | undefined;
  return ext?.HL7v2?.Fields ?? {};
}

Deno.test("ADT^A01 becomes PatientAdmin.Arrival with the hosted platforms' field names", () => {
  const json = hl7ToJson(ADT_A01, {
    timeZone: ZONE,
    source: { ID: "epic-adt", Name: "Epic ADT" },
    logs: [{ ID: "log-1", AttemptID: "a-1" }],
  });
  assert.deepEqual(json.Meta, {
    DataModel: "PatientAdmin",
    EventType: "Arrival",
    EventDateTime: "2024-03-15T17:30:00Z",
    FacilityCode: "HOSP_A",
    Test: false,
    Source: { ID: "epic-adt", Name: "Epic ADT" },
    Logs: [{ ID: "log-1", AttemptID: "a-1" }],
    Errors: [],
  });
  const patient = withoutExtensions(json.Patient) as Obj;
  assert.deepEqual(patient.Identifiers, [
    { ID: "100001", IDType: "HOSP" },
    { ID: "900001", IDType: "SSA" },
  ]);
  assert.deepEqual(patient.Demographics, {
    LastName: "O'BRIEN",
    FirstName: "ZOË",
    MiddleName: "ANNE",
    DOB: "1980-02-29",
    Sex: "Female",
    Race: "White",
    Address: {
      StreetAddress: "12 RUE DE L'ÉGLISE",
      City: "MADISON",
      State: "WI",
      ZIP: "53703",
      Country: "USA",
      County: "DANE",
    },
    PhoneNumber: { Office: "(608)555-2222", Home: "(608)555-1234", Mobile: "(608)555-9876" },
    Language: "en",
    MaritalStatus: "Married",
    Religion: "CAT",
    SSN: "123-45-6789",
    Ethnicity: "Not Hispanic or Latino",
    IsDeceased: false,
    EmailAddresses: ["zoe@example.org"],
  });
  assert.deepEqual(patient.PCP, {
    ID: "4567",
    IDType: "NPI",
    LastName: "PRIMARY",
    FirstName: "PAT",
  });
  assert.deepEqual(patient.Contacts, [
    {
      LastName: "O'BRIEN",
      FirstName: "LIAM",
      RelationToPatient: "Spouse",
      Address: { StreetAddress: "12 RUE DE L'ÉGLISE", City: "MADISON", State: "WI", ZIP: "53703" },
      PhoneNumber: { Home: "(608)555-0000" },
    },
    {
      LastName: "MÜLLER",
      FirstName: "ANNA",
      RelationToPatient: "Mother",
      PhoneNumber: { Home: "(414)555-4444" },
    },
  ]);
  assert.deepEqual(patient.Allergies, [{
    Type: { Code: "DA", Name: "Drug allergy" },
    Code: "70618",
    Name: "Penicillin",
    Codeset: "RXNORM",
    Severity: { Code: "SV", Name: "Severe" },
    Reaction: [{ Name: "HIVES" }, { Name: "RASH" }],
    OnsetDateTime: "2010-01-01",
  }]);
  assert.deepEqual(patient.Diagnoses, [
    {
      Code: "R07.9",
      Name: "Chest pain, unspecified",
      Codeset: "I10",
      DocumentedDateTime: "2024-03-15T17:15:00Z",
      Type: "Admitting",
    },
    { Code: "I10.0", Name: "Hypertension", Codeset: "I10", Type: "Working" },
  ]);
  const visit = withoutExtensions(json.Visit) as Obj;
  assert.equal(visit.AccountNumber, "ACCT100001");
  assert.equal(visit.VisitNumber, "VIS100001");
  assert.equal(visit.PatientClass, "Inpatient");
  assert.equal(visit.VisitDateTime, "2024-03-15T17:00:00Z");
  assert.equal(visit.Reason, "Chest pain & shortness of breath");
  assert.deepEqual(visit.Location, {
    Department: "4WEST",
    Room: "412",
    Bed: "B",
    Facility: "HOSP",
    Type: "N",
  });
  assert.deepEqual(visit.AttendingProvider, {
    ID: "1234",
    IDType: "NPI",
    LastName: "ATTEND",
    FirstName: "ALICE",
    MiddleName: "M",
  });
  assert.deepEqual(visit.AdmittingProvider, { ID: "9012", LastName: "ADMIT", FirstName: "ANN" });
  assert.deepEqual((visit.Guarantor as Obj).Employer, undefined);
  assert.equal((visit.Guarantor as Obj).RelationToPatient, "Self");
  assert.deepEqual(visit.Insurances, [{
    Plan: { ID: "BCBS", Name: "Blue Cross", Type: "PPO" },
    Company: {
      ID: "123",
      Name: "BLUE CROSS BLUE SHIELD",
      Address: { StreetAddress: "PO BOX 1", City: "CHICAGO", State: "IL", ZIP: "60601" },
      PhoneNumber: "(800)555-0101",
    },
    GroupNumber: "GRP001",
    GroupName: "ACME EMPLOYEES",
    EffectiveDate: "2024-01-01",
    ExpirationDate: "2024-12-31",
    Insured: {
      LastName: "O'BRIEN",
      FirstName: "ZOË",
      Relationship: "Self",
      DOB: "1980-02-29",
      Address: { StreetAddress: "12 RUE DE L'ÉGLISE", City: "MADISON", State: "WI", ZIP: "53703" },
      Sex: "Female",
    },
    PolicyNumber: "POL123",
    MemberNumber: "M123456",
  }]);
});

Deno.test("what the table does not map travels in Extensions.HL7v2", () => {
  const json = hl7ToJson(ADT_A01, { timeZone: ZONE });
  const f = fields(json);
  assert.equal(f["MSH-18"], "UNICODE UTF-8");
  assert.equal(f["EVN-2"], "20240315122900-0500", "EVN-2 differs from MSH-7: kept");
  assert.equal(f["EVN-5"], "OP123^OPERATOR^OLIVIA");
  assert.equal(f["PID-3"], "^^^^MR~^^^^SS", "only the unmapped components");
  assert.equal(f["PID-5"], "^^^JR^^^L");
  assert.equal(f["PID-13"], "~~~(608)555-1111^WPN^PH", "the work number no bucket takes");
  assert.equal(f["NK1[2]-7"], "EP^Emergency Contact");
  assert.equal(f["PV1-10"], "MED");
  const segs = (json.Extensions as { HL7v2: { Segments: unknown[] } }).HL7v2.Segments;
  assert.deepEqual(segs, [
    { After: "PD1", Segment: "ZPI|1|VIP^Very important" },
    { After: "IN1", Segment: "IN2|1||123-45-6789" },
  ]);
});

Deno.test("extensions off gives only the mapped JSON", () => {
  const json = hl7ToJson(ADT_A01, { timeZone: ZONE, extensions: false });
  assert.equal(JSON.stringify(json).includes("Extensions"), false);
  assert.deepEqual(json.Patient, withoutExtensions(hl7ToJson(ADT_A01, { timeZone: ZONE }).Patient));
});

Deno.test("each ADT trigger maps to its event type, cancels name the canceled event", () => {
  const cases: [string, string, string?][] = [
    ["A01", "Arrival"],
    ["A02", "Transfer"],
    ["A03", "Discharge"],
    ["A04", "Registration"],
    ["A05", "PreAdmit"],
    ["A08", "VisitUpdate"],
    ["A31", "PatientUpdate"],
    ["A11", "Cancel", "Arrival"],
    ["A12", "Cancel", "Transfer"],
    ["A13", "Cancel", "Discharge"],
    ["A28", "NewPatient"],
    ["A40", "PatientMerge"],
    ["A34", "PatientMerge"],
  ];
  for (const [trigger, event, canceled] of cases) {
    const merge = event === "PatientMerge" ? [seg("MRG", { 1: "2" })] : [];
    const text = message(msh(`ADT^${trigger}`, "T1"), seg("PID", { 3: "1" }), ...merge);
    const json = hl7ToJson(text, { timeZone: ZONE });
    assert.equal(json.Meta.EventType, event, trigger);
    assert.equal(json.Meta.CanceledEvent, canceled, trigger);
    const back = parseHl7(jsonToHl7(json, { timeZone: ZONE }));
    assert.equal(back.get("MSH-9.2"), trigger, `${trigger} written back`);
    assert.equal(back.get("EVN-1"), trigger, `EVN-1 of ${trigger}`);
  }
});

Deno.test("JSON without extensions gets the canonical MSH-9 of its event", () => {
  const json = {
    Meta: { DataModel: "PatientAdmin", EventType: "Cancel", CanceledEvent: "Transfer" },
    Patient: { Identifiers: [{ ID: "1" }] },
  };
  const m = parseHl7(jsonToHl7(json, { now: new Date("2024-03-15T17:30:00Z") }));
  assert.equal(m.get("MSH-9"), "ADT^A12^ADT_A12");
  assert.equal(m.get("MSH-7"), "20240315173000+0000");
  assert.equal(m.get("MSH-11"), "P");
  assert.equal(m.get("MSH-12"), "2.5.1");
  assert.match(m.get("MSH-10") ?? "", /^[0-9A-Z]{10,20}$/);
});

Deno.test("an MSH-9 kept in the extensions is not reused for another event", () => {
  const json = hl7ToJson(
    message(msh("ADT^A34^ADT_A30", "M1"), seg("PID", { 3: "1" }), seg("MRG", { 1: "2" })),
    {
      timeZone: ZONE,
    },
  );
  assert.equal(fields(json)["MSH-9"], "ADT^A34^ADT_A30");
  assert.equal(parseHl7(jsonToHl7(json)).get("MSH-9"), "ADT^A34^ADT_A30");
  json.Meta.EventType = "PatientUpdate";
  assert.equal(parseHl7(jsonToHl7(json)).get("MSH-9"), "ADT^A31^ADT_A05");
});

Deno.test("a merge carries the merged patient's identifiers in Patient.PreviousIdentifiers", () => {
  const json = hl7ToJson(ADT_A40, { timeZone: ZONE });
  const patient = json.Patient as Record<string, unknown>;
  assert.deepEqual(patient.PreviousIdentifiers, [
    { ID: "200002", IDType: "HOSP" },
    { ID: "300003", IDType: "HOSP" },
  ]);
  assert.equal(json.MergedPatient, undefined);
  // Back to MRG-1, in the A40 structure.
  const back = parseHl7(jsonToHl7(json, { timeZone: ZONE }));
  assert.equal(back.get("MRG-1"), "200002^^^HOSP^MR");
});

Deno.test("missing optional segments leave their objects out", () => {
  const text = message(msh("ADT^A04^ADT_A01", "M2"), seg("PID", { 1: "1", 3: "7" }));
  const json = hl7ToJson(text, { timeZone: ZONE });
  assert.deepEqual(withoutExtensions(json.Patient), { Identifiers: [{ ID: "7" }] });
  assert.equal(json.Visit, undefined);
  const back = jsonToHl7(json, { timeZone: ZONE });
  assert.deepEqual(parseHl7(back).segmentNames(), ["MSH", "EVN", "PID"]);
});

Deno.test("repeated segments: every NK1 is a contact, a second PID is kept whole", () => {
  const text = message(
    msh("ADT^A08^ADT_A01", "M3"),
    seg("PID", { 1: "1", 3: "1" }),
    seg("PID", { 1: "2", 3: "2", 5: "OTHER^PATIENT" }),
    seg("NK1", { 1: "1", 2: "A^ONE" }),
    seg("NK1", { 1: "2", 2: "B^TWO" }),
    seg("NK1", { 1: "3", 2: "C^THREE" }),
    seg("ZNK", { 1: "x" }),
  );
  const json = hl7ToJson(text, { timeZone: ZONE });
  const contacts = (json.Patient as Obj).Contacts as Obj[];
  assert.deepEqual(contacts.map((c) => c.FirstName), ["ONE", "TWO", "THREE"]);
  assert.deepEqual((json.Patient as Obj).Identifiers, [{ ID: "1" }]);
  const body = (t: string) => t.split("\r").filter((s) => !/^(MSH|EVN)/.test(s)).join("\r");
  assert.equal(body(jsonToHl7(json, { timeZone: ZONE })), body(text));
});

Deno.test("escapes in names and addresses are decoded in JSON and re-escaped in HL7", () => {
  const text = message(
    msh("ADT^A08^ADT_A01", "M4"),
    seg("PID", {
      1: "1",
      3: "1",
      5: "SMITH\\T\\JONES^ANN\\S\\MARIE^\\F\\X",
      11: "1 MAIN ST \\R\\ REAR\\E\\DOOR^^CITY\\X0D\\\\X0A\\TWO",
    }),
  );
  const json = hl7ToJson(text, { timeZone: ZONE });
  const d = (json.Patient as Obj).Demographics as Obj;
  assert.equal(d.LastName, "SMITH&JONES");
  assert.equal(d.FirstName, "ANN^MARIE");
  assert.equal(d.MiddleName, "|X");
  assert.deepEqual(d.Address, { StreetAddress: "1 MAIN ST ~ REAR\\DOOR", City: "CITY\r\nTWO" });
  assert.equal(jsonToHl7(json, { timeZone: ZONE }).split("\r")[2], text.split("\r")[1]);
  const fresh = jsonToHl7(withoutExtensions(json), { timeZone: ZONE });
  const again = hl7ToJson(fresh, { timeZone: ZONE });
  assert.deepEqual((again.Patient as Obj).Demographics, d);
});

Deno.test("non-ASCII names survive both ways, hex escapes included", () => {
  const text = message(
    msh("ADT^A08^ADT_A01", "M5"),
    seg("PID", { 1: "1", 3: "1", 5: "李^小龍~N\\XC3AB\\L^ZOË" }),
  );
  const json = hl7ToJson(text, { timeZone: ZONE });
  const d = (json.Patient as Obj).Demographics as Obj;
  assert.equal(d.LastName, "李");
  assert.equal(d.FirstName, "小龍");
  assert.equal(jsonToHl7(json, { timeZone: ZONE }).split("\r")[2], text.split("\r")[1]);
  d.FirstName = "Zoë Åsa";
  const back = parseHl7(jsonToHl7(json, { timeZone: ZONE }));
  assert.equal(back.get("PID-5.2"), "Zoë Åsa");
  assert.equal(back.get("PID-5[2].1"), "NëL", "the second name repetition is kept");
});

Deno.test("times on both sides of UTC midnight, in zones west and east of UTC", () => {
  const text = (t: string, dob: string) =>
    message(msh("ADT^A08^ADT_A01", "M6", { 7: t }), seg("PID", { 1: "1", 3: "1", 7: dob }));
  const chicago = hl7ToJson(text("20240315200000", "19800101"), { timeZone: "America/Chicago" });
  assert.equal(
    chicago.Meta.EventDateTime,
    "2024-03-16T01:00:00Z",
    "evening in Chicago is tomorrow in UTC",
  );
  const tokyo = hl7ToJson(text("20240316080000", "19800101"), { timeZone: "Asia/Tokyo" });
  assert.equal(
    tokyo.Meta.EventDateTime,
    "2024-03-15T23:00:00Z",
    "morning in Tokyo is yesterday in UTC",
  );
  for (const json of [chicago, tokyo]) {
    assert.equal(
      ((json.Patient as Obj).Demographics as Obj).DOB,
      "1980-01-01",
      "a date stays a date",
    );
  }
  const winter = hl7ToJson(text("20240115230000", "19800101"), { timeZone: "America/Chicago" });
  assert.equal(winter.Meta.EventDateTime, "2024-01-16T05:00:00Z", "CST is UTC-6");
  const offset = hl7ToJson(text("20240315233000+0100", "19800101"), {
    timeZone: "America/Chicago",
  });
  assert.equal(
    offset.Meta.EventDateTime,
    "2024-03-15T22:30:00Z",
    "an explicit offset wins over the zone",
  );
  assert.equal(
    parseHl7(jsonToHl7(chicago, { timeZone: "America/Chicago" })).get("MSH-7"),
    "20240315200000-0500",
  );
  assert.equal(
    parseHl7(jsonToHl7(tokyo, { timeZone: "Asia/Tokyo" })).get("MSH-7"),
    "20240316080000+0900",
  );
  assert.equal(parseHl7(jsonToHl7(tokyo, { timeZone: "UTC" })).get("MSH-7"), "20240315230000+0000");
});

Deno.test("the fast time path agrees with the time codec across a DST change", () => {
  // 2024-03-10 02:30 does not exist in Chicago (moved forward); 2024-11-03 01:30 happens twice.
  const read = (t: string) =>
    hl7ToJson(message(msh("ADT^A08^ADT_A01", "M7", { 7: t }), seg("PID", { 3: "1" })), {
      timeZone: "America/Chicago",
    }).Meta.EventDateTime;
  assert.equal(read("202403100130"), "2024-03-10T07:30:00Z");
  assert.equal(read("202403100230"), "2024-03-10T08:30:00Z");
  assert.equal(read("202403100330"), "2024-03-10T08:30:00Z");
  assert.equal(read("202411030130"), "2024-11-03T06:30:00Z");
  assert.equal(read("202411030230"), "2024-11-03T08:30:00Z");
  assert.equal(read("20240310023015.25"), "2024-03-10T08:30:15.25Z");
});

Deno.test("a DOB sent with a time is a date in JSON and comes back as sent", () => {
  const text = message(
    msh("ADT^A08^ADT_A01", "M8"),
    seg("PID", { 1: "1", 3: "1", 7: "198001011230" }),
  );
  const json = hl7ToJson(text, { timeZone: ZONE });
  const d = (json.Patient as Obj).Demographics as Obj;
  assert.equal(d.DOB, "1980-01-01");
  assert.equal(parseHl7(jsonToHl7(json, { timeZone: ZONE })).get("PID-7"), "198001011230");
  d.DOB = "1981-02-03";
  assert.equal(
    parseHl7(jsonToHl7(json, { timeZone: ZONE })).get("PID-7"),
    "19810203",
    "an edit wins",
  );
});

Deno.test("a value that does not fit its type is a warning and stays an extension", () => {
  const text = message(msh("ADT^A08^ADT_A01", "M9"), seg("PID", { 1: "1", 3: "1", 7: "19801345" }));
  const json = hl7ToJson(text, { timeZone: ZONE });
  assert.equal(((json.Patient as Obj).Demographics as Obj | undefined)?.DOB, undefined);
  assert.deepEqual(json.Meta.Errors, [{
    Text:
      'PID-7: "19801345" is not a valid date for Patient.Demographics.DOB; kept as an extension',
    Type: "warning",
    Module: "datamodel",
  }]);
  assert.equal(parseHl7(jsonToHl7(json, { timeZone: ZONE })).get("PID-7"), "19801345");
});

Deno.test("an HL7 null is JSON null, and back", () => {
  const text = message(
    msh("ADT^A08^ADT_A01", "M10"),
    seg("PID", { 1: "1", 3: "1", 8: '""', 19: '""' }),
  );
  const json = hl7ToJson(text, { timeZone: ZONE });
  const d = (json.Patient as Obj).Demographics as Obj;
  assert.equal(d.Sex, null);
  assert.equal(d.SSN, null);
  const back = parseHl7(jsonToHl7(withoutExtensions(json), { timeZone: ZONE }));
  assert.equal(back.isNull("PID-8"), true);
  assert.equal(back.isNull("PID-19"), true);
});

Deno.test("other delimiters and line ends read the same; the writer uses |^~\\&", () => {
  const standard = message(
    msh("ADT^A08^ADT_A01", "M11"),
    seg("EVN", { 1: "A08", 2: "20240315123000-0500" }),
    seg("PID", { 1: "1", 3: "9^^^HOSP", 5: "DOE^JOHN", 11: "1\\S\\2 MAIN^^TOWN" }),
  );
  const odd = [
    "MSH#*@!%#EPIC#HOSP_A#ENGINE#CLINIC_B#20240315123000-0500##ADT*A08*ADT_A01#M11#P#2.5.1",
    "EVN#A08#20240315123000-0500",
    "PID#1##9***HOSP##DOE*JOHN######1^2 MAIN**TOWN",
  ].join("\r\n");
  const a = hl7ToJson(standard, { timeZone: ZONE });
  const b = hl7ToJson(odd, { timeZone: ZONE });
  assert.deepEqual(b, a);
  assert.equal(jsonToHl7(b, { timeZone: ZONE }), standard);
  assert.deepEqual(hl7ToJson(standard.replaceAll("\r", "\n"), { timeZone: ZONE }), a);
});

Deno.test("the writer's MSH options override what the JSON carries", () => {
  const json = hl7ToJson(ADT_A01, { timeZone: ZONE });
  const m = parseHl7(jsonToHl7(json, {
    timeZone: ZONE,
    controlId: "OUT-1",
    sendingApplication: "ENGINE",
    sendingFacility: "HUB",
    receivingApplication: "LAB^X",
    receivingFacility: "SITE",
  }));
  assert.deepEqual(
    [m.get("MSH-3"), m.get("MSH-4"), m.get("MSH-5"), m.get("MSH-6"), m.get("MSH-10")],
    ["ENGINE", "HUB", "LAB^X", "SITE", "OUT-1"],
  );
});

Deno.test("an unmapped message type is a clear error naming what is supported", () => {
  const text = message(msh("ADT^A60^ADT_A60", "M12"), seg("PID", { 3: "1" }));
  assert.equal(identifyHl7(parseHl7(text)), undefined);
  assert.throws(() => hl7ToJson(text), (e: unknown) => {
    assert.ok(e instanceof DataModelError);
    assert.equal(e.code, "unmapped");
    assert.match(e.message, /no data model maps ADT\^A60 \(supported: ADT\^A01, .*ORU\^R01/);
    return true;
  });
  assert.throws(() => hl7ToJson(message(msh("", "M13"))), /MSH-9 \(message type\) is empty/);
});
