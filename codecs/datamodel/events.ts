/**
 * Which HL7 v2 message is which data model and event type, both ways.
 *
 * Each (data model, event type[, canceled event]) has one canonical MSH-9 that the writer uses;
 * a few more MSH-9 values read into the same event (ADT^A34 is a PatientMerge like ADT^A40,
 * OML^O21 an Order like ORM^O01). ORM/OML take their event type from ORC-1 and MDM^T02 is Media
 * when it carries encapsulated data (an OBX of type ED), else Notes.
 *
 * @module
 */

import type { Hl7Message } from "../hl7v2/mod.ts";

/** The data models the translator knows. */
export type DataModelName =
  | "PatientAdmin"
  | "Results"
  | "Scheduling"
  | "Order"
  | "Notes"
  | "Media";

/** One event of one data model and the HL7 v2 message that carries it. */
export interface EventSpec {
  readonly dataModel: DataModelName;
  readonly eventType: string;
  /** For `PatientAdmin.Cancel`: the event canceled (`Arrival`, `Transfer`, `Discharge`). */
  readonly canceledEvent?: string;
  /** MSH-9.1, e.g. `ADT`. */
  readonly messageType: string;
  /** MSH-9.2, e.g. `A01`. */
  readonly trigger: string;
  /** MSH-9.3, e.g. `ADT_A01`. */
  readonly structure: string;
}

function spec(
  dataModel: DataModelName,
  eventType: string,
  msh9: string,
  canceledEvent?: string,
): EventSpec {
  const [messageType, trigger, structure] = msh9.split("^") as [string, string, string];
  return {
    dataModel,
    eventType,
    messageType,
    trigger,
    structure,
    ...(canceledEvent ? { canceledEvent } : {}),
  };
}

/** Every event the writer can produce, with its canonical MSH-9. */
export const EVENTS: readonly EventSpec[] = [
  spec("PatientAdmin", "Arrival", "ADT^A01^ADT_A01"),
  spec("PatientAdmin", "Transfer", "ADT^A02^ADT_A02"),
  spec("PatientAdmin", "Discharge", "ADT^A03^ADT_A03"),
  spec("PatientAdmin", "Registration", "ADT^A04^ADT_A01"),
  spec("PatientAdmin", "PreAdmit", "ADT^A05^ADT_A05"),
  spec("PatientAdmin", "VisitUpdate", "ADT^A08^ADT_A01"),
  spec("PatientAdmin", "PatientUpdate", "ADT^A31^ADT_A05"),
  spec("PatientAdmin", "Cancel", "ADT^A11^ADT_A09", "Arrival"),
  spec("PatientAdmin", "Cancel", "ADT^A12^ADT_A12", "Transfer"),
  spec("PatientAdmin", "Cancel", "ADT^A13^ADT_A01", "Discharge"),
  spec("PatientAdmin", "NewPatient", "ADT^A28^ADT_A05"),
  spec("PatientAdmin", "PatientMerge", "ADT^A40^ADT_A39"),
  spec("Results", "New", "ORU^R01^ORU_R01"),
  spec("Scheduling", "New", "SIU^S12^SIU_S12"),
  spec("Scheduling", "Reschedule", "SIU^S13^SIU_S12"),
  spec("Scheduling", "Modification", "SIU^S14^SIU_S12"),
  spec("Scheduling", "Cancel", "SIU^S15^SIU_S12"),
  spec("Scheduling", "NoShow", "SIU^S26^SIU_S12"),
  spec("Order", "New", "ORM^O01^ORM_O01"),
  spec("Order", "Update", "ORM^O01^ORM_O01"),
  spec("Order", "Cancel", "ORM^O01^ORM_O01"),
  spec("Notes", "New", "MDM^T02^MDM_T02"),
  spec("Media", "New", "MDM^T02^MDM_T02"),
];

/** ORC-1 order control codes written for each Order event. */
export const ORDER_CONTROL: Readonly<Record<string, string>> = {
  New: "NW",
  Update: "XO",
  Cancel: "CA",
};

/** The ORC-1 order controls read (HL7 table 0119) and the Order event each means. */
const ORDER_EVENT_OF: Readonly<Record<string, string>> = {
  NW: "New",
  XO: "Update",
  XX: "Update",
  SC: "Update",
  CA: "Cancel",
  OC: "Cancel",
  DC: "Cancel",
  OD: "Cancel",
};

/** The Order event an ORC-1 code means (an empty ORC-1 is New), or `undefined`. */
export function orderEventOf(code: string): string | undefined {
  return code === ""
    ? "New"
    : Object.hasOwn(ORDER_EVENT_OF, code)
    ? ORDER_EVENT_OF[code]
    : undefined;
}

/** The ORC-1 order controls the reader understands, for error messages. */
export function supportedOrderControls(): string[] {
  return Object.keys(ORDER_EVENT_OF);
}

const byKey = new Map<string, EventSpec>();
const models = new Map<string, Set<string>>();
for (const e of EVENTS) {
  byKey.set(eventKey(e.dataModel, e.eventType, e.canceledEvent), e);
  let set = models.get(e.dataModel);
  if (set === undefined) models.set(e.dataModel, set = new Set());
  set.add(e.eventType);
}

function eventKey(model: string, event: string, canceled?: string): string {
  return `${model}.${event}${canceled ? `.${canceled}` : ""}`;
}

/** The data models known, in table order. */
export function dataModels(): string[] {
  return [...models.keys()];
}

/** The event types of a data model (empty when the model is unknown). */
export function eventTypes(dataModel: string): string[] {
  return [...(models.get(dataModel) ?? [])];
}

/** The canceled events a `PatientAdmin.Cancel` can name. */
export const CANCELED_EVENTS: readonly string[] = ["Arrival", "Transfer", "Discharge"];

/** The spec the writer uses for a JSON message's Meta, or `undefined` if unknown. */
export function eventFor(
  dataModel: string,
  eventType: string,
  canceledEvent?: string,
): EventSpec | undefined {
  return byKey.get(eventKey(dataModel, eventType, canceledEvent));
}

/** MSH-9.1^MSH-9.2 that read into an event without being its canonical MSH-9. */
const ALSO: Readonly<Record<string, string>> = {
  "ADT^A34": "PatientAdmin.PatientMerge",
  "OML^O21": "Order.*",
};

const byTrigger = new Map<string, EventSpec>();
for (const e of EVENTS) {
  const k = `${e.messageType}^${e.trigger}`;
  if (!byTrigger.has(k)) byTrigger.set(k, e);
}

/**
 * The event an HL7 v2 message carries, or `undefined` when no data model maps its MSH-9.
 * Reads MSH-9, and ORC-1 (orders) or OBX-2 (documents) where MSH-9 alone does not decide.
 */
export function identifyHl7(message: Hl7Message): EventSpec | undefined {
  const type = message.get("MSH-9.1") ?? "";
  const trigger = message.get("MSH-9.2") ?? "";
  const key = `${type}^${trigger}`;
  const alias = ALSO[key];
  if (type === "ORM" && trigger === "O01" || alias === "Order.*") {
    const event = orderEventOf(message.get("ORC-1") ?? "");
    return event === undefined ? undefined : eventFor("Order", event);
  }
  if (key === "MDM^T02") {
    const media = message.getAll("OBX-2").some((t) => t === "ED");
    return eventFor(media ? "Media" : "Notes", "New");
  }
  if (alias !== undefined) {
    const [model, event] = alias.split(".") as [string, string];
    return eventFor(model, event);
  }
  return byTrigger.get(key);
}

/** Whether MSH-9.1/MSH-9.2 read into the event `ev` (an extension's MSH-9 may be kept then). */
export function meansEvent(type: string, trigger: string, ev: EventSpec): boolean {
  const key = `${type}^${trigger}`;
  if (ev.dataModel === "Order") return key === "ORM^O01" || key === "OML^O21";
  if (ev.dataModel === "Notes" || ev.dataModel === "Media") return key === "MDM^T02";
  const alias = ALSO[key];
  if (alias !== undefined) return alias === `${ev.dataModel}.${ev.eventType}`;
  return byTrigger.get(key) === ev;
}

/**
 * The data model and event an HL7 message type maps to (`ADT`, `A01` → PatientAdmin, Arrival),
 * or `undefined`. ORM/OML (event from ORC-1) and MDM^T02 (Notes or Media by OBX-2) give their
 * most common answer (Order New, Notes New); {@link identifyHl7} reads the segments that decide.
 */
export function mappedEvent(
  messageType: string,
  triggerEvent: string,
): { dataModel: string; eventType: string } | undefined {
  const key = `${messageType}^${triggerEvent}`;
  const alias = ALSO[key];
  const e = alias === undefined
    ? byTrigger.get(key)
    : alias === "Order.*"
    ? eventFor("Order", "New")
    : eventFor(...(alias.split(".") as [string, string]));
  return e === undefined ? undefined : { dataModel: e.dataModel, eventType: e.eventType };
}

/** The MSH-9 values the reader understands, for error messages. */
export function supportedTriggers(): string[] {
  return [...new Set([...byTrigger.keys(), ...Object.keys(ALSO)])];
}

/** Why no data model maps a message: the text, and where and what in HL7 terms. */
export interface UnmappedReason {
  /** Names the value at fault and what is supported. */
  readonly text: string;
  /** HL7 table 0357 code: 101 (MSH-9 empty), 200 (message type), 201 (event or ORC-1). */
  readonly condition: string;
  /** HL7 path of the field at fault. */
  readonly location: string;
}

/**
 * Why {@link identifyHl7} found no event for `message`: the message type, the trigger event,
 * or, when MSH-9 is known but a field value selects the event (ORC-1 of an order), that field
 * and its value.
 */
export function unmappedReason(message: Hl7Message): UnmappedReason {
  const type = message.get("MSH-9.1") ?? "", trigger = message.get("MSH-9.2") ?? "";
  const key = `${type}^${trigger}`;
  if (type === "" && trigger === "") {
    return { text: "MSH-9 (message type) is empty", condition: "101", location: "MSH-9" };
  }
  if (key === "ORM^O01" || ALSO[key] === "Order.*") {
    const control = message.get("ORC-1") ?? "";
    return {
      text: `ORC-1 ${JSON.stringify(control)} is not a supported order control for ${key} ` +
        `(supported: ${supportedOrderControls().join(", ")})`,
      condition: "201",
      location: "ORC-1",
    };
  }
  const supported = supportedTriggers();
  const typeKnown = supported.some((k) => k.startsWith(`${type}^`));
  return {
    text: `no data model maps ${key} (supported: ${supported.join(", ")})`,
    condition: typeKnown ? "201" : "200",
    location: typeKnown ? "MSH-9.2" : "MSH-9.1",
  };
}
