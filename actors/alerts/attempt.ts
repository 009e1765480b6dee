/**
 * One send attempt with a hard bound. The senders end an attempt at the channel's
 * `timeoutSeconds` themselves, with a reason saying where it stood (the HTTP sender: "no answer
 * from … within 10 s"; SMTP: "the SMTP server … did not finish within 30 s (after EHLO it sent
 * 4 bytes in 29.9 s, …)"). Should a sender not have settled {@link ATTEMPT_GRACE_MS} after that,
 * the attempt is abandoned: its signal is aborted (which closes the sender's connection) and it
 * fails with an {@link AttemptDeadlineError}. The caller's signal (the monitor stopping) ends an
 * attempt at once with an {@link AttemptAbortedError}.
 * @module
 */

import type { AlertChannelConfig } from "../config/alerts.ts";
import { errorMessage } from "../runtime/errors.ts";
import type { AlertNotification } from "../store/alerts.ts";
import { type ChannelDeps, sendOnce } from "./channels.ts";

/** How long past its deadline an attempt that has not settled is waited for. */
export const ATTEMPT_GRACE_MS = 1000;

/** An attempt abandoned past its deadline (the sender did not stop by itself). */
export class AttemptDeadlineError extends Error {
  /** See the class doc. */
  constructor(message: string) {
    super(message);
    this.name = "AttemptDeadlineError";
  }
}

/** An attempt ended by the caller (the monitor stopping, the lease lost). */
export class AttemptAbortedError extends Error {
  /** See the class doc. */
  constructor(message: string) {
    super(message);
    this.name = "AttemptAbortedError";
  }
}

/** The deadline of one attempt on `channel`: its `timeoutSeconds`, in ms. */
export function attemptTimeoutMs(channel: AlertChannelConfig): number {
  return (channel.webhook?.timeoutSeconds ?? channel.email?.timeoutSeconds ?? 30) * 1000;
}

function abandoned(channel: AlertChannelConfig, timeoutMs: number): AttemptDeadlineError {
  const within = `within ${Math.round(timeoutMs / 100) / 10} s`;
  const what = channel.email
    ? `the SMTP server ${channel.email.host}:${channel.email.port}`
    : "the webhook";
  return new AttemptDeadlineError(
    `${what} did not finish ${within}; the attempt was abandoned and its connection closed`,
  );
}

/**
 * Sends `n` once on `channel`, bounded as the module doc says. Rejects with the sender's reason,
 * an {@link AttemptDeadlineError}, or an {@link AttemptAbortedError} when `signal` aborts.
 */
export async function attemptOnce(
  channel: AlertChannelConfig,
  n: AlertNotification,
  deps: ChannelDeps,
  signal: AbortSignal,
  graceMs: number = ATTEMPT_GRACE_MS,
): Promise<void> {
  const stopped = () =>
    new AttemptAbortedError(
      `aborted${signal.reason === undefined ? "" : `: ${errorMessage(signal.reason)}`}`,
    );
  if (signal.aborted) throw stopped();
  const timeoutMs = attemptTimeoutMs(channel);
  const backstop = new AbortController();
  const sending = sendOnce(channel, n, deps, AbortSignal.any([signal, backstop.signal]));
  // The sender's own failure after we gave up is of no interest (and must not go unhandled).
  sending.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = abandoned(channel, timeoutMs);
      backstop.abort(error);
      reject(error);
    }, timeoutMs + graceMs);
    onAbort = () => reject(stopped());
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([sending, bound]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}
