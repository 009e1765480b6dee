/**
 * What an {@link ApiInbox} may offer for large JSON bodies: to parse, check and plan them off the
 * engine's thread (the engine's `EngineApiInbox` does it on its planning thread, see
 * actors/engine/api_large_json.ts, whose types these mirror: transports import no more of actors/
 * than ports.ts). `POST /endpoint` hands such an inbox the bytes of a body larger than
 * `largeJsonBytes` instead of parsing them itself, and answers what it says exactly as it answers
 * its own parse of a small body.
 * @module
 */

import type { ApiAcceptResult, ApiInbox, ApiRequest } from "../../actors/ports.ts";
import type { FhirIssue } from "../../codecs/fhir/mod.ts";

/** A large JSON body, read and depth-checked but not parsed. */
export interface LargeJsonRequest extends Pick<ApiRequest, "sourceId" | "environment" | "peerIp"> {
  /** The body exactly as received. */
  bytes: Uint8Array;
  /** False when the depth scan found that no object may repeat a key (json_depth.ts). */
  keysMayRepeat: boolean;
}

/**
 * What became of it: answered (stored or refused), not JSON (the parser's error, with the JSON
 * path of a repeated key), or handed back to be parsed and accepted here as a small body is.
 */
export type LargeJsonResult =
  | { kind: "answered"; result: ApiAcceptResult }
  | { kind: "invalid-json"; error: string; path?: string }
  | { kind: "inline" };

/** A large FHIR message Bundle, read and depth-checked but not parsed. */
export interface LargeFhirRequest extends LargeJsonRequest {
  /** `limits.maxFhirBundleEntries`. */
  maxEntries: number;
  /** Whether a VXU^V04 bundle goes to the inbox's own door (then it is handed back). */
  vxu: boolean;
}

/**
 * What the FHIR route answers of a large bundle: each refusal it makes itself of a small one, with
 * what it needs to make it (the inbox's answer comes with each problem's FHIRPath), or `inline`:
 * parsed and taken here, as a small one is.
 */
export type LargeFhirResult =
  | { kind: "inline" }
  | { kind: "invalid-json"; error: string }
  | { kind: "too-many-entries"; entries: number }
  | { kind: "invalid"; issues: FhirIssue[] }
  | { kind: "unmapped"; error: string; issues: FhirIssue[] }
  | { kind: "answered"; result: ApiAcceptResult; located: [string, string][] };

/** An inbox that takes large JSON bodies (data-model messages, FHIR bundles) unparsed. */
export interface LargeJsonInbox {
  /** Bodies larger than this (bytes) go to the methods below. */
  readonly largeJsonBytes: number;
  /** Parses, checks, routes and stores a large data-model message (or says why not). */
  acceptLargeJson(request: LargeJsonRequest): Promise<LargeJsonResult>;
  /** Parses, validates, converts, routes and stores a large FHIR bundle (or says why not). */
  acceptLargeFhir?(request: LargeFhirRequest): Promise<LargeFhirResult>;
}

/** `inbox` as a {@link LargeJsonInbox}, when it is one. */
export function largeJsonInbox(inbox: ApiInbox): LargeJsonInbox | undefined {
  const maybe = inbox as Partial<LargeJsonInbox>;
  return typeof maybe.acceptLargeJson === "function" &&
      typeof maybe.largeJsonBytes === "number"
    ? maybe as LargeJsonInbox
    : undefined;
}
