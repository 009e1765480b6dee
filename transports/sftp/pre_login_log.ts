/**
 * Why a connection to the hosted SFTP server ended before it logged in, in the counterparty's
 * terms: one `sftp-server.closed-before-login` line naming the peer, the `phase` it reached and
 * the reason, so an operator can tell a partner what to change.
 *
 * - `connect`: it sent nothing. Closed by the peer (a port check, a load balancer's probe): DEBUG;
 *   silent until the login grace ended: INFO (not an SSH client: one waits for a greeting).
 * - `banner`: what it sent is not an SSH-2 banner (an HTTP request, a TLS handshake…): WARN, with
 *   its first bytes.
 * - `key-exchange`: it sent its banner (`client`, its software) but no algorithm set was agreed:
 *   WARN with ssh2's reason and, for the kind of algorithm in question, what the client `offered`
 *   and what the engine `accepted` (`algorithms.ts`). Closed by the client during the key exchange
 *   without an error: WARN, most often its refusal of the engine's host key (`hostKey`, the
 *   fingerprint it must trust). Closed after its banner, before any key exchange (a banner
 *   check): INFO.
 * - `login`: the key exchange succeeded but it offered no key before closing or before the login
 *   grace ended: INFO.
 *
 * A connection that offered a credential is logged as `sftp-server.login-failed` instead
 * (`server.ts`). Each line stands for the connections of its address and phase since the last one
 * (`connections`): at most one per address and phase every 5 s (a flood stays a few lines).
 *
 * What the client showed of itself is read from its socket's first bytes ({@link ClientOpening}):
 * its banner and its first packet (KEXINIT, sent in clear), at most {@link MAX_OPENING_BYTES}; then
 * the socket is left to ssh2 alone.
 * @module
 */

import type { Socket } from "node:net";
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";
import type { Logger } from "../../actors/ports.ts";
import { LogThrottle } from "../../actors/mod.ts";
import { REFUSAL_LOG_INTERVAL_MS } from "../net/connection_caps.ts";
import { type AcceptedAlgorithms, acceptedAlgorithms } from "./algorithms.ts";
import { sshFingerprint } from "./fingerprint.ts";

/** Bytes of a connection read for its banner and KEXINIT at most (OpenSSH's KEXINIT: ~1.5 KB). */
export const MAX_OPENING_BYTES = 16 * 1024;

/** Characters of a client's banner or first bytes quoted in a line. */
const MAX_QUOTED = 80;

/** Characters of an algorithm list quoted in a line. */
const MAX_LIST_CHARS = 600;

/** "SSH-" */
const SSH_PREFIX = [0x53, 0x53, 0x48, 0x2d];

/** SSH_MSG_KEXINIT */
const KEXINIT = 20;

/**
 * ssh2's "no matching …" reasons: which of the client's KEXINIT lists (RFC 4253 §7.1 order:
 * kex, host key, cipher c→s, s→c, MAC c→s, s→c, compression c→s, s→c) and which accepted list.
 */
const KINDS: [RegExp, number, keyof AcceptedAlgorithms][] = [
  [/key exchange/i, 0, "kex"],
  [/host key/i, 1, "serverHostKey"],
  [/C->S cipher/i, 2, "cipher"],
  [/S->C cipher/i, 3, "cipher"],
  [/C->S MAC/i, 4, "mac"],
  [/S->C MAC/i, 5, "mac"],
  [/C->S compression/i, 6, "compress"],
  [/S->C compression/i, 7, "compress"],
];

/** `bytes` as printable text (others as '.'), at most `max` characters. */
function printable(bytes: Uint8Array, max = MAX_QUOTED): string {
  let out = "";
  for (const b of bytes.subarray(0, max)) {
    out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
  }
  return out;
}

/** What a client that is not an SSH client sent, for an operator. */
function describeNotSsh(head: Uint8Array): string {
  if (head[0] === 0x16 && head[1] === 0x03) {
    return "not an SSH client: it began a TLS handshake (an FTPS or HTTPS client?); " +
      "SFTP needs an SSH client";
  }
  const end = head.findIndex((b) => b === 0x0d || b === 0x0a);
  const line = printable(end >= 0 ? head.subarray(0, end) : head);
  const http = /^(GET|POST|HEAD|PUT|DELETE|OPTIONS|CONNECT|PATCH) /.test(line)
    ? " (an HTTP request)"
    : "";
  return `not an SSH client: it sent ${JSON.stringify(line)}${http}; SFTP needs an SSH client`;
}

/** The name-lists of a KEXINIT payload, or undefined when it is not one. */
function kexinitLists(payload: Uint8Array): string[][] | undefined {
  if (payload[0] !== KEXINIT) return undefined;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const lists: string[][] = [];
  let p = 17; // type and cookie
  for (let i = 0; i < 8; i++) {
    if (p + 4 > payload.length) return undefined;
    const n = view.getUint32(p);
    p += 4;
    if (p + n > payload.length) return undefined;
    const text = printable(payload.subarray(p, p + n), MAX_LIST_CHARS);
    lists.push(n === 0 ? [] : text.split(","));
    p += n;
  }
  return lists;
}

/**
 * What one connection showed of itself before logging in: its first bytes (read alongside ssh2,
 * until its KEXINIT or {@link MAX_OPENING_BYTES}) and what ssh2 reported.
 */
export class ClientOpening {
  /** Bytes it sent (counted while its first bytes are read). */
  received = 0;
  /** Its SSH banner (`SSH-2.0-software comments`). */
  banner?: string;
  /** Why it is not an SSH client. */
  notSsh?: string;
  /** Its KEXINIT's name-lists (see {@link KINDS}). */
  offered?: string[][];
  /** The key exchange completed. */
  handshake = false;
  /** ssh2's error (see {@link noteError}). */
  error?: Error & { level?: unknown };
  /** Already logged another way (a refusal): no line at close. */
  logged = false;
  /** Its first bytes: `#length` of them used (grown by doubling, up to the cap). */
  #head: Uint8Array = new Uint8Array(0);
  #length = 0;
  /** Where its banner's line feed is, or how far it was looked for. */
  #bannerEnd = -1;
  #searched = 0;
  #socket: Socket | undefined;
  readonly #tap = (chunk: Uint8Array) => this.#feed(chunk);

  /**
   * Reads `socket`'s first bytes along with ssh2: call once ssh2 took it (ssh2 pauses it until it
   * reads, so a listener added then misses nothing and starts nothing).
   */
  watch(socket: Socket): void {
    this.#socket = socket;
    socket.on("data", this.#tap);
  }

  /**
   * Records ssh2's `error`: the first, unless a key-exchange one comes later. A socket's errors
   * (a reset, a write after the peer closed) only say that the peer went: not kept.
   */
  noteError(error: Error & { level?: unknown }): void {
    if (error.level === "socket") return;
    if (!this.error || (error.level === "handshake" && this.error.level !== "handshake")) {
      this.error = error;
    }
  }

  #feed(chunk: Uint8Array): void {
    this.received += chunk.length;
    const take = Math.min(MAX_OPENING_BYTES - this.#length, chunk.length);
    if (this.#length + take > this.#head.length) {
      const grown = new Uint8Array(Math.min(MAX_OPENING_BYTES, 2 * (this.#length + take)));
      grown.set(this.#head.subarray(0, this.#length));
      this.#head = grown;
    }
    this.#head.set(chunk.subarray(0, take), this.#length);
    this.#length += take;
    if (this.#read(this.#head.subarray(0, this.#length)) || this.#length >= MAX_OPENING_BYTES) {
      this.#done();
    }
  }

  /** Reads what came so far (`head`); true when nothing more is needed. */
  #read(head: Uint8Array): boolean {
    for (let i = 0; i < Math.min(head.length, SSH_PREFIX.length); i++) {
      if (head[i] !== SSH_PREFIX[i]) {
        this.notSsh = describeNotSsh(head);
        return true;
      }
    }
    if (this.#bannerEnd < 0) {
      const nl = head.indexOf(0x0a, this.#searched);
      this.#searched = head.length;
      if (nl < 0) return false;
      this.#bannerEnd = nl;
      this.banner = printable(head.subarray(0, nl), 255).replace(/\.$/, ""); // the CR
      if (!/^SSH-(2\.0|1\.99)-/.test(this.banner)) return true;
    }
    const packet = head.subarray(this.#bannerEnd + 1);
    if (packet.length < 5) return false;
    const length = new DataView(packet.buffer, packet.byteOffset).getUint32(0);
    if (4 + length > packet.length) return false;
    const padding = packet[4]!;
    this.offered = kexinitLists(packet.subarray(5, 4 + length - padding));
    return true;
  }

  #done(): void {
    this.#socket?.off("data", this.#tap);
    this.#head = new Uint8Array(0);
    this.#length = 0;
  }
}

/** A connection that closed before it offered a credential. */
export interface ClosedBeforeLogin {
  ip: string;
  opening: ClientOpening;
  /** The user name it asked for (a "none" request: which methods are allowed). */
  user?: string;
  /** Why the server closed it (the login grace ended), if it did. */
  lastRefusal?: string;
}

/** Options of a {@link PreLoginLog}. */
export interface PreLoginLogOptions {
  log: Logger;
  /** Milliseconds, monotonic. */
  now: () => number;
  /** The engine's host key: what it accepts and the fingerprint a client must trust. */
  hostKey: ssh2.ParsedKey;
  /** One line per address and phase per this interval, default 5 s. */
  intervalMs?: number;
}

type Level = "debug" | "info" | "warn";

interface Line {
  level: Level;
  phase: "connect" | "banner" | "key-exchange" | "login";
  reason: string;
  fields?: Record<string, unknown>;
}

/** A list for a line, bounded. */
function listed(names: readonly string[]): string {
  const text = names.join(",");
  return text.length > MAX_LIST_CHARS ? `${text.slice(0, MAX_LIST_CHARS)}…` : text;
}

/** See the module doc. */
export class PreLoginLog {
  readonly #log: Logger;
  readonly #throttle: LogThrottle;
  readonly #accepted: AcceptedAlgorithms;
  readonly #hostKey: string;

  /** See {@link PreLoginLogOptions}. */
  constructor(options: PreLoginLogOptions) {
    this.#log = options.log;
    const interval = options.intervalMs ?? REFUSAL_LOG_INTERVAL_MS;
    this.#throttle = new LogThrottle(interval, options.now);
    this.#accepted = acceptedAlgorithms(options.hostKey.type);
    this.#hostKey = sshFingerprint(options.hostKey.getPublicSSH());
  }

  /** Logs why `c` ended before logging in (throttled per address and phase). */
  closed(c: ClosedBeforeLogin): void {
    if (c.opening.logged) return;
    const line = this.#describe(c);
    const connections = this.#throttle.note(`${c.ip}|${line.phase}`);
    if (connections === 0) return;
    this.#log[line.level]("sftp-server.closed-before-login", {
      peer: c.ip,
      phase: line.phase,
      reason: line.reason,
      ...line.fields,
      connections,
    });
  }

  #describe(c: ClosedBeforeLogin): Line {
    const o = c.opening;
    const error = o.error?.message;
    const why = (text: string) => (error ? `${text} (${error})` : text);
    if (o.received === 0) {
      return c.lastRefusal
        ? {
          level: "info",
          phase: "connect",
          reason: `sent nothing: ${c.lastRefusal}; not an SSH client (an SSH client sends its ` +
            "banner at once; an FTP client waits for a greeting)",
        }
        : {
          level: "debug",
          phase: "connect",
          reason: "closed without sending anything (a port check or a load balancer's probe)",
        };
    }
    if (o.notSsh) return { level: "warn", phase: "banner", reason: o.notSsh };
    if (o.banner === undefined) {
      return {
        level: "warn",
        phase: "banner",
        reason: why(c.lastRefusal ?? "closed before it finished its SSH banner"),
      };
    }
    const client = o.banner.slice(0, MAX_QUOTED);
    if (!/^SSH-(2\.0|1\.99)-/.test(o.banner)) {
      return {
        level: "warn",
        phase: "banner",
        reason: "its banner is not SSH-2 (SSH protocol 1, or not an SSH client); SSH-2 required",
        fields: { client },
      };
    }
    if (!o.handshake) return this.#keyExchange(c, client);
    const asked = c.user === undefined
      ? "without asking to log in"
      : `asking to log in as ${JSON.stringify(c.user.slice(0, MAX_QUOTED))} but offering no key`;
    return {
      level: "info",
      phase: "login",
      reason: why(
        c.lastRefusal
          ? `${c.lastRefusal}: the key exchange succeeded, then it waited ${asked}`
          : `closed after the key exchange, ${asked}; the engine takes public keys only`,
      ),
      fields: { client },
    };
  }

  #keyExchange(c: ClosedBeforeLogin, client: string): Line {
    const o = c.opening;
    const error = o.error;
    const kind = error && KINDS.find(([re]) => re.test(error.message));
    if (error && (kind || error.level === "handshake")) {
      const [, index, accepted] = kind ?? [];
      const offered = index === undefined ? undefined : o.offered?.[index]?.filter(
        (n) => !n.startsWith("ext-info-") && !n.startsWith("kex-strict-"),
      );
      return {
        level: "warn",
        phase: "key-exchange",
        reason: error.message,
        fields: {
          client,
          ...(offered ? { offered: listed(offered) } : {}),
          ...(accepted ? { accepted: listed(this.#accepted[accepted]) } : {}),
        },
      };
    }
    if (!o.offered) {
      return {
        level: c.lastRefusal || error ? "warn" : "info",
        phase: "key-exchange",
        reason: error?.message ??
          (c.lastRefusal
            ? `${c.lastRefusal}: it sent its SSH banner but never began the key exchange`
            : "closed after its SSH banner, before the key exchange (a banner check?)"),
        fields: { client },
      };
    }
    return {
      level: "warn",
      phase: "key-exchange",
      reason: error?.message ??
        (c.lastRefusal
          ? `${c.lastRefusal}: the key exchange did not finish`
          : "closed during the key exchange: the client most likely refused the engine's " +
            "host key (its known_hosts must hold the key whose fingerprint is hostKey)"),
      fields: { client, hostKey: this.#hostKey },
    };
  }
}
