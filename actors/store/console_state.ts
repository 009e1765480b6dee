/**
 * What the operator console keeps in KV: the audit log of operator actions (who, when, what, on
 * which actor or log, why, from where) and the users an admin manages (password hashes and API
 * token digests only, never a password or a token). Shared by every process on the KV.
 * @module
 */

import { keyPart, keys } from "./keys.ts";
import { getValues, withKvRetry } from "./kv.ts";

/** Roles, weakest first: `viewer` reads, `operator` acts on queues and logs, `admin` manages users. */
export type Role = "viewer" | "operator" | "admin";

/** One operator action as the audit log keeps it. */
export interface AuditEntry {
  /** Time-ordered id (newest sorts last). */
  id: string;
  at: number;
  /** The user (or `admin` for the admin token). */
  by: string;
  role: Role;
  /** What was done: `pause`, `resume`, `retry`, `skip`, `reprocess`, `verify`, `user.create`… */
  action: string;
  /** The actor, log, destination or user it was done on. */
  target: string;
  reason: string;
  /** The remote address the request came from. */
  address: string;
  /** `console` (a browser) or `api` (a bearer token on `/admin`). */
  via: "console" | "api";
  ok: boolean;
  /** What the engine answered. */
  message: string;
}

/** A user kept in KV (managed by an admin in the console). */
export interface UserRecord {
  name: string;
  role: Role;
  /** PHC string of a memory-hard KDF (argon2id). */
  passwordHash: string;
  /** Hex SHA-256 of the user's API bearer token, when one was issued. */
  tokenSha256?: string;
  createdAt: number;
  createdBy: string;
}

/** A page of audit entries, newest first. */
export interface AuditPage {
  entries: AuditEntry[];
  next?: string;
}

const audit = (id: string): Deno.KvKey => ["audit", keyPart(id)];
const user = (name: string): Deno.KvKey => ["console_user", keyPart(name)];
const userByToken = (sha: string): Deno.KvKey => ["console_user_token", keyPart(sha)];

/** See the module doc. */
export class ConsoleState {
  readonly #kv: Deno.Kv;

  /** Wraps the store's KV (the store owns it). */
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Appends one audit entry. */
  async appendAudit(entry: AuditEntry): Promise<void> {
    await withKvRetry(() => this.#kv.set(audit(entry.id), entry));
  }

  /** Audit entries newest first, `limit` (1..500) per page, before the id `cursor` if given. */
  async listAudit(options: { cursor?: string; limit?: number } = {}): Promise<AuditPage> {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 500);
    const entries: AuditEntry[] = [];
    const selector = options.cursor
      ? { prefix: ["audit"], end: audit(options.cursor.slice(0, 200)) }
      : { prefix: ["audit"] };
    for await (const e of this.#kv.list<AuditEntry>(selector, { reverse: true, limit })) {
      entries.push(e.value);
    }
    return entries.length === limit
      ? { entries, next: entries[entries.length - 1]!.id }
      : { entries };
  }

  /** Every user kept in KV, by name. */
  async listUsers(): Promise<UserRecord[]> {
    const out: UserRecord[] = [];
    for await (
      const e of this.#kv.list<UserRecord>({ prefix: ["console_user"] }, { limit: 1000 })
    ) {
      out.push(e.value);
    }
    return out;
  }

  /** One user, or null. */
  async getUser(name: string): Promise<UserRecord | null> {
    return (await withKvRetry(() => this.#kv.get<UserRecord>(user(name)))).value;
  }

  /** The user whose API token has this SHA-256 (hex), or null. */
  async userByTokenSha256(sha: string): Promise<UserRecord | null> {
    const name = (await withKvRetry(() => this.#kv.get<string>(userByToken(sha)))).value;
    return name === null ? null : await this.getUser(name);
  }

  /** Creates a user; false when the name is taken. */
  async createUser(record: UserRecord): Promise<boolean> {
    const op = this.#kv.atomic().check({ key: user(record.name), versionstamp: null })
      .set(user(record.name), record);
    if (record.tokenSha256) op.set(userByToken(record.tokenSha256), record.name);
    // Another process on the KV file may hold its write lock (scale-out): retried, as every write.
    return (await withKvRetry(() => op.commit())).ok;
  }

  /** Deletes a user and its token; false when there was none. */
  async deleteUser(name: string): Promise<boolean> {
    const current = await withKvRetry(() => this.#kv.get<UserRecord>(user(name)));
    if (!current.value) return false;
    const op = this.#kv.atomic().check(current).delete(current.key);
    if (current.value.tokenSha256) op.delete(userByToken(current.value.tokenSha256));
    return (await withKvRetry(() => op.commit())).ok;
  }

  /**
   * The messages stored for an MSH-10 control id within the dedupe window of the integrations
   * named (`scopes`), from the dedupe records the store keeps anyway: no scan of the logs. Newest
   * first: a sender reusing the control id has up to 20 earlier ones named by its record too.
   */
  async messageByControlId(scopes: readonly string[], controlId: string): Promise<string[]> {
    const got = await getValues<{ messageId: string; earlier?: string[] }>(
      this.#kv,
      scopes.map((s) => keys.dedupe(s, controlId)),
    );
    return got.flatMap((g) => g?.messageId ? [g.messageId, ...(g.earlier ?? [])] : []);
  }
}
