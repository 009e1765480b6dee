/**
 * Per-source-address limits of the hosted SFTP server: how many connections one address may hold
 * at once, and how many failed logins it may make before it is refused for a while. A failed
 * login is a connection that offered credentials and ended without logging in; a successful
 * login clears the address's count. Across all addresses, the server holds at most
 * {@link MAX_SFTP_CONNECTIONS} connections (config `limits.maxSftpConnections`; the count is
 * `transports/net/connection_caps.ts`).
 * @module
 */

/**
 * Most connections the hosted SFTP server holds at once, by default: 200. Counterparties are
 * few (one hosted user each) and each needs a connection or two at a time, up to
 * `sftpServer.maxConnectionsPerIp` (10): 200 leaves room for twenty of them at their per-address
 * cap, or many more behind one NAT. An SSH connection costs far more than an HTTP one (a key
 * exchange, ssh2's buffers, up to 4 sessions of open files), so the cap is lower than
 * `limits.maxHttpConnections` (1,000); with the open files (`handle_limits.ts`, 1,024) it keeps
 * the server's share of the process's file descriptors known (`app/fd_limit.ts`).
 */
export const MAX_SFTP_CONNECTIONS = 200;

/** The limits (config `sftpServer.maxConnectionsPerIp`, `maxFailedLoginsPerIp`). */
export interface AddressLimitsOptions {
  maxConnectionsPerIp: number;
  maxFailedLoginsPerIp: number;
  /** How long an address stays refused after its last failed login, default 15 min. */
  lockoutMs?: number;
  /**
   * Milliseconds on a clock that never steps (`Clock.monotonic`), for the lockout: a wall-clock
   * step neither ends nor stretches it. Default `performance.now`.
   */
  monotonic?: () => number;
}

interface Failures {
  count: number;
  last: number;
}

/** The verdict on a new connection. */
export type Admission =
  | { ok: true }
  | { ok: false; kind: "locked" | "connections"; reason: string };

/** See the module doc. */
export class AddressLimits {
  readonly #options: AddressLimitsOptions;
  readonly #open = new Map<string, number>();
  readonly #failures = new Map<string, Failures>();

  /** Limits as configured. */
  constructor(options: AddressLimitsOptions) {
    this.#options = options;
  }

  #now(): number {
    return this.#options.monotonic?.() ?? performance.now();
  }

  #lockoutMs(): number {
    return this.#options.lockoutMs ?? 15 * 60_000;
  }

  /** Admits a new connection from `ip` (counting it) or says why not. */
  admit(ip: string): Admission {
    const failed = this.#failures.get(ip);
    if (failed && this.#now() - failed.last >= this.#lockoutMs()) this.#failures.delete(ip);
    const failures = this.#failures.get(ip)?.count ?? 0;
    if (failures >= this.#options.maxFailedLoginsPerIp) {
      return {
        ok: false,
        kind: "locked",
        reason: `${failures} failed logins; refused for ${
          Math.round(this.#lockoutMs() / 60_000)
        } min after the last one`,
      };
    }
    const open = this.#open.get(ip) ?? 0;
    if (open >= this.#options.maxConnectionsPerIp) {
      return {
        ok: false,
        kind: "connections",
        reason: `already ${open} connections (limit ${this.#options.maxConnectionsPerIp})`,
      };
    }
    this.#open.set(ip, open + 1);
    return { ok: true };
  }

  /** A connection admitted by {@link admit} ended. */
  closed(ip: string): void {
    const open = (this.#open.get(ip) ?? 1) - 1;
    if (open <= 0) this.#open.delete(ip);
    else this.#open.set(ip, open);
  }

  /** Counts a failed login; returns the address's count. */
  failed(ip: string): number {
    const count = (this.#failures.get(ip)?.count ?? 0) + 1;
    this.#failures.set(ip, { count, last: this.#now() });
    return count;
  }

  /** A login succeeded: the address starts afresh. */
  succeeded(ip: string): void {
    this.#failures.delete(ip);
  }

  /** Connections open from `ip`. */
  connections(ip: string): number {
    return this.#open.get(ip) ?? 0;
  }
}
