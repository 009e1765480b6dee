/**
 * What the store's parts (intake, head writes, queue reads, dead letters) work with: the store's
 * KV, group committer and clock, which are private to the `Store` and handed to its parts here,
 * built once when the store is made (never per message).
 * @module
 */

import type { PayloadDictionaries } from "./dictionaries.ts";
import type { GroupCommitter } from "./group_commit.ts";
import type { StoreHealth } from "./health.ts";
import type { Logger } from "../runtime/log.ts";

/**
 * The members of the `Store` itself its parts read as they run: they may change after the store
 * is made (the engine sets the config version and the logger), so they are read from it each time.
 */
export interface StoreSelf {
  /** Where the store reports what it does on its own (an unreadable queue entry set aside). */
  readonly log: Logger | undefined;
  /** The running config's version, stamped on each RECEIVE and SEND log. */
  readonly configVersion: () => string | undefined;
  /** A new time-ordered id. */
  newId(): string;
}

/** See the module doc. */
export interface StoreContext {
  readonly kv: Deno.Kv;
  readonly committer: GroupCommitter;
  /** `Date.now` unless a test injects a clock. */
  readonly now: () => number;
  /** Payload compression dictionaries (see dictionaries.ts). */
  readonly dictionaries: PayloadDictionaries;
  /** Whether KV can commit now (a large payload's chunk writes report a fault to it). */
  readonly health: StoreHealth;
  /** The store itself, for what it may change while it runs. */
  readonly self: StoreSelf;
  /**
   * The lease check a queue's writes carry (scale-out fencing; `Store.fenceWith`), or undefined
   * while no fencing is set.
   */
  fence: ((queue: string) => Deno.AtomicCheck | undefined) | undefined;
}

/** The fencing check of `queue`, as a list to spread into a write's checks. */
export function fenced(ctx: StoreContext, queue: string): Deno.AtomicCheck[] {
  const check = ctx.fence?.(queue);
  return check ? [check] : [];
}
