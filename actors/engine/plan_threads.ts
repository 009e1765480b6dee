/**
 * The planning thread, seen from the engine's thread: large MLLP frames are read, and large stored
 * messages, C-CDA, data-model JSON and FHIR bundles posted to the API planned (parsed, routed, translated to
 * JSON, FHIR and HL7 v2, shaped), on a thread of their own
 * (`plan_thread.ts`), so that no message holds the engine's thread (its timers, leases, sockets)
 * for longer than a few milliseconds, whatever its size. Small messages never come here (see
 * {@link OFFLOAD_BYTES}).
 *
 * - One thread, started with the first job and stopped after a minute without one; one job on it
 *   at a time, the others wait here in arrival order, holding only their caller's bytes.
 * - A payload goes over in shared memory, copied a slice at a time between turns of the event
 *   loop; results come back with their buffers moved, not copied.
 * - The thread gets a copy of the running config once per config (and the translation sets in
 *   use when imports changed them), and plans with the engine's own code: the result is the one
 *   the engine's thread would have made.
 * - A job that throws throws the same on this thread. A thread that fails (an uncaught error,
 *   its heap limit reached, no answer within the deadline) fails its job with the reason, is logged `engine.plan-thread-failed` and replaced by the next
 *   job; the engine goes on.
 * - A thread whose module does not load (a binary built without it) makes every job
 *   `unavailable` from then on, logged once `engine.plan-thread-unavailable`: callers then do the
 *   work on the engine's thread, as before there was a planning thread.
 * - Cancelled (the caller's signal, or {@link PlanThreads.close}): the job is dropped, a running
 *   one with its thread.
 *
 * It is a `node:worker_threads` Worker for the heap limit (`resourceLimits`): a Web Worker that
 * reaches V8's heap limit ends the whole process. Payloads go in shared memory because that
 * Worker's `postMessage` took ~10 s to take in a 27 MB buffer on the thread's side.
 * @module
 */

import type { Config } from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";
import { errorMessage } from "../runtime/errors.ts";
import { type FrameRead, fromPortableRead } from "./frame_read.ts";
import {
  ccdaFromPortable,
  type CcdaOutcome,
  fromPortable,
  OFFLOAD_BYTES,
  type PayloadOutcome,
} from "./plan_transfer.ts";
import type { Origin } from "./document_routing.ts";
import type { ApiJsonJobResult, LargeJsonRequest } from "./api_large_json.ts";
import type { FhirJobResult, LargeFhirRequest } from "./api_large_fhir.ts";
import type { FromThread, ToThread } from "./plan_thread_serve.ts";
import { configUpdate } from "./plan_thread_config.ts";
import { startThread, type Thread } from "./plan_thread_start.ts";

/** How the planning thread is run. */
export interface PlanThreadsOptions {
  log: Logger;
  /** The thread's module, default `plan_thread.ts` (tests give one that fails on purpose). */
  module?: URL;
  /** Longest one job may take before its thread is stopped, default 120 s. */
  timeoutMs?: number;
  /** The thread's heap limit (V8 old generation), default 2048 MB. */
  maxHeapMb?: number;
  /** The idle thread is stopped after this long without a job, default 60 s. */
  idleMs?: number;
  /** Bytes copied into shared memory per turn of the event loop, default 2 MiB. */
  sliceBytes?: number;
  /** Messages larger than this go to the thread, default {@link OFFLOAD_BYTES}. */
  offloadBytes?: number;
}

/**
 * A job's end: its result, why the thread failed it, cancelled, or `unavailable` when no thread
 * can be started (its module did not load): the caller then does the work on its own thread.
 */
export type Offloaded<T> =
  | { readonly status: "done"; readonly value: T }
  | { readonly status: "failed"; readonly reason: string }
  | { readonly status: "cancelled" }
  | { readonly status: "unavailable" };

/** What {@link PlanThreads.plan} plans: a stored message of `integrationId`. */
export interface OffloadedPlan {
  config: Config;
  integrationId: string;
  contentType: string;
  payload: Uint8Array;
  fallbackCharset: string;
}

type JobMessage = Extract<ToThread, { op: "plan" | "read" | "ccda" | "api-json" | "fhir-json" }>;
type Done = Extract<FromThread, { ev: "done" }>;
type Running = NonNullable<Thread["running"]>;

interface Job {
  payload: Uint8Array;
  signal: AbortSignal | undefined;
  /** The config a plan job is planned under (sent to the thread first when it lacks it). */
  config?: Config;
  message(id: number, payload: SharedArrayBuffer, gen: number): JobMessage;
  resolve(result: Offloaded<Done>): void;
  reject(error: Error): void;
}

const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** See the module doc. */
export class PlanThreads {
  readonly #options: PlanThreadsOptions;
  readonly #queue: Job[] = [];
  #thread: Thread | undefined;
  #pumping = false;
  #closed = false;
  /** Why no thread can be started, once one failed before it started. */
  #unavailable: string | undefined;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #ids = 0;

  /** A planning thread, started with its first job. */
  constructor(options: PlanThreadsOptions) {
    this.#options = options;
  }

  /** Messages larger than this (bytes) are read and planned on the thread. */
  get offloadBytes(): number {
    return this.#options.offloadBytes ?? OFFLOAD_BYTES;
  }

  /** Jobs waiting or running. */
  get pending(): number {
    return this.#queue.length + (this.#thread?.running ? 1 : 0);
  }

  /** Plans a stored message on the thread; the plan's destinations are `request.config`'s. */
  async plan(request: OffloadedPlan, signal?: AbortSignal): Promise<Offloaded<PayloadOutcome>> {
    const done = await this.#submit({
      payload: request.payload,
      signal,
      config: request.config,
      message: (id, payload, gen) => ({
        op: "plan",
        id,
        gen,
        integrationId: request.integrationId,
        contentType: request.contentType,
        payload,
        fallbackCharset: request.fallbackCharset,
      }),
    });
    if (done.status !== "done") return done;
    return { status: "done", value: fromPortable(request.config, done.value.plan!) };
  }

  /** Reads an MLLP frame on the thread (see `frame_read.ts`). */
  async read(
    payload: Uint8Array,
    fallbackCharset: string | undefined,
    signal?: AbortSignal,
  ): Promise<Offloaded<FrameRead>> {
    const done = await this.#submit({
      payload,
      signal,
      message: (id, shared) => ({
        op: "read",
        id,
        payload: shared,
        ...(fallbackCharset ? { fallbackCharset } : {}),
      }),
    });
    if (done.status !== "done") return done;
    return { status: "done", value: fromPortableRead(done.value.read!) };
  }

  /** Reads and plans a C-CDA posted by `origin` on the thread (see `api_documents.ts`). */
  async ccda(
    config: Config,
    origin: Origin,
    payload: Uint8Array,
  ): Promise<Offloaded<CcdaOutcome>> {
    const done = await this.#submit({
      payload,
      signal: undefined,
      config,
      message: (id, shared, gen) => ({ op: "ccda", id, gen, origin, payload: shared }),
    });
    if (done.status !== "done") return done;
    return { status: "done", value: ccdaFromPortable(config, done.value.ccda!) };
  }

  /**
   * Parses and plans a large JSON body posted to `POST /endpoint` on the thread (see
   * `api_large_json.ts`); the plan's destinations are `config`'s.
   */
  async apiJson(
    config: Config,
    request: Pick<LargeJsonRequest, "sourceId" | "environment" | "keysMayRepeat" | "bytes">,
  ): Promise<Offloaded<ApiJsonJobResult>> {
    const { sourceId, environment, keysMayRepeat } = request;
    const done = await this.#submit({
      payload: request.bytes,
      signal: undefined,
      config,
      message: (id, payload, gen) => ({
        op: "api-json",
        id,
        gen,
        sourceId,
        environment,
        keysMayRepeat,
        payload,
      }),
    });
    if (done.status !== "done") return done;
    return { status: "done", value: done.value.apiJson! };
  }

  /**
   * Parses, validates, converts and plans a large FHIR message Bundle posted to the FHIR API on the
   * thread (see `api_large_fhir.ts`); the plan's destinations are `config`'s.
   */
  async fhirJson(
    config: Config,
    request: Pick<
      LargeFhirRequest,
      "sourceId" | "environment" | "keysMayRepeat" | "bytes" | "maxEntries" | "vxu"
    >,
  ): Promise<Offloaded<FhirJobResult>> {
    const { sourceId, environment, keysMayRepeat, maxEntries, vxu } = request;
    const done = await this.#submit({
      payload: request.bytes,
      signal: undefined,
      config,
      message: (id, payload, gen) => ({
        op: "fhir-json",
        id,
        gen,
        sourceId,
        environment,
        keysMayRepeat,
        maxEntries,
        vxu,
        payload,
      }),
    });
    if (done.status !== "done") return done;
    return { status: "done", value: done.value.fhirJson! };
  }

  /** Cancels every job and stops the thread. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idle);
    for (const job of this.#queue.splice(0)) job.resolve({ status: "cancelled" });
    const thread = this.#thread;
    this.#thread = undefined;
    if (thread) {
      thread.failStart("the engine is stopping");
      thread.running?.end({ status: "cancelled" });
      await thread.worker.terminate();
    }
  }

  #submit(
    job: Omit<Job, "resolve" | "reject">,
  ): Promise<Offloaded<Done>> {
    if (this.#closed) return Promise.resolve({ status: "cancelled" });
    return new Promise((resolve, reject) => {
      this.#queue.push({ ...job, resolve, reject });
      void this.#pump();
    });
  }

  /** Runs the queue, one job at a time, in arrival order. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    clearTimeout(this.#idle);
    try {
      for (let job = this.#queue.shift(); job; job = this.#queue.shift()) {
        if (job.signal?.aborted) job.resolve({ status: "cancelled" });
        else await this.#run(job);
      }
    } finally {
      this.#pumping = false;
    }
    if (!this.#closed && this.#thread) {
      const idle = setTimeout(() => this.#stopIdle(), this.#options.idleMs ?? 60_000);
      Deno.unrefTimer(idle);
      this.#idle = idle;
    }
  }

  async #run(job: Job): Promise<void> {
    if (this.#unavailable !== undefined) return job.resolve({ status: "unavailable" });
    const shared = await this.#share(job.payload, job.signal);
    if (!shared || this.#closed) return job.resolve({ status: "cancelled" });
    const id = ++this.#ids;
    let thread: Thread;
    try {
      thread = this.#start();
    } catch (error) {
      this.#cannotStart(`the planning thread could not be started: ${errorMessage(error)}`);
      return job.resolve({ status: "unavailable" });
    }
    // Sent once it runs: a failure before that is its module's, never a job's.
    const ready = await thread.ready;
    if (this.#closed || job.signal?.aborted) return job.resolve({ status: "cancelled" });
    if (!ready.ok) {
      this.#cannotStart(ready.reason);
      return job.resolve({ status: "unavailable" });
    }
    if (this.#thread !== thread) {
      return job.resolve({ status: "failed", reason: "the planning thread ended before the job" });
    }
    let message: JobMessage;
    try {
      message = job.message(id, shared, job.config ? this.#sync(thread, job.config) : 0);
    } catch (error) {
      // The config could not be copied to the thread (DataCloneError): this job cannot be planned.
      return job.resolve({
        status: "failed",
        reason: `the planning thread: ${errorMessage(error)}`,
      });
    }
    const timeoutMs = this.#options.timeoutMs ?? 120_000;
    const result = await new Promise<Offloaded<Done> | Error>((end) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = (ms: number) => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          this.#lost(
            thread,
            `the planning thread did not finish within ${timeoutMs / 1000} s; it was stopped`,
          );
        }, ms);
      };
      const finish = (r: Offloaded<Done> | Error) => {
        clearTimeout(timer);
        job.signal?.removeEventListener("abort", onAbort);
        thread.running = undefined;
        end(r);
      };
      const onAbort = () => {
        finish({ status: "cancelled" });
        this.#drop(thread);
      };
      job.signal?.addEventListener("abort", onAbort, { once: true });
      thread.running = { id, op: message.op, bytes: job.payload.byteLength, arm, end: finish };
      arm(timeoutMs);
      thread.worker.postMessage(message);
    });
    if (result instanceof Error) job.reject(result);
    else job.resolve(result);
  }

  /** `bytes` in shared memory, a slice per turn; undefined when cancelled meanwhile. */
  async #share(bytes: Uint8Array, signal?: AbortSignal): Promise<SharedArrayBuffer | undefined> {
    const step = this.#options.sliceBytes ?? 2 * 1024 * 1024;
    const shared = new SharedArrayBuffer(bytes.byteLength);
    const view = new Uint8Array(shared);
    for (let at = 0; at < bytes.byteLength; at += step) {
      if (at > 0) {
        await nextTurn();
        if (signal?.aborted || this.#closed) return undefined;
      }
      view.set(bytes.subarray(at, at + step), at);
    }
    return shared;
  }

  /** Sends `config` (and the translation sets in use) to the thread when it lacks them. */
  #sync(thread: Thread, config: Config): number {
    const update = configUpdate(thread.sent, config);
    if (update.message) thread.worker.postMessage(update.message);
    thread.sent = update.sent;
    return update.sent.gen;
  }

  #start(): Thread {
    if (this.#thread) return this.#thread;
    const thread: Thread = startThread({
      ...(this.#options.module ? { module: this.#options.module } : {}),
      maxHeapMb: this.#options.maxHeapMb ?? 2048,
      message: (m) => this.#receive(thread, m),
      lost: (reason) => this.#lost(thread, reason),
    });
    this.#thread = thread;
    return thread;
  }

  #receive(thread: Thread, m: FromThread): void {
    if (m.ev === "started") {
      if (m.error === undefined) {
        this.#options.log.debug(
          "engine.plan-thread-started",
          m.nice !== undefined ? { nice: m.nice } : {},
        );
      } else {
        this.#options.log.warn("engine.plan-thread-started", {
          nice: "unchanged",
          reason: `could not lower the planning thread's priority: ${m.error}`,
        });
      }
      return;
    }
    const running = thread.running;
    if (!running || running.id !== m.id) return;
    running.end(m.ev === "done" ? { status: "done", value: m } : new Error(m.error));
  }

  /** The thread failed: its job fails with `reason`, and the next job starts a new one. */
  #lost(thread: Thread, reason: string): void {
    if (this.#thread !== thread) return; // stopped on purpose, or already reported
    if (!thread.started) {
      // Its module did not load (a binary built without it): the job waiting for it is told.
      thread.failStart(reason);
      this.#drop(thread);
      return;
    }
    const running = thread.running;
    this.#options.log.error("engine.plan-thread-failed", {
      reason,
      ...(running ? { job: running.op, bytes: running.bytes } : {}),
    });
    thread.running?.end({ status: "failed", reason });
    this.#drop(thread);
  }

  /** Forgets `thread` and stops it (what it was doing is not wanted). */
  #drop(thread: Thread): void {
    if (this.#thread === thread) this.#thread = undefined;
    thread.running = undefined;
    void thread.worker.terminate();
  }

  /** No thread can be started: large messages are worked on the engine's thread from now on. */
  #cannotStart(reason: string): void {
    this.#unavailable = reason;
    this.#options.log.error("engine.plan-thread-unavailable", {
      reason,
      consequence: "large messages are read and planned on the engine's thread",
    });
  }

  #stopIdle(): void {
    const thread = this.#thread;
    if (!thread || thread.running || this.#pumping) return;
    this.#options.log.debug("engine.plan-thread-stopped", { reason: "idle" });
    this.#drop(thread);
  }
}
