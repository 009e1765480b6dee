/**
 * Retention in bounded batches, so a sweep never holds KV's one writer for long and intake goes
 * on between its commits: finished logs and messages (with their payload chunks) older than the
 * retention, dedupe records past their window, compression dictionaries no kept message needs,
 * chunks of abandoned uploads, used client-assertion `jti`s and alert history past their time. And
 * what the store holds, counted by record kind.
 *
 * A sweep deletes by the wall clock, so a wall clock stepped far forward would delete the whole
 * history at once, for good: {@link retentionHold} says when the sweep must wait instead (also
 * after a start far from when the engine was last seen running: see last_seen.ts).
 * @module
 */

import { idFloor, idTime } from "./ids.ts";
import { sweepDictionaries } from "./dictionaries.ts";
import { keys } from "./keys.ts";
import { withKvRetry } from "./kv.ts";
import type { Downtime } from "./last_seen.ts";
import { collectOrphanChunks } from "./payloads.ts";
import type { Store } from "./store.ts";
import type { LogRecord, MessageRecord } from "./types.ts";

/** How a sweep runs. */
export interface SweepOptions {
  now: number;
  /** Logs, messages and alert history older than this go (config `limits.logRetentionDays`). */
  retentionMs: number;
  /** Dedupe records older than this go (config `limits.dedupeWindowSeconds`). */
  dedupeWindowMs: number;
  /** Records per atomic commit, default 10 (a KV Connect server takes at most 10 checks). */
  batch?: number;
  /** Called between two commits: a pause lets intake's commits go first. */
  between?: () => Promise<void>;
  /** Stops the sweep between two batches. */
  signal?: AbortSignal;
}

/** What one sweep removed. */
export interface SweepResult {
  logs: number;
  messages: number;
  chunks: number;
  dedupe: number;
  /** Compression dictionaries no kept message needs any more. */
  dictionaries: number;
  orphanChunks: number;
  tokens: number;
  alerts: number;
  commits: number;
}

const yieldTurn = () => new Promise<void>((r) => setTimeout(r, 0));

/** Sweeps `store`'s KV; see the module doc. A PENDING message is kept whatever its age. */
export async function sweepStore(store: Store, o: SweepOptions): Promise<SweepResult> {
  const kv = store.kv;
  const batch = Math.max(1, Math.min(o.batch ?? 10, 10));
  const between = o.between ?? yieldTurn;
  const out: SweepResult = {
    logs: 0,
    messages: 0,
    chunks: 0,
    dedupe: 0,
    dictionaries: 0,
    orphanChunks: 0,
    tokens: 0,
    alerts: 0,
    commits: 0,
  };
  const cutoff = o.now - o.retentionMs;
  const commit = async (op: Deno.AtomicOperation) => {
    await withKvRetry(() => op.commit());
    out.commits++;
    await between();
  };

  // Logs: checked, so a log reprocessed meanwhile (PENDING again) is not deleted.
  let pending: Deno.KvEntry<LogRecord>[] = [];
  const flushLogs = async () => {
    if (pending.length === 0) return;
    const op = kv.atomic();
    for (const e of pending) {
      op.check(e).delete(e.key).delete(keys.logByMessage(e.value.messageId, e.value.id));
    }
    const r = await withKvRetry(() => op.commit());
    out.commits++;
    if (r.ok) out.logs += pending.length;
    pending = [];
    await between();
  };
  const logEnd: Deno.KvKey = [...keys.logPrefix, idFloor(cutoff)];
  for await (const e of kv.list<LogRecord>({ start: keys.logPrefix, end: logEnd })) {
    if (o.signal?.aborted) return out;
    if (e.value.status === "PENDING") continue;
    pending.push(e);
    if (pending.length >= batch) await flushLogs();
  }
  await flushLogs();

  // Messages (and their chunks) none of whose logs is still PENDING.
  const msgEnd: Deno.KvKey = ["msg", idFloor(cutoff)];
  for await (const e of kv.list<MessageRecord>({ start: ["msg"], end: msgEnd })) {
    if (o.signal?.aborted) return out;
    if (await hasPendingLog(kv, e.value)) continue;
    const op = kv.atomic().check(e).delete(e.key);
    await commit(op);
    out.messages++;
    for (let first = 0; first < e.value.chunks; first += batch * 10) {
      const chunks = kv.atomic();
      const last = Math.min(e.value.chunks, first + batch * 10);
      for (let i = first; i < last; i++) chunks.delete(keys.chunk(e.value.id, i));
      await commit(chunks);
      out.chunks += last - first;
    }
  }

  // Compression dictionaries of days past retention that no remaining message names.
  const dictionaries = await sweepDictionaries(kv, cutoff, {
    now: o.now,
    between,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  out.dictionaries = dictionaries.removed;
  out.commits += dictionaries.commits;
  if (o.signal?.aborted) return out;

  // Dedupe records past the window (KV's own expiry is lazy).
  let op = kv.atomic();
  let n = 0;
  const flush = async () => {
    if (n === 0) return;
    await commit(op);
    op = kv.atomic();
    n = 0;
  };
  for await (const e of kv.list<{ at?: number }>({ prefix: ["dedupe"] })) {
    if (o.signal?.aborted) return out;
    if ((e.value?.at ?? Infinity) > o.now - o.dedupeWindowMs) continue;
    op.check(e).delete(e.key);
    out.dedupe++;
    if (++n >= batch) await flush();
  }
  await flush();

  // Used jtis whose assertion expired.
  for await (const e of kv.list<{ until?: number }>({ prefix: ["auth", "jti"] })) {
    if (o.signal?.aborted) return out;
    if ((e.value?.until ?? Infinity) > o.now) continue;
    op.check(e).delete(e.key);
    out.tokens++;
    if (++n >= batch) await flush();
  }
  await flush();

  // Alert history past retention (never what is still in the outbox).
  const histEnd: Deno.KvKey = [...keys.alertHistoryPrefix, idFloor(cutoff)];
  for await (const e of kv.list({ start: keys.alertHistoryPrefix, end: histEnd })) {
    if (o.signal?.aborted) return out;
    const id = e.key[1];
    if (typeof id !== "string") continue;
    if ((await kv.get(keys.alertOutbox(id))).versionstamp !== null) continue;
    op.delete(e.key);
    out.alerts++;
    if (++n >= batch) await flush();
  }
  await flush();

  out.orphanChunks = await collectOrphanChunks(kv, o.now);
  return out;
}

async function hasPendingLog(kv: Deno.Kv, m: MessageRecord): Promise<boolean> {
  const original = m.derivedFrom ?? m.id;
  const ids: string[] = [];
  const originalRecord = m.derivedFrom
    ? (await kv.get<MessageRecord>(keys.message(original))).value
    : m;
  if (originalRecord?.receiveLogId) ids.push(originalRecord.receiveLogId);
  // A message routed at intake names its SEND logs here only (no log_by_msg rows): without them a
  // message still queued for a destination that is down looked done, and was deleted.
  for (const id of originalRecord?.sendLogIds ?? []) ids.push(id);
  for await (const l of kv.list<string>({ prefix: keys.logByMessagePrefix(original) })) {
    ids.push(l.value);
  }
  for (let i = 0; i < ids.length; i += 10) {
    const got = await kv.getMany<LogRecord[]>(ids.slice(i, i + 10).map(keys.log));
    if (got.some((g) => g.value?.status === "PENDING")) return true;
  }
  return false;
}

/** Record kinds of {@link storageReport}, by the first part of their keys. */
const KINDS: Record<string, string> = {
  msg: "messages",
  chunk: "payloadChunks",
  chunk_pending: "uploadsInProgress",
  q: "queueEntries",
  dlq: "deadLetters",
  log: "logs",
  log_by_msg: "logIndex",
  dedupe: "dedupeKeys",
  dict: "compressionDictionaries",
  dict_count: "compressionDictionaries",
  auth: "auth",
  alert_hist: "alertHistory",
  store: "storeFormat",
};

/** Entries read at most per report (the counts say when they stopped short). */
const REPORT_BUDGET = 200_000;

/** One kind's share of the store. */
export interface StorageKind {
  count: number;
  /** Keys plus values, approximately (values as their JSON or byte length). */
  approxBytes: number;
}

/**
 * Counts and approximate sizes of what the store holds, by record kind, reading at most
 * {@link REPORT_BUDGET} entries (`complete: false` when it stopped there).
 */
export async function storageReport(
  store: Store,
): Promise<{ kinds: Record<string, StorageKind>; scanned: number; complete: boolean }> {
  const kinds: Record<string, StorageKind> = {};
  let scanned = 0;
  for await (const e of store.kv.list({ prefix: [] }, { batchSize: 1000 })) {
    if (++scanned > REPORT_BUDGET) return { kinds, scanned: scanned - 1, complete: false };
    const first = String(e.key[0]);
    const kind = KINDS[first] ?? "other";
    const k = kinds[kind] ??= { count: 0, approxBytes: 0 };
    k.count++;
    k.approxBytes += sizeOf(e.key) + sizeOf(e.value);
  }
  return { kinds, scanned, complete: true };
}

function sizeOf(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value === "string") return value.length;
  if (typeof value === "bigint" || typeof value === "number") return 8;
  if (value instanceof Deno.KvU64) return 8;
  try {
    let bytes = 0;
    const json = JSON.stringify(value, (_k, v) => {
      if (v instanceof Uint8Array) {
        bytes += v.byteLength;
        return 0;
      }
      return typeof v === "bigint" ? 0 : v;
    });
    return (json?.length ?? 0) + bytes;
  } catch {
    return 0;
  }
}

/** `ms` (either sign) for people: `1.5 hours`, `1 day`, `31 days 5 hours`. */
export function span(ms: number): string {
  const h = Math.abs(ms) / 3_600_000;
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (h < 24) return plural(Math.round(h * 10) / 10, "hour");
  const d = Math.floor(h / 24);
  const rest = Math.round(h - d * 24);
  return rest === 0 ? plural(d, "day") : `${plural(d, "day")} ${plural(rest, "hour")}`;
}

/** Why the retention sweep is held (see {@link retentionHold}). */
export interface RetentionHold {
  /**
   * A forward step noticed while running; records stamped ahead of the clock; or a start far
   * from the last-seen time (the engine was down, or its clock was stepped while it was).
   */
  cause: "clock-step" | "records-ahead" | "downtime";
  /** The clock offset behind the hold, in ms (positive: the clock ran, or runs, ahead). */
  offsetMs: number;
  /** What was seen. */
  reason: string;
  /** What the operator should do. */
  advice: string;
}

/** What {@link retentionHold} looks at besides the store. */
export interface RetentionHoldInput {
  /** The wall clock now. */
  now: number;
  /**
   * The largest forward wall-clock step over {@link HOLD_STEP_MS} noticed within the last
   * {@link HOLD_AFTER_STEP_MS}, if any (`ageMs`: monotonic time since it was noticed).
   */
  forwardStep?: { offsetMs: number; at: number; ageMs: number };
  /**
   * The hold found at start (last_seen.ts: a gap over {@link HOLD_STEP_MS} between the wall clock
   * and the last-seen time, or a hold on at the last stop); `ageMs`: how long it has held (since
   * `since`, by the wall clock at start, then by the monotonic clock).
   */
  downtime?: Downtime & { ageMs: number };
}

/** A clock offset (a step, or records stamped ahead of the clock) that holds the sweep: 1 h. */
export const HOLD_STEP_MS = 3_600_000;
/** How long a forward step holds the sweep: 24 h. */
export const HOLD_AFTER_STEP_MS = 86_400_000;

/**
 * Whether the retention sweep must not run now: while a forward wall-clock step over 1 h was
 * noticed within the last 24 h (the clock may be wrong: sweeping would delete history that is not
 * old), or while the newest stored log or message is stamped more than 1 h after the clock's now
 * (the clock was stepped back, or was ahead when they were written: one of the two is wrong), or
 * within 24 h of a start whose wall clock was over 1 h from the last-seen time either way (or of
 * the start of a hold still on at the last stop).
 * Undefined when the sweep may run. One reverse read of one key per prefix.
 */
export async function retentionHold(
  store: Store,
  input: RetentionHoldInput,
): Promise<RetentionHold | undefined> {
  const hours = (ms: number) => `${Math.round(ms / 360_000) / 10} h`;
  const iso = (ms: number) => new Date(ms).toISOString();
  const step = input.forwardStep;
  if (step && step.offsetMs > HOLD_STEP_MS && step.ageMs < HOLD_AFTER_STEP_MS) {
    return {
      cause: "clock-step",
      offsetMs: step.offsetMs,
      reason: `the wall clock stepped forward by ${hours(step.offsetMs)} (noticed at ` +
        `${iso(step.at)}); a sweep now could delete history that is not past retention`,
      advice: `check the system clock (NTP): if it is wrong, correct it; if it is right, ` +
        `nothing to do: the sweep resumes by itself ${hours(HOLD_AFTER_STEP_MS - step.ageMs)} ` +
        `from now (24 h after the step)`,
    };
  }
  const down = input.downtime;
  if (down && down.ageMs < HOLD_AFTER_STEP_MS) {
    const left = `the sweep resumes by itself ${hours(HOLD_AFTER_STEP_MS - down.ageMs)} from ` +
      `now (24 h after ${iso(down.since)})`;
    return {
      cause: "downtime",
      offsetMs: down.gapMs,
      reason: down.continued
        ? `the sweep was held since ${iso(down.since)} and still was when the engine stopped`
        : down.gapMs > 0
        ? `the engine was last seen running at ${iso(down.lastSeen)}, ${span(down.gapMs)} ` +
          `before it started at ${iso(down.startedAt)}: it was down that long, or the clock ` +
          `was stepped forward while it was down`
        : `at start the clock (${iso(down.startedAt)}) was ${span(down.gapMs)} behind the ` +
          `time the engine was last seen running (${iso(down.lastSeen)}): it was stepped back ` +
          `while the engine was down, or it was ahead before`,
      advice: `if the clock is wrong, correct it (NTP) and restart the engine; if it is right, ` +
        `nothing to do: ${left}`,
    };
  }
  let newest = -Infinity;
  for (const prefix of [keys.logPrefix, ["msg"]]) {
    for await (const e of store.kv.list({ prefix }, { reverse: true, limit: 1 })) {
      const id = e.key[prefix.length];
      if (typeof id === "string" && /^[0-9a-z]{11}/.test(id)) {
        newest = Math.max(newest, idTime(id));
      }
    }
  }
  if (newest - input.now > HOLD_STEP_MS) {
    return {
      cause: "records-ahead",
      offsetMs: newest - input.now,
      reason:
        `the newest stored record is stamped ${iso(newest)}, ${
          hours(newest - input.now)
        } after the clock's ${iso(input.now)}: the clock was stepped back, or was ahead when ` +
        `those records were written`,
      advice: `check the system clock (NTP): if it is wrong (behind), correct it; if it is ` +
        `right, nothing to do: the sweep resumes by itself once the clock passes ` +
        `${iso(newest - HOLD_STEP_MS)}`,
    };
  }
  return undefined;
}
