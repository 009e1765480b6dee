/**
 * `/console/events`: a Server-Sent Events stream telling open pages that something changed (a
 * new log, an actor's state, depth or activity), so their live regions reload. One poll serves
 * every open stream, and runs only while one is open.
 * @module
 */

import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";

/** The change feed: subscribers are called with a new signature when it differs. */
export class ChangeFeed {
  readonly #deps: ConsoleDeps;
  readonly #pollMs: number;
  readonly #subscribers = new Set<(signature: string) => void>();
  /** Aborted by {@link shutdown}: open streams end. */
  readonly #stopping = new AbortController();
  #timer?: ReturnType<typeof setInterval>;
  #last = "";
  #polling = false;

  /** Polls every `pollMs` while someone listens. */
  constructor(deps: ConsoleDeps, pollMs: number) {
    this.#deps = deps;
    this.#pollMs = pollMs;
  }

  /** Listens; returns the way to stop. */
  subscribe(fn: (signature: string) => void): () => void {
    if (this.#stopping.signal.aborted) return () => {};
    this.#subscribers.add(fn);
    this.#timer ??= setInterval(() => void this.#poll(), this.#pollMs);
    return () => {
      this.#subscribers.delete(fn);
      if (this.#subscribers.size === 0) this.close();
    };
  }

  /** Aborted when the console shuts down. */
  get stopping(): AbortSignal {
    return this.#stopping.signal;
  }

  /** Ends every open stream and stops polling (the engine is closing). */
  shutdown(): void {
    this.#stopping.abort();
    this.close();
  }

  /** Stops polling. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const [statuses, newest] = await Promise.all([
        this.#deps.supervisor.statuses(),
        this.#deps.store.listLogs({ limit: 1 }),
      ]);
      const sig = JSON.stringify([
        newest.logs[0]?.id,
        newest.logs[0]?.updatedAt,
        statuses.map((s) => [s.id, s.state, s.queueDepth, s.lastActivityAt, s.paused?.at]),
      ]);
      if (sig !== this.#last) {
        this.#last = sig;
        for (const fn of this.#subscribers) fn(sig);
      }
    } catch (error) {
      this.#deps.log.warn("console.events-failed", { error });
    } finally {
      this.#polling = false;
    }
  }
}

/** Adds `/console/events`. */
export function eventRoutes(app: Hono<ConsoleEnv>, feed: ChangeFeed): void {
  app.get("/console/events", (c) =>
    streamSSE(c, async (stream) => {
      let wake: (() => void) | undefined;
      let changed = false;
      const stop = feed.subscribe(() => {
        changed = true;
        wake?.();
      });
      const closed = new Promise<void>((resolve) => {
        stream.onAbort(resolve);
        feed.stopping.addEventListener("abort", () => resolve(), { once: true });
      });
      try {
        await stream.writeSSE({ event: "hello", data: "" });
        while (!stream.aborted && !stream.closed && !feed.stopping.aborted) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const ticked = new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, 15_000);
          });
          await Promise.race([ticked, closed]);
          clearTimeout(timer);
          if (stream.aborted || stream.closed || feed.stopping.aborted) break;
          if (changed) {
            changed = false;
            await stream.writeSSE({ event: "change", data: "" });
          } else await stream.write(": keep-alive\n\n");
        }
      } finally {
        stop();
        await stream.close();
      }
    }));
}
