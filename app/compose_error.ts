/**
 * How a step of `compose` fails: a {@link ComposeError} saying which step, with the step's own
 * error as its cause. `compose` closes what the steps before it opened, then throws it.
 * @module
 */

import { errorMessage } from "../actors/mod.ts";
import { StoreFormatError } from "../actors/store/format.ts";

/** A step of `compose` failed; the message says which (`cannot listen: …`). */
export class ComposeError extends Error {
  /** The step's own error. */
  override readonly cause: unknown;

  /** `step` says what could not be done. */
  constructor(step: string, cause: unknown) {
    super(`${step}: ${errorMessage(cause)}`);
    this.name = "ComposeError";
    this.cause = cause;
  }
}

/** Runs one step of `compose`: its error, if any, becomes a {@link ComposeError} naming `what`. */
export async function step<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new ComposeError(what, error);
  }
}

/**
 * The one line `main.ts serve` prints when `compose` fails: the step and its error, except a KV a
 * newer engine wrote, whose refusal names the KV and says what to do on its own.
 */
export function startFailure(error: unknown): string {
  if (error instanceof ComposeError && error.cause instanceof StoreFormatError) {
    return `cannot start the engine: ${error.cause.message}`;
  }
  return errorMessage(error);
}
