/**
 * The translator's two directions and their options: {@link hl7ToJson} and {@link jsonToHl7}.
 *
 * @module
 */

import { escapeHl7, type Hl7Message, newControlId, parseHl7, withUtf8Label } from "../hl7v2/mod.ts";
import { tryHl7ToIso } from "../time/mod.ts";
import { DataModelError, DataModelValidationError } from "./errors.ts";
import { eventFor, type EventSpec, identifyHl7, meansEvent, unmappedReason } from "./events.ts";
import { extensionOf } from "./extensions.ts";
import {
  encodeTree,
  type FieldTree,
  fieldTree,
  type RawSegment,
  rawSegments,
  STD,
} from "./hl7_tree.ts";
import type { JsonObject } from "./json_path.ts";
import { MODELS, REQUIRED_SEGMENTS } from "./models/mod.ts";
import { componentsToNoteBody, noteBodyToComponents } from "./notes_body.ts";
import { readModel } from "./read.ts";
import {
  DEFAULT_MAX_EMBEDDED_FILE_BYTES,
  validateDataModel,
  type ValidationResult,
} from "./validate.ts";
import { writeModel } from "./write.ts";

/** A reference to an engine object in `Meta` (`Source`, `Destinations[]`). */
export interface MetaRef {
  ID: string;
  Name?: string;
}

/** A log reference in `Meta.Logs[]`. */
export interface MetaLog {
  ID: string;
  AttemptID?: string;
}

/** A translation problem in `Meta.Errors[]`. */
export interface MetaError {
  Text: string;
  Type: string;
  Module: string;
}

/** The envelope of every data-model message. */
export interface DataModelMeta {
  DataModel: string;
  EventType: string;
  /** `PatientAdmin.Cancel` only: `Arrival`, `Transfer` or `Discharge`. */
  CanceledEvent?: string;
  /** UTC ISO 8601 (`…Z`). */
  EventDateTime?: string;
  Test?: boolean;
  Source?: MetaRef;
  Destinations?: MetaRef[];
  Logs?: MetaLog[];
  FacilityCode?: string;
  Errors?: MetaError[];
  [key: string]: unknown;
}

/** A data-model message: `Meta` and the model's objects (`Patient`, `Visit`, `Orders`…). */
export interface DataModelMessage {
  Meta: DataModelMeta;
  [key: string]: unknown;
}

/** Options of {@link hl7ToJson}. */
export interface Hl7ToJsonOptions {
  /** IANA zone of the facility, for HL7 times without offset. Default `UTC`. */
  readonly timeZone?: string;
  /** `Meta.Source`: the integration or source the message came from. */
  readonly source?: MetaRef;
  /** `Meta.Destinations`. */
  readonly destinations?: readonly MetaRef[];
  /** `Meta.Logs`. */
  readonly logs?: readonly MetaLog[];
  /** Largest embedded file (decoded bytes). Default 10 MB. */
  readonly maxEmbeddedFileBytes?: number;
  /**
   * Keep what the tables do not map as `Extensions.HL7v2` (default true), so that HL7 → JSON →
   * HL7 loses nothing. `false` gives only the mapped JSON, a little faster.
   */
  readonly extensions?: boolean;
}

/** Options of {@link jsonToHl7}. */
export interface JsonToHl7Options {
  /** IANA zone whose wall time (with offset) date-times are written in. Default `UTC`. */
  readonly timeZone?: string;
  /** MSH-10. Default: the one kept in the extensions, else a new one. */
  readonly controlId?: string;
  /** MSH-3, overriding what the JSON carries. */
  readonly sendingApplication?: string;
  /** MSH-4, overriding `Meta.FacilityCode`. */
  readonly sendingFacility?: string;
  /** MSH-5. */
  readonly receivingApplication?: string;
  /** MSH-6. */
  readonly receivingFacility?: string;
  /** MSH-12 when the JSON carries none. Default `2.5.1`. */
  readonly version?: string;
  /** The time (MSH-7, EVN-2) when `Meta.EventDateTime` is absent. Default: now. */
  readonly now?: Date;
  /** Largest embedded file (decoded bytes). Default 10 MB. */
  readonly maxEmbeddedFileBytes?: number;
  /**
   * What {@link validateDataModel} said of this same JSON, with the same `maxEmbeddedFileBytes`,
   * when the caller has just validated it (a message written for several destinations): it is
   * not validated again.
   */
  readonly validated?: Extract<ValidationResult, { ok: true }>;
}

/** "a PID", "an ORC": the article as the segment ID is spelled out. */
function withArticle(id: string): string {
  return `${"AEFHILMNORSX".includes(id[0] ?? "") ? "an" : "a"} ${id}`;
}

/**
 * Refuses a message without a segment its data model cannot do without (segments joined by
 * something other than a terminator leave one long MSH and nothing else).
 *
 * @throws {DataModelError} `incomplete`, naming the segment.
 */
function requireSegments(msg: Hl7Message, ev: EventSpec, segments: readonly RawSegment[]): void {
  const table = REQUIRED_SEGMENTS[ev.dataModel];
  const required = table[ev.eventType] ?? table["*"] ?? [];
  for (const id of required) {
    if (segments.some((s) => s.name === id)) continue;
    const type = [msg.get("MSH-9.1") ?? "", msg.get("MSH-9.2") ?? ""].join("^");
    throw new DataModelError(
      "incomplete",
      `${type} requires ${withArticle(id)} segment; none found`,
      { condition: "100", location: id },
    );
  }
}

/** A date as UTC ISO 8601 to the second (`…T04:30:00Z`). */
function isoSeconds(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

const knownZones = new Set<string>();

/** The zone to use (default UTC); an unknown one is an `invalid` error, not silent nonsense. */
function checkZone(zone: string | undefined): string {
  const z = zone ?? "UTC";
  if (!knownZones.has(z)) {
    const r = tryHl7ToIso("2000", { timeZone: z });
    if (!r.ok) throw new DataModelError("invalid", r.error.message);
    knownZones.add(z);
  }
  return z;
}

/**
 * Translates an HL7 v2 message to its data-model JSON.
 *
 * @throws {DataModelError} `unmapped` when no data model maps MSH-9 (or ORC-1 of an order),
 * `incomplete` when a segment the model requires is missing, `invalid` for an encapsulated file
 * over the limit or an unknown time zone. `error.hl7` says where, in HL7 table 0357 terms.
 * @throws {Hl7ParseError} when given text that does not parse.
 */
export function hl7ToJson(
  message: Hl7Message | string,
  options: Hl7ToJsonOptions = {},
): DataModelMessage {
  const timeZone = checkZone(options.timeZone);
  const msg = typeof message === "string" ? parseHl7(message) : message;
  const ev = identifyHl7(msg);
  if (ev === undefined) {
    const why = unmappedReason(msg);
    throw new DataModelError("unmapped", why.text, {
      condition: why.condition,
      location: why.location,
    });
  }
  const meta: JsonObject = { DataModel: ev.dataModel, EventType: ev.eventType };
  if (ev.canceledEvent !== undefined) meta.CanceledEvent = ev.canceledEvent;
  const root: JsonObject = { Meta: meta };
  const segments = rawSegments(msg);
  requireSegments(msg, ev, segments);
  const extensions = options.extensions ?? true;
  const { warnings } = readModel(MODELS[ev.dataModel], segments, root, msg.delimiters, {
    timeZone,
    maxEmbeddedFileBytes: options.maxEmbeddedFileBytes ?? DEFAULT_MAX_EMBEDDED_FILE_BYTES,
    extensions,
    trigger: ev.trigger,
    eventType: ev.eventType,
  });
  if (ev.dataModel === "Notes") componentsToNoteBody(root);
  const msh9 = encodeTree(fieldTree(segments[0]?.fields[9] ?? "", msg.delimiters));
  if (extensions && msh9 !== `${ev.messageType}^${ev.trigger}^${ev.structure}`) {
    // MSH-9 is not a JSON property: keep the original when it is not the canonical one.
    const ext = extensionOf(root, true);
    (ext.Fields ??= {})["MSH-9"] = msh9;
  }
  if (options.source) meta.Source = { ...options.source };
  if (options.destinations) meta.Destinations = options.destinations.map((d) => ({ ...d }));
  if (options.logs) meta.Logs = options.logs.map((l) => ({ ...l }));
  meta.Errors = warnings.map((Text) => ({ Text, Type: "warning", Module: "datamodel" }));
  return root as DataModelMessage;
}

/**
 * Translates data-model JSON to an HL7 v2 message (segments separated by CR, delimiters
 * `|^~\&`), to be sent as UTF-8: when the text is not pure ASCII, MSH-18 is `UNICODE UTF-8` (an
 * MSH-18 the JSON carries is kept only if it names UTF-8); an MSH-18 naming UTF-16 is replaced
 * as well. The JSON is validated first (unless `options.validated` says it was).
 *
 * @throws {DataModelValidationError} listing every schema problem with its JSON path.
 * @throws {DataModelError} `invalid` for an unknown time zone.
 */
export function jsonToHl7(json: unknown, options: JsonToHl7Options = {}): string {
  const checked = options.validated ?? validateDataModel(json, options);
  if (!checked.ok) throw new DataModelValidationError(checked.issues);
  const given = json as DataModelMessage;
  // Without a time the message is stamped now: MSH-7 and EVN-2 both get it through the table.
  const root: DataModelMessage = given.Meta.EventDateTime == null
    ? { ...given, Meta: { ...given.Meta, EventDateTime: isoSeconds(options.now ?? new Date()) } }
    : given;
  const ev = eventFor(checked.dataModel, checked.eventType, root.Meta.CanceledEvent ?? undefined);
  if (ev === undefined) {
    throw new DataModelValidationError([{ path: "Meta.CanceledEvent", rule: "required" }]);
  }
  const timeZone = checkZone(options.timeZone);
  // An MSH-9 kept from the HL7 it came from is written again if it still means this event
  // (ADT^A34 stays A34, and EVN-1 follows it).
  const kept = fieldTree(extensionOf(root)?.Fields?.["MSH-9"] ?? "", STD);
  const keptType = kept[0]?.[0]?.[0] ?? "", keptTrigger = kept[0]?.[1]?.[0] ?? "";
  const keep = meansEvent(keptType, keptTrigger, ev);
  const trigger = keep ? keptTrigger : ev.trigger;
  const leafTree = (v: string): FieldTree => [[[escapeHl7(v, STD)]]];
  const finish = (name: string, t: FieldTree[]): void => {
    if (name !== "MSH") return;
    t[9] = keep ? kept : [[[ev.messageType], [ev.trigger], [ev.structure]]];
    const overrides: [number, string | undefined][] = [
      [3, options.sendingApplication],
      [4, options.sendingFacility],
      [5, options.receivingApplication],
      [6, options.receivingFacility],
      [10, options.controlId],
    ];
    for (const [f, v] of overrides) if (v !== undefined) t[f] = leafTree(v);
    const empty = (f: number) => t[f] === undefined || encodeTree(t[f] as FieldTree) === "";
    if (empty(10)) t[10] = leafTree(newControlId());
    if (empty(11)) t[11] = leafTree("P");
    if (empty(12)) t[12] = leafTree(options.version ?? "2.5.1");
  };
  const body = ev.dataModel === "Notes" ? noteBodyToComponents(root) : root;
  const segments = writeModel(MODELS[ev.dataModel], body, {
    timeZone,
    trigger,
    eventType: ev.eventType,
    finish,
  });
  // The text goes out as UTF-8: MSH-18 says so when it holds more than ASCII (an MSH-18 the JSON
  // kept from the HL7 it came from, `8859/1`, is no longer true of it).
  return withUtf8Label(segments.join("\r"));
}
