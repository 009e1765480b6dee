/**
 * A large JSON body posted to `POST /endpoint` (over the planning thread's `offloadBytes`, 32 KiB):
 * parsed (with the duplicate-key check), validated, routed and translated on the planning thread
 * (`plan_threads.ts`), with the code the engine's thread runs on a small body
 * (codecs/json/parse_bytes.ts, `api_json_plan.ts`); the engine's thread then only stores the plan.
 * A 40 MB Media message held the engine's thread ~1.6 s (ACKs waited 5 s) when all of this ran
 * there.
 *
 * The answer is the one the engine's thread would give, byte for byte: a body that is not JSON or
 * names a key twice is `invalid-json` with the parser's own error (the transport answers it as
 * its own parse failure), a refusal is the same refusal. A body that is a query (`PatientSearch`,
 * answered by the querier, not stored) or that comes when no planning thread can be started is
 * handed back (`inline`): the transport then does as it does for a small body. A thread that fails
 * (its heap limit, its deadline) fails this request alone with `500` and the reason.
 * @module
 */

import { QUERY_MODEL } from "../../codecs/datamodel/mod.ts";
import { parseJsonBytes } from "../../codecs/json/parse_bytes.ts";
import type { Config } from "../config/mod.ts";
import type { ApiAcceptResult, ApiRequest } from "../ports.ts";
import { type ApiJsonOutcome, planApiJson, planTransferables } from "./api_json_plan.ts";
import type { PlanThreads } from "./plan_threads.ts";

/** A large JSON body, read but not parsed. */
export interface LargeJsonRequest extends Pick<ApiRequest, "sourceId" | "environment" | "peerIp"> {
  /** The body exactly as received. */
  bytes: Uint8Array;
  /** False when the transport's scan found that no object may repeat a key (json_depth.ts). */
  keysMayRepeat: boolean;
}

/**
 * What became of a large body: answered (stored or refused), not JSON (the parser's error, and
 * its JSON path for a repeated key), or handed back to be parsed and accepted as a small one.
 */
export type LargeJsonResult =
  | { kind: "answered"; result: ApiAcceptResult }
  | { kind: "invalid-json"; error: string; path?: string }
  | { kind: "inline" };

/** What the planning thread sends back for one body. */
export type ApiJsonJobResult =
  | { kind: "invalid-json"; error: string; path?: string }
  | { kind: "query" }
  | { kind: "outcome"; outcome: ApiJsonOutcome };

/** What an inbox needs to take a large body. */
export interface LargeJsonOptions {
  config: Config;
  threads?: PlanThreads;
}

/**
 * Parses and plans `request` on the planning thread; `store` stores a plan (or answers its
 * refusal) on this thread, under the config it was planned with.
 */
export async function acceptLargeJson(
  options: LargeJsonOptions,
  request: LargeJsonRequest,
  store: (config: Config, outcome: ApiJsonOutcome) => Promise<ApiAcceptResult>,
): Promise<LargeJsonResult> {
  const { threads } = options;
  if (!threads) return { kind: "inline" };
  const config = options.config;
  const offloaded = await threads.apiJson(config, request);
  if (offloaded.status === "unavailable") return { kind: "inline" };
  if (offloaded.status !== "done") {
    const why = offloaded.status === "failed" ? offloaded.reason : "the engine is stopping";
    return {
      kind: "answered",
      result: {
        ok: false,
        status: 500,
        error: `could not parse or translate the message: ${why}`,
      },
    };
  }
  const done = offloaded.value;
  if (done.kind === "query") return { kind: "inline" };
  if (done.kind === "invalid-json") return done;
  return { kind: "answered", result: await store(config, done.outcome) };
}

/**
 * The planning thread's job: parses `bytes` and plans the message under `config`, as the engine's
 * thread does a small body; with the buffers to move back.
 */
export function runApiJsonJob(
  config: Config,
  request: Pick<LargeJsonRequest, "sourceId" | "environment" | "keysMayRepeat">,
  bytes: Uint8Array,
): { result: ApiJsonJobResult; transfer: ArrayBuffer[] } {
  const parsed = parseJsonBytes(bytes, { keysMayRepeat: request.keysMayRepeat });
  if (!parsed.ok) {
    const { error, path } = parsed;
    return { result: { kind: "invalid-json", error, ...(path ? { path } : {}) }, transfer: [] };
  }
  if (isQuery(parsed.value)) return { result: { kind: "query" }, transfer: [] };
  const outcome = planApiJson(config, request, parsed.value);
  return { result: { kind: "outcome", outcome }, transfer: planTransferables(outcome) };
}

/** Whether a message is a query (`Meta.DataModel` PatientSearch), as the transport tells one. */
function isQuery(json: unknown): boolean {
  if (typeof json !== "object" || json === null) return false;
  const meta = (json as Record<string, unknown>).Meta;
  return typeof meta === "object" && meta !== null &&
    (meta as Record<string, unknown>).DataModel === QUERY_MODEL;
}
