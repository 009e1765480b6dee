/**
 * Data model ⇄ FHIR R4 message Bundle: {@link modelToFhir} walks the message table
 * (messages.ts) and each resource's table; {@link fhirToModel} walks the same tables back.
 *
 * A bundle is `type: "message"`; its first entry is a MessageHeader whose `eventCoding` is the
 * HL7 trigger event (`v2-0003`, display `ADT^A01`), with the data-model event in an extension,
 * `source`, and `focus` on the main resources. Every resource has a deterministic id (UUID v5 of
 * its source identifiers) and `fullUrl` `urn:uuid:<id>`; references use the fullUrl.
 *
 * @module
 */

import {
  type DataModelMessage,
  eventFor,
  EVENTS,
  type EventSpec,
  HL7_EXTENSION,
} from "../datamodel/mod.ts";
import { getPath, isObject, type JsonObject, setPath } from "../datamodel/json_path.ts";
import {
  DATA_MODEL_EVENT_SYSTEM,
  DEFAULT_ID_SYSTEMS,
  ENGINE_URN,
  EXT_DATA_MODEL_EVENT,
  instant,
  LOCAL_ID_SYSTEM,
  V2_EVENT_SYSTEM,
} from "./codes.ts";
import { requiredCodeIssues } from "./bindings.ts";
import { FhirError, type FhirIssue } from "./errors.ts";
import {
  addExtensions,
  findExtension,
  hl7v2Extension,
  readHl7v2Extension,
  readResidue,
  residueExtension,
} from "./extensions.ts";
import { applyResidue, fromResource, residueOf, toResource } from "./map.ts";
import { type KeyContext, MESSAGE_PARTS, type Part } from "./messages.ts";
import { orderEventOfStatus } from "./resources/orders.ts";
import { referenceIssues } from "./references.ts";
import { fixed, type MapContext, path, type ResourceMap } from "./rules.ts";
import { liftSpecimens, lowerSpecimens } from "./specimen.ts";
import { uuidV5 } from "./uuid.ts";

/** Options of {@link modelToFhir} and {@link fhirToModel}. */
export interface FhirOptions {
  /** IANA zone of the facility (HL7 times in values). Default `UTC`. */
  readonly timeZone?: string;
  /**
   * Identifier systems of assigning authorities (`{"HOSP": "urn:oid:1.2.3"}`), over the
   * defaults (`NPI`); others become `urn:x-hl7v2-engine:id:<authority>`.
   */
  readonly identifierSystems?: Readonly<Record<string, string>>;
  /** `MessageHeader.source.endpoint`. Default `urn:x-hl7v2-engine:source:<source id>`. */
  readonly sourceEndpoint?: string;
}

/** A FHIR resource as plain JSON. */
export type FhirResource = JsonObject & { resourceType: string };

/** A FHIR Bundle as plain JSON. */
export interface FhirBundle {
  resourceType: "Bundle";
  id?: string;
  type: string;
  timestamp?: string;
  entry?: { fullUrl?: string; resource?: FhirResource; request?: JsonObject }[];
  [key: string]: unknown;
}

const MESSAGE_HEADER: ResourceMap = {
  resourceType: "MessageHeader",
  rules: [
    path("Meta.FacilityCode", "sender.display"),
    fixed("source.name", (o) => getPath(o, "Meta.Source.Name") ?? getPath(o, "Meta.Source.ID")),
  ],
};

/** The data-model keys of Meta that the MessageHeader's event carries. */
const EVENT_KEYS = ["DataModel", "EventType", "CanceledEvent"];

function context(options: FhirOptions, eventType: string, resolve?: MapContext["resolve"]) {
  const systems = { ...DEFAULT_ID_SYSTEMS, ...(options.identifierSystems ?? {}) };
  const types = new Map<string, string>();
  for (const [t, sys] of Object.entries(systems)) if (!types.has(sys)) types.set(sys, t);
  const refs: Record<string, string> = {};
  const ctx: MapContext = {
    timeZone: options.timeZone ?? "UTC",
    idSystem: (t) => systems[t] ?? LOCAL_ID_SYSTEM + t,
    idType: (sys) =>
      types.get(sys) ?? (sys.startsWith(LOCAL_ID_SYSTEM) ? sys.slice(LOCAL_ID_SYSTEM.length) : sys),
    eventType,
    refs,
    resolve: resolve ?? (() => undefined),
  };
  return { ctx, refs };
}

function without(obj: JsonObject, keys: readonly string[]): JsonObject {
  // for-in, not Object.entries: the same keys in the same order without an array of pairs.
  const out: JsonObject = {};
  for (const k in obj) if (!keys.includes(k)) out[k] = obj[k];
  return out;
}

function pick(obj: JsonObject, keys: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

/** A resource from an object: table, residue, extensions. */
function build(
  map: ResourceMap,
  whole: JsonObject,
  skip: readonly string[],
  ctx: MapContext,
  only?: readonly string[],
) {
  const obj = only === undefined ? whole : pick(whole, only);
  // One pass over the object (no intermediate key lists): this runs once per resource.
  const base: JsonObject = {};
  for (const k in obj) if (k !== "Extensions" && !skip.includes(k)) base[k] = obj[k];
  const extensions = isObject(obj.Extensions) ? obj.Extensions : undefined;
  let hl7: unknown;
  if (extensions !== undefined) {
    hl7 = extensions[HL7_EXTENSION];
    // Other keys of Extensions than HL7v2 travel in the residue.
    let otherExt: JsonObject | undefined;
    for (const k in extensions) if (k !== HL7_EXTENSION) (otherExt ??= {})[k] = extensions[k];
    if (otherExt !== undefined) base.Extensions = otherExt;
  }
  const res = toResource(map, base, ctx);
  const back = fromResource(map, res, ctx);
  // As addExtensions (appended in this order, no list when both are absent), without its
  // rest array and filter: this runs once per resource.
  const kept = hl7v2Extension(hl7), residue = residueExtension(residueOf(base, back));
  if (kept !== undefined || residue !== undefined) {
    const list = (Array.isArray(res.extension) ? res.extension : (res.extension = [])) as unknown[];
    if (kept !== undefined) list.push(kept);
    if (residue !== undefined) list.push(residue);
  }
  let empty = hl7 === undefined;
  if (empty) { for (const _ in base) empty = false; }
  return { res, empty };
}

/** A resource back to its object: table, residue, extensions. */
function read(map: ResourceMap, res: JsonObject, ctx: MapContext): JsonObject {
  const obj = fromResource(map, res, ctx);
  applyResidue(obj, readResidue(res));
  const hl7 = readHl7v2Extension(res);
  if (hl7 !== undefined) {
    const ext = isObject(obj.Extensions) ? obj.Extensions : (obj.Extensions = {});
    (ext as JsonObject)[HL7_EXTENSION] = hl7;
  }
  return obj;
}

/**
 * Data-model JSON → a FHIR R4 message Bundle. The JSON is expected valid for its model (what
 * `hl7ToJson` gives, or what `validateDataModel` accepted).
 *
 * @throws {FhirError} when `Meta.DataModel`/`Meta.EventType` name no event.
 */
export function modelToFhir(message: DataModelMessage, options: FhirOptions = {}): FhirBundle {
  const meta = message.Meta;
  const ev = eventFor(meta.DataModel, meta.EventType, meta.CanceledEvent ?? undefined);
  if (ev === undefined) {
    throw new FhirError([{
      path: "Meta.EventType",
      text: `no FHIR mapping for ${meta.DataModel}.${meta.EventType}`,
    }]);
  }
  const { ctx, refs } = context(options, ev.eventType);
  const root = message as unknown as JsonObject;
  const controlId = String(getPath(root, "Extensions.HL7v2.Fields.MSH-10") ?? crypto.randomUUID());
  const entries: { fullUrl: string; resource: FhirResource }[] = [];
  const focus: string[] = [];

  const addParts = (parts: readonly Part[], parent: JsonObject, parentKey: string) => {
    const made = new Map<Part, string[]>();
    for (const part of parts) {
      const value = getPath(parent, part.dm);
      const objs = part.many
        ? (Array.isArray(value) ? value.filter(isObject) : [])
        : isObject(value)
        ? [value]
        : part.required
        ? [{}]
        : [];
      const urls: string[] = [];
      objs.forEach((obj, index) => {
        const k: KeyContext = { patient: patientKey, parent: parentKey, index };
        const key = part.key(obj, k) ?? `${part.map.resourceType}|${controlId}|${part.dm}|${index}`;
        const { res, empty } = build(part.map, obj, part.skip ?? [], ctx, part.only);
        if (empty && !part.required) return;
        const id = uuidV5(key);
        const fullUrl = `urn:uuid:${id}`;
        // As `{resourceType, id, ...res}` (same keys, same order) without the generic spread.
        const resource = { resourceType: part.map.resourceType, id } as FhirResource;
        for (const k in res) resource[k] = res[k];
        entries.push({ fullUrl, resource });
        urls.push(fullUrl);
        if (!part.many) refs[part.name] = fullUrl;
        if (part.focus) focus.push(fullUrl);
        if (part.children) {
          const childUrls = addParts(part.children, obj, key);
          for (const child of part.children) {
            const list = childUrls.get(child) ?? [];
            if (child.link && list.length > 0) {
              resource[child.link] = list.map((reference) => ({ reference }));
            }
          }
        }
      });
      made.set(part, urls);
    }
    return made;
  };
  const parts = MESSAGE_PARTS[ev.dataModel];
  const patientObj = getPath(root, "Patient");
  const patientKey = String(
    (isObject(patientObj)
      ? parts[0]?.key(patientObj, { patient: "", parent: "", index: 0 })
      : "") ??
      controlId,
  );
  addParts(parts, root, "");
  linkMerge(entries, refs);

  const header = buildHeader(root, ev, ctx, focus, options, controlId);
  const bundle: FhirBundle = {
    resourceType: "Bundle",
    id: uuidV5(`Bundle|${controlId}`),
    type: "message",
  };
  const ts = instant.toFhir(meta.EventDateTime, ctx);
  if (typeof ts === "string") bundle.timestamp = ts;
  bundle.entry = [header, ...entries];
  // SPM, which the data model keeps as segments, as Specimens (specimen.ts).
  if (ev.dataModel === "Results") liftSpecimens(bundle, options);
  return bundle;
}

/** An A40's patients point at each other: the survivor replaces the merged one. */
function linkMerge(entries: { fullUrl: string; resource: FhirResource }[], refs: JsonObject) {
  const survivor = refs.Patient, merged = refs.MergedPatient;
  if (typeof survivor !== "string" || typeof merged !== "string") return;
  for (const e of entries) {
    if (e.fullUrl === survivor) {
      e.resource.link = [{ other: { reference: merged }, type: "replaces" }];
    }
    if (e.fullUrl === merged) {
      e.resource.link = [{ other: { reference: survivor }, type: "replaced-by" }];
    }
  }
}

const headerSkips = new Map<string, readonly string[]>();

/** The root keys the parts of a data model's messages take (the header gets the rest). */
function headerSkip(model: EventSpec["dataModel"]): readonly string[] {
  let skip = headerSkips.get(model);
  if (skip === undefined) {
    skip = MESSAGE_PARTS[model].map((p) => p.dm.split(".")[0] as string);
    headerSkips.set(model, skip);
  }
  return skip;
}

function buildHeader(
  root: JsonObject,
  ev: EventSpec,
  ctx: MapContext,
  focus: string[],
  options: FhirOptions,
  controlId: string,
): { fullUrl: string; resource: FhirResource } {
  const meta = root.Meta as JsonObject;
  const skip = headerSkip(ev.dataModel);
  const base = without(root, skip);
  base.Meta = without(meta, EVENT_KEYS);
  const { res } = build(MESSAGE_HEADER, base, [], ctx);
  // Bundle.timestamp carries EventDateTime: the residue must not keep it (it is carried).
  const sourceId = getPath(root, "Meta.Source.ID") ?? meta.FacilityCode ?? "hl7v2";
  const eventName = [ev.dataModel, ev.eventType, ev.canceledEvent].filter(Boolean).join(".");
  const id = uuidV5(`MessageHeader|${controlId}`);
  const header: FhirResource = {
    resourceType: "MessageHeader",
    id,
    ...res,
    eventCoding: {
      system: V2_EVENT_SYSTEM,
      code: ev.trigger,
      display: `${ev.messageType}^${ev.trigger}`,
    },
    source: {
      ...(isObject(res.source) ? res.source : {}),
      endpoint: options.sourceEndpoint ??
        `${ENGINE_URN}:source:${encodeURIComponent(String(sourceId))}`,
    },
  };
  if (focus.length > 0) header.focus = focus.map((reference) => ({ reference }));
  addExtensions(header, { url: EXT_DATA_MODEL_EVENT, valueString: eventName });
  return { fullUrl: `urn:uuid:${id}`, resource: header };
}

// ---- FHIR → data model ---------------------------------------------------------------------

const byTrigger = new Map<string, EventSpec>();
for (const e of EVENTS) if (!byTrigger.has(e.trigger)) byTrigger.set(e.trigger, e);

function eventOfName(name: string): EventSpec | undefined {
  const [model, event, canceled] = name.split(".");
  return model && event ? eventFor(model, event, canceled) : undefined;
}

/** The event a message bundle carries: our extension, else `eventCoding`, refined by content. */
function eventOf(header: JsonObject, resources: FhirResource[]): EventSpec {
  const ext = findExtension(header, EXT_DATA_MODEL_EVENT);
  if (ext && typeof ext.valueString === "string") {
    const ev = eventOfName(ext.valueString);
    if (ev) return ev;
  }
  const coding = isObject(header.eventCoding) ? header.eventCoding : {};
  const code = typeof coding.code === "string" ? coding.code : "";
  let ev: EventSpec | undefined;
  if (coding.system === DATA_MODEL_EVENT_SYSTEM) ev = eventOfName(code);
  else if (coding.system === V2_EVENT_SYSTEM || coding.system === undefined) {
    ev = byTrigger.get(code);
    if (ev?.dataModel === "Order") {
      const sr = resources.find((r) => r.resourceType === "ServiceRequest");
      ev = eventFor("Order", orderEventOfStatus(sr?.status)) ?? ev;
    } else if (ev?.dataModel === "Notes" || ev?.dataModel === "Media") {
      const doc = resources.find((r) => r.resourceType === "DocumentReference");
      const type = getPath(doc, "content")
        ? String(
          (doc?.content as JsonObject[])[0]?.attachment &&
            ((doc?.content as JsonObject[])[0]?.attachment as JsonObject).contentType,
        )
        : "";
      ev = eventFor(type.startsWith("text/plain") ? "Notes" : "Media", "New") ?? ev;
    }
  }
  if (ev === undefined) {
    const known = [...byTrigger.keys()].join(", ");
    throw new FhirError([{
      path: "Bundle.entry[0].resource.eventCoding",
      text: `eventCoding ${JSON.stringify(code)} (${String(coding.system ?? "no system")}) ` +
        `names no supported event (HL7 v2-0003 codes: ${known}; or ${DATA_MODEL_EVENT_SYSTEM} ` +
        `codes such as PatientAdmin.Arrival)`,
    }]);
  }
  return ev;
}

/**
 * A FHIR message Bundle → data-model JSON (then `jsonToHl7` gives HL7 v2). Reads what the
 * tables map; a bundle this engine made gives back exactly the JSON it was made from.
 *
 * @throws {FhirError} for a bundle that is not a message with a MessageHeader first, or whose
 * event is not supported; each issue has a FHIRPath location.
 */
export function fhirToModel(input: unknown, options: FhirOptions = {}): DataModelMessage {
  const bundle = lowerSpecimens(input, options);
  if (!isObject(bundle) || bundle.resourceType !== "Bundle") {
    throw new FhirError([{ path: "Bundle", text: "not a FHIR Bundle (resourceType)" }]);
  }
  if (bundle.type !== "message") {
    throw new FhirError([{
      path: "Bundle.type",
      text: `a message bundle is required (type "message"); got ${JSON.stringify(bundle.type)}`,
    }]);
  }
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  const header = isObject(entries[0]) ? entries[0].resource : undefined;
  if (!isObject(header) || header.resourceType !== "MessageHeader") {
    throw new FhirError([{
      path: "Bundle.entry[0].resource",
      text: "the first entry of a message bundle must be a MessageHeader",
    }]);
  }
  const resources: FhirResource[] = [];
  const index = new Map<string, FhirResource>();
  const entryOf = new Map<FhirResource, number>([[header as FhirResource, 0]]);
  for (const [i, e] of entries.entries()) {
    if (i === 0) continue;
    if (!isObject(e) || !isObject(e.resource) || typeof e.resource.resourceType !== "string") {
      continue;
    }
    const r = e.resource as FhirResource;
    resources.push(r);
    entryOf.set(r, i);
    if (typeof e.fullUrl === "string") index.set(e.fullUrl, r);
    if (typeof r.id === "string") index.set(`${r.resourceType}/${r.id}`, r);
  }
  const ev = eventOf(header, resources);
  // What the translation follows must be in the bundle (references.ts).
  const located = (res: FhirResource, issues: FhirIssue[]) => {
    const at = `Bundle.entry[${entryOf.get(res) ?? "?"}].resource`;
    return issues.map((i) => ({ ...i, path: i.path === "" ? at : `${at}.${i.path}` }));
  };
  const readTypes = typesRead(ev.dataModel);
  const refIssues = resources.filter((r) => readTypes.has(r.resourceType)).flatMap((r) =>
    located(
      r,
      referenceIssues(r, (ref) => {
        const hit = index.get(ref);
        return hit === undefined ? undefined : { resource: hit, entry: entryOf.get(hit) ?? -1 };
      }),
    )
  );
  if (refIssues.length > 0) throw new FhirError(refIssues);
  const { ctx } = context(options, ev.eventType, (ref) => index.get(ref));
  const meta: JsonObject = { DataModel: ev.dataModel, EventType: ev.eventType };
  if (ev.canceledEvent) meta.CanceledEvent = ev.canceledEvent;
  // A value a table refuses is named where the sender put it.
  const readEntry = (map: ResourceMap, res: FhirResource): JsonObject => {
    const unread = requiredCodeIssues(res, res.resourceType);
    if (unread.length > 0) throw new FhirError(located(res, unread));
    try {
      return read(map, res, ctx);
    } catch (error) {
      if (!(error instanceof FhirError)) throw error;
      throw new FhirError(located(res, error.issues));
    }
  };
  const root: JsonObject = readEntry(MESSAGE_HEADER, header as FhirResource);
  root.Meta = { ...meta, ...(isObject(root.Meta) ? root.Meta : {}) };
  if (typeof bundle.timestamp === "string" && getPath(root, "Meta.EventDateTime") === undefined) {
    setPath(root, "Meta.EventDateTime", bundle.timestamp);
  }
  const claimed = new Set<FhirResource>();
  const readParts = (parts: readonly Part[], parent: JsonObject, parentRes?: FhirResource) => {
    for (const part of parts) {
      let candidates: FhirResource[];
      if (part.link !== undefined && parentRes !== undefined) {
        const refs = Array.isArray(parentRes[part.link]) ? parentRes[part.link] as unknown[] : [];
        candidates = refs.map((r) => isObject(r) ? index.get(String(r.reference)) : undefined)
          .filter((r): r is FhirResource => r?.resourceType === part.map.resourceType);
      } else {
        candidates = resources.filter((r) =>
          r.resourceType === part.map.resourceType && !claimed.has(r) &&
          (part.select?.(r) ?? true)
        );
      }
      if (!part.many) candidates = candidates.slice(0, 1);
      const objs: JsonObject[] = [];
      for (const res of candidates) {
        claimed.add(res);
        const obj = readEntry(part.map, res);
        if (part.children) readParts(part.children, obj, res);
        objs.push(obj);
      }
      if (objs.length === 0) continue;
      const existing = getPath(parent, part.dm);
      if (part.many) setPath(parent, part.dm, objs);
      else if (isObject(existing)) Object.assign(existing, objs[0]);
      else setPath(parent, part.dm, objs[0]);
    }
  };
  readParts(MESSAGE_PARTS[ev.dataModel], root);
  // The data model holds one patient (and an A40's merged one): another would be lost.
  const first = [...claimed].find((r) => r.resourceType === "Patient");
  const extra = resources.filter((r) => r.resourceType === "Patient" && !claimed.has(r));
  if (extra.length > 0) {
    throw new FhirError(extra.flatMap((r) =>
      located(r, [{
        path: "",
        text: first === undefined
          ? `a Patient a ${ev.dataModel} message does not read (link.type "replaced-by")`
          : `a second Patient (the message is about one patient: Bundle.entry[${
            entryOf.get(first)
          }])`,
      }])
    ));
  }
  return root as DataModelMessage;
}

const readTypeSets = new Map<string, Set<string>>();

/** The resource types a data model's message reads (the Specimens its reports name, too). */
function typesRead(model: EventSpec["dataModel"]): Set<string> {
  let set = readTypeSets.get(model);
  if (set === undefined) {
    set = new Set(["Specimen"]);
    const add = (parts: readonly Part[]) => {
      for (const p of parts) {
        set!.add(p.map.resourceType);
        if (p.children) add(p.children);
      }
    };
    add(MESSAGE_PARTS[model]);
    readTypeSets.set(model, set);
  }
  return set;
}

/** The issues of a FhirError as a list (for callers that collect). */
export function issuesOf(error: unknown): FhirIssue[] {
  return error instanceof FhirError ? error.issues : [];
}

/** One resource read back with `map` alone, outside a message (a search's match). */
export function resourceToModel(
  map: ResourceMap,
  resource: JsonObject,
  options: FhirOptions = {},
): JsonObject {
  return read(map, resource, context(options, "").ctx);
}

/** The conversion context of `options` outside a message (identifier systems, time zone). */
export function fhirContext(options: FhirOptions = {}): MapContext {
  return context(options, "").ctx;
}
