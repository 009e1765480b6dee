/**
 * The KV file's integrity check: SQLite's `PRAGMA quick_check` over the whole local file, on a
 * Worker (`integrity_worker.ts`, `node:sqlite`, the file opened read-only), so that a page the
 * engine will not read for hours (old history, an idle destination's queue) is found damaged when
 * the engine starts, not at its first read. `serve` runs it in the background
 * ({@link watchKvIntegrity}: the engine accepts meanwhile; damage goes to
 * {@link StoreHealth.noticeDamage}, which refuses every commit from then on); `check --kv` runs it
 * in the foreground ({@link checkKvIntegrity}).
 *
 * Reading the file while the engine has it open is safe: Deno KV keeps it in WAL mode, where a
 * reader sees one committed snapshot and blocks no writer; both connections are of the one SQLite
 * library in the Deno binary, so its locks know of each other. A check cannot damage anything.
 * @module
 */

import type { Logger } from "../runtime/log.ts";
import { errorMessage } from "../runtime/errors.ts";
import { isDamage, type StoreHealth } from "./health.ts";
import { kvPathKind } from "./kv.ts";
import type { IntegrityAnswer, IntegrityRequest } from "./integrity_worker.ts";

/** What a check found. */
export type IntegrityResult =
  /** SQLite's quick_check answered `ok`. */
  | { status: "ok"; file: string; ms: number }
  /** The file is damaged: SQLite's first problems (a page, a tree, an index), as it words them. */
  | { status: "damaged"; file: string; ms: number; problems: string[] }
  /** The check could not run (no `node:sqlite`, the file locked or missing, the Worker failed). */
  | { status: "not-run"; file: string; ms: number; reason: string };

/** How {@link checkKvIntegrity} runs. */
export interface IntegrityOptions {
  /** Problems SQLite lists at most, default 10. */
  maxProblems?: number;
  /** How long opening the file waits for a lock another connection holds, default 5,000 ms. */
  busyTimeoutMs?: number;
  /** Ends the check: its Worker is terminated and the result is `not-run`. */
  signal?: AbortSignal;
  /** The Worker's module (tests); `integrity_worker.ts` by default. */
  module?: URL;
}

/**
 * The local SQLite file behind a config's `kv.path`, or undefined for `:memory:` and a KV Connect
 * URL (which have no file here to check).
 */
export function localKvFile(kvPath: string): string | undefined {
  if (kvPathKind(kvPath) !== "file") return undefined;
  return kvPath;
}

/**
 * Runs `PRAGMA quick_check` on `file` on a Worker. Never rejects: a check that cannot run is a
 * `not-run` result saying why.
 */
export function checkKvIntegrity(
  file: string,
  options: IntegrityOptions = {},
): Promise<IntegrityResult> {
  const start = performance.now();
  const elapsed = () => Math.round(performance.now() - start);
  const notRun = (reason: string): IntegrityResult => ({
    status: "not-run",
    file,
    ms: elapsed(),
    reason,
  });
  if (options.signal?.aborted) return Promise.resolve(notRun("stopped before it began"));
  let worker: Worker;
  try {
    worker = options.module
      ? new Worker(options.module, { type: "module" })
      : new Worker(new URL("./integrity_worker.ts", import.meta.url), { type: "module" });
  } catch (error) {
    return Promise.resolve(notRun(`the check's Worker did not start: ${errorMessage(error)}`));
  }
  const { promise, resolve } = Promise.withResolvers<IntegrityResult>();
  const finish = (result: IntegrityResult) => {
    options.signal?.removeEventListener("abort", onAbort);
    worker.terminate();
    resolve(result);
  };
  const onAbort = () => finish(notRun("stopped: the engine is closing"));
  options.signal?.addEventListener("abort", onAbort, { once: true });
  worker.onmessage = (event: MessageEvent<IntegrityAnswer>) => {
    const { problems, error, ms } = event.data;
    if (problems?.length === 0) finish({ status: "ok", file, ms });
    else if (problems) finish({ status: "damaged", file, ms, problems });
    // SQLite refused the file itself ("file is not a database", a malformed first page).
    else if (isDamage(error)) finish({ status: "damaged", file, ms, problems: [String(error)] });
    else finish(notRun(String(error)));
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    finish(notRun(`the check's Worker failed: ${event.message}`));
  };
  worker.onmessageerror = () => finish(notRun("the check's Worker sent an unreadable answer"));
  const request: IntegrityRequest = {
    file,
    maxProblems: options.maxProblems ?? 10,
    busyTimeoutMs: options.busyTimeoutMs ?? 5000,
  };
  try {
    worker.postMessage(request);
  } catch (error) {
    finish(notRun(`the check's Worker could not be asked: ${errorMessage(error)}`));
  }
  return promise;
}

/** A check running in the background; see {@link watchKvIntegrity}. */
export interface IntegrityWatch {
  /** Its result, once reported (never rejects). */
  readonly done: Promise<IntegrityResult>;
  /** Ends the check if it still runs (the engine is closing); nothing more is reported. */
  stop(): void;
}

/**
 * Checks `file` in the background and reports the result: damage to `health` (every commit is
 * refused from then on, `store.damaged` logged once with the file and SQLite's first problems,
 * `/healthz` fails), a sound file as `store.integrity-ok` (info), a check that could not run as
 * `store.integrity-not-checked` (warn). The engine does not wait for it.
 */
export function watchKvIntegrity(
  options:
    & { file: string; health: StoreHealth; log: Logger; maxFileBytes?: number }
    & Omit<IntegrityOptions, "signal">,
): IntegrityWatch {
  const { file, health, log } = options;
  const stopper = new AbortController();
  const maxBytes = options.maxFileBytes ?? MAX_CHECKED_AT_START;
  const done = fileSize(file).then((size) =>
    size !== undefined && size > maxBytes
      ? tooLarge(file, size, maxBytes)
      : checkKvIntegrity(file, { ...options, signal: stopper.signal })
  ).then((result) => {
    if (stopper.signal.aborted) return result;
    try {
      report(result, health, log);
    } catch {
      // A logger that throws: the result stands, and no rejection is left unhandled.
    }
    return result;
  });
  return { done, stop: () => stopper.abort() };
}

/**
 * Largest KV file checked at start: 1 GiB. While the check reads, SQLite cannot fold its WAL back
 * into the file, so the WAL grows by every page committed meanwhile (measured: ~50 MB during a
 * 300 MB file's 7–14 s cold check at a paced load, 423 MB under back-to-back commits, and the
 * first checkpoint after it held a commit 1.3 s). A larger file is checked by hand, in a quiet
 * hour (`check --kv`).
 */
export const MAX_CHECKED_AT_START = 1024 ** 3;

/** The file's size, or undefined when it cannot be read (the check then says why). */
async function fileSize(file: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(file)).size;
  } catch {
    return undefined;
  }
}

/** The `not-run` result for a file over {@link MAX_CHECKED_AT_START}. */
function tooLarge(file: string, size: number, maxBytes: number): IntegrityResult {
  const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
  return {
    status: "not-run",
    file,
    ms: 0,
    reason: `the file is ${gib(size)}, over the ${
      gib(maxBytes)
    } checked at start: a check holds SQLite's WAL from folding back while it reads`,
  };
}

function report(result: IntegrityResult, health: StoreHealth, log: Logger): void {
  if (result.status === "ok") {
    log.info("store.integrity-ok", { file: result.file, ms: result.ms, check: "quick_check" });
  } else if (result.status === "damaged") {
    const first = result.problems[0] ?? "unknown";
    health.noticeDamage(
      new Error(`database disk image is malformed (PRAGMA quick_check: ${first})`),
      { file: result.file, problems: result.problems, foundBy: "the integrity check at start" },
    );
  } else {
    log.warn("store.integrity-not-checked", {
      file: result.file,
      reason: result.reason,
      effect: "damage in pages the engine has not read yet is found only when it reads them",
      next: "run `main.ts check CONFIG --kv` (safe while the engine runs; in a quiet hour)",
    });
  }
}
