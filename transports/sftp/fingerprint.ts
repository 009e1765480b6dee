/**
 * SSH key fingerprints as OpenSSH prints them (`ssh-keygen -lf key.pub`): `SHA256:` and the
 * unpadded base64 of the SHA-256 of the key's wire-format blob.
 * @module
 */

import { createHash } from "node:crypto";

/** The fingerprint of a public key blob (the base64 field of a `.pub` line, decoded). */
export function sshFingerprint(blob: Uint8Array): string {
  const digest = createHash("sha256").update(blob).digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}

/** The fingerprint of an OpenSSH public key line (`ssh-rsa AAAA… comment`). */
export function publicKeyLineFingerprint(line: string): string {
  const b64 = line.trim().split(/\s+/)[1];
  if (!b64) throw new Error("not an OpenSSH public key line (expected: <type> <base64> [comment])");
  return sshFingerprint(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
}

/** Compares fingerprints, tolerating base64 padding. */
export function sameFingerprint(a: string, b: string): boolean {
  return a.replace(/=+$/, "") === b.replace(/=+$/, "");
}
