/**
 * The planning thread's side (started by `plan_threads.ts`; its module is `plan_thread.ts`):
 * reads large MLLP frames, and plans large stored messages (parse, routes, JSON and FHIR
 * translations, modifiers and HL7 edits), large C-CDA, data-model JSON and FHIR bundles posted to
 * the API (their parse, duplicate-key check, validation, conversion, routing and translations),
 * with the engine's
 * own code, on a copy of the running config, and sends back plain results whose payload
 * buffers are moved, not copied.
 *
 * Each job runs from `setImmediate`, not from the message event itself: a job that reaches the
 * heap limit then ends the thread with `ERR_WORKER_OUT_OF_MEMORY`, which the engine's thread is
 * told of (from within a `message` listener, or a microtask, it was not, and the job was never
 * answered). Not from `setTimeout`: that cost ~2 ms a job.
 * @module
 */

import { parentPort } from "node:worker_threads";
import { getPriority, setPriority } from "node:os";
import { setImmediate } from "node:timers";
import type { Config } from "../config/mod.ts";
import { decodeHl7Bytes } from "../../codecs/hl7v2/mod.ts";
import type { TranslationSet } from "../../codecs/modifiers/mod.ts";
import { shapingOf } from "../config/shaping.ts";
import { errorMessage } from "../runtime/errors.ts";
import { pinTranslationSets } from "./translation_sets.ts";
import { type FrameRead, type PortableRead, readFrame, toPortableRead } from "./frame_read.ts";
import {
  ccdaToPortable,
  planPayload,
  planPostedCcda,
  type PortableCcda,
  type PortableOutcome,
  toPortable,
  transferables,
} from "./plan_transfer.ts";
import type { Origin } from "./document_routing.ts";
import { type ApiJsonJobResult, runApiJsonJob } from "./api_large_json.ts";
import { type FhirJobResult, runFhirJob } from "./api_large_fhir.ts";

/** A translation set imported into KV, as the config copy gets it (see {@link ToThread}). */
export interface PackedSet {
  name: string;
  version: number;
  onMissing: TranslationSet["onMissing"];
  default?: string;
  entries: [string, string][];
}

/** Messages to the planning thread. Payloads come in shared memory (see `plan_threads.ts`). */
export type ToThread =
  | {
    op: "config";
    /** The config's number on the engine's thread; a job names the one it is planned under. */
    gen: number;
    /** Absent when only the imported translation sets changed. */
    config?: Config;
    /** JSON of the {@link PackedSet}s in use that are not the config's own, in UTF-8. */
    sets?: SharedArrayBuffer;
  }
  | {
    op: "plan";
    id: number;
    gen: number;
    integrationId: string;
    contentType: string;
    payload: SharedArrayBuffer;
    fallbackCharset: string;
  }
  | { op: "read"; id: number; payload: SharedArrayBuffer; fallbackCharset?: string }
  | { op: "ccda"; id: number; gen: number; origin: Origin; payload: SharedArrayBuffer }
  | {
    op: "api-json";
    id: number;
    gen: number;
    sourceId: string;
    environment: string;
    keysMayRepeat: boolean;
    payload: SharedArrayBuffer;
  }
  | {
    op: "fhir-json";
    id: number;
    gen: number;
    sourceId: string;
    environment: string;
    keysMayRepeat: boolean;
    maxEntries: number;
    vxu: boolean;
    payload: SharedArrayBuffer;
  };

/** Messages from the planning thread. */
export type FromThread =
  | { ev: "started"; nice?: number; error?: string }
  | {
    ev: "done";
    id: number;
    plan?: PortableOutcome;
    read?: PortableRead;
    ccda?: PortableCcda;
    apiJson?: ApiJsonJobResult;
    fhirJson?: FhirJobResult;
  }
  /** The job threw: the engine's thread throws the same message, as it would have itself. */
  | { ev: "threw"; id: number; error: string };

/** What a test's thread may do before each job (make it fail on purpose). */
export interface ThreadHooks {
  /** Runs before the job, which waits for what it returns. */
  beforeJob?(
    job: Extract<ToThread, { op: "plan" | "read" | "ccda" | "api-json" | "fhir-json" }>,
    payload: Uint8Array,
  ): void | Promise<void>;
}

/**
 * This thread runs this much nicer than the engine's thread (as the MLLP socket thread does): a
 * large message's translation takes a core only when the engine's thread does not want it.
 */
const NICER_BY = 5;

/** Serves jobs on this thread until it is terminated. */
export function servePlans(hooks: ThreadHooks = {}): void {
  const port = parentPort;
  if (!port) throw new Error("plan_thread.ts runs as a Worker (node:worker_threads)");
  const post = (m: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  let config: Config | undefined;
  let gen = 0;
  const handle = async (m: ToThread) => {
    if (m.op === "config") {
      gen = m.gen;
      if (m.config) config = m.config;
      if (config) pinTranslationSets(config, mergedSets(config, m.sets));
      return;
    }
    // Text decoders refuse views of shared memory: the job works on its own copy.
    const payload = new Uint8Array(m.payload.byteLength);
    payload.set(new Uint8Array(m.payload));
    try {
      await hooks.beforeJob?.(m, payload);
      if (m.op === "read") {
        const read: FrameRead = readFrame(payload, m.fallbackCharset);
        const portable = toPortableRead(read);
        post({ ev: "done", id: m.id, read: portable }, portable.ok ? [] : [bufferOf(portable.nak)]);
        return;
      }
      if (!config || m.gen !== gen) throw new Error(`no config ${m.gen} on the planning thread`);
      if (m.op === "api-json") {
        const { result, transfer } = runApiJsonJob(config, m, payload);
        post({ ev: "done", id: m.id, apiJson: result }, transfer);
        return;
      }
      if (m.op === "fhir-json") {
        const { result, transfer } = runFhirJob(config, m, payload);
        post({ ev: "done", id: m.id, fhirJson: result }, transfer);
        return;
      }
      if (m.op === "ccda") {
        const portable = ccdaToPortable(config, planPostedCcda(config, m.origin, payload));
        post(
          { ev: "done", id: m.id, ccda: portable },
          portable.ok ? transferables({ ok: true, plan: portable.plan }) : [],
        );
        return;
      }
      const planned = await planPayload({
        config,
        integrationId: m.integrationId,
        contentType: m.contentType,
        payload: () => Promise.resolve(payload),
        decode: (bytes) => decodeHl7Bytes(bytes, m.fallbackCharset),
      });
      const portable = toPortable(config, planned);
      post({ ev: "done", id: m.id, plan: portable }, transferables(portable));
    } catch (error) {
      post({ ev: "threw", id: m.id, error: errorMessage(error) });
    }
  };
  // From the next turn of the loop, not from the listener: see the module doc.
  port.on("message", (m: ToThread) => setImmediate(() => void handle(m)));
  post(lowerPriority());
}

/** The sets in use: the config's own, with the imported ones in `packed` in their place. */
function mergedSets(config: Config, packed: SharedArrayBuffer | undefined) {
  const sets = new Map(shapingOf(config).sets);
  if (!packed) return sets;
  const text = new TextDecoder().decode(new Uint8Array(packed).slice());
  for (const s of JSON.parse(text) as PackedSet[]) {
    sets.set(s.name, {
      name: s.name,
      version: s.version,
      onMissing: s.onMissing,
      ...(s.default !== undefined ? { default: s.default } : {}),
      entries: new Map(s.entries),
    });
  }
  return sets;
}

function bufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer as ArrayBuffer;
}

/** Lowers this thread's priority (Linux, where a nice value is a thread's own). */
function lowerPriority(): FromThread {
  if (Deno.build.os !== "linux") return { ev: "started" };
  // Asked first: without the permission, calling would prompt on a terminal and hold the thread.
  for (const kind of ["getPriority", "setPriority"] as const) {
    if (Deno.permissions.querySync({ name: "sys", kind }).state !== "granted") {
      return { ev: "started", error: `no sys access to "${kind}" (--allow-sys)` };
    }
  }
  try {
    setPriority(0, Math.min(19, getPriority(0) + NICER_BY));
    return { ev: "started", nice: getPriority(0) };
  } catch (error) {
    return { ev: "started", error: errorMessage(error) };
  }
}
