/**
 * The `ClinicalSummary` data model: a C-CDA document as JSON (Meta, Header, Patient, and one
 * array per section), with codes carrying their code system OID and name, and times in ISO 8601.
 *
 * @module
 */

/** A coded value: `Code` in `CodeSystem` (OID), with the system's name and the display name. */
export interface Code {
  Code?: string;
  CodeSystem?: string;
  CodeSystemName?: string;
  Name?: string;
}

/** A measured or coded observation value. */
export interface Value {
  /** The number or text (`PQ`, `ST`, `INT`...). */
  Value?: string;
  /** UCUM unit of a physical quantity. */
  Unit?: string;
  /** A coded value (`CD`/`CE`). */
  Code?: Code;
  /** The xsi:type the document gave. */
  Type?: string;
}

/** An identifier: `ID` within the assigning authority `IDType` (OID root, or its name). */
export interface Identifier {
  ID: string;
  IDType: string;
}

/** A postal address. */
export interface Address {
  StreetAddress?: string;
  City?: string;
  State?: string;
  ZIP?: string;
  Country?: string;
}

/** A person or organization acting in the document. */
export interface Party {
  Identifiers?: Identifier[];
  FirstName?: string;
  LastName?: string;
  Organization?: string;
  Address?: Address;
  PhoneNumber?: string;
  /** When the party acted (author time), ISO 8601. */
  DateTime?: string;
}

/** One observation of a results panel or vital signs set. */
export interface Observation {
  Code?: Code;
  Value?: Value;
  Status?: string;
  DateTime?: string;
  Interpretation?: Code;
  ReferenceRange?: string;
}

/** One entry of a section; which fields are set depends on the section. */
export interface ClinicalEntry {
  /** Entry identifiers. */
  Identifiers?: Identifier[];
  /** What the entry is (problem, procedure, panel, encounter type, social history item...). */
  Code?: Code;
  /** Status: the act's statusCode, or the clinical status observation where the template has one. */
  Status?: string;
  /** Point in time, ISO 8601. */
  DateTime?: string;
  /** Start of the effective interval, ISO 8601. */
  StartDate?: string;
  /** End of the effective interval, ISO 8601. */
  EndDate?: string;
  /** The observation value (problem code, social history value...). */
  Value?: Value;
  /** Medication, vaccine or allergen. */
  Product?: Code;
  /** Dose (value and unit). */
  Dose?: Value;
  /** Route of administration. */
  Route?: Code;
  /** Frequency: every `Value` `Unit` (PIVL_TS period). */
  Frequency?: Value;
  /** Allergy reactions. */
  Reactions?: Code[];
  /** Allergy severity. */
  Severity?: Code;
  /** Panel components / vital signs. */
  Observations?: Observation[];
  /** Intent (`EVN` done, `INT` intended, `RQO` requested...), from moodCode. */
  Mood?: string;
  /** Free-text name where no code is given. */
  Text?: string;
}

/** The whole document as JSON. */
export interface ClinicalSummary {
  Meta: {
    DataModel: "Clinical Summary";
    /** Document type name (`CCD`, `Discharge Summary`...), from the document templateId. */
    DocumentType: string;
    /** Every document-level templateId root. */
    TemplateIds: string[];
    DocumentId?: Identifier;
    Title?: string;
    /** LOINC document type code. */
    Code?: Code;
    /** Creation time, ISO 8601. */
    CreationDateTime?: string;
    Confidentiality?: string;
    Language?: string;
    /**
     * Values that could not be read (a time that is not a valid HL7 TS, such as
     * `birthTime` `19800230`), left out of the summary; present only when there are some, as the
     * data model's `Meta.Errors`.
     */
    Errors?: { Text: string; Type: "warning"; Module: "ccda" }[];
  };
  Header: {
    Author?: Party;
    Custodian?: Party;
    Encounter?: {
      Identifiers?: Identifier[];
      Type?: Code;
      StartDate?: string;
      EndDate?: string;
      Location?: string;
    };
  };
  Patient: {
    Identifiers: Identifier[];
    Demographics: {
      FirstName?: string;
      MiddleName?: string;
      LastName?: string;
      DOB?: string;
      Sex?: string;
      Address?: Address;
      PhoneNumber?: string;
      Race?: Code;
      Ethnicity?: Code;
      Language?: string;
      MaritalStatus?: Code;
    };
  };
  Allergies: ClinicalEntry[];
  Medications: ClinicalEntry[];
  Problems: ClinicalEntry[];
  Results: ClinicalEntry[];
  VitalSigns: ClinicalEntry[];
  Immunizations: ClinicalEntry[];
  Procedures: ClinicalEntry[];
  Encounters: ClinicalEntry[];
  PlanOfCare: ClinicalEntry[];
  SocialHistory: ClinicalEntry[];
}
