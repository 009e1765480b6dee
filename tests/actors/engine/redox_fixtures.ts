/**
 * Payloads in the shapes of Redox's published examples (developer.redoxengine.com/data-models),
 * one per data model and event the README lists, with the nulls, empty arrays, UUID ids and
 * Meta.Source/Destinations a Redox client sends. Each comes with HL7 paths that must carry its
 * values.
 */

const SOURCE = { ID: "7ce6f387-c33c-417d-8682-81e83628cbd9", Name: "Redox Dev Tools" };
const DESTINATION = { ID: "af394f14-b34a-464f-8d24-895f370af4c9", Name: "Redox EMR" };

function meta(model: string, event: string, extra: Record<string, unknown> = {}) {
  return {
    DataModel: model,
    EventType: event,
    EventDateTime: "2024-03-15T17:30:00.000Z",
    Test: true,
    Source: SOURCE,
    Destinations: [DESTINATION],
    Logs: [{ ID: "d9f5d293-7110-461e-a875-3beb089e79f3", AttemptID: "925d1617-2fe0-468c-a14c" }],
    FacilityCode: "RES",
    ...extra,
  };
}

const address = {
  StreetAddress: "4762 Hickory Street",
  City: "Monroe",
  State: "WI",
  ZIP: "53566",
  County: "Green",
  Country: "US",
};

const provider = {
  ID: "4356789876",
  IDType: "NPI",
  FirstName: "Pat",
  LastName: "Granite",
  Credentials: ["MD"],
  Address: address,
  EmailAddresses: [],
  PhoneNumber: { Office: "+16085551234" },
  Location: { Type: null, Facility: null, Department: null, Room: null },
};

const patient = {
  Identifiers: [
    { ID: "0000000001", IDType: "MR" },
    { ID: "e167267c-16c9-4fe3-96ae-9cff5703e90a", IDType: "EHRID" },
  ],
  Demographics: {
    FirstName: "Timothy",
    MiddleName: "Paul",
    LastName: "Bixby",
    DOB: "2008-01-06",
    SSN: "101-01-0001",
    Sex: "Male",
    Race: "White",
    IsHispanic: null,
    Religion: null,
    MaritalStatus: "Single",
    IsDeceased: null,
    DeathDateTime: null,
    PhoneNumber: { Home: "+18088675301", Office: null, Mobile: null },
    EmailAddresses: [],
    Language: "en",
    Citizenship: [],
    Address: address,
  },
  Notes: [],
};

const visit = {
  VisitNumber: "1234",
  AccountNumber: null,
  PatientClass: "Inpatient",
  VisitDateTime: "2024-03-15T16:00:00.000Z",
  AttendingProvider: provider,
  ConsultingProvider: { ...provider, ID: null, FirstName: null, LastName: null },
  ReferringProvider: provider,
  Location: {
    Type: "Inpatient",
    Facility: "RES General Hospital",
    FacilityIdentifiers: [],
    Department: "3N",
    DepartmentIdentifiers: [],
    Room: "136",
    Bed: "B",
  },
};

const adminPatient = {
  ...patient,
  PCP: provider,
  Contacts: [{
    FirstName: "Barbara",
    MiddleName: null,
    LastName: "Bixby",
    Address: address,
    PhoneNumber: { Home: "+18088675303", Office: "+17077543758", Mobile: "+19189368865" },
    RelationToPatient: "Mother",
    EmailAddresses: ["barb.bixby@test.net"],
    Roles: ["Emergency Contact"],
  }],
  Diagnoses: [{
    Code: "Z01.818",
    Codeset: "ICD-10",
    Name: "Other specified pre-op exam",
    Type: null,
    DocumentedDateTime: null,
  }],
  Allergies: [{
    Code: "39579001",
    Codeset: "SNOMED CT",
    Name: "Anaphylactic reaction",
    Type: { Code: null, Codeset: null, Name: null },
    OnsetDateTime: null,
    Reaction: [{ Code: null, Codeset: null, Name: "Hives" }],
    Severity: { Code: "24484000", Codeset: "SNOMED CT", Name: "Severe" },
    Status: null,
  }],
};

const adminVisit = {
  ...visit,
  Reason: "Check up",
  Insurances: [{
    Plan: { ID: "31572", IDType: "Payor ID", Name: "HMO Deductable Plan", Type: null },
    MemberNumber: null,
    Company: {
      ID: "60054",
      IDType: null,
      Name: "aetna (60054 0131)",
      Address: { ...address, StreetAddress: "PO Box 14080", City: "Lexington", State: "KY" },
      PhoneNumber: "+18089541123",
    },
    GroupNumber: "847025-024-0009",
    GroupName: "Accelerator Labs",
    EffectiveDate: "2015-01-01",
    ExpirationDate: "2020-12-31",
    PolicyNumber: "9140860055",
    AgreementType: null,
    CoverageType: null,
    Insured: {
      LastName: "Bixby",
      FirstName: "Kent",
      Relationship: "Father",
      DOB: "1980-01-01",
      Sex: "Male",
      Address: address,
    },
  }],
  Guarantor: {
    Number: "10001910",
    FirstName: "Kent",
    LastName: "Bixby",
    DOB: null,
    Sex: null,
    Spouse: { FirstName: "Barbara", LastName: "Bixby" },
    Address: address,
    PhoneNumber: { Home: null, Business: null },
    Type: null,
    RelationToPatient: "Father",
    Employer: { Name: "Accelerator Labs", Address: address, PhoneNumber: "+18083451121" },
  },
};

/** One fixture: its payload, and HL7 paths with the text they must hold. */
export interface RedoxFixture {
  name: string;
  json: Record<string, unknown>;
  hl7: Record<string, string>;
}

const ADMIN_PATHS = {
  "PID-3.1": "0000000001",
  "PID-5.1": "Bixby",
  "PID-7": "20080106",
  "PID-8": "M",
  "PV1-3.1": "3N",
  "PV1-7.2": "Granite",
  "NK1-2.1": "Bixby",
  "IN1-8": "847025-024-0009",
  "GT1-3.1": "Bixby",
  "AL1-3.2": "Anaphylactic reaction",
  "DG1-3.1": "Z01.818",
};

const admin = (
  event: string,
  trigger: string,
  extra: Record<string, unknown> = {},
): RedoxFixture => ({
  name: `PatientAdmin.${event}${extra.CanceledEvent ? `.${extra.CanceledEvent}` : ""}`,
  json: { Meta: meta("PatientAdmin", event, extra), Patient: adminPatient, Visit: adminVisit },
  hl7: { "MSH-9.2": trigger, "EVN-1": trigger, ...ADMIN_PATHS },
});

const order = (event: string, control: string): RedoxFixture => ({
  name: `Order.${event}`,
  json: {
    Meta: meta("Order", event),
    Patient: { ...patient, PCP: provider, Allergies: adminPatient.Allergies },
    Visit: adminVisit,
    Order: {
      ID: "157968300",
      ApplicationOrderID: null,
      TransactionDateTime: "2024-03-15T17:00:00.000Z",
      CollectionDateTime: "2024-03-15T17:05:00.000Z",
      Specimen: { Source: null, BodySite: null, ID: null },
      Procedure: {
        Code: "49086-2",
        Codeset: "LOINC",
        Description: "First trimester maternal screen",
      },
      Provider: provider,
      OrderingFacility: { Name: "RES General", Address: address, PhoneNumber: "+16085551000" },
      Priority: "Stat",
      Comments: "Fasting",
      Notes: ["Call with results"],
      Diagnoses: [{
        Code: "Z31.41",
        Codeset: "ICD-10",
        Name: "Fertility testing",
        Type: null,
        DocumentedDateTime: null,
      }],
      ClinicalInfo: [{
        Code: "QUESTION001",
        Codeset: null,
        Description: "Estimated Due Date",
        Value: "2024-09-01",
        Units: null,
        Notes: [],
      }],
    },
  },
  hl7: {
    "ORC-1": control,
    "ORC-2": "157968300",
    "OBR-4.1": "49086-2",
    "ORC-7.6": "S",
    "NTE-3": "Call with results",
    "DG1-3.1": "Z31.41",
    "OBX-3.1": "QUESTION001",
  },
});

const scheduling = (event: string, trigger: string): RedoxFixture => ({
  name: `Scheduling.${event}`,
  json: {
    Meta: meta("Scheduling", event),
    Patient: { ...patient, PCP: provider },
    Visit: {
      VisitNumber: "1234",
      AccountNumber: null,
      VisitDateTime: "2024-03-20T15:00:00.000Z",
      Duration: 15,
      DurationUnits: "minutes",
      Reason: "Annual physical",
      Instructions: ["Bring insurance card"],
      Status: null,
      PatientClass: "Outpatient",
      Diagnoses: [],
      VisitProvider: provider,
      AttendingProvider: provider,
      Location: {
        Type: "Clinic",
        Facility: "RES General",
        Department: "Family Medicine",
        Room: "12",
      },
    },
    AppointmentInfo: [{ Code: "RES-4762", Codeset: null, Description: "Language", Value: "EN" }],
  },
  hl7: {
    "MSH-9.2": trigger,
    "SCH-1": "1234",
    "SCH-9": "15",
    "SCH-11.4": "20240320150000.000+0000",
    "NTE-3": "Bring insurance card",
    "AIP-3.1": "4356789876",
    "AIL-3.1": "Family Medicine",
  },
});

/** One fixture per data model and event the README lists. */
export const REDOX_FIXTURES: readonly RedoxFixture[] = [
  admin("Arrival", "A01"),
  admin("Transfer", "A02"),
  admin("Discharge", "A03"),
  admin("Registration", "A04"),
  admin("PreAdmit", "A05"),
  admin("VisitUpdate", "A08"),
  admin("PatientUpdate", "A31"),
  admin("Cancel", "A11", { CanceledEvent: "Arrival" }),
  admin("Cancel", "A12", { CanceledEvent: "Transfer" }),
  admin("Cancel", "A13", { CanceledEvent: "Discharge" }),
  admin("NewPatient", "A28"),
  {
    name: "PatientAdmin.PatientMerge",
    json: {
      Meta: meta("PatientAdmin", "PatientMerge"),
      Patient: {
        ...patient,
        PreviousIdentifiers: [{ ID: "3453", IDType: "MR" }],
      },
    },
    hl7: { "MSH-9.2": "A40", "PID-3.1": "0000000001", "MRG-1.1": "3453", "MRG-1.4": "MR" },
  },
  {
    name: "Results.New",
    json: {
      Meta: meta("Results", "New"),
      Patient: { ...patient, PCP: provider },
      Visit: visit,
      Orders: [{
        ID: "157968300",
        ApplicationOrderID: null,
        TransactionDateTime: null,
        CollectionDateTime: "2024-03-15T17:05:00.000Z",
        CompletionDateTime: "2024-03-15T18:00:00.000Z",
        Notes: [],
        ResultsStatus: "Final",
        Procedure: {
          Code: "49086-2",
          Codeset: "LOINC",
          Description: "First trimester maternal screen",
        },
        Provider: provider,
        ResultCopyProviders: [],
        Status: null,
        ResponseFlag: null,
        Priority: null,
        Results: [{
          Code: "2106-3",
          Codeset: "LOINC",
          Description: "Ethnicity",
          Specimen: { Source: null, BodySite: null, ID: null },
          Value: "White",
          ValueType: "String",
          CompletionDateTime: null,
          FileType: null,
          Units: null,
          Notes: ["Self-reported"],
          AbnormalFlag: null,
          Status: "Final",
          Producer: { ID: "05D0557149", Name: "Warner Laboratory", IDType: "CLIA" },
          Performer: { ...provider, ID: null },
          ReferenceRange: { Low: null, High: null, Text: null },
          ObservedDateTime: "2024-03-15T17:55:00.000Z",
        }],
      }],
    },
    hl7: {
      "MSH-9.2": "R01",
      "OBR-2": "157968300",
      "OBR-25": "F",
      "OBX-3.1": "2106-3",
      "OBX-5": "White",
      "OBX-11": "F",
      "OBX-15.2": "Warner Laboratory",
    },
  },
  scheduling("New", "S12"),
  scheduling("Reschedule", "S13"),
  scheduling("Modification", "S14"),
  scheduling("Cancel", "S15"),
  scheduling("NoShow", "S26"),
  order("New", "NW"),
  order("Update", "XO"),
  order("Cancel", "CA"),
  {
    name: "Notes.New",
    json: {
      Meta: meta("Notes", "New"),
      Patient: patient,
      Visit: { ...visit, PatientClass: "Outpatient" },
      Note: {
        ContentType: "Plain Text",
        FileName: "SamplePDF",
        FileContents: "Patient seen for annual physical.\nNo concerns.",
        Components: [{ ID: "3", Name: "Signature", Value: "Pat Granite, MD", Comments: null }],
        DocumentType: "Consult Note",
        DocumentID: "b169267c-10c9-4fe3-91ae-9ckf5703e90l",
        ServiceDateTime: "2024-03-15T17:00:00.000Z",
        DocumentationDateTime: "2024-03-15T17:20:00.000Z",
        Provider: provider,
        Status: null,
        Availability: "Available",
        Notifications: [],
      },
    },
    hl7: {
      "MSH-9.2": "T02",
      "TXA-2": "Consult Note",
      "TXA-12": "b169267c-10c9-4fe3-91ae-9ckf5703e90l",
      "TXA-19": "AV",
      "OBX-5": "Patient seen for annual physical.",
    },
  },
  {
    name: "Media.New",
    json: {
      Meta: meta("Media", "New"),
      Patient: patient,
      Visit: visit,
      Media: {
        FileType: "PDF",
        FileName: "SamplePDF",
        FileContents: btoa("%PDF-1.4 sample\n"),
        DocumentType: "Empty File",
        DocumentID: "b169267c-10c9-4fe3-91ae-9ckf5703e90l",
        Provider: provider,
        Availability: "Unavailable",
        Notifications: [],
      },
    },
    hl7: {
      "MSH-9.2": "T02",
      "OBX-2": "ED",
      "OBX-5.3": "PDF",
      "OBX-5.5": btoa("%PDF-1.4 sample\n"),
    },
  },
];
