/**
 * The word lists the synthetic registry draws from: names from many origins, places, providers,
 * units, tests, diagnoses and documents. Every person is made up; phone numbers use the 555-01xx
 * range reserved for fiction and social security numbers start with 9 (never issued).
 *
 * @module
 */

/** Given names, by administrative sex. */
export const FIRST_NAMES: Readonly<Record<"Female" | "Male", readonly string[]>> = {
  Female: [
    "Amara",
    "Beatriz",
    "Chloé",
    "Dana",
    "Elena",
    "Fatima",
    "Grace",
    "Hana",
    "Ingrid",
    "Jasmine",
    "Keiko",
    "Laila",
    "Maria",
    "Nadia",
    "Olivia",
    "Priya",
    "Quinn",
    "Rosa",
    "Siobhan",
    "Tamar",
    "Uma",
    "Valentina",
    "Wen",
    "Ximena",
    "Yasmin",
    "Zoë",
    "Aisha",
    "Bridget",
    "Camila",
    "Deborah",
    "Eun-ji",
    "Francesca",
    "Gabriela",
    "Helga",
    "Imani",
    "Joanna",
    "Kateryna",
    "Lucía",
    "Mei",
    "Noor",
    "Oksana",
    "Paulina",
    "Renée",
    "Sakura",
    "Thandiwe",
    "Ursula",
    "Vivian",
    "Willow",
  ],
  Male: [
    "Aarav",
    "Bruno",
    "Carlos",
    "Dmitri",
    "Emeka",
    "François",
    "Gustavo",
    "Hiroshi",
    "Ibrahim",
    "James",
    "Kwame",
    "Liam",
    "Mateo",
    "Nikolai",
    "Omar",
    "Pedro",
    "Rafael",
    "Samuel",
    "Tomás",
    "Umar",
    "Viktor",
    "William",
    "Xavier",
    "Yusuf",
    "Zhang",
    "Andrei",
    "Benjamin",
    "Chidi",
    "Diego",
    "Elias",
    "Felix",
    "Giorgos",
    "Hamza",
    "Isaac",
    "Jörg",
    "Kenji",
    "Luca",
    "Malik",
    "Noah",
    "Oscar",
    "Pablo",
    "Rohan",
    "Santiago",
    "Theo",
    "Vikram",
    "Wei",
    "Yosef",
    "Zoltan",
  ],
};

/** Family names. */
export const LAST_NAMES: readonly string[] = [
  "Abernathy",
  "Adeyemi",
  "Alvarez",
  "Andersson",
  "Bixby",
  "Bianchi",
  "Brennan",
  "Castillo",
  "Chen",
  "Chowdhury",
  "Dąbrowski",
  "Delacroix",
  "Dubois",
  "Eriksen",
  "Fernández",
  "Fitzgerald",
  "Garcia",
  "Gonzalez",
  "Haddad",
  "Hernández",
  "Ivanova",
  "Jablonski",
  "Johansson",
  "Kim",
  "Kowalski",
  "Kuznetsov",
  "Lambert",
  "Lee",
  "Lindqvist",
  "Martinez",
  "McAllister",
  "Müller",
  "Nakamura",
  "Nguyen",
  "Novak",
  "O'Brien",
  "Okafor",
  "Olsen",
  "Papadopoulos",
  "Patel",
  "Petrov",
  "Quintero",
  "Ramirez",
  "Rossi",
  "Santos",
  "Schmidt",
  "Singh",
  "Smith-Jones",
  "Sørensen",
  "Tanaka",
  "Thompson",
  "Van der Berg",
  "Vasquez",
  "Wang",
  "Washington",
  "Yamamoto",
  "Zielinski",
  "Zhou",
];

/** Middle initials or names (empty: none). */
export const MIDDLE_NAMES: readonly string[] = [
  "",
  "",
  "",
  "A",
  "B",
  "C",
  "E",
  "J",
  "L",
  "M",
  "R",
  "S",
  "T",
  "Anne",
  "Lee",
  "Marie",
  "Ray",
];

/** Street names and kinds. */
export const STREETS: readonly string[] = [
  "Maple Ave",
  "Oak St",
  "Pine Rd",
  "Cedar Ln",
  "Elm St",
  "Birch Way",
  "Willow Dr",
  "Lakeview Blvd",
  "Hillcrest Rd",
  "River Rd",
  "Sunset Ave",
  "Park Pl",
  "Meadow Ln",
  "Harbor St",
  "Prairie Ave",
  "Orchard Ct",
  "Mill St",
  "Church St",
  "Spring St",
  "Highland Ave",
];

/** A town with its state, ZIP prefix, county and area code. */
export interface Town {
  readonly city: string;
  readonly state: string;
  readonly zip: string;
  readonly county: string;
  readonly area: string;
}

/** Towns (real places, made-up addresses). */
export const TOWNS: readonly Town[] = [
  { city: "Madison", state: "WI", zip: "537", county: "Dane", area: "608" },
  { city: "Verona", state: "WI", zip: "535", county: "Dane", area: "608" },
  { city: "Milwaukee", state: "WI", zip: "532", county: "Milwaukee", area: "414" },
  { city: "Rockford", state: "IL", zip: "611", county: "Winnebago", area: "815" },
  { city: "Dubuque", state: "IA", zip: "520", county: "Dubuque", area: "563" },
  { city: "Duluth", state: "MN", zip: "558", county: "Saint Louis", area: "218" },
  { city: "Green Bay", state: "WI", zip: "543", county: "Brown", area: "920" },
  { city: "Evanston", state: "IL", zip: "602", county: "Cook", area: "847" },
  { city: "Ann Arbor", state: "MI", zip: "481", county: "Washtenaw", area: "734" },
  { city: "Des Moines", state: "IA", zip: "503", county: "Polk", area: "515" },
];

/** ISO 639 languages with their share (repeats weight the draw). */
export const LANGUAGES: readonly string[] = [
  "en",
  "en",
  "en",
  "en",
  "en",
  "en",
  "es",
  "es",
  "zh",
  "vi",
  "ar",
  "pl",
  "hmn",
  "fr",
  "ru",
];

/** HL7 0002 marital statuses, as the data model names them. */
export const MARITAL: readonly string[] = [
  "Single",
  "Married",
  "Married",
  "Divorced",
  "Widowed",
  "Separated",
  "Domestic Partner",
];

/** CDC race names, as the data model names them. */
export const RACES: readonly string[] = [
  "White",
  "White",
  "Black or African American",
  "Asian",
  "American Indian or Alaska Native",
  "Native Hawaiian or Other Pacific Islander",
  "Other Race",
];

/** CDC ethnicity names. */
export const ETHNICITIES: readonly string[] = [
  "Not Hispanic or Latino",
  "Not Hispanic or Latino",
  "Hispanic or Latino",
];

/** Religion codes (HL7 0006), often empty. */
export const RELIGIONS: readonly string[] = ["", "", "CAT", "CHR", "JEW", "MOS", "BUD", "NOE"];

/** A clinician. */
export interface Clinician {
  readonly id: string;
  readonly lastName: string;
  readonly firstName: string;
}

/** Clinicians (made-up NPIs starting with 99). */
export const CLINICIANS: readonly Clinician[] = [
  { id: "9900000011", lastName: "Welby", firstName: "Marcus" },
  { id: "9900000029", lastName: "Quinn", firstName: "Michaela" },
  { id: "9900000037", lastName: "Okonkwo", firstName: "Adaeze" },
  { id: "9900000045", lastName: "Haverford", firstName: "Julian" },
  { id: "9900000052", lastName: "Ramanathan", firstName: "Lakshmi" },
  { id: "9900000060", lastName: "Kildare", firstName: "James" },
  { id: "9900000078", lastName: "Yilmaz", firstName: "Elif" },
  { id: "9900000086", lastName: "Castellanos", firstName: "Inés" },
  { id: "9900000094", lastName: "Bergström", firstName: "Nils" },
  { id: "9900000102", lastName: "Mensah", firstName: "Kofi" },
];

/** An inpatient or outpatient unit. */
export interface Unit {
  readonly department: string;
  readonly facility: string;
  readonly rooms: number;
  readonly beds: readonly string[];
  readonly patientClass: "Inpatient" | "Outpatient" | "Emergency";
}

/** Units of the simulated hospital. */
export const UNITS: readonly Unit[] = [
  { department: "ED", facility: "SIMHOSP", rooms: 30, beds: ["A"], patientClass: "Emergency" },
  {
    department: "3N MED",
    facility: "SIMHOSP",
    rooms: 24,
    beds: ["A", "B"],
    patientClass: "Inpatient",
  },
  {
    department: "4S SURG",
    facility: "SIMHOSP",
    rooms: 20,
    beds: ["A", "B"],
    patientClass: "Inpatient",
  },
  { department: "ICU", facility: "SIMHOSP", rooms: 12, beds: ["A"], patientClass: "Inpatient" },
  { department: "L&D", facility: "SIMHOSP", rooms: 10, beds: ["A"], patientClass: "Inpatient" },
  {
    department: "CARDIO CLINIC",
    facility: "SIMCLINIC",
    rooms: 8,
    beds: [""],
    patientClass: "Outpatient",
  },
  {
    department: "FAMILY MED",
    facility: "SIMCLINIC",
    rooms: 12,
    beds: [""],
    patientClass: "Outpatient",
  },
  {
    department: "ORTHO CLINIC",
    facility: "SIMCLINIC",
    rooms: 6,
    beds: [""],
    patientClass: "Outpatient",
  },
];

/** Visit reasons. */
export const VISIT_REASONS: readonly string[] = [
  "Chest pain",
  "Shortness of breath",
  "Abdominal pain",
  "Fall at home",
  "Fever and cough",
  "Scheduled knee replacement",
  "Labor",
  "Syncope",
  "Cellulitis of left leg",
  "Pneumonia",
  "Annual physical",
  "Follow-up visit",
  "Medication review",
  "Post-operative check",
];

/** An ICD-10-CM diagnosis. */
export interface Diagnosis {
  readonly code: string;
  readonly name: string;
}

/** Diagnoses. */
export const DIAGNOSES: readonly Diagnosis[] = [
  { code: "R07.9", name: "Chest pain, unspecified" },
  { code: "J18.9", name: "Pneumonia, unspecified organism" },
  { code: "I10", name: "Essential (primary) hypertension" },
  { code: "E11.9", name: "Type 2 diabetes mellitus without complications" },
  { code: "N39.0", name: "Urinary tract infection, site not specified" },
  { code: "M17.11", name: "Unilateral primary osteoarthritis, right knee" },
  { code: "L03.116", name: "Cellulitis of left lower limb" },
  { code: "I48.91", name: "Unspecified atrial fibrillation" },
  { code: "J44.1", name: "Chronic obstructive pulmonary disease with acute exacerbation" },
  { code: "R55", name: "Syncope and collapse" },
];

/** An allergen with a reaction. */
export interface Allergy {
  readonly code: string;
  readonly name: string;
  readonly type: string;
  readonly reaction: string;
  readonly severity: string;
}

/** Allergies. */
export const ALLERGIES: readonly Allergy[] = [
  { code: "7980", name: "Penicillin", type: "DA", reaction: "Hives", severity: "MO" },
  { code: "2670", name: "Codeine", type: "DA", reaction: "Nausea", severity: "MI" },
  { code: "227493005", name: "Cashew nuts", type: "FA", reaction: "Anaphylaxis", severity: "SV" },
  { code: "111088007", name: "Latex", type: "MA", reaction: "Rash", severity: "MO" },
  { code: "10831", name: "Sulfamethoxazole", type: "DA", reaction: "Rash", severity: "MI" },
];

/** One analyte of a panel: LOINC code, name, units, normal range and decimals. */
export interface Analyte {
  readonly code: string;
  readonly name: string;
  readonly units: string;
  readonly low: number;
  readonly high: number;
  readonly decimals: number;
}

/** A lab panel: its procedure code and analytes. */
export interface Panel {
  readonly code: string;
  readonly name: string;
  readonly specimen: string;
  readonly analytes: readonly Analyte[];
}

/** Lab panels (LOINC). */
export const PANELS: readonly Panel[] = [
  {
    code: "24323-8",
    name: "Comprehensive metabolic panel",
    specimen: "Blood",
    analytes: [
      { code: "2345-7", name: "Glucose", units: "mg/dL", low: 70, high: 99, decimals: 0 },
      { code: "2951-2", name: "Sodium", units: "mmol/L", low: 136, high: 145, decimals: 0 },
      { code: "2823-3", name: "Potassium", units: "mmol/L", low: 3.5, high: 5.1, decimals: 1 },
      { code: "2160-0", name: "Creatinine", units: "mg/dL", low: 0.6, high: 1.3, decimals: 2 },
      { code: "3094-0", name: "Urea nitrogen", units: "mg/dL", low: 7, high: 20, decimals: 0 },
    ],
  },
  {
    code: "58410-2",
    name: "CBC panel",
    specimen: "Blood",
    analytes: [
      { code: "6690-2", name: "WBC", units: "10*3/uL", low: 4.5, high: 11, decimals: 1 },
      { code: "718-7", name: "Hemoglobin", units: "g/dL", low: 12, high: 17.5, decimals: 1 },
      { code: "4544-3", name: "Hematocrit", units: "%", low: 36, high: 52, decimals: 1 },
      { code: "777-3", name: "Platelets", units: "10*3/uL", low: 150, high: 400, decimals: 0 },
    ],
  },
  {
    code: "24331-1",
    name: "Lipid panel",
    specimen: "Serum",
    analytes: [
      { code: "2093-3", name: "Cholesterol", units: "mg/dL", low: 0, high: 199, decimals: 0 },
      { code: "2571-8", name: "Triglyceride", units: "mg/dL", low: 0, high: 149, decimals: 0 },
      { code: "2085-9", name: "HDL cholesterol", units: "mg/dL", low: 40, high: 90, decimals: 0 },
    ],
  },
  {
    code: "4548-4",
    name: "Hemoglobin A1c",
    specimen: "Blood",
    analytes: [
      { code: "4548-4", name: "Hemoglobin A1c", units: "%", low: 4, high: 5.6, decimals: 1 },
    ],
  },
  {
    code: "10839-9",
    name: "Troponin I",
    specimen: "Serum",
    analytes: [
      { code: "10839-9", name: "Troponin I", units: "ng/mL", low: 0, high: 0.04, decimals: 2 },
    ],
  },
];

/** Imaging and other non-lab orderables (CPT). */
export const PROCEDURES: readonly { code: string; name: string }[] = [
  { code: "71046", name: "XR chest 2 views" },
  { code: "70450", name: "CT head without contrast" },
  { code: "93000", name: "Electrocardiogram, complete" },
  { code: "73721", name: "MRI knee without contrast" },
];

/** Insurance plans. */
export const PLANS: readonly { plan: string; company: string; companyId: string; type: string }[] =
  [
    { plan: "Silver PPO", company: "Lakeshore Health Plan", companyId: "LHP01", type: "PPO" },
    { plan: "Choice HMO", company: "Prairie Mutual", companyId: "PRM22", type: "HMO" },
    { plan: "Medicare Part A", company: "Medicare", companyId: "CMS", type: "MC" },
    { plan: "Medicaid", company: "State Medicaid", companyId: "MCD", type: "MA" },
  ];

/** Note types and the lines such a note holds. */
export const NOTE_TYPES: readonly { type: string; lines: readonly string[] }[] = [
  {
    type: "Progress Note",
    lines: [
      "Patient seen and examined at bedside.",
      "Vital signs stable overnight; afebrile.",
      "Plan: continue current management, reassess in the morning.",
    ],
  },
  {
    type: "Discharge Summary",
    lines: [
      "Admitted for evaluation; work-up unremarkable.",
      "Condition at discharge: stable.",
      "Follow up with primary care in one week.",
    ],
  },
  {
    type: "Consult Note",
    lines: [
      "Consulted for management recommendations.",
      "Recommend outpatient follow-up and repeat labs in two weeks.",
    ],
  },
  {
    type: "History and Physical",
    lines: [
      "Chief complaint as documented at triage.",
      "Past medical history reviewed and updated.",
      "Assessment and plan discussed with the patient.",
    ],
  },
];

/** Appointment reasons (scheduling). */
export const APPOINTMENT_REASONS: readonly string[] = [
  "Annual physical",
  "Follow-up",
  "New patient visit",
  "Pre-operative evaluation",
  "Medication check",
  "Post-discharge visit",
  "Vaccination",
];

/** Next-of-kin relationships, as the data model names them. */
export const RELATIONS: readonly string[] = [
  "Spouse",
  "Mother",
  "Father",
  "Sibling",
  "Child",
  "Friend",
  "Life Partner",
  "Guardian",
];
