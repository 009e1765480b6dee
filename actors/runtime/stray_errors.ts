/**
 * The last line of defence of the engine process: a promise rejection nobody handled, or an
 * exception thrown from a callback, is logged with its reason and contained instead of ending the
 * process (which would stop every listener and delivery). Each one is a bug to fix; the log line
 * says where it came from.
 * @module
 */

import type { Logger } from "./log.ts";

/** Installs the handlers on the global scope; returns a function that removes them. */
export function containStrayErrors(log: Logger): () => void {
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    const reason = event.reason;
    log.error("engine.unhandled-rejection", {
      error: reason,
      ...(reason instanceof Error && reason.stack ? { stack: reason.stack } : {}),
    });
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    const error = event.error ?? event.message;
    log.error("engine.uncaught-error", {
      error,
      ...(error instanceof Error && error.stack ? { stack: error.stack } : {}),
    });
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  };
}
