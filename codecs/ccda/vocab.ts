/**
 * C-CDA 2.1 vocabulary the codec needs: document types by templateId, sections by templateId
 * and LOINC code, and code system OIDs with their names.
 *
 * @module
 */

/** Document templates (C-CDA R2.1, `2.16.840.1.113883.10.20.22.1.*`) and their names. */
export const DOCUMENT_TYPES: Readonly<Record<string, string>> = {
  "2.16.840.1.113883.10.20.22.1.2": "CCD",
  "2.16.840.1.113883.10.20.22.1.3": "History and Physical",
  "2.16.840.1.113883.10.20.22.1.4": "Consultation Note",
  "2.16.840.1.113883.10.20.22.1.5": "Diagnostic Imaging Report",
  "2.16.840.1.113883.10.20.22.1.6": "Procedure Note",
  "2.16.840.1.113883.10.20.22.1.7": "Operative Note",
  "2.16.840.1.113883.10.20.22.1.8": "Discharge Summary",
  "2.16.840.1.113883.10.20.22.1.9": "Progress Note",
  "2.16.840.1.113883.10.20.22.1.10": "Unstructured Document",
  "2.16.840.1.113883.10.20.22.1.13": "Transfer Summary",
  "2.16.840.1.113883.10.20.22.1.14": "Referral Note",
  "2.16.840.1.113883.10.20.22.1.15": "Care Plan",
};

/** The US Realm Header template every C-CDA document carries. */
export const US_REALM_HEADER = "2.16.840.1.113883.10.20.22.1.1";

/** The ClinicalSummary section arrays. */
export type SectionKey =
  | "Allergies"
  | "Medications"
  | "Problems"
  | "Results"
  | "VitalSigns"
  | "Immunizations"
  | "Procedures"
  | "Encounters"
  | "PlanOfCare"
  | "SocialHistory";

/** One section: its templateId (entries required variant), LOINC code and title. */
export interface SectionInfo {
  readonly key: SectionKey;
  /** Section templateId root of the "entries required" variant (`…2.6.1`). */
  readonly templateId: string;
  /** The "entries optional" variant's root (`…2.6`), also recognised. */
  readonly optionalTemplateId: string;
  /** LOINC section code. */
  readonly loinc: string;
  /** Title written in a generated document. */
  readonly title: string;
}

const S = "2.16.840.1.113883.10.20.22.2.";

/** Every section the codec reads and writes. */
export const SECTIONS: readonly SectionInfo[] = [
  {
    key: "Allergies",
    templateId: S + "6.1",
    optionalTemplateId: S + "6",
    loinc: "48765-2",
    title: "Allergies and Adverse Reactions",
  },
  {
    key: "Medications",
    templateId: S + "1.1",
    optionalTemplateId: S + "1",
    loinc: "10160-0",
    title: "Medications",
  },
  {
    key: "Problems",
    templateId: S + "5.1",
    optionalTemplateId: S + "5",
    loinc: "11450-4",
    title: "Problems",
  },
  {
    key: "Results",
    templateId: S + "3.1",
    optionalTemplateId: S + "3",
    loinc: "30954-2",
    title: "Results",
  },
  {
    key: "VitalSigns",
    templateId: S + "4.1",
    optionalTemplateId: S + "4",
    loinc: "8716-3",
    title: "Vital Signs",
  },
  {
    key: "Immunizations",
    templateId: S + "2.1",
    optionalTemplateId: S + "2",
    loinc: "11369-6",
    title: "Immunizations",
  },
  {
    key: "Procedures",
    templateId: S + "7.1",
    optionalTemplateId: S + "7",
    loinc: "47519-4",
    title: "Procedures",
  },
  {
    key: "Encounters",
    templateId: S + "22.1",
    optionalTemplateId: S + "22",
    loinc: "46240-8",
    title: "Encounters",
  },
  {
    key: "PlanOfCare",
    templateId: S + "10",
    optionalTemplateId: S + "10",
    loinc: "18776-5",
    title: "Plan of Treatment",
  },
  {
    key: "SocialHistory",
    templateId: S + "17",
    optionalTemplateId: S + "17",
    loinc: "29762-2",
    title: "Social History",
  },
];

/** Code systems by OID, with the names used in the data model. */
export const CODE_SYSTEMS: Readonly<Record<string, string>> = {
  "2.16.840.1.113883.6.1": "LOINC",
  "2.16.840.1.113883.6.96": "SNOMED CT",
  "2.16.840.1.113883.6.88": "RxNorm",
  "2.16.840.1.113883.12.292": "CVX",
  "2.16.840.1.113883.12.227": "MVX",
  "2.16.840.1.113883.6.12": "CPT",
  "2.16.840.1.113883.6.285": "HCPCS",
  "2.16.840.1.113883.6.90": "ICD-10-CM",
  "2.16.840.1.113883.6.4": "ICD-10-PCS",
  "2.16.840.1.113883.6.103": "ICD-9-CM",
  "2.16.840.1.113883.6.104": "ICD-9-CM Procedures",
  "2.16.840.1.113883.6.69": "NDC",
  "2.16.840.1.113883.6.8": "UCUM",
  "2.16.840.1.113883.6.238": "CDC Race and Ethnicity",
  "2.16.840.1.113883.6.101": "NUCC Provider Taxonomy",
  "2.16.840.1.113883.6.259": "HL7 Healthcare Service Location",
  "2.16.840.1.113883.3.26.1.1": "NCI Thesaurus",
  "2.16.840.1.113883.4.1": "SSN",
  "2.16.840.1.113883.4.6": "NPI",
  "2.16.840.1.113883.5.1": "AdministrativeGender",
  "2.16.840.1.113883.5.2": "MaritalStatus",
  "2.16.840.1.113883.5.4": "ActCode",
  "2.16.840.1.113883.5.6": "ActClass",
  "2.16.840.1.113883.5.14": "ActStatus",
  "2.16.840.1.113883.5.25": "Confidentiality",
  "2.16.840.1.113883.5.83": "ObservationInterpretation",
  "2.16.840.1.113883.5.111": "RoleCode",
  "2.16.840.1.113883.5.112": "RouteOfAdministration",
  "2.16.840.1.113883.5.1063": "SeverityObservation",
  "2.16.840.1.113883.6.121": "Language",
  "2.16.840.1.113883.1.11.19563": "PersonalRelationshipRoleType",
};

/** The OID of a code system name (the inverse of {@link CODE_SYSTEMS}). */
export function codeSystemOid(name: string): string | undefined {
  for (const [oid, n] of Object.entries(CODE_SYSTEMS)) if (n === name) return oid;
  return undefined;
}
