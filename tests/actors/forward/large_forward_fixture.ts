/**
 * What the large `/forward` tests share: an engine taking forwarded messages from source `site-a`
 * (integration `fwd`) and MLLP (integration `lab`), both routed to an HTTP hook as HL7 v2; large
 * HL7 v2 messages, well formed or not; and a client posting to `/forward` from a thread of its
 * own (its building and sending of the body must not count as the engine's thread's work).
 * @module
 */

import { FORWARD_HEADERS } from "../../../codecs/forward/mod.ts";
import type { Config } from "../../../actors/config/mod.ts";
import { configFrom } from "../../helpers/engine.ts";

/** The client id and secret of the forwarding source. */
export const SITE = { clientId: "site-a", secret: "site-a-secret-0123456789abcdef" };

/**
 * Forward integration `fwd` (source `site-a`) and MLLP `lab`, both to the hook at
 * `127.0.0.1:hookPort` + `hookPath`: as HL7 v2 (default), or as JSON (the message translated to
 * the data model when it is routed).
 */
export function forwardConfig(
  dir: string,
  hookPort: number,
  hookPath = "/hook",
  format: "hl7v2" | "json" = "hl7v2",
): Config {
  return configFrom({
    node: { id: "test" },
    kv: { path: `${dir}/engine.kv` },
    http: { port: 0, development: true },
    environments: [{ id: "dev", type: "development" }],
    sources: [{
      id: SITE.clientId,
      environment: "dev",
      clientId: SITE.clientId,
      auth: { secret: { env: "SITE_SECRET" } },
    }],
    integrations: [
      { id: "lab", environment: "dev", mllp: { port: 0, allowedIps: ["127.0.0.1"] } },
      { id: "fwd", environment: "dev", forward: { source: SITE.clientId } },
    ],
    destinations: [{
      id: "app",
      environment: "dev",
      https: { url: `http://127.0.0.1:${hookPort}${hookPath}`, verificationToken: { env: "T" } },
    }],
    subscriptions: [
      { from: { integration: "fwd" }, to: ["app"], format },
      { from: { integration: "lab" }, to: ["app"], format },
    ],
  }, (name) => name === "SITE_SECRET" ? SITE.secret : "token");
}

/**
 * An ORU^R01 of at least `bytes` bytes (a batch of numeric results, one short OBX segment each:
 * the shape whose parse costs most per byte, ~15 ms per MB), each segment ended by CR; `head` replaces its MSH
 * segment (a malformed one, or none).
 */
export function largeOru(controlId: string, bytes: number, head?: string): string {
  const segments = [
    head ?? `MSH|^~\\&|LAB|SITE|EHR|HOSP|20260101120000||ORU^R01^ORU_R01|${controlId}|P|2.5.1`,
    "PID|1||12345^^^HOSP^MR||DOE^JANE||19800101|F",
    "OBR|1||R1|24323-8^Metabolic panel^LN",
  ];
  let size = segments.join("\r").length;
  for (let n = 1; size < bytes; n++) {
    const obx = `OBX|${n}|NM|GLU^Glucose||${70 + n % 50}`;
    segments.push(obx);
    size += obx.length + 1;
  }
  return segments.join("\r") + "\r";
}

/** What a post to `/forward` was answered. */
export interface ForwardAnswer {
  status: number;
  /** The body, parsed (`{messageId, duplicate, appAck?}` or `{error}`). */
  body: Record<string, unknown>;
}

/** What the posting Worker is asked: a {@link largeOru} of `bytes` to post. */
export interface ForwardJob {
  /** The engine's `http://host:port`. */
  base: string;
  token: string;
  controlId: string;
  bytes: number;
}

/** Posts `text` to `base`/forward as an HL7 v2 message of the sender's id `id`. */
export async function postForward(
  base: string,
  token: string,
  id: string,
  text: string,
  headers: Record<string, string> = {},
): Promise<ForwardAnswer> {
  const res = await fetch(`${base}/forward`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/hl7-v2",
      [FORWARD_HEADERS.messageId]: id,
      ...headers,
    },
    body: new TextEncoder().encode(text),
  });
  return { status: res.status, body: await res.json() };
}

/** A client on a thread of its own (large_forward_post_worker.ts), its module loaded. */
export interface WorkerClient {
  /** Builds and posts a {@link largeOru} there; the answer. */
  post(job: ForwardJob): Promise<ForwardAnswer>;
  close(): void;
}

/**
 * Starts a {@link WorkerClient}, resolving once its module has loaded (so that loading it is not
 * counted as the engine's thread's work).
 */
export function startWorkerClient(): Promise<WorkerClient> {
  const worker = new Worker(new URL("./large_forward_post_worker.ts", import.meta.url), {
    type: "module",
  });
  let pending: { resolve(a: ForwardAnswer): void; reject(e: Error): void } | undefined;
  return new Promise<WorkerClient>((ready, failed) => {
    worker.onerror = (e) => {
      e.preventDefault();
      const error = new Error(`post worker: ${e.message}`);
      if (pending) pending.reject(error);
      else failed(error);
    };
    worker.onmessage = (e: MessageEvent<ForwardAnswer | { error: string } | "ready">) => {
      if (e.data === "ready") {
        return ready({
          post: (job) =>
            new Promise<ForwardAnswer>((resolve, reject) => {
              pending = { resolve, reject };
              worker.postMessage(job);
            }),
          close: () => worker.terminate(),
        });
      }
      if ("error" in e.data) pending?.reject(new Error(e.data.error));
      else pending?.resolve(e.data);
    };
  });
}
