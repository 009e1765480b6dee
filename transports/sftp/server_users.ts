/**
 * The hosted folder's users and their public keys (several per user, for rotation), checked at
 * start so a bad key is reported with its place in the config instead of failing logins later,
 * and the verification of a login's signature. SHA-1 RSA signatures (`ssh-rsa`) are refused;
 * RSA keys need at least 2048 bits.
 * @module
 */

import type { Buffer } from "node:buffer";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import type { Logger } from "../../actors/ports.ts";
import { sshFingerprint } from "./fingerprint.ts";

/** A user as configured (`sftpServer.users[]`). */
export interface HostedUserConfig {
  name: string;
  /** OpenSSH public key lines (`ssh-rsa AAAA… comment`). */
  publicKeys: string[];
  /** The integration its uploads feed. */
  integration: string;
}

/** One accepted public key. */
export interface UserKey {
  index: number;
  fingerprint: string;
  blob: Buffer;
  parsed: ssh2.ParsedKey;
}

/** A user with parsed keys. */
export interface HostedUser {
  name: string;
  integration: string;
  keys: UserKey[];
}

const MIN_RSA_BITS = 2048;

/** Bits of an `ssh-rsa` blob's modulus (string type, mpint e, mpint n). */
function rsaBits(blob: Uint8Array): number {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  let p = 0;
  const skip = () => {
    const n = view.getUint32(p);
    p += 4 + n;
    return n;
  };
  skip(); // "ssh-rsa"
  skip(); // e
  let n = view.getUint32(p);
  p += 4;
  while (n > 0 && blob[p] === 0) {
    p++;
    n--;
  }
  return n === 0 ? 0 : (n - 1) * 8 + (32 - Math.clz32(blob[p]!));
}

/** A folder name must be one plain path segment. */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** See the module doc. */
export class UserDirectory {
  readonly #users = new Map<string, HostedUser>();

  /** Parses every user's keys; throws an Error naming `users[i].publicKeys[j]` and why. */
  constructor(users: readonly HostedUserConfig[]) {
    users.forEach((user, i) => {
      if (!USER_NAME.test(user.name)) {
        throw new Error(
          `sftpServer.users[${i}].name ${
            JSON.stringify(user.name)
          }: expected letters, digits, '.', '_' or '-' (it names the user's folder)`,
        );
      }
      if (this.#users.has(user.name)) {
        throw new Error(`sftpServer.users[${i}].name: duplicate user ${JSON.stringify(user.name)}`);
      }
      const keys = user.publicKeys.map((line, j) =>
        parsePublicKey(line, `users[${i}].publicKeys[${j}]`, j)
      );
      this.#users.set(user.name, { name: user.name, integration: user.integration, keys });
    });
  }

  /** Every user. */
  get all(): HostedUser[] {
    return [...this.#users.values()];
  }

  /** The user called `name`. */
  get(name: string): HostedUser | undefined {
    return this.#users.get(name);
  }

  /** The key of `name` whose blob is `blob`. */
  key(name: string, blob: Uint8Array): UserKey | undefined {
    return this.#users.get(name)?.keys.find((k) => k.blob.equals(blob));
  }
}

function parsePublicKey(line: string, where: string, index: number): UserKey {
  const parsed = ssh2.utils.parseKey(line.trim());
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    const why = key instanceof Error ? key.message : "no key found";
    throw new Error(`sftpServer.${where}: not an OpenSSH public key line (${why})`);
  }
  if (key.isPrivateKey()) {
    throw new Error(`sftpServer.${where}: this is a private key; configure the public key (.pub)`);
  }
  const blob = key.getPublicSSH();
  if (key.type === "ssh-rsa" && rsaBits(blob) < MIN_RSA_BITS) {
    throw new Error(
      `sftpServer.${where}: RSA key of ${rsaBits(blob)} bits; at least ${MIN_RSA_BITS} required`,
    );
  }
  return { index, fingerprint: sshFingerprint(blob), blob, parsed: key };
}

/** Why a signed login attempt is refused, or undefined when it is good. */
export function checkSignature(
  key: UserKey,
  attempt: { algo: string; signature: Buffer; blob: Buffer; hashAlgo?: string },
): string | undefined {
  if (attempt.algo === "ssh-rsa" && attempt.hashAlgo === undefined) {
    return "RSA signature with SHA-1 (ssh-rsa) refused; use rsa-sha2-256 or rsa-sha2-512";
  }
  const ok = attempt.hashAlgo === undefined
    ? key.parsed.verify(attempt.blob, attempt.signature)
    : key.parsed.verify(attempt.blob, attempt.signature, attempt.hashAlgo);
  return ok ? undefined : "bad signature";
}

/** Auth requests one connection may make before it is dropped. */
const MAX_AUTH_ATTEMPTS = 10;

/** What a connection knows of its login so far. */
export interface LoginState {
  ip: string;
  /** The name asked for last. */
  user?: string;
  /** Some credential was offered (a failure worth counting against the address). */
  offeredCredentials: boolean;
  lastRefusal?: string;
  attempts: number;
}

/**
 * Answers one SSH auth request: public keys of configured users only, signed with SHA-2 for RSA;
 * after {@link MAX_AUTH_ATTEMPTS} requests the connection is dropped (`drop`). Logs a login.
 */
export function authenticate(
  users: UserDirectory,
  state: LoginState,
  ctx: ssh2.AuthContext,
  log: Logger,
  drop: () => void,
): void {
  state.user = ctx.username;
  if (ctx.method === "none") return ctx.reject(["publickey"]);
  state.offeredCredentials = true;
  if (++state.attempts > MAX_AUTH_ATTEMPTS) {
    state.lastRefusal = `more than ${MAX_AUTH_ATTEMPTS} attempts`;
    ctx.reject([]);
    drop();
    return;
  }
  if (ctx.method !== "publickey") {
    state.lastRefusal = `${ctx.method} login is not allowed; use a key`;
    return ctx.reject(["publickey"]);
  }
  const user = users.get(ctx.username);
  const key = user ? users.key(ctx.username, ctx.key.data) : undefined;
  if (!user || !key) {
    state.lastRefusal = user ? "key not authorised for this user" : "no such user";
    return ctx.reject(["publickey"]);
  }
  // Without a signature the client only asks whether the key would do.
  if (!ctx.signature || !ctx.blob) return ctx.accept();
  const problem = checkSignature(key, {
    algo: ctx.key.algo,
    signature: ctx.signature,
    blob: ctx.blob,
    ...(ctx.hashAlgo ? { hashAlgo: ctx.hashAlgo } : {}),
  });
  if (problem) {
    state.lastRefusal = problem;
    return ctx.reject(["publickey"]);
  }
  log.info("sftp-server.login", {
    user: user.name,
    peer: state.ip,
    key: key.index,
    fingerprint: key.fingerprint,
  });
  ctx.accept();
}
