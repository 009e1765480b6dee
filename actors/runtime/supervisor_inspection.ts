/**
 * What the supervisor answers about its actors (see `supervisor.ts`): the status of one actor or
 * of every known one (active or not), the actors crashing in a loop for `/healthz`, and operator
 * commands (pause, resume, retry, skip) with their `actor.command` log line. Admin requests only:
 * nothing here runs per message.
 * @module
 */

import type { Actor, ActorCommand, ActorStatus, CommandResult } from "./actor.ts";
import type { Activation, SupervisionProblem, SupervisorOptions } from "./supervisor_options.ts";

/** Crashes in a row (no run in between lasting the longest backoff) that make an actor failing. */
export const CRASH_LOOP = 3;

/** What inspection reads of the supervisor. */
export interface InspectionContext {
  /** The supervisor's options (store, factory, known ids, cluster, log). */
  readonly options: SupervisorOptions;
  /** The active actors. */
  readonly active: ReadonlyMap<string, Activation>;
  /** Aborted once the supervisor stops: no actor is activated any more. */
  readonly stopping: AbortSignal;
}

/**
 * Actors crashing in a loop ({@link CRASH_LOOP} crashes in a row or more). Actors waiting for KV
 * are not listed: the store's health says why. Cheap: no KV read.
 */
export function problemsOf(active: ReadonlyMap<string, Activation>): SupervisionProblem[] {
  const out: SupervisionProblem[] = [];
  for (const [id, a] of active) {
    if (a.crashes >= CRASH_LOOP && !a.waitingForStorage) {
      out.push({ actor: id, crashes: a.crashes, reason: a.lastCrash ?? "crashed" });
    }
  }
  return out;
}

/** Status of one actor, active or not; undefined if the identity is unknown. */
export async function statusOf(
  ctx: InspectionContext,
  id: string,
): Promise<ActorStatus | undefined> {
  const a = ctx.active.get(id);
  if (a) {
    return {
      ...(await a.actor.status()),
      restarts: a.restarts,
      ...(a.lastCrash ? { lastError: a.lastCrash } : {}),
    };
  }
  const actor = ctx.options.factory(id);
  if (!actor) return undefined;
  // Inactive: its queue and pause state are in KV; the actor object is built only to describe.
  return {
    ...(await actor.status()),
    state: (await ctx.options.store.getControl(id)).paused ? "paused" : "idle",
  };
}

/**
 * Status of every known or active actor (and of every non-empty queue's actor), in id order,
 * each read through `status`.
 */
export async function statusesOf(
  ctx: InspectionContext,
  status: (id: string) => Promise<ActorStatus | undefined>,
): Promise<ActorStatus[]> {
  const ids = new Set<string>([...ctx.options.knownIds?.() ?? [], ...ctx.active.keys()]);
  for (const q of (await ctx.options.store.nonEmptyQueues()).keys()) {
    if (ctx.options.factory(q)) ids.add(q);
  }
  const out: ActorStatus[] = [];
  for (const id of [...ids].sort()) {
    const s = await status(id);
    if (s) out.push(s);
  }
  return out;
}

/**
 * Runs an operator command on `actor` (the activated actor `id`, undefined when it could not be
 * activated here: unknown, or another node's) and logs it.
 */
export async function runCommand(
  ctx: InspectionContext,
  id: string,
  actor: Actor | undefined,
  command: ActorCommand,
  by: string,
  reason: string,
): Promise<CommandResult | undefined> {
  if (!actor) {
    if (!ctx.options.factory(id)) return undefined;
    const owner = ctx.options.cluster?.ownerOf(id);
    return {
      ok: false,
      message: ctx.stopping.aborted
        ? `the engine is stopping: actor ${id} takes no command now`
        : owner && owner !== ctx.options.cluster?.node
        ? `actor ${id} belongs to node ${owner}: send the command there`
        // Here, when its lease is another process's: one still running it, or one that stopped
        // without releasing it (it lapses within cluster.leaseSeconds).
        : `actor ${id} could not be activated here: its lease is held by another process ` +
          `(one running it, or one that stopped without releasing it); try again once it lapses`,
    };
  }
  const result = await actor.command(command, by, reason);
  ctx.options.log.info("actor.command", {
    actor: id,
    command,
    by,
    reason,
    ok: result.ok,
    result: result.message,
  });
  return result;
}
