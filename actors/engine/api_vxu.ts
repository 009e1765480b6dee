/**
 * A FHIR message Bundle of VXU^V04 posted to `/fhir/R4/…`: no data model maps an immunization,
 * so it does not go through the data model as other bundles do. It is checked by writing it as
 * HL7 (`fhirToVxu`, codecs/fhir/vxu.ts), routed by the source's subscriptions as an HL7
 * `VXU^V04` (`eventTypes` may name `V04`; `dataModels` and JSON filters do not match it), and
 * stored with its routing in one commit, as `POST /endpoint` stores JSON: the bundle as received,
 * the VXU for MLLP (HL7 v2) destinations (with each destination's MSH-3..6 and HL7 edits), a
 * transaction bundle for FHIR servers that want one. A route that wants JSON refuses the message.
 * @module
 */

import { DataModelValidationError } from "../../codecs/datamodel/mod.ts";
import { FhirError, fhirToVxu, messageToTransaction } from "../../codecs/fhir/mod.ts";
import { locateInBundle } from "../../codecs/fhir/locate.ts";
import { parseHl7 } from "../../codecs/hl7v2/mod.ts";
import type { Config, DestinationConfig } from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";
import type { Delivery, Store } from "../store/store.ts";
import type { ApiAcceptResult, ApiProblem, ApiRequest } from "../ports.ts";
import { sourceOf } from "./api_checks.ts";
import { firstAttemptId, mshOptions, storeFailure } from "./api_inbox.ts";
import { FHIR_JSON, fhirKey } from "./fhir_routing.ts";
import { defaultFormat } from "./hl7_routing.ts";
import { destinationActorId } from "./identities.ts";
import { type Shaped, shapeHl7 } from "./shaping.ts";
import { selectRoutes } from "./subscriptions.ts";
import { passOn, type PassOnTargets } from "./pass_on.ts";
import { Translations } from "./translations.ts";

/** What a V04 bundle's intake needs (the API inbox's options). */
export interface ApiVxuOptions extends PassOnTargets {
  config: Config;
  store: Store;
  log: Logger;
}

const encoder = new TextEncoder();
const VXU = "VXU^V04";
const EVENT_PATH = "Bundle.entry[0].resource.eventCoding";

/** Why `bundle` cannot be written as a VXU, located by FHIRPath. */
function problemsOf(error: unknown, bundle: unknown): ApiProblem[] | undefined {
  if (error instanceof FhirError) return error.issues.map((i) => ({ path: i.path, rule: i.text }));
  if (error instanceof DataModelValidationError) {
    // The Patient goes through the data model's PID (as an ADT^A31): located as for an ADT.
    return error.issues.map((i) => ({
      path: locateInBundle("PatientAdmin", bundle, i.path),
      rule: `${i.path}: ${i.rule}`,
    }));
  }
  return undefined;
}

/** Checks, routes and stores one V04 bundle; see the module doc. */
export async function acceptApiVxu(
  options: ApiVxuOptions,
  destinations: ReadonlyMap<string, DestinationConfig>,
  request: ApiRequest,
): Promise<ApiAcceptResult> {
  const { config, store, log } = options;
  const found = sourceOf(config, request);
  if (!found.ok) return found;
  const source = found.source;
  const bundle = request.json;
  const header = (bundle as { entry?: { resource?: { sender?: { display?: unknown } } }[] })
    .entry?.[0]?.resource;
  const facility = header?.sender?.display;
  const meta = typeof facility === "string" ? { FacilityCode: facility } : {};
  const write = (d: DestinationConfig | undefined) =>
    fhirToVxu(bundle, { timeZone: "UTC", ...mshOptions(meta, source, d) });
  try {
    write(undefined);
  } catch (error) {
    const problems = problemsOf(error, bundle);
    if (problems === undefined) throw error;
    log.warn("api.vxu-unwritable", { source: source.id, why: problems[0]?.rule });
    return { ok: false, status: 400, error: "the bundle cannot be written as a VXU^V04", problems };
  }
  const routes = selectRoutes(
    config.subscriptions,
    { from: { source: source.id }, hl7Type: VXU },
    (id) => defaultFormat(destinations.get(id)),
  );
  const json = routes.find((r) => r.format === "json");
  if (json) {
    const rule = `destination ${json.destinationId} wants JSON: no data model maps ${VXU}`;
    return { ok: false, status: 400, error: rule, problems: [{ path: EVENT_PATH, rule }] };
  }

  const messageId = store.newId();
  // Stored by the commit that stores the bundle and its routes (none without them).
  const translations = new Translations(store, {
    id: messageId,
    sender: { kind: "source", id: source.id },
    kind: VXU,
  });
  const payloads = new Map<string, string>();
  const deliveries: Delivery[] = [];
  const logBase = { sourceId: source.id, environment: source.environment, eventType: VXU };
  try {
    for (const r of routes) {
      const d = destinations.get(r.destinationId);
      if (!d) continue;
      let id = messageId;
      let shaping: Shaped["log"] | undefined;
      if (r.format === "fhir") {
        // The bundle as received; a FHIR server set to transactions gets one made of it.
        if (d.https?.fhir?.bundle === "transaction") {
          const key = `fhir:${fhirKey(d)}`;
          if (!payloads.has(key)) {
            const t = messageToTransaction(bundle as Parameters<typeof messageToTransaction>[0]);
            payloads.set(
              key,
              await translations.add(encoder.encode(JSON.stringify(t)), FHIR_JSON),
            );
          }
          id = payloads.get(key)!;
        }
      } else {
        const text = write(d);
        const shaped = shapeHl7(config, r.subscription, d, parseHl7(text));
        if (!shaped.ok) {
          log.warn("api.shaping-failed", { source: source.id, reason: shaped.reason });
          return { ok: false, status: 422, error: `destination ${d.id}: ${shaped.reason}` };
        }
        if (shaped.shaped) {
          id = await translations.add(shaped.shaped.bytes, shaped.shaped.contentType);
          shaping = shaped.shaped.log;
        } else {
          const key = `hl7:${text}`;
          if (!payloads.has(key)) {
            payloads.set(key, await translations.add(encoder.encode(text), "application/hl7-v2"));
          }
          id = payloads.get(key)!;
        }
      }
      deliveries.push({
        queue: destinationActorId(d),
        destinationId: d.id,
        messageId: id,
        originalId: messageId,
        log: { ...logBase, ...(shaping ? { shaping } : {}) },
      });
    }
    const result = await store.accept({
      queue: `api:${source.id}`,
      messageId,
      origin: { kind: "source", id: source.id, peer: request.peerIp },
      payload: request.bytes,
      contentType: FHIR_JSON,
      messageType: VXU,
      log: { type: "RECEIVE", sourceId: source.id, environment: source.environment },
      deliveries,
      derived: translations.prepared,
    });
    if (result.status !== "stored") throw new Error("unexpected duplicate");
    passOn(result.routed, deliveries, options);
    log.debug("api.accepted", {
      source: source.id,
      messageId,
      to: deliveries.map((d) => d.destinationId),
    });
    return {
      ok: true,
      body: {
        Meta: {
          EventType: VXU,
          Source: { ID: source.id, ...(source.name ? { Name: source.name } : {}) },
          Destinations: deliveries.map((d) => {
            const dest = destinations.get(d.destinationId);
            return { ID: d.destinationId, ...(dest?.name ? { Name: dest.name } : {}) };
          }),
          Logs: (result.sendLogIds ?? []).map((ID) => ({ ID, AttemptID: firstAttemptId(ID) })),
          Message: { ID: messageId },
          Errors: [],
        },
      },
    };
  } catch (error) {
    return storeFailure(log, request, error);
  }
}
