/**
 * The engine's pipeline with nothing but what its guarantees need, in one Deno process: a limit
 * for the whole pipeline, run as a peer in the same run as the engine (bench/pipeline.ts).
 *
 * What it does, as the engine does under the bench's load:
 * - frames MLLP, reads MSH-9 and MSH-10, deflates a payload over 640 bytes with the engine's
 *   settings, after a dictionary per kind of message as the engine does (the first message of the
 *   kind, written once to KV in a commit of its own) (a stored form over 640 bytes goes to a row
 *   of its own, as the engine's does);
 * - stores in one group commit per batch (one commit in flight): the message, its RECEIVE log,
 *   its SEND log, the destination's queue entry and the dedupe record (checked absent; no KV
 *   expiry, as the engine's), and a queue-depth sum per batch, in a KV file whose expiry index
 *   is narrowed to the rows that expire, as the engine narrows its own;
 * - ACKs AA after the commit, then hands the message in memory to the one destination;
 * - delivers first-in-first-out, one message in flight: writes the frame, waits for an AA, then
 *   completes it (entry deleted, SEND log SUCCEEDED with its attempt, queue depth less one) in the
 *   same group commit, at most 64 completions uncommitted, while the next message is on the wire.
 *
 * What it leaves out: the HL7 parse beyond MSH, routing rules, the ACK's other fields, metrics,
 * logs to stdout, actors, leases, memory bounds (everything is held), reading a backlog back from
 * KV, every error path. So it is faster than any engine with the same rows can be on this
 * machine, and the engine's figures divided by its own say what all of that costs.
 *
 * Run: `deno run -A --unstable-kv bench/pipeline/bare_pipeline.ts <destination port> <kv path>`.
 * It listens on 127.0.0.1, port 0, and prints `{"listening": port}` once ready.
 *
 * @module
 */

import { inlinePayload } from "../../actors/store/payloads.ts";
import { narrowExpiryIndex } from "../../actors/store/expiry_index.ts";
import type { Dictionary } from "../../actors/store/dictionaries.ts";
import { encodeMllp } from "../../codecs/mllp/mod.ts";
import { readMllpFrames } from "../harness.ts";

const [DEST_PORT, KV_PATH = "./bare-pipeline.kv"] = Deno.args;
const HOST = "127.0.0.1";
const QUEUE = `mllp-out:${HOST}:${DEST_PORT}`;
const IN_RECORD_MAX = 640;
const MAX_COMPLETING = 64;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const kv = await Deno.openKv(KV_PATH);
await narrowExpiryIndex(KV_PATH);

let counter = 0;
/** Time-ordered ids, as the engine's (appends in KV's b-tree). */
const newId = () =>
  `${Date.now().toString(36).padStart(9, "0")}${(counter++).toString(36).padStart(8, "0")}`;

/** One line to stdout or stderr (the bench reads the first line of stdout). */
function say(out: { writeSync(p: Uint8Array): number }, line: string): void {
  const bytes = encoder.encode(`${line}\n`);
  for (let off = 0; off < bytes.length;) off += out.writeSync(bytes.subarray(off));
}

/** A write waiting for the next commit. */
interface Write {
  add(op: Deno.AtomicOperation): void;
  rows: number;
  done(ok: boolean): void;
}

const batch: Write[] = [];
let depthDelta = 0n;
let committing = false;

/** Queues a write for the next commit; resolves once it is durable. */
function commit(write: Omit<Write, "done">, depth: bigint): Promise<boolean> {
  return new Promise((resolve) => {
    batch.push({ ...write, done: resolve });
    depthDelta += depth;
    if (!committing) void flush();
  });
}

/** One commit in flight; whatever arrived meanwhile goes in the next (KV's limit: 1,000 rows). */
async function flush(): Promise<void> {
  committing = true;
  while (batch.length > 0) {
    let rows = 1, n = 0;
    while (n < batch.length && rows + batch[n]!.rows <= 900) rows += batch[n++]!.rows;
    const taken = batch.splice(0, Math.max(1, n));
    const op = kv.atomic();
    for (const w of taken) w.add(op);
    if (depthDelta !== 0n) op.sum(["qdepth", QUEUE], BigInt.asUintN(64, depthDelta));
    depthDelta = 0n;
    let ok = false;
    try {
      ok = (await op.commit()).ok;
    } catch (error) {
      say(Deno.stderr, `bare pipeline: commit failed: ${(error as Error).message}`);
    }
    for (const w of taken) w.done(ok);
  }
  committing = false;
}

/** A message held for the destination. */
interface Held {
  seq: string;
  logId: string;
  log: Record<string, unknown>;
  frame: Uint8Array;
}

const ready: Held[] = [];
/** Dictionaries by kind of message: undefined while its KV row is being written. */
const dictionaries = new Map<string, Dictionary | undefined>();

/** The kind's dictionary once written; the first message of a kind becomes it. */
function dictionaryFor(kind: string, payload: Uint8Array): Dictionary | undefined {
  if (dictionaries.has(kind)) return dictionaries.get(kind);
  dictionaries.set(kind, undefined);
  const dict = { id: `feed\u0000${kind}`, bytes: payload.slice(0, 8192) };
  void kv.set(["dict", dict.id], dict.bytes).then(
    () => dictionaries.set(kind, dict),
    () => dictionaries.delete(kind), // the next message of the kind tries again
  );
  return undefined;
}
let wake: (() => void) | undefined;

/** Stores one message, then answers its ACK. */
async function accept(payload: Uint8Array, conn: Deno.Conn): Promise<void> {
  const text = decoder.decode(payload);
  const msh = text.slice(0, text.indexOf("\r") >>> 0).split("|");
  const controlId = msh[9] ?? "";
  const messageType = msh[8] ?? "";
  const now = Date.now();
  const messageId = newId(), receiveId = newId(), sendId = newId(), seq = newId();
  const fields = inlinePayload(
    payload,
    payload.length > 640 ? dictionaryFor(messageType, payload) : undefined,
  );
  const packed = fields.inline!;
  const ownRow = packed.length > IN_RECORD_MAX;
  const record = {
    id: messageId,
    origin: { kind: "integration", id: "feed", peer: HOST },
    receivedAt: now,
    contentType: "x-application/hl7-v2+er7",
    size: payload.length,
    chunks: ownRow ? 1 : 0,
    ...(ownRow ? {} : { inline: packed }),
    deflated: packed.length !== payload.length,
    ...(fields.dictionary ? { dictionary: fields.dictionary } : {}),
    controlId,
    messageType,
    receiveLogId: receiveId,
    sendLogIds: [sendId],
  };
  const base = {
    messageId,
    createdAt: now,
    updatedAt: now,
    attempts: [],
    attemptCount: 0,
    controlId,
    messageType,
  };
  const receiveLog = {
    ...base,
    id: receiveId,
    type: "RECEIVE",
    status: "SUCCEEDED",
    actorId: "mllp-in:feed",
  };
  const sendLog = { ...base, id: sendId, type: "SEND", status: "PENDING", actorId: QUEUE };
  const entry = { seq, messageId, logId: sendId, enqueuedAt: now };
  const dedupe = ["dedupe", "feed", controlId];
  // Built before the commit, as the engine does, so a repeat is answered with the same ACK.
  const ackText = `MSH|^~\\&|${msh[4] ?? ""}|${msh[5] ?? ""}|${msh[2] ?? ""}|${
    msh[3] ?? ""
  }|${now}||ACK|${newId()}|P|2.5\rMSA|AA|${controlId}\r`;
  const ok = await commit({
    rows: ownRow ? 6 : 5,
    add: (op) => {
      op.set(["msg", messageId], record)
        .set(["log", receiveId], receiveLog)
        .set(["log", sendId], sendLog)
        .set(["q", QUEUE, seq], entry)
        .check({ key: dedupe, versionstamp: null })
        .set(dedupe, { messageId, at: now, ack: ackText });
      if (ownRow) op.set(["chunk", messageId, 0], packed);
    },
  }, 1n);
  await conn.write(frame(encoder.encode(ok ? ackText : ackText.replace("MSA|AA", "MSA|AE"))));
  if (!ok) return;
  ready.push({ seq, logId: sendId, log: sendLog, frame: frame(payload) });
  wake?.();
}

/** An MLLP frame around `body`, unchecked: the ACK is ours and the payload came in one frame. */
function frame(body: Uint8Array): Uint8Array {
  return encodeMllp(body, { validate: false });
}

/** The destination: FIFO, one in flight, completions committed while the next is on the wire. */
async function deliver(): Promise<void> {
  const conn = await Deno.connect({ hostname: HOST, port: Number(DEST_PORT) });
  conn.setNoDelay(true);
  const acks: ((body: Uint8Array) => void)[] = [];
  void readMllpFrames(conn, (body) => acks.shift()?.(body)).catch(() => {});
  let completing = 0;
  let settled: (() => void) | undefined;
  let head = 0;
  for (;;) {
    if (head >= ready.length) {
      ready.splice(0, head);
      head = 0;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
      continue;
    }
    const held = ready[head++]!;
    const started = Date.now();
    const answer = new Promise<Uint8Array>((r) => acks.push(r));
    await conn.write(held.frame);
    const ack = decoder.decode(await answer);
    if (!ack.includes("MSA|AA")) throw new Error(`destination refused: ${ack}`);
    const at = Date.now();
    const log = {
      ...held.log,
      status: "SUCCEEDED",
      updatedAt: at,
      attempts: [{ n: 1, at, outcome: "SUCCEEDED", durationMs: at - started }],
      attemptCount: 1,
    };
    while (completing >= MAX_COMPLETING) await new Promise<void>((r) => (settled = r));
    completing++;
    void commit({
      rows: 2,
      add: (op) => op.delete(["q", QUEUE, held.seq]).set(["log", held.logId], log),
    }, -1n).then(() => {
      completing--;
      settled?.();
      settled = undefined;
    });
  }
}

const listener = Deno.listen({ hostname: HOST, port: 0 });
void deliver().catch((error) => {
  say(Deno.stderr, `bare pipeline: delivery stopped: ${(error as Error).message}`);
  Deno.exit(1);
});
say(
  Deno.stdout,
  JSON.stringify({ listening: (listener.addr as Deno.NetAddr).port, pid: Deno.pid }),
);
for await (const conn of listener) {
  conn.setNoDelay(true);
  void readMllpFrames(conn, (body) => accept(body, conn)).catch(() => {}).finally(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  });
}
