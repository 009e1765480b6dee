/**
 * A real outbound MLLP delivery actor for tests: a `DeliveryActor` with a real `MllpDeliverer` and
 * the socket connector (or, after {@link useThreadConnector}, the engine's default: sockets on a
 * thread of their own), on a KV file in a temp dir, fed through `store.accept` + `store.route`.
 * @module
 */

import { DeliveryActor } from "../../actors/delivery/delivery_actor.ts";
import { MllpDeliverer, type MllpDeliverySettings } from "../../actors/mllp_out/mllp_deliverer.ts";
import { type Clock, systemClock } from "../../actors/runtime/clock.ts";
import { memoryLogger } from "../../actors/runtime/log.ts";
import { Store } from "../../actors/store/store.ts";
import type { LogRecord } from "../../actors/store/types.ts";
import type { MllpConnector } from "../../actors/ports.ts";
import { socketMllpConnector } from "../../transports/mllp/client.ts";
import { ThreadMllpConnector } from "../../transports/mllp/thread_connector.ts";
import { waitFor } from "./net.ts";
import { enqueueAdt } from "./queue.ts";

let threaded = false;

/**
 * Every actor started from now on in this process uses a {@link ThreadMllpConnector} (what the
 * engine runs), so that one test file can run another's behaviours on it.
 */
export function useThreadConnector(): void {
  threaded = true;
}

/** How to build the actor. */
export interface OutboundOptions {
  /** The receiver's port on 127.0.0.1. */
  port: number;
  clock?: Clock;
  ackTimeoutMs?: number;
  onNack?: MllpDeliverySettings["onNack"];
  idleCloseMs?: number;
  /** Real ms between looks at the queue while idle (fake ms with a ManualClock), default 50. */
  pollMs?: number;
  /** Leave the actor stopped until {@link Outbound.start} (to queue messages first). */
  deferStart?: boolean;
}

/** A running actor and what the test needs around it. */
export interface Outbound {
  readonly actorId: string;
  readonly store: Store;
  readonly actor: DeliveryActor;
  readonly log: ReturnType<typeof memoryLogger>;
  /** Stores an ADT^A01 per control id and routes each to the actor's queue, in order. */
  enqueue(...controlIds: string[]): Promise<void>;
  /** The SEND log of a control id enqueued here. */
  logOf(controlId: string): Promise<LogRecord>;
  /** The message id of a control id enqueued here. */
  messageIdOf(controlId: string): string;
  /** Log lines containing `event`. */
  lines(event: string): string[];
  /** Starts the actor when it was built with `deferStart`. */
  start(): void;
  /** Stops the actor (rethrowing a crash), closes the store and removes the temp dir. */
  stop(): Promise<void>;
}

/** Starts a delivery actor to `127.0.0.1:options.port`; see the module doc. */
export async function startOutbound(options: OutboundOptions): Promise<Outbound> {
  const dir = await Deno.makeTempDir({ prefix: "mllp-out-" });
  const store = await Store.open({ path: `${dir}/engine.kv`, node: "test" });
  const clock = options.clock ?? systemClock;
  const log = memoryLogger();
  const actorId = `mllp-out:127.0.0.1:${options.port}`;
  const thread = threaded ? new ThreadMllpConnector() : undefined;
  const connector: MllpConnector = thread ?? socketMllpConnector;
  const deliverer = new MllpDeliverer({
    actorId,
    target: { host: "127.0.0.1", port: options.port },
    connector,
    clock,
    log,
    connectTimeoutMs: 2000,
    ...(options.idleCloseMs !== undefined ? { idleCloseMs: options.idleCloseMs } : {}),
    settings: () => ({
      ackTimeoutMs: options.ackTimeoutMs ?? 500,
      onNack: options.onNack ?? "retry",
    }),
  });
  const actor = new DeliveryActor({
    id: actorId,
    kind: "mllp-out",
    store,
    deliverer,
    clock,
    log,
    pollMs: options.pollMs ?? 50,
    idleDeactivateMs: 24 * 3600_000,
  });
  const ids = new Map<string, { messageId: string; logId: string }>();
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  const start = () => {
    running ??= actor.run(abort.signal);
  };
  if (!options.deferStart) start();
  let stopped = false;

  return {
    actorId,
    store,
    actor,
    log,
    async enqueue(...controlIds) {
      for (const controlId of controlIds) {
        ids.set(controlId, await enqueueAdt(store, actorId, controlId));
        actor.notify();
      }
    },
    async logOf(controlId) {
      const id = ids.get(controlId);
      if (!id) throw new Error(`${controlId} was not enqueued`);
      const record = await store.getLog(id.logId);
      if (!record) throw new Error(`the log of ${controlId} is missing`);
      return record;
    },
    messageIdOf(controlId) {
      const id = ids.get(controlId);
      if (!id) throw new Error(`${controlId} was not enqueued`);
      return id.messageId;
    },
    lines: (event) => log.lines.filter((l) => l.includes(` ${event} `) || l.endsWith(` ${event}`)),
    start,
    async stop() {
      if (stopped) return;
      stopped = true;
      abort.abort();
      try {
        await running;
      } finally {
        thread?.close();
        store.close();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
}

/**
 * Waits until the actor has failed `attempts` times on `controlId` and sleeps in its backoff;
 * returns how long it means to wait (`nextRetryAt - now`). `clock` is the actor's ManualClock.
 */
export async function waitForBackoff(
  out: Outbound,
  clock: { now(): number; readonly pending: number },
  controlId: string,
  attempts: number,
): Promise<number> {
  let waitMs = NaN;
  await waitFor(`backoff after attempt ${attempts} of ${controlId}`, async () => {
    const status = await out.actor.status();
    if (status.state !== "backoff" || status.nextRetryAt === undefined) return false;
    if ((await out.logOf(controlId)).attemptCount !== attempts || clock.pending !== 1) return false;
    waitMs = status.nextRetryAt - clock.now();
    return true;
  });
  return waitMs;
}
