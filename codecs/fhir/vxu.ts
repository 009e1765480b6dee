/**
 * VXU^V04 (an immunization record) ⇄ a FHIR R4 message Bundle: MessageHeader (event V04),
 * Patient and one Immunization per RXA. The data model has no immunization model, so this path
 * reads the segments directly; the Patient (and MSH) still go through the data model's PID
 * mapping and the Patient table, by way of an ADT^A31 made of the message's MSH and PID.
 *
 * One table ({@link IMMUNIZATION_FIELDS}) serves both directions. A field the table does not give
 * back exactly (RXA-9, ORC-12, an RXA-20 code FHIR folds...) is kept on the Immunization in the
 * `urn:x-hl7v2-engine:extension:hl7v2` extension (`field` with `path` and raw `value`), and
 * segments of the group the table does not read (OBX, NTE, a second RXR) as `segment` with
 * `after`, so VXU → FHIR → VXU gives the segments back.
 *
 * @module
 */

import { isObject, type JsonObject } from "../datamodel/json_path.ts";
import { type Hl7Message, parseHl7 } from "../hl7v2/mod.ts";
import { type FhirBundle, type FhirOptions, type FhirResource } from "./bundle.ts";
import {
  EXT_DATA_MODEL_EVENT,
  EXT_HL7V2,
  systemName,
  systemUri,
  V2_EVENT_SYSTEM,
} from "./codes.ts";
import { referenceIssues } from "./references.ts";
import { FhirError, type FhirIssue } from "./errors.ts";
import { addExtensions, findExtension, hl7v2Extension, readHl7v2Extension } from "./extensions.ts";
import { readFhir, writeFhir } from "./fhir_path.ts";
import { fhirToHl7, hl7ToFhir } from "./hl7.ts";
import {
  cwe,
  dtm,
  type FieldConv,
  type FieldRow,
  Seg,
  STD_DELIMITERS,
  text,
} from "./segment_fields.ts";
import { uuidV5 } from "./uuid.ts";

/** CVX, the CDC's vaccine codes (RXA-5 with coding system CVX). */
export const CVX_SYSTEM = "http://hl7.org/fhir/sid/cvx";
/** MVX, the CDC's vaccine manufacturer codes (RXA-17 with coding system MVX). */
export const MVX_SYSTEM = "http://hl7.org/fhir/sid/mvx";

const VXU_TYPE = "VXU^V04^VXU_V04";
const A31_TYPE = "ADT^A31^ADT_A05";

/** HL7 DTM (an expiration date) ⇄ FHIR date. */
const day: FieldConv = {
  toFhir: ([v = ""]) =>
    /^\d{8}/.test(v) ? `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}` : undefined,
  toHl7: (
    v,
  ) => (typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v)
    ? [v.replaceAll("-", "")]
    : undefined),
};

const decimal: FieldConv = {
  // 999 is the IG's "amount unknown".
  toFhir: ([v]) => (v && v !== "999" && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : undefined),
  toHl7: (v) => (typeof v === "number" && Number.isFinite(v) ? [String(v)] : undefined),
};

/** RXA-7 (units, CWE) ⇄ the doseQuantity's unit, code and system (UCUM). */
const doseUnit: FieldConv = {
  toFhir: ([code, display, system]) => {
    if (!code) return undefined;
    const out: JsonObject = { code, unit: display || code };
    out.system = systemUri(system || "UCUM");
    return out;
  },
  toHl7: (v) => {
    if (!isObject(v) || typeof v.code !== "string") return undefined;
    const system = typeof v.system === "string" ? systemName(v.system) : "";
    const unit = typeof v.unit === "string" ? v.unit : "";
    return [v.code, unit, system];
  },
};

/** RXA-17 (MVX manufacturer) ⇄ a manufacturer reference by identifier. */
const manufacturer: FieldConv = {
  toFhir: ([code, display, system]) => {
    if (!code && !display) return undefined;
    const out: JsonObject = {};
    if (code) out.identifier = { system: systemUri(system || "MVX"), value: code };
    if (display) out.display = display;
    return out;
  },
  toHl7: (v) => {
    if (!isObject(v)) return undefined;
    const id = isObject(v.identifier) ? v.identifier : {};
    const code = typeof id.value === "string" ? id.value : "";
    const system = code !== "" && typeof id.system === "string" ? systemName(id.system) : "";
    const display = typeof v.display === "string" ? v.display : "";
    return code === "" && display === "" ? undefined : [code, display, system];
  },
};

/** RXA-20 completion status (HL7 0322) ⇄ Immunization.status. */
const completion: FieldConv = {
  toFhir: ([v]) => (v === "RE" || v === "NA" ? "not-done" : "completed"),
  toHl7: (v) => (v === "not-done" ? ["RE"] : v === "completed" ? ["CP"] : undefined),
};

/** RXA-21 action code (HL7 0206): D (deleted) ⇄ status entered-in-error. */
const ACTION_DELETE = "D";

/** EI (id^namespace) ⇄ an Identifier whose system names the namespace. */
const entityId: FieldConv = {
  toFhir: ([id, ns]) => (id ? { system: systemOfNamespace(ns), value: id } : undefined),
  toHl7: (v) => {
    if (!isObject(v) || typeof v.value !== "string") return undefined;
    const s = typeof v.system === "string" ? v.system : "";
    const ns = s.startsWith(ID_PREFIX) ? s.slice(ID_PREFIX.length) : "";
    return ns === "" ? [v.value] : [v.value, ns];
  },
};

const ID_PREFIX = "urn:x-hl7v2-engine:id:";

function systemOfNamespace(ns: string | undefined): string {
  return `${ID_PREFIX}${ns || "filler"}`;
}

/**
 * The Immunization table: HL7 field ⇄ FHIR element, read by both directions. RXA-20 `status`
 * is required by FHIR; a message without RXA-20 is a completed administration (the IG default).
 */
export const IMMUNIZATION_FIELDS: readonly FieldRow[] = [
  { hl7: "ORC-3", fx: "identifier[0]", conv: entityId },
  { hl7: "RXA-3", fx: "occurrenceDateTime", conv: dtm },
  { hl7: "RXA-5", fx: "vaccineCode", conv: cwe("CVX") },
  { hl7: "RXA-6", fx: "doseQuantity.value", conv: decimal },
  { hl7: "RXA-7", fx: "doseQuantity", conv: doseUnit },
  { hl7: "RXA-15", fx: "lotNumber", conv: text },
  { hl7: "RXA-16", fx: "expirationDate", conv: day },
  { hl7: "RXA-17", fx: "manufacturer", conv: manufacturer },
  { hl7: "RXA-20", fx: "status", conv: completion },
  { hl7: "RXR-1", fx: "route", conv: cwe("HL70162") },
  { hl7: "RXR-2", fx: "site", conv: cwe("HL70163") },
];

function segmentsOf(message: Hl7Message): Seg[] {
  const d = message.delimiters;
  return message.toString().split(/\r\n|\r|\n/).filter((s) => s !== "").map((s) => {
    if (!s.startsWith("MSH")) return new Seg(s.split(d.field), d);
    // MSH-1 is the field separator itself: keep MSH-n at index n.
    const rest = s.slice(4).split(d.field);
    return new Seg(["MSH", d.field, ...rest], d);
  });
}

type SegName = "ORC" | "RXA" | "RXR";

function fieldIndex(path: string): [SegName, number] {
  const [seg = "", n] = path.split("-");
  return [seg as SegName, Number(n)];
}

const GROUP_SEGMENTS = new Set(["ORC", "RXA"]);

/** One administration: its ORC (if any), RXA, RXR and the segments after them. */
interface Group {
  orc?: Seg;
  rxa: Seg;
  rxr?: Seg;
  rest: { after: string; seg: Seg }[];
}

function groupsOf(segs: Seg[]): { header: Seg[]; groups: Group[] } {
  const header: Seg[] = [];
  const groups: Group[] = [];
  let orc: Seg | undefined;
  let cur: Group | undefined;
  let last = "";
  for (const s of segs) {
    if (s.name === "ORC") {
      orc = s;
      cur = undefined;
    } else if (s.name === "RXA") {
      cur = { orc, rxa: s, rest: [] };
      orc = undefined;
      groups.push(cur);
    } else if (cur !== undefined) {
      if (s.name === "RXR" && cur.rxr === undefined && cur.rest.length === 0) cur.rxr = s;
      else cur.rest.push({ after: last, seg: s });
    } else if (orc === undefined && !GROUP_SEGMENTS.has(s.name)) header.push(s);
    else throw new FhirError([{ path: s.name, text: `${s.name} before RXA in an order group` }]);
    last = s.name;
  }
  return { header, groups };
}

/** Options of {@link vxuToFhir} and {@link fhirToVxu}. */
export type VxuFhirOptions = FhirOptions;

/**
 * A VXU^V04 → a FHIR R4 message Bundle (MessageHeader V04, Patient, Immunization per RXA).
 *
 * @throws {FhirError} when the message is no VXU^V04 or has no PID or RXA.
 */
export function vxuToFhir(message: Hl7Message | string, options: VxuFhirOptions = {}): FhirBundle {
  const msg = typeof message === "string" ? parseHl7(message) : message;
  if (msg.messageType !== "VXU" || msg.triggerEvent !== "V04") {
    throw new FhirError([{ path: "MSH-9", text: "not a VXU^V04" }]);
  }
  const o = { timeZone: options.timeZone ?? "UTC" };
  const { header, groups } = groupsOf(segmentsOf(msg));
  const msh = header.find((s) => s.name === "MSH");
  const pid = header.find((s) => s.name === "PID");
  if (msh === undefined || pid === undefined || groups.length === 0) {
    throw new FhirError([{ path: "VXU", text: "a VXU^V04 needs MSH, PID and at least one RXA" }]);
  }
  // The Patient and the MSH through the data model: an ADT^A31 of the same MSH and PID.
  const a31Msh = new Seg([...msh.fields], msh.d);
  const origType = a31Msh.fields[9] ?? "";
  a31Msh.fields[9] = A31_TYPE;
  const a31 = hl7ToFhir([a31Msh.text(), pid.text()].join("\r"), options);
  const [mhEntry, ...patientEntries] = a31.entry ?? [];
  const mh = mhEntry?.resource;
  const patientEntry = patientEntries.find((e) => e.resource?.resourceType === "Patient");
  if (mhEntry === undefined || mh === undefined || patientEntry === undefined) {
    throw new FhirError([{ path: "PID", text: "no Patient" }]);
  }
  const patientRef = patientEntry.fullUrl as string;

  // What the A31 does not carry: the VXU's own MSH-9, the header segments besides MSH and PID.
  const kept = (readHl7v2Extension(mh) ?? {}) as {
    Fields?: Record<string, string>;
    Segments?: JsonObject[];
  };
  kept.Fields = { ...kept.Fields, "MSH-9": origType };
  let after = "PID";
  const others: JsonObject[] = [];
  for (const s of header) {
    if (s.name === "MSH" || s.name === "PID") continue;
    others.push({ After: after, Segment: s.text() });
    after = s.name;
  }
  kept.Segments = [...(kept.Segments ?? []), ...others];
  // The A31's data-model event would name PatientAdmin: this bundle is a V04.
  mh.extension = (mh.extension as JsonObject[])
    .filter((e) => e.url !== EXT_HL7V2 && e.url !== EXT_DATA_MODEL_EVENT);
  addExtensions(mh, hl7v2Extension(kept));
  mh.eventCoding = { system: V2_EVENT_SYSTEM, code: "V04", display: "VXU^V04" };

  const controlId = msg.controlId ?? crypto.randomUUID();
  const entries: { fullUrl: string; resource: FhirResource }[] = [];
  groups.forEach((g, i) => {
    const res = immunization(g, o);
    const key = readFhir(res, "identifier[0].value");
    const id = uuidV5(
      typeof key === "string"
        ? `Immunization|${String(readFhir(res, "identifier[0].system"))}|${key}`
        : `Immunization|${controlId}|${i}`,
    );
    const resource = { resourceType: "Immunization", id, ...res } as FhirResource;
    resource.patient = { reference: patientRef };
    entries.push({ fullUrl: `urn:uuid:${id}`, resource });
  });
  mh.focus = entries.map((e) => ({ reference: e.fullUrl }));
  return {
    ...a31,
    entry: [mhEntry, patientEntry, ...entries],
  };
}

function immunization(g: Group, o: { timeZone: string }): JsonObject {
  const res: JsonObject = {};
  const segs: Record<SegName, Seg | undefined> = { ORC: g.orc, RXA: g.rxa, RXR: g.rxr };
  for (const row of IMMUNIZATION_FIELDS) {
    const [name, n] = fieldIndex(row.hl7);
    const seg = segs[name];
    if (seg === undefined) continue;
    const v = row.conv.toFhir(seg.comps(n), o);
    if (v === undefined) continue;
    const prev = readFhir(res, row.fx);
    writeFhir(res, row.fx, isObject(prev) && isObject(v) ? { ...prev, ...v } : v);
  }
  if (res.status === undefined) res.status = "completed";
  if (g.rxa.comps(21)[0] === ACTION_DELETE) res.status = "entered-in-error";
  // Administered (RXA-9 00) or historical (01) record: FHIR's primarySource.
  const source = g.rxa.comps(9);
  if (source[0] === "00" || source[0] === "01") res.primarySource = source[0] === "00";
  // A not-done administration's reason (RXA-18) is its statusReason.
  if (res.status === "not-done") {
    const reason = cwe().toFhir(g.rxa.comps(18), o);
    if (reason !== undefined) res.statusReason = reason;
  }
  if (res.occurrenceDateTime === undefined) res.occurrenceString = "unknown";
  if (res.vaccineCode === undefined) {
    res.vaccineCode = { coding: [{ system: CVX_SYSTEM, code: "999", display: "unknown" }] };
  }

  // Residue: every field the table does not give back exactly, every unread segment.
  const back = groupSegments(res, o);
  const fields: Record<string, string> = {};
  for (const [name, seg] of Object.entries(segs)) {
    if (seg === undefined) continue;
    const mine = back[name as SegName];
    const n = Math.max(seg.fields.length, mine?.fields.length ?? 0);
    for (let f = 1; f < n; f++) {
      const orig = seg.fields[f] ?? "";
      if (orig !== (mine?.fields[f] ?? "")) fields[`${name}-${f}`] = orig;
    }
  }
  if (g.orc === undefined) fields["ORC"] = "";
  const segments = g.rest.map((r) => ({ After: r.after, Segment: r.seg.text() }));
  const ext = hl7v2Extension({ Fields: fields, Segments: segments });
  addExtensions(res, ext);
  return res;
}

/** ORC, RXA and RXR of an Immunization by the table alone (with IG defaults). */
function groupSegments(res: JsonObject, o: { timeZone: string }): Record<SegName, Seg> {
  const d = STD_DELIMITERS;
  const out: Record<SegName, Seg> = {
    ORC: new Seg(["ORC", "RE"], d),
    RXA: new Seg(["RXA", "0", "1"], d),
    RXR: new Seg(["RXR"], d),
  };
  for (const row of IMMUNIZATION_FIELDS) {
    const [name, n] = fieldIndex(row.hl7);
    const comps = row.conv.toHl7(readFhir(res, row.fx), o);
    if (comps === undefined) continue;
    const seg = out[name];
    while (seg.fields.length <= n) seg.fields.push("");
    seg.fields[n] = Seg.encode(comps, d);
  }
  const rxa = out.RXA;
  while (rxa.fields.length <= 21) rxa.fields.push("");
  // RXA-3 and RXA-5 are required; RXA-6 999 is "unknown amount" in the IG.
  if (rxa.fields[6] === "") rxa.fields[6] = "999";
  if (res.primarySource !== undefined) {
    rxa.fields[9] = res.primarySource === true
      ? "00^New immunization record^NIP001"
      : "01^Historical information - source unspecified^NIP001";
  }
  if (res.status === "not-done") {
    const reason = cwe().toHl7(res.statusReason, o);
    if (reason !== undefined) rxa.fields[18] = Seg.encode(reason, d);
  }
  if (res.status === "entered-in-error") {
    rxa.fields[20] = "";
    rxa.fields[21] = ACTION_DELETE;
  } else rxa.fields[21] = "A";
  if (res.occurrenceString !== undefined && res.occurrenceDateTime === undefined) {
    rxa.fields[3] = "";
  }
  return out;
}

/** Whether `bundle` is a message whose MessageHeader (first entry) names the event V04. */
export function isVxuBundle(bundle: unknown): boolean {
  if (!isObject(bundle) || !Array.isArray(bundle.entry)) return false;
  const first = bundle.entry[0];
  const mh = isObject(first) ? first.resource : undefined;
  return isObject(mh) && mh.resourceType === "MessageHeader" &&
    readFhir(mh, "eventCoding.code") === "V04";
}

/**
 * A FHIR R4 message Bundle (MessageHeader event V04, a Patient, Immunizations) → a VXU^V04
 * (segments separated by CR). Fields and segments kept in the `hl7v2` extension are put back.
 *
 * @throws {FhirError} for a bundle that is no V04 message or has no Patient or Immunization.
 */
export function fhirToVxu(bundle: unknown, options: VxuFhirOptions = {}): string {
  const o = { timeZone: options.timeZone ?? "UTC" };
  if (!isObject(bundle) || bundle.resourceType !== "Bundle" || !Array.isArray(bundle.entry)) {
    throw new FhirError([{ path: "Bundle", text: "not a FHIR Bundle" }]);
  }
  const resources = bundle.entry.map((e) => (isObject(e) ? e.resource : undefined))
    .filter(isObject) as JsonObject[];
  const mh = resources[0];
  if (mh?.resourceType !== "MessageHeader" || readFhir(mh, "eventCoding.code") !== "V04") {
    throw new FhirError([{ path: "Bundle.entry[0].resource", text: "no MessageHeader of V04" }]);
  }
  const patient = resources.find((r) => r.resourceType === "Patient");
  const imms = resources.filter((r) => r.resourceType === "Immunization");
  if (patient === undefined || imms.length === 0) {
    throw new FhirError([{
      path: "Bundle.entry",
      text: "a V04 needs a Patient and an Immunization",
    }]);
  }
  refuseLoose(bundle.entry, patient);
  // MSH and PID through the data model as an ADT^A31; the VXU's header segments are put back
  // by the same writer (they are kept as `segment`s after PID on the MessageHeader).
  const a31Header: JsonObject = { ...mh, eventCoding: { system: V2_EVENT_SYSTEM, code: "A31" } };
  if (findExtension(mh, EXT_HL7V2) === undefined) {
    addExtensions(a31Header, hl7v2Extension({ Fields: { "MSH-9": VXU_TYPE } }));
  }
  delete a31Header.focus;
  let a31Text: string;
  try {
    a31Text = fhirToHl7({
      resourceType: "Bundle",
      type: "message",
      timestamp: bundle.timestamp,
      entry: [{ resource: a31Header }, { resource: patient }],
    }, options);
  } catch (error) {
    if (!(error instanceof FhirError)) throw error;
    // Issues of the two-entry bundle above, located in the bundle as sent.
    const at = bundle.entry.findIndex((e) => isObject(e) && e.resource === patient);
    throw new FhirError(error.issues.map((i) => ({
      ...i,
      path: i.path.replace(/^Bundle\.entry\[1\]/, `Bundle.entry[${at}]`),
    })));
  }
  const lines = a31Text.split("\r").filter((l) => !l.startsWith("EVN|"));
  for (const res of imms) lines.push(...immunizationSegments(res, o));
  const out = parseHl7(lines.join("\r"));
  if (out.get("MSH-9") === A31_TYPE || out.messageType !== "VXU") out.setRaw("MSH-9", VXU_TYPE);
  return out.toString();
}

/**
 * A V04 carries one patient: a second Patient would be lost, and an Immunization whose `patient`
 * names no entry (or not a Patient) would be written for this one (references.ts). Its other
 * references (an encounter, a performer) are not what the VXU is written from.
 */
function refuseLoose(entries: unknown[], patient: JsonObject): void {
  const index = new Map<string, { resource: JsonObject; entry: number }>();
  entries.forEach((e, entry) => {
    if (!isObject(e) || !isObject(e.resource)) return;
    const resource = e.resource;
    if (typeof e.fullUrl === "string") index.set(e.fullUrl, { resource, entry });
    if (typeof resource.id === "string") {
      index.set(`${String(resource.resourceType)}/${resource.id}`, { resource, entry });
    }
  });
  const first = entries.findIndex((e) => isObject(e) && e.resource === patient);
  const issues: FhirIssue[] = [];
  entries.forEach((e, i) => {
    const r = isObject(e) ? e.resource : undefined;
    if (!isObject(r)) return;
    const at = `Bundle.entry[${i}].resource`;
    if (r.resourceType === "Patient" && r !== patient) {
      issues.push({
        path: at,
        text: `a second Patient (the message is about one patient: Bundle.entry[${first}])`,
      });
    }
    if (r.resourceType !== "Immunization") return;
    for (const issue of referenceIssues(r, (ref) => index.get(ref))) {
      if (issue.path.startsWith("patient.")) issues.push({ ...issue, path: `${at}.${issue.path}` });
    }
  });
  if (issues.length > 0) throw new FhirError(issues);
}

function immunizationSegments(res: JsonObject, o: { timeZone: string }): string[] {
  const segs = groupSegments(res, o);
  const kept = readHl7v2Extension(res) as
    | { Fields?: Record<string, string>; Segments?: { After: string; Segment: string }[] }
    | undefined;
  const fields = kept?.Fields ?? {};
  for (const [path, raw] of Object.entries(fields)) {
    if (!path.includes("-")) continue;
    const [name, n] = fieldIndex(path);
    const seg = segs[name];
    if (seg === undefined) continue;
    while (seg.fields.length <= n) seg.fields.push("");
    seg.fields[n] = raw;
  }
  const out: string[] = [];
  if (!("ORC" in fields)) out.push(segs.ORC.text());
  out.push(segs.RXA.text());
  if (segs.RXR.fields.length > 1 && segs.RXR.fields.some((f, i) => i > 0 && f !== "")) {
    out.push(segs.RXR.text());
  }
  for (const s of kept?.Segments ?? []) out.push(s.Segment);
  return out;
}
