/**
 * The messages between the engine's thread and the outbound MLLP socket thread, and the clock
 * both read a connection's `allowed until` deadline with.
 * @module
 */

import type { AheadMessage, MllpTarget } from "../../actors/ports.ts";

/** From the engine's thread to the socket thread; `id` names the connection. */
export type ToThread =
  | {
    op: "connect";
    id: number;
    target: MllpTarget;
    timeoutMs: number;
    maxFrameBytes?: number;
    /** 8 bytes: `allowed until` (see {@link nowMs}), 0 to hold. */
    control: SharedArrayBuffer;
  }
  | {
    op: "send";
    id: number;
    req: number;
    payload: Uint8Array;
    key?: string;
    controlId?: string;
    /** The messages after this one (as `follow` with `after` its key). */
    next?: AheadMessage[];
  }
  | { op: "follow"; id: number; after: string; next: AheadMessage[] }
  | { op: "close"; id: number };

/** From the socket thread to the engine's thread. */
export type ToMain =
  /** The thread runs, at nice value `nice` (Linux), or could not lower its priority (`error`). */
  | { id: 0; ev: "started"; nice?: number; error?: string }
  | { id: number; ev: "connected"; local?: string }
  | { id: number; ev: "connect-failed"; error: string }
  | { id: number; ev: "written"; req: number }
  | { id: number; ev: "write-failed"; req: number; error: string }
  | { id: number; ev: "frame"; payload: Uint8Array; followedBy?: string }
  | { id: number; ev: "closed"; reason: string };

/**
 * Milliseconds on a clock both threads share: each thread's `performance.now()` counts from its
 * own start, so it is added to that start (`timeOrigin`).
 */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
