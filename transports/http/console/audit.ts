/**
 * Writing operator actions to the audit log (through the store's port) with who, when, what, on
 * which target, why, and from which address.
 * @module
 */

import type { AuditEntry, ConsoleStateStore, Logger } from "../../../actors/ports.ts";
import type { Principal } from "./users.ts";

/** What the caller knows of an action; the id and time are added here. */
export type AuditFacts = Omit<AuditEntry, "id" | "at" | "by" | "role">;

/** Appends an entry; a failure to write is logged, never thrown at the operator after the fact. */
export async function writeAudit(
  deps: { state: ConsoleStateStore; newId: () => string; now: () => number; log: Logger },
  who: Principal,
  facts: AuditFacts,
): Promise<void> {
  const entry: AuditEntry = {
    id: deps.newId(),
    at: deps.now(),
    by: who.name,
    role: who.role,
    ...facts,
    reason: facts.reason.slice(0, 1000),
    message: facts.message.slice(0, 1000),
  };
  try {
    await deps.state.appendAudit(entry);
  } catch (error) {
    deps.log.error("audit.write-failed", { action: facts.action, target: facts.target, error });
  }
}
