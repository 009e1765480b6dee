/**
 * One synchronous request/answer over MLLP on a connection of its own (a query): connect, send
 * one frame, wait for the first frame back, close. The destination's delivery actor keeps its
 * own connection and queue; a query never waits behind them.
 * @module
 */

import type { MllpConnection, MllpConnector, MllpTarget } from "./connector.ts";
import { errorMessage } from "../runtime/errors.ts";

/** What {@link mllpQuery} needs. */
export interface MllpQueryOptions {
  connector: MllpConnector;
  target: MllpTarget;
  /** The encoded message (no MLLP framing). */
  payload: Uint8Array;
  /** Connect timeout in ms (the deadline of `signal` also applies). */
  connectTimeoutMs: number;
  /** Aborts the exchange: the caller's deadline, or the client going away. */
  signal: AbortSignal;
}

/** How an exchange ended. */
export type MllpQueryResult =
  | { ok: true; frame: Uint8Array }
  | {
    ok: false;
    /** `connect`: no connection; `closed`: the peer closed or the socket failed before answering;
     * `aborted`: `signal` fired first. */
    kind: "connect" | "closed" | "aborted";
    reason: string;
  };

/** Sends `payload` and waits for one answer; never rejects. */
export async function mllpQuery(options: MllpQueryOptions): Promise<MllpQueryResult> {
  const { connector, target, payload, signal } = options;
  if (signal.aborted) return { ok: false, kind: "aborted", reason: "aborted before connecting" };
  let conn: MllpConnection;
  try {
    conn = await connector.connect(target, { timeoutMs: options.connectTimeoutMs, signal });
  } catch (error) {
    if (signal.aborted) return { ok: false, kind: "aborted", reason: "aborted while connecting" };
    return {
      ok: false,
      kind: "connect",
      reason: `cannot connect to ${target.host}:${target.port}: ${errorMessage(error)}`,
    };
  }
  try {
    try {
      await conn.send(payload);
    } catch (error) {
      return { ok: false, kind: "closed", reason: `sending failed: ${errorMessage(error)}` };
    }
    const got = await conn.receive(signal);
    if (got.type === "frame") return { ok: true, frame: got.payload };
    if (got.type === "aborted") return { ok: false, kind: "aborted", reason: "no answer in time" };
    return {
      ok: false,
      kind: "closed",
      reason: `the connection ended without an answer: ${got.reason}`,
    };
  } finally {
    conn.close();
  }
}
