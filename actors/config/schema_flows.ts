/**
 * The data flows of the config (see `schema.ts`): `subscriptions` (from an integration or API
 * source to destinations, narrowed by data model, event type, X12 transaction set, C-CDA
 * document type and filter rules) and `connections` (organizations grouping the rest).
 * @module
 */

import { z } from "zod";
import { exactlyOne, id } from "./schema_values.ts";

/** The schemas of one subscription and one connection. */
// The inferred zod types are the contract (see `Config`); spelling them out would duplicate them.
// deno-lint-ignore explicit-module-boundary-types
export function flowSchemas() {
  const rule = z.strictObject({
    /** A dotted JSON path into the data-model message, e.g. `Meta.EventType`. */
    path: z.string().min(1),
    op: z.enum(["in", "notIn"]),
    values: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).min(1),
  });

  const subscription = z.strictObject({
    id: id.optional(),
    from: exactlyOne(
      z.strictObject({ integration: id.optional(), source: id.optional() }),
      ["integration", "source"],
      "the integration or API source the data comes from",
    ),
    to: z.array(id).min(1),
    dataModels: z.array(z.string()).optional(),
    eventTypes: z.array(z.string()).optional(),
    format: z.enum(["hl7v2", "json", "fhir"]).optional(),
    /** X12 transaction sets this flow takes: every list given must match (README "X12"). */
    x12: z.strictObject({
      /** ST01 (`837`), the guide's short name (`837P`) or GS08 / ST03 (`005010X222A1`). */
      transactionSets: z.array(z.string().min(1)).min(1).optional(),
      /** GS08 versions (`005010X222A1`). */
      versions: z.array(z.string().min(1)).min(1).optional(),
      /** ISA06 or GS02 of the sender. */
      senderIds: z.array(z.string().min(1)).min(1).optional(),
      /** ISA08 or GS03 of the receiver. */
      receiverIds: z.array(z.string().min(1)).min(1).optional(),
    }).optional(),
    /** C-CDA document types (`CCD`, `Discharge Summary`...), in a file or in an MDM's OBX-5. */
    documentTypes: z.array(z.string().min(1)).min(1).optional(),
    filter: exactlyOne(
      z.strictObject({
        sendIf: z.array(rule).min(1).optional(),
        blockAll: z.literal(true).optional(),
      }),
      ["sendIf", "blockAll"],
      '"send if" rules that must all hold, or block all',
    ).optional(),
    /** Config modifiers on the JSON of this flow (checked in shaping.ts). */
    modifiers: z.array(z.unknown()).optional(),
    /** HL7 v2 edits on the HL7 of this flow (checked in shaping.ts). */
    hl7Edits: z.array(z.unknown()).optional(),
  });

  const connection = z.strictObject({
    id,
    name: z.string(),
    integrations: z.array(id).default([]),
    sources: z.array(id).default([]),
    destinations: z.array(id).default([]),
  });

  return { subscription, connection };
}
