/**
 * What a delivery actor asks of the protocol that carries its messages (MLLP, HTTPS, SFTP). The
 * actor owns the queue discipline (FIFO, one in flight, retries, pause, skip); a deliverer only
 * sends one message and says how it went.
 * @module
 */

import type { ActorState } from "../runtime/actor.ts";
import type { QueueHead } from "../store/store.ts";
import type { QueueItem } from "../store/requests.ts";
import type { LogRecord, MessageRecord } from "../store/types.ts";

/** One delivery attempt's input. */
export interface DeliveryJob {
  head: QueueHead;
  record: MessageRecord;
  payload: Uint8Array;
  /**
   * The entry's log as committed, when the actor knows it (a message routed in memory, before a
   * failed attempt changed it in KV); absent, a deliverer that needs it reads it.
   */
  log?: LogRecord;
  /** Aborts when the engine stops or an operator skips the message. */
  signal: AbortSignal;
  /** Reports progress (connecting, sending, awaiting-ack) for the admin endpoint. */
  setState(state: ActorState): void;
  /**
   * Up to `max` of the entries queued right after this one, in order, that may be sent next as
   * they are (held in memory with their payload); for a deliverer that sends ahead on an accept.
   */
  upcoming?(max: number): readonly QueueItem[];
}

/** How an attempt went. */
export type DeliveryOutcome =
  | { ok: true; detail: string }
  | { ok: false; reason: string; deadLetter?: boolean };

/** A protocol's side of delivery. */
export interface Deliverer {
  /** Sends `job.payload` and waits for the peer's verdict. Never throws for a peer's failure. */
  deliver(job: DeliveryJob): Promise<DeliveryOutcome>;
  /**
   * Sends nothing more on its own (a pause, a handover): the message on the wire, if any, is
   * taken in by the next `deliver`. Until {@link release}.
   */
  hold?(): void;
  /** Ends a {@link hold}. */
  release?(): void;
  /**
   * The key (queue seq) of a message it sent on its own, ahead of being asked, whose outcome no
   * `deliver` has taken yet: the next `deliver` must be for it.
   */
  sentAhead?(): string | undefined;
  /**
   * True while other processes commit to this queue too (scale-out with other live nodes): a
   * commit of theirs may land after this process's with an older seq. The actor then confirms the
   * KV queue's head before each send and offers nothing to send ahead. Absent: never.
   */
  shared?(): boolean;
  /** Called while the queue is empty, e.g. to close a socket idle too long. */
  idle?(now: number): Promise<void>;
  /**
   * When (monotonic ms) {@link idle} would close the connection held, if one is: an idle actor
   * sleeps until then rather than wake every poll period to ask. Absent or undefined: nothing due.
   */
  idleCloseAt?(): number | undefined;
  /** True while the deliverer holds a resource (an open socket) that keeps the actor active. */
  holdsConnection?(): boolean;
  /** Releases everything (engine stop or actor deactivation). */
  close(): Promise<void>;
  /** Extra fields for the admin endpoint. */
  detail?(): Record<string, unknown>;
}
