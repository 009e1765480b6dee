/**
 * A real outbound MLLP delivery actor for the tests of messages MLLP correlates or frames with
 * difficulty (an MSH-10 longer than the record keeps, a payload holding an MLLP control byte): a
 * `DeliveryActor` with a real `MllpDeliverer` on a KV file in a temp dir, fed through
 * `store.accept` + `store.route` with any payload, and with either connector: sockets on the
 * engine's thread, or the engine's default socket thread, watched so that a test can tell which
 * messages that thread sent on its own (a frame taken with `followedBy`).
 * @module
 */

import { DeliveryActor } from "../../../actors/delivery/delivery_actor.ts";
import { MllpDeliverer } from "../../../actors/mllp_out/mllp_deliverer.ts";
import type {
  MllpConnection,
  MllpConnector,
  MllpRunAhead,
  MllpTarget,
} from "../../../actors/mllp_out/connector.ts";
import { systemClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/store.ts";
import type { LogRecord } from "../../../actors/store/types.ts";
import { socketMllpConnector } from "../../../transports/mllp/client.ts";
import { ThreadMllpConnector } from "../../../transports/mllp/thread_connector.ts";
import { adt } from "../../helpers/net.ts";
import { acceptAndRoute } from "../../helpers/queue.ts";

/**
 * A {@link ThreadMllpConnector} whose connections are passed through unchanged, noting the key of
 * every message the socket thread sent on its own.
 */
class WatchedConnector implements MllpConnector {
  readonly #inner = new ThreadMllpConnector();
  /** Queue keys (seqs) the socket thread sent by itself, in the order the engine learnt it. */
  readonly sentAhead: string[] = [];

  async connect(
    target: MllpTarget,
    options: { timeoutMs: number; signal: AbortSignal },
  ): Promise<MllpConnection> {
    const conn = await this.#inner.connect(target, options);
    const sent = this.sentAhead;
    const ahead = conn.runAhead;
    const runAhead: MllpRunAhead | undefined = ahead && {
      sendKeyed: (m, next) => ahead.sendKeyed(m, next),
      follow: (after, next) => ahead.follow(after, next),
      allow: (ms) => ahead.allow(ms),
      hold: () => ahead.hold(),
    };
    return {
      send: (payload) => conn.send(payload),
      receive: async (signal) => {
        const got = await conn.receive(signal);
        if (got.type === "frame" && got.followedBy !== undefined) sent.push(got.followedBy);
        return got;
      },
      interrupt: () => conn.interrupt(),
      close: () => conn.close(),
      get open() {
        return conn.open;
      },
      get local() {
        return conn.local;
      },
      ...(runAhead ? { runAhead } : {}),
    };
  }

  close(): void {
    this.#inner.close();
  }
}

/** How to build the actor. */
export interface RigOptions {
  /** The receiver's port on 127.0.0.1. */
  port: number;
  /** Sockets on the socket thread (the engine's default) rather than on the engine's thread. */
  threaded: boolean;
  ackTimeoutMs?: number;
  /** Leave the actor stopped until {@link Rig.start} (to queue messages first). */
  deferStart?: boolean;
}

/** A running actor and what the test needs around it. */
export interface Rig {
  readonly actorId: string;
  readonly store: Store;
  readonly log: ReturnType<typeof memoryLogger>;
  /**
   * Stores a message under `name` and routes it to the actor's queue: an ADT^A01 whose MSH-10 is
   * `controlId` (default `name`), or `payload` as it is.
   */
  enqueue(name: string, options?: { controlId?: string; payload?: string }): Promise<void>;
  /** The SEND log of a message enqueued here. */
  logOf(name: string): Promise<LogRecord>;
  messageIdOf(name: string): string;
  /** Names of the messages the socket thread sent on its own (always empty unthreaded). */
  sentAhead(): string[];
  /** Log lines containing `event`. */
  lines(event: string): string[];
  start(): void;
  /** Stops the actor (rethrowing a crash), ends the socket thread, removes the temp dir. */
  stop(): Promise<void>;
}

/** Starts a delivery actor to `127.0.0.1:options.port`; see the module doc. */
export async function startRig(options: RigOptions): Promise<Rig> {
  const dir = await Deno.makeTempDir({ prefix: "mllp-out-rig-" });
  const store = await Store.open({ path: `${dir}/engine.kv`, node: "test" });
  const log = memoryLogger();
  const actorId = `mllp-out:127.0.0.1:${options.port}`;
  const watched = options.threaded ? new WatchedConnector() : undefined;
  const deliverer = new MllpDeliverer({
    actorId,
    target: { host: "127.0.0.1", port: options.port },
    connector: watched ?? socketMllpConnector,
    clock: systemClock,
    log,
    connectTimeoutMs: 2000,
    settings: () => ({ ackTimeoutMs: options.ackTimeoutMs ?? 2000, onNack: "retry" }),
  });
  const actor = new DeliveryActor({
    id: actorId,
    kind: "mllp-out",
    store,
    deliverer,
    clock: systemClock,
    log,
    pollMs: 50,
    idleDeactivateMs: 24 * 3600_000,
  });
  const ids = new Map<string, { messageId: string; logId: string }>();
  const names = new Map<string, string>(); // queue seq -> name
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
    log,
    async enqueue(name, o = {}) {
      const controlId = o.controlId ?? name;
      const id = await acceptAndRoute(store, {
        origin: { kind: "integration", id: "feed", peer: "127.0.0.1" },
        payload: new TextEncoder().encode(o.payload ?? adt(controlId)),
        contentType: "application/hl7-v2",
        controlId,
        messageType: "ADT^A01",
        log: { type: "RECEIVE", integrationId: "feed", environment: "dev" },
      }, {
        queue: actorId,
        destinationId: "ehr",
        log: { environment: "dev", integrationId: "feed", controlId },
      }, name);
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
    sentAhead: () => (watched?.sentAhead ?? []).map((key) => names.get(key) ?? `?${key}`),
    lines: (event) => log.lines.filter((l) => l.includes(` ${event} `) || l.endsWith(` ${event}`)),
    start,
    async stop() {
      if (stopped) return;
      stopped = true;
      abort.abort();
      try {
        await running;
      } finally {
        watched?.close();
        store.close();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
}
