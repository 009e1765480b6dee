/**
 * MLLP listeners: accept connections, decode frames, hand each to the engine's inbox in order and
 * write its answer back in the same order. Stray bytes are skipped and counted; an over-size frame
 * is answered and the connection closed; a silent connection is closed after its idle timeout,
 * once everything received has been answered.
 * @module
 */

import { encodeMllp, MllpDecoder } from "../../codecs/mllp/mod.ts";
import type { MllpInbox } from "../../actors/engine/inbox.ts";
import type { Logger } from "../../actors/runtime/log.ts";
import { type ByteConn, type ByteListener, listenMutualTls } from "./node_tls.ts";

/** Where and how to listen. */
export interface MllpServerOptions {
  port: number;
  hostname?: string;
  /**
   * PEM certificate and key: TLS 1.2+ when set. With `ca`, clients are asked for a certificate
   * that must chain to it (and must present one when `requireClientCert`): mutual TLS.
   */
  tls?: { cert: string; key: string; ca?: string; requireClientCert?: boolean };
  /**
   * Whether a frame must end with FS CR, as MLLP says (default true). False also ends a frame at
   * an FS alone, for senders that leave the CR out; FS never occurs in HL7 text.
   */
  requireFinalCr?: boolean;
  inbox: MllpInbox;
  log: Logger;
}

/** A running listener. */
export interface MllpServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Connections currently open. */
  readonly connections: number;
  /** Stops accepting and closes every connection. */
  close(): Promise<void>;
}

let connectionCounter = 0;

/** Starts a listener; see the module doc. Resolves once it is bound. */
export async function serveMllp(options: MllpServerOptions): Promise<MllpServer> {
  const { inbox, log } = options;
  const hostname = options.hostname ?? "0.0.0.0";
  const tlsOptions = options.tls;
  const listener: ByteListener = tlsOptions?.ca || tlsOptions?.requireClientCert
    ? await listenMutualTls({
      port: options.port,
      hostname,
      cert: tlsOptions.cert,
      key: tlsOptions.key,
      ca: requireCa(tlsOptions.ca),
      requireClientCert: tlsOptions.requireClientCert ?? false,
      log,
    })
    : tlsOptions
    ? Deno.listenTls({ port: options.port, hostname, cert: tlsOptions.cert, key: tlsOptions.key })
    : Deno.listen({ port: options.port, hostname });
  const port = (listener.addr as Deno.NetAddr).port;
  const open = new Set<ByteConn>();
  const handlers = new Set<Promise<void>>();

  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        open.add(conn);
        const h = handle(conn, port, inbox, log, options.requireFinalCr ?? true).finally(() => {
          open.delete(conn);
          handlers.delete(h);
        });
        handlers.add(h);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) {
        log.error("mllp.listener-failed", { port, error });
      }
    }
  })();
  log.info("mllp.listening", {
    port,
    hostname,
    tls: tlsOptions ? (tlsOptions.ca ? "mutual" : "server") : "none",
  });

  return {
    port,
    get connections() {
      return open.size;
    },
    async close() {
      try {
        listener.close();
      } catch { /* already closed */ }
      for (const c of open) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await acceptLoop;
      await Promise.allSettled([...handlers]);
    },
  };
}

function requireCa(ca: string | undefined): string {
  if (!ca) throw new Error("a listener that requires client certificates needs tls.ca");
  return ca;
}

async function handle(
  conn: ByteConn,
  localPort: number,
  inbox: MllpInbox,
  log: Logger,
  requireFinalCr: boolean,
): Promise<void> {
  const peer = conn.remoteAddr as Deno.NetAddr;
  const peerIp = peer.hostname;
  const connection = `c${++connectionCounter}@${peerIp}:${peer.port}`;
  conn.setNoDelay?.(true);
  const decoder = new MllpDecoder({ maxFrameBytes: inbox.maxFrameBytes, requireFinalCr });
  const idleMs = inbox.idleTimeoutMs(localPort, peerIp);
  let closing = false;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  let lastActivity = performance.now();
  const closeConn = () => {
    closing = true;
    clearTimeout(idleTimer);
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  // One timer per idle period, not one per read: when it fires early (reads came meanwhile), it
  // waits again for what is left of the timeout.
  const onIdleTimer = () => {
    const left = lastActivity + idleMs - performance.now();
    if (left > 0) {
      idleTimer = setTimeout(onIdleTimer, left);
      return;
    }
    idleTimer = undefined;
    log.info("mllp.idle-close", { port: localPort, peer: peerIp, connection, idleMs });
    // Answer what was received before closing: the chain below finishes first.
    void chain.then(closeConn);
  };
  const armIdle = () => {
    lastActivity = performance.now();
    if (idleTimer === undefined && !closing) idleTimer = setTimeout(onIdleTimer, idleMs);
  };
  // Frames are answered strictly in arrival order, one after another.
  let chain: Promise<void> = Promise.resolve();
  const write = async (bytes: Uint8Array) => {
    const frame = encodeMllp(bytes);
    let off = 0;
    while (off < frame.length) off += await conn.write(frame.subarray(off));
  };
  // An application ACK (enhanced mode) goes out when the application step is done, in turn with
  // the replies to frames received meanwhile; if the connection is gone by then it is only logged.
  const sendLater = async (later: Promise<Uint8Array | undefined>) => {
    const bytes = await later;
    if (!bytes) return;
    if (closing) {
      log.info("mllp.app-ack-undelivered", { port: localPort, peer: peerIp, connection });
      return;
    }
    chain = chain.then(() => closing ? undefined : write(bytes));
  };
  let skipped = 0;
  log.debug("mllp.connection-opened", { port: localPort, peer: peerIp, connection });
  armIdle();
  const buf = new Uint8Array(64 * 1024);
  try {
    while (!closing) {
      const n = await conn.read(buf);
      if (n === null) break;
      armIdle();
      // A copy: the decoder keeps views of pushed chunks until their frame ends, and buf is reused.
      for (const event of decoder.push(buf.slice(0, n))) {
        if (event.type === "frame") {
          const payload = event.payload;
          chain = chain.then(async () => {
            if (closing) return;
            const answer = await inbox.receive({ payload, localPort, peerIp, connection });
            if (answer.reply) await write(answer.reply);
            if (answer.close) closeConn();
            if (answer.later) void sendLater(answer.later);
          });
        } else if (event.type === "skipped") {
          skipped += event.bytes;
        } else if (event.type === "oversize") {
          const reply = inbox.oversize({ localPort, peerIp, size: event.size, limit: event.limit });
          chain = chain.then(async () => {
            await write(reply);
            closeConn();
          });
        }
      }
    }
  } catch (error) {
    if (!closing) {
      log.warn("mllp.connection-error", { port: localPort, peer: peerIp, connection, error });
    }
  }
  try {
    await chain;
  } catch (error) {
    if (!closing) {
      log.warn("mllp.reply-failed", { port: localPort, peer: peerIp, connection, error });
    }
  }
  const truncated = decoder.end().find((e) => e.type === "truncated");
  if (truncated) {
    log.warn("mllp.truncated-frame", {
      port: localPort,
      peer: peerIp,
      connection,
      bytes: truncated.bytes,
    });
  }
  if (skipped > 0) {
    log.warn("mllp.stray-bytes", { port: localPort, peer: peerIp, connection, bytes: skipped });
  }
  closeConn();
  log.debug("mllp.connection-closed", { port: localPort, peer: peerIp, connection });
}
