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
 * of the message it sent (or of the message that one was derived from). Sorted ascending.
 */
export async function deliveredLatencies(
  kvPath: string,
  since: number,
  until: number,
): Promise<{ sorted: number[]; sendLogs: number; noAttempt: number }> {
  const kv = await Deno.openKv(kvPath);
  const out: number[] = [];
  let sendLogs = 0, noAttempt = 0;
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
    }
  } finally {
    kv.close();
  }
  return { sorted: out.sort((a, b) => a - b), sendLogs, noAttempt };
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
