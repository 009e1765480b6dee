/**
 * What Redox's published data models define and this engine does not carry into HL7 v2, with
 * the reason, per data model (the README's data-model section lists the same). Everything else
 * Redox defines for the listed models maps both ways through the tables in models/, or through
 * the few properties handled outside them ({@link MAPPED_ELSEWHERE}).
 *
 * Paths use `[]` after an array and may end in `.*` for everything below.
 *
 * @module
 */

/** Properties mapped outside the tables, per data model (`*`: every model). */
export const MAPPED_ELSEWHERE: Readonly<Record<string, readonly string[]>> = {
  "*": [
    "Meta.DataModel", // MSH-9 with Meta.EventType (events.ts)
    "Meta.EventType",
    "Meta.EventDateTime", // MSH-7, EVN-2
    "Meta.Test", // MSH-11
    "Meta.FacilityCode", // MSH-4
  ],
  PatientAdmin: ["Meta.CanceledEvent"], // A11/A12/A13
  // notes_body.ts: TX OBX lines, or one ED OBX.
  Notes: ["Note.ContentType", "Note.FileContents", "Note.FileType"],
};

/** One documented gap: a path (or `prefix.*`) and why it does not reach HL7. */
export interface NotMapped {
  readonly path: string;
  readonly reason: string;
}

const ENVELOPE = "the routing envelope: the engine reads it to route and answers with it; " +
  "HL7 has no place for it";
const XCN = "an HL7 XCN (provider) holds an ID and a name only; no address, phone, e-mail, " +
  "credentials or location";
const ONE_ID = "the HL7 field holds one identifier, mapped to ID/IDType";
const NOT_IN_TABLE = "no table row yet: the HL7 field is kept in Extensions.HL7v2 when read, " +
  "not filled from JSON";

/** Envelope and provider gaps shared by every model. */
const COMMON: readonly NotMapped[] = [
  { path: "Meta.Source.*", reason: ENVELOPE },
  { path: "Meta.Destinations[].*", reason: ENVELOPE },
  { path: "Meta.Logs[].*", reason: ENVELOPE },
  { path: "Meta.Message.*", reason: ENVELOPE },
  { path: "Meta.Transmission.*", reason: ENVELOPE },
  { path: "Meta.Directional", reason: ENVELOPE },
  { path: "Meta.Extensions.*", reason: ENVELOPE },
  { path: "Patient.Demographics.IsHispanic", reason: "PID-22 carries it as Ethnicity" },
  { path: "Patient.Demographics.Citizenship[]", reason: `PID-26: ${NOT_IN_TABLE}` },
  {
    path: "Patient.Demographics.SexualOrientation",
    reason: "no HL7 v2.5.1 field (v2.9 adds the GSP segment)",
  },
  {
    path: "Patient.Demographics.GenderIdentity",
    reason: "no HL7 v2.5.1 field (v2.9 adds the GSP segment)",
  },
  { path: "Patient.Demographics.Nationality", reason: `PID-28: ${NOT_IN_TABLE}` },
  { path: "Patient.Demographics.Race[]", reason: "PID-10 is mapped as one Race" },
  { path: "Patient.Demographics.Ethnicity[]", reason: "PID-22 is mapped as one Ethnicity" },
  { path: "Patient.PCP.NPI", reason: `PD1-4: ${ONE_ID} (send IDType "NPI")` },
  { path: "Patient.PCP.Credentials[]", reason: XCN },
  { path: "Patient.PCP.Address.*", reason: XCN },
  { path: "Patient.PCP.EmailAddresses[]", reason: XCN },
  { path: "Patient.PCP.PhoneNumber.*", reason: XCN },
  { path: "Patient.PCP.Location.*", reason: XCN },
  { path: "Patient.Contacts[].Roles[]", reason: `NK1-7: ${NOT_IN_TABLE}` },
  { path: "*Provider.NPI", reason: `${ONE_ID} (send IDType "NPI")` },
  { path: "*Provider.Credentials[]", reason: XCN },
  { path: "*Provider.Address.*", reason: XCN },
  { path: "*Provider.EmailAddresses[]", reason: XCN },
  { path: "*Provider.PhoneNumber.*", reason: XCN },
  { path: "*Provider.Location.*", reason: XCN },
  { path: "Visit.Location.FacilityIdentifiers[].*", reason: "PL-4 holds one facility name" },
  { path: "Visit.Location.DepartmentIdentifiers[].*", reason: "PL-1 holds one point of care" },
  { path: "Visit.DischargeStatus.Codeset", reason: "PV1-36 is a bare code" },
  { path: "Visit.DischargeStatus.Description", reason: "PV1-36 is a bare code" },
  { path: "Visit.DischargeLocation.*", reason: `PV1-37: ${NOT_IN_TABLE}` },
  { path: "Visit.Balance", reason: `PV1-46: ${NOT_IN_TABLE}` },
];

/** Patient notes: ORU and ORM carry them (NTE after PID), the other messages do not. */
const PATIENT_NOTES: NotMapped = {
  path: "Patient.Notes[]",
  reason: "ADT, SIU and MDM have no patient NTE in v2.5.1",
};

/** Insurance and guarantor gaps (PatientAdmin and Order carry IN1 and GT1). */
const COVERAGE: readonly NotMapped[] = [
  { path: "Visit.Insurances[].Plan.IDType", reason: "IN1-2 is mapped as ID^Name" },
  { path: "Visit.Insurances[].Company.IDType", reason: ONE_ID },
  { path: "Visit.Insurances[].Priority", reason: `IN1-22: ${NOT_IN_TABLE}` },
  { path: "Visit.Insurances[].AgreementType", reason: `IN1-31: ${NOT_IN_TABLE}` },
  { path: "Visit.Insurances[].CoverageType", reason: `IN1-47: ${NOT_IN_TABLE}` },
  { path: "Visit.Insurances[].Insured.Identifiers[].*", reason: `IN1-49: ${NOT_IN_TABLE}` },
  { path: "Visit.Guarantor.Spouse.*", reason: `GT1-13: ${NOT_IN_TABLE}` },
  { path: "Visit.Guarantor.PhoneNumber.Mobile", reason: "GT1-6 is mapped as one home phone" },
  { path: "Visit.Guarantor.EmailAddresses[]", reason: "GT1-6 is mapped as one home phone" },
];

/** Allergy and diagnosis codes the tables keep to one code set. */
const CODES: readonly NotMapped[] = [
  { path: "Patient.Allergies[].Type.Codeset", reason: "AL1-2 is mapped as Code^Name" },
  { path: "Patient.Allergies[].Severity.Codeset", reason: "AL1-4 is mapped as Code^Name" },
  { path: "Patient.Allergies[].Reaction[].Code", reason: "AL1-5 is free text (ST)" },
  { path: "Patient.Allergies[].Reaction[].Codeset", reason: "AL1-5 is free text (ST)" },
  { path: "Patient.Allergies[].Status", reason: "AL1 has no status (IAM-17 would)" },
];

/** Per data model, the published properties that do not reach HL7, with the reason. */
export const NOT_MAPPED: Readonly<Record<string, readonly NotMapped[]>> = {
  PatientAdmin: [
    ...COMMON,
    PATIENT_NOTES,
    ...COVERAGE,
    ...CODES,
    { path: "Visit.Instructions[]", reason: "ADT has no visit NTE in v2.5.1" },
    { path: "Visit.Duration", reason: "ADT has no duration (SIU's SCH-9 has)" },
  ],
  Results: [
    ...COMMON,
    { path: "Orders[].TransactionDateTime", reason: `ORC-9: ${NOT_IN_TABLE}` },
    { path: "Orders[].Status", reason: "ORC-1 is RE in ORU; the result status is ResultsStatus" },
    { path: "Orders[].Priority", reason: `OBR-27: ${NOT_IN_TABLE}` },
    { path: "Orders[].Specimen.*", reason: `OBR-15 / SPM: ${NOT_IN_TABLE}` },
    { path: "Orders[].ResultCopyProviders[].*", reason: `OBR-28: ${NOT_IN_TABLE}` },
    { path: "Orders[].ResponseFlag", reason: `ORC-6: ${NOT_IN_TABLE}` },
    { path: "Orders[].Results[].Specimen.*", reason: `OBX-4 / SPM: ${NOT_IN_TABLE}` },
    { path: "Orders[].Results[].RelatedGroupID", reason: `OBX-4: ${NOT_IN_TABLE}` },
    { path: "Orders[].Results[].PrimaryResultsInterpreter.*", reason: `OBR-32: ${NOT_IN_TABLE}` },
    { path: "Orders[].Results[].Producer.Address.*", reason: `OBX-24: ${NOT_IN_TABLE}` },
    { path: "Orders[].Results[].Performer.NPI", reason: `OBX-16: ${ONE_ID}` },
    { path: "Orders[].Results[].Performer.Credentials[]", reason: XCN },
    { path: "Orders[].Results[].Performer.Address.*", reason: XCN },
    { path: "Orders[].Results[].Performer.EmailAddresses[]", reason: XCN },
    { path: "Orders[].Results[].Performer.PhoneNumber.*", reason: XCN },
    { path: "Orders[].Results[].Performer.Location.*", reason: XCN },
  ],
  Scheduling: [
    ...COMMON,
    PATIENT_NOTES,
    { path: "Visit.CancelReason", reason: `SCH-6: ${NOT_IN_TABLE}` },
    { path: "Visit.Equipment[].*", reason: `AIG: ${NOT_IN_TABLE}` },
    { path: "Visit.AdditionalStaff[].*", reason: "only the first AIP is mapped (VisitProvider)" },
    { path: "AppointmentInfo[].*", reason: `SIU OBX: ${NOT_IN_TABLE}` },
  ],
  Order: [
    ...COMMON,
    ...COVERAGE,
    ...CODES,
    { path: "Order.ResultsStatus", reason: "an order has no result yet (OBR-25 is ORU's)" },
    { path: "Order.Specimen.BodySite", reason: `OBR-15.4: ${NOT_IN_TABLE}` },
    { path: "Order.Specimen.ID", reason: `SPM-2: ${NOT_IN_TABLE}` },
    { path: "Order.ExpirationDate", reason: `TQ1-8: ${NOT_IN_TABLE}` },
    { path: "Order.ResultCopyProviders[].*", reason: `OBR-28: ${NOT_IN_TABLE}` },
    { path: "Order.ClinicalInfo[].Value[]", reason: "OBX-5 is mapped as one value" },
  ],
  Notes: [
    ...COMMON,
    PATIENT_NOTES,
    {
      path: "Note.DocumentDescription",
      reason: "TXA has no description field (a component's Name is OBX-3.2)",
    },
    { path: "Note.Authenticator.*", reason: `TXA-10/22: ${NOT_IN_TABLE}` },
    { path: "Note.Notifications[].*", reason: `TXA-23: ${NOT_IN_TABLE}` },
    { path: "Note.Components[].Comments", reason: "an OBX line has no comment (NTE follows it)" },
    { path: "Orders[].*", reason: `TXA-14 / ORC: ${NOT_IN_TABLE}` },
  ],
  Media: [
    ...COMMON,
    PATIENT_NOTES,
    { path: "Media.Authenticator.*", reason: `TXA-10/22: ${NOT_IN_TABLE}` },
    { path: "Media.Notifications[].*", reason: `TXA-23: ${NOT_IN_TABLE}` },
    { path: "Media.DirectAddressFrom", reason: "Direct messaging only" },
    { path: "Media.DirectAddressTo", reason: "Direct messaging only" },
    { path: "Orders[].*", reason: `TXA-14 / ORC: ${NOT_IN_TABLE}` },
  ],
};

/** The gap that covers `path` in `model`, if any. */
export function notMapped(model: string, path: string): NotMapped | undefined {
  return (NOT_MAPPED[model] ?? []).find((n) => covers(n.path, path));
}

/** Whether a pattern (`a.b`, `a.*`, `*Provider.NPI`) covers a path. */
function covers(pattern: string, path: string): boolean {
  let p = pattern, q = path;
  if (p.startsWith("*")) {
    p = p.slice(1);
    // `*Provider.NPI` covers `Visit.AttendingProvider.NPI`, `Orders[].Provider.NPI`…
    const tail = p.endsWith(".*") ? p.slice(0, -2) : p;
    const at = q.lastIndexOf(tail.split(".")[0]!);
    if (at < 0) return false;
    q = q.slice(at);
  }
  if (p.endsWith(".*")) {
    const stem = p.slice(0, -2);
    return q === stem || q.startsWith(`${stem}.`) || q.startsWith(`${stem}[]`);
  }
  return p === q;
}
