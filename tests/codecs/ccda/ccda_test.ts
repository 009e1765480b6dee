import assert from "node:assert/strict";
import {
  ccdaDocumentType,
  CcdaError,
  parseCcda,
  readCcda,
  writeCcd,
} from "../../../codecs/ccda/mod.ts";
import { CCD, documentOf } from "./fixtures.ts";

Deno.test("ccda: the sample CCD reads into a ClinicalSummary with named code systems and ISO times", () => {
  const s = parseCcda(CCD);
  assert.equal(s.Meta.DocumentType, "CCD");
  assert.equal(s.Meta.CreationDateTime, "2013-08-15T13:30:05Z");
  assert.deepEqual(s.Patient.Identifiers, [
    { ID: "998991", IDType: "2.16.840.1.113883.19.5.99999.2" },
    { ID: "111-00-2330", IDType: "SSN" },
  ]);
  const d = s.Patient.Demographics;
  assert.deepEqual([d.FirstName, d.MiddleName, d.LastName, d.DOB, d.Sex], [
    "Eve",
    "Marie",
    "Everywoman",
    "1975-05-01",
    "Female",
  ]);
  assert.equal(d.Address?.City, "Beaverton");
  assert.equal(s.Header.Author?.Identifiers?.[0]?.IDType, "NPI");
  assert.equal(s.Header.Author?.LastName, "Primary");
  assert.equal(s.Header.Custodian?.Organization, "Community Health and Hospitals");
  assert.deepEqual(s.Header.Encounter?.StartDate, "2013-08-15T13:00:00Z");
  assert.equal(s.Header.Encounter?.Location, "Good Health Clinic");

  const allergy = s.Allergies[0]!;
  assert.equal(allergy.Product?.CodeSystemName, "RxNorm");
  assert.equal(allergy.Product?.Name, "Penicillin G benzathine");
  assert.equal(allergy.Status, "active");
  assert.deepEqual(allergy.Reactions?.map((r) => r.Name), ["Hives"]);
  assert.equal(allergy.Severity?.Name, "Moderate");

  const med = s.Medications[0]!;
  assert.deepEqual([med.StartDate, med.EndDate], ["2011-03-01", "2012-03-01"]);
  assert.deepEqual(med.Dose, { Value: "1", Unit: "mg/actuat" });
  assert.deepEqual(med.Frequency, { Value: "12", Unit: "h" });
  assert.equal(med.Route?.CodeSystemName, "NCI Thesaurus");

  assert.equal(s.Problems[0]!.Code?.Name, "Asthma");
  assert.equal(s.Problems[0]!.Code?.CodeSystemName, "SNOMED CT");

  const panel = s.Results[0]!;
  assert.equal(panel.Code?.Code, "57021-8");
  assert.equal(panel.StartDate, "2008-03-19T16:30Z");
  assert.deepEqual(panel.Observations?.map((o) => [o.Code?.Code, o.Value?.Value, o.Value?.Unit]), [
    ["718-7", "13.2", "g/dL"],
    ["26464-8", "6.7", "10+3/uL"],
  ]);
  assert.equal(panel.Observations?.[0]?.ReferenceRange, "12.0-15.5 g/dL");
  assert.equal(panel.Observations?.[1]?.ReferenceRange, "4.3-10.8 10+3/uL");
  assert.equal(s.VitalSigns[0]!.Observations?.[1]?.Value?.Unit, "mm[Hg]");
  assert.equal(s.Immunizations[0]!.Product?.CodeSystemName, "CVX");
  assert.equal(s.Procedures[0]!.Code?.Name, "Colonoscopy");
  assert.equal(s.Encounters[0]!.DateTime, "2013-08-15T13:00Z");
  assert.equal(s.PlanOfCare[0]!.Mood, "RQO");
  assert.equal(s.SocialHistory[0]!.Value?.Code?.Name, "Former smoker");
});

Deno.test("ccda: times without an offset are read in the configured zone", () => {
  const xml = CCD.replace(
    '<effectiveTime value="20130815083005-0500"/>',
    '<effectiveTime value="20130815083005"/>',
  );
  assert.equal(parseCcda(xml).Meta.CreationDateTime, "2013-08-15T08:30:05Z");
  assert.equal(
    parseCcda(xml, { timeZone: "America/Chicago" }).Meta.CreationDateTime,
    "2013-08-15T13:30:05Z",
  );
  const bad = readCcda(
    CCD.replace('<birthTime value="19750501"/>', '<birthTime value="19751301"/>'),
  );
  assert.equal(bad.summary.Patient.Demographics.DOB, undefined);
  assert.match(bad.warnings[0]!, /birthTime/);
});

Deno.test("ccda: document type by templateId", () => {
  const T = "2.16.840.1.113883.10.20.22.1.";
  const cases: [string, string][] = [
    ["2", "CCD"],
    ["8", "Discharge Summary"],
    ["14", "Referral Note"],
    ["9", "Progress Note"],
    ["4", "Consultation Note"],
    ["3", "History and Physical"],
    ["13", "Transfer Summary"],
  ];
  for (const [suffix, name] of cases) {
    const xml = documentOf(T + suffix, name);
    assert.equal(ccdaDocumentType(xml), name);
    assert.equal(parseCcda(xml).Meta.DocumentType, name);
  }
});

Deno.test("ccda: a summary written as a CCD reads back the same", () => {
  for (const xml of [CCD, documentOf("2.16.840.1.113883.10.20.22.1.8", "Discharge")]) {
    const s = parseCcda(xml);
    const ccd = writeCcd(s);
    const back = parseCcda(ccd);
    assert.equal(back.Meta.DocumentType, "CCD");
    const { Meta: _a, ...rest } = s;
    const { Meta: _b, ...backRest } = back;
    assert.deepEqual(backRest, rest);
    assert.equal(back.Meta.CreationDateTime, s.Meta.CreationDateTime);
    assert.deepEqual(back.Meta.DocumentId, s.Meta.DocumentId);
  }
  // An empty summary still gives a CCD with every section (nullFlavor NI) that reads back empty.
  const empty = parseCcda(writeCcd({
    ...parseCcda(CCD),
    Allergies: [],
    Medications: [],
    Problems: [],
    Results: [],
    VitalSigns: [],
    Immunizations: [],
    Procedures: [],
    Encounters: [],
    PlanOfCare: [],
    SocialHistory: [],
  }));
  assert.equal(empty.Allergies.length + empty.Results.length, 0);
});

Deno.test("ccda: XXE, billion laughs and deep nesting are refused within 100 ms", () => {
  const xxe =
    `<?xml version="1.0"?><!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` +
    `<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&xxe;</title></ClinicalDocument>`;
  const lol = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
    Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ""};`.repeat(10)}">`)
      .join("") +
    `]><ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>`;
  const deep = `<ClinicalDocument xmlns="urn:hl7-org:v3">${"<a>".repeat(100_000)}${
    "</a>".repeat(100_000)
  }</ClinicalDocument>`;
  for (
    const [input, code] of [[xxe, "DTD_REFUSED"], [lol, "DTD_REFUSED"], [deep, "TOO_DEEP"]] as const
  ) {
    const t0 = performance.now();
    assert.throws(
      () => parseCcda(input),
      (e: unknown) => e instanceof CcdaError && e.code === code,
    );
    // The issue's bound: refusal must not depend on what the entities would expand to.
    // (Microseconds here; 1 s leaves a loaded machine its pauses, and an expansion takes far more.)
    assert.ok(performance.now() - t0 < 1_000, `${code} took ${performance.now() - t0} ms`);
  }
});

Deno.test("ccda: other refusals are typed", () => {
  const cases: [string, string][] = [
    ["", "EMPTY"],
    ["<ClinicalDocument xmlns='urn:hl7-org:v3'><title>x</ClinicalDocument>", "NOT_XML"],
    ["<Bundle xmlns='http://hl7.org/fhir'/>", "NOT_CDA"],
    ["<ClinicalDocument xmlns='urn:other'/>", "NOT_CDA"],
  ];
  for (const [input, code] of cases) {
    assert.throws(
      () => parseCcda(input),
      (e: unknown) => e instanceof CcdaError && e.code === code,
      code,
    );
  }
  assert.throws(
    () => parseCcda(CCD, { maxLength: 100 }),
    (e: unknown) => e instanceof CcdaError && e.code === "TOO_LARGE",
  );
});

Deno.test("ccda: comments, CDATA and quoted '>' are not markup: no false TOO_DEEP or DTD_REFUSED", () => {
  const inTitle = (extra: string) => CCD.replace("</title>", `</title>${extra}`);
  const legal = [
    // A commented-out fragment of HTML: 300 unclosed <br> inside one comment.
    inTitle(`<!-- ${"<br>".repeat(300)} -->`),
    // The same inside a CDATA section of a narrative.
    inTitle(`<text><![CDATA[${"<br>".repeat(300)}]]></text>`),
    // 300 empty elements whose attribute value holds a '>' (legal XML).
    inTitle(`<x a="1>2"/>`.repeat(300)),
    // A comment that merely mentions a DTD.
    inTitle(`<!-- never add a <!DOCTYPE here -->`),
  ];
  for (const xml of legal) assert.equal(parseCcda(xml).Meta.DocumentType, "CCD");
});

Deno.test("ccda: a DTD after an unclosed comment, CDATA or quote is refused before parsing", () => {
  const dtd = `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>`;
  const cases: [string, string][] = [
    [`<?xml version="1.0"?><!-- ${dtd}<ClinicalDocument xmlns="urn:hl7-org:v3"/>`, "NOT_XML"],
    [`<ClinicalDocument xmlns="urn:hl7-org:v3"><![CDATA[${dtd}</ClinicalDocument>`, "NOT_XML"],
    [`<ClinicalDocument xmlns="urn:hl7-org:v3" a='${dtd}<title/></ClinicalDocument>`, "NOT_XML"],
    [`<ClinicalDocument xmlns="urn:hl7-org:v3" a='<!--'>${dtd}</ClinicalDocument>`, "DTD_REFUSED"],
  ];
  for (const [xml, code] of cases) {
    assert.throws(
      () => parseCcda(xml),
      (e: unknown) => e instanceof CcdaError && e.code === code,
      xml,
    );
  }
});

Deno.test("ccda: a time that is not a valid TS is named in Meta.Errors, not dropped silently", () => {
  const xml = CCD.replace(/<birthTime value="[^"]*"/, '<birthTime value="19800230"');
  const s = parseCcda(xml);
  assert.equal(s.Patient.Demographics.DOB, undefined);
  assert.deepEqual(s.Meta.Errors, [{
    Text: 'birthTime: Invalid HL7 date/time "19800230": day 30 does not exist in February',
    Type: "warning",
    Module: "ccda",
  }]);
  // A document without such values has no Meta.Errors at all.
  assert.equal("Errors" in parseCcda(CCD).Meta, false);
});
