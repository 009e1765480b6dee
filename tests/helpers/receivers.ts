/**
 * Misbehaving MLLP receivers on real loopback sockets, for testing the outbound actor: a raw
 * `Deno.listen` server that decodes frames with the project's MLLP decoder and lets each test
 * decide how (and whether) to answer every frame.
 * @module
 */

import { type AckCode, buildAck, type Hl7Message, parseHl7 } from "../../codecs/hl7v2/mod.ts";
import { encodeMllp, MllpDecoder } from "../../codecs/mllp/mod.ts";

const text = new TextDecoder();
const bytes = new TextEncoder();

/** One frame as the receiver saw it. */
export interface ReceivedFrame {
  /** 1-based number of the frame over the receiver's life. */
  n: number;
  /** 1-based number of the connection it came on. */
  connection: number;
  /** Its MSH-10. */
  controlId: string;
  message: Hl7Message;
}

/** What a handler may do with a frame. */
export interface FrameContext extends ReceivedFrame {
  /** Answers with an ACK of `code`; `msa2` replaces MSA-2 (to answer for another message). */
  ack(code: AckCode, options?: { msa2?: string; text?: string }): Promise<void>;
  /** Sends an arbitrary frame. */
  send(payload: string): Promise<void>;
  /** Closes this connection without answering. */
  drop(): void;
}

/** Decides the answer to one frame. It must settle: {@link RawReceiver.close} waits for it. */
export type FrameHandler = (frame: FrameContext) => void | Promise<void>;

/** How a connection ended. */
export interface ConnectionEnd {
  connection: number;
  /** `peer`: the engine closed it (read EOF or reset); `receiver`: the test dropped it. */
  by: "peer" | "receiver";
}

/** A running receiver. */
export interface RawReceiver {
  readonly port: number;
  /** Every complete frame received, in arrival order. */
  readonly frames: ReceivedFrame[];
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections open right now. */
  readonly open: number;
  /** Connections that ended, in the order they ended. */
  readonly ended: ConnectionEnd[];
  /** Stops listening, closes every connection and waits for the handlers. */
  close(): Promise<void>;
}

/** Options for {@link startReceiver}. */
export interface ReceiverOptions {
  /** Port to listen on, default a free one. */
  port?: number;
  /**
   * Connections (by number) to cut in the middle of the first frame: the receiver reads only its
   * first 16 bytes and closes the socket, never seeing the frame's end.
   */
  cutMidFrame?: (connection: number) => boolean;
}

/** Control ids of the frames received, in order. */
export function controlIds(receiver: RawReceiver): string[] {
  return receiver.frames.map((f) => f.controlId);
}

/** A promise resolved after `ms` real milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts a receiver that hands every frame to `handler`, one at a time per connection. */
export function startReceiver(handler: FrameHandler, options: ReceiverOptions = {}): RawReceiver {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: options.port ?? 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const frames: ReceivedFrame[] = [];
  const ended: ConnectionEnd[] = [];
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let accepted = 0;
  let closing = false;

  const serve = async (conn: Deno.Conn, connection: number): Promise<void> => {
    const decoder = new MllpDecoder();
    let dropped = false;
    const drop = () => {
      dropped = true;
      try {
        conn.close();
      } catch { /* already closed */ }
    };
    const write = async (payload: string) => {
      const frame = encodeMllp(bytes.encode(payload));
      let off = 0;
      while (off < frame.length) off += await conn.write(frame.subarray(off));
    };
    // Frames of one connection are handled strictly in order, while reading goes on.
    let chain: Promise<void> = Promise.resolve();
    const cut = options.cutMidFrame?.(connection) ?? false;
    const buf = new Uint8Array(cut ? 16 : 64 * 1024);
    try {
      while (!dropped) {
        const n = await conn.read(buf);
        if (n === null) break;
        if (cut) {
          drop();
          break;
        }
        for (const event of decoder.push(buf.subarray(0, n))) {
          if (event.type !== "frame") continue;
          const message = parseHl7(text.decode(event.payload));
          const frame: ReceivedFrame = {
            n: frames.length + 1,
            connection,
            controlId: message.get("MSH-10") ?? "",
            message,
          };
          frames.push(frame);
          const context: FrameContext = {
            ...frame,
            ack: (code, o = {}) => {
              const ack = buildAck(message, { code, ...(o.text ? { text: o.text } : {}) });
              if (o.msa2 !== undefined) ack.set("MSA-2", o.msa2);
              return write(ack.encode());
            },
            send: write,
            drop,
          };
          chain = chain.then(() => handler(context)).catch(() => {
            // Writing to a connection the engine closed meanwhile: nothing to answer any more.
          });
        }
      }
    } catch {
      // Reset by the peer: the connection has ended.
    }
    ended.push({ connection, by: dropped || closing ? "receiver" : "peer" });
    await chain;
    try {
      conn.close();
    } catch { /* already closed */ }
    conns.delete(conn);
  };

  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        const task = serve(conn, ++accepted);
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch {
      // The listener was closed.
    }
  })();

  return {
    port,
    frames,
    ended,
    get accepted() {
      return accepted;
    },
    get open() {
      return accepted - ended.length;
    },
    async close() {
      closing = true;
      try {
        listener.close();
      } catch { /* already closed */ }
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await acceptLoop;
      await Promise.all([...tasks]);
    },
  };
}

/**
 * A receiver that holds every frame's `AA` until {@link release} (a destination slow enough that
 * a message stays in flight), then answers what it held and everything after at once.
 */
export function startHoldingReceiver(): { receiver: RawReceiver; release(): void } {
  let holding = true;
  const held: (() => void)[] = [];
  const receiver = startReceiver(async (f) => {
    if (holding) await new Promise<void>((resolve) => held.push(resolve));
    await f.ack("AA");
  });
  return {
    receiver,
    release() {
      holding = false;
      for (const answer of held.splice(0)) answer();
    },
  };
}
