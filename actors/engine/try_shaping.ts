/**
 * `POST /admin/modifiers/try`: runs a modifier list (or an HL7 edit list) on a stored message or
 * on a payload given in the request, with the translation sets in use, and answers the result and
 * what changed, path by path. Nothing is stored or delivered.
 *
 * A stored HL7 v2 message meets `modifiers` as its data-model JSON (the base translation, as a
 * JSON route would) and `hl7Edits` as itself; a stored JSON message meets `modifiers` only.
 * @module
 */

import { hl7ToJson } from "../../codecs/datamodel/mod.ts";
import { decodeHl7Bytes, encodeHl7, tryParseHl7 } from "../../codecs/hl7v2/mod.ts";
import {
  applyHl7Edits,
  applyModifiers,
  compileHl7Edits,
  compileModifiers,
  diffJson,
  type JsonChange,
} from "../../codecs/modifiers/mod.ts";
import type { Config } from "../config/mod.ts";
import { errorMessage } from "../runtime/errors.ts";
import type { Store } from "../store/store.ts";
import { translationSetsFor } from "./translation_sets.ts";

/** A try request, as the admin endpoint reads it from JSON. */
export interface TryRequest {
  /** A stored message's id (`Meta.Message.ID`, a log's `messageId`)… */
  readonly messageId?: unknown;
  /** …or a payload: a data-model JSON object, or HL7 v2 text. */
  readonly payload?: unknown;
  /** A modifier list, as in the config. */
  readonly modifiers?: unknown;
  /** An HL7 edit list, as in the config. */
  readonly hl7Edits?: unknown;
  /** A destination id: the `environment` and `destination` inputs of `use`. */
  readonly destination?: unknown;
}

/** What a try answers. */
export type TryResult =
  | {
    readonly ok: true;
    /** Which list ran. */
    readonly kind: "modifiers" | "hl7Edits";
    /** The modified payload: JSON, or HL7 v2 text. */
    readonly result: unknown;
    /** The paths added, removed or changed (never values). */
    readonly diff: readonly JsonChange[];
    /** Each modifier or edit: index, name, the paths it changed. */
    readonly runs: readonly unknown[];
    readonly translationSets: readonly { name: string; version: number }[];
  }
  | {
    readonly ok: false;
    /** 400: the request is wrong; 404: no such message; 422: a modifier failed on it. */
    readonly status: 400 | 404 | 422;
    readonly error: string;
    readonly problems?: readonly { path: string; message: string }[];
  };

const INPUTS = new Set(["environment", "destination", "source"]);

/** Runs a try; see the module doc. Never rejects for a bad request or payload. */
export async function tryShaping(
  config: Config,
  store: Pick<Store, "getMessage" | "getPayload">,
  request: TryRequest,
): Promise<TryResult> {
  const bad = (error: string): TryResult => ({ ok: false, status: 400, error });
  const hasMods = request.modifiers !== undefined, hasEdits = request.hl7Edits !== undefined;
  if (hasMods === hasEdits) return bad("give either modifiers or hl7Edits");
  if ((request.messageId === undefined) === (request.payload === undefined)) {
    return bad("give either messageId or payload");
  }
  let destination: Config["destinations"][number] | undefined;
  if (request.destination !== undefined) {
    destination = config.destinations.find((d) => d.id === request.destination);
    if (!destination) return bad(`destination: no destination ${String(request.destination)}`);
  }
  const sets = translationSetsFor(config);
  const names = new Set(sets.keys());

  // The input, as text (HL7) or JSON.
  let text: string | undefined;
  let json: unknown;
  let timeZone = "UTC";
  let source: { ID: string; Name?: string } | undefined;
  if (request.messageId !== undefined) {
    if (typeof request.messageId !== "string" || request.messageId.length > 256) {
      return bad("messageId: must be a message id");
    }
    const record = await store.getMessage(request.messageId);
    if (!record) return { ok: false, status: 404, error: `no message ${request.messageId}` };
    const bytes = await store.getPayload(record);
    if (/json/i.test(record.contentType)) {
      try {
        json = JSON.parse(new TextDecoder().decode(bytes));
      } catch (e) {
        return bad(`message ${record.id} is not JSON: ${errorMessage(e)}`);
      }
    } else text = decodeHl7Bytes(bytes, config.limits.fallbackCharset);
    if (record.origin.kind === "integration") {
      const i = config.integrations.find((x) => x.id === record.origin.id);
      timeZone = i?.timeZone ?? "UTC";
      source = { ID: record.origin.id, ...(i?.name ? { Name: i.name } : {}) };
    }
  } else if (typeof request.payload === "string") text = request.payload;
  else if (typeof request.payload === "object" && request.payload !== null) json = request.payload;
  else return bad("payload: a data-model JSON object or HL7 v2 text");

  if (hasEdits) {
    if (text === undefined) return bad("hl7Edits apply to HL7 v2; this payload is JSON");
    const c = compileHl7Edits(request.hl7Edits, { translationSets: names });
    if (!c.ok) return refusedList("hl7Edits", c.problems);
    const parsed = tryParseHl7(text);
    if (!parsed.ok) return bad(`the payload is not HL7 v2: ${parsed.error.message}`);
    const r = applyHl7Edits(c.list, parsed.message, { translationSets: sets });
    if (!r.ok) return { ok: false, status: 422, error: r.failure.message };
    return {
      ok: true,
      kind: "hl7Edits",
      result: new TextDecoder().decode(encodeHl7(r.message.encode())),
      diff: [...new Set(r.runs.flatMap((x) => x.changed))].map((path) => ({
        path,
        change: "changed" as const,
      })),
      runs: r.runs,
      translationSets: r.translationSets,
    };
  }
  const c = compileModifiers(request.modifiers, { translationSets: names, inputs: INPUTS });
  if (!c.ok) return refusedList("modifiers", c.problems);
  if (json === undefined) {
    const parsed = tryParseHl7(text ?? "");
    if (!parsed.ok) return bad(`the payload is not HL7 v2: ${parsed.error.message}`);
    try {
      json = hl7ToJson(parsed.message, {
        timeZone,
        ...(source ? { source } : {}),
        maxEmbeddedFileBytes: config.limits.maxEmbeddedFileBytes,
      });
    } catch (e) {
      return { ok: false, status: 422, error: `no data-model JSON for it: ${errorMessage(e)}` };
    }
  }
  const r = applyModifiers(c.list, json, {
    translationSets: sets,
    inputs: destination
      ? { environment: destination.environment, destination: destination.id }
      : {},
  });
  if (!r.ok) return { ok: false, status: 422, error: r.failure.message };
  return {
    ok: true,
    kind: "modifiers",
    result: r.value,
    diff: diffJson(json, r.value),
    runs: r.runs,
    translationSets: r.translationSets,
  };
}

function refusedList(
  list: string,
  problems: readonly { path: string; message: string }[],
): TryResult {
  return {
    ok: false,
    status: 400,
    error: `${list} cannot be compiled`,
    problems: problems.map((p) => ({ path: `${list}${p.path}`, message: p.message })),
  };
}
