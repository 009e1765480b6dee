/**
 * Actor identities (DESIGN.md): `mllp-out:<host>:<port>`, `mllp-in:<localPort>:<peerIp>`,
 * `https:<destinationId>`, `sftp:<integrationId>`.
 * @module
 */

import type { DestinationConfig } from "../config/mod.ts";

/** The delivery actor of a destination: MLLP destinations to one host:port share one actor. */
export function destinationActorId(d: DestinationConfig): string {
  if (d.mllp) return `mllp-out:${d.mllp.host}:${d.mllp.port}`;
  if (d.https) return `https:${d.id}`;
  return `sftp-out:${d.id}`;
}

/** The inbound actor of an MLLP peer on a local port. */
export function inboundActorId(localPort: number, peerIp: string): string {
  return `mllp-in:${localPort}:${peerIp}`;
}

/** Splits an identity into its kind and the rest; undefined if it has no kind prefix. */
export function parseActorId(id: string): { kind: string; rest: string } | undefined {
  const i = id.indexOf(":");
  return i > 0 ? { kind: id.slice(0, i), rest: id.slice(i + 1) } : undefined;
}
