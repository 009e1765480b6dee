/**
 * The inbound actor's plan of one stored message and the deliveries it makes: a large message is
 * planned on the planning thread (`plan_threads.ts`), a small one on the engine's thread; both
 * give the same plan (`plan_transfer.ts`).
 * @module
 */

import type { Config } from "../config/mod.ts";
import type { Delivery, DerivedMessage, Store } from "../store/store.ts";
import type { MessageRecord } from "../store/types.ts";
import { destinationActorId } from "./identities.ts";
import type { Hl7Plan } from "./hl7_routing.ts";
import { Translations } from "./translations.ts";
import { type PayloadOutcome, planPayload, readsPayload, sendsPlainJson } from "./plan_transfer.ts";
import type { PlanThreads } from "./plan_threads.ts";

const encoder = new TextEncoder();

/** Where large messages are planned, and the fallback charset their HL7 is decoded with. */
export interface OffloadSettings {
  pool: PlanThreads;
  fallbackCharset: string;
}

/** What {@link planStored} plans. */
export interface StoredRequest {
  config: Config;
  record: MessageRecord;
  integrationId: string;
  /** Reads the payload (once; planning a file other than HL7, X12 or XML does not). */
  payload(): Promise<Uint8Array>;
  /** Decodes HL7 bytes on this thread. */
  decode(bytes: Uint8Array): string;
  /** Without it, every message is planned on this thread. */
  threads?: OffloadSettings;
  /** A plan on the planning thread is dropped when it aborts. */
  signal?: AbortSignal;
}

/**
 * Plans a stored message (HL7 parsed and routed; X12, C-CDA or any other file as a document): on
 * the planning thread when it is larger than its `offloadBytes` (`OFFLOAD_BYTES`), here
 * otherwise (and when no planning thread can be started). A planning thread that fails fails the
 * plan with its reason; `cancelled` when the thread was stopped (or `signal` aborted)
 * meanwhile, and nothing is to be done with the message.
 */
export async function planStored(request: StoredRequest): Promise<PayloadOutcome | "cancelled"> {
  const { config, record, integrationId, threads } = request;
  if (threads && record.size > threads.pool.offloadBytes && readsPayload(record.contentType)) {
    const offloaded = await threads.pool.plan({
      config,
      integrationId,
      contentType: record.contentType,
      payload: await request.payload(),
      fallbackCharset: threads.fallbackCharset,
    }, request.signal);
    if (offloaded.status === "cancelled") return "cancelled";
    if (offloaded.status === "done") return offloaded.value;
    if (offloaded.status === "failed") {
      return { ok: false, reason: `could not parse or translate the message: ${offloaded.reason}` };
    }
    // No planning thread at all (logged): planned here, as before there was one.
  }
  return await planPayload({
    config,
    integrationId,
    contentType: record.contentType,
    payload: request.payload,
    decode: request.decode,
  });
}

/**
 * The queue entries of the routes a plan could make, and the translations they send, which the
 * routing commit stores with them (so the next message need not wait for a commit of its own).
 */
export async function deliveriesOf(
  store: Pick<Store, "prepareDerived">,
  record: MessageRecord,
  plan: Hl7Plan,
  log: Delivery["log"],
): Promise<{ deliveries: Delivery[]; derived: DerivedMessage[] }> {
  const translations = new Translations(store, {
    id: record.id,
    sender: record.origin,
    kind: record.messageType ?? record.contentType,
  });
  let jsonId: string | undefined;
  if (sendsPlainJson(plan)) {
    // Serialised already when the planning thread made the plan.
    jsonId = await translations.add(
      plan.jsonBytes ?? encoder.encode(JSON.stringify(plan.json)),
      "application/json",
    );
  }
  const out: Delivery[] = [];
  // FHIR bundles stored once per distinct setting (a shaped route's is its own).
  const fhirIds = new Map<string, string>();
  for (const r of plan.routes) {
    let messageId = r.format === "json" && jsonId ? jsonId : record.id;
    let sendLog = log;
    if (r.fhir) {
      const key = r.shaped ? undefined : r.fhir.key;
      let id = key === undefined ? undefined : fhirIds.get(key);
      if (id === undefined) {
        id = await translations.add(r.fhir.bytes, r.fhir.contentType);
        if (key !== undefined) fhirIds.set(key, id);
      }
      messageId = id;
      if (r.shaped) {
        const withShaping = { ...log, shaping: r.shaped.log };
        sendLog = withShaping;
      }
    } else if (r.shaped) {
      // Modified by the route's modifiers or HL7 edits: its own payload, and what ran (paths).
      messageId = await translations.add(r.shaped.bytes, r.shaped.contentType);
      // The log names the payload it sends: GET /admin/messages/:id shows it beside the original.
      const withShaping = { ...log, shaping: { ...r.shaped.log, messageId } };
      sendLog = withShaping;
    }
    out.push({
      queue: destinationActorId(r.destination),
      destinationId: r.destination.id,
      messageId,
      originalId: record.id,
      log: sendLog,
    });
  }
  return { deliveries: out, derived: translations.prepared };
}
