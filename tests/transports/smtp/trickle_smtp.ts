/**
 * A hostile SMTP peer on 127.0.0.1 (raw `node:net`): it either greets at once and then answers EHLO
 * one byte every `intervalMs`, never finishing the reply (every line a `250-` continuation), or
 * trickles its greeting the same way. Idle timeouts never fire against it: a byte always comes
 * before them. It counts connections and closes, so tests see that the client gave up.
 * @module
 */

import net from "node:net";
import { waitFor } from "../../helpers/net.ts";

/** Which reply the peer trickles. */
export type TrickleStage = "greeting" | "ehlo";

/** A running trickling peer. */
export interface TrickleSmtp {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections that have closed so far. */
  readonly closed: number;
  /** What clients wrote, as text, in arrival order. */
  received: string[];
  /** Resolves once `check` holds (polled; bounded by `timeoutMs`). */
  until(what: string, check: () => boolean, timeoutMs?: number): Promise<void>;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/** Options of {@link startTrickleSmtp}. */
export interface TrickleOptions {
  stage: TrickleStage;
  /** Milliseconds between bytes (default 100). */
  intervalMs?: number;
  /** Bytes per connection before it stops writing (default 3000: a bound on the test). */
  maxBytes?: number;
}

/** Starts a {@link TrickleSmtp}. */
export async function startTrickleSmtp(options: TrickleOptions): Promise<TrickleSmtp> {
  const intervalMs = options.intervalMs ?? 100;
  const maxBytes = options.maxBytes ?? 3000;
  const sockets = new Set<net.Socket>();
  const received: string[] = [];
  let connections = 0;
  let closed = 0;
  const trickle = (socket: net.Socket, line: string) => {
    let i = 0;
    const timer = setInterval(() => {
      if (i >= maxBytes || socket.destroyed) return clearInterval(timer);
      socket.write(line[i % line.length]!);
      i++;
    }, intervalMs);
    socket.once("close", () => clearInterval(timer));
  };
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => {
      closed++;
      sockets.delete(socket);
    });
    if (options.stage === "greeting") {
      trickle(socket, "220-trickle.example slow greeting\r\n");
    } else {
      socket.write("220 trickle.example ESMTP\r\n");
    }
    let started = false;
    socket.on("data", (chunk: Uint8Array) => {
      received.push(new TextDecoder().decode(chunk));
      if (options.stage === "ehlo" && !started && /^(EHLO|HELO)/im.test(received.join(""))) {
        started = true;
        trickle(socket, "250-trickle.example says hello\r\n");
      }
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
  return {
    port,
    get connections() {
      return connections;
    },
    get closed() {
      return closed;
    },
    received,
    until: (what, check, timeoutMs = 10_000) => waitFor(what, check, timeoutMs),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
