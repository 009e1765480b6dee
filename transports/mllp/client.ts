/**
 * Opening outbound MLLP connections over TCP or TLS 1.2+, with keepalive and no Nagle delay.
 *
 * The connect deadline (`timeoutMs`) and the abort signal cover the whole opening: the TCP connect
 * and, over TLS, the handshake too. A peer that takes the TCP connection but never completes the
 * handshake (a hung TLS terminator, a port that is not TLS and waits for the client to speak)
 * fails at the deadline with "TLS handshake with host:port did not complete within N s", and its
 * socket is closed.
 *
 * TLS goes through `node:tls`, not `Deno.connectTls`: a Deno TLS connection still in its handshake
 * cannot be closed (`close()` waits for the handshake to finish, so the socket stays open until
 * the peer speaks or hangs up, one socket left behind per attempt), while a `node:tls` socket is
 * destroyed at once. Both are rustls in Deno: TLS 1.2 and 1.3 only, AEAD suites only.
 * @module
 */

import { isIP } from "node:net";
import tls from "node:tls";
import type { MllpConnection, MllpConnector, MllpTarget } from "../../actors/ports.ts";
import { type MllpSocket, SocketMllpConnection } from "./connection.ts";
import { NodeSocketConn } from "./node_tls.ts";

/** Connects with a deadline; a connection that arrives after it is closed at once. */
async function withDeadline<T extends Deno.Conn>(
  connecting: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cancelled = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no connection within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    signal.addEventListener("abort", () => reject(new Error(`${what}: aborted`)), { once: true });
  });
  try {
    return await Promise.race([connecting, cancelled]);
  } catch (error) {
    connecting.then((c) => c.close(), () => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A TLS connection whose TCP connect and handshake both end within `timeoutMs`, or at `signal`;
 * either way the socket is destroyed then, mid-handshake too. The server certificate must chain to
 * `tls.ca` (the default roots without it) and name the host.
 */
function connectTls(
  target: MllpTarget & { tls: NonNullable<MllpTarget["tls"]> },
  timeoutMs: number,
  signal: AbortSignal,
  where: string,
): Promise<NodeSocketConn> {
  const { ca, cert, key } = target.tls;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error(`${where}: aborted`));
    const socket = tls.connect({
      host: target.host,
      port: target.port,
      // SNI carries names only; an IP address is still checked against the certificate.
      ...(isIP(target.host) ? {} : { servername: target.host }),
      ...(ca ? { ca: [ca] } : {}),
      ...(cert && key ? { cert, key } : {}),
      minVersion: "TLSv1.2",
      rejectUnauthorized: true,
    });
    let tcpConnected = false;
    const seconds = timeoutMs / 1000;
    const onTcp = () => (tcpConnected = true);
    const onSecure = () => settle();
    const onError = (error: Error) => settle(error);
    const onAbort = () => settle(new Error(`${where}: aborted`));
    const timer = setTimeout(() =>
      settle(
        new Error(
          tcpConnected
            ? `TLS handshake with ${where} did not complete within ${seconds} s`
            : `${where}: no connection within ${seconds} s`,
        ),
      ), timeoutMs);
    function settle(error?: Error): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.off("connect", onTcp);
      socket.off("secureConnect", onSecure);
      socket.off("error", onError);
      if (error === undefined) {
        resolve(new NodeSocketConn(socket));
        return;
      }
      socket.on("error", () => {/* given up on: nothing more to report */});
      socket.destroy();
      reject(error);
    }
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", onTcp);
    socket.once("secureConnect", onSecure);
    socket.once("error", onError);
  });
}

/** Opens TCP connections to `target` (or TLS when `target.tls` is set). */
export async function connectMllp(
  target: MllpTarget,
  options: { timeoutMs: number; signal: AbortSignal; maxFrameBytes?: number },
): Promise<MllpConnection> {
  const where = `${target.host}:${target.port}`;
  const conn: MllpSocket & Pick<Deno.TcpConn, "setNoDelay" | "setKeepAlive"> = target.tls
    ? await connectTls({ ...target, tls: target.tls }, options.timeoutMs, options.signal, where)
    : await withDeadline(
      Deno.connect({ hostname: target.host, port: target.port }),
      options.timeoutMs,
      options.signal,
      where,
    );
  conn.setNoDelay(true);
  conn.setKeepAlive(true);
  return new SocketMllpConnection(conn, {
    ...(options.maxFrameBytes ? { maxFrameBytes: options.maxFrameBytes } : {}),
  });
}

/** The socket implementation of the actors' {@link MllpConnector}. */
export const socketMllpConnector: MllpConnector = {
  connect: (target, options) => connectMllp(target, options),
};
