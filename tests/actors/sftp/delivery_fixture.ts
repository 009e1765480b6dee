/**
 * A real SFTP delivery actor for tests: a `DeliveryActor` with an `SftpDeliverer` whose sessions
 * come from a `RemoteSftpEndpoint` over the ssh2 connector (or any source a test gives), on a KV
 * file in a temp dir, fed through `store.accept` + `store.route`, with a ManualClock.
 * @module
 */

import { Secret } from "../../../actors/config/secret.ts";
import { DeliveryActor } from "../../../actors/delivery/delivery_actor.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import type { SftpSession, SftpSessionSource } from "../../../actors/sftp/connector.ts";
import { RemoteSftpEndpoint } from "../../../actors/sftp/endpoint.ts";
import { SftpDeliverer } from "../../../actors/sftp/sftp_deliverer.ts";
import { Store } from "../../../actors/store/mod.ts";
import type { LogRecord, MessageRecord } from "../../../actors/store/types.ts";
import { sshSftpConnector } from "../../../transports/sftp/client.ts";
import { waitFor } from "../../helpers/net.ts";
import { acceptAndRoute } from "../../helpers/queue.ts";
import { testKey } from "../../helpers/sshd.ts";

/** Where to deliver. */
export interface DeliveryOptions {
  /** A remote sshd (port may be a proxy's), or a ready source (e.g. a hosted outbox). */
  target:
    | { port: number; user: string; hostKeyFingerprint: string }
    | { sessions: SftpSessionSource };
  folder?: string;
  fileName?: string;
  idleCloseMs?: number;
  /** The deliverer's request timeout (its default otherwise). */
  requestTimeoutMs?: number;
  /** Wraps each session (to watch what the deliverer asks). */
  session?: (real: SftpSession) => SftpSession;
}

/** A running delivery actor and what tests look at. */
export interface Delivery {
  actorId: string;
  actor: DeliveryActor;
  deliverer: SftpDeliverer;
  store: Store;
  clock: ManualClock;
  log: ReturnType<typeof memoryLogger>;
  /** Stores and routes one message per payload, in order; returns their records. */
  enqueue(...payloads: { bytes: Uint8Array; contentType?: string; fileName?: string }[]): Promise<
    MessageRecord[]
  >;
  logOf(messageId: string): Promise<LogRecord>;
  /**
   * Waits until the actor is asleep in its backoff after `attempts` attempts at `messageId` (its
   * one sleep on the clock), so that advancing the clock then wakes it; the ms until its retry.
   */
  backoff(messageId: string, attempts: number): Promise<number>;
  lines(event: string): string[];
  stop(): Promise<void>;
}

/** The key the sshd must authorise for deliveries. */
export function deliveryKey(): ReturnType<typeof testKey> {
  return testKey("deliverer");
}

/** Starts the actor; see the module doc. */
export async function startDelivery(options: DeliveryOptions): Promise<Delivery> {
  const dir = await Deno.makeTempDir({ prefix: "sftp-out-" });
  const store = await Store.open({ path: `${dir}/engine.kv`, node: "t" });
  const clock = new ManualClock();
  const log = memoryLogger();
  const actorId = "sftp-out:partner";
  let sessions: SftpSessionSource;
  if ("sessions" in options.target) sessions = options.target.sessions;
  else {
    const key = await deliveryKey();
    sessions = new RemoteSftpEndpoint({
      owner: actorId,
      endpoint: {
        host: "127.0.0.1",
        port: options.target.port,
        user: options.target.user,
        hostKeyFingerprint: options.target.hostKeyFingerprint,
        keys: [{ privateKey: new Secret(key.privateKey, "env:PARTNER_KEY") }],
      },
      connector: sshSftpConnector,
      clock,
      log,
      timeoutMs: 10_000,
    });
  }
  const wrap = options.session;
  const source: SftpSessionSource = wrap
    ? { open: async (s) => wrap(await sessions.open(s)), describe: () => sessions.describe() }
    : sessions;
  const deliverer = new SftpDeliverer({
    actorId,
    sessions: source,
    folder: options.folder ?? "out",
    fileName: options.fileName ?? "{ts}-{id}.{ext}",
    clock,
    log,
    ...(options.idleCloseMs !== undefined ? { idleCloseMs: options.idleCloseMs } : {}),
    ...(options.requestTimeoutMs !== undefined
      ? { requestTimeoutMs: options.requestTimeoutMs }
      : {}),
  });
  const actor = new DeliveryActor({
    id: actorId,
    kind: "sftp-out",
    store,
    deliverer,
    clock,
    log,
    pollMs: 1000,
    idleDeactivateMs: 24 * 3600_000,
  });
  const abort = new AbortController();
  const running = actor.run(abort.signal);
  const logs = new Map<string, string>();
  const logOf = async (messageId: string): Promise<LogRecord> => {
    const record = await store.getLog(logs.get(messageId) ?? "?");
    if (!record) throw new Error(`no SEND log for ${messageId}`);
    return record;
  };
  return {
    actorId,
    actor,
    deliverer,
    store,
    clock,
    log,
    async enqueue(...payloads) {
      const records: MessageRecord[] = [];
      for (const p of payloads) {
        const { messageId, logId } = await acceptAndRoute(store, {
          origin: { kind: "integration", id: "feed" },
          payload: p.bytes,
          contentType: p.contentType ?? "application/hl7-v2",
          ...(p.fileName ? { fileName: p.fileName } : {}),
          log: { type: "RECEIVE", integrationId: "feed", environment: "dev" },
        }, {
          queue: actorId,
          destinationId: "partner",
          log: { environment: "dev", integrationId: "feed" },
        }, p.fileName ?? "a payload");
        logs.set(messageId, logId);
        records.push((await store.getMessage(messageId))!);
        actor.notify();
      }
      return records;
    },
    logOf,
    async backoff(messageId, attempts) {
      await waitFor(`backoff after ${attempts}`, async () => {
        const s = await actor.status();
        return s.state === "backoff" && (await logOf(messageId)).attemptCount === attempts &&
          clock.pending === 1;
      });
      return (await actor.status()).nextRetryAt! - clock.now();
    },
    lines: (event) => log.lines.filter((l) => l.includes(` ${event} `) || l.endsWith(` ${event}`)),
    async stop() {
      abort.abort();
      try {
        await running;
      } finally {
        store.close();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
}

/**
 * `text` with the attempt part of each temporary name left out (`.x.hl7.<attempt>.part` →
 * `.x.hl7.part`): every attempt writes under a name of its own.
 */
export function withoutAttempt(text: string): string {
  return text.replace(/\.[0-9a-z]{8,}\.part\b/g, ".part");
}
