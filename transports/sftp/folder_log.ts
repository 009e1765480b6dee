/**
 * What a hosted SFTP session logs, kept short whatever the client does: refused requests
 * (`sftp-server.denied`, `sftp-server.request-failed`) at most {@link LINES_PER_MINUTE} a minute
 * per session, the rest counted (`notLoggedBefore` on the next line logged, or one
 * `sftp-server.not-logged` line when the session ends), and uploads cut off together by a dropped
 * connection in one `sftp-server.upload-interrupted` line, however many ({@link InterruptedLog}).
 * The minute is counted on the monotonic clock: a wall-clock step does not start a new one.
 * @module
 */

import type { Clock, Logger } from "../../actors/ports.ts";
import { systemClock } from "../../actors/mod.ts";

/** Refusal lines one session may log per minute. */
export const LINES_PER_MINUTE = 20;

/** An upload cut off by the end of its session. */
export interface Interrupted {
  file: string;
  received: number;
}

/** Logs uploads cut off together: one line, however many. */
export function logInterrupted(log: Logger, user: string, peer: string, list: Interrupted[]): void {
  if (list.length === 0) return;
  log.warn("sftp-server.upload-interrupted", {
    user,
    peer,
    file: list[0]!.file,
    ...(list.length > 1 ? { uploads: list.length } : {}),
    received: list.reduce((sum, u) => sum + u.received, 0),
    reason: list.length === 1
      ? "connection closed before the file was closed; discarded"
      : `connection closed before ${list.length} files were closed; all discarded`,
  });
}

/**
 * The uploads cut off by the sessions of one connection, logged in one line: when the connection
 * closes ({@link flush}), or at the next tick when a session ends on its own.
 */
export class InterruptedLog {
  readonly #log: Logger;
  readonly #peer: string;
  readonly #user: () => string | undefined;
  #list: Interrupted[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Logs for the connection from `peer`, logged in as `user()`. */
  constructor(log: Logger, peer: string, user: () => string | undefined) {
    this.#log = log;
    this.#peer = peer;
    this.#user = user;
  }

  /** Uploads a session cut off. */
  add(list: Interrupted[]): void {
    this.#list.push(...list);
    this.#timer ??= setTimeout(() => this.flush(), 0);
  }

  /** Logs what was added since the last line, if anything. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    logInterrupted(this.#log, this.#user() ?? "?", this.#peer, this.#list.splice(0));
  }
}

/** One session's refusal log (see the module doc). */
export class SessionLog {
  readonly #log: Logger;
  readonly #where: { user: string; peer: string };
  readonly #clock: Clock;
  /** The current minute, on the monotonic clock (undefined before the first line). */
  #minute: number | undefined;
  #lines = 0;
  #notLogged = 0;

  /** Logs for `user` connected from `peer`, counting minutes on `clock`'s monotonic reading. */
  constructor(log: Logger, user: string, peer: string, clock: Clock = systemClock) {
    this.#log = log;
    this.#where = { user, peer };
    this.#clock = clock;
  }

  /** A request refused with a permission error. */
  denied(op: string, path: string, reason: string): void {
    if (this.#may()) this.#log.warn("sftp-server.denied", this.#fields(op, path, reason));
  }

  /** A request that failed for a reason the client is not told. */
  failed(op: string, path: string, reason: string): void {
    if (this.#may()) this.#log.error("sftp-server.request-failed", this.#fields(op, path, reason));
  }

  /** The session ended: says how many lines were left out since the last one, if any. */
  end(): void {
    if (this.#notLogged === 0) return;
    this.#log.warn("sftp-server.not-logged", { ...this.#where, lines: this.#notLogged });
    this.#notLogged = 0;
  }

  #may(): boolean {
    const minute = Math.floor(this.#clock.monotonic() / 60_000);
    if (minute !== this.#minute) {
      this.#minute = minute;
      this.#lines = 0;
    }
    if (this.#lines++ < LINES_PER_MINUTE) return true;
    this.#notLogged++;
    return false;
  }

  #fields(op: string, path: string, reason: string): Record<string, unknown> {
    const skipped = this.#notLogged;
    this.#notLogged = 0;
    return {
      ...this.#where,
      op,
      path,
      ...(skipped > 0 ? { notLoggedBefore: skipped } : {}),
      reason,
    };
  }
}
