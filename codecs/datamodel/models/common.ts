/**
 * Mapping pieces shared by the data models: Meta from MSH/EVN, the patient (PID, PD1, NK1),
 * the visit (PV1, PV2), diagnoses, allergies, guarantor, insurances, notes, and the data types
 * they are made of (names, addresses, phones, providers).
 *
 * Field numbers are HL7 v2.5.1's.
 *
 * @module
 */

import {
  type Bucket,
  constant,
  leaf,
  type LeafRule,
  type RepsRule,
  segment,
  type SegmentMap,
  type SegmentView,
  setId,
  under,
  within,
} from "../rules.ts";
import { XTN_NUMBER_PARTS, xtnNumber } from "../structured.ts";
import { codes } from "../values.ts";

// ---- code tables ---------------------------------------------------------------------------

/** HL7 0001 administrative sex. */
export const SEX = codes({ F: "Female", M: "Male", U: "Unknown", O: "Other" });

/** HL7 0004 patient class. */
export const PATIENT_CLASS = codes({
  I: "Inpatient",
  O: "Outpatient",
  E: "Emergency",
  P: "Preadmit",
  R: "Recurring",
  B: "Obstetrics",
});

/** HL7 0002 marital status. */
export const MARITAL_STATUS = codes({
  S: "Single",
  M: "Married",
  D: "Divorced",
  W: "Widowed",
  A: "Separated",
  P: "Domestic Partner",
  U: "Unknown",
});

/** CDC race codes (HL7 0005). */
export const RACE = codes({
  "2106-3": "White",
  "2054-5": "Black or African American",
  "2028-9": "Asian",
  "1002-5": "American Indian or Alaska Native",
  "2076-8": "Native Hawaiian or Other Pacific Islander",
  "2131-1": "Other Race",
});

/** CDC ethnicity codes (HL7 0189), and the older H/N/U. */
export const ETHNICITY = codes({
  "2135-2": "Hispanic or Latino",
  "2186-5": "Not Hispanic or Latino",
  H: "Hispanic or Latino",
  N: "Not Hispanic or Latino",
  U: "Unknown",
});

/** HL7 0063 relationship. */
export const RELATIONSHIP = codes({
  SPO: "Spouse",
  MTH: "Mother",
  FTH: "Father",
  CHD: "Child",
  SIB: "Sibling",
  BRO: "Brother",
  SIS: "Sister",
  PAR: "Parent",
  GRD: "Guardian",
  FND: "Friend",
  SEL: "Self",
  DOM: "Life Partner",
  EMC: "Emergency Contact",
  EXF: "Extended Family",
  OTH: "Other",
  UNK: "Unknown",
});

/** HL7 0136 yes/no. */
export const YES_NO = codes({ Y: true, N: false });

/** MSH-11 processing ID: `T` is a test message. */
export const PROCESSING = codes({ T: true, P: false });

/** HL7 0052 diagnosis type. */
export const DIAGNOSIS_TYPE = codes({ A: "Admitting", W: "Working", F: "Final" });

// ---- data types ----------------------------------------------------------------------------

/** XPN: `LastName`, `FirstName`, `MiddleName` (components 1, 2, 3). */
export function personName(): LeafRule[] {
  return [leaf("LastName", "1"), leaf("FirstName", "2"), leaf("MiddleName", "3")];
}

/** XAD: `StreetAddress`, `City`, `State`, `ZIP`, `Country`, `County`. */
export function address(): LeafRule[] {
  return [
    leaf("StreetAddress", "1"),
    leaf("City", "3"),
    leaf("State", "4"),
    leaf("ZIP", "5"),
    leaf("Country", "6"),
    leaf("County", "9"),
  ];
}

/** XCN: `ID`, `IDType`, `LastName`, `FirstName`, `MiddleName`. */
export function provider(): LeafRule[] {
  return [
    leaf("ID", "1"),
    leaf("IDType", "13"),
    leaf("LastName", "2"),
    leaf("FirstName", "3"),
    leaf("MiddleName", "4"),
  ];
}

/** XCN field `f` into the object at `path`. */
export function providerAt(path: string, f: number): LeafRule[] {
  return within(path, under(f, provider()));
}

/** PL: `Department`, `Room`, `Bed`, `Facility`, `Type`. */
export function location(): LeafRule[] {
  return [
    leaf("Department", "1"),
    leaf("Room", "2"),
    leaf("Bed", "3"),
    leaf("Facility", "4"),
    leaf("Type", "6"),
  ];
}

/** CE/CWE: `Code`, `Description` or another name for component 2, `Codeset`. */
export function coded(name = "Description"): LeafRule[] {
  return [leaf("Code", "1"), leaf(name, "2"), leaf("Codeset", "3")];
}

function isEmail(v: SegmentView): boolean {
  return v.text("2") === "NET" || v.text("3") === "Internet" || v.text("3") === "X.400";
}

/** A number in XTN-1, or else built from XTN-5/6/7/8 (v2.5 senders leave XTN-1 empty). */
const NUMBER = { from: XTN_NUMBER_PARTS, value: xtnNumber };

/** An address in XTN-4 (since v2.3), or else in XTN-1 (older senders). */
const ADDRESS = { from: ["1"], value: (v: SegmentView) => v.text("1") };

/**
 * An XTN field: the first home number to `PhoneNumber.Home`, the first mobile to
 * `PhoneNumber.Mobile`, every e-mail address to `EmailAddresses`. Work numbers and the rest
 * stay extensions. A number is XTN-1, or when that is empty XTN-5/6/7/8 as `+1 (312)555-1212X12`.
 */
export function phones(f: number, prefix = ""): RepsRule {
  const p = prefix === "" ? "" : `${prefix}.`;
  const buckets: Bucket[] = [
    {
      j: `${p}PhoneNumber.Home`,
      match: (v) => {
        const use = v.text("2"), equip = v.text("3");
        return (use === undefined || use === "PRN") && equip !== "CP" && !isEmail(v);
      },
      leaves: [leaf("", "1")],
      fill: { "2": "PRN", "3": "PH" },
      derive: NUMBER,
    },
    {
      j: `${p}PhoneNumber.Mobile`,
      match: (v) => v.text("3") === "CP",
      leaves: [leaf("", "1")],
      fill: { "2": "PRN", "3": "CP" },
      derive: NUMBER,
    },
    {
      j: `${p}EmailAddresses`,
      many: true,
      match: isEmail,
      leaves: [leaf("", "4")],
      fill: { "2": "NET", "3": "Internet" },
      derive: ADDRESS,
    },
  ];
  return { kind: "reps", f, buckets };
}

/**
 * One phone number of an XTN field at `j` (PID-14, NK1-6, GT1-6/7/18, IN1-7, ORC-23): the first
 * repetition that has one, in XTN-1 or else built from XTN-5/6/7/8 as {@link phones} does.
 */
export function onePhone(f: number, j: string): RepsRule {
  return { kind: "reps", f, buckets: [{ j, leaves: [leaf("", "1")], derive: NUMBER }] };
}

/** Identifiers of a CX field as `[{ID, IDType}]` (IDType: the assigning authority). */
export function identifiers(f: number, j: string): RepsRule {
  return {
    kind: "reps",
    f,
    buckets: [{ j, many: true, leaves: [leaf("ID", "1"), leaf("IDType", "4")] }],
  };
}

// ---- segments ------------------------------------------------------------------------------

/** MSH → Meta (MSH-9 is handled by the translator itself). */
export const MSH = segment("MSH", "Meta", [
  leaf("EventDateTime", "7", { t: "datetime" }),
  leaf("FacilityCode", "4"),
  leaf("Test", "11", { t: "boolean", codes: PROCESSING }),
], { required: true });

/** EVN: the trigger again in EVN-1, the recorded time in EVN-2. */
export const EVN = segment("EVN", "Meta", [
  constant("1", (ctx) => ctx.trigger),
  leaf("EventDateTime", "2", { t: "datetime", fallback: true }),
], { required: true });

/** PID → Patient (and the account number to Visit). */
export const PID = segment("PID", "Patient", [
  setId(),
  identifiers(3, "Identifiers"),
  ...within("Demographics", [
    ...under(5, personName()),
    leaf("DOB", "7", { t: "date" }),
    leaf("Sex", "8", { codes: SEX }),
    leaf("Race", "10", { codes: RACE }),
    ...within("Address", under(11, address())),
    leaf("Language", "15"),
    leaf("MaritalStatus", "16", { codes: MARITAL_STATUS }),
    leaf("Religion", "17"),
    leaf("SSN", "19"),
    leaf("Ethnicity", "22", { codes: ETHNICITY }),
    leaf("DeathDateTime", "29", { t: "datetime" }),
    leaf("IsDeceased", "30", { t: "boolean", codes: YES_NO }),
  ]),
  phones(13, "Demographics"),
  onePhone(14, "Demographics.PhoneNumber.Office"),
  leaf("/Visit.AccountNumber", "18"),
], { required: true });

/** PD1 → the primary care provider. */
export const PD1 = segment("PD1", "Patient", providerAt("PCP", 4));

/** NK1 → next of kin and other contacts. */
export function nk1(at: string): SegmentMap {
  return segment("NK1", at, [
    setId(),
    ...under(2, personName()),
    leaf("RelationToPatient", "3", { codes: RELATIONSHIP }),
    ...within("Address", under(4, address())),
    phones(5),
    onePhone(6, "PhoneNumber.Office"),
  ], { many: true });
}

/** PV1 → Visit. */
export const PV1 = segment("PV1", "Visit", [
  setId(),
  leaf("PatientClass", "2", { codes: PATIENT_CLASS }),
  ...within("Location", under(3, location())),
  ...providerAt("AttendingProvider", 7),
  ...providerAt("ReferringProvider", 8),
  ...providerAt("ConsultingProvider", 9),
  ...providerAt("AdmittingProvider", 17),
  leaf("VisitNumber", "19"),
  leaf("DischargeStatus.Code", "36"),
  leaf("VisitDateTime", "44", { t: "datetime" }),
  leaf("DischargeDateTime", "45", { t: "datetime" }),
]);

/** PV2 → the visit reason. */
export const PV2 = segment("PV2", "Visit", [leaf("Reason", "3.2")]);

/** DG1 → diagnoses. */
export function dg1(at: string): SegmentMap {
  return segment("DG1", at, [
    setId(),
    ...under(3, coded("Name")),
    leaf("DocumentedDateTime", "5", { t: "datetime" }),
    leaf("Type", "6", { codes: DIAGNOSIS_TYPE }),
  ], { many: true });
}

/** AL1 → allergies. */
export function al1(at: string): SegmentMap {
  return segment("AL1", at, [
    setId(),
    leaf("Type.Code", "2.1"),
    leaf("Type.Name", "2.2"),
    ...under(3, coded("Name")),
    leaf("Severity.Code", "4.1"),
    leaf("Severity.Name", "4.2"),
    { kind: "reps", f: 5, buckets: [{ j: "Reaction", many: true, leaves: [leaf("Name", "1")] }] },
    leaf("OnsetDateTime", "6", { t: "datetime" }),
  ], { many: true });
}

/** GT1 → the guarantor. */
export function gt1(at: string): SegmentMap {
  return segment("GT1", at, [
    setId(),
    leaf("Number", "2"),
    ...under(3, personName()),
    ...within("Address", under(5, address())),
    onePhone(6, "PhoneNumber.Home"),
    onePhone(7, "PhoneNumber.Business"),
    leaf("DOB", "8", { t: "date" }),
    leaf("Sex", "9", { codes: SEX }),
    leaf("Type", "10"),
    leaf("RelationToPatient", "11", { codes: RELATIONSHIP }),
    leaf("SSN", "12"),
    leaf("Employer.Name", "16"),
    ...within("Employer.Address", under(17, address())),
    onePhone(18, "Employer.PhoneNumber"),
  ]);
}

/** IN1 → insurances. */
export function in1(at: string): SegmentMap {
  return segment("IN1", at, [
    setId(),
    leaf("Plan.ID", "2.1"),
    leaf("Plan.Name", "2.2"),
    leaf("Company.ID", "3"),
    leaf("Company.Name", "4"),
    ...within("Company.Address", under(5, address())),
    onePhone(7, "Company.PhoneNumber"),
    leaf("GroupNumber", "8"),
    leaf("GroupName", "9"),
    leaf("EffectiveDate", "12", { t: "date" }),
    leaf("ExpirationDate", "13", { t: "date" }),
    leaf("Plan.Type", "15"),
    ...within("Insured", under(16, personName())),
    leaf("Insured.Relationship", "17", { codes: RELATIONSHIP }),
    leaf("Insured.DOB", "18", { t: "date" }),
    ...within("Insured.Address", under(19, address())),
    leaf("PolicyNumber", "36"),
    leaf("Insured.Sex", "43", { codes: SEX }),
    leaf("MemberNumber", "49"),
  ], { many: true });
}

/** NTE → a list of note texts at `at`. */
export function nte(at: string): SegmentMap {
  return segment("NTE", at, [setId(), leaf("", "3")], { many: true });
}
