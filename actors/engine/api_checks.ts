/**
 * Checks `POST /endpoint` and `POST /query` share: that the token's source exists and is in the
 * token's environment, and reading `Meta.Destinations`.
 * @module
 */

import type { Config, DestinationConfig, SourceConfig } from "../config/mod.ts";
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

/** Characters of a client's value quoted in an answer; longer values are cut. */
const QUOTE_CHARS = 64;

/** A client's value for an error: JSON-quoted, cut to {@link QUOTE_CHARS} with its length. */
export function quote(value: string): string {
  return value.length <= QUOTE_CHARS
    ? JSON.stringify(value)
    : `${JSON.stringify(value.slice(0, QUOTE_CHARS))}… (${value.length} characters)`;
}

/** How a `Meta.Destinations[]` entry was matched. */
export interface DestinationMatch {
  /** The configured destination. */
  id: string;
  /** `ID` when the entry's ID is a destination id, `Name` when only its Name matched. */
  by: "ID" | "Name";
}

/** The destinations `Meta.Destinations` names, or why it cannot be read. */
export type NamedDestinations =
  | { ok: true; matches: DestinationMatch[] | undefined; notes: string[] }
  | { ok: false; status: 400 | 404; error: string; path: string };

/**
 * Reads `Meta.Destinations` (absent: `matches` undefined). Each entry is matched by `ID` to a
 * destination id, then by `Name` to a destination name (Redox payloads carry both, and a
 * client's copy of Redox's `ID` is not this engine's), preferring the source's environment
 * when names repeat. `notes` says, for each entry matched by Name, which destination it became.
 */
export function readDestinations(
  value: unknown,
  destinations: readonly DestinationConfig[],
  environment: string,
): NamedDestinations {
  if (value === undefined || value === null) return { ok: true, matches: undefined, notes: [] };
  if (!Array.isArray(value)) {
    return {
      ok: false,
      status: 400,
      error: "Meta.Destinations: expected an array of {ID, Name}",
      path: "Meta.Destinations",
    };
  }
  const matches: DestinationMatch[] = [];
  const notes: string[] = [];
  for (const [i, d] of value.entries()) {
    const path = `Meta.Destinations[${i}]`;
    const entry = d && typeof d === "object" ? d as Record<string, unknown> : {};
    const id = typeof entry.ID === "string" && entry.ID !== "" ? entry.ID : undefined;
    const name = typeof entry.Name === "string" && entry.Name !== "" ? entry.Name : undefined;
    if (id === undefined && name === undefined) {
      return { ok: false, status: 400, error: `${path}: expected an ID or a Name`, path };
    }
    const byId = id === undefined ? undefined : destinations.find((x) => x.id === id);
    if (byId) {
      matches.push({ id: byId.id, by: "ID" });
      continue;
    }
    const named = name === undefined ? [] : destinations.filter((x) => x.name === name);
    const byName = named.find((x) => x.environment === environment) ?? named[0];
    if (byName) {
      matches.push({ id: byName.id, by: "Name" });
      notes.push(
        `${path}: ${id === undefined ? "no ID" : `no destination has ID ${quote(id)}`}; ` +
          `matched by Name ${quote(name!)} to destination ${byName.id}`,
      );
      continue;
    }
    const tried = [
      ...(id === undefined ? [] : [`ID ${quote(id)}`]),
      ...(name === undefined ? [] : [`Name ${quote(name)}`]),
    ];
    return {
      ok: false,
      status: 404,
      error: `${path}: no destination with ${tried.join(" or ")}`,
      path,
    };
  }
  return { ok: true, matches, notes };
}
