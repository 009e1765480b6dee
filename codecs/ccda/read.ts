/**
 * Reading a C-CDA document into a {@link ClinicalSummary}: document type by templateId, header
 * (patient, author, custodian, encompassing encounter), and the ten sections by templateId or
 * LOINC code, each entry with its codes (code system OIDs named), status, effective times (HL7 TS
 * to ISO 8601 with the codecs' time-zone rules) and values with units.
 *
 * @module
 */

import { tryHl7ToIso } from "../time/mod.ts";
import { CcdaError } from "./errors.ts";
import type {
  Address,
  ClinicalEntry,
  ClinicalSummary,
  Code,
  Identifier,
  Observation,
  Party,
  Value,
} from "./model.ts";
import {
  CODE_SYSTEMS,
  DOCUMENT_TYPES,
  type SectionKey,
  SECTIONS,
  US_REALM_HEADER,
} from "./vocab.ts";
import {
  attr,
  kid,
  kids,
  parseXmlSafe,
  readXmlSafe,
  type SafeXmlOptions,
  text,
  type XmlNode,
} from "./xml.ts";

/** Options of {@link parseCcda}. */
export interface ParseCcdaOptions extends SafeXmlOptions {
  /**
   * IANA zone in which times without a UTC offset are read (default `UTC`), as for HL7 v2
   * timestamps: dates stay dates, date-times become UTC instants.
   */
  readonly timeZone?: string;
}

/** What a parse gives: the summary and the parts of the document that could not be read. */
export interface CcdaReadResult {
  readonly summary: ClinicalSummary;
  /**
   * Entities XML does not declare (HTML names read as their characters, unknown ones kept as text),
   * then times that are not valid HL7 TS values (left out of the summary), with where they were.
   */
  readonly warnings: string[];
}

class Reader {
  readonly warnings: string[] = [];
  constructor(readonly timeZone: string) {}

  time(node: XmlNode | undefined, where: string): string | undefined {
    const v = attr(node, "value");
    if (v === undefined || v === "") return undefined;
    const r = tryHl7ToIso(v, { timeZone: this.timeZone });
    if (r.ok) return r.value;
    this.warnings.push(`${where}: ${r.error.message}`);
    return undefined;
  }

  /** `effectiveTime` as a point (`@value`) or an interval (`low`/`high`). */
  times(
    node: XmlNode | undefined,
    where: string,
  ): Pick<ClinicalEntry, "DateTime" | "StartDate" | "EndDate"> {
    if (node === undefined) return {};
    const out: Pick<ClinicalEntry, "DateTime" | "StartDate" | "EndDate"> = {};
    const at = this.time(node, where);
    if (at !== undefined) out.DateTime = at;
    const low = this.time(kid(node, "low"), where + "/low");
    const high = this.time(kid(node, "high"), where + "/high");
    if (low !== undefined) out.StartDate = low;
    if (high !== undefined) out.EndDate = high;
    return out;
  }
}

function clean<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** A coded element (`code`, `value` xsi:type CD, `routeCode`...) as a {@link Code}. */
export function readCode(node: XmlNode | undefined): Code | undefined {
  if (node === undefined) return undefined;
  let n: XmlNode = node;
  if (attr(n, "code") === undefined) {
    // nullFlavor with a translation: the translation carries the code.
    const t = kid(n, "translation");
    if (t === undefined || attr(t, "code") === undefined) {
      const original = text(kid(n, "originalText"));
      return original ? { Name: original } : undefined;
    }
    n = t;
  }
  const system = attr(n, "codeSystem");
  return clean({
    Code: attr(n, "code"),
    CodeSystem: system,
    CodeSystemName: (system && CODE_SYSTEMS[system]) || attr(n, "codeSystemName"),
    Name: attr(n, "displayName") ?? text(kid(n, "originalText")),
  });
}

function readValue(node: XmlNode | undefined): Value | undefined {
  if (node === undefined) return undefined;
  const type = attr(node, "type");
  if (type === "CD" || type === "CE" || type === "CO" || type === "CV") {
    const code = readCode(node);
    return code ? { Code: code, Type: type } : undefined;
  }
  const v = attr(node, "value") ?? text(node);
  if (v === undefined) return undefined;
  return clean({ Value: v, Unit: attr(node, "unit"), Type: type });
}

function identifiers(node: XmlNode | undefined): Identifier[] {
  return kids(node, "id").flatMap((id) => {
    const root = attr(id, "root");
    if (root === undefined) return [];
    const ext = attr(id, "extension");
    // Without an extension the root is the identifier itself (a UUID or OID).
    return ext === undefined
      ? [{ ID: root, IDType: "root" }]
      : [{ ID: ext, IDType: CODE_SYSTEMS[root] ?? root }];
  });
}

function address(node: XmlNode | undefined): Address | undefined {
  if (node === undefined) return undefined;
  const street = kids(node, "streetAddressLine").map((l) => text(l)).filter((s) => s).join(", ");
  const a = clean({
    StreetAddress: street || undefined,
    City: text(kid(node, "city")),
    State: text(kid(node, "state")),
    ZIP: text(kid(node, "postalCode")),
    Country: text(kid(node, "country")),
  });
  return Object.keys(a).length > 0 ? a : undefined;
}

function phone(node: XmlNode | undefined): string | undefined {
  const tel = kids(node, "telecom").map((t) => attr(t, "value")).find((v) => v?.startsWith("tel:"));
  return tel?.slice(4);
}

function personName(
  node: XmlNode | undefined,
): { FirstName?: string; MiddleName?: string; LastName?: string } {
  const name = kid(node, "name");
  const given = kids(name, "given").map((g) => text(g));
  return clean({ FirstName: given[0], MiddleName: given[1], LastName: text(kid(name, "family")) });
}

function templateIds(node: XmlNode | undefined): string[] {
  return kids(node, "templateId").map((t) => attr(t, "root")).filter((r): r is string => !!r);
}

/** The clinical statement inside an `entry` / `entryRelationship` / `component`. */
function statement(node: XmlNode): XmlNode | undefined {
  for (
    const k of [
      "act",
      "observation",
      "substanceAdministration",
      "procedure",
      "encounter",
      "organizer",
      "supply",
    ]
  ) {
    const s = kid(node, k);
    if (s) return s;
  }
  return undefined;
}

function related(node: XmlNode | undefined): XmlNode[] {
  return kids(node, "entryRelationship").map(statement).filter((s): s is XmlNode => !!s);
}

function status(node: XmlNode | undefined): string | undefined {
  return attr(kid(node, "statusCode"), "code");
}

function product(sa: XmlNode | undefined): Code | undefined {
  return readCode(kid(sa, "consumable", "manufacturedProduct", "manufacturedMaterial", "code"));
}

function medication(r: Reader, sa: XmlNode, where: string): ClinicalEntry {
  const e: ClinicalEntry = { Identifiers: identifiers(sa) };
  for (const et of kids(sa, "effectiveTime")) {
    const type = attr(et, "type");
    if (type === "PIVL_TS") {
      const p = kid(et, "period");
      if (attr(p, "value")) e.Frequency = clean({ Value: attr(p, "value"), Unit: attr(p, "unit") });
    } else Object.assign(e, r.times(et, where));
  }
  const dose = kid(sa, "doseQuantity");
  return clean({
    ...e,
    Product: product(sa),
    Status: status(sa),
    Dose: dose && attr(dose, "value")
      ? clean({ Value: attr(dose, "value"), Unit: attr(dose, "unit") })
      : undefined,
    Route: readCode(kid(sa, "routeCode")),
    Mood: attr(sa, "moodCode"),
  });
}

function observation(r: Reader, o: XmlNode, where: string): Observation {
  const range = kid(o, "referenceRange", "observationRange");
  let rangeText = text(kid(range, "text"));
  if (rangeText === undefined && range) {
    const v = kid(range, "value");
    const low = attr(kid(v, "low"), "value");
    const high = attr(kid(v, "high"), "value");
    const unit = attr(kid(v, "high"), "unit") ?? attr(kid(v, "low"), "unit");
    if (low !== undefined || high !== undefined) {
      rangeText = `${low ?? ""}-${high ?? ""}${unit ? " " + unit : ""}`;
    }
  }
  const t = r.times(kid(o, "effectiveTime"), where);
  return clean({
    Code: readCode(kid(o, "code")),
    Value: readValue(kid(o, "value")),
    Status: status(o),
    DateTime: t.DateTime ?? t.StartDate,
    Interpretation: readCode(kid(o, "interpretationCode")),
    ReferenceRange: rangeText,
  });
}

const REACTION = "2.16.840.1.113883.10.20.22.4.9";
const SEVERITY = "2.16.840.1.113883.10.20.22.4.8";

function allergy(r: Reader, act: XmlNode, where: string): ClinicalEntry {
  const obs = related(act).find((s) => kid(s, "value")) ?? act;
  const nested = [...related(obs), ...related(obs).flatMap(related)];
  const reactions = nested.filter((s) => templateIds(s).includes(REACTION))
    .map((s) => readCode(kid(s, "value"))).filter((c): c is Code => !!c);
  const severity = nested.find((s) => templateIds(s).includes(SEVERITY));
  const playing = kid(obs, "participant", "participantRole", "playingEntity", "code");
  return clean({
    Identifiers: identifiers(act),
    Code: readValue(kid(obs, "value"))?.Code,
    Product: readCode(playing),
    Status: status(act),
    ...r.times(kid(obs, "effectiveTime"), where),
    Reactions: reactions.length > 0 ? reactions : undefined,
    Severity: severity ? readCode(kid(severity, "value")) : undefined,
  });
}

function problem(r: Reader, act: XmlNode, where: string): ClinicalEntry {
  const obs = related(act).find((s) => kid(s, "value")) ?? act;
  return clean({
    Identifiers: identifiers(act),
    Code: readValue(kid(obs, "value"))?.Code,
    Status: status(act),
    ...r.times(kid(obs, "effectiveTime"), where),
  });
}

function organizer(r: Reader, org: XmlNode, where: string): ClinicalEntry {
  const obs = kids(org, "component").map((c) => kid(c, "observation"))
    .filter((o): o is XmlNode => !!o).map((o, i) =>
      observation(r, o, `${where}/component[${i + 1}]`)
    );
  return clean({
    Identifiers: identifiers(org),
    Code: readCode(kid(org, "code")),
    Status: status(org),
    ...r.times(kid(org, "effectiveTime"), where),
    Observations: obs,
  });
}

function generic(r: Reader, s: XmlNode, where: string): ClinicalEntry {
  if (kid(s, "consumable")) return medication(r, s, where);
  const v = readValue(kid(s, "value"));
  return clean({
    Identifiers: identifiers(s),
    Code: readCode(kid(s, "code")),
    Status: status(s),
    ...r.times(kid(s, "effectiveTime"), where),
    Value: v,
    Mood: attr(s, "moodCode"),
    Text: text(kid(s, "text")),
  });
}

function readEntry(r: Reader, key: SectionKey, s: XmlNode, where: string): ClinicalEntry {
  switch (key) {
    case "Allergies":
      return allergy(r, s, where);
    case "Problems":
      return problem(r, s, where);
    case "Medications":
    case "Immunizations":
      return medication(r, s, where);
    case "Results":
    case "VitalSigns":
      return kid(s, "component")
        ? organizer(r, s, where)
        : { Observations: [observation(r, s, where)] };
    default:
      return generic(r, s, where);
  }
}

function sectionKey(section: XmlNode): SectionKey | undefined {
  const ids = templateIds(section);
  const loinc = attr(kid(section, "code"), "code");
  return SECTIONS.find((s) => ids.includes(s.templateId) || ids.includes(s.optionalTemplateId))
    ?.key ??
    SECTIONS.find((s) => s.loinc === loinc)?.key;
}

function party(
  entity: XmlNode | undefined,
  person: XmlNode | undefined,
  org: XmlNode | undefined,
): Party {
  return clean({
    Identifiers: entity ? identifiers(entity) : undefined,
    ...personName(person),
    Organization: text(kid(org, "name")),
    Address: address(kid(entity, "addr")),
    PhoneNumber: phone(entity),
  });
}

/** Reads the document element of a parsed CDA into a summary. */
function readDocument(doc: XmlNode, r: Reader): ClinicalSummary {
  const ids = templateIds(doc);
  const typeId = ids.find((id) => DOCUMENT_TYPES[id] !== undefined);
  const docId = identifiers(doc)[0];
  const role = kid(doc, "recordTarget", "patientRole");
  const patient = kid(role, "patient");
  const sexCode = attr(kid(patient, "administrativeGenderCode"), "code");
  const author = kid(doc, "author");
  const assigned = kid(author, "assignedAuthor");
  const custodianOrg = kid(
    doc,
    "custodian",
    "assignedCustodian",
    "representedCustodianOrganization",
  );
  const enc = kid(doc, "componentOf", "encompassingEncounter");
  const summary: ClinicalSummary = {
    Meta: clean({
      DataModel: "Clinical Summary" as const,
      DocumentType: typeId
        ? DOCUMENT_TYPES[typeId]!
        : ids.includes(US_REALM_HEADER)
        ? "US Realm Header"
        : "Unknown",
      TemplateIds: ids,
      DocumentId: docId,
      Title: text(kid(doc, "title")),
      Code: readCode(kid(doc, "code")),
      CreationDateTime: r.time(kid(doc, "effectiveTime"), "effectiveTime"),
      Confidentiality: attr(kid(doc, "confidentialityCode"), "code"),
      Language: attr(kid(doc, "languageCode"), "code"),
    }),
    Header: clean({
      Author: author
        ? clean({
          ...party(
            assigned,
            kid(assigned, "assignedPerson"),
            kid(assigned, "representedOrganization"),
          ),
          DateTime: r.time(kid(author, "time"), "author/time"),
        })
        : undefined,
      Custodian: custodianOrg ? party(custodianOrg, undefined, custodianOrg) : undefined,
      Encounter: enc
        ? clean({
          Identifiers: identifiers(enc),
          Type: readCode(kid(enc, "code")),
          ...(({ StartDate, EndDate, DateTime }) => ({
            StartDate: StartDate ?? DateTime,
            EndDate,
          }))(
            r.times(kid(enc, "effectiveTime"), "encompassingEncounter/effectiveTime"),
          ),
          Location: text(kid(enc, "location", "healthCareFacility", "location", "name")) ??
            text(kid(enc, "location", "healthCareFacility", "serviceProviderOrganization", "name")),
        })
        : undefined,
    }),
    Patient: {
      Identifiers: identifiers(role),
      Demographics: clean({
        ...personName(patient),
        DOB: r.time(kid(patient, "birthTime"), "birthTime"),
        Sex: sexCode === "M"
          ? "Male"
          : sexCode === "F"
          ? "Female"
          : sexCode === undefined
          ? undefined
          : "Unknown",
        Address: address(kid(role, "addr")),
        PhoneNumber: phone(role),
        Race: readCode(kid(patient, "raceCode")),
        Ethnicity: readCode(kid(patient, "ethnicGroupCode")),
        Language: attr(kid(patient, "languageCommunication", "languageCode"), "code"),
        MaritalStatus: readCode(kid(patient, "maritalStatusCode")),
      }),
    },
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
  };
  const sections = kids(kid(doc, "component", "structuredBody"), "component")
    .map((c) => kid(c, "section")).filter((s): s is XmlNode => !!s);
  for (const section of sections) {
    const key = sectionKey(section);
    if (key === undefined) continue;
    kids(section, "entry").forEach((entry, i) => {
      const s = statement(entry);
      if (s) summary[key].push(readEntry(r, key, s, `${key}/entry[${i + 1}]`));
    });
  }
  return summary;
}

/**
 * Parses a C-CDA document. DTDs are refused before parsing (XXE, billion laughs).
 * @throws {CcdaError} `EMPTY`, `TOO_LARGE`, `DTD_REFUSED`, `TOO_DEEP`, `NOT_XML`, `NOT_CDA`.
 */
export function readCcda(xml: string, options: ParseCcdaOptions = {}): CcdaReadResult {
  const { root, warnings } = readXmlSafe(xml, options);
  const doc = kid(root, "ClinicalDocument");
  if (doc === undefined) {
    const first = Object.keys(root).find((k) => !k.startsWith("?") && !k.startsWith("#"));
    throw new CcdaError(
      "NOT_CDA",
      `The root element is ${first ?? "missing"}, not ClinicalDocument`,
    );
  }
  // The parser drops namespace declarations: read the root's default namespace from the text.
  const ns = /<(?:[\w.-]+:)?ClinicalDocument\b[^>]*?\sxmlns\s*=\s*["']([^"']*)["']/.exec(xml)?.[1];
  if (ns !== undefined && ns !== "urn:hl7-org:v3") {
    throw new CcdaError("NOT_CDA", `ClinicalDocument is in namespace ${ns}, not urn:hl7-org:v3`);
  }
  const r = new Reader(options.timeZone ?? "UTC");
  r.warnings.push(...warnings);
  const summary = readDocument(doc, r);
  // A value left out is named in the summary too, so that whoever gets only the JSON knows.
  if (r.warnings.length > 0) {
    summary.Meta.Errors = r.warnings.map((Text) => ({ Text, Type: "warning", Module: "ccda" }));
  }
  return { summary, warnings: r.warnings };
}

/** Parses a C-CDA document into its {@link ClinicalSummary} (see {@link readCcda}). */
export function parseCcda(xml: string, options: ParseCcdaOptions = {}): ClinicalSummary {
  return readCcda(xml, options).summary;
}

/** The document type of a C-CDA (by templateId) without building the summary. */
export function ccdaDocumentType(xml: string, options: SafeXmlOptions = {}): string {
  const doc = kid(parseXmlSafe(xml, options), "ClinicalDocument");
  if (doc === undefined) throw new CcdaError("NOT_CDA", "The root element is not ClinicalDocument");
  const ids = templateIds(doc);
  const t = ids.find((id) => DOCUMENT_TYPES[id] !== undefined);
  return t ? DOCUMENT_TYPES[t]! : ids.includes(US_REALM_HEADER) ? "US Realm Header" : "Unknown";
}
