/**
 * What an {@link ApiInbox} may offer for large JSON bodies: to parse, check and plan them off the
 * engine's thread (the engine's `EngineApiInbox` does it on its planning thread, see
 * actors/engine/api_large_json.ts, whose request and result types come through ports.ts).
 * `POST /endpoint` hands such an inbox the bytes of a body larger than `largeJsonBytes` instead of
 * parsing them itself, and answers what it says exactly as it answers its own parse of a small
 * body.
 * @module
 */

import type {
  ApiInbox,
  LargeFhirRequest,
  LargeFhirResult,
  LargeJsonRequest,
  LargeJsonResult,
} from "../../actors/ports.ts";

export type { LargeFhirRequest, LargeFhirResult, LargeJsonRequest, LargeJsonResult };

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
