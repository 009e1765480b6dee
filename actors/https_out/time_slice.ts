/**
 * Long work on the engine's one JS thread, done in slices: the work calls
 * {@link TimeSlicer.pause} between small steps, and once a slice has used its few ms the pause
 * gives the thread back to the event loop (a timer task, so due timers and socket I/O — MLLP
 * listeners, the HTTP API, other actors — run before the work goes on). `setImmediate` is not
 * used: in Deno a chain of immediates lets timers run but starves socket I/O.
 * @module
 */

/** How long one slice of work may hold the thread. */
export const SLICE_MS = 4;

/** Cuts work into slices of at most {@link SLICE_MS} (plus one step). */
export class TimeSlicer {
  readonly #budgetMs: number;
  readonly #signal: AbortSignal | undefined;
  #since = performance.now();

  /** A slicer whose pauses throw `signal`'s reason once it is aborted. */
  constructor(signal?: AbortSignal, budgetMs = SLICE_MS) {
    this.#signal = signal;
    this.#budgetMs = budgetMs;
  }

  /**
   * Between two steps: yields to the event loop when the slice is used up, and throws the
   * signal's reason when it was aborted.
   */
  async pause(): Promise<void> {
    this.#signal?.throwIfAborted();
    if (performance.now() - this.#since < this.#budgetMs) return;
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    this.#signal?.throwIfAborted();
    this.#since = performance.now();
  }
}
