/**
 * The engine's side of `POST /query`: a synchronous request from an API source to exactly one
 * destination (named in `Meta.Destinations` and subscribed to), answered within
 * `limits.queryTimeoutSeconds` or `504`. Queries bypass the destination's FIFO queue: the client
 * is waiting, and a query changes nothing at the other end.
 *
 * - HTTPS destination: the JSON is `POST`ed as is (with the destination's credentials); a `2xx`
 *   answer's body is returned as it came. Any other status is a `200` whose `Meta.Errors[]` says
 *   what the destination answered.
 * - FHIR server (an HTTPS destination with `https.fhir`): a `PatientSearch.Query` becomes
 *   `GET <base>/Patient?identifier=…&family=…` (codecs/fhir/search.ts) with the destination's
 *   credentials; the `searchset` Bundle comes back as a `PatientSearch.Response`, an
 *   OperationOutcome or any other status in its `Meta.Errors[]`. A client that asked for FHIR
 *   (`ApiRequest.fhir`) gets a `searchset` Bundle instead (codecs/fhir/search.ts
 *   `searchsetAnswer`: the server's resources as they came; `Bundle.id` the REQUEST log's), and a `502` carrying the server's
 *   OperationOutcome issues for an error status or an answer that is no searchset. Any other
 *   destination answers such a client `406`: FHIR answers come only from FHIR servers.
 * - MLLP destination: a `PatientSearch.Query` becomes `QBP^Q22` or `QRY^A19` (per destination)
 *   on a connection of its own; the `RSP^K22` / `ADR^A19` comes back as a
 *   `PatientSearch.Response`, a refusal (MSA `AE`/`AR`, QAK `AE`/`AR`) in its `Meta.Errors[]`.
 *
 * Every query is recorded once it is over: a REQUEST log (with its one attempt) and, when an
 * answer came, a RESPOND log, both listed under the request in the admin endpoint.
 *
 * This module checks a query and hands it to its destination's exchange: api_query_https.ts,
 * api_query_fhir.ts, api_query_mllp.ts (what they share: api_query_exchange.ts).
 * @module
 */

import type { Config, DestinationConfig } from "../config/mod.ts";
import { readDestinations, sourceOf } from "./api_checks.ts";
import type { ApiDocumentRequest, ApiQuerier, ApiQueryResult, ApiRequest } from "../ports.ts";
import { planX12Query } from "./x12_query.ts";
import { selectRoutes } from "./subscriptions.ts";
import { type ApiQueryOptions, isObject, type Query } from "./api_query_exchange.ts";
import { httpsQuery } from "./api_query_https.ts";
import { fhirQuery } from "./api_query_fhir.ts";
import { mllpQueryOf } from "./api_query_mllp.ts";

export { type ApiQueryOptions, responseEvent } from "./api_query_exchange.ts";

/** The signal of a query nobody stops early: only its timeout ends it. */
const NEVER = new AbortController().signal;

/** See the module doc. */
export class ApiQuery implements ApiQuerier {
  readonly #options: ApiQueryOptions;
  #byId: { of: Config; map: Map<string, DestinationConfig> } | undefined;

  /** The running config's destinations by id (rebuilt when a reload swaps the config). */
  get #destinations(): Map<string, DestinationConfig> {
    const config = this.#options.config;
    if (this.#byId?.of !== config) {
      this.#byId = { of: config, map: new Map(config.destinations.map((d) => [d.id, d])) };
    }
    return this.#byId.map;
  }

  /** Queries for the sources and destinations of `options.config`. */
  constructor(options: ApiQueryOptions) {
    this.#options = options;
  }

  /** Checks, sends and answers one query; see the module doc. */
  async query(request: ApiRequest, signal = NEVER): Promise<ApiQueryResult> {
    const found = sourceOf(this.#options.config, request);
    if (!found.ok) return found;
    const source = found.source;
    const json = request.json;
    const meta = isObject(json) && isObject(json.Meta) ? json.Meta : undefined;
    if (!meta) {
      return invalid("the query has no Meta", isObject(json) ? "Meta" : "", "required (an object)");
    }
    for (const k of ["DataModel", "EventType"] as const) {
      if (typeof meta[k] !== "string" || meta[k] === "") {
        return invalid(`Meta.${k} is missing`, `Meta.${k}`, "required (a string)");
      }
    }
    const dataModel = meta.DataModel as string, eventType = meta.EventType as string;
    const read = readDestinations(
      meta.Destinations,
      this.#options.config.destinations,
      source.environment,
    );
    if (!read.ok && read.status === 400) return invalid(read.error, read.path, read.error);
    if (!read.ok) return { ok: false, status: 404, error: read.error };
    const named = read.matches;
    if (named === undefined || named.length !== 1) {
      const rule = `a query names exactly one destination (found ${named?.length ?? 0})`;
      return invalid(rule, "Meta.Destinations", rule);
    }
    if (read.notes.length > 0) {
      this.#options.log.info("query.destination-by-name", { source: source.id, notes: read.notes });
    }
    const destination = this.#destinations.get(named[0]!.id)!;
    if (destination.environment !== source.environment) {
      return {
        ok: false,
        status: 403,
        error: `destination ${destination.id} is in environment ${destination.environment}, ` +
          `not ${source.environment}`,
      };
    }
    const routes = selectRoutes(
      this.#options.config.subscriptions,
      { from: { source: source.id }, dataModel, eventType, json },
      () => "json",
    );
    if (!routes.some((r) => r.destinationId === destination.id)) {
      return {
        ok: false,
        status: 403,
        error: `no subscription of source ${source.id} sends ${dataModel}.${eventType} ` +
          `to ${destination.id}`,
      };
    }
    const q: Query = {
      request,
      source,
      destination,
      meta,
      dataModel,
      eventType,
      started: Date.now(),
    };
    if (request.fhir && (destination.https || destination.mllp) && !destination.https?.fhir) {
      return {
        ok: false,
        status: 406,
        error: `destination ${destination.id} is not a FHIR server: FHIR answers ` +
          "(Accept: application/fhir+json) are only available from FHIR-server destinations " +
          "(https.fhir); ask without that Accept header for the data model's answer",
      };
    }
    if (destination.https?.fhir) return await fhirQuery(this.#options, q, signal);
    if (destination.https) return await httpsQuery(this.#options, q, signal);
    if (destination.mllp) return await mllpQueryOf(this.#options, q, signal);
    return {
      ok: false,
      status: 400,
      error: `destination ${destination.id} takes files; queries go to HTTPS or MLLP destinations`,
    };
  }

  /**
   * An X12 query (a 270, or any single transaction set): sent as it came to the one HTTPS
   * destination a subscription of the source sends it to (by `x12`, or the `destination` URL
   * parameter among several); the destination's synchronous answer (the 271) comes back as it
   * came. SFTP and MLLP destinations answer nothing synchronously: `400`.
   */
  async queryDocument(request: ApiDocumentRequest): Promise<ApiQueryResult> {
    const { config } = this.#options;
    const planned = planX12Query(config, request);
    if (!planned.ok) return planned.result;
    const { source, destination, setId } = planned;
    if (!destination.https) {
      return {
        ok: false,
        status: 400,
        error: `destination ${destination.id} does not answer synchronously: ` +
          "X12 queries go to HTTPS destinations (post to /endpoint to send it as a message)",
      };
    }
    const q: Query = {
      request: { ...request, json: undefined },
      source,
      destination,
      meta: {},
      dataModel: "X12",
      eventType: setId,
      started: Date.now(),
      contentType: request.contentType,
    };
    return await httpsQuery(this.#options, q, NEVER);
  }
}

function invalid(error: string, path: string, rule: string): ApiQueryResult {
  return { ok: false, status: 400, error, problems: [{ path, rule }] };
}
