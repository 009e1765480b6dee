/**
 * A real outbound MLLP delivery actor for tests: a `DeliveryActor` with a real `MllpDeliverer` and
 * either connector — sockets on the engine's thread, or (with `threaded`, or after
 * {@link useThreadConnector}) the engine's default: sockets on a thread of their own, watched by a
 * {@link WatchedThreadConnector} so that a test can tell which messages that thread sent on its own
 * — on a KV file in a temp dir, fed through `store.accept` + `store.route` (an ADT^A01 per control
 * id, or any MSH-10 or payload under a name).
 * @module
 */

import { DeliveryActor } from "../../actors/delivery/delivery_actor.ts";
import { MllpDeliverer, type MllpDeliverySettings } from "../../actors/mllp_out/mllp_deliverer.ts";
import { type Clock, systemClock } from "../../actors/runtime/clock.ts";
import { memoryLogger } from "../../actors/runtime/log.ts";
import { Store } from "../../actors/store/store.ts";
import type { LogRecord } from "../../actors/store/types.ts";
import type {
  MllpConnection,
  MllpConnector,
  MllpRunAhead,
  MllpTarget,
} from "../../actors/ports.ts";
import { socketMllpConnector } from "../../transports/mllp/client.ts";
import { ThreadMllpConnector } from "../../transports/mllp/thread_connector.ts";
import { waitFor } from "./net.ts";
import { enqueueAdt } from "./queue.ts";

/**
 * A {@link ThreadMllpConnector} (the engine's default) whose connections are passed through
 * unchanged, noting every message the socket thread sent on its own (a frame taken with
 * `followedBy`) and how many connections could send ahead. Close it to end the socket thread.
 */
export class WatchedThreadConnector implements MllpConnector {
  readonly #inner = new ThreadMllpConnector();
  readonly #controlIds = new Map<string, string>();
  /** Queue keys (seqs) the socket thread sent by itself, in the order the engine learnt it. */
  readonly sentAheadKeys: string[] = [];
  /**
   * Control ids the socket thread sent by itself, in the same order: the MSH-10 the engine gave
   * the thread with each key (`?<key>` for a key it never named).
   */
  readonly sentAhead: string[] = [];
  /** Connections that could send ahead / all connections made. */
  aheadCapable = 0;
  connections = 0;

  async connect(
    target: MllpTarget,
    options: { timeoutMs: number; signal: AbortSignal },
  ): Promise<MllpConnection> {
    const conn = await this.#inner.connect(target, options);
    this.connections++;
    const ahead = conn.runAhead;
    const names = this.#controlIds;
    const keys = this.sentAheadKeys;
    const sent = this.sentAhead;
    let runAhead: MllpRunAhead | undefined;
    if (ahead) {
      this.aheadCapable++;
      runAhead = {
        sendKeyed: (m, next) => {
          names.set(m.key, m.controlId);
          for (const n of next ?? []) names.set(n.key, n.controlId);
          return ahead.sendKeyed(m, next);
        },
        follow: (after, next) => {
          for (const n of next) names.set(n.key, n.controlId);
          ahead.follow(after, next);
        },
        allow: (ms) => ahead.allow(ms),
        hold: () => ahead.hold(),
      };
    }
    return {
      send: (payload) => conn.send(payload),
      receive: async (signal) => {
        const got = await conn.receive(signal);
        if (got.type === "frame" && got.followedBy !== undefined) {
          keys.push(got.followedBy);
          sent.push(names.get(got.followedBy) ?? `?${got.followedBy}`);
        }
        return got;
      },
      interrupt: () => conn.interrupt(),
      close: () => conn.close(),
      get open() {
        return conn.open;
      },
      get endReason() {
        return conn.endReason;
      },
      get local() {
        return conn.local;
      },
      ...(runAhead ? { runAhead } : {}),
    };
  }

  /** Ends the socket thread. */
  close(): void {
    this.#inner.close();
  }
}

let threadedByDefault = false;

/**
 * Every actor started from now on in this process without its own `threaded` option uses a
 * {@link ThreadMllpConnector} (what the engine runs), so that one test file can run another's
 * behaviours on it.
 */
export function useThreadConnector(): void {
  threadedByDefault = true;
}

/** How to build the actor. */
export interface OutboundOptions {
  /** The receiver's port on 127.0.0.1. */
  port: number;
  /**
   * Sockets on the socket thread (a {@link WatchedThreadConnector}) rather than on the engine's
   * thread; default: whether {@link useThreadConnector} was called.
   */
  threaded?: boolean;
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
  /**
   * Stores an ADT^A01 per control id and routes each to the actor's queue, in order; each is
   * named by its control id (for {@link logOf}, {@link messageIdOf}, {@link sentAhead}).
   */
  enqueue(...controlIds: string[]): Promise<void>;
  /**
   * Stores a message under `name` and routes it to the actor's queue: an ADT^A01 whose MSH-10 is
   * `controlId` (default `name`), or `payload` as it is.
   */
  enqueueMessage(name: string, options?: { controlId?: string; payload?: string }): Promise<void>;
  /** The SEND log of a message enqueued here, by name (a control id given to `enqueue`). */
  logOf(name: string): Promise<LogRecord>;
  /** The message id of a message enqueued here, by name. */
  messageIdOf(name: string): string;
  /**
   * Names of the messages the socket thread sent on its own, in the order the engine learnt it
   * (always empty unthreaded): the name given to {@link enqueueMessage}, else the control id the
   * engine gave the thread (a message from {@link enqueue}), else `?<queue seq>`.
   */
  sentAhead(): string[];
  /** Log lines containing `event`. */
  lines(event: string): string[];
  /** Starts the actor when it was built with `deferStart`. */
  start(): void;
  /**
   * Stops the actor (rethrowing a crash), ends the socket thread, closes the store and removes
   * the temp dir.
   */
  stop(): Promise<void>;
}

/** Starts a delivery actor to `127.0.0.1:options.port`; see the module doc. */
export async function startOutbound(options: OutboundOptions): Promise<Outbound> {
  const dir = await Deno.makeTempDir({ prefix: "mllp-out-" });
  const store = await Store.open({ path: `${dir}/engine.kv`, node: "test" });
  const clock = options.clock ?? systemClock;
  const log = memoryLogger();
  const actorId = `mllp-out:127.0.0.1:${options.port}`;
  const thread = (options.threaded ?? threadedByDefault) ? new WatchedThreadConnector() : undefined;
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
  const names = new Map<string, string>(); // queue seq -> name given to enqueueMessage
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  const start = () => {
    running ??= actor.run(abort.signal);
  };
  if (!options.deferStart) start();
  let stopped = false;
  const idOf = (name: string) => {
    const id = ids.get(name);
    if (!id) throw new Error(`${name} was not enqueued`);
    return id;
  };

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
    async enqueueMessage(name, o = {}) {
      const controlId = o.controlId ?? name;
      const id = await enqueueAdt(store, actorId, controlId, {
        ...(o.payload !== undefined ? { payload: o.payload } : {}),
        name,
      });
      ids.set(name, id);
      const entry = (await store.peek(actorId, 1000)).find((h) =>
        h.entry.messageId === id.messageId
      );
      if (entry) names.set(entry.entry.seq, name);
      actor.notify();
    },
    async logOf(name) {
      const record = await store.getLog(idOf(name).logId);
      if (!record) throw new Error(`the log of ${name} is missing`);
      return record;
    },
    messageIdOf: (name) => idOf(name).messageId,
    sentAhead: () =>
      (thread?.sentAheadKeys ?? []).map((key, i) => names.get(key) ?? thread!.sentAhead[i]!),
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
