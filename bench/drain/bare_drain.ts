/**
 * A backlog of MLLP deliveries drained with nothing but what the delivery guarantees need, in one
 * Deno process: the limit for the engine's drain of 1,000 destinations (bench/mllp_delivery.ts),
 * run as a peer in the same run, on a KV file the bench filled as it fills the engine's (the
 * store's own `accept`, so the same rows).
 *
 * What it does, as the engine's actors do:
 * - finds the queues that hold entries from their depth rows, and for each, one connection to its
 *   destination (the port is the last part of the queue's id);
 * - reads its entries in order, a batch at a time, their message records and SEND logs (`getMany`,
 *   10 keys a call) and their payloads (inflated, after a dictionary when one was used), at most
 *   16 queues' reads at once (KV serves reads and commits in turn on one thread: unbounded, the
 *   first commits waited over a second behind 1,000 queues' reads; of 4, 16, 64 and unbounded,
 *   16 drained fastest here);
 * - sends them first-in-first-out, one in flight: writes the frame, waits for an AA, then
 *   completes it in a group commit (one commit in flight, whatever arrived meanwhile in the
 *   next): the entry deleted, checked against the versionstamp it was read with, its SEND log
 *   SUCCEEDED with the attempt, and its queue's depth less one, at most 32 completions
 *   uncommitted on a queue while the next message is on the wire.
 *
 * What it leaves out: actors, leases and their checks, the supervisor, a socket thread, retries,
 * timeouts, metrics, logs to stdout, memory bounds, every error path. So it is
 * faster than any engine that writes the same rows can be on this machine; the engine's drain
 * divided by its own says what all of that costs.
 *
 * Run: `deno run -A --unstable-kv bench/drain/bare_drain.ts <kv path>`. Prints `{"ready": true}`
 * once its KV is open, starts on the first line on its standard input (so that its start-up is
 * not measured), and prints one JSON line when every queue is empty:
 * `{"delivered": n, "queues": q, "ms": m, "commits": c}`; it ends when its standard input closes.
 *
 * @module
 */

import { narrowExpiryIndex } from "../../actors/store/expiry_index.ts";
import { keys } from "../../actors/store/keys.ts";
import { readSmallPayloads } from "../../actors/store/payloads.ts";
import { applyLogUpdate } from "../../actors/store/records.ts";
import type { LogRecord, MessageRecord, QueueEntry } from "../../actors/store/types.ts";
import { getValues } from "../../actors/store/kv.ts";
import { encodeMllp } from "../../codecs/mllp/mod.ts";
import { readMllpFrames } from "../harness.ts";

const [KV_PATH = "./bare-drain.kv"] = Deno.args;
const HOST = "127.0.0.1";
/** Entries read from a queue at a time. */
const READ_BATCH = 20;
/** Completions a queue may have uncommitted while it sends on. */
const MAX_COMPLETING = 32;
/** Completions in one commit: each carries one check, and KV allows 100 an atomic. */
const MAX_PER_COMMIT = 90;
/** Queues whose entries are being read at once. */
const MAX_READING = 16;
const decoder = new TextDecoder();
const encoder = new TextEncoder();
const kv = await Deno.openKv(KV_PATH);
// As the engine opens its own: rows that never expire leave Deno KV's expiry index alone.
await narrowExpiryIndex(KV_PATH);

/** One line to standard output (the bench reads them). */
function say(line: string): void {
  const bytes = encoder.encode(`${line}\n`);
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/** A completion waiting for the next commit. */
interface Completion {
  queue: string;
  entryKey: Deno.KvKey;
  versionstamp: string;
  log: LogRecord;
  done(ok: boolean): void;
}

const waiting: Completion[] = [];
let committing = false;
let commits = 0;

/** Queues a completion for the next commit; resolves once it is durable. */
function complete(c: Omit<Completion, "done">): Promise<boolean> {
  return new Promise((resolve) => {
    waiting.push({ ...c, done: resolve });
    if (!committing) void flush();
  });
}

/** One commit in flight; what arrived meanwhile goes in the next. */
async function flush(): Promise<void> {
  committing = true;
  while (waiting.length > 0) {
    const taken = waiting.splice(0, MAX_PER_COMMIT);
    const op = kv.atomic();
    const depth = new Map<string, bigint>();
    for (const c of taken) {
      op.check({ key: c.entryKey, versionstamp: c.versionstamp })
        .delete(c.entryKey)
        .set(keys.log(c.log.id), c.log);
      depth.set(c.queue, (depth.get(c.queue) ?? 0n) + 1n);
    }
    // KV's sum wraps at 2^64: adding 2^64 - n takes n away.
    for (const [queue, n] of depth) op.sum(keys.queueDepth(queue), BigInt.asUintN(64, -n));
    const ok = (await op.commit()).ok;
    commits++;
    for (const c of taken) c.done(ok);
  }
  committing = false;
}

let reading = 0;
const readLine: (() => void)[] = [];

/** Waits for a turn to read (at most {@link MAX_READING} at once). */
async function startRead(): Promise<void> {
  if (reading < MAX_READING) {
    reading++;
    return;
  }
  await new Promise<void>((r) => readLine.push(r));
}

/** Gives the turn to the next queue waiting to read. */
function endRead(): void {
  const next = readLine.shift();
  if (next) next();
  else reading--;
}

/** The next `READ_BATCH` entries of `queue` after `after`, with their records, logs, payloads. */
async function readBatch(queue: string, after: Deno.KvKey | undefined) {
  await startRead();
  try {
    const entries: Deno.KvEntry<QueueEntry>[] = [];
    const selector = after
      ? { prefix: keys.queuePrefix(queue), start: after }
      : { prefix: keys.queuePrefix(queue) };
    for await (const e of kv.list<QueueEntry>(selector, { limit: READ_BATCH + (after ? 1 : 0) })) {
      if (after && e.key.at(-1) === after.at(-1)) continue;
      entries.push(e);
    }
    const [records, logs] = await Promise.all([
      getValues<MessageRecord>(kv, entries.map((e) => keys.message(e.value.messageId))),
      getValues<LogRecord>(kv, entries.map((e) => keys.log(e.value.logId))),
    ]);
    const payloads = await readSmallPayloads(kv, records.map((r) => r!), 1 << 20);
    return { entries, logs, payloads };
  } finally {
    endRead();
  }
}

/** Sends every entry of `queue` in order, one in flight; resolves with how many. */
async function drain(queue: string): Promise<number> {
  const port = Number(queue.slice(queue.lastIndexOf(":") + 1));
  const conn = await Deno.connect({ hostname: HOST, port });
  conn.setNoDelay(true);
  const acks: ((body: Uint8Array) => void)[] = [];
  const answering = readMllpFrames(conn, (body) => acks.shift()?.(body)).catch(() => {});
  let completing = 0;
  let settled: (() => void) | undefined;
  const pending: Promise<boolean>[] = [];
  let sent = 0;
  let after: Deno.KvKey | undefined;
  try {
    for (;;) {
      const { entries, logs, payloads } = await readBatch(queue, after);
      if (entries.length === 0) break;
      after = entries.at(-1)!.key;
      for (const [i, e] of entries.entries()) {
        const started = performance.now();
        const answer = new Promise<Uint8Array>((r) => acks.push(r));
        await conn.write(encodeMllp(payloads[i]!, { validate: false }));
        const ack = decoder.decode(await answer);
        if (!ack.includes("MSA|AA")) throw new Error(`${queue} refused: ${ack}`);
        const log = applyLogUpdate(logs[i]!, {
          status: "SUCCEEDED",
          attempt: {
            at: Date.now(),
            outcome: "SUCCEEDED",
            reason: "AA",
            durationMs: Math.round(performance.now() - started),
          },
        }, Date.now());
        while (completing >= MAX_COMPLETING) await new Promise<void>((r) => (settled = r));
        completing++;
        pending.push(
          complete({ queue, entryKey: e.key, versionstamp: e.versionstamp, log }).then((ok) => {
            completing--;
            settled?.();
            settled = undefined;
            if (!ok) throw new Error(`${queue}: a completion was refused`);
            return ok;
          }),
        );
        sent++;
      }
    }
    await Promise.all(pending);
    return sent;
  } finally {
    conn.close();
    await answering;
  }
}

say(JSON.stringify({ ready: true }));
const stdin = Deno.stdin.readable.getReader();
await stdin.read();
const t0 = performance.now();
const queues: string[] = [];
for await (const e of kv.list<Deno.KvU64>({ prefix: keys.queueDepthPrefix })) {
  if (e.value.value > 0n && typeof e.key[1] === "string") queues.push(e.key[1]);
}
const counts = await Promise.all(queues.map(drain));
const ms = performance.now() - t0;
say(JSON.stringify({
  delivered: counts.reduce((a, b) => a + b, 0),
  queues: queues.length,
  ms: Math.round(ms),
  commits,
}));
// Ends when the bench closes its standard input, after it has read this process's CPU time.
while (!(await stdin.read()).done) { /* nothing more is asked */ }
kv.close();
