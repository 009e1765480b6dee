/**
 * The records the store keeps: messages, queue entries, logs with their attempts.
 * @module
 */

/** Log types as users know them from hosted platforms. */
export type LogType = "SEND" | "RECEIVE" | "REQUEST" | "RESPOND";
/** Log statuses. */
export type LogStatus = "PENDING" | "SUCCEEDED" | "FAILED" | "FILTERED";

/** Where a message came from. */
export interface Origin {
  kind: "integration" | "source" | "engine";
  id: string;
  /** Peer address, file name or client id: whatever tells the operator who sent it. */
  peer?: string;
}

/** A stored message (its payload inline, or in chunks written before this record). */
export interface MessageRecord {
  id: string;
  origin: Origin;
  receivedAt: number;
  contentType: string;
  size: number;
  /** 0: the payload is `inline`; otherwise the number of chunk keys. */
  chunks: number;
  inline?: Uint8Array;
  /** `inline` holds the payload deflated (raw deflate); `size` is the payload's own size. */
  deflated?: boolean;
  /**
   * The payload (inline or its one chunk) was deflated after this compression dictionary, which
   * reading it back needs (see dictionaries.ts).
   */
  dictionary?: string;
  /** SEND logs made in the commit that stored the message (later ones are under log_by_msg). */
  sendLogIds?: string[];
  controlId?: string;
  messageType?: string;
  fileName?: string;
  sha256?: string;
  /** The message this one was derived from (a translation), if any. */
  derivedFrom?: string;
  /**
   * The RECEIVE log written with the message. It has no `log_by_msg` entry (one KV row less per
   * accept): readers of a message's logs take it from here.
   */
  receiveLogId?: string;
}

/** One delivery attempt, as shown to operators. */
export interface Attempt {
  n: number;
  at: number;
  outcome: "SUCCEEDED" | "FAILED";
  /** Why it failed (or the ACK code / HTTP status it succeeded with). */
  reason?: string;
  durationMs?: number;
}

/** A log: one per message and destination (SEND), or per received message (RECEIVE). */
export interface LogRecord {
  id: string;
  messageId: string;
  type: LogType;
  status: LogStatus;
  environment?: string;
  integrationId?: string;
  sourceId?: string;
  destinationId?: string;
  actorId?: string;
  dataModel?: string;
  eventType?: string;
  controlId?: string;
  /** RECEIVE and SEND logs: the config version they were routed under (`hash@generation`). */
  configVersion?: string;
  createdAt: number;
  updatedAt: number;
  reason?: string;
  /** SEND logs: the payload delivered, when a translation of `messageId` (the original). */
  deliveredId?: string;
  /** The latest attempts (older ones are counted in `attemptCount` only). */
  attempts: Attempt[];
  attemptCount: number;
  /** Set while the message sits in a dead-letter list (`queue`, `seq` locate it there). */
  deadLetter?: { by: string; reason: string; at: number; queue?: string; seq?: string };
  /** Who last sent it back to its queue from the dead-letter list, and why. */
  reprocessed?: { by: string; reason: string; at: number; count: number };
  /**
   * SEND logs: the modifiers and HL7 edits that ran on this delivery and the paths each changed
   * (never values), with the translation set versions used.
   */
  shaping?: {
    steps: readonly {
      list: string;
      kind: string;
      ran: readonly {
        index: number;
        name?: string;
        changed: readonly string[];
        skipped?: boolean;
      }[];
    }[];
    translationSets: readonly { name: string; version: number }[];
    /** The stored payload this delivery sends (the modified one). */
    messageId?: string;
  };
}

/** An entry in an actor's FIFO queue. */
export interface QueueEntry {
  /** Sort key within the queue: a time-ordered id. */
  seq: string;
  /** The payload to deliver (the original message or its translation). */
  messageId: string;
  /** The log this delivery updates. */
  logId: string;
  /** The original message, when `messageId` is a translation. */
  originalId?: string;
  enqueuedAt: number;
  /** Destination id, for multi-destination actors. */
  destinationId?: string;
}

/** An operator's pause of an actor, kept in KV so it survives a restart. */
export interface ActorControl {
  paused: boolean;
  by?: string;
  reason?: string;
  at?: number;
}
