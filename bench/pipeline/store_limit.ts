/**
 * The engine's own KV writes alone, as a limit beside the pipeline: the real `Store` on a fresh KV
 * file, 16 writers each storing one corpus message at a time the way the MLLP inbox does for a
 * pass-through integration (`accept` with dedupe and the delivery routed in the same commit), and
 * one completer marking each routed entry delivered (`complete`, up to 64 in the background, as a
 * delivery actor does). No sockets, no HL7 parsing, no ACKs: what the engine's rows cost on this
 * disk through its group commit, for the same messages.
 *
 * @module
 */

import { Store } from "../../actors/store/store.ts";
import type { QueueItem } from "../../actors/store/requests.ts";

/** What {@link storeLimit} measured. */
export interface StoreLimit {
  /** Messages stored and completed per second (the lower of the two). */
  msgPerS: number;
  /** Messages stored. */
  accepted: number;
  /** Rows changed per stored message (KV mutations of the commits ÷ messages). */
  rowsPerMsg: number;
}

/** Runs the writers and the completer for `seconds` on a KV file in `dir`. */
export async function storeLimit(
  dir: string,
  messages: readonly Uint8Array[],
  seconds: number,
  writers = 16,
): Promise<StoreLimit> {
  const store = await Store.open({ path: `${dir}/store-limit.kv`, node: "bench" });
  try {
    const end = performance.now() + seconds * 1000;
    const ready: QueueItem[] = [];
    let wake: (() => void) | undefined;
    let next = 0, accepted = 0, completed = 0;
    const writer = async () => {
      while (performance.now() < end) {
        const i = next++;
        const id = store.newId();
        const controlId = `S${i}`;
        const r = await store.accept({
          queue: "mllp-in:bench",
          messageId: id,
          origin: { kind: "integration", id: "feed", peer: "127.0.0.1" },
          payload: messages[i % messages.length]!,
          contentType: "application/hl7-v2",
          controlId,
          messageType: "ADT^A01",
          log: { type: "RECEIVE", integrationId: "feed", environment: "development" },
          dedupe: { scope: "feed", key: controlId, ack: "", windowMs: 86_400_000 },
          deliveries: [{
            queue: "mllp-out:out",
            destinationId: "out",
            messageId: id,
            originalId: id,
            log: { environment: "development", integrationId: "feed", controlId },
          }],
        });
        accepted++;
        if (r.status === "stored" && r.routed) {
          ready.push(...r.routed);
          wake?.();
        }
      }
    };
    const completer = async () => {
      const pending: Promise<unknown>[] = [];
      while (performance.now() < end || ready.length > 0 || next > accepted) {
        const item = ready.shift();
        if (!item) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            // Bounded: the writers may all have stopped.
            setTimeout(resolve, 5);
          });
          continue;
        }
        const at = Date.now();
        pending.push(
          store.complete(item.head, { at, outcome: "SUCCEEDED", reason: "AA", durationMs: 1 }, {
            ...(item.log ? { log: item.log } : {}),
          }).then(() => completed++),
        );
        if (pending.length >= 64) await pending.shift();
      }
      await Promise.all(pending);
    };
    const t0 = performance.now();
    await Promise.all([...Array.from({ length: writers }, writer), completer()]);
    const s = (performance.now() - t0) / 1000;
    return {
      msgPerS: Math.round(Math.min(accepted, completed) / s),
      accepted,
      rowsPerMsg: store.commitStats.mutations / Math.max(1, accepted),
    };
  } finally {
    store.close();
  }
}
