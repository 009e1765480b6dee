/**
 * The application step's decision for one HL7 v2 message: which data model and event it carries
 * (when one maps it), which destinations the subscriptions send it to, and in which form — the
 * HL7 as received, or its data-model JSON. Pure: the inbound actor stores what this decides.
 * @module
 */

import type { Hl7Message } from "../../codecs/hl7v2/mod.ts";
import {
  DataModelError,
  type DataModelMessage,
  type Hl7Fault,
  hl7ToJson,
  identifyHl7,
  unmappedReason,
} from "../../codecs/datamodel/mod.ts";
import {
  type Config,
  type DestinationConfig,
  formatMismatch,
  type IntegrationConfig,
  type SubscriptionConfig,
} from "../config/mod.ts";
import { type RouteFormat, selectRoutes } from "./subscriptions.ts";
import { type FhirPayload, fhirPayload, type FhirResult, vxuPayload } from "./fhir_routing.ts";
import { errorMessage } from "../runtime/errors.ts";
import { documentTypeFact } from "./embedded_ccda.ts";
import { type Shaped, shapeHl7, shapeJson } from "./shaping.ts";

const byId = new WeakMap<Config, ReadonlyMap<string, DestinationConfig>>();

/**
 * The config's destinations by id, made once per config (a reload brings a new config object):
 * routing runs per message, and a map of 1,000 destinations per message was work for nothing.
 */
function destinationsById(config: Config): ReadonlyMap<string, DestinationConfig> {
  let map = byId.get(config);
  if (!map) {
    map = new Map(config.destinations.map((d) => [d.id, d]));
    byId.set(config, map);
  }
  return map;
}

/** What one integration's subscriptions ask of every message it sends (see {@link factsOf}). */
interface IntegrationNeeds {
  /** A subscription of it filters (`sendIf`): the JSON is made for every message. */
  filters: boolean;
  /** A subscription of it routes by embedded document type: the document is read. */
  documentTypes: boolean;
}

const needsByConfig = new WeakMap<Config, Map<string, IntegrationNeeds>>();

/** What `integrationId`'s subscriptions need, worked out once per config, not per message. */
function needsOf(config: Config, integrationId: string): IntegrationNeeds {
  let byIntegration = needsByConfig.get(config);
  if (!byIntegration) {
    byIntegration = new Map();
    needsByConfig.set(config, byIntegration);
  }
  let needs = byIntegration.get(integrationId);
  if (!needs) {
    const mine = config.subscriptions.filter((s) => s.from.integration === integrationId);
    needs = {
      filters: mine.some((s) => s.filter?.sendIf),
      documentTypes: mine.some((s) => s.documentTypes),
    };
    byIntegration.set(integrationId, needs);
  }
  return needs;
}

/** One destination and the form it gets the message in. */
export interface PlannedRoute {
  destination: DestinationConfig;
  format: RouteFormat;
  /** The subscription that selected it (its modifiers / HL7 edits apply). */
  subscription?: SubscriptionConfig;
  /** The payload after the route's modifiers or HL7 edits, when it has any. */
  shaped?: Shaped;
  /** A FHIR route's bundle (made from the shaped JSON when the route has modifiers). */
  fhir?: FhirPayload;
}

/**
 * A destination a subscription selects but whose form cannot be produced (no data model maps
 * the message, a segment the model needs is missing, JSON asked of an MLLP destination).
 */
export interface FailedRoute {
  destination: DestinationConfig;
  /** Names the destination and says why. */
  reason: string;
  /** In HL7 terms when the sender's message is at fault; absent for a configuration problem. */
  fault?: Hl7Fault;
}

/** What {@link planHl7Routes} decided. */
export interface Hl7Plan {
  dataModel?: string;
  eventType?: string;
  routes: PlannedRoute[];
  /** The translation, when a route wants JSON and a mapping exists. */
  json?: DataModelMessage;
  /**
   * The translation already serialised (as `JSON.stringify(json)` in UTF-8), when the plan was
   * made on the planning thread: it then comes without `json`.
   */
  jsonBytes?: Uint8Array;
  /** Selected destinations that get nothing, and why: each gets a FAILED SEND log. */
  failures: FailedRoute[];
  /** The failures' reasons, for the RECEIVE log. */
  problems: string[];
}

/**
 * The form a destination gets when its subscription does not say: FHIR for a FHIR server, JSON
 * for other HTTPS destinations, HL7 v2 for the rest.
 */
export function defaultFormat(destination: DestinationConfig | undefined): RouteFormat {
  return destination?.https?.fhir ? "fhir" : destination?.https ? "json" : "hl7v2";
}

/**
 * MSH-9's message type and trigger event as `ADT^A01` (either alone when the other is empty).
 *
 * @example
 * ```ts
 * hl7TypeOf(parseHl7("MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5")); // "ADT^A01"
 * ```
 */
export function hl7TypeOf(message: Hl7Message): string {
  const { messageType, triggerEvent } = message;
  return messageType && triggerEvent
    ? `${messageType}^${triggerEvent}`
    : messageType || triggerEvent || "";
}

/** Decides routes for `message` from `integration`; see the module doc. */
export function planHl7Routes(options: {
  config: Config;
  integration: IntegrationConfig | undefined;
  integrationId: string;
  message: Hl7Message;
}): Hl7Plan {
  const { config, message, integration } = options;
  const destinations = destinationsById(config);
  const event = identifyHl7(message);
  const hl7Type = hl7TypeOf(message);
  // VXU^V04 has no data model: a FHIR route converts the HL7 itself (codecs/fhir/vxu.ts).
  const directFhir = hl7Type === "VXU^V04";
  // Filters read the JSON, so it is made when a subscription of this integration filters or
  // when a destination wants JSON; otherwise HL7 passes through untouched and untranslated.
  const needs = needsOf(config, options.integrationId);
  let json: DataModelMessage | undefined;
  let jsonError: { text: string; fault?: Hl7Fault } | undefined;
  const translate = () => {
    if (json || jsonError) return;
    if (!event) {
      const why = unmappedReason(message);
      jsonError = { text: why.text, fault: { condition: why.condition, location: why.location } };
      return;
    }
    try {
      json = hl7ToJson(message, {
        timeZone: integration?.timeZone ?? "UTC",
        source: {
          ID: options.integrationId,
          ...(integration?.name ? { Name: integration.name } : {}),
        },
        maxEmbeddedFileBytes: config.limits.maxEmbeddedFileBytes,
      });
    } catch (error) {
      jsonError = error instanceof DataModelError
        ? { text: error.message, ...(error.hl7 ? { fault: error.hl7 } : {}) }
        : { text: errorMessage(error) };
    }
  };
  if (event && needs.filters) translate();
  const routes = selectRoutes(
    config.subscriptions,
    {
      from: { integration: options.integrationId },
      ...(hl7Type ? { hl7Type } : {}),
      ...(event ? { dataModel: event.dataModel, eventType: event.eventType } : {}),
      ...(json ? { json } : {}),
      // Read only when a subscription routes by it: it parses the embedded document.
      ...(needs.documentTypes ? documentTypeFact(message) : {}),
    },
    (id) => defaultFormat(destinations.get(id)),
  );
  const planned: PlannedRoute[] = [];
  const failures: FailedRoute[] = [];
  for (const route of routes) {
    const destination = destinations.get(route.destinationId);
    if (!destination) continue;
    if (route.format !== "hl7v2") {
      const form = route.format === "json" ? "JSON" : "FHIR";
      // The rule `main.ts check` applies to subscriptions too; kept for a config built unchecked.
      const mismatch = formatMismatch(destination, route.format);
      if (mismatch) {
        failures.push({
          destination,
          reason:
            `destination ${destination.id} is ${mismatch.kind}: it takes ${mismatch.takes}, ` +
            `not ${mismatch.asked}`,
        });
        continue;
      }
      if (route.format === "fhir" && directFhir) {
        planned.push({ destination, format: route.format, subscription: route.subscription });
        continue;
      }
      translate();
      if (!json) {
        failures.push({
          destination,
          reason: `destination ${destination.id} wants ${form}: ${jsonError?.text}`,
          ...(jsonError?.fault ? { fault: jsonError.fault } : {}),
        });
        continue;
      }
    }
    planned.push({ destination, format: route.format, subscription: route.subscription });
  }
  if (json && planned.some((r) => r.format === "json")) {
    json.Meta.Destinations = planned.filter((r) => r.format === "json").map((r) => ({
      ID: r.destination.id,
      ...(r.destination.name ? { Name: r.destination.name } : {}),
    }));
  }
  // Modifiers and HL7 edits, after the base translation: a route they fail on fails alone.
  const shapedRoutes: PlannedRoute[] = [];
  // One bundle per distinct FHIR setting, unless modifiers made the route's JSON its own.
  let bundles: Map<string, FhirResult> | undefined;
  for (const r of planned) {
    const sub = r.subscription;
    // Modifiers edit data-model JSON: a VXU's FHIR route has none to edit.
    const result = sub === undefined || (r.format === "fhir" && !json)
      ? { ok: true as const }
      : r.format !== "hl7v2"
      ? shapeJson(config, sub, r.destination, json)
      : shapeHl7(config, sub, r.destination, message);
    if (!result.ok) {
      failures.push({
        destination: r.destination,
        reason: `destination ${r.destination.id}: ${result.reason}`,
      });
      continue;
    }
    const route = result.shaped ? { ...r, shaped: result.shaped } : r;
    if (r.format === "fhir" && (json || directFhir)) {
      const made = !json
        ? vxuPayload(message, r.destination, {
          timeZone: integration?.timeZone ?? "UTC",
          cache: bundles ??= new Map(),
        })
        : result.shaped
        ? fhirPayload(JSON.parse(new TextDecoder().decode(result.shaped.bytes)), r.destination, {
          timeZone: integration?.timeZone ?? "UTC",
        })
        : fhirPayload(json, r.destination, {
          timeZone: integration?.timeZone ?? "UTC",
          cache: bundles ??= new Map(),
        });
      if (!made.ok) {
        failures.push({
          destination: r.destination,
          reason: `destination ${r.destination.id} wants FHIR: ${made.reason}`,
        });
        continue;
      }
      route.fhir = made.payload;
    }
    shapedRoutes.push(route);
  }
  return {
    ...(event ? { dataModel: event.dataModel, eventType: event.eventType } : {}),
    routes: shapedRoutes,
    ...(json ? { json } : {}),
    failures,
    problems: failures.map((f) => f.reason),
  };
}

/**
 * Routes for a file that is not HL7 v2 (X12, C-CDA, a PDF…): the subscriptions of its
 * integration, delivered as received; no data model maps it, so JSON routes get nothing.
 */
export function planFileRoutes(options: {
  config: Config;
  integrationId: string;
  contentType: string;
}): Hl7Plan {
  const { config } = options;
  const destinations = destinationsById(config);
  const routes = selectRoutes(
    config.subscriptions,
    { from: { integration: options.integrationId } },
    // "hl7v2" here means as received: the file's own bytes.
    () => "hl7v2",
  );
  const failures: FailedRoute[] = [];
  const planned: PlannedRoute[] = [];
  for (const route of routes) {
    const destination = destinations.get(route.destinationId);
    if (!destination) continue;
    if (route.format === "json") {
      failures.push({
        destination,
        reason:
          `destination ${destination.id} wants JSON: no data model maps ${options.contentType} files`,
      });
      continue;
    }
    planned.push({ destination, format: "hl7v2" });
  }
  return { routes: planned, failures, problems: failures.map((f) => f.reason) };
}

/** Subscription settings whose meaning {@link routesWithoutApplicationStep} knows. */
const PLAIN_SUBSCRIPTION = new Set([
  "id",
  "from",
  "to",
  "dataModels",
  "eventTypes",
  "format",
  "filter",
]);

/**
 * Whether every message of `integration` can be routed as it is received: each subscription from
 * it sends the HL7 as received (no JSON form, nothing that changes the message) to destinations
 * that exist. Decided from the config alone, so every message of the integration takes the same
 * path and one destination never gets a later message of a sender before an earlier one. Routing
 * such a message needs no stored translation: the communication step can do it in the commit
 * that stores the message.
 */
export function routesWithoutApplicationStep(
  config: Config,
  integration: IntegrationConfig,
): boolean {
  // Enhanced mode: the application ACK is the inbound actor's to send.
  if (integration.mllp?.ackMode === "enhanced") return false;
  const destinations = destinationsById(config);
  for (const sub of config.subscriptions) {
    if (sub.from.integration !== integration.id) continue;
    // A setting this check does not know (a modifier, an edit) may need the application step.
    if (Object.keys(sub).some((k) => !PLAIN_SUBSCRIPTION.has(k))) return false;
    for (const id of sub.to) {
      const destination = destinations.get(id);
      if (!destination || destination.modifiers?.length || destination.hl7Edits?.length) {
        return false;
      }
      if ((sub.format ?? defaultFormat(destination)) !== "hl7v2") return false;
    }
  }
  return true;
}
