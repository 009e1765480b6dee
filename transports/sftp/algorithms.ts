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
