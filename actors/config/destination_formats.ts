/**
 * Which forms a destination can take a message in, the one rule shared by the routing step (a
 * route it breaks fails with the reason) and `main.ts check` (a subscription asking for such a
 * route is refused). HTTPS and SFTP destinations take HL7 v2, JSON and FHIR; an MLLP destination
 * takes HL7 v2 only: MLLP carries HL7 messages, and no ACK could answer JSON. Nor does it take an
 * X12 interchange or a C-CDA in any form (`documentMismatch`): routing fails such a route, and
 * `check` warns about a subscription that may ask for one (document_route_warnings.ts).
 * @module
 */

import type { DestinationConfig, SubscriptionConfig } from "./schema.ts";

/** A subscription's `format`: HL7 v2, data-model JSON or a FHIR R4 bundle. */
export type DestinationFormat = NonNullable<SubscriptionConfig["format"]>;

/** Why a destination cannot take a form: its kind, what it takes, and the form asked of it. */
export interface FormatMismatch {
  /** The destination's kind as users name it (`MLLP`). */
  kind: "MLLP";
  /** The only form it takes (`HL7 v2`). */
  takes: "HL7 v2";
  /** The form asked of it, as users name it (`JSON`, `FHIR`). */
  asked: "JSON" | "FHIR";
}

/**
 * Why `destination` cannot take a message in `format`, or undefined when it can.
 *
 * @example
 * ```ts
 * formatMismatch(mllpDestination, "json"); // { kind: "MLLP", takes: "HL7 v2", asked: "JSON" }
 * formatMismatch(httpsDestination, "json"); // undefined
 * ```
 */
export function formatMismatch(
  destination: Pick<DestinationConfig, "mllp">,
  format: DestinationFormat,
): FormatMismatch | undefined {
  if (format === "hl7v2" || !destination.mllp) return undefined;
  return { kind: "MLLP", takes: "HL7 v2", asked: format === "json" ? "JSON" : "FHIR" };
}

/** A document that is not HL7 v2: an X12 interchange or a C-CDA (as users name them). */
export type DocumentKind = "X12" | "C-CDA";

/**
 * Why `destination` cannot take a `document` in any form, or undefined when it can: an MLLP
 * destination carries HL7 v2 only, and neither X12 nor a C-CDA (as received or as JSON) is one.
 *
 * @example
 * ```ts
 * documentMismatch(mllpDestination, "X12"); // "is MLLP: it carries HL7 v2 only, not X12"
 * documentMismatch(httpsDestination, "C-CDA"); // undefined
 * ```
 */
export function documentMismatch(
  destination: Pick<DestinationConfig, "mllp">,
  document: DocumentKind,
): string | undefined {
  if (!destination.mllp) return undefined;
  return `is MLLP: it carries HL7 v2 only, not ${document === "X12" ? "X12" : "a C-CDA document"}`;
}
