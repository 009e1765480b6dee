/**
 * Receive → delivered latencies from the engine's own records, read from its KV file once it has
 * stopped, and the small statistics the benches print them with.
 * @module
 */

import { keys, type LogRecord, type MessageRecord } from "../../actors/store/mod.ts";

/**
 * Receive → delivered latencies in ms of the messages received in [`since`, `until`) (`Date.now()`
 * times), from the engine's KV file once the engine has stopped: for each SUCCEEDED SEND log, the
 * time of its last attempt (stamped when the destination's ACK came back) less the `receivedAt`
 * of the message it sent (or of the message that one was derived from). Sorted ascending. With
 * them, the messages that took longer than `slowMs` (default 50): how many, and the first and last
 * of their receive times in seconds after `since`, to tell one stall from a slow run.
 */
export async function deliveredLatencies(
  kvPath: string,
  since: number,
  until: number,
  slowMs = 50,
): Promise<{ sorted: number[]; sendLogs: number; noAttempt: number; slow: SlowSpan }> {
  const kv = await Deno.openKv(kvPath);
  const out: number[] = [];
  let sendLogs = 0, noAttempt = 0;
  const slow: SlowSpan = { count: 0, fromS: NaN, toS: NaN };
  const received = new Map<string, number | undefined>();
  const receivedAt = async (id: string): Promise<number | undefined> => {
    if (received.has(id)) return received.get(id);
    const m = (await kv.get<MessageRecord>(keys.message(id))).value;
    const at = !m ? undefined : m.derivedFrom ? await receivedAt(m.derivedFrom) : m.receivedAt;
    received.set(id, at);
    return at;
  };
  try {
    for await (const e of kv.list<LogRecord>({ prefix: keys.logPrefix })) {
      const l = e.value;
      // A SEND log is made after its message was received: older ones are outside the window.
      if (l.type !== "SEND" || l.createdAt < since) continue;
      const r = await receivedAt(l.messageId);
      if (r === undefined || r < since || r >= until) continue;
      sendLogs++;
      const at = l.status === "SUCCEEDED" ? l.attempts?.[l.attempts.length - 1]?.at : undefined;
      if (at === undefined) {
        noAttempt++;
        continue;
      }
      out.push(at - r);
      if (at - r > slowMs) {
        const s = (r - since) / 1000;
        slow.count++;
        slow.fromS = Number.isNaN(slow.fromS) ? s : Math.min(slow.fromS, s);
        slow.toS = Number.isNaN(slow.toS) ? s : Math.max(slow.toS, s);
      }
    }
  } finally {
    kv.close();
  }
  return {
    sorted: out.sort((a, b) => a - b),
    sendLogs,
    noAttempt,
    slow: { count: slow.count, fromS: round(slow.fromS, 2), toS: round(slow.toS, 2) },
  };
}

/** Messages slower than a threshold: how many, and when (s into the run) they were received. */
export interface SlowSpan {
  count: number;
  /** Receive time of the earliest, in seconds after the run's start (NaN when none). */
  fromS: number;
  /** Receive time of the latest (NaN when none). */
  toS: number;
}

/** The `p` quantile (0..1) of an ascending list (NaN when empty). */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Rounds to `digits` decimals. */
export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
