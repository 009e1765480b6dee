/**
 * Which destination an X12 query (`POST /query` with `application/edi-x12`) goes to: the body
 * must be one transaction set in a sound envelope whose ISA15 fits the source's environment; the
 * source's subscriptions select destinations by its X12 facts, and exactly one must remain (the
 * `destination` URL parameter chooses among several).
 * @module
 */

import { latin1Decode } from "../../codecs/text/mod.ts";
import { parseX12, X12Error } from "../../codecs/x12/mod.ts";
import type { Config, DestinationConfig, SourceConfig } from "../config/mod.ts";
import type { ApiDocumentRequest, ApiQueryResult } from "../ports.ts";
import { sourceOf } from "./api_checks.ts";
import { x12Facts } from "./document_routing.ts";
import { selectRoutes } from "./subscriptions.ts";
import { environmentType, usageProblem } from "./x12_intake.ts";

/** The source, destination and set of a query, or the answer refusing it. */
export type X12QueryPlan =
  | { ok: true; source: SourceConfig; destination: DestinationConfig; setId: string }
  | { ok: false; result: ApiQueryResult };

function invalid(error: string): X12QueryPlan {
  return {
    ok: false,
    result: { ok: false, status: 400, error, problems: [{ path: "", rule: error }] },
  };
}

/** See the module doc. */
export function planX12Query(config: Config, request: ApiDocumentRequest): X12QueryPlan {
  const found = sourceOf(config, request);
  if (!found.ok) return { ok: false, result: found };
  const source = found.source;
  if (!/x12/i.test(request.contentType)) {
    return invalid(`a query is JSON or X12 (application/edi-x12), not ${request.contentType}`);
  }
  let doc;
  try {
    doc = parseX12(latin1Decode(request.bytes));
  } catch (error) {
    if (error instanceof X12Error) return invalid(`the X12 query cannot be read: ${error.message}`);
    throw error;
  }
  const sets = doc.interchanges.flatMap((ic) =>
    ic.groups.flatMap((group) => group.transactions.map((tx) => ({ tx, group, ic })))
  );
  if (sets.length !== 1) {
    return invalid(`an X12 query holds exactly one transaction set (found ${sets.length})`);
  }
  const { tx, group, ic } = sets[0]!;
  const usage = usageProblem(
    ic.usage,
    `source ${source.id}`,
    source.environment,
    environmentType(config, source.environment),
  );
  if (usage) return invalid(usage);
  const routes = selectRoutes(
    config.subscriptions,
    {
      from: { source: source.id },
      dataModel: "X12",
      eventType: tx.setId,
      x12: x12Facts(tx, group, ic),
    },
    () => "hl7v2",
  );
  const destinations = new Map(config.destinations.map((d) => [d.id, d]));
  let ids = routes.map((r) => r.destinationId).filter((id) => destinations.has(id));
  if (request.destination !== undefined) {
    if (!destinations.has(request.destination)) {
      return {
        ok: false,
        result: { ok: false, status: 404, error: `no destination ${request.destination}` },
      };
    }
    ids = ids.filter((id) => id === request.destination);
  }
  if (ids.length === 0) {
    return {
      ok: false,
      result: {
        ok: false,
        status: 403,
        error: `no subscription of source ${source.id} sends X12 ${tx.setId}` +
          (request.destination ? ` to ${request.destination}` : ""),
      },
    };
  }
  if (ids.length > 1) {
    return invalid(
      `subscriptions send this ${tx.setId} to ${ids.join(", ")}: ` +
        "name one with ?destination=<id>",
    );
  }
  const destination = destinations.get(ids[0]!)!;
  if (destination.environment !== source.environment) {
    return {
      ok: false,
      result: {
        ok: false,
        status: 403,
        error: `destination ${destination.id} is in environment ${destination.environment}, ` +
          `not ${source.environment}`,
      },
    };
  }
  return { ok: true, source, destination, setId: tx.setId };
}
