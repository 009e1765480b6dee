/**
 * Who may use the console and the admin API, with which role: users from config (`admin.users`)
 * and from KV (managed by an admin), signed in by password (argon2id, a memory-hard KDF) or by a
 * bearer token (the admin token, or a user's own token).
 * @module
 */

import { argon2id, argon2Verify } from "hash-wasm";

/**
 * argon2id in WebAssembly (hash-wasm): no native module, so the engine runs with its usual
 * permissions and `deno compile` embeds it. OWASP's minimum: 19 MiB, 2 passes, 1 lane.
 */
function hash(password: string): Promise<string> {
  return argon2id({
    password,
    salt: crypto.getRandomValues(new Uint8Array(16)),
    parallelism: 1,
    iterations: 2,
    memorySize: 19_456,
    hashLength: 32,
    outputType: "encoded",
  });
}

function verify(phc: string, password: string): Promise<boolean> {
  return argon2Verify({ password, hash: phc });
}
import { createHash, timingSafeEqual } from "node:crypto";
import type { ConsoleStateStore, Role, Secret, UserRecord } from "../../../actors/ports.ts";
import { reservedUserName as reservedName } from "../../../actors/mod.ts";

/** Roles, weakest first. */
export const ROLES: readonly Role[] = ["viewer", "operator", "admin"];

/** Who is asking, with the role they act in. */
export interface Principal {
  name: string;
  role: Role;
  /**
   * Signed in with the admin token (named {@link ADMIN_TOKEN_USER}), not as a user: a user of
   * that name, created before the name was reserved, is someone else.
   */
  adminToken?: true;
  /**
   * A KV user's: which record signed in ({@link userIdentity}), so that a session outlives
   * neither its user's deletion nor a new user created under the same name. Absent for the admin
   * token and for configured users (they change only with the config, at a restart).
   */
  kvIdentity?: string;
}

/** What a re-read of a session's KV user says: its role now, or why the session ends. */
export type UserCheck = { role: Role } | { ended: "deleted" | "re-created" };

/**
 * Which stored user a record is, as a hex SHA-256 of its creation time, creator and password
 * hash (salted: a user deleted and created again, even at the same millisecond with the same
 * password, is another one). Its role is not part of it: a role changed in place applies to the
 * sessions open, it does not end them.
 */
export function userIdentity(record: UserRecord): string {
  return createHash("sha256")
    .update(JSON.stringify([record.createdAt, record.createdBy, record.passwordHash]))
    .digest("hex");
}

/** Whether `role` may do what `needed` may. */
export function allows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** A user as config gives it. */
export interface ConfiguredUser {
  name: string;
  role: Role;
  passwordHash?: string;
  token?: Secret;
}

/** The name the admin token signs in as. */
export const ADMIN_TOKEN_USER = "admin";

/**
 * Why `name` may not be the name of a user added in the console, or undefined when it may (the
 * config's users follow the same rule: `RESERVED_USER_NAMES` of actors/config).
 */
export function reservedUserName(name: string): string | undefined {
  const why = reservedName(name);
  return why === undefined ? undefined : `Name: ${why}`;
}

/** Hex SHA-256 of a token (KV keeps only this). */
export function tokenDigest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

// A hash verified for unknown names too, so a wrong name takes as long as a wrong password.
let dummy: Promise<string> | undefined;

/** See the module doc. */
export class Users {
  readonly #configured: Map<string, ConfiguredUser>;
  readonly #adminToken: Secret;
  readonly #state: ConsoleStateStore;

  /** `configured`: config's users; `adminToken` signs in as `admin`. */
  constructor(options: {
    configured: readonly ConfiguredUser[];
    adminToken: Secret;
    state: ConsoleStateStore;
  }) {
    this.#configured = new Map(options.configured.map((u) => [u.name, u]));
    this.#adminToken = options.adminToken;
    this.#state = options.state;
  }

  /** Hashes a password with argon2id (19 MiB, 2 passes). */
  static hashPassword(password: string): Promise<string> {
    return hash(password);
  }

  /** The principal for a name and password, or undefined (after the same work either way). */
  async signIn(name: string, password: string): Promise<Principal | undefined> {
    const configured = this.#configured.get(name);
    const stored = configured ? undefined : await this.#state.getUser(name);
    const phc = configured?.passwordHash ?? stored?.passwordHash;
    const role = configured?.role ?? stored?.role;
    if (!phc || !role || password === "") {
      await verify(await (dummy ??= hash("not a password")), password || "x").catch(() => false);
      return undefined;
    }
    const ok = await verify(phc, password).catch(() => false);
    if (!ok) return undefined;
    return stored ? { name, role, kvIdentity: userIdentity(stored) } : { name, role };
  }

  /** The principal a bearer token stands for: the admin token, a configured or a KV user's. */
  async byToken(token: string): Promise<Principal | undefined> {
    if (token === "") return undefined;
    if (this.#adminToken.equals(token)) {
      return { name: ADMIN_TOKEN_USER, role: "admin", adminToken: true };
    }
    for (const u of this.#configured.values()) {
      if (u.token && u.token.equals(token)) return { name: u.name, role: u.role };
    }
    const user = await this.#state.userByTokenSha256(tokenDigest(token));
    return user ? { name: user.name, role: user.role, kvIdentity: userIdentity(user) } : undefined;
  }

  /**
   * Reads a session's KV user again: its role now, or `ended` when it is no longer there
   * (`deleted`) or another user has its name (`re-created`). A principal that is not a KV
   * user's keeps its role.
   */
  async check(who: Principal): Promise<UserCheck> {
    if (!who.kvIdentity) return { role: who.role };
    const record = await this.#state.getUser(who.name);
    if (!record) return { ended: "deleted" };
    if (!sameString(userIdentity(record), who.kvIdentity)) return { ended: "re-created" };
    return { role: record.role };
  }

  /** Whether `name` is taken by a configured user (those cannot be changed in the console). */
  isConfigured(name: string): boolean {
    return this.#configured.has(name);
  }

  /** Configured users, for the users page. */
  configured(): ConfiguredUser[] {
    return [...this.#configured.values()];
  }
}

/** Constant-time equality of two strings (CSRF tokens). */
export function sameString(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
