/**
 * The start-up check of the process's open-file limit. Every connection the engine holds is a
 * file descriptor, shared by its listeners (MLLP, HTTP(S), hosted SFTP), its outbound sockets,
 * its KV store and its files. When they run out, accepts fail on every listener at once: one
 * client's idle HTTP connections stopped MLLP intake. The listeners' connection caps only protect
 * the engine when the soft `RLIMIT_NOFILE` is above their sum; the usual default (1024, e.g.
 * systemd's) is below one MLLP listener's default cap plus the HTTP listener's.
 *
 * {@link checkFdLimit} reads the soft limit (Linux: `/proc/self/limits`) and returns a warning
 * (log it as `engine.fd-limit`) when it is below what the configuration can hold open:
 * - each MLLP listener's cap (`limits.maxConnectionsPerListener`, one listener per MLLP port);
 * - the HTTP(S) listener's cap (`limits.maxHttpConnections`, {@link MAX_HTTP_CONNECTIONS});
 * - when `sftpServer` is configured, the hosted SFTP server's cap on connections
 *   (`limits.maxSftpConnections`, {@link MAX_SFTP_CONNECTIONS}) and its open files and folders
 *   (at most {@link MAX_OPEN_HANDLES}, or half the limit when that is lower);
 * - a socket per destination and {@link FD_MARGIN} more for the KV store, logs, DNS and files.
 * @module
 */

import { MAX_HTTP_CONNECTIONS } from "../transports/http/connection_limits.ts";
import { MAX_OPEN_HANDLES } from "../transports/sftp/handle_limits.ts";
import { MAX_SFTP_CONNECTIONS } from "../transports/sftp/address_limits.ts";

/** Descriptors kept for the KV store (SQLite and its WAL), logs, DNS, certificates and files. */
export const FD_MARGIN = 256;

/** What the configuration can hold open, by part. */
export interface FdNeeds {
  mllp: number;
  http: number;
  sftp: number;
  destinations: number;
  margin: number;
}

/**
 * The warning {@link checkFdLimit} returns: log it as `engine.fd-limit` (warn); flat, so that
 * each part is a field of the line.
 */
export interface FdLimitWarning extends FdNeeds {
  /** The soft `RLIMIT_NOFILE` of the process. */
  softLimit: number;
  /** The hard limit, when known (the soft one can be raised up to it without privileges). */
  hardLimit?: number;
  /** The sum of the {@link FdNeeds} parts. */
  needed: number;
  /** What to do, in words. */
  advice: string;
}

/** The configuration fields the check reads (a `Config` is one). */
export interface FdLimitConfig {
  integrations: readonly { mllp?: { port: number } }[];
  limits: {
    maxConnectionsPerListener: number;
    maxHttpConnections?: number;
    maxSftpConnections?: number;
  };
  destinations: readonly unknown[];
  /** Only whether it is there counts (its connections are capped by `limits`). */
  sftpServer?: object;
}

/** The soft and hard limits on open files in the text of `/proc/self/limits`. */
export function parseFdLimits(text: string): { soft?: number; hard?: number } {
  const line = text.split("\n").find((l) => l.startsWith("Max open files"));
  const [soft, hard] = (line?.slice("Max open files".length).trim().split(/\s+/) ?? [])
    .map((v) => (v === "unlimited" ? Infinity : Number(v)));
  return {
    ...(soft !== undefined && soft > 0 ? { soft } : {}),
    ...(hard !== undefined && hard > 0 ? { hard } : {}),
  };
}

/** What `config` can hold open; `softLimit` bounds the hosted SFTP server's open files. */
export function fdNeeds(config: FdLimitConfig, softLimit: number): FdNeeds {
  const mllpPorts = new Set(config.integrations.flatMap((i) => (i.mllp ? [i.mllp.port] : [])));
  const sftp = config.sftpServer
    ? (config.limits.maxSftpConnections ?? MAX_SFTP_CONNECTIONS) +
      Math.min(MAX_OPEN_HANDLES, Math.max(16, Math.floor(softLimit / 2)))
    : 0;
  return {
    mllp: mllpPorts.size * config.limits.maxConnectionsPerListener,
    http: config.limits.maxHttpConnections ?? MAX_HTTP_CONNECTIONS,
    sftp,
    destinations: config.destinations.length,
    margin: FD_MARGIN,
  };
}

/**
 * The warning for `config` under the limits in `limitsText` (the text of `/proc/self/limits`),
 * or `undefined` when the soft limit is high enough or unknown.
 */
export function fdLimitWarning(
  config: FdLimitConfig,
  limitsText: string,
): FdLimitWarning | undefined {
  const { soft, hard } = parseFdLimits(limitsText);
  if (soft === undefined || soft === Infinity) return undefined;
  const needs = fdNeeds(config, soft);
  const needed = needs.mllp + needs.http + needs.sftp + needs.destinations + needs.margin;
  if (soft >= needed) return undefined;
  const target = Math.max(65_536, needed);
  return {
    softLimit: soft,
    ...(hard !== undefined && hard !== Infinity ? { hardLimit: hard } : {}),
    needed,
    ...needs,
    advice: `the open-file limit (${soft}) is below what the configured connection caps can ` +
      `hold open (${needed}): past it every listener stops accepting (MLLP intake too). ` +
      `Raise it: LimitNOFILE=${target} in the systemd unit, \`ulimit -n ${target}\` before ` +
      `starting, or docker run --ulimit nofile=${target}`,
  };
}

/**
 * Reads the process's limits (`/proc/self/limits`) and returns {@link fdLimitWarning}'s verdict;
 * `undefined` where the file cannot be read (not Linux, no read permission).
 */
export async function checkFdLimit(
  config: FdLimitConfig,
  path = "/proc/self/limits",
): Promise<FdLimitWarning | undefined> {
  try {
    if ((await Deno.permissions.query({ name: "read", path })).state !== "granted") {
      return undefined;
    }
    return fdLimitWarning(config, await Deno.readTextFile(path));
  } catch {
    return undefined;
  }
}
