/**
 * Routing X12 and C-CDA: the facts subscriptions select them by, the plan of the application step
 * for a stored file (an X12 transaction set, a C-CDA document), and the routes of a document
 * posted to `POST /endpoint`. A destination that takes JSON gets the X12 JSON form
 * (`codecs/x12/json.ts`) or the `ClinicalSummary` JSON; any other gets the bytes as received.
 *
 * - X12: data model `X12`, event type ST01 (`837`); subscriptions select by `x12`
 *   (transaction set, GS08 version, sender and receiver ids) or by `dataModels`/`eventTypes`.
 *   ISA15 must fit the environment type; a set its 999 rejects is not routed.
 * - C-CDA: data model `Clinical Summary`, event type and `documentType` the document type (`CCD`);
 *   subscriptions select by `documentTypes` (or `eventTypes`).
 * @module
 */

import {
  judgeGroup,
  parseX12,
  transactionJson,
  type X12Group,
  type X12Interchange,
  X12ParseError,
  type X12Transaction,
} from "../../codecs/x12/mod.ts";
import {
  CcdaError,
  type ClinicalSummary,
  DOCUMENT_TYPES,
  parseCcda,
} from "../../codecs/ccda/mod.ts";
import type { DataModelMessage } from "../../codecs/datamodel/mod.ts";
import { latin1Decode } from "../../codecs/text/mod.ts";
import {
  type Config,
  type DestinationConfig,
  type DocumentKind,
  documentMismatch,
} from "../config/mod.ts";
import { defaultFormat, type FailedRoute, type Hl7Plan, type PlannedRoute } from "./hl7_routing.ts";
import { shapeJson } from "./shaping.ts";
import { type RoutingFacts, selectRoutes } from "./subscriptions.ts";
import type { X12Facts } from "./x12_facts.ts";
import { environmentType, NO_ACKS, usageProblem, type X12IntakeSettings } from "./x12_intake.ts";

/** The content type X12 is stored and sent with. */
export const X12_TYPE = "application/edi-x12";
/** The data model of X12 in logs and subscriptions. */
export const X12_MODEL = "X12";
/** The data model of a C-CDA (as `ClinicalSummary.Meta.DataModel`). */
export const CCDA_MODEL = "Clinical Summary";

const utf8 = new TextDecoder();

/** Whether a stored content type may be a C-CDA (read to find out). */
export function maybeCcda(contentType: string): boolean {
  return /^(application|text)\/([\w.-]+\+)?xml\s*(;|$)/i.test(contentType);
}

/** What routing knows of one X12 transaction set. */
export function x12Facts(tx: X12Transaction, group: X12Group, ic: X12Interchange): X12Facts {
  const type = transactionJson(tx).type;
  return {
    setId: tx.setId,
    ...(typeof type === "string" ? { type } : {}),
    implementation: tx.implementation,
    version: group.version,
    senderIds: [ic.sender.id, group.sender],
    receiverIds: [ic.receiver.id, group.receiver],
    usage: ic.usage,
  };
}

/** Where a message came from, as routing and the JSON `Meta.Source` name it. */
export interface Origin {
  from: { integration: string } | { source: string };
  /** `integration lab` / `source clinic`, for reasons. */
  who: string;
  environment: string;
  name?: string;
}

/** A plan, or why the message cannot be routed (it is then FAILED with the reason). */
export type DocumentPlan = { ok: true; plan: Hl7Plan } | { ok: false; reason: string };

/** Why an X12 interchange, group or transaction set is not routed; undefined when it is. */
function x12Refusal(
  ic: X12Interchange,
  config: Config,
  origin: Origin,
  settings: X12IntakeSettings,
): string | undefined {
  const usage = usageProblem(
    ic.usage,
    origin.who,
    origin.environment,
    environmentType(config, origin.environment),
  );
  if (usage) return usage;
  const ta1 = ic.issues.filter((i) => i.ta1 !== undefined);
  if (ta1.length > 0) {
    return `interchange ${ic.controlNumber} is rejected (TA1 ${ta1[0]!.ta1}): ` +
      ta1.slice(0, 3).map((i) => i.message).join("; ");
  }
  for (const group of ic.groups) {
    const verdict = judgeGroup(group, { contentErrors: settings.contentErrors });
    if (verdict.codes.length > 0) {
      return `functional group ${group.controlNumber} is rejected (AK9 R ` +
        `${verdict.codes.join(",")}): ` +
        group.issues.slice(0, 3).map((i) => i.message).join("; ");
    }
    for (const t of verdict.transactions) {
      if (t.code !== "R") continue;
      return `transaction set ${t.transaction.setId} ${t.transaction.controlNumber} is rejected ` +
        `(999 IK5 R): ${t.issues.slice(0, 3).map((i) => i.message).join("; ")}`;
    }
  }
  return undefined;
}

/**
 * Routes of one X12 transaction set (already judged acceptable): JSON destinations get its JSON
 * form with a `Meta`, the others the interchange as received.
 */
export function planX12Transaction(
  config: Config,
  origin: Origin,
  tx: X12Transaction,
  group: X12Group,
  ic: X12Interchange,
): Hl7Plan {
  const facts = x12Facts(tx, group, ic);
  const json = () => ({
    Meta: {
      DataModel: X12_MODEL,
      EventType: tx.setId,
      Source: sourceOf(origin),
    },
    ...transactionJson(tx, group, ic),
  });
  return planRoutes(config, origin, "X12", {
    dataModel: X12_MODEL,
    eventType: tx.setId,
    x12: facts,
  }, json);
}

/** Routes of a C-CDA: JSON destinations get its `ClinicalSummary` JSON. */
export function planCcda(config: Config, origin: Origin, summary: ClinicalSummary): Hl7Plan {
  const documentType = summary.Meta.DocumentType;
  const json = () => ({ ...summary, Meta: { ...summary.Meta, Source: sourceOf(origin) } });
  return planRoutes(config, origin, "C-CDA", {
    dataModel: CCDA_MODEL,
    eventType: documentType,
    documentType,
  }, json);
}

function sourceOf(origin: Origin): { ID: string; Name?: string } {
  const id = "integration" in origin.from ? origin.from.integration : origin.from.source;
  return { ID: id, ...(origin.name ? { Name: origin.name } : {}) };
}

/** Selects, makes the JSON form once, applies modifiers; FHIR and MLLP routes fail. */
function planRoutes(
  config: Config,
  origin: Origin,
  document: DocumentKind,
  facts: Omit<RoutingFacts, "from">,
  makeJson: () => Record<string, unknown>,
): Hl7Plan {
  const destinations = new Map(config.destinations.map((d) => [d.id, d]));
  const routes = selectRoutes(
    config.subscriptions,
    { ...facts, from: origin.from },
    (id) => defaultFormat(destinations.get(id)),
  );
  const planned: PlannedRoute[] = [];
  const failures: FailedRoute[] = [];
  let json: Record<string, unknown> | undefined;
  const fail = (destination: DestinationConfig, why: string) =>
    failures.push({ destination, reason: `destination ${destination.id} ${why}` });
  for (const route of routes) {
    const destination = destinations.get(route.destinationId);
    if (!destination) continue;
    // Failed here, at intake, rather than dead-lettered by the MLLP actor after the sender was
    // told it goes there: no form of the document is HL7 v2 (destination_formats.ts).
    const mismatch = documentMismatch(destination, document);
    if (mismatch) {
      fail(destination, mismatch);
      continue;
    }
    if (route.format === "fhir") {
      fail(destination, `wants FHIR: no FHIR mapping exists for ${facts.dataModel}`);
      continue;
    }
    const r: PlannedRoute = {
      destination,
      format: route.format,
      subscription: route.subscription,
    };
    if (route.format === "json") {
      json ??= makeJson();
      const shaped = shapeJson(config, route.subscription, destination, json);
      if (!shaped.ok) {
        fail(destination, shaped.reason);
        continue;
      }
      if (shaped.shaped) r.shaped = shaped.shaped;
    }
    planned.push(r);
  }
  if (json) {
    (json.Meta as Record<string, unknown>).Destinations = planned
      .filter((r) => r.format === "json")
      .map((r) => ({
        ID: r.destination.id,
        ...(r.destination.name ? { Name: r.destination.name } : {}),
      }));
  }
  return {
    dataModel: facts.dataModel!,
    eventType: facts.eventType!,
    routes: planned,
    // Stored as JSON like a data-model translation; only serialised, never read as one.
    ...(json ? { json: json as unknown as DataModelMessage } : {}),
    failures,
    problems: failures.map((f) => f.reason),
  };
}

/** The X12 settings of an integration or source (its config `x12`, or no acknowledgments). */
export function x12Settings(x12: X12IntakeSettings | undefined): X12IntakeSettings {
  return x12 ?? NO_ACKS;
}

/**
 * The application step's plan for a stored file of an integration: an X12 transaction set or a
 * C-CDA by its content, anything else as received (`planFile`). `payload` is read only for X12
 * and XML.
 */
export async function planStoredDocument(options: {
  config: Config;
  integrationId: string;
  contentType: string;
  payload: () => Promise<Uint8Array>;
  planFile: () => Hl7Plan;
}): Promise<DocumentPlan> {
  const { config, integrationId, contentType } = options;
  const integration = config.integrations.find((i) => i.id === integrationId);
  const origin: Origin = {
    from: { integration: integrationId },
    who: `integration ${integrationId}`,
    environment: integration?.environment ?? "",
    ...(integration?.name ? { name: integration.name } : {}),
  };
  if (contentType === X12_TYPE) {
    return planX12Text(
      config,
      origin,
      latin1Decode(await options.payload()),
      x12Settings(integration?.x12),
    );
  }
  if (maybeCcda(contentType)) {
    const xml = utf8.decode(await options.payload());
    if (/<(\w+:)?ClinicalDocument[\s>]/.test(xml.slice(0, 4096))) {
      try {
        const summary = parseCcda(xml, { timeZone: integration?.timeZone ?? "UTC" });
        return { ok: true, plan: planCcda(config, origin, summary) };
      } catch (error) {
        if (error instanceof CcdaError) return { ok: false, reason: `C-CDA: ${error.message}` };
        throw error;
      }
    }
  }
  return { ok: true, plan: options.planFile() };
}

/** Plans a stored X12 message (one transaction set, as intake split it). */
function planX12Text(
  config: Config,
  origin: Origin,
  text: string,
  settings: X12IntakeSettings,
): DocumentPlan {
  let doc;
  try {
    doc = parseX12(text, { strict: false });
  } catch (error) {
    if (error instanceof X12ParseError) return { ok: false, reason: `X12: ${error.message}` };
    throw error;
  }
  for (const ic of doc.interchanges) {
    const refusal = x12Refusal(ic, config, origin, settings);
    if (refusal) return { ok: false, reason: refusal };
  }
  const sets = doc.interchanges.flatMap((ic) =>
    ic.groups.flatMap((group) => group.transactions.map((tx) => ({ tx, group, ic })))
  );
  if (sets.length !== 1) {
    return {
      ok: false,
      reason: `the X12 message holds ${sets.length} transaction sets; one is routed at a time`,
    };
  }
  const { tx, group, ic } = sets[0]!;
  return { ok: true, plan: planX12Transaction(config, origin, tx, group, ic) };
}

export { x12Refusal };

/** Every document type name a C-CDA may have (for checks and docs). */
export const CCDA_DOCUMENT_TYPES: readonly string[] = Object.values(DOCUMENT_TYPES);
