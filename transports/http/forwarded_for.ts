/**
 * The client address of a request that came through a trusted reverse proxy (`http.trustedProxies`
 * in the config): read from `X-Forwarded-For` only when the TCP peer is one of those proxies, since
 * any client can send the header.
 *
 * The header's lines are joined in order (RFC 9110 §5.3 list semantics) and its addresses walked
 * from the right: each proxy appends the address it got the request from, so the rightmost address
 * that is not itself a trusted proxy is the client (what lies left of it is whatever that client
 * sent, never read). When every address walked is a trusted proxy, the leftmost is taken. Bounds:
 * at most {@link MAX_FORWARDED_HOPS} addresses are walked, each at most
 * {@link MAX_FORWARDED_ADDRESS_LENGTH} characters; a header missing or empty, or one whose walked
 * part is not IP literals within those bounds, is refused: the request is then keyed by its TCP
 * peer, and the caller logs `http.forwarded-for-refused` with the reason. The bounds apply to the
 * part walked only, so a client cannot make the engine fall back to its proxy's address (which
 * every client behind that proxy shares) by sending a long or garbled header of its own.
 *
 * `Forwarded:` (RFC 7239) is not read.
 * @module
 */

import { ipBytes, ipMatches } from "../../actors/mod.ts";

/** Addresses of `X-Forwarded-For` walked at most (from the right) before the header is refused. */
export const MAX_FORWARDED_HOPS = 32;
/** The longest address accepted in `X-Forwarded-For`, characters (an IPv6 text is at most 45). */
export const MAX_FORWARDED_ADDRESS_LENGTH = 45;

/** Where a request's client address came from. */
export type ForwardedClient =
  /** The peer is not a trusted proxy (or none is configured): the peer is the client. */
  | { kind: "peer" }
  /** Read from `X-Forwarded-For`. */
  | { kind: "forwarded"; client: string }
  /** The peer is a trusted proxy but its header could not be used: the peer stands for the client. */
  | { kind: "refused"; reason: string };

/** True when `ip` is inside one of `rules` (addresses or CIDR ranges, IPv4 or IPv6). */
export function isTrustedProxy(ip: string, rules: readonly string[]): boolean {
  return rules.some((rule) => ipMatches(ip, rule));
}

/**
 * The client of a request from `peer` (an IP address, IPv4-mapped IPv6 already plain IPv4) with
 * the `X-Forwarded-For` header lines `lines` (in order), given the trusted proxies `trusted`.
 */
export function forwardedClient(
  peer: string,
  lines: readonly string[],
  trusted: readonly string[] | undefined,
): ForwardedClient {
  if (!trusted || trusted.length === 0 || !isTrustedProxy(peer, trusted)) return { kind: "peer" };
  const header = lines.join(",");
  if (header.trim() === "") {
    return { kind: "refused", reason: lines.length === 0 ? "missing" : "empty" };
  }
  let end = header.length;
  let walked = 0;
  let last: string | undefined;
  // Bounded: one address per turn, at most MAX_FORWARDED_HOPS of them.
  while (end > 0) {
    const comma = header.lastIndexOf(",", end - 1);
    const element = header.slice(comma + 1, end).trim();
    end = comma < 0 ? 0 : comma;
    if (element === "") continue; // an empty list element is ignored (RFC 9110 §5.6.1)
    if (++walked > MAX_FORWARDED_HOPS) {
      return { kind: "refused", reason: `more than ${MAX_FORWARDED_HOPS} trusted hops` };
    }
    const address = element.length <= MAX_FORWARDED_ADDRESS_LENGTH ? ipLiteral(element) : undefined;
    if (address === undefined) {
      return {
        kind: "refused",
        reason: `not an IP address: ${JSON.stringify(element.slice(0, 64))}`,
      };
    }
    if (!isTrustedProxy(address, trusted)) return { kind: "forwarded", client: address };
    last = address;
  }
  return last === undefined
    ? { kind: "refused", reason: "empty" }
    : { kind: "forwarded", client: last };
}

/**
 * `text` as a canonical IP address (IPv4 dotted decimal, IPv4-mapped IPv6 as IPv4, other IPv6 in
 * its compressed lower-case form), or undefined when it is not one (zone ids, ports and brackets
 * included).
 */
export function ipLiteral(text: string): string | undefined {
  const bytes = ipBytes(text);
  if (!bytes) return undefined;
  if (bytes.length === 4) {
    // ipBytes reads "1.2.3.04" too: only the plain spelling is an address here.
    const plain = bytes.join(".");
    return plain === text || `::ffff:${plain}` === text.toLowerCase() ? plain : undefined;
  }
  try {
    const host = new URL(`http://[${text}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return undefined;
  }
}
