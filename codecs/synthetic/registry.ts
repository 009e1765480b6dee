/**
 * The synthetic patient registry: a deterministic list of made-up patients (identifiers,
 * demographics, address, phones, contacts, primary care provider, insurance, allergies), the
 * same for the same seed and size, with families and twins so that a search by name or birth
 * date can match several patients. {@link searchRegistry} answers patient searches from it.
 *
 * @module
 */

import { Rng } from "./rng.ts";
import {
  ALLERGIES,
  type Allergy,
  type Clinician,
  CLINICIANS,
  ETHNICITIES,
  FIRST_NAMES,
  LANGUAGES,
  LAST_NAMES,
  MARITAL,
  MIDDLE_NAMES,
  PLANS,
  RACES,
  RELATIONS,
  RELIGIONS,
  STREETS,
  type Town,
  TOWNS,
} from "./vocab.ts";

/** The assigning authority (`IDType`) of the medical record numbers. */
export const MRN_AUTHORITY = "SIMHOSP";
/** The assigning authority of the enterprise identifiers. */
export const EMPI_AUTHORITY = "SIMEMPI";

/** A postal address as the data model writes it. */
export interface SyntheticAddress {
  StreetAddress: string;
  City: string;
  State: string;
  ZIP: string;
  County: string;
  Country: string;
}

/** A next of kin. */
export interface SyntheticContact {
  firstName: string;
  lastName: string;
  relation: string;
  phone: string;
}

/** One made-up patient. */
export interface SyntheticPatient {
  /** Position in the registry (0-based). */
  readonly index: number;
  /** Medical record number (`IDType` {@link MRN_AUTHORITY}). */
  readonly mrn: string;
  /** Enterprise identifier (`IDType` {@link EMPI_AUTHORITY}). */
  readonly empi: string;
  readonly firstName: string;
  readonly middleName: string;
  readonly lastName: string;
  /** `YYYY-MM-DD`. */
  readonly dob: string;
  readonly sex: "Female" | "Male";
  /** `9XX-XX-XXXX`: never a real number. */
  readonly ssn: string;
  readonly address: SyntheticAddress;
  readonly homePhone: string;
  readonly mobilePhone?: string;
  readonly email?: string;
  readonly language: string;
  readonly maritalStatus: string;
  readonly race: string;
  readonly ethnicity: string;
  readonly religion: string;
  readonly pcp: Clinician;
  readonly contacts: readonly SyntheticContact[];
  readonly allergies: readonly Allergy[];
  readonly plan: (typeof PLANS)[number];
  readonly memberNumber: string;
}

/** A registry of patients. */
export interface Registry {
  readonly seed: string;
  readonly patients: readonly SyntheticPatient[];
  /** The patient with this MRN or enterprise id, if any. */
  byId(id: string): SyntheticPatient | undefined;
}

/** Options of {@link createRegistry}. */
export interface RegistryOptions {
  /** Any string or number; the same seed gives the same registry. Default `"sandbox"`. */
  readonly seed?: string | number;
  /** How many patients (default 200). */
  readonly size?: number;
}

/** ASCII e-mail local parts: accents and spaces removed. */
function plain(text: string): string {
  return text.normalize("NFD").replace(/[^A-Za-z]/g, "").toLowerCase();
}

function phone(rng: Rng, town: Town): string {
  // 555-0100 to 555-0199 are reserved for fiction.
  return `(${town.area})555-01${rng.digits(2)}`;
}

function isoDate(y: number, m: number, d: number): string {
  return `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

function birthDate(rng: Rng, minAge: number, maxAge: number): string {
  const year = 2024 - rng.int(minAge, maxAge);
  return isoDate(year, rng.int(1, 12), rng.int(1, 28));
}

/**
 * Builds a registry. Every seventh patient is a relative of the one before (same family name,
 * address and phone), and every thirteenth a twin (also the same birth date), so that searches
 * by family name, or by family name and birth date, find more than one patient.
 */
export function createRegistry(options: RegistryOptions = {}): Registry {
  const seed = String(options.seed ?? "sandbox");
  const size = Math.max(1, Math.floor(options.size ?? 200));
  const patients: SyntheticPatient[] = [];
  const root = new Rng(`registry:${seed}`);
  const mrnBase = root.int(100_000, 400_000);
  for (let i = 0; i < size; i++) {
    const rng = root.fork(i);
    const prev = patients[i - 1];
    const twin = prev !== undefined && i % 13 === 12;
    const relative = prev !== undefined && (twin || i % 7 === 6);
    const sex = rng.chance(0.5) ? "Female" : "Male";
    const town = relative ? TOWNS.find((t) => t.city === prev.address.City)! : rng.pick(TOWNS);
    const lastName = relative ? prev.lastName : rng.pick(LAST_NAMES);
    const firstName = rng.pick(FIRST_NAMES[sex].filter((n) => n !== prev?.firstName));
    const address: SyntheticAddress = relative ? prev.address : {
      StreetAddress: `${rng.int(1, 9899)} ${rng.pick(STREETS)}` +
        (rng.chance(0.2) ? ` Apt ${rng.int(1, 40)}` : ""),
      City: town.city,
      State: town.state,
      ZIP: `${town.zip}${rng.digits(2)}`,
      County: town.county,
      Country: "USA",
    };
    const dob = twin ? prev.dob : relative ? birthDate(rng, 0, 17) : birthDate(rng, 0, 95);
    const adult = Number(dob.slice(0, 4)) <= 2006;
    const homePhone = relative ? prev.homePhone : phone(rng, town);
    const contactSex = rng.chance(0.5) ? "Female" : "Male";
    // A relative's contact is the patient before (a sibling); a child's is a parent or guardian.
    const relation = relative
      ? "Sibling"
      : adult
      ? rng.pick(RELATIONS)
      : contactSex === "Female"
      ? rng.pick(["Mother", "Guardian"])
      : rng.pick(["Father", "Guardian"]);
    const contacts: SyntheticContact[] = [{
      firstName: relative ? prev.firstName : rng.pick(FIRST_NAMES[contactSex]),
      lastName: relative || rng.chance(0.8) ? lastName : rng.pick(LAST_NAMES),
      relation,
      phone: relative || rng.chance(0.5) ? homePhone : phone(rng, town),
    }];
    const allergies = ALLERGIES.filter(() => rng.chance(0.12));
    patients.push({
      index: i,
      mrn: String(mrnBase + i * 7 + rng.int(0, 6)),
      empi: `E${String(i + 1).padStart(7, "0")}`,
      firstName,
      middleName: rng.pick(MIDDLE_NAMES),
      lastName,
      dob,
      sex,
      ssn: `9${rng.digits(2)}-${rng.digits(2)}-${rng.digits(4)}`,
      address,
      homePhone,
      ...(adult && rng.chance(0.7) ? { mobilePhone: phone(rng, town) } : {}),
      ...(adult && rng.chance(0.6)
        ? { email: `${plain(firstName)}.${plain(lastName)}${rng.int(1, 99)}@example.org` }
        : {}),
      language: rng.pick(LANGUAGES),
      maritalStatus: adult ? rng.pick(MARITAL) : "Single",
      race: rng.pick(RACES),
      ethnicity: rng.pick(ETHNICITIES),
      religion: rng.pick(RELIGIONS),
      pcp: rng.pick(CLINICIANS),
      contacts,
      allergies,
      plan: rng.pick(PLANS),
      memberNumber: `M${rng.digits(9)}`,
    });
  }
  const index = new Map<string, SyntheticPatient>();
  for (const p of patients) {
    index.set(p.mrn, p);
    index.set(p.empi, p);
  }
  return { seed, patients, byId: (id) => index.get(id) };
}

/** The criteria of a patient search (a `PatientSearch.Query`'s `Patient`). */
export interface SearchCriteria {
  readonly identifiers?: readonly { id: string; type?: string }[];
  readonly lastName?: string;
  readonly firstName?: string;
  readonly middleName?: string;
  /** `YYYY-MM-DD`. */
  readonly dob?: string;
  /** `Female`, `Male`… */
  readonly sex?: string;
  readonly ssn?: string;
}

const fold = (s: string) => s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase().trim();

/**
 * The patients matching every criterion given (names compared without case or accents, an
 * identifier against the MRN or enterprise id, its type against the authority when given).
 * No criterion matches nobody: a search must say what it looks for.
 */
export function searchRegistry(
  registry: Registry,
  criteria: SearchCriteria,
): SyntheticPatient[] {
  const ids = criteria.identifiers ?? [];
  const names: [keyof SyntheticPatient, string | undefined][] = [
    ["lastName", criteria.lastName],
    ["firstName", criteria.firstName],
    ["middleName", criteria.middleName],
  ];
  const given = ids.length > 0 ||
    [criteria.lastName, criteria.firstName, criteria.middleName, criteria.dob, criteria.sex]
      .some((v) => v !== undefined && v !== "") ||
    (criteria.ssn ?? "") !== "";
  if (!given) return [];
  return registry.patients.filter((p) => {
    for (const { id, type } of ids) {
      const mrn = p.mrn === id && (type === undefined || type === MRN_AUTHORITY);
      const empi = p.empi === id && (type === undefined || type === EMPI_AUTHORITY);
      if (!mrn && !empi) return false;
    }
    for (const [key, want] of names) {
      if (want !== undefined && want !== "" && fold(String(p[key])) !== fold(want)) return false;
    }
    if (criteria.dob && p.dob !== criteria.dob) return false;
    if (criteria.sex && fold(p.sex) !== fold(criteria.sex)) return false;
    if (criteria.ssn && p.ssn.replace(/-/g, "") !== criteria.ssn.replace(/-/g, "")) return false;
    return true;
  });
}

/** The patient as the data model's `Patient` object (what PatientAdmin and PID carry). */
export function patientJson(p: SyntheticPatient): Record<string, unknown> {
  return {
    Identifiers: [
      { ID: p.mrn, IDType: MRN_AUTHORITY },
      { ID: p.empi, IDType: EMPI_AUTHORITY },
    ],
    Demographics: {
      FirstName: p.firstName,
      ...(p.middleName ? { MiddleName: p.middleName } : {}),
      LastName: p.lastName,
      DOB: p.dob,
      SSN: p.ssn,
      Sex: p.sex,
      Race: p.race,
      Ethnicity: p.ethnicity,
      ...(p.religion ? { Religion: p.religion } : {}),
      MaritalStatus: p.maritalStatus,
      Language: p.language,
      Address: { ...p.address },
      PhoneNumber: {
        Home: p.homePhone,
        ...(p.mobilePhone ? { Mobile: p.mobilePhone } : {}),
      },
      ...(p.email ? { EmailAddresses: [p.email] } : {}),
    },
    PCP: { ID: p.pcp.id, IDType: "NPI", LastName: p.pcp.lastName, FirstName: p.pcp.firstName },
    Contacts: p.contacts.map((c) => ({
      FirstName: c.firstName,
      LastName: c.lastName,
      RelationToPatient: c.relation,
      PhoneNumber: { Home: c.phone },
    })),
  };
}
