/**
 * A real SFTP poller for tests: an `SftpPollActor` with a `RemoteSftpEndpoint` over the ssh2
 * connector to a real sshd, a `FileInbox` on a KV file in a temp dir, and a ManualClock.
 * @module
 */

import { Secret } from "../../../actors/config/secret.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import type { SftpSession, SftpSessionSource } from "../../../actors/sftp/connector.ts";
import { RemoteSftpEndpoint } from "../../../actors/sftp/endpoint.ts";
import { FileInbox, fileQueueId } from "../../../actors/sftp/file_inbox.ts";
import {
  type FileSink,
  SftpPollActor,
  type SftpPollSettings,
} from "../../../actors/sftp/poll_actor.ts";
import { Store } from "../../../actors/store/mod.ts";
import type { MessageRecord } from "../../../actors/store/types.ts";
import { sshSftpConnector } from "../../../transports/sftp/client.ts";
import type { Sshd } from "../../helpers/sshd.ts";
import { testKey } from "../../helpers/sshd.ts";

/** How to build the poller. */
export interface PollOptions {
  /** Connect here instead of sshd's port (a proxy, or a port nobody listens on yet). */
  port?: number;
  hostKeyFingerprint?: string;
  settings?: Partial<SftpPollSettings>;
  maxFileBytes?: number;
  /** Wraps the real inbox (to act between storing and archiving). */
  sink?: (real: FileInbox) => FileSink;
  /** Wraps each session (to act during a transfer). */
  session?: (real: SftpSession) => SftpSession;
  /** The inbox's dedupe window (3600 s by default); the store's time is the poller's clock. */
  dedupeWindowSeconds?: number;
  /** The poller's request timeout (60 s by default). */
  requestTimeoutMs?: number;
  /** Most entries a poll lists (the poller's default otherwise). */
  maxListedEntries?: number;
}

/** A poller and what tests look at. */
export interface Poll {
  actor: SftpPollActor;
  store: Store;
  clock: ManualClock;
  log: ReturnType<typeof memoryLogger>;
  queue: string;
  /** The records queued for the integration, in order, with their payloads. */
  queued(): Promise<{ record: MessageRecord; payload: Uint8Array }[]>;
  lines(event: string): string[];
  /** A new poller on the same store, sessions and clock (the engine restarted). */
  restart(): SftpPollActor;
  close(): Promise<void>;
}

/** A session that forwards everything to `real` (spread it and override what a test watches). */
export function delegate(real: SftpSession): SftpSession {
  return {
    list: (folder) => real.list(folder),
    read: (path, o) => real.read(path, o),
    write: (path, bytes, o) => real.write(path, bytes, o),
    rename: (from, to) => real.rename(from, to),
    remove: (path) => real.remove(path),
    mkdir: (path, o) => real.mkdir(path, o),
    stat: (path) => real.stat(path),
    close: () => real.close(),
    get open() {
      return real.open;
    },
    get local() {
      return real.local;
    },
  };
}

/** The key sshd must authorise for {@link startPoll}'s logins. */
export function pollKey(): ReturnType<typeof testKey> {
  return testKey("poller");
}

/** Builds a poller for integration `lab` polling `in/*.hl7` on `sshd`. */
export async function startPoll(sshd: Sshd, options: PollOptions = {}): Promise<Poll> {
  const dir = await Deno.makeTempDir({ prefix: "sftp-poll-" });
  const clock = new ManualClock();
  const store = await Store.open({ path: `${dir}/engine.kv`, node: "t", now: () => clock.now() });
  const log = memoryLogger();
  const key = await pollKey();
  const endpoint = new RemoteSftpEndpoint({
    owner: "sftp-poll:lab",
    endpoint: {
      host: "127.0.0.1",
      port: options.port ?? sshd.port,
      user: sshd.user,
      hostKeyFingerprint: options.hostKeyFingerprint ?? sshd.hostKey.fingerprint,
      keys: [{ privateKey: new Secret(key.privateKey, "env:LAB_KEY") }],
    },
    connector: sshSftpConnector,
    clock,
    log,
    timeoutMs: 10_000,
  });
  const wrap = options.session;
  const sessions: SftpSessionSource = wrap
    ? {
      open: async (signal) => wrap(await endpoint.open(signal)),
      describe: () => endpoint.describe(),
    }
    : endpoint;
  const inbox = new FileInbox({
    store,
    log,
    dedupeWindowSeconds: options.dedupeWindowSeconds ?? 3600,
    fallbackCharset: "windows-1252",
    maxFileBytes: options.maxFileBytes ?? 30 * 1024 * 1024,
    notify: () => {},
  });
  const makeActor = () =>
    new SftpPollActor({
      integration: { id: "lab", environment: "dev" },
      settings: {
        folder: "in",
        pattern: "*.hl7",
        intervalSeconds: 60,
        afterIngest: "archive",
        archiveFolder: "archive",
        errorFolder: "error",
        ...options.settings,
      },
      sessions,
      sink: options.sink ? options.sink(inbox) : inbox,
      store,
      clock,
      log,
      maxFileBytes: options.maxFileBytes ?? 30 * 1024 * 1024,
      ...(options.requestTimeoutMs !== undefined
        ? { requestTimeoutMs: options.requestTimeoutMs }
        : {}),
      ...(options.maxListedEntries !== undefined
        ? { maxListedEntries: options.maxListedEntries }
        : {}),
    });
  const actor = makeActor();
  const queue = fileQueueId("lab");
  return {
    actor,
    store,
    clock,
    log,
    queue,
    async queued() {
      const heads = await store.peek(queue, 1000);
      return await Promise.all(heads.map(async (h) => {
        const record = (await store.getMessage(h.entry.messageId))!;
        return { record, payload: await store.getPayload(record) };
      }));
    },
    lines: (event) => log.lines.filter((l) => l.includes(` ${event} `) || l.endsWith(` ${event}`)),
    restart: makeActor,
    async close() {
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** One poll of `p`'s poller, never aborted: its summary, or undefined when it failed. */
export function pollOnce(p: Poll): ReturnType<Poll["actor"]["poll"]> {
  return p.actor.poll(new AbortController().signal);
}
