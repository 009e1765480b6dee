/**
 * Starting the planning thread (`plan_thread.ts`) as a `node:worker_threads` Worker with a heap
 * limit, and telling its owner (`plan_threads.ts`) what it says and how it ends: it is `ready`
 * once its module has loaded and it said so, or not ready, with the reason, when it failed
 * before that or did not start within {@link STARTUP_MS}.
 * @module
 */

import { Worker } from "node:worker_threads";
import type { FromThread } from "./plan_thread_serve.ts";
import type { SentConfig } from "./plan_thread_config.ts";

/** What a thread may take to load its module before none is thought possible. */
export const STARTUP_MS = 60_000;

/** The job on a thread, and how it ends. */
export interface Running {
  id: number;
  /** What it does (`plan` or `read`), and of how many bytes: for the log. */
  op: string;
  bytes: number;
  /** Starts its deadline: `ms` from now. */
  arm(ms: number): void;
  end(result: unknown): void;
}

/** A thread and what it was sent. */
export interface Thread {
  worker: Worker;
  /** Its module loaded and it said so: a failure before that means none can be started. */
  started: boolean;
  /** Settles when it started, or why it could not (jobs are sent only once it has). */
  ready: Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Settles `ready` as failed (once). */
  failStart(reason: string): void;
  sent?: SentConfig;
  running?: Running;
}

/** Starts a thread; `lost` is told why it failed or ended (each time it is told, see the owner). */
export function startThread(options: {
  /** The module, default `plan_thread.ts`. */
  module?: URL;
  maxHeapMb: number;
  message(m: FromThread): void;
  lost(reason: string): void;
}): Thread {
  const { maxHeapMb } = options;
  const resourceLimits = { maxOldGenerationSizeMb: maxHeapMb };
  const worker = options.module
    ? new Worker(options.module, { resourceLimits })
    // Written out whole: tests/cli/packaging_test.ts finds the module for the compile task here.
    : new Worker(new URL("./plan_thread.ts", import.meta.url), { resourceLimits });
  let settle!: (r: { ok: true } | { ok: false; reason: string }) => void;
  const ready = new Promise<{ ok: true } | { ok: false; reason: string }>((r) => settle = r);
  const startup = setTimeout(
    () => thread.failStart(`the planning thread did not start within ${STARTUP_MS / 1000} s`),
    STARTUP_MS,
  );
  const thread: Thread = {
    worker,
    started: false,
    ready,
    failStart: (reason) => {
      clearTimeout(startup);
      settle({ ok: false, reason });
    },
  };
  worker.on("message", (m: FromThread) => {
    if (m.ev === "started") {
      clearTimeout(startup);
      thread.started = true;
      settle({ ok: true });
    }
    options.message(m);
  });
  worker.on("error", (error: Error & { code?: string }) => {
    options.lost(
      error.code === "ERR_WORKER_OUT_OF_MEMORY"
        ? `the planning thread ran out of memory (its heap limit is ${maxHeapMb} MB)`
        : `the planning thread failed: ${error.message}`,
    );
  });
  worker.on("messageerror", () => options.lost("the planning thread sent an unreadable message"));
  worker.on("exit", () => options.lost("the planning thread ended"));
  return thread;
}
