/**
 * Which inbound integration claims a connection: by local port and peer address (IPv4/IPv6, CIDR
 * ranges), and by MSH-4 sending facility when two integrations share an address.
 * @module
 */

import type { IntegrationConfig } from "../config/mod.ts";

/** Parses an IP into bytes (4 or 16), or undefined. IPv4-mapped IPv6 is read as IPv4. */
export function ipBytes(ip: string): Uint8Array | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1]!;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) {
    const parts = ip.split(".").map(Number);
    return parts.every((p) => p <= 255) ? new Uint8Array(parts) : undefined;
  }
  if (!ip.includes(":")) return undefined;
  const [head = "", tail, extra] = ip.split("::");
  if (extra !== undefined) return undefined;
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  if (fill < 0 || (tail === undefined && h.length !== 8)) return undefined;
  const groups = [...h, ...Array(fill).fill("0"), ...t];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  }
  return out;
}

/** True when `ip` is `rule` (an address) or inside it (a CIDR range). */
export function ipMatches(ip: string, rule: string): boolean {
  const [addr = "", prefix] = rule.split("/");
  const a = ipBytes(ip);
  const b = ipBytes(addr);
  if (!a || !b || a.length !== b.length) return false;
  const bits = prefix === undefined ? a.length * 8 : Number(prefix);
  for (let i = 0; i < a.length; i++) {
    const take = Math.max(0, Math.min(8, bits - i * 8));
    if (take === 0) break;
    const mask = (0xff << (8 - take)) & 0xff;
    if ((a[i]! & mask) !== (b[i]! & mask)) return false;
  }
  return true;
}

/** The outcome of looking up who a peer is. */
export type Claim =
  | { kind: "one"; integration: IntegrationConfig }
  | { kind: "none" }
  /** Several integrations claim the address: MSH-4 decides. */
  | { kind: "by-facility"; candidates: IntegrationConfig[] };

/** Peers whose claim is remembered at most. */
const MAX_CLAIMS = 4096;

/** Looks up the integrations that claim peers on local ports. */
export class PeerDirectory {
  readonly #byPort = new Map<number, IntegrationConfig[]>();
  readonly #claims = new Map<string, Claim>();

  /** Indexes every MLLP integration by port. */
  constructor(integrations: readonly IntegrationConfig[]) {
    for (const i of integrations) {
      if (!i.mllp) continue;
      const list = this.#byPort.get(i.mllp.port) ?? [];
      list.push(i);
      this.#byPort.set(i.mllp.port, list);
    }
  }

  /** The local ports any integration listens on. */
  get ports(): number[] {
    return [...this.#byPort.keys()];
  }

  /** Who claims `peerIp` on `localPort`. */
  claim(localPort: number, peerIp: string): Claim {
    // Asked for every frame: the answer is remembered (the config does not change).
    const id = `${localPort}|${peerIp}`;
    const known = this.#claims.get(id);
    if (known) return known;
    const candidates = (this.#byPort.get(localPort) ?? []).filter((i) =>
      i.mllp!.allowedIps.some((rule) => ipMatches(peerIp, rule))
    );
    const claim: Claim = candidates.length === 0
      ? { kind: "none" }
      : candidates.length === 1
      ? { kind: "one", integration: candidates[0]! }
      : { kind: "by-facility", candidates };
    if (this.#claims.size >= MAX_CLAIMS) this.#claims.clear();
    this.#claims.set(id, claim);
    return claim;
  }

  /** Picks among candidates by MSH-4; one without `sendingFacility` takes what no other names. */
  static byFacility(
    candidates: IntegrationConfig[],
    facility: string | undefined,
  ): IntegrationConfig | undefined {
    const exact = candidates.find((i) =>
      i.mllp?.sendingFacility !== undefined && i.mllp.sendingFacility === facility
    );
    if (exact) return exact;
    const fallback = candidates.filter((i) => i.mllp?.sendingFacility === undefined);
    return fallback.length === 1 ? fallback[0] : undefined;
  }
}
