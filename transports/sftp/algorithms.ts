/**
 * The SSH algorithms the engine accepts, client and server alike: ssh2's modern defaults (AES-GCM,
 * AES-CTR and ChaCha20-Poly1305 ciphers, curve25519/ECDH/DH-group≥14-SHA2 key exchange) less
 * everything that rests on SHA-1: `ssh-rsa` host-key signatures and `hmac-sha1*`. No CBC cipher
 * is in ssh2's defaults; compression is off (zlib on every packet costs more throughput than it
 * saves on most links, and OpenSSH leaves it off by default too). ssh2's server offers `ssh-rsa`
 * with an RSA host key whatever the list says, so `server.ts` ends a connection that picks it
 * (an ed25519 host key avoids the question).
 * @module
 */

// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";
// ssh2's default lists as this runtime computed them (what `{remove}` subtracts from), from the
// import map's `ssh2` (one version pinned).
import ssh2Constants from "ssh2/lib/protocol/constants.js";

/** ssh2 takes `{remove: [...]}` to subtract from its defaults; its types insist on all three keys. */
function without<T>(...names: T[]): ssh2.AlgorithmList<T> {
  return { remove: names } as unknown as ssh2.AlgorithmList<T>;
}

/** Algorithm lists for ssh2's `Client.connect` and `Server` configs. */
export const MODERN_ALGORITHMS: ssh2.Algorithms = {
  serverHostKey: without<ssh2.ServerHostKeyAlgorithm>("ssh-rsa", "ssh-dss"),
  hmac: without<ssh2.MacAlgorithm>("hmac-sha1-etm@openssh.com", "hmac-sha1"),
  compress: ["none"],
};

/** The algorithms the hosted server takes, by kind, as the names a client offers. */
export interface AcceptedAlgorithms {
  kex: readonly string[];
  serverHostKey: readonly string[];
  cipher: readonly string[];
  mac: readonly string[];
  compress: readonly string[];
}

const DEFAULTS = ssh2Constants as unknown as Record<
  "DEFAULT_KEX" | "DEFAULT_CIPHER" | "DEFAULT_MAC" | "DEFAULT_COMPRESSION",
  string[]
>;

/** `list` applied to ssh2's `defaults` as ssh2 does for an exact list or a `{remove}`. */
function applied(list: unknown, defaults: readonly string[]): string[] {
  if (Array.isArray(list) && list.length > 0) return list.map(String);
  const remove = (list as { remove?: unknown } | undefined)?.remove;
  const removed = new Set(Array.isArray(remove) ? remove.map(String) : []);
  return defaults.filter((name) => !removed.has(name));
}

/**
 * What the hosted server accepts with a host key of type `hostKeyType` (ssh2's `ParsedKey.type`):
 * {@link MODERN_ALGORITHMS} applied to ssh2's defaults; an RSA key signs with SHA-2 only.
 */
export function acceptedAlgorithms(hostKeyType: string): AcceptedAlgorithms {
  const a = MODERN_ALGORITHMS;
  return {
    kex: applied(a.kex, DEFAULTS.DEFAULT_KEX),
    serverHostKey: hostKeyType === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256"] : [hostKeyType],
    cipher: applied(a.cipher, DEFAULTS.DEFAULT_CIPHER),
    mac: applied(a.hmac, DEFAULTS.DEFAULT_MAC),
    compress: applied(a.compress, DEFAULTS.DEFAULT_COMPRESSION),
  };
}
