/**
 * Opening outbound MLLP connections over TCP or TLS 1.2+, with keepalive and no Nagle delay.
 * @module
 */

import type { MllpConnection, MllpConnector, MllpTarget } from "../../actors/ports.ts";
import { SocketMllpConnection } from "./connection.ts";

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

/** Opens TCP connections to `target` (or TLS when `target.tls` is set). */
export async function connectMllp(
  target: MllpTarget,
  options: { timeoutMs: number; signal: AbortSignal; maxFrameBytes?: number },
): Promise<MllpConnection> {
  const where = `${target.host}:${target.port}`;
  let conn: Deno.Conn;
  if (target.tls) {
    const { ca, cert, key } = target.tls;
    // Deno's TLS (rustls) speaks TLS 1.2 and 1.3 only, with AEAD suites only, and checks the name.
    conn = await withDeadline(
      Deno.connectTls({
        hostname: target.host,
        port: target.port,
        ...(ca ? { caCerts: [ca] } : {}),
        ...(cert && key ? { cert, key } : {}),
      }),
      options.timeoutMs,
      options.signal,
      where,
    );
    await (conn as Deno.TlsConn).handshake();
  } else {
    conn = await withDeadline(
      Deno.connect({ hostname: target.host, port: target.port }),
      options.timeoutMs,
      options.signal,
      where,
    );
  }
  if ("setNoDelay" in conn) {
    (conn as Deno.TcpConn).setNoDelay(true);
    (conn as Deno.TcpConn).setKeepAlive(true);
  }
  return new SocketMllpConnection(conn, {
    ...(options.maxFrameBytes ? { maxFrameBytes: options.maxFrameBytes } : {}),
  });
}

/** The socket implementation of the actors' {@link MllpConnector}. */
export const socketMllpConnector: MllpConnector = {
  connect: (target, options) => connectMllp(target, options),
};
