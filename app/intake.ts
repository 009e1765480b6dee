/**
 * The intake of a composed engine (its HTTP server and MLLP listeners) at a stop: what is in
 * flight now, and the drain that is the first step of `Composed.stop` — HTTP and every MLLP
 * listener together, within one grace, the console's event streams ended first.
 * @module
 */

import type { IntakeInFlight, Servers, StopReport } from "./composed.ts";

/** What a stop would drain now: open MLLP connections, unanswered frames, HTTP requests. */
export function intakeInFlight(servers: Servers): IntakeInFlight {
  return {
    mllpConnections: servers.mllp.reduce((n, s) => n + s.connections, 0),
    mllpUnanswered: servers.mllp.reduce((n, s) => n + s.unanswered, 0),
    httpRequests: servers.http?.answering ?? 0,
  };
}

/**
 * The first step of a stop: HTTP and every MLLP listener drain together, within one grace (see
 * `Composed.stop`); the console's event streams end first (an open one would hold HTTP).
 */
export async function drainIntake(
  servers: Servers,
  graceMs: number,
  closers: readonly (() => void)[],
): Promise<Omit<StopReport, "deliveries">> {
  const started = performance.now();
  const deadline = started + graceMs;
  closers.forEach((close) => close());
  const [http, mllp] = await Promise.all([
    servers.http?.drain(graceMs),
    Promise.all([...servers.mllp].map((s) => s.drain(deadline))),
  ]);
  const sum = { connections: 0, answered: 0, refused: 0, unanswered: 0, senders: 0 };
  for (const r of mllp) {
    sum.connections += r.connections;
    sum.answered += r.answered;
    sum.refused += r.refused;
    sum.unanswered += r.unanswered;
    sum.senders += r.senders;
  }
  return {
    drained: sum.unanswered === 0 && (http?.unanswered ?? 0) === 0,
    drainMs: Math.round(performance.now() - started),
    mllp: sum,
    ...(http ? { http } : {}),
  };
}
