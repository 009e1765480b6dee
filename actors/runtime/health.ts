/**
 * What `GET /healthz` reports: one check per MLLP listener (still accepting connections), one for
 * KV (commits succeed; see the store's health), and one for the actors (none crashing in a loop);
 * and, only once this process found its node id in use by another process and stopped delivering
 * (see `Cluster`), a failing `node-id` check.
 * Cheap enough to poll every second: no KV read, and while KV is failing at most one probe commit
 * per second.
 * @module
 */

import type { Store } from "../store/store.ts";
import type { Supervisor } from "./supervisor.ts";
import { nodeIdInUse } from "../store/nodes.ts";

/** One check of {@link HealthReport}. */
export interface HealthCheck {
  name: string;
  ok: boolean;
  /** Why it fails. */
  reason?: string;
  /** Since when (ISO 8601) it has been failing. */
  since?: string;
}

/** The body of `GET /healthz`: `status` is `ok` (HTTP 200) or `failing` (HTTP 503). */
export interface HealthReport {
  status: "ok" | "failing";
  node: string;
  checks: HealthCheck[];
}

/** What the report looks at. */
export interface HealthSources {
  node: string;
  store: Store;
  supervisor: Supervisor;
  /** The MLLP listeners (`accepting` turns false when a listener's accept loop has stopped). */
  listeners: readonly { readonly port: number; readonly accepting: boolean }[];
}

/** Runs the checks; see the module doc. */
export async function healthReport(sources: HealthSources): Promise<HealthReport> {
  const checks: HealthCheck[] = [];
  const kv = await sources.store.health.check();
  checks.push(
    kv.writable ? { name: "kv", ok: true } : {
      name: "kv",
      ok: false,
      reason: `KV cannot commit: ${kv.reason ?? "unknown error"} (${kv.failures} writes failed)`,
      since: new Date(kv.since).toISOString(),
    },
  );
  for (const l of sources.listeners) {
    checks.push(
      l.accepting ? { name: `mllp:${l.port}`, ok: true } : {
        name: `mllp:${l.port}`,
        ok: false,
        reason: "the listener no longer accepts connections",
      },
    );
  }
  const problems = sources.supervisor.problems;
  checks.push(
    problems.length === 0 ? { name: "actors", ok: true } : {
      name: "actors",
      ok: false,
      reason: problems.map((p) =>
        `${p.actor} crashed ${p.crashes} times in a row (last: ${p.reason})`
      ).join("; "),
    },
  );
  const inUse = nodeIdInUse(sources.store.kv, sources.node);
  if (inUse) {
    checks.push({
      name: "node-id",
      ok: false,
      reason: inUse.reason,
      since: new Date(inUse.since).toISOString(),
    });
  }
  return {
    status: checks.every((c) => c.ok) ? "ok" : "failing",
    node: sources.node,
    checks,
  };
}
