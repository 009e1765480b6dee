/**
 * A large FHIR message Bundle posted to the FHIR API (`POST /fhir/R4/$process-message` or
 * `/Bundle`, over the planning thread's `offloadBytes`): parsed, its entries counted, validated,
 * converted to the data model, serialised and planned on the planning thread, with the code the
 * FHIR route runs on a small one (codecs/json/parse_bytes.ts, codecs/fhir/, `api_json_plan.ts`);
 * the engine's thread then stores the plan, as for `POST /endpoint` (`api_large_json.ts`).
 *
 * What comes back says which answer the route gives, with what it needs to give it the way it
 * gives it of a small bundle: the parser's error, the entry count, the validation issues, the
 * conversion's issues, or the inbox's answer with the FHIRPath of each problem (located in the
 * bundle on the thread: the bundle stays there). A VXU^V04 bundle, which the inbox writes as HL7
 * itself, is handed back (`inline`), as is every body when no thread can be started. A thread that
 * fails fails the request with `500` and the reason.
 * @module
 */

import { FhirError, type FhirIssue, fhirToModel, isVxuBundle } from "../../codecs/fhir/mod.ts";
import { locateInBundle } from "../../codecs/fhir/locate.ts";
import { fhirBundleEntryCount, validateFhirBundle } from "../../codecs/fhir/validate.ts";
import { parseJsonBytes } from "../../codecs/json/parse_bytes.ts";
import type { Config } from "../config/mod.ts";
import type { ApiAcceptResult } from "../ports.ts";
import { type ApiJsonOutcome, planApiJson, planTransferables } from "./api_json_plan.ts";
import type { LargeJsonRequest } from "./api_large_json.ts";
import type { PlanThreads } from "./plan_threads.ts";

/** A large FHIR body, read and depth-checked but not parsed. */
export interface LargeFhirRequest extends LargeJsonRequest {
  /** `limits.maxFhirBundleEntries`. */
  maxEntries: number;
  /** Whether a VXU^V04 bundle goes to the inbox's own door (then it is handed back). */
  vxu: boolean;
}

/** What the FHIR route answers of a large body (see the module doc). */
export type LargeFhirResult =
  | { kind: "inline" }
  | { kind: "invalid-json"; error: string }
  | { kind: "too-many-entries"; entries: number }
  | { kind: "invalid"; issues: FhirIssue[] }
  | { kind: "unmapped"; error: string; issues: FhirIssue[] }
  | {
    kind: "answered";
    result: ApiAcceptResult;
    /** Each problem's data-model path and its FHIRPath in the bundle. */
    located: [string, string][];
  };

/** What the planning thread sends back for one bundle. */
export type FhirJobResult =
  | Exclude<LargeFhirResult, { kind: "inline" | "answered" }>
  | { kind: "vxu" }
  | {
    kind: "outcome";
    outcome: ApiJsonOutcome;
    /** The data-model message as stored (UTF-8 JSON). */
    bytes: Uint8Array;
    located: [string, string][];
  };

/** What an inbox needs to take a large bundle. */
export interface LargeFhirOptions {
  config: Config;
  threads?: PlanThreads;
}

/**
 * Takes `request` on the planning thread; `store` stores a plan (or answers its refusal) on this
 * thread, under the config it was planned with, with the message's bytes.
 */
export async function acceptLargeFhir(
  options: LargeFhirOptions,
  request: LargeFhirRequest,
  store: (config: Config, outcome: ApiJsonOutcome, bytes: Uint8Array) => Promise<ApiAcceptResult>,
): Promise<LargeFhirResult> {
  const { threads } = options;
  if (!threads) return { kind: "inline" };
  const config = options.config;
  const offloaded = await threads.fhirJson(config, request);
  if (offloaded.status === "unavailable") return { kind: "inline" };
  if (offloaded.status !== "done") {
    const why = offloaded.status === "failed" ? offloaded.reason : "the engine is stopping";
    return {
      kind: "answered",
      result: { ok: false, status: 500, error: `could not parse or translate the message: ${why}` },
      located: [],
    };
  }
  const done = offloaded.value;
  if (done.kind === "vxu") return { kind: "inline" };
  if (done.kind !== "outcome") return done;
  const result = await store(config, done.outcome, done.bytes);
  return { kind: "answered", result, located: done.located };
}

const encoder = new TextEncoder();

/**
 * The planning thread's job: what the FHIR route does of a bundle before it is stored (see the
 * module doc), with the buffers to move back.
 */
export function runFhirJob(
  config: Config,
  request: Pick<
    LargeFhirRequest,
    "sourceId" | "environment" | "keysMayRepeat" | "maxEntries" | "vxu"
  >,
  body: Uint8Array,
): { result: FhirJobResult; transfer: ArrayBuffer[] } {
  const done = (result: FhirJobResult) => ({ result, transfer: [] });
  const parsed = parseJsonBytes(body, { keysMayRepeat: request.keysMayRepeat });
  if (!parsed.ok) return done({ kind: "invalid-json", error: parsed.error });
  const bundle = parsed.value;
  const entries = fhirBundleEntryCount(bundle);
  if (entries > request.maxEntries) return done({ kind: "too-many-entries", entries });
  const issues = validateFhirBundle(bundle);
  if (issues.length > 0) return done({ kind: "invalid", issues });
  if (request.vxu && isVxuBundle(bundle)) return done({ kind: "vxu" });
  let dm;
  try {
    dm = fhirToModel(bundle);
  } catch (error) {
    if (!(error instanceof FhirError)) throw error;
    return done({ kind: "unmapped", error: error.message, issues: error.issues });
  }
  const bytes = encoder.encode(JSON.stringify(dm));
  const outcome = planApiJson(config, request, dm);
  const located: [string, string][] = outcome.kind === "refused"
    ? (outcome.result.problems ?? []).map((p) => [
      p.path,
      locateInBundle(dm.Meta.DataModel, bundle, p.path),
    ])
    : [];
  const transfer = planTransferables(outcome);
  if (bytes.buffer instanceof ArrayBuffer) transfer.push(bytes.buffer);
  return { result: { kind: "outcome", outcome, bytes, located }, transfer };
}
