/**
 * One running engine per `node.id` on a local KV file. Two processes with the same node id on
 * one file make the same message ids in the same millisecond (an id ends with its node) and each
 * takes the other's leases as its own: both deliver every queue, and some stored messages are
 * written over. Nothing in KV can tell them apart at start, so `serve` holds an exclusive lock on
 * a file beside the KV (`<kv path>.node-<id>.lock`) for as long as it runs; a second process with
 * that node id is refused at once with what to do. Processes with different node ids (scale-out
 * on one machine) each hold their own. The lock is the operating system's (`flock`): it goes with
 * the process, however it ends, so a killed engine never leaves a stale one.
 *
 * A KV reached over KV Connect (`https://…`) or in memory has no file to lock: nothing is held.
 *
 * @example
 * ```ts
 * const lock = await lockNode({ kvPath: "./data/engine.kv", nodeId: "node-1" });
 * // … run the engine …
 * lock?.release();
 * ```
 * @module
 */

import { dirname } from "node:path";
import { kvPathKind } from "../actors/store/kv.ts";

/** A held lock; {@link NodeLock.release} lets the next process with this node id start. */
export interface NodeLock {
  /** The lock file's path. */
  readonly path: string;
  /** Releases the lock (also released when the process ends). */
  release(): void;
}

/** How long a second process waits for the lock before it is refused. */
const WAIT_MS = 1500;

/** The lock file for `nodeId` beside `kvPath`. */
export function nodeLockPath(kvPath: string, nodeId: string): string {
  return `${kvPath}.node-${encodeURIComponent(nodeId)}.lock`;
}

/**
 * Takes the lock of `nodeId` on the KV file `kvPath`; undefined for a KV that is not a local
 * file. Rejects, naming the node id, the KV and what to do, while another process holds it.
 */
export async function lockNode(
  options: { kvPath: string; nodeId: string; waitMs?: number },
): Promise<NodeLock | undefined> {
  const { kvPath, nodeId } = options;
  if (kvPathKind(kvPath) !== "file") return undefined;
  const path = nodeLockPath(kvPath, nodeId);
  let file: Deno.FsFile;
  try {
    // The KV's folder is made as opening the KV would make it.
    await Deno.mkdir(dirname(path), { recursive: true });
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch {
    // A place the lock cannot be made is one the KV cannot be opened in either: opening the KV
    // then says why, in its own words.
    return undefined;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<"busy">((resolve) => {
    timer = setTimeout(() => resolve("busy"), options.waitMs ?? WAIT_MS);
  });
  // Deno offers no try-lock: a lock held elsewhere keeps this call waiting, so it is raced with
  // a short wait. Refused, the process exits; the waiting call goes with it.
  const locking = file.lock(true).then(() => "locked" as const);
  const outcome = await Promise.race([locking, waited]);
  clearTimeout(timer);
  if (outcome === "busy") {
    locking.then(() => file.close(), () => file.close());
    throw new Error(
      `node.id "${nodeId}" is in use by another running engine on ${kvPath} (it holds ${path}): ` +
        "two processes with one node id deliver every queue twice and write over each other's " +
        "messages. Stop that engine first, or give each process sharing this KV its own node.id",
    );
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}
