/**
 * One accepted MLLP connection: decode frames, hand each to the inbox in order, write each answer
 * back in the same order. Every step is contained: a failed write (the peer reset before reading
 * its ACK) ends this connection with one `mllp.reply-failed` line, never anything else.
 *
 * Push-back: a connection holds at most {@link MAX_UNANSWERED_FRAMES} frames received and not yet
 * answered (and {@link MAX_UNANSWERED_BYTES} of their payloads); beyond that its socket is not read
 * until the answers have caught up to half of that, so TCP holds the sender back: one that outruns
 * the store, or never reads its ACKs (once they no longer fit in the socket buffers), is read no
 * faster than it is answered.
 *
 * Deadlines: a silent connection is closed after its idle timeout, once everything received has
 * been answered, or at once when an answer has waited the whole idle timeout for the peer to take
 * any of its bytes (a peer that reads nothing would otherwise hold the connection and what it sent
 * for ever; what it sent is stored, its resend is a duplicate). A started frame must end within the
 * frame timeout. An over-size frame is answered `AR`, the write side is closed, and what follows
 * is read and dropped until the peer closes (or the drain time passes): closing with unread bytes
 * would reset the connection, and many stacks then drop the `AR` unread.
 *
 * Stopping ({@link InboundConnectionOptions.onOpen} gives the listener the connection's
 * {@link ConnectionDrain}): every frame received before the stop is handed to the inbox as usual
 * (its commit finishes, its ACK is written); frames completed after it are answered with
 * {@link stopAnswer} (`AE`, "the engine is stopping"), never stored; once those answers are out
 * the write side is closed (FIN), what the peer still sends is read and dropped until it closes
 * (at most {@link STOP_LINGER_MS}, within the grace; at once when nothing was answered since
 * the stop began), and the socket closes: an answered sender sees an orderly end, not a reset.
 * At the deadline the connection is closed whatever is still due.
 *
 * Log lines a peer can cause once per connection without sending a valid message (a failed read:
 * a TLS handshake that fails, a reset; stray bytes; a truncated frame; a frame timeout; an answer
 * it does not take) go through the listener's {@link InboundConnectionOptions.peerLog}: at most
 * {@link PEER_LOG_BURST} lines of each event per peer address every {@link PEER_LOG_INTERVAL_MS},
 * then one line per interval with `count`, how many it stands for (held back since the last
 * line, itself included): a sender with an occasional fault keeps a line for each, a flood (a
 * port scanner, a client speaking the wrong protocol in a loop) becomes a few lines.
 * @module
 */

import { encodeMllp, MllpDecoder } from "../../codecs/mllp/mod.ts";
import { buildNakForUnparsable } from "../../codecs/hl7v2/mod.ts";
import { latin1Decode, latin1Encode } from "../../codecs/text/mod.ts";
import type { Logger, MllpInbox } from "../../actors/ports.ts";
import type { ByteConn } from "./node_tls.ts";
import { errorMessage } from "../../actors/mod.ts";
import { ReadBuffer } from "./read_buffer.ts";
import {
  type LogThrottle,
  REPEATABLE_LOG_BURST,
  REPEATABLE_LOG_INTERVAL_MS,
} from "../../actors/mod.ts";

/** The interval of the per-connection lines' throttle (see the module doc). */
export const PEER_LOG_INTERVAL_MS = REPEATABLE_LOG_INTERVAL_MS;
/** Lines of one event per peer address and interval before they are only counted. */
export const PEER_LOG_BURST = REPEATABLE_LOG_BURST;

/** What {@link handleInboundConnection} needs. */
export interface InboundConnectionOptions {
  conn: ByteConn;
  /** The listener's port. */
  localPort: number;
  peerIp: string;
  peerPort: number;
  inbox: MllpInbox;
  log: Logger;
  requireFinalCr: boolean;
  /** A started frame must end within this, or the connection is closed. */
  frameTimeoutMs: number;
  /** After an over-size `AR`, how long to read and drop what follows before closing. */
  oversizeDrainMs: number;
  /** Given, once, how to drain this connection when its listener stops. */
  onOpen?(handle: InboundHandle): void;
  /**
   * The listener's throttle of the lines a peer can cause once per connection (see the module
   * doc), keyed by event and peer address; every such line is written when absent.
   */
  peerLog?: LogThrottle;
}

/** What the connections of a listener did while it stopped (summed over them). */
export interface DrainTally {
  /** Frames received before the stop whose answer was written during the drain. */
  answered: number;
  /** Frames completed after the stop began: answered {@link stopAnswer}, not stored. */
  refused: number;
  /** Frames received and still unanswered when the grace ran out (their connection closed). */
  unanswered: number;
  /** Connections closed at the grace with frames unanswered: senders left without an answer. */
  senders: number;
}

/**
 * Starts a connection's drain (see the module doc); resolves once it is closed, at `deadline`
 * (`performance.now()` time) at the latest. Tallies into `tally`. Calling it again returns the
 * same promise.
 */
export type ConnectionDrain = (deadline: number, tally: DrainTally) => Promise<void>;

/** What the listener may ask of one of its connections. */
export interface InboundHandle {
  /** Starts the drain. */
  readonly drain: ConnectionDrain;
  /** Frames received and not answered yet. */
  readonly unanswered: number;
}

/** After the last stop answer and the FIN, how long the peer gets to close before we do. */
export const STOP_LINGER_MS = 2_000;

const STOP_REASON =
  "the engine is stopping: the message was not stored; send it again once the engine is back";

/**
 * The answer to a frame completed after the listener began stopping: `AE`, error 207, MSA-2 its
 * MSH-10, the reason saying the engine is stopping. The message is not stored: a sender resends
 * it, as after the engine's `AE` for a store failure. (`AE` in either ack mode: which mode the
 * integration uses is the inbox's to know, not the listener's.)
 */
export function stopAnswer(payload: Uint8Array): Uint8Array {
  // Read and written one byte per character (true Latin-1, not the WHATWG label, which is
  // windows-1252): MSA-2 gives back the bytes of MSH-10 whatever the message's charset.
  const raw = latin1Decode(payload.subarray(0, 4096));
  const nak = buildNakForUnparsable({ raw, reason: STOP_REASON, code: "AE", errorCode: "207" });
  return latin1Encode(nak.encode());
}

/**
 * Most frames of one connection received and not yet answered: a pipelining sender keeps the inbox
 * busy with far fewer, and a sender that never reads its ACKs holds at most this many in memory.
 */
export const MAX_UNANSWERED_FRAMES = 64;
/** Most payload bytes of those frames: 64 large messages would be a lot of memory for one peer. */
export const MAX_UNANSWERED_BYTES = 4 * 1024 * 1024;
/** Reading resumes at half the bounds: one pause per half-window, not one per frame. */
const RESUME_FRAMES = MAX_UNANSWERED_FRAMES / 2;
const RESUME_BYTES = MAX_UNANSWERED_BYTES / 2;

let connectionCounter = 0;

/** Serves one connection until it ends; never rejects. */
export async function handleInboundConnection(options: InboundConnectionOptions): Promise<void> {
  const { conn, localPort, peerIp, inbox, log } = options;
  const connection = `c${++connectionCounter}@${peerIp}:${options.peerPort}`;
  const where = { port: localPort, peer: peerIp, connection };
  /** A warning the peer can cause once per connection: throttled per event and address. */
  const warnPeer = (event: string, fields: Record<string, unknown>) => {
    const count = options.peerLog?.note(`${event} ${peerIp}`) ?? 1;
    if (count > 0) log.warn(event, { ...where, ...fields, ...(count > 1 ? { count } : {}) });
  };
  try {
    conn.setNoDelay?.(true);
  } catch { /* a connection already reset: the first read says so */ }
  const decoder = new MllpDecoder({
    maxFrameBytes: inbox.maxFrameBytes,
    requireFinalCr: options.requireFinalCr,
  });
  const idleMs = inbox.idleTimeoutMs(localPort, peerIp);
  /** The socket is closed or being closed: nothing more is written. */
  let closing = false;
  /** Bytes still read are dropped (after an over-size frame or a frame timeout). */
  let discarding = false;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  let frameTimer: ReturnType<typeof setTimeout> | undefined;
  let drainTimer: ReturnType<typeof setTimeout> | undefined;
  let lastActivity = performance.now();
  /** A failure of this connection was logged: one line per connection is enough. */
  let reported = false;
  /** Frames received and not yet answered, and their payload bytes. */
  let unanswered = 0;
  let unansweredBytes = 0;
  /** Set while reading waits for the answers to catch up (or the close). */
  let resumeReading: (() => void) | undefined;
  /** The listener is stopping: frames completed from now on get the stop answer. */
  let stopping = false;
  /** The drain's tally (while stopping), and its promise and timers. */
  let tally: DrainTally | undefined;
  let drained: Promise<void> | undefined;
  let onDrained: (() => void) | undefined;
  let cutTimer: ReturnType<typeof setTimeout> | undefined;
  /** Our write side is closed (FIN sent): nothing more is written. */
  let writeShut = false;
  /** Answers written since the drain began. */
  let drainAnswers = 0;
  const wakeReader = () => {
    const resume = resumeReading;
    resumeReading = undefined;
    resume?.();
  };
  const onAnswered = (bytes: number) => {
    unanswered--;
    unansweredBytes -= bytes;
    if (
      resumeReading !== undefined && unanswered <= RESUME_FRAMES && unansweredBytes <= RESUME_BYTES
    ) wakeReader();
  };
  const closeConn = () => {
    closing = true;
    clearTimeout(idleTimer);
    clearTimeout(frameTimer);
    clearTimeout(drainTimer);
    clearTimeout(cutTimer);
    onDrained?.();
    try {
      conn.close();
    } catch { /* already closed */ }
    wakeReader();
  };

  // Frames are answered strictly in arrival order, one after another. The chain never rejects:
  // each step catches its own failure, so no rejection can go unhandled while the read loop waits.
  let chain: Promise<void> = Promise.resolve();
  const step = (fn: () => Promise<void>) => {
    chain = chain.then(async () => {
      if (closing) return;
      try {
        await fn();
      } catch (error) {
        if (!closing && !reported) {
          warnPeer("mllp.reply-failed", { reason: errorMessage(error) });
        }
        reported = true;
        closeConn();
      }
    });
  };
  /** Closes once everything received so far has been answered. */
  const closeAfterReplies = () => void chain.then(closeConn);
  /** A write waits for the peer to take bytes, since `writeStart[0]` (a typed array: no allocation). */
  let writing = false;
  const writeStart = new Float64Array(1);
  const write = async (bytes: Uint8Array) => {
    const frame = encodeMllp(bytes);
    let off = 0;
    writing = true;
    try {
      while (off < frame.length) {
        writeStart[0] = performance.now();
        off += await conn.write(frame.subarray(off));
      }
    } finally {
      writing = false;
    }
  };

  /** The idle timeout passed: the connection closes once its answers are out. */
  let idled = false;
  // One timer per idle period, not one per read: when it fires early (reads came meanwhile), it
  // waits again for what is left of the timeout. A write the peer has taken no byte of for the
  // whole idle timeout is never waited for: the peer reads nothing, and waiting would hold the
  // connection (and what it sent, which reading paused on) for ever.
  const onIdleTimer = () => {
    idleTimer = undefined;
    if (closing) return;
    const now = performance.now();
    const blockedMs = writing ? now - writeStart[0]! : 0;
    if (!idled) {
      // An answer going out meanwhile: decide once it is out, or once blocked for the timeout.
      const left = Math.max(lastActivity + idleMs - now, writing ? idleMs - blockedMs : 0);
      if (left > 0) {
        idleTimer = setTimeout(onIdleTimer, left);
        return;
      }
      idled = true;
      log.info("mllp.idle-close", { ...where, idleMs, ...(unanswered > 0 ? { unanswered } : {}) });
      if (writing) return closeConn();
      closeAfterReplies();
    } else if (writing && blockedMs >= idleMs) {
      // Idle already, and an answer due since then has not been taken for the timeout either.
      warnPeer("mllp.replies-unread", { idleMs, unanswered });
      return closeConn();
    }
    // Answers still due are watched until they are out (closeConn clears this timer).
    idleTimer = setTimeout(onIdleTimer, writing ? idleMs - blockedMs : idleMs);
  };
  const armIdle = () => {
    lastActivity = performance.now();
    if (idleTimer === undefined && !closing) idleTimer = setTimeout(onIdleTimer, idleMs);
  };
  const onFrameTimeout = () => {
    frameTimer = undefined;
    if (closing || discarding) return;
    discarding = true;
    warnPeer("mllp.frame-timeout", {
      bytes: decoder.bufferedBytes,
      timeoutMs: options.frameTimeoutMs,
    });
    closeAfterReplies();
  };

  // An application ACK (enhanced mode) goes out when the application step is done, in turn with
  // the replies to frames received meanwhile; if the connection is gone by then it is only logged.
  const sendLater = async (later: Promise<Uint8Array | undefined>) => {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await later;
    } catch (error) {
      log.warn("mllp.app-ack-failed", { ...where, reason: errorMessage(error) });
      return;
    }
    if (!bytes) return;
    if (closing || writeShut) {
      log.info("mllp.app-ack-undelivered", where);
      return;
    }
    step(() => write(bytes));
  };

  const onOversize = (size: number, limit: number) => {
    discarding = true;
    clearTimeout(frameTimer);
    const reply = inbox.oversize({ localPort, peerIp, size, limit });
    step(async () => {
      await write(reply);
      await conn.closeWrite();
      // The peer has its answer: it should close now; if it keeps sending, it is cut off.
      if (!closing) drainTimer = setTimeout(closeConn, options.oversizeDrainMs);
    });
  };

  // The listener stops: see the module doc.
  const drain: ConnectionDrain = (deadline, into) => {
    if (drained) return drained;
    if (closing) return drained = Promise.resolve();
    stopping = true;
    tally = into;
    drained = new Promise<void>((resolve) => (onDrained = resolve));
    cutTimer = setTimeout(() => {
      cutTimer = undefined;
      if (closing) return;
      if (unanswered > 0) {
        into.unanswered += unanswered;
        into.senders++;
        log.warn("mllp.stop-unanswered", { ...where, unanswered });
      }
      closeConn();
    }, Math.max(0, deadline - performance.now()));
    void (async () => {
      // Frames received before the stop: committed and answered as usual.
      await chain;
      // From here on nothing more is taken; what was completed meanwhile gets the stop answer.
      discarding = true;
      clearTimeout(frameTimer);
      wakeReader();
      await chain;
      if (closing) return;
      writeShut = true;
      let shut = true;
      try {
        await conn.closeWrite();
      } catch {
        shut = false; // the peer is gone
      }
      if (closing) return;
      // Nothing answered since the stop began (an idle connection): closed at once.
      if (!shut || drainAnswers === 0) return closeConn();
      // The peer has its answers and our FIN: it closes (the read loop ends), or is cut off. Not
      // closed sooner: closing on bytes it still sends would reset the connection, and many
      // stacks then drop the answers not read yet.
      clearTimeout(drainTimer);
      drainTimer = setTimeout(
        closeConn,
        Math.max(0, Math.min(STOP_LINGER_MS, deadline - performance.now())),
      );
    })();
    return drained;
  };
  options.onOpen?.({
    drain,
    get unanswered() {
      return unanswered;
    },
  });

  let skipped = 0;
  let dropped = 0;
  log.debug("mllp.connection-opened", where);
  armIdle();
  // Small until the peer sends much (read_buffer.ts): an idle connection holds 4 KiB, not 64.
  const buf = new ReadBuffer();
  try {
    while (!closing) {
      const n = await conn.read(buf.space);
      if (n === null) break;
      if (discarding) {
        dropped += n;
        buf.skip(n);
        continue;
      }
      armIdle();
      let completed = false;
      // A copy: the decoder keeps views of pushed chunks until their frame ends, and buf is reused.
      for (const event of decoder.push(buf.take(n))) {
        if (event.type === "frame") {
          completed = true;
          const payload = event.payload;
          unanswered++;
          unansweredBytes += payload.length;
          // Completed after the stop began: answered, never handed to the inbox.
          if (stopping) {
            step(async () => {
              try {
                await write(stopAnswer(payload));
                tally!.refused++;
                drainAnswers++;
              } finally {
                onAnswered(payload.length);
              }
            });
          } else {
            step(async () => {
              try {
                const answer = await inbox.receive({ payload, localPort, peerIp, connection });
                if (answer.reply) {
                  await write(answer.reply);
                  if (stopping) {
                    tally!.answered++;
                    drainAnswers++;
                  }
                }
                if (answer.close) closeConn();
                if (answer.later) void sendLater(answer.later);
              } finally {
                onAnswered(payload.length);
              }
            });
          }
          if (
            (unanswered >= MAX_UNANSWERED_FRAMES || unansweredBytes >= MAX_UNANSWERED_BYTES) &&
            !closing
          ) {
            // Not read until the answers catch up: TCP holds the sender back. The pause is ours,
            // so the frame deadline stops meanwhile (it starts again below for an open frame).
            clearTimeout(frameTimer);
            frameTimer = undefined;
            await new Promise<void>((resume) => (resumeReading = resume));
            if (closing || discarding) break;
          }
        } else if (event.type === "skipped") {
          skipped += event.bytes;
        } else if (event.type === "oversize") {
          onOversize(event.size, event.limit);
          break;
        }
      }
      if (discarding) continue;
      // The deadline runs from the first byte of a frame; a frame that ends stops it.
      if (!decoder.inFrame) {
        clearTimeout(frameTimer);
        frameTimer = undefined;
      } else if (frameTimer === undefined || completed) {
        clearTimeout(frameTimer);
        frameTimer = setTimeout(onFrameTimeout, options.frameTimeoutMs);
      }
    }
  } catch (error) {
    if (!closing) warnPeer("mllp.connection-error", { reason: errorMessage(error) });
    // Answers still due go out (the inbox may have stored their messages); if the peer is gone,
    // writing them fails quietly: this line already says why.
    reported = true;
  }
  clearTimeout(frameTimer);
  await chain;
  const truncated = discarding ? undefined : decoder.end().find((e) => e.type === "truncated");
  if (truncated) warnPeer("mllp.truncated-frame", { bytes: truncated.bytes });
  if (skipped > 0) warnPeer("mllp.stray-bytes", { bytes: skipped });
  closeConn();
  log.debug("mllp.connection-closed", { ...where, ...(dropped > 0 ? { dropped } : {}) });
}
