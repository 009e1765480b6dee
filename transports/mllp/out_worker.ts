/**
 * The thread that holds outbound MLLP sockets (started by {@link ThreadMllpConnector}). Under
 * load the engine's thread takes an ACK only at its next turn, after the intake work that became
 * ready meanwhile; here an ACK is read at once, and when it accepts the message on the wire the
 * next message of the destination's list goes out in the same turn. Everything else (timeouts,
 * retries, what a NAK means) stays with the delivery actor on the engine's thread.
 *
 * Protocol: see `thread_protocol.ts`.
 * @module
 */

/// <reference lib="deno.worker" />

import { getPriority, setPriority } from "node:os";
import { scanAck } from "../../codecs/hl7v2/mod.ts";
import { CarriedControlIds } from "../../codecs/hl7v2/carried_ids.ts";
import type { AheadMessage, MllpConnection } from "../../actors/ports.ts";
import { errorMessage } from "../../actors/mod.ts";
import { connectMllp } from "./client.ts";
import { outOfFilesNote, readOpenFiles } from "../net/open_files.ts";
import type { ToMain, ToThread } from "./thread_protocol.ts";
import { nowMs } from "./thread_protocol.ts";

interface Held {
  conn?: MllpConnection;
  /** Closed by the engine before the connection was made. */
  cancelled?: AbortController;
  /** `allowed until` (ms, see nowMs) in slot 0; 0 holds. */
  control: BigInt64Array;
  /** The message on the wire, when named. */
  onWire?: { key: string; controlId: string };
  /** The messages that follow `after`. */
  after?: string;
  next: AheadMessage[];
  /**
   * The MSH-10s this connection carried, for which message: a listed message under one of them
   * (another message's) is not sent on its own here (a late reply to that one would read as its
   * ACK); the delivery actor sends it on a fresh connection.
   */
  carried: CarriedControlIds;
}

const held = new Map<number, Held>();

// Learns the open-files limit while a descriptor is free to read it: a connect that fails for
// want of one says "N of M open" (outOfFilesNote), and M cannot be read then.
readOpenFiles();

function post(message: ToMain): void {
  self.postMessage(message);
}

/**
 * This thread runs this much nicer than the engine's thread. Woken by every ACK, at the engine's
 * own priority it took a core from the engine's thread whenever both wanted one (two cores, with
 * SQLite's thread and the senders besides), and every step of the intake waited the longer. In
 * alternating runs of the same load the engine sustained a fifth more at 5 (and at 10, but with
 * a later p99 at 70 %); it needs little CPU, and the engine's thread can do nothing for a
 * destination without it.
 */
const NICER_BY = 5;

/** Lowers this thread's priority (Linux, where a nice value is a thread's own) and says so. */
function lowerPriority(): void {
  if (Deno.build.os !== "linux") return post({ id: 0, ev: "started" });
  // Asked first: without the permission, calling would prompt on a terminal and hold the thread.
  for (const kind of ["getPriority", "setPriority"] as const) {
    if (Deno.permissions.querySync({ name: "sys", kind }).state !== "granted") {
      return post({ id: 0, ev: "started", error: `no sys access to "${kind}" (--allow-sys)` });
    }
  }
  try {
    setPriority(0, Math.min(19, getPriority(0) + NICER_BY));
    post({ id: 0, ev: "started", nice: getPriority(0) });
  } catch (error) {
    post({ id: 0, ev: "started", error: errorMessage(error) });
  }
}

lowerPriority();

self.onmessage = (event: MessageEvent<ToThread>) => {
  const m = event.data;
  try {
    handle(m);
  } catch (error) {
    // Nothing here should throw; if it does, that connection ends with the reason.
    fail(m.id, `the MLLP socket thread failed: ${errorMessage(error)}`);
  }
};

// A promise nobody awaited must not end the thread (and with it every destination's socket).
self.addEventListener("unhandledrejection", (event) => event.preventDefault());

function handle(m: ToThread): void {
  switch (m.op) {
    case "connect": {
      const h: Held = {
        control: new BigInt64Array(m.control),
        next: [],
        carried: new CarriedControlIds(),
        cancelled: new AbortController(),
      };
      held.set(m.id, h);
      void open(m.id, h, m);
      return;
    }
    case "send": {
      const h = held.get(m.id);
      if (!h?.conn) {
        post({ id: m.id, ev: "write-failed", req: m.req, error: "connection closed" });
        return;
      }
      h.onWire = m.key !== undefined && m.controlId !== undefined
        ? { key: m.key, controlId: m.controlId }
        : undefined;
      if (h.onWire) h.carried.note(h.onWire.controlId, h.onWire.key);
      if (m.key !== undefined && m.next) list(h, m.key, m.next);
      h.conn.send(m.payload).then(
        () => post({ id: m.id, ev: "written", req: m.req }),
        (error) => post({ id: m.id, ev: "write-failed", req: m.req, error: errorMessage(error) }),
      );
      return;
    }
    case "follow": {
      const h = held.get(m.id);
      if (h) list(h, m.after, m.next);
      return;
    }
    case "close": {
      const h = held.get(m.id);
      if (!h) return;
      h.control[0] = 0n;
      h.cancelled?.abort();
      h.conn?.close();
      return;
    }
  }
}

/** The messages after `after` are `next`: what the list holds up to `after` stays. */
function list(h: Held, after: string, next: AheadMessage[]): void {
  const at = h.after === after ? 0 : h.next.findIndex((n) => n.key === after) + 1;
  if (at === 0 && h.after !== after) {
    h.after = after;
    h.next = next;
  } else h.next = h.next.slice(0, at).concat(next);
}

async function open(id: number, h: Held, m: Extract<ToThread, { op: "connect" }>): Promise<void> {
  let conn: MllpConnection;
  try {
    conn = await connectMllp(m.target, {
      timeoutMs: m.timeoutMs,
      signal: h.cancelled!.signal,
      ...(m.maxFrameBytes ? { maxFrameBytes: m.maxFrameBytes } : {}),
    });
  } catch (error) {
    held.delete(id);
    // Out of descriptors, a name lookup fails as "Invalid argument": the cause is said too.
    post({ id, ev: "connect-failed", error: errorMessage(error) + outOfFilesNote(error) });
    return;
  }
  if (h.cancelled!.signal.aborted) {
    conn.close();
    held.delete(id);
    post({ id, ev: "connect-failed", error: "aborted" });
    return;
  }
  delete h.cancelled;
  h.conn = conn;
  post({ id, ev: "connected", ...(conn.local ? { local: conn.local } : {}) });
  await pump(id, h, conn);
}

/** Reads frames as they come, following an accepted message with the next one listed. */
async function pump(id: number, h: Held, conn: MllpConnection): Promise<void> {
  const never = new AbortController().signal;
  try {
    while (true) {
      const got = await conn.receive(never);
      if (got.type !== "frame") {
        post({ id, ev: "closed", reason: got.type === "closed" ? got.reason : "aborted" });
        return;
      }
      const followedBy = follow(id, h, conn, got.payload);
      post({ id, ev: "frame", payload: got.payload, ...(followedBy ? { followedBy } : {}) });
    }
  } catch (error) {
    conn.close();
    post({ id, ev: "closed", reason: errorMessage(error) });
  } finally {
    held.delete(id);
  }
}

/**
 * Sends the message listed after the one on the wire if `frame` accepts that one and sending on
 * its own is allowed now; its key, or undefined.
 */
function follow(
  id: number,
  h: Held,
  conn: MllpConnection,
  frame: Uint8Array,
): string | undefined {
  const wire = h.onWire;
  if (!wire) return undefined;
  // The same glance the delivery actor takes first: an accept here is an accept there.
  const verdict = scanAck(frame, wire.controlId).kind;
  if (verdict === "other") return undefined; // the engine waits on for the real answer
  // Answered (or to be read in full by the engine): a later reply to the same message (a
  // repeat, an AA after an AE) follows nothing.
  h.onWire = undefined;
  if (verdict !== "accept" || h.next.length === 0) return undefined;
  if (Number(Atomics.load(h.control, 0)) <= nowMs()) return undefined;
  let i = 0;
  if (h.after !== wire.key) {
    i = h.next.findIndex((n) => n.key === wire.key) + 1;
    if (i === 0) return undefined; // the list is not about the message on the wire
  }
  const next = h.next[i];
  if (!next) return undefined;
  // Never after a message of the same MSH-10 on this socket: left for the engine's thread.
  if (h.carried.clashes(next.controlId, next.key)) return undefined;
  h.carried.note(next.controlId, next.key);
  h.onWire = { key: next.key, controlId: next.controlId };
  h.after = next.key;
  h.next = h.next.slice(i + 1);
  // A failed write ends the connection, with that reason (the first the engine hears stays).
  // A payload MLLP cannot frame (a 0x0B or 0x1C byte in it) fails here too, in the encoder,
  // before any byte is written: not scanned for beforehand (a second pass over every message),
  // it ends the connection so, and the engine's thread, taking the message as sent ahead, sees
  // that end and fails it for good (mllp_deliverer.ts dead-letters it).
  conn.send(next.payload).catch((error) => {
    post({ id, ev: "closed", reason: `send failed: ${errorMessage(error)}` });
    conn.close();
  });
  return next.key;
}

function fail(id: number, reason: string): void {
  const h = held.get(id);
  h?.conn?.close();
  held.delete(id);
  post({ id, ev: "closed", reason });
}
