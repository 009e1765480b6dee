/**
 * Faulty MLLP peers for the listener tests, on `node:net` because only it can reset a connection
 * (`resetAndDestroy`, SO_LINGER 0): over TLS the TLS socket runs on a raw socket that is reset.
 * Also a plain listener of every kind the engine has (TCP, server TLS, mutual TLS) behind a small
 * inbox, and a way to check a listener still answers `AA`.
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { encodeMllp } from "../../../codecs/mllp/mod.ts";
import { connectMllp } from "../../../transports/mllp/client.ts";
import {
  type MllpServer,
  type MllpServerOptions,
  serveMllp,
} from "../../../transports/mllp/server.ts";
import { makeClientCert, makePki, type TestPki } from "../../helpers/tls.ts";
import { adt } from "../../helpers/net.ts";
import { ackInbox } from "./ack_inbox.ts";

export { ackInbox };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The listener kinds of the engine. */
export type ListenerKind = "tcp" | "tls" | "mtls";

/** What a client needs to reach a listener of some kind. */
export interface PeerTls {
  ca: string;
  cert?: string;
  key?: string;
}

/** A listener of one kind and how to reach it. */
export interface Rig {
  server: MllpServer;
  /** Client TLS settings (undefined for plain TCP). */
  tls: PeerTls | undefined;
  close(): Promise<void>;
}

/** Starts a listener of `kind` on loopback with `options` (certificates made here). */
export async function startRig(
  kind: ListenerKind,
  options: Omit<MllpServerOptions, "port" | "hostname" | "tls">,
): Promise<Rig> {
  let pki: TestPki | undefined;
  let tlsOptions: MllpServerOptions["tls"];
  let peerTls: PeerTls | undefined;
  if (kind !== "tcp") {
    pki = await makePki();
    tlsOptions = { cert: pki.serverCert, key: pki.serverKey };
    peerTls = { ca: pki.caCert };
    if (kind === "mtls") {
      tlsOptions = { ...tlsOptions, ca: pki.caCert, requireClientCert: true };
      peerTls = { ...peerTls, ...(await makeClientCert(pki, "lab-interface")) };
    }
  }
  const server = await serveMllp({
    ...options,
    port: 0,
    hostname: "127.0.0.1",
    ...(tlsOptions ? { tls: tlsOptions } : {}),
  });
  return {
    server,
    tls: peerTls,
    async close() {
      await server.close();
      if (pki) await Deno.remove(pki.dir, { recursive: true });
    },
  };
}

/** Sends one message on a new connection (TLS when `peerTls`) and returns the ACK's MSA-1:MSA-2. */
export async function ackOf(
  port: number,
  peerTls: PeerTls | undefined,
  id: string,
): Promise<string> {
  const signal = AbortSignal.timeout(10_000);
  const conn = await connectMllp(
    { host: "localhost", port, ...(peerTls ? { tls: peerTls } : {}) },
    { timeoutMs: 10_000, signal },
  );
  try {
    await conn.send(enc.encode(adt(id)));
    const got = await conn.receive(signal);
    if (got.type !== "frame") return `no ACK: ${got.type}`;
    const ack = parseHl7(dec.decode(got.payload));
    return `${ack.get("MSA-1")}:${ack.get("MSA-2")}`;
  } finally {
    conn.close();
  }
}

/** An open `node:net` connection, with TLS on top when asked. */
export interface NodePeer {
  /** The TCP socket (reset through it). */
  raw: net.Socket;
  /** Where to write: the TLS socket, or `raw`. */
  stream: net.Socket;
}

/** Connects (and completes the TLS handshake when `peerTls`); rejects on a connection error. */
export function openNodePeer(
  port: number,
  peerTls?: PeerTls,
  localAddress?: string,
): Promise<NodePeer> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ port, host: "127.0.0.1", ...(localAddress ? { localAddress } : {}) });
    raw.once("error", reject);
    raw.once("connect", () => {
      raw.off("error", reject);
      raw.on("error", () => {/* resets are what these peers are for */});
      if (!peerTls) return resolve({ raw, stream: raw });
      const stream = tls.connect({
        socket: raw,
        servername: "localhost",
        ca: peerTls.ca,
        ...(peerTls.cert ? { cert: peerTls.cert, key: peerTls.key } : {}),
      });
      stream.once("error", reject);
      stream.once("secureConnect", () => {
        stream.off("error", reject);
        stream.on("error", () => {});
        resolve({ raw, stream });
      });
    });
  });
}

/** Resets `peer` (RST, no FIN) and resolves once its socket is closed. */
export function resetPeer(peer: NodePeer): Promise<void> {
  return new Promise((resolve) => {
    if (peer.raw.destroyed) return resolve();
    peer.raw.once("close", () => resolve());
    peer.raw.resetAndDestroy();
  });
}

/** A framed ADT^A01 with control id `id`. */
export function framedAdt(id: string, extra = ""): Uint8Array {
  return encodeMllp(adt(id, extra));
}

/** What a sender of one frame saw: the bytes back, an orderly end, or an error. */
export interface Exchange {
  received: Uint8Array;
  ended: boolean;
  error: string | undefined;
}

/**
 * Writes `bytes` in full, then reads until the listener ends the connection; the socket is ours
 * to end after the listener's end (node's default), so a listener that waits for it sees an
 * orderly close.
 */
export async function writeAllThenRead(
  port: number,
  peerTls: PeerTls | undefined,
  bytes: Uint8Array,
): Promise<Exchange> {
  const peer = await openNodePeer(port, peerTls);
  const chunks: Uint8Array[] = [];
  let ended = false;
  let error: string | undefined;
  const { stream } = peer;
  stream.on("data", (c: Uint8Array) => chunks.push(c));
  stream.on("end", () => (ended = true));
  stream.on(
    "error",
    (e: Error) => (error ??= `${(e as { code?: string }).code ?? ""} ${e.message}`),
  );
  peer.raw.on(
    "error",
    (e: Error) => (error ??= `${(e as { code?: string }).code ?? ""} ${e.message}`),
  );
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      error ??= "timed out";
      stream.destroy();
    }, 20_000);
    stream.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    stream.write(bytes);
  });
  const received = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    received.set(c, off);
    off += c.length;
  }
  return { received, ended, error };
}

/** Collects unhandled promise rejections from now until `stop()`, which returns them. */
export function watchUnhandledRejections(): { stop(): unknown[] } {
  const seen: unknown[] = [];
  const onRejection = (e: PromiseRejectionEvent) => {
    // Kept from killing the test process, so the assertion can say what it was.
    e.preventDefault();
    seen.push(e.reason);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  return {
    stop() {
      globalThis.removeEventListener("unhandledrejection", onRejection);
      return seen;
    },
  };
}
