/**
 * What routing knows of an X12 transaction set, and how a subscription's `x12` lists match it:
 * every list given must hold one of the set's values (lists are ORed within, ANDed across).
 * @module
 */

import type { SubscriptionConfig } from "../config/mod.ts";

/** The routing facts of one X12 transaction set. */
export interface X12Facts {
  /** ST01 (`837`). */
  setId: string;
  /** The implementation guide's short name (`837P`), when known. */
  type?: string;
  /** ST03, or GS08 when ST03 is empty (`005010X222A1`). */
  implementation: string;
  /** GS08. */
  version: string;
  /** ISA06 (padding removed) and GS02. */
  senderIds: string[];
  /** ISA08 (padding removed) and GS03. */
  receiverIds: string[];
  /** ISA15: `P`, `T` or `I`. */
  usage: string;
}

/** Whether a subscription's `x12` lists all match `facts`. */
export function x12Matches(
  wanted: NonNullable<SubscriptionConfig["x12"]>,
  facts: X12Facts,
): boolean {
  const sets = [facts.setId, facts.implementation, ...(facts.type ? [facts.type] : [])];
  if (wanted.transactionSets && !wanted.transactionSets.some((s) => sets.includes(s))) {
    return false;
  }
  if (wanted.versions && !wanted.versions.includes(facts.version)) return false;
  if (wanted.senderIds && !wanted.senderIds.some((s) => facts.senderIds.includes(s))) return false;
  if (wanted.receiverIds && !wanted.receiverIds.some((s) => facts.receiverIds.includes(s))) {
    return false;
  }
  return true;
}
