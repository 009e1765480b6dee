/**
 * X12 and C-CDA posted to `POST /endpoint` by an API source: read, checked, routed by the source's
 * subscriptions and stored with their routing in one commit per message, like a JSON message.
 *
 * - X12 (`application/edi-x12`): ISA15 must fit the source's environment type (else `400`); each
 *   transaction set is routed and stored on its own (as SFTP files are split). A set the 999
 *   rejects, or any set of an interchange or group that is rejected, is not stored. With the
 *   source's `x12.acknowledge` the answer is the TA1 / 999 interchange (`application/edi-x12`);
 *   otherwise JSON naming each stored message and its logs, and `400` when nothing was taken.
 * - C-CDA (an XML type): read safely (DTDs refused), routed by document type; `400` when it is not
 *   a C-CDA. The answer is the JSON `Meta` with `Logs`, as for a data-model message.
 * @module
 */

import { judgeGroup, type X12Document } from "../../codecs/x12/mod.ts";
import type { Config, SourceConfig } from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";
import type { Delivery, Store } from "../store/store.ts";
import { StoreUnavailableError } from "../store/health.ts";
import type { ApiDocumentRequest, ApiDocumentResult } from "../ports.ts";
import { sourceOf } from "./api_checks.ts";
import { firstAttemptId } from "./api_inbox.ts";
import {
  CCDA_MODEL,
  type Origin,
  planX12Transaction,
  X12_MODEL,
  X12_TYPE,
  x12Refusal,
} from "./document_routing.ts";
import type { Hl7Plan } from "./hl7_routing.ts";
import { destinationActorId } from "./identities.ts";
import { environmentType, NO_ACKS, takeInX12, usageProblem } from "./x12_intake.ts";
import { errorMessage } from "../runtime/errors.ts";
import { passOn, type PassOnTargets } from "./pass_on.ts";
import { Translations } from "./translations.ts";
import { type CcdaOutcome, planPostedCcda } from "./plan_transfer.ts";
import type { PlanThreads } from "./plan_threads.ts";

const encoder = new TextEncoder();

/** What the document side of the API inbox needs. */
export interface ApiDocumentOptions extends PassOnTargets {
  config: Config;
  store: Store;
  log: Logger;
  /** Where large C-CDA are read and planned, off the engine's thread. */
  threads?: PlanThreads;
}

/** One stored message, as the JSON answer lists it. */
interface Stored {
  ID: string;
  Destinations: { ID: string; Name?: string }[];
  Logs: { ID: string; AttemptID: string }[];
}

/** Reads, routes and stores one X12 or C-CDA body; see the module doc. */
export async function acceptApiDocument(
  options: ApiDocumentOptions,
  request: ApiDocumentRequest,
): Promise<ApiDocumentResult> {
  const found = sourceOf(options.config, request);
  if (!found.ok) return found;
  const source = found.source;
  const origin: Origin = {
    from: { source: source.id },
    who: `source ${source.id}`,
    environment: source.environment,
    ...(source.name ? { name: source.name } : {}),
  };
  try {
    return /x12/i.test(request.contentType)
      ? await acceptX12(options, request, source, origin)
      : await acceptCcda(options, request, source, origin);
  } catch (error) {
    const level = error instanceof StoreUnavailableError ? "debug" : "error";
    options.log[level]("api.store-failed", { source: source.id, error });
    return {
      ok: false,
      status: 503,
      error: `could not store the message: ${errorMessage(error)}`,
      retryAfterSeconds: 5,
    };
  }
}

async function acceptX12(
  options: ApiDocumentOptions,
  request: ApiDocumentRequest,
  source: SourceConfig,
  origin: Origin,
): Promise<ApiDocumentResult> {
  const { config } = options;
  const settings = source.x12 ?? NO_ACKS;
  const type = environmentType(config, source.environment);
  const taken = takeInX12(request.bytes, {
    who: origin.who,
    environment: source.environment,
    environmentType: type,
    settings,
  });
  if (!taken.doc) return refusal(`the body is not X12: ${taken.unreadable}`);
  const doc: X12Document = taken.doc;
  for (const ic of doc.interchanges) {
    const usage = usageProblem(ic.usage, origin.who, source.environment, type);
    if (usage) return refusal(usage);
  }
  const stored: (Stored & { TransactionSet: string; ControlNumber: string })[] = [];
  const errors: { Text: string; Type: string; Module: string }[] = [];
  for (const ic of doc.interchanges) {
    const refused = ic.issues.some((i) => i.ta1 !== undefined)
      ? x12Refusal(ic, config, origin, settings)
      : undefined;
    if (refused) {
      errors.push({ Text: refused, Type: "x12", Module: "intake" });
      continue;
    }
    for (const group of ic.groups) {
      const verdict = judgeGroup(group, { contentErrors: settings.contentErrors });
      for (const t of verdict.transactions) {
        const tx = t.transaction;
        if (verdict.codes.length > 0 || t.code === "R") {
          errors.push({
            Text: `transaction set ${tx.setId} ${tx.controlNumber} is rejected: ` +
              (t.issues[0]?.message ?? group.issues[0]?.message ?? "its group is rejected"),
            Type: "x12",
            Module: "intake",
          });
          continue;
        }
        const piece = taken.messages.find((m) =>
          m.controlId === `${ic.controlNumber}/${group.controlNumber}/${tx.controlNumber}`
        );
        const plan = planX12Transaction(config, origin, tx, group, ic);
        const result = await store(options, request, source, plan, {
          bytes: piece?.bytes ?? request.bytes,
          contentType: X12_TYPE,
          messageType: `${X12_MODEL}.${tx.setId}`,
          ...(piece?.controlId ? { controlId: piece.controlId } : {}),
        });
        if ("error" in result) return result.error;
        stored.push({ ...result, TransactionSet: tx.setId, ControlNumber: tx.controlNumber });
        for (const f of plan.failures) {
          errors.push({ Text: f.reason, Type: "routing", Module: "routing" });
        }
      }
    }
  }
  if (taken.acknowledgment) {
    return { ok: true, text: taken.acknowledgment, contentType: X12_TYPE };
  }
  if (stored.length === 0) {
    return {
      ok: false,
      status: 400,
      error: errors.map((e) => e.Text).join("; ") || "the interchange holds no transaction set",
    };
  }
  return {
    ok: true,
    body: {
      Meta: {
        DataModel: X12_MODEL,
        Source: { ID: source.id, ...(source.name ? { Name: source.name } : {}) },
        Messages: stored,
        Errors: errors,
      },
    },
  };
}

async function acceptCcda(
  options: ApiDocumentOptions,
  request: ApiDocumentRequest,
  source: SourceConfig,
  origin: Origin,
): Promise<ApiDocumentResult> {
  const { config, threads } = options;
  let read: CcdaOutcome | undefined;
  // A large document is read and planned on the planning thread (plan_threads.ts).
  if (threads && request.bytes.byteLength > threads.offloadBytes) {
    const offloaded = await threads.ccda(config, origin, request.bytes);
    if (offloaded.status === "done") read = offloaded.value;
    else if (offloaded.status !== "unavailable") {
      const why = offloaded.status === "failed" ? offloaded.reason : "the engine is stopping";
      return { ok: false, status: 500, error: `could not read the document: ${why}` };
    }
  }
  read ??= planPostedCcda(config, origin, request.bytes);
  if (!read.ok) return refusal(read.refusal);
  const { plan, documentType, documentId } = read;
  if (plan.failures.length > 0) {
    return refusal(plan.problems.join("; "));
  }
  const result = await store(options, request, source, plan, {
    bytes: request.bytes,
    contentType: "application/xml",
    messageType: `${CCDA_MODEL}.${documentType}`,
    ...(documentId ? { controlId: documentId } : {}),
  });
  if ("error" in result) return result.error;
  return {
    ok: true,
    body: {
      Meta: {
        DataModel: CCDA_MODEL,
        EventType: documentType,
        Source: { ID: source.id, ...(source.name ? { Name: source.name } : {}) },
        Destinations: result.Destinations,
        Logs: result.Logs,
        Message: { ID: result.ID },
        Errors: [],
      },
    },
  };
}

/** Stores one message with its routes and its translations (its JSON form, when wanted) in one commit. */
async function store(
  options: ApiDocumentOptions,
  request: ApiDocumentRequest,
  source: SourceConfig,
  plan: Hl7Plan,
  message: { bytes: Uint8Array; contentType: string; messageType: string; controlId?: string },
): Promise<Stored | { error: ApiDocumentResult }> {
  const { store, config } = options;
  const messageId = store.newId();
  // Stored by the commit that stores the message and its routes (none without them).
  const translations = new Translations(store, {
    id: messageId,
    sender: { kind: "source", id: source.id },
    kind: message.messageType,
  });
  let jsonId: string | undefined;
  const deliveries: Delivery[] = [];
  const log = {
    sourceId: source.id,
    environment: source.environment,
    ...(plan.dataModel ? { dataModel: plan.dataModel, eventType: plan.eventType } : {}),
    ...(message.controlId ? { controlId: message.controlId } : {}),
  };
  for (const r of plan.routes) {
    let id = messageId;
    if (r.shaped) {
      id = await translations.add(r.shaped.bytes, r.shaped.contentType);
    } else if (r.format === "json" && (plan.json || plan.jsonBytes)) {
      // Serialised already when the planning thread made the plan.
      jsonId ??= await translations.add(
        plan.jsonBytes ?? encoder.encode(JSON.stringify(plan.json)),
        "application/json",
      );
      id = jsonId;
    }
    // What the route's modifiers did is listed in its SEND log (paths only), as for JSON.
    const withShaping = r.shaped ? { ...log, shaping: r.shaped.log } : log;
    deliveries.push({
      queue: destinationActorId(r.destination),
      destinationId: r.destination.id,
      messageId: id,
      originalId: messageId,
      log: withShaping,
    });
  }
  const result = await store.accept({
    queue: `api:${source.id}`,
    messageId,
    origin: { kind: "source", id: source.id, peer: request.peerIp },
    payload: message.bytes,
    contentType: message.contentType,
    messageType: message.messageType,
    ...(message.controlId ? { controlId: message.controlId } : {}),
    log: { type: "RECEIVE", sourceId: source.id, environment: source.environment },
    deliveries,
    derived: translations.prepared,
  });
  if (result.status !== "stored") {
    return { error: { ok: false, status: 500, error: "unexpected duplicate" } };
  }
  passOn(result.routed, deliveries, options);
  const names = new Map(config.destinations.map((d) => [d.id, d.name]));
  return {
    ID: messageId,
    Destinations: deliveries.map((d) => ({
      ID: d.destinationId,
      ...(names.get(d.destinationId) ? { Name: names.get(d.destinationId)! } : {}),
    })),
    Logs: (result.sendLogIds ?? []).map((ID) => ({ ID, AttemptID: firstAttemptId(ID) })),
  };
}

function refusal(error: string): ApiDocumentResult {
  return { ok: false, status: 400, error, problems: [{ path: "", rule: error }] };
}
