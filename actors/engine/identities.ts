/**
 * Actor identities (DESIGN.md): `mllp-out:<host>:<port>`, `mllp-in:<localPort>:<peerIp>`,
 * `https:<destinationId>`, `sftp:<integrationId>`; agent mode adds `forward:<destinationId>` (to
 * another engine) and `forward-in:<integrationId>` (what other engines forward here).
 * @module
 */

import type { DestinationConfig } from "../config/mod.ts";

/** The delivery actor of a destination: MLLP destinations to one host:port share one actor. */
export function destinationActorId(d: DestinationConfig): string {
  if (d.mllp) return `mllp-out:${d.mllp.host}:${d.mllp.port}`;
  if (d.https) return `https:${d.id}`;
  if (d.forward) return `forward:${d.id}`;
  return `sftp-out:${d.id}`;
}

/** The inbound actor of an MLLP peer on a local port. */
export function inboundActorId(localPort: number, peerIp: string): string {
  return `mllp-in:${localPort}:${peerIp}`;
}

/** Every kind of actor, the prefix of its identity. */
export const ACTOR_KINDS = [
  "mllp-in",
  "mllp-out",
  "https",
  "sftp",
  "sftp-out",
  "sftp-poll",
  "forward",
  "forward-in",
] as const;

/** The kind of an actor: which maker of the engine's factory table (engine.ts) makes it. */
export type ActorKind = typeof ACTOR_KINDS[number];

/** Splits an identity into its kind and the rest; undefined if it has no known kind prefix. */
export function parseActorId(id: string): { kind: ActorKind; rest: string } | undefined {
  const i = id.indexOf(":");
  if (i <= 0) return undefined;
  const kind = id.slice(0, i);
  return isActorKind(kind) ? { kind, rest: id.slice(i + 1) } : undefined;
}

function isActorKind(kind: string): kind is ActorKind {
  return (ACTOR_KINDS as readonly string[]).includes(kind);
}
