/**
 * Realistic HL7 v2 messages for the translator tests, one per data model, built field by
 * field so that field numbers are explicit. Times carry offsets and segments follow the
 * standard order, so that HL7 → JSON → HL7 can be compared byte for byte.
 */

/** A segment from `{fieldNumber: encodedText}` (MSH: field 3 is the first written). */
export function seg(name: string, fields: Record<number, string>): string {
  const max = Math.max(0, ...Object.keys(fields).map(Number));
  const first = name === "MSH" ? 3 : 1;
  const parts: string[] = [];
  for (let f = first; f <= max; f++) parts.push(fields[f] ?? "");
  return [name === "MSH" ? "MSH|^~\\&" : name, ...parts].join("|");
}

/** An MSH with the usual header fields. */
export function msh(msh9: string, controlId: string, extra: Record<number, string> = {}): string {
  return seg("MSH", {
    3: "EPIC",
    4: "HOSP_A",
    5: "ENGINE",
    6: "CLINIC_B",
    7: "20240315123000-0500",
    9: msh9,
    10: controlId,
    11: "P",
    12: "2.5.1",
    ...extra,
  });
}

/** Joins segments with CR. */
export function message(...segments: string[]): string {
  return segments.join("\r");
}

/** The facility zone the fixtures are written in. */
export const ZONE = "America/Chicago";

/** ADT^A01 with most of what the PatientAdmin table maps, plus unmapped parts. */
export const ADT_A01 = message(
  msh("ADT^A01^ADT_A01", "MSG0001", { 15: "AL", 16: "NE", 18: "UNICODE UTF-8" }),
  seg("EVN", { 1: "A01", 2: "20240315122900-0500", 5: "OP123^OPERATOR^OLIVIA" }),
  seg("PID", {
    1: "1",
    3: "100001^^^HOSP^MR~900001^^^SSA^SS",
    5: "O'BRIEN^ZOË^ANNE^JR^^^L",
    7: "19800229",
    8: "F",
    10: "2106-3^White^CDCREC",
    11: "12 RUE DE L'ÉGLISE^APT \\F\\ 3^MADISON^WI^53703^USA^H^^DANE",
    13: "(608)555-1234^PRN^PH~(608)555-9876^PRN^CP~^NET^Internet^zoe@example.org~" +
      "(608)555-1111^WPN^PH",
    14: "(608)555-2222^WPN^PH",
    15: "en^English^ISO639",
    16: "M^Married^HL70002",
    17: "CAT",
    18: "ACCT100001",
    19: "123-45-6789",
    22: "2186-5^Not Hispanic or Latino^CDCREC",
    30: "N",
  }),
  seg("PD1", { 3: "HOSPITAL A^^1234", 4: "4567^PRIMARY^PAT^^^DR^^^^^^^NPI" }),
  seg("ZPI", { 1: "1", 2: "VIP^Very important" }),
  seg("NK1", {
    1: "1",
    2: "O'BRIEN^LIAM",
    3: "SPO^Spouse^HL70063",
    4: "12 RUE DE L'ÉGLISE^^MADISON^WI^53703",
    5: "(608)555-0000^PRN^PH",
  }),
  seg("NK1", {
    1: "2",
    2: "MÜLLER^ANNA",
    3: "MTH^Mother^HL70063",
    5: "(414)555-4444^PRN^PH",
    7: "EP^Emergency Contact",
  }),
  seg("PV1", {
    1: "1",
    2: "I",
    3: "4WEST^412^B^HOSP^^N",
    7: "1234^ATTEND^ALICE^M^^DR^^^^^^^NPI",
    8: "5678^REFER^BOB^^^DR",
    10: "MED",
    14: "ADM",
    17: "9012^ADMIT^ANN",
    19: "VIS100001",
    44: "20240315120000-0500",
  }),
  seg("PV2", { 3: "^Chest pain \\T\\ shortness of breath" }),
  seg("AL1", {
    1: "1",
    2: "DA^Drug allergy",
    3: "70618^Penicillin^RXNORM",
    4: "SV^Severe",
    5: "HIVES~RASH",
    6: "20100101",
  }),
  seg("DG1", {
    1: "1",
    2: "I10",
    3: "R07.9^Chest pain, unspecified^I10",
    5: "20240315121500-0500",
    6: "A",
  }),
  seg("DG1", { 1: "2", 3: "I10.0^Hypertension^I10", 6: "W" }),
  seg("GT1", {
    1: "1",
    2: "G001",
    3: "O'BRIEN^ZOË",
    5: "12 RUE DE L'ÉGLISE^^MADISON^WI^53703",
    6: "(608)555-1234",
    7: "(608)555-2222",
    8: "19800229",
    9: "F",
    10: "P",
    11: "SEL",
    12: "123-45-6789",
  }),
  seg("IN1", {
    1: "1",
    2: "BCBS^Blue Cross",
    3: "123",
    4: "BLUE CROSS BLUE SHIELD",
    5: "PO BOX 1^^CHICAGO^IL^60601",
    7: "(800)555-0101",
    8: "GRP001",
    9: "ACME EMPLOYEES",
    12: "20240101",
    13: "20241231",
    15: "PPO",
    16: "O'BRIEN^ZOË",
    17: "SEL",
    18: "19800229",
    19: "12 RUE DE L'ÉGLISE^^MADISON^WI^53703",
    36: "POL123",
    43: "F",
    49: "M123456",
  }),
  seg("IN2", { 1: "1", 3: "123-45-6789" }),
);

/** ORU^R01: two orders, notes at every level, encapsulated data, an unmapped SPM. */
export const ORU_R01 = message(
  msh("ORU^R01^ORU_R01", "LAB0001"),
  seg("PID", { 1: "1", 3: "500001^^^HOSP^MR", 5: "NGUYEN^MAI", 7: "19751231", 8: "F" }),
  seg("NTE", { 1: "1", 3: "Patient note" }),
  seg("PV1", { 1: "1", 2: "O", 3: "CLINIC^^^HOSP" }),
  seg("ORC", {
    1: "RE",
    2: "ORD1",
    3: "FIL1",
    5: "CM",
    9: "20240315100000-0500",
    12: "1234^ORDER^OSCAR",
  }),
  seg("OBR", {
    1: "1",
    2: "ORD1",
    3: "FIL1",
    4: "58410-2^CBC panel^LN",
    7: "20240315090000-0500",
    16: "1234^ORDER^OSCAR",
    22: "20240315113000-0500",
    25: "F",
  }),
  seg("NTE", { 1: "1", 3: "Order note" }),
  seg("OBX", {
    1: "1",
    2: "NM",
    3: "718-7^Hemoglobin^LN",
    5: "13.2",
    6: "g/dL",
    7: "12.0-17.5",
    8: "N",
    11: "F",
    14: "20240315110000-0500",
  }),
  seg("NTE", { 1: "1", 3: "Result note with \\T\\ ampersand" }),
  seg("OBX", { 1: "2", 2: "ST", 3: "5778-6^Color^LN", 5: "Yellow", 11: "F" }),
  seg("OBX", {
    1: "3",
    2: "ED",
    3: "PDF^Report^L",
    5: "^AP^PDF^Base64^SGVsbG8gV29ybGQ=",
    11: "F",
  }),
  seg("SPM", { 1: "1", 2: "S1", 4: "BLD^Blood" }),
  seg("ORC", { 1: "RE", 2: "ORD2", 3: "FIL2", 5: "CM" }),
  seg("OBR", {
    1: "2",
    2: "ORD2",
    3: "FIL2",
    4: "24323-8^CMP^LN",
    7: "20240315090000-0500",
    25: "P",
  }),
  seg("OBX", {
    1: "1",
    2: "NM",
    3: "2345-7^Glucose^LN",
    5: "250",
    6: "mg/dL",
    7: "70-99",
    8: "HH",
    11: "P",
  }),
);

/** SIU^S12 with the appointment, the patient, and the first resources. */
export const SIU_S12 = message(
  msh("SIU^S12^SIU_S12", "SCH0001"),
  seg("SCH", {
    1: "APT1",
    2: "FIL1",
    7: "^Checkup",
    8: "ROUTINE",
    9: "30",
    10: "MIN",
    11: "^^30^20240320093000-0500^20240320100000-0500",
    25: "Booked",
  }),
  seg("NTE", { 1: "1", 3: "Bring insurance card" }),
  seg("PID", { 1: "1", 3: "100001^^^HOSP^MR", 5: "DOE^JANE", 7: "19800101", 8: "F" }),
  seg("PV1", { 1: "1", 2: "O", 3: "CLINIC^101^^HOSP", 19: "APT1" }),
  seg("RGS", { 1: "1" }),
  seg("AIS", { 1: "1", 3: "99213^Office visit^CPT", 4: "20240320093000-0500", 7: "30", 8: "MIN" }),
  seg("AIL", { 1: "1", 3: "CLINIC^101^^HOSP" }),
  seg("AIP", { 1: "1", 3: "1234^DOC^DANA" }),
);

/** ORM^O01 new order with coverage, notes, a diagnosis and clinical information. */
export const ORM_O01 = message(
  msh("ORM^O01^ORM_O01", "ORD0001"),
  seg("PID", { 1: "1", 3: "100001^^^HOSP^MR", 5: "DOE^JANE", 7: "19800101", 8: "F" }),
  seg("PV1", { 1: "1", 2: "O", 19: "VIS9" }),
  seg("IN1", { 1: "1", 2: "BCBS^Blue Cross", 3: "123" }),
  seg("ORC", {
    1: "NW",
    2: "ORD9",
    5: "SC",
    7: "^^^^^S",
    9: "20240315100000-0500",
    12: "1234^ORDER^OSCAR",
  }),
  seg("OBR", {
    1: "1",
    2: "ORD9",
    4: "80053^CMP^CPT",
    7: "20240315093000-0500",
    13: "Fasting",
    16: "1234^ORDER^OSCAR",
  }),
  seg("NTE", { 1: "1", 3: "Order note" }),
  seg("DG1", { 1: "1", 3: "R73.9^Hyperglycemia^I10" }),
  seg("OBX", { 1: "1", 2: "ST", 3: "Q1^Fasting?^LOCAL", 5: "Yes" }),
);

/** MDM^T02 with text lines: a Notes message. */
export const MDM_NOTES = message(
  msh("MDM^T02^MDM_T02", "DOC0001"),
  seg("EVN", { 1: "T02", 2: "20240315123000-0500" }),
  seg("PID", { 1: "1", 3: "100001^^^HOSP^MR", 5: "DOE^JANE" }),
  seg("PV1", { 1: "1", 2: "O" }),
  seg("TXA", {
    1: "1",
    2: "CN",
    3: "TX",
    4: "20240315120000-0500",
    5: "1234^DOC^DANA",
    6: "20240315121000-0500",
    12: "DOC123",
    16: "note.txt",
    17: "AU",
    19: "AV",
  }),
  seg("OBX", { 1: "1", 2: "TX", 3: "NOTE^Note^L", 5: "Line one" }),
  seg("OBX", { 1: "2", 2: "TX", 3: "NOTE^Note^L", 5: "Line two \\F\\ with bar" }),
);

/** MDM^T02 with an encapsulated PDF: a Media message. */
export const MDM_MEDIA = message(
  msh("MDM^T02^MDM_T02", "DOC0002"),
  seg("EVN", { 1: "T02", 2: "20240315123000-0500" }),
  seg("PID", { 1: "1", 3: "100001^^^HOSP^MR", 5: "DOE^JANE" }),
  seg("TXA", { 1: "1", 2: "DS", 12: "DOC124", 16: "discharge.pdf", 17: "LA" }),
  seg("OBX", { 1: "1", 2: "ED", 3: "PDF^Discharge summary", 5: "^AP^PDF^Base64^JVBERi0xLjQK" }),
);

/** ADT^A40: a merge. */
export const ADT_A40 = message(
  msh("ADT^A40^ADT_A39", "MRG0001"),
  seg("EVN", { 1: "A40", 2: "20240315123000-0500" }),
  seg("PID", { 1: "1", 3: "100001^^^HOSP^MR", 5: "DOE^JANE" }),
  seg("MRG", { 1: "200002^^^HOSP^MR~300003^^^HOSP^EPI" }),
);

/** Every fixture, by name. */
export const FIXTURES: Readonly<Record<string, string>> = {
  ADT_A01,
  ORU_R01,
  SIU_S12,
  ORM_O01,
  MDM_NOTES,
  MDM_MEDIA,
  ADT_A40,
};
