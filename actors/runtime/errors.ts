/**
 * Errors in words: the one way the engine turns a thrown value into a log line or an answer.
 * @module
 */

/** The message of an `Error`, or the thrown value as a string. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
