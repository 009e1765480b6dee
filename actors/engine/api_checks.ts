/**
 * Checks `POST /endpoint` and `POST /query` share: that the token's source exists and is in the
 * token's environment, and reading `Meta.Destinations`.
 * @module
 */

import type { Config, SourceConfig } from "../config/mod.ts";
import type { ApiRequest } from "../ports.ts";

/** The source of `request`, or why it may not send. */
export function sourceOf(
  config: Config,
  request: Pick<ApiRequest, "sourceId" | "environment">,
): { ok: true; source: SourceConfig } | { ok: false; status: 403; error: string } {
  const source = config.sources.find((s) => s.id === request.sourceId);
  if (!source) return { ok: false, status: 403, error: `unknown source ${request.sourceId}` };
  if (source.environment !== request.environment) {
    return {
      ok: false,
      status: 403,
      error: `the access token is for environment ${request.environment}, ` +
        `but source ${source.id} belongs to ${source.environment}`,
    };
  }
  return { ok: true, source };
}

/** `Meta.Destinations` as ids: undefined when absent, a reason when malformed. */
export function readDestinations(value: unknown): string[] | undefined | string {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return "Meta.Destinations: expected an array of {ID}";
  const ids: string[] = [];
  for (const [i, d] of value.entries()) {
    const id = d && typeof d === "object" ? (d as Record<string, unknown>).ID : undefined;
    if (typeof id !== "string" || id === "") return `Meta.Destinations[${i}].ID: expected a string`;
    ids.push(id);
  }
  return ids;
}
